"""`rtcheck check` and `rtcheck constraints` on the sample exports (CliRunner).

Expected values come from sample_dicom/expected.yaml, written by the sample generator from
its analytic dose and geometry (not from rtcheck's output).
"""

from __future__ import annotations

import json
import shutil

import pydicom
import pytest
import yaml
from click.testing import CliRunner
from conftest import SAMPLE_DICOM

from rtcheck.cli import main

SPINE = SAMPLE_DICOM / "spine_8gy_1fx"
SABR = SAMPLE_DICOM / "sabr_3lesions_5fx"

pytestmark = pytest.mark.skipif(not (SPINE.is_dir() and SABR.is_dir()), reason="sample_dicom not generated")


@pytest.fixture(scope="module")
def expected() -> dict:
    return yaml.safe_load((SAMPLE_DICOM / "expected.yaml").read_text(encoding="utf-8"))["plans"]


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def spine_json():
    result = run("check", SPINE, "--format", "json")
    return result, json.loads(result.output)


@pytest.fixture(scope="module")
def sabr_json():
    result = run("check", SABR, "--format", "json")
    return result, json.loads(result.output)


def _rows(document, organ=None):
    rows = document["plans"][0]["results"]
    return [r for r in rows if organ is None or r["organ"] == organ]


# -- the sample plans ------------------------------------------------------------------------
def test_palliative_8gy_plan_passes(spine_json, expected):
    result, doc = spine_json
    assert result.exit_code == 0, result.output
    plan = doc["plans"][0]
    info = expected["spine_8gy_1fx"]
    assert plan["overall"] == "PASS"
    assert plan["table"]["name"] == "stop2-control-8gy-1fx"
    assert (plan["patient_id"], plan["plan_uid"], plan["fractions"]) == (info["patient_id"], info["plan_uid"], 1)
    assert plan["prescription_gy"] == pytest.approx(info["prescription_gy"])
    cord = next(r for r in _rows(doc, "SpinalCord") if r["metric"] == "D0.035cc" and r["kind"] == "hard")
    assert cord["structure"] == "Cord"
    assert cord["value"] == pytest.approx(info["structures"]["Cord"]["D0.035cc_gy"], abs=0.25)
    assert not [r for r in _rows(doc) if r["level"] in ("FAIL", "MAJOR", "MINOR", "INDETERMINATE")]


def test_sabr_plan_fails_exactly_on_the_overdosed_organ(sabr_json, expected):
    result, doc = sabr_json
    info = expected["sabr_3lesions_5fx"]
    over = info["overdosed"]
    assert result.exit_code == 1
    plan = doc["plans"][0]
    assert plan["overall"] == "FAIL" and plan["table"]["name"] == "sabr-5fx"
    bad = [r for r in _rows(doc) if r["level"] not in ("PASS", "NOT_EVALUATED")]
    assert {r["organ"] for r in bad} == {"Esophagus"}
    assert {r["structure"] for r in bad} == {over["roi_name"]}
    by_metric = {r["metric"]: r for r in bad}
    tolerance = over["suggested_tolerance_gy"]
    assert by_metric["D0.035cc"]["level"] == "FAIL"
    assert by_metric["D0.035cc"]["limit"] == over["limit"]["limit_gy"]
    assert by_metric["D0.035cc"]["value"] == pytest.approx(over["expected_D0.035cc_gy"], abs=tolerance)
    assert by_metric["D5cc"]["value"] == pytest.approx(over["expected_D5cc_gy"], abs=tolerance)
    assert by_metric["D5cc"]["limit"] == over["also_exceeded"]["limit_gy"]


def test_sabr_plan_other_organs_match_generator_values(sabr_json, expected):
    _, doc = sabr_json
    structures = expected["sabr_3lesions_5fx"]["structures"]
    cord = next(r for r in _rows(doc, "SpinalCord") if r["metric"] == "D0.035cc")
    assert cord["level"] == "PASS"
    assert cord["value"] == pytest.approx(structures["SpinalCord"]["D0.035cc_gy"], abs=1.0)
    liver = next(r for r in _rows(doc, "Liver") if r["metric"] == "CV21Gy")
    # critical volume: cc below 21 Gy (volume conventions differ by end-capping: 1 %)
    assert liver["value"] == pytest.approx(structures["Liver"]["volume_below_21Gy_cc"], rel=0.01)


def test_json_header_and_schema(sabr_json):
    _, doc = sabr_json
    assert doc["schema"] == "rtcheck-check" and doc["schema_version"] and doc["rtcheck_version"]
    plan = doc["plans"][0]
    assert len(plan["table"]["sha256"]) == 64
    whats = {i["what"] for i in plan["inputs"]}
    assert {"RTPLAN SOPInstanceUID", "RTSTRUCT SOPInstanceUID", "RTDOSE SOPInstanceUID"} <= whats
    assert plan["counts"]["FAIL"] == 2
    assert plan["missing_required_organs"] == []


def test_terminal_table(expected):
    result = run(SPINE)  # `rtcheck FOLDER` is `rtcheck check FOLDER`
    assert result.exit_code == 0
    out = result.output
    info = expected["spine_8gy_1fx"]
    for text in (info["patient_id"], info["plan_label"], info["plan_uid"], "stop2-control-8gy-1fx", "Verdict:", "PASS"):
        assert text in out
    assert "\x1b[" not in out  # not a TTY: no colour
    coloured = run("check", SPINE, "--color")
    assert "\x1b[32m" in coloured.output


def test_csv_output(tmp_path):
    out = tmp_path / "report.csv"
    result = run("check", SABR, "--format", "csv", "-o", out)
    assert result.exit_code == 1
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("patient_id,plan_uid,plan_label,plan_verdict,part,course,table,table_sha256")
    assert any(",Esophagus,Esophagus,D0.035cc,<,35,Gy,hard," in line and ",FAIL," in line for line in lines)


def test_output_inside_input_folder_refused(tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(SPINE, folder)
    result = run("check", folder, "-o", folder / "report.txt")
    assert result.exit_code == 2
    assert not (folder / "report.txt").exists()


def test_explicit_files_mode():
    result = run(
        "check",
        "--structures", SPINE / "RS.spine_8gy_1fx.dcm",
        "--dose", SPINE / "RD.spine_8gy_1fx.dcm",
        "--plan", SPINE / "RP.spine_8gy_1fx.dcm",
        "--format", "json",
    )
    assert result.exit_code == 0
    assert json.loads(result.output)["plans"][0]["table"]["name"] == "stop2-control-8gy-1fx"


# -- missing organs and aliases -----------------------------------------------------------------
def _renamed_copy(tmp_path, old: str, new: str):
    folder = tmp_path / "export"
    shutil.copytree(SPINE, folder)
    rs = folder / "RS.spine_8gy_1fx.dcm"
    ds = pydicom.dcmread(rs)
    for roi in ds.StructureSetROISequence:
        if roi.ROIName == old:
            roi.ROIName = new
    ds.save_as(rs)
    return folder


def test_structure_set_without_cord_is_not_evaluated_and_exits_1(tmp_path):
    folder = _renamed_copy(tmp_path, "Cord", "z_helper_ring")
    result = run("check", folder, "--format", "json")
    assert result.exit_code == 1
    plan = json.loads(result.output)["plans"][0]
    assert plan["overall"] == "NOT_EVALUATED"
    assert plan["missing_required_organs"] == ["SpinalCord"]
    assert "z_helper_ring" in plan["unmatched_structures"]
    cord_rows = _rows({"plans": [plan]}, "SpinalCord")
    assert cord_rows and all(r["level"] == "NOT_EVALUATED" and r["required"] for r in cord_rows)
    text = run("check", folder).output
    assert "Missing required organs: SpinalCord" in text and "NOT EVALUATED" in text


def test_site_alias_file(tmp_path):
    folder = _renamed_copy(tmp_path, "Cord", "Medulla_X")
    assert run("check", folder).exit_code == 1
    site = tmp_path / "site_aliases.yaml"
    site.write_text("name: site\naliases:\n  SpinalCord: [Medulla_X]\n", encoding="utf-8")
    result = run("check", folder, "--aliases", site, "--format", "json")
    assert result.exit_code == 0
    cord = _rows(json.loads(result.output), "SpinalCord")[0]
    assert cord["structure"] == "Medulla_X" and cord["level"] == "PASS"


def test_cord_prv_is_not_taken_for_the_cord(tmp_path):
    folder = _renamed_copy(tmp_path, "Cord", "SpinalCord_PRV5")
    result = run("check", folder, "--format", "json")
    plan = json.loads(result.output)["plans"][0]
    assert result.exit_code == 1 and plan["missing_required_organs"] == ["SpinalCord"]
    prv = [r for r in plan["results"] if r["organ"] == "SpinalCord_PRV"]
    assert prv and prv[0]["structure"] == "SpinalCord_PRV5"



# -- paired organs from their sides ---------------------------------------------------------------
def test_kidneys_are_evaluated_on_the_union_of_the_sides(spine_json, expected):
    """The spine plan has Kidney Lt and Kidney Rt but no Kidneys: the TG-101 critical volume
    (CV8.4Gy >= 200 cc) is evaluated on their union. Both kidneys stay far below 8.4 Gy
    (generator maxima), so the spared volume is the union's whole volume: the sum of the two
    (disjoint) kidneys' generator volumes."""
    _, doc = spine_json
    kidneys = expected["spine_8gy_1fx"]["structures"]
    left, right = kidneys["Kidney Lt"], kidneys["Kidney Rt"]
    assert max(left["max_gy"], right["max_gy"]) < 8.4
    row = next(r for r in _rows(doc, "Kidneys") if r["metric"] == "CV8.4Gy")
    assert row["structure"] == "Kidney Lt + Kidney Rt"
    assert row["level"] == "PASS"
    total = left["volume_cc"] + right["volume_cc"]
    assert row["organ_volume_cc"] == pytest.approx(total, rel=2e-3)
    assert row["value"] == pytest.approx(total, rel=2e-3)
    assert "Kidneys = union of Kidney Lt + Kidney Rt" in row["reason"]
    text = run("check", SPINE).output
    assert "Kidney Lt + Kidney Rt" in text and "Kidneys = union of Kidney Lt + Kidney Rt" in text


def test_one_kidney_is_never_taken_for_both(tmp_path):
    folder = _renamed_copy(tmp_path, "Kidney Rt", "z_helper_ring")
    plan = json.loads(run("check", folder, "--format", "json").output)["plans"][0]
    rows = [r for r in plan["results"] if r["organ"] == "Kidneys"]
    assert rows and all(r["level"] == "NOT_EVALUATED" and r["value"] is None for r in rows)
    assert all("Kidney_R is missing" in r["reason"] for r in rows)
    assert all("Kidney Lt" not in (r["structure"] or "") for r in rows)


# -- table selection on the command line ---------------------------------------------------------
def test_no_table_for_fractionation_is_a_usage_error():
    result = run("check", SABR, "--fractions", "4")
    assert result.exit_code == 2
    assert "no constraint table for 4 fraction(s)" in result.output
    assert "Verdict" not in result.output


def test_arm_override_selects_the_sabr_table():
    # the palliative plan checked against SABR 1-fx limits: cord D1.2cc (8.1 Gy) > 7 Gy
    result = run("check", SPINE, "--arm", "sabr", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["plans"][0]["table"]["name"] == "sabr-1fx"
    failing = {(r["organ"], r["metric"]) for r in _rows(doc) if r["level"] == "FAIL"}
    assert ("SpinalCord", "D1.2cc") in failing


def test_table_for_other_fractionation_refused():
    result = run("check", SABR, "--table", "sabr-3fx")
    assert result.exit_code == 2
    assert "for 3 fraction(s) but the plan has 5" in result.output


def test_site_table_file(tmp_path):
    table = tmp_path / "site-5fx.yaml"
    text = (SAMPLE_DICOM.parent / "constraints" / "sabr-5fx.yaml").read_text(encoding="utf-8")
    table.write_text(text.replace("name: sabr-5fx", "name: site-5fx"), encoding="utf-8")
    result = run("check", SABR, "--table", table, "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.output)["plans"][0]["table"]["name"] == "site-5fx"


def test_bad_table_file_is_exit_3_with_file_and_line(tmp_path):
    table = tmp_path / "bad.yaml"
    text = (SAMPLE_DICOM.parent / "constraints" / "sabr-5fx.yaml").read_text(encoding="utf-8")
    table.write_text(text.replace("D5cc < 19.5 Gy", "D5cx < 19.5 Gy"), encoding="utf-8")
    line = text.splitlines().index("  - Esophagus: D5cc < 19.5 Gy") + 1
    result = run("check", SABR, "--table", table)
    assert result.exit_code == 3
    assert f"{table}:{line}: unknown metric 'D5cx'" in result.output


# -- rtcheck constraints ----------------------------------------------------------------------------
def test_constraints_list():
    result = run("constraints", "list")
    assert result.exit_code == 0
    for name in ("stop2-control-8gy-1fx", "sabr-1fx", "sabr-3fx", "sabr-5fx", "sabr-8fx", "reirradiation-cumulative"):
        assert name in result.output


def test_constraints_show():
    result = run("constraints", "show", "sabr-5fx")
    assert result.exit_code == 0
    assert "D0.035cc < 25.3 Gy" in result.output and "HyTEC-cord:" in result.output
    data = json.loads(run("constraints", "show", "sabr-5fx", "--format", "json").output)
    assert data["name"] == "sabr-5fx" and data["constraints"][0]["organ"] == "SpinalCord"
    assert run("constraints", "show", "sabr-4fx").exit_code == 2


def test_constraints_show_states_interval_conditions():
    result = run("constraints", "show", "reirradiation-cumulative")
    assert result.exit_code == 0
    (nieder,) = [line for line in result.output.splitlines() if "135.5 Gy BED" in line]
    assert "hard, >= 6 months between courses" in nieder
    (goal,) = [line for line in result.output.splitlines() if "120 Gy BED" in line]
    assert "months" not in goal
    data = json.loads(run("constraints", "show", "reirradiation-cumulative", "--format", "json").output)
    assert [c["min_interval_months"] for c in data["constraints"]] == [5, 6, None]


def test_constraints_validate(tmp_path):
    good = SAMPLE_DICOM.parent / "constraints" / "sabr-8fx.yaml"
    result = run("constraints", "validate", good, SAMPLE_DICOM.parent / "constraints" / "aliases.yaml")
    assert result.exit_code == 0 and result.output.count("OK") == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text(encoding="utf-8").replace("  - SpinalCord:", "  - SpinalChord:", 1), encoding="utf-8")
    result = run("constraints", "validate", bad)
    assert result.exit_code == 3
    assert f"{bad}:" in result.output and "SpinalChord" in result.output


@pytest.mark.parametrize("args", [["check"], ["constraints"], ["constraints", "list"], ["constraints", "show"], ["constraints", "validate"]])
def test_help(args):
    result = run(*args, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_check_course_is_a_pure_picklable_function():
    """The per-plan check takes models and returns plain data: an archive audit can run it in
    worker processes (arguments and result pickle; no global state changes the result)."""
    import pickle

    from rtcheck.constraints import select_table, shipped_names
    from rtcheck.dicom_io import discover
    from rtcheck.evaluate import check_course

    course = discover(SABR)[0]
    table = select_table(fractions=course.fractions, prescription_gy=course.plan.prescription_gy).table
    args = pickle.loads(pickle.dumps((course, table, shipped_names())))
    result = check_course(*args)
    assert pickle.loads(pickle.dumps(result)).to_dict() == result.to_dict()
    assert result.overall.value == "FAIL"


def test_json_keys_are_the_documented_ones(sabr_json):
    """The JSON is a published interface: every key is in the shipped JSON Schema, which
    refuses keys it does not document (see tests/test_report_formats.py)."""
    jsonschema = pytest.importorskip("jsonschema")
    from rtcheck.report.check_json import schema

    _, doc = sabr_json
    jsonschema.validate(doc, schema())


def test_check_computes_each_checked_structure_once_and_no_other(monkeypatch):
    """DVHs are computed only for the structures the table's rows use (a BODY is not), each
    once, and the results are those of every DVH computed up front."""
    import rtcheck.dvhcalc.compute as dvh_module
    import rtcheck.evaluate.plan as plan_module
    from rtcheck.constraints import select_table, shipped_names
    from rtcheck.dicom_io import discover
    from rtcheck.evaluate import check_course, evaluate

    course = discover(SABR)[0]
    table = select_table(fractions=course.fractions, prescription_gy=course.plan.prescription_gy).table
    names = shipped_names()
    structures = course.structure_set.structures
    full = dvh_module.compute_dvhs(course.structure_set, course.dose)
    seen = []
    real = dvh_module.compute_dvh_and_mask

    def counting(structure, *args, **kwargs):
        seen.append(structure.name)
        return real(structure, *args, **kwargs)

    monkeypatch.setattr(plan_module, "compute_dvh_and_mask", counting)
    result = check_course(course, table, names)
    assert len(seen) == len(set(seen)) > 0
    matched = {s.name for s in structures if names.match(s.name).canonical in {c.organ for c in table.constraints}}
    assert set(seen) <= matched | {s.name for s in structures if names.match(s.name).canonical in ("Lung_L", "Lung_R", "Kidney_L", "Kidney_R")}
    assert "BODY" not in seen and "PTV_Lung" not in seen  # no row checks them
    assert len(seen) < len(structures)
    # the same results as with every structure's DVH given up front (no unions involved)
    upfront, _, _ = evaluate(
        table, [(s.name, d) for s, d in zip(structures, full, strict=True)], names=names,
        prescription_gy=course.plan.prescription_gy,
    )
    single = [r for r in result.results if r.structure_name is None or " + " not in r.structure_name]
    expected = {(r.constraint, r.structure_name): (r.level, r.value) for r in upfront}
    for r in single:
        assert expected[(r.constraint, r.structure_name)] == (r.level, r.value)


def test_a_union_side_with_crossing_contours_makes_the_union_row_not_evaluated():
    import dataclasses

    import numpy as np

    from rtcheck.constraints import select_table, shipped_names
    from rtcheck.dicom_io import discover
    from rtcheck.evaluate import check_course
    from rtcheck.models import Contour

    course = discover(SPINE)[0]
    ss = course.structure_set
    bow_tie = np.array([[0.0, 0.0], [20.0, 20.0], [20.0, 0.0], [0.0, 10.0]])  # crosses itself
    structures = tuple(
        dataclasses.replace(s, contours=(Contour(s.contours[0].z_mm, bow_tie), *s.contours[1:]))
        if s.name == "Kidney Rt"
        else s
        for s in ss.structures
    )
    course = dataclasses.replace(course, structure_set=dataclasses.replace(ss, structures=structures))
    table = select_table(fractions=course.fractions, prescription_gy=course.plan.prescription_gy).table
    result = check_course(course, table, shipped_names())
    rows = [r for r in result.results if r.structure_name == "Kidney Lt + Kidney Rt"]
    assert rows and all(r.level.value == "NOT_EVALUATED" for r in rows)
    assert all("Kidney Rt" in r.reason and "cross" in r.reason for r in rows)
