"""`rtcheck check --prior/--courses` on the sample spine plan and its prior course.

Expected values come from sample_dicom/expected.yaml (computed by the generator from the
analytic doses, not by rtcheck) and from hand calculation with the LQ formulas:

* plan (a) `spine_8gy_1fx`: cord D0.035cc 8.14 Gy in 1 fx -> EQD2 (α/β 2) 8.14·(1 + 8.14/2)/2 = 20.63 Gy;
* prior (c) `prior_spine_20gy_5fx`: cord D0.035cc 20.33 Gy in 5 fx -> 20.33·(1 + 4.07/2)/2 = 30.83 Gy;
  the hot spots coincide (expected.yaml: composite cord D0.035cc 51.46 Gy EQD2);
* Nieder 2006: cumulative cord BED < 135.5 Gy2 = 67.75 Gy EQD2 -> the cord composite passes;
* the control-arm table limits the oesophagus D5cc to 11.9 Gy in 1 fx (TG-101), i.e.
  11.9·(1 + 11.9/3)/(1 + 2/3) = 35.46 Gy EQD2 at α/β 3, which the composite (46.7 Gy) exceeds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import SAMPLE_DICOM

from rtcheck.cli import main
from rtcheck.radiobiology import eqd2

CURRENT = SAMPLE_DICOM / "spine_8gy_1fx"
PRIOR = SAMPLE_DICOM / "prior_spine_20gy_5fx"
PRIOR_OTHER_FRAME = SAMPLE_DICOM / "prior_spine_20gy_5fx_otherframe"
TOLERANCE_GY = 0.5  # sampling differences between rtcheck and the generator's analytic sums

pytestmark = pytest.mark.skipif(not (CURRENT / "RP.spine_8gy_1fx.dcm").exists(), reason="sample_dicom not generated")


@pytest.fixture(scope="module")
def expected() -> dict:
    return yaml.safe_load((SAMPLE_DICOM / "expected.yaml").read_text(encoding="utf-8"))


def run(*args):
    result = CliRunner().invoke(main, ["check", str(CURRENT), *map(str, args)])
    return result


def reirradiation(result) -> dict:
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)["reirradiation"][0]


def composite(report: dict, organ: str) -> dict:
    (found,) = [c for c in report["composites"] if c["organ"] == organ]
    return found


def rows(report: dict, organ: str, origin: str = "cumulative") -> list[dict]:
    return [r for r in report["results"] if r["constraint"]["organ"] == organ and r["origin"] == origin]


def test_hand_calculation_of_the_sample_composite(expected):
    cord_now = expected["plans"]["spine_8gy_1fx"]["structures"]["Cord"]["D0.035cc_gy"]
    cord_before = expected["plans"]["prior_spine_20gy_5fx"]["structures"]["SpinalCord"]["D0.035cc_gy"]
    total = eqd2(cord_now, 1, 2) + eqd2(cord_before, 5, 2)
    by_generator = expected["composite_spine_8gy_1fx_with_prior_spine_20gy_5fx"]["structures"]["Cord"]
    assert total == pytest.approx(by_generator["eqd2_D0.035cc_gy"], abs=0.05)
    assert eqd2(11.9, 1, 3) == pytest.approx(35.46, abs=0.01)


@pytest.mark.parametrize("prior", [PRIOR, PRIOR_OTHER_FRAME], ids=["same-frame", "other-frame+REG"])
def test_composite_matches_the_generator(prior, expected):
    report = reirradiation(run("--prior", prior, "--format", "json"))
    truth = expected["composite_spine_8gy_1fx_with_prior_spine_20gy_5fx"]["structures"]
    cord = composite(report, "SpinalCord")
    assert cord["alpha_beta_gy"] == 2.0
    assert cord["without_factor"]["near_max_eqd2_gy"] == pytest.approx(truth["Cord"]["eqd2_D0.035cc_gy"], abs=TOLERANCE_GY)
    eso = composite(report, "Esophagus")
    assert eso["alpha_beta_gy"] == 3.0
    assert eso["without_factor"]["near_max_eqd2_gy"] == pytest.approx(truth["Esophagus"]["eqd2_D0.035cc_gy"], abs=TOLERANCE_GY)
    (d5cc,) = [r for r in rows(report, "Esophagus", "converted") if r["constraint"]["metric"] == "D5cc"]
    assert d5cc["without_factor"]["value"] == pytest.approx(truth["Esophagus"]["eqd2_D5cc_gy"], abs=TOLERANCE_GY)
    assert d5cc["limit_eqd2_gy"] == pytest.approx(eqd2(11.9, 1, 3), abs=0.01)
    assert d5cc["without_factor"]["level"] == "FAIL"
    nieder = [r for r in rows(report, "SpinalCord") if r["constraint"]["kind"] == "hard"]
    assert nieder[0]["limit_eqd2_gy"] == pytest.approx(67.75)
    assert nieder[0]["without_factor"]["level"] == "PASS"
    # 329 days between the courses: the 6-month condition of Nieder 2006 holds
    (interval,) = report["intervals"]
    assert interval["elapsed_months"] == pytest.approx(329 / (365.25 / 12), abs=0.01)
    assert interval["level"] == "PASS"
    assert report["overall"] == "FAIL" and not report["factor_applied"]
    assert report["prior_courses"][0]["fractions"] == 5


def test_prior_export_without_rtstruct_is_accepted(tmp_path, expected):
    prior = tmp_path / "prior_plan_and_dose_only"
    prior.mkdir()
    for name in ("RP.prior_spine_20gy_5fx.dcm", "RD.prior_spine_20gy_5fx.dcm"):
        shutil.copy2(PRIOR / name, prior / name)
    report = reirradiation(run("--prior", prior, "--format", "json"))
    truth = expected["composite_spine_8gy_1fx_with_prior_spine_20gy_5fx"]["structures"]
    cord = composite(report, "SpinalCord")
    assert cord["without_factor"]["near_max_eqd2_gy"] == pytest.approx(truth["Cord"]["eqd2_D0.035cc_gy"], abs=TOLERANCE_GY)
    assert report["prior_courses"][0]["fractions"] == 5
    assert any("no structure set" in w for w in report["warnings"])


def test_cumulative_limits_only_pass_and_exit_0():
    result = run("--prior", PRIOR, "--no-converted-limits")
    assert result.exit_code == 0, result.output
    assert "re-irradiation composite" in result.output
    assert "Composite verdict: PASS (no recovery factor applied)" in result.output
    assert "Overall verdict: PASS" in result.output


def test_composite_failure_sets_exit_code_1():
    result = run("--prior", PRIOR)
    assert result.exit_code == 1, result.output


def course_file(tmp_path: Path, recovery: dict | None, prior: Path = PRIOR, **extra) -> Path:
    entry = {"label": "T9-T11 20 Gy/5", "dicom": str(prior)}
    if recovery is not None:
        entry["recovery"] = recovery
    entry.update(extra)
    path = tmp_path / "courses.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "prior_courses": [entry]}, sort_keys=False), encoding="utf-8")
    return path


DOCUMENTED = {
    "factor": 0.5,
    "approver": "Dr A. Example (local PI)",
    "approval_date": "2026-10-12",
    "rationale": "Price 2021: 50 % recovery credited after > 12 months; here 11 months, PI decision",
}


def test_documented_factor_changes_the_verdict(tmp_path):
    result = run("--courses", course_file(tmp_path, DOCUMENTED), "--format", "json")
    assert result.exit_code == 0, result.output
    report = reirradiation(result)
    assert report["factor_applied"] and report["verdict_depends_on_factor"]
    assert report["overall_with_factor"] == "PASS"
    assert report["overall_without_factor"] == "FAIL"
    # cord: 20.63 + (1 - 0.5) * 30.83 = 36.05 Gy EQD2 (hot spots coincide)
    cord = composite(report, "SpinalCord")
    assert cord["with_factor"]["near_max_eqd2_gy"] == pytest.approx(20.63 + 0.5 * 30.83, abs=TOLERANCE_GY)
    recovery = report["prior_courses"][0]["recovery"][0]
    assert recovery["approver"] == "Dr A. Example (local PI)"
    assert recovery["elapsed_months"] == pytest.approx(10.81, abs=0.01)
    assert "2025-11-20" in recovery["elapsed_source"] and "2026-10-15" in recovery["elapsed_source"]
    assert any(r["depends_on_factor"] for r in report["results"])


def test_text_report_shows_the_documentation_and_both_verdicts(tmp_path):
    result = run("--courses", course_file(tmp_path, DOCUMENTED))
    assert result.exit_code == 0, result.output
    text = result.output
    assert "recovery factor 0.5 (50 % of the prior BED discounted; all organs)" in text
    assert "approved by Dr A. Example (local PI) on 2026-10-12" in text
    assert "Composite verdict with recovery factors:    PASS" in text
    assert "Composite verdict without recovery factors: FAIL" in text
    assert "The verdict DEPENDS on the recovery factor(s)." in text


@pytest.mark.parametrize("missing", ["approver", "approval_date", "rationale", "factor"])
def test_undocumented_factor_is_refused_with_exit_3(tmp_path, missing):
    recovery = {k: v for k, v in DOCUMENTED.items() if k != missing}
    result = run("--courses", course_file(tmp_path, recovery))
    assert result.exit_code == 3, result.output
    assert f"missing {missing}" in result.output
    assert "never applied" in result.output


def test_stated_interval_must_match_the_dates(tmp_path):
    result = run("--courses", course_file(tmp_path, {**DOCUMENTED, "elapsed_months": 18}))
    assert result.exit_code == 3, result.output
    assert "does not match the course dates" in result.output


def test_other_frame_without_registration_is_refused(tmp_path):
    folder = tmp_path / "prior_without_reg"
    shutil.copytree(PRIOR_OTHER_FRAME, folder, ignore=shutil.ignore_patterns("REG*"))
    result = run("--prior", folder)
    assert result.exit_code == 3, result.output
    assert "no spatial registration (REG) links them" in result.output


def test_paper_record_gives_an_upper_bound(tmp_path):
    # a 1990s course known only from a letter: cord max 30 Gy in 10 fx
    # -> EQD2 (α/β 2) 30·(1 + 3/2)/2 = 37.5 Gy, added to every cord point: 51.46 + 37.5 > 67.75
    path = tmp_path / "courses.yaml"
    path.write_text(
        yaml.safe_dump({"version": 1, "prior_courses": [
            {"label": "T10 20 Gy/5", "dicom": str(PRIOR)},
            {"label": "1998 RT (paper)", "summary": {
                "source_document": "letter 1998-04-02", "date": "1998-03-20", "fractions": 10,
                "organs": [{"organ": "Cord", "max_dose_gy": 30.0}]}},
        ]}, sort_keys=False),
        encoding="utf-8",
    )
    result = run("--courses", path, "--no-converted-limits", "--format", "json")
    assert result.exit_code == 1, result.output
    report = reirradiation(result)
    assert report["upper_bound"]
    cord = composite(report, "SpinalCord")
    assert cord["upper_bound"]
    assert cord["without_factor"]["near_max_eqd2_gy"] == pytest.approx(51.46 + 37.5, abs=TOLERANCE_GY)
    assert rows(report, "SpinalCord")[0]["without_factor"]["level"] == "FAIL"
    paper = composite(report, "SpinalCord")["contributions"][2]
    assert paper["upper_bound"] and paper["max_eqd2_gy"] == pytest.approx(37.5)


def test_registration_named_in_the_course_file(tmp_path, expected):
    # the prior export without its REG; the REG file is named in the course file instead
    folder = tmp_path / "prior_without_reg"
    shutil.copytree(PRIOR_OTHER_FRAME, folder, ignore=shutil.ignore_patterns("REG*"))
    reg = PRIOR_OTHER_FRAME / "REG.prior_ct_to_current_ct.dcm"
    path = course_file(tmp_path, None, prior=folder, registration=str(reg))
    report = reirradiation(run("--courses", path, "--format", "json"))
    truth = expected["composite_spine_8gy_1fx_with_prior_spine_20gy_5fx"]["structures"]["Cord"]
    cord = composite(report, "SpinalCord")
    assert cord["without_factor"]["near_max_eqd2_gy"] == pytest.approx(truth["eqd2_D0.035cc_gy"], abs=TOLERANCE_GY)
