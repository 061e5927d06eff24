"""Re-irradiation composites of a paired organ contoured only as its sides.

The sample spine plan (`spine_8gy_1fx`) has ``Kidney Lt`` and ``Kidney Rt`` and no
``Kidneys``: as in the plan's own check (tests/test_cli_check.py, tests/test_evaluate_union.py)
a Kidneys row of the re-irradiation check is evaluated on the union of the sides, each
course's dose being sampled at the union's points and converted with the organ's α/β.
The two kidneys are disjoint, so the union's volume is the sum of the generator's kidney
volumes (sample_dicom/expected.yaml) and its mean EQD2 the volume-weighted mean of the sides'.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydicom
import pytest
import yaml
from click.testing import CliRunner

from rtcheck.cli import main

SAMPLE_DICOM = Path(__file__).resolve().parent.parent / "sample_dicom"
CURRENT = SAMPLE_DICOM / "spine_8gy_1fx"
PRIOR = SAMPLE_DICOM / "prior_spine_20gy_5fx"

pytestmark = pytest.mark.skipif(not (CURRENT / "RP.spine_8gy_1fx.dcm").exists(), reason="sample_dicom not generated")

#: a small site table (EQD2): test thresholds only, not clinical limits
SITE_TABLE = """\
name: site-kidneys-test
version: "1"
description: test table for the union of the kidneys; the limits are arbitrary test thresholds, not clinical
dose_quantity: EQD2
sources:
  test: none (test thresholds)
constraints:
  - Kidneys: Dmean < 10 Gy EQD2
    source: test
    confidence: uncertain
  - Kidney_L: Dmean < 10 Gy EQD2
    source: test
    confidence: uncertain
  - Kidney_R: Dmean < 10 Gy EQD2
    source: test
    confidence: uncertain
"""


@pytest.fixture(scope="module")
def kidneys() -> dict:
    doc = yaml.safe_load((SAMPLE_DICOM / "expected.yaml").read_text(encoding="utf-8"))
    return doc["plans"]["spine_8gy_1fx"]["structures"]


def run(folder: Path, *args) -> dict:
    result = CliRunner().invoke(main, ["check", str(folder), "--prior", str(PRIOR), *map(str, args), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)["reirradiation"][0]


def site_table(tmp_path: Path) -> Path:
    path = tmp_path / "site-kidneys.yaml"
    path.write_text(SITE_TABLE, encoding="utf-8")
    return path


def rows(report: dict, organ: str, origin: str) -> list[dict]:
    return [r for r in report["results"] if r["constraint"]["organ"] == organ and r["origin"] == origin]


def composite(report: dict, organ: str) -> dict:
    (found,) = [c for c in report["composites"] if c["organ"] == organ]
    return found


def test_converted_kidneys_row_is_evaluated_on_the_union_of_the_sides(kidneys):
    """The plan's table (sabr-1fx) has the TG-101 critical volume CV8.4Gy >= 200 cc for
    Kidneys: converted to EQD2 it is now evaluated on Kidney Lt + Kidney Rt (before: NOT
    EVALUATED, "no structure for Kidneys"). Both kidneys stay far below the threshold in
    both courses, so the spared volume is the union's whole volume."""
    report = run(CURRENT)
    (row,) = rows(report, "Kidneys", "converted")
    total = kidneys["Kidney Lt"]["volume_cc"] + kidneys["Kidney Rt"]["volume_cc"]
    for res in (row["with_factor"], row["without_factor"]):
        assert res["structure"] == "Kidney Lt + Kidney Rt"
        assert res["level"] == "PASS"
        assert res["value"] == pytest.approx(total, rel=2e-3)
        assert "Kidneys = union of Kidney Lt + Kidney Rt" in res["reason"]
    assert composite(report, "Kidneys")["with_factor"]["volume_cc"] == pytest.approx(total, rel=2e-3)


def test_site_table_kidneys_row_is_the_union_converted_with_the_organs_alpha_beta(tmp_path, kidneys):
    report = run(CURRENT, "--cumulative-table", site_table(tmp_path), "--no-converted-limits")
    (row,) = rows(report, "Kidneys", "cumulative")
    assert row["with_factor"]["structure"] == "Kidney Lt + Kidney Rt"
    assert row["with_factor"]["level"] == "PASS"
    union, left, right = (composite(report, organ) for organ in ("Kidneys", "Kidney_L", "Kidney_R"))
    # α/β of the organ (alpha_beta.yaml: late-responding tissue, 3 Gy), for the union as for the sides
    assert row["alpha_beta_gy"] == union["alpha_beta_gy"] == left["alpha_beta_gy"] == 3.0
    total = kidneys["Kidney Lt"]["volume_cc"] + kidneys["Kidney Rt"]["volume_cc"]
    assert union["with_factor"]["volume_cc"] == pytest.approx(total, rel=2e-3)
    # disjoint sides: the union's samples are the sides' samples, overlap none
    v_l, v_r = left["with_factor"]["volume_cc"], right["with_factor"]["volume_cc"]
    assert union["with_factor"]["volume_cc"] == pytest.approx(v_l + v_r, rel=1e-6)
    for i, _ in enumerate(union["contributions"]):  # each course sampled at the union's points
        weighted = (
            left["contributions"][i]["mean_eqd2_gy"] * v_l + right["contributions"][i]["mean_eqd2_gy"] * v_r
        ) / (v_l + v_r)
        assert union["contributions"][i]["mean_eqd2_gy"] == pytest.approx(weighted, rel=2e-3, abs=2e-6)
        assert union["contributions"][i]["max_eqd2_gy"] == pytest.approx(
            max(left["contributions"][i]["max_eqd2_gy"], right["contributions"][i]["max_eqd2_gy"]), abs=2e-6
        )
    weighted = (left["with_factor"]["mean_eqd2_gy"] * v_l + right["with_factor"]["mean_eqd2_gy"] * v_r) / (v_l + v_r)
    assert row["with_factor"]["value"] == pytest.approx(weighted, rel=2e-3, abs=2e-6)
    assert row["with_factor"]["value"] > 0


def test_one_kidney_missing_is_not_evaluated_with_a_reason(tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(CURRENT, folder)
    rs = folder / "RS.spine_8gy_1fx.dcm"
    ds = pydicom.dcmread(rs)
    for roi in ds.StructureSetROISequence:
        if roi.ROIName == "Kidney Rt":
            roi.ROIName = "z_helper_ring"
    ds.save_as(rs)
    report = run(folder, "--cumulative-table", site_table(tmp_path), "--no-converted-limits")
    (row,) = rows(report, "Kidneys", "cumulative")
    for res in (row["with_factor"], row["without_factor"]):
        assert res["level"] == "NOT_EVALUATED" and res["value"] is None
        assert not res["structure"]  # never the left kidney alone
        assert "no structure for Kidneys" in res["reason"]
        assert "Kidney_R is missing" in res["reason"]
    assert not [c for c in report["composites"] if c["organ"] == "Kidneys"]


def test_interval_of_a_kidneys_row_is_checked_on_the_union(tmp_path):
    """A Kidneys row evaluated on the union also has its minimum interval checked (it would
    otherwise PASS while the courses are closer than its limit was derived for)."""
    text = SITE_TABLE.replace(
        "  - Kidneys: Dmean < 10 Gy EQD2\n", "  - Kidneys: Dmean < 10 Gy EQD2\n    min_interval_months: 600\n"
    )
    path = tmp_path / "site-kidneys-interval.yaml"
    path.write_text(text, encoding="utf-8")
    report = run(CURRENT, "--cumulative-table", path, "--no-converted-limits")
    (check,) = [i for i in report["intervals"] if i["organ"] == "Kidneys"]
    assert check["level"] == "FAIL" and check["elapsed_months"] < 600
    assert report["overall_with_factor"] == report["overall_without_factor"] == "FAIL"


def test_single_plane_organ_composite_uses_the_plan_checks_slab_thickness(tmp_path):
    """A single-plane ROI is a slab of the structure set's contour spacing (3 mm here) in the
    plan's DVH; the composite must sample that same slab, not one of the dose grid's plane
    spacing (4 mm): its volume is the polygon's area × 3 mm, computed here by hand."""
    import numpy as np

    folder = tmp_path / "export"
    shutil.copytree(CURRENT, folder)
    rs = folder / "RS.spine_8gy_1fx.dcm"
    ds = pydicom.dcmread(rs)
    (number,) = [roi.ROINumber for roi in ds.StructureSetROISequence if roi.ROIName == "Kidney Lt"]
    (item,) = [c for c in ds.ROIContourSequence if c.ReferencedROINumber == number]
    contours = list(item.ContourSequence)
    middle = contours[len(contours) // 2]
    item.ContourSequence = [middle]
    ds.save_as(rs)
    xyz = np.asarray(middle.ContourData, dtype=float).reshape(-1, 3)
    x, y = xyz[:, 0], xyz[:, 1]
    area_mm2 = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    spacing = sorted({round(float(c.ContourData[2]), 3) for c in ds.ROIContourSequence[0].ContourSequence})
    contour_spacing_mm = spacing[1] - spacing[0]
    assert contour_spacing_mm == pytest.approx(3.0)  # the dose grid's planes are 4 mm apart

    report = run(folder, "--cumulative-table", site_table(tmp_path), "--no-converted-limits")
    left = composite(report, "Kidney_L")
    assert left["without_factor"]["volume_cc"] == pytest.approx(area_mm2 * contour_spacing_mm / 1000.0, rel=1e-3)
