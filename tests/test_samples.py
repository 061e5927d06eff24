"""The synthetic exports in sample_dicom/: up to date, valid, discoverable, self-consistent.

* regenerating them (sample_dicom/generate.py) gives byte-identical files — so the generator
  is deterministic and the committed files are not stale;
* each scenario folder discovers to exactly one Course with the patient, fractions,
  prescription, date and structures the generator meant (read from expected.yaml, which the
  generator writes from its own parameters);
* the deliberate overdose in the SABR plan is re-derived here by hand from the geometry
  recorded in expected.yaml.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
import yaml

from rtcheck.dicom_io import discover, read_structure_set
from rtcheck.dicom_io.registration import read_registration

SAMPLE_DICOM = Path(__file__).resolve().parents[1] / "sample_dicom"  # as in conftest.py

EXPECTED = yaml.safe_load((SAMPLE_DICOM / "expected.yaml").read_text(encoding="utf-8"))
PLANS = EXPECTED["plans"]
DCIODVFY = shutil.which("dciodvfy")
MAX_TOTAL_BYTES = 8 * 1024 * 1024


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _data_files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): _sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and (p.suffix == ".dcm" or p.name == "expected.yaml")
    }


@pytest.mark.slow
def test_regenerating_gives_identical_files(tmp_path):
    # A mismatch right after upgrading numpy/scipy/scikit-image can be a last-bit change in
    # the analytic doses: regenerate, review the diff of expected.yaml, commit.
    subprocess.run([sys.executable, str(SAMPLE_DICOM / "generate.py"), "--out", str(tmp_path)],
                   check=True, timeout=300)
    committed, fresh = _data_files(SAMPLE_DICOM), _data_files(tmp_path)
    assert sorted(fresh) == sorted(committed), "sample file set changed: run python sample_dicom/generate.py"
    stale = [name for name in committed if committed[name] != fresh[name]]
    assert stale == [], f"stale sample files (run python sample_dicom/generate.py): {stale}"


def test_samples_carry_the_generator_identity_not_the_rtcheck_version():
    """A version bump must not make the committed samples stale."""
    files = sorted(SAMPLE_DICOM.rglob("*.dcm"))
    assert files
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert ds.SoftwareVersions == "rtcheck sample generator v1", path
        assert ds.file_meta.ImplementationVersionName == "RTCHECK_SAMPLE_1", path


def test_samples_stay_small():
    total = sum(p.stat().st_size for p in SAMPLE_DICOM.rglob("*") if p.is_file())
    assert total < MAX_TOTAL_BYTES


@pytest.mark.parametrize("key", sorted(PLANS))
def test_each_folder_discovers_to_one_course(key):
    info = PLANS[key]
    courses = discover(SAMPLE_DICOM / info["folder"])
    assert len(courses) == 1
    course = courses[0]
    assert course.fractions == info["fractions"]
    assert course.plan is not None
    assert course.plan.sop_instance_uid == info["plan_uid"]
    assert course.plan.prescription_gy == pytest.approx(info["prescription_gy"])
    assert course.plan.patient_id == info["patient_id"]
    assert course.plan.label == info["plan_label"]
    assert course.date == dt.date.fromisoformat(info["plan_date"])
    assert course.structure_set is not None
    assert course.structure_set.sop_instance_uid == info["structure_set_uid"]
    assert course.dose.frame_of_reference_uid == info["frame_of_reference_uid"]
    names = {s.name for s in course.structure_set.structures}
    assert set(info.get("structures", {})) <= names
    assert all(s.is_volumetric for s in course.structure_set.structures)


def test_whole_folder_discovers_one_course_per_plan():
    # An archive-style export: every plan in the tree, each with its own dose and structures.
    courses = discover(SAMPLE_DICOM)
    assert sorted(c.plan.sop_instance_uid for c in courses) == sorted(p["plan_uid"] for p in PLANS.values())


def test_spine_plan_and_prior_course_share_patient_and_frame():
    spine, prior = PLANS["spine_8gy_1fx"], PLANS["prior_spine_20gy_5fx"]
    assert spine["patient_id"] == prior["patient_id"]
    assert spine["frame_of_reference_uid"] == prior["frame_of_reference_uid"]
    elapsed = dt.date.fromisoformat(spine["plan_date"]) - dt.date.fromisoformat(prior["plan_date"])
    assert elapsed.days == prior["days_before_spine_8gy_1fx"]
    assert 9 * 30 <= elapsed.days <= 14 * 31  # 9-14 months, as documented in the README


def test_other_frame_prior_has_registration_to_the_spine_plan():
    spine, other = PLANS["spine_8gy_1fx"], PLANS["prior_spine_20gy_5fx_otherframe"]
    assert other["frame_of_reference_uid"] != spine["frame_of_reference_uid"]
    reg = read_registration(SAMPLE_DICOM / other["folder"] / other["registration"]["file"])
    assert reg.frame_of_reference_uid == spine["frame_of_reference_uid"]
    matrix = reg.matrices[other["frame_of_reference_uid"]]
    np.testing.assert_allclose(matrix, other["registration"]["matrix_moving_to_fixed"])
    # The same anatomy in both frames: the cord contour of the prior CT, moved by the
    # registration, lies on the cord contour of the current CT.
    here = read_structure_set(SAMPLE_DICOM / spine["folder"] / "RS.spine_8gy_1fx.dcm")
    there = read_structure_set(SAMPLE_DICOM / other["folder"] / "RS.prior_spine_otherframe.dcm")
    cord_here = next(s for s in here.structures if s.name == "Cord").contours[0]
    cord_there = next(s for s in there.structures if s.name == "SpinalCord").contours[0]
    moved = matrix @ np.array([*cord_there.points_mm[0], cord_there.z_mm, 1.0])
    assert moved[2] == pytest.approx(cord_here.z_mm)
    assert math.dist(moved[:2], cord_here.points_mm.mean(axis=0)) == pytest.approx(5.0, abs=0.05)


def test_sabr_overdose_is_what_the_geometry_says():
    sabr = PLANS["sabr_3lesions_5fx"]
    over = sabr["overdosed"]
    hand = over["hand_calculation"]
    lung = next(le for le in sabr["lesions"] if le["ptv"] == "PTV_Lung")
    # r50 from the lesion definition: D(R) = surface dose.
    r50 = lung["radius_mm"] / (lung["peak_gy"] / lung["surface_gy"] - 1.0) ** (1.0 / 3.0)
    assert hand["r50_mm"] == pytest.approx(r50, abs=1e-3)
    # Oesophagus: a vertical cylinder, radius 8 mm, axis at (-2, 8) (README); its wall is
    # nearest the lesion centre in the lesion's own plane.
    d0 = math.dist(lung["centre_mm"][:2], (-2.0, 8.0)) - 8.0
    assert hand["closest_distance_mm"] == pytest.approx(d0, abs=1e-3)
    lung_dose = lung["peak_gy"] / (1.0 + (d0 / r50) ** 3)
    assert hand["lung_lesion_dose_gy"] == pytest.approx(lung_dose, abs=1e-3)
    # Every lesion's dose at the hot point, summed:
    total = sum(
        le["peak_gy"] / (1.0 + (math.dist(le["centre_mm"], hand["hot_point_mm"]) / le["r50_mm"]) ** 3)
        for le in sabr["lesions"])
    assert hand["dmax_gy"] == pytest.approx(total, abs=2e-3)
    # The sampled organ maximum cannot exceed the hand maximum, and D0.035cc is below it.
    organ = sabr["structures"][over["roi_name"]]
    assert organ["max_gy"] <= hand["dmax_gy"] + 1e-3
    assert over["limit"]["limit_gy"] < over["expected_D0.035cc_gy"] < organ["max_gy"]
    assert over["expected_D0.035cc_gy"] > 1.08 * over["limit"]["limit_gy"]  # a clear overdose


# TG-101 5-fraction limits (shared/reference/constraints-sources.md §1): metric key in
# expected.yaml -> limit; "below" keys are critical volumes that must stay at least this big.
TG101_5FX = {
    "SpinalCord": {"D0.035cc_gy": 30.0, "D0.35cc_gy": 23.0, "D1.2cc_gy": 14.5},
    "Heart": {"D0.035cc_gy": 38.0, "D15cc_gy": 32.0},
    "Ribs": {"D0.035cc_gy": 43.0, "D1cc_gy": 35.0},
    "Stomach": {"D0.035cc_gy": 32.0, "D10cc_gy": 18.0},
    "Duodenum": {"D0.035cc_gy": 32.0, "D5cc_gy": 18.0, "D10cc_gy": 12.5},
    "Bowel_Small": {"D0.035cc_gy": 35.0, "D5cc_gy": 19.5},
}
TG101_5FX_CRITICAL = {"Lungs": ("volume_below_12.5Gy_cc", 1500.0), "Liver": ("volume_below_21Gy_cc", 700.0),
                      "Kidneys": ("volume_below_17.5Gy_cc", 200.0)}


def test_sabr_every_other_organ_has_a_comfortable_margin():
    structures = PLANS["sabr_3lesions_5fx"]["structures"]
    for organ, limits in TG101_5FX.items():
        for key, limit in limits.items():
            assert structures[organ][key] <= 0.85 * limit, (organ, key)
    for organ, (key, needed) in TG101_5FX_CRITICAL.items():
        assert structures[organ][key] >= 1.15 * needed, (organ, key)
    esophagus = structures["Esophagus"]
    assert esophagus["D0.035cc_gy"] > 35.0 and esophagus["D5cc_gy"] > 19.5


def test_spine_plan_is_a_plausible_passing_8gy_plan():
    structures = PLANS["spine_8gy_1fx"]["structures"]
    assert structures["PTV_T10"]["V8Gy_percent"] >= 99.0
    assert 7.5 < structures["Cord"]["D0.035cc_gy"] < 8.8  # in the field, under 110 % (SUPR-3D)
    assert structures["Lung_Both"]["V6Gy_percent"] < 35.0
    assert structures["Kidney Lt"]["V6Gy_percent"] < 30.0 and structures["Kidney Rt"]["V6Gy_percent"] < 30.0


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (Debian package dicom3tools) is not installed")
def test_sample_files_pass_dciodvfy():
    from test_dicom_write import dciodvfy_errors

    failures = {str(p.relative_to(SAMPLE_DICOM)): errors
                for p in sorted(SAMPLE_DICOM.rglob("*.dcm")) if (errors := dciodvfy_errors(p))}
    assert failures == {}
