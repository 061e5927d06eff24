"""A folder of several plans (issue #14): each plan is checked on its own, a plan that cannot
be checked is reported with its error while the others are still checked, overrides are
refused unless one plan is selected, and the run ends with a summary line per plan."""

from __future__ import annotations

import json
import shutil

import pydicom
import pytest
from click.testing import CliRunner
from conftest import SAMPLE_DICOM

import rtcheck
from rtcheck.cli import main
from rtcheck.models import Level

SPINE = SAMPLE_DICOM / "spine_8gy_1fx"
SABR = SAMPLE_DICOM / "sabr_3lesions_5fx"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def archive(tmp_path):
    """The SABR plan (FAIL on the oesophagus) and the spine plan rewritten to 7 fractions,
    for which no table exists: one plan that fails and one that cannot be checked."""
    root = tmp_path / "archive"
    shutil.copytree(SABR, root / "sabr")
    shutil.copytree(SPINE, root / "spine7")
    plan_file = next((root / "spine7").glob("RP.*.dcm"))
    plan = pydicom.dcmread(plan_file)
    plan.FractionGroupSequence[0].NumberOfFractionsPlanned = 7
    plan.save_as(plan_file)
    return root


def test_a_plan_without_a_table_does_not_stop_the_others(archive):
    report = rtcheck.check(archive)
    by_label = {p.plan_label: p for p in report.plans}
    assert by_label["SABR 35Gy5F"].verdict is Level.FAIL
    unchecked = by_label["T10 8Gy1F"]
    assert unchecked.result is None and isinstance(unchecked.error, rtcheck.UsageError)
    assert "7 fraction" in str(unchecked.error) and unchecked.verdict is Level.NOT_EVALUATED
    # the worst exit code over the plans, in the documented order 3 > 2 > 1 > 0
    assert report.exit_code == 2 and report.verdict is Level.FAIL


def test_command_line_reports_every_plan_then_a_summary(archive):
    result = run("check", archive, "--no-color")
    assert result.exit_code == 2
    out = result.stdout
    assert "Esophagus" in out and "Not checked:" in out and "no constraint table for 7 fraction(s)" in out
    summary = out.split("Summary: 2 plans", 1)[1].splitlines()
    sabr_line = next(line for line in summary if "SABR 35Gy5F" in line)
    assert "RTC-SABR-002" in sabr_line and "sabr-5fx" in sabr_line and "FAIL" in sabr_line
    assert "Esophagus D0.035cc: FAIL" in sabr_line
    spine_line = next(line for line in summary if "T10 8Gy1F" in line)
    assert "NOT CHECKED (exit 2)" in spine_line and "RTC-SPINE-001" in spine_line and " 7 " in spine_line


def test_json_and_csv_carry_the_plan_that_could_not_be_checked(archive):
    result = run("check", archive, "--format", "json")
    document = json.loads(result.stdout)
    assert [p["plan_label"] for p in document["plans"]] == ["SABR 35Gy5F"]
    (error,) = document["errors"]
    assert error["plan_label"] == "T10 8Gy1F" and error["exit_code"] == 2
    assert error["error"]["type"] == "UsageError" and "7 fraction" in error["error"]["message"]
    csv_lines = run("check", archive, "--format", "csv").stdout.splitlines()
    (not_checked,) = [line for line in csv_lines if ",NOT_CHECKED," in line]
    assert not_checked.startswith("RTC-SPINE-001,") and "T10 8Gy1F" in not_checked


@pytest.mark.parametrize("override", [("--fractions", "5"), ("--arm", "sabr"), ("--table", "sabr-5fx")])
def test_overrides_with_several_plans_are_refused_listing_them(override):
    result = run("check", SAMPLE_DICOM, *override)
    assert result.exit_code == 2
    assert f"{override[0]} would apply to every one of 4 plans" in result.stderr
    assert "T10 8Gy1F" in result.stderr and "SABR 35Gy5F" in result.stderr and "--plan" in result.stderr


def test_a_selected_plan_takes_the_override(archive):
    """--plan LABEL narrows the run to one plan, which then takes --table as a single plan does."""
    result = run("check", archive, "--plan", "T10 8Gy1F", "--table", "sabr-8fx", "--fractions", "8", "--format", "json")
    document = json.loads(result.stdout)
    assert [p["plan_label"] for p in document["plans"]] == ["T10 8Gy1F"]
    assert document["plans"][0]["table"]["name"] == "sabr-8fx"
    uid = rtcheck.check(SABR).plans[0].result.plan_uid
    by_uid = run("check", archive, "--plan", uid, "--format", "json")
    assert [p["plan_uid"] for p in json.loads(by_uid.stdout)["plans"]] == [uid]


def test_an_unknown_selection_lists_the_plans(archive):
    result = run("check", archive, "--plan", "no such plan")
    assert result.exit_code == 2 and "plans found:" in result.stderr and "SABR 35Gy5F" in result.stderr


def test_a_single_plan_that_cannot_be_checked_keeps_its_one_line_error(tmp_path, archive):
    result = run("check", archive / "spine7")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("rtcheck: error: no constraint table for 7 fraction(s)")


def test_a_plan_without_its_dose_does_not_hide_a_complete_plan_beside_it(tmp_path):
    """The issue's case: a tree where one plan lacks its RTDOSE exited 3 with nothing
    checked. Now the complete plan is checked and the incomplete one reported with its error."""
    root = tmp_path / "tree"
    shutil.copytree(SABR, root / "sabr")
    shutil.copytree(SPINE, root / "spine")
    next((root / "spine").glob("RD.*.dcm")).unlink()
    report = rtcheck.check(root)
    by_label = {p.plan_label: p for p in report.plans}
    assert by_label["SABR 35Gy5F"].verdict is Level.FAIL
    missing = by_label["T10 8Gy1F"]
    assert missing.result is None and isinstance(missing.error, rtcheck.InputError)
    assert report.exit_code == 3
    result = run("check", root, "--format", "json")
    document = json.loads(result.stdout)
    assert result.exit_code == 3 and document["verdict"] == "FAIL" and document["exit_code"] == 3
    assert [p["plan_label"] for p in document["plans"]] == ["SABR 35Gy5F"]
    assert [e["plan_label"] for e in document["errors"]] == ["T10 8Gy1F"]
    assert "RTDOSE" in document["errors"][0]["error"]["message"] or "dose" in document["errors"][0]["error"]["message"]


def test_a_single_plan_without_its_dose_keeps_its_one_line_error(tmp_path):
    folder = tmp_path / "spine"
    shutil.copytree(SPINE, folder)
    next(folder.glob("RD.*.dcm")).unlink()
    result = run("check", folder)
    assert result.exit_code == 3 and result.stdout == "" and "no RTDOSE" in result.stderr


def test_the_terminal_report_shows_the_plan_that_could_not_be_read(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(SABR, root / "sabr")
    shutil.copytree(SPINE, root / "spine")
    next((root / "spine").glob("RD.*.dcm")).unlink()
    result = run("check", root, "--no-color")
    assert result.exit_code == 3
    assert "Not checked:" in result.stdout and "NOT CHECKED (exit 3)" in result.stdout
    assert "Summary: 2 plans" in result.stdout


def test_the_summary_names_a_missing_required_organ(tmp_path):
    """A plan that is NOT EVALUATED because its required cord is not contoured says so in its
    summary line (the organ is absent, but it counts in the verdict)."""
    root = tmp_path / "tree"
    shutil.copytree(SABR, root / "sabr")
    shutil.copytree(SPINE, root / "spine")
    rs = root / "spine" / "RS.spine_8gy_1fx.dcm"
    ds = pydicom.dcmread(rs)
    for roi in ds.StructureSetROISequence:
        if roi.ROIName == "Cord":
            roi.ROIName = "z_helper_ring"
    ds.save_as(rs)
    report = rtcheck.check(root)
    spine = next(p for p in report.plans if p.plan_label == "T10 8Gy1F")
    assert spine.verdict is Level.NOT_EVALUATED
    assert any(text.startswith("SpinalCord ") and "NOT EVALUATED" in text for text in spine.summary().failing)
    assert not any(text.startswith("Heart ") for text in spine.summary().failing)  # optional, absent


def test_a_selected_plan_that_cannot_be_checked_gives_one_line(archive):
    result = run("check", archive, "--plan", "T10 8Gy1F")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("rtcheck: error: no constraint table for 7 fraction(s)")
