"""The Python API (`rtcheck.check`, `rtcheck.dvh`): the same decisions and documents as the
command line, plain picklable results, and the README's example run as written.

Expected values come from the sample generator's analytic doses (sample_dicom/expected.yaml)
or from the command line's own output (the API and the CLI must agree byte for byte)."""

from __future__ import annotations

import concurrent.futures
import json
import pickle
import re
import sys

import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO, SAMPLE_DICOM
from golden.cases import normalise

import rtcheck
from rtcheck.cli import main
from rtcheck.models import Level

SABR = SAMPLE_DICOM / "sabr_3lesions_5fx"
SPINE = SAMPLE_DICOM / "spine_8gy_1fx"
PRIOR = SAMPLE_DICOM / "prior_spine_20gy_5fx"
EXPECTED = yaml.safe_load((SAMPLE_DICOM / "expected.yaml").read_text(encoding="utf-8"))


def cli(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout


@pytest.fixture(scope="module")
def sabr_report():
    return rtcheck.check(SABR)


def test_sabr_plan_fails_on_the_oesophagus_only(sabr_report):
    truth = EXPECTED["plans"]["sabr_3lesions_5fx"]["overdosed"]
    assert sabr_report.verdict is Level.FAIL
    assert sabr_report.exit_code == 1
    failed = [f for f in sabr_report.failures() if f.level is Level.FAIL]
    assert {f.organ for f in failed} == {truth["organ"]}
    near_max = next(f for f in failed if f.metric == "D0.035cc")
    assert near_max.unit == "Gy" and near_max.limit == truth["limit"]["limit_gy"]
    # the analytic dose at the hot point, within the 3 mm grid's discretisation
    assert near_max.value == pytest.approx(truth["expected_D0.035cc_gy"], abs=1.0)
    assert near_max.margin == pytest.approx(near_max.limit - near_max.value)
    assert all(f.level is not Level.PASS for f in sabr_report.failures())


def test_palliative_plan_passes():
    report = rtcheck.check(SPINE)
    assert report.verdict is Level.PASS and report.exit_code == 0
    assert [p.table.name for p in report.plans] == ["stop2-control-8gy-1fx"]
    # what is not PASS in a passing plan can only be an optional organ not contoured
    assert all(f.level is Level.NOT_EVALUATED and f.structure is None for f in report.failures())


def test_to_json_is_the_command_line_document(sabr_report):
    code, out = cli("check", SABR, "--format", "json")
    assert normalise(sabr_report.to_json()) == normalise(out)  # the same document but for the run's time
    document = json.loads(out)
    assert sabr_report.to_dict() == {**document, "run_utc": sabr_report.run_utc}
    assert code == sabr_report.exit_code == document["exit_code"]


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_render_is_the_command_line_output(sabr_report, fmt):
    assert normalise(sabr_report.render(fmt)) == normalise(cli("check", SABR, "--format", fmt, "--no-color")[1])


def test_with_a_prior_course_the_verdict_agrees_with_the_exit_code():
    report = rtcheck.check(SPINE, priors=[PRIOR])
    code, out = cli("check", SPINE, "--prior", PRIOR, "--format", "json")
    document = json.loads(out)
    assert normalise(report.to_json()) == normalise(out)
    assert report.exit_code == code
    assert report.verdict.value == document["verdict"] == document["overall_including_reirradiation"]
    plan = report.plans[0]
    assert plan.reirradiation is not None and plan.verdict is report.verdict
    # a composite row that does not pass is among the failures, in EQD2 Gy
    composite_rows = [f for f in report.failures() if f.part != "plan"]
    failing = [r for r in plan.reirradiation.rows if r.counts and r.with_factor.level is not Level.PASS]
    assert len([f for f in composite_rows if f.part != "interval"]) == len(failing)


def test_overrides_are_the_command_line_overrides():
    report = rtcheck.check(SABR, fractions=3)
    assert report.plans[0].table.name == "sabr-3fx"
    assert any("--fractions" in n for n in report.plans[0].notes)
    assert normalise(report.to_json()) == normalise(cli("check", SABR, "--fractions", "3", "--format", "json")[1])
    assert rtcheck.check(SPINE, arm="sabr").plans[0].table.name == "sabr-1fx"


def test_usage_errors_are_typed():
    # a 3-fraction table for a 5-fraction plan: that plan's error, in the report
    report = rtcheck.check(SABR, table="sabr-3fx")
    (plan,) = report.plans
    assert isinstance(plan.error, rtcheck.UsageError) and plan.error.remedy and plan.result is None
    assert report.exit_code == 2 == plan.error.exit_code and report.verdict is Level.NOT_EVALUATED
    with pytest.raises(rtcheck.UsageError):
        rtcheck.check(SABR, structures=SABR / "RS.sabr_3lesions_5fx.dcm", dose=SABR / "RD.sabr_3lesions_5fx.dcm")
    with pytest.raises(rtcheck.UsageError) as missing:
        rtcheck.check(SAMPLE_DICOM / "no_such_plan")
    assert missing.value.path == SAMPLE_DICOM / "no_such_plan"


def test_named_files_give_the_same_check_as_the_folder(sabr_report):
    named = rtcheck.check(
        structures=SABR / "RS.sabr_3lesions_5fx.dcm", dose=[SABR / "RD.sabr_3lesions_5fx.dcm"],
        plan=SABR / "RP.sabr_3lesions_5fx.dcm",
    )
    assert [r.level for r in named.plans[0].rows] == [r.level for r in sabr_report.plans[0].rows]
    assert [r.value for r in named.plans[0].rows] == [r.value for r in sabr_report.plans[0].rows]


def _check_in_worker(path: str) -> rtcheck.CheckReport:
    return rtcheck.check(path)


def test_results_come_back_intact_from_another_process(sabr_report):
    with concurrent.futures.ProcessPoolExecutor(max_workers=1) as pool:
        remote = pool.submit(_check_in_worker, str(SABR)).result()
    assert normalise(remote.to_json()) == normalise(sabr_report.to_json())
    assert remote.failures() == sabr_report.failures()


def test_errors_pickle_with_their_file_remedy_and_line():
    errors = [
        rtcheck.InputError("no DoseGridScaling", path="RD.dcm", remedy="re-export the dose"),
        rtcheck.ConstraintTableError("unknown key", path="t.yaml", line=7, remedy="see the format"),
        rtcheck.UsageError("no table for 7 fractions"),
    ]
    for error in errors:
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error)
        assert (back.path, back.remedy, back.exit_code) == (error.path, error.remedy, error.exit_code)
    assert pickle.loads(pickle.dumps(errors[1])).line == 7


def test_dataframe_has_one_row_per_plan_and_constraint(sabr_report):
    pandas = pytest.importorskip("pandas")
    frame = sabr_report.to_dataframe()
    assert isinstance(frame, pandas.DataFrame)
    assert len(frame) == len(sabr_report.plans[0].rows)
    esophagus = frame[(frame.organ == "Esophagus") & (frame.metric == "D0.035cc")].iloc[0]
    assert esophagus.level == "FAIL" and esophagus.value > 35.0 and esophagus.part == "plan"


def test_dataframe_without_pandas_says_how_to_install_it(sabr_report, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(rtcheck.MissingDependencyError, match=r"rtcheck\[pandas\]"):
        sabr_report.to_dataframe()
    assert len(sabr_report.rows()) == len(sabr_report.plans[0].rows)


def test_dvh_report_is_the_command_line_document():
    report = rtcheck.dvh(SPINE)
    assert report.to_json() == cli("dvh", SPINE, "--format", "json")[1]
    truth = EXPECTED["plans"]["spine_8gy_1fx"]["structures"]["Cord"]
    cord = next(r for r in report.rows() if r["name"] == "Cord")
    assert cord["d0035cc_gy"] == pytest.approx(truth["D0.035cc_gy"], abs=0.1)


def test_radiobiology_is_reexported():
    assert rtcheck.eqd2(8.0, 1, 2.0) == pytest.approx(20.0)  # 8 × (1 + 8/2) / (1 + 2/2)
    assert rtcheck.bed(8.0, 1, 2.0) == pytest.approx(40.0)
    assert rtcheck.eqd2_from_bed(40.0, 2.0) == pytest.approx(20.0)
    assert rtcheck.total_dose_for_eqd2(20.0, 1, 2.0) == pytest.approx(8.0)


def test_readme_python_example_runs_as_written(monkeypatch):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "README's Python API section has no python example"
    monkeypatch.chdir(REPO)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
