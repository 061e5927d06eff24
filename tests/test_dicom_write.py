"""rtcheck.dicom_io.write: models → DICOM files → rtcheck's readers, and dciodvfy validity.

Expected values are the models written (round trip) — the writer and the readers are
separate code, so a sign, axis or unit slip in either shows up here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from rtcheck.dicom_io import read_dose, read_plan, read_structure_set
from rtcheck.dicom_io.registration import read_registration
from rtcheck.dicom_io.write import (
    Beam,
    DicomContext,
    DoseReference,
    RigidRegistration,
    derived_uid,
    write_dose,
    write_plan,
    write_registration,
    write_structure_set,
)
from rtcheck.models import Contour, ContourType, DoseGrid, Plan, Structure, StructureSet

DCIODVFY = shutil.which("dciodvfy")

CONTEXT = DicomContext(
    patient_name="RTCHECK^TEST",
    patient_id="RTC-TEST-1",
    study_instance_uid=derived_uid("test", "study"),
    frame_of_reference_uid=derived_uid("test", "frame"),
    content_date=dt.date(2026, 3, 4),
)


def _circle(radius_mm: float, n: int = 24, centre=(0.0, 0.0)) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.column_stack([centre[0] + radius_mm * np.cos(t), centre[1] + radius_mm * np.sin(t)])


def _structure_set() -> StructureSet:
    frame = CONTEXT.frame_of_reference_uid
    ring = tuple(c for z in (0.0, 3.0) for c in (Contour(z, _circle(20.0)), Contour(z, _circle(10.0))))
    return StructureSet(
        derived_uid("test", "rtstruct"),
        frame,
        (
            Structure(1, "BODY", tuple(Contour(z, _circle(60.0, 48)) for z in (-3.0, 0.0, 3.0, 6.0)),
                      "EXTERNAL", frame),
            Structure(2, "PTV", (Contour(0.0, _circle(8.0, 12, (5.0, -7.5))),), "PTV", frame),
            Structure(3, "Ring with hole", ring, "ORGAN", frame),
            Structure(4, "Marker", (Contour(1.5, np.array([[1.0, 2.0]]), ContourType.POINT),), "MARKER", frame),
            Structure(7, "Empty ROI", (), "ORGAN", frame),
        ),
        label="TEST",
    )


def _dose_grid(plan_uid: str, nonuniform_z: bool = False) -> DoseGrid:
    x = -30.0 + 2.5 * np.arange(25)
    y = -20.0 + 2.0 * np.arange(21)
    z = np.array([-6.0, -3.0, 0.0, 3.0, 9.0]) if nonuniform_z else -6.0 + 3.0 * np.arange(6)
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    # A dose that distinguishes all three axes and their directions.
    dose = 10.0 + 0.1 * xx + 0.05 * yy - 0.2 * zz
    return DoseGrid(dose, x, y, z, frame_of_reference_uid=CONTEXT.frame_of_reference_uid,
                    referenced_plan_uid=plan_uid)


def _plan(ss_uid: str) -> Plan:
    return Plan(derived_uid("test", "rtplan"), fractions=5, prescription_gy=35.0, label="TEST 35/5",
                name="test plan", patient_id=CONTEXT.patient_id, plan_date=dt.date(2026, 3, 4),
                referenced_structure_set_uid=ss_uid)


BEAMS = [Beam("AP", 0.0, 100.0, (0.0, 0.0, 0.0), dose_gy=3.5), Beam("PA", 180.0, 110.0, (0.0, 0.0, 0.0), dose_gy=3.5)]


@pytest.fixture
def written(tmp_path: Path) -> dict[str, Path]:
    ss = _structure_set()
    plan = _plan(ss.sop_instance_uid)
    files = {
        "rtstruct": write_structure_set(ss, tmp_path / "RS.dcm", context=CONTEXT),
        "rtplan": write_plan(plan, tmp_path / "RP.dcm", context=CONTEXT, beams=BEAMS,
                             dose_references=[DoseReference(2, 35.0, "PTV")]),
        "rtdose": write_dose(_dose_grid(plan.sop_instance_uid), tmp_path / "RD.dcm", context=CONTEXT),
        "rtdose_beam": write_dose(_dose_grid(plan.sop_instance_uid), tmp_path / "RD_beam1.dcm",
                                  context=CONTEXT, summation_type="BEAM", referenced_beam_number=1),
        "reg": write_registration(
            RigidRegistration(CONTEXT.frame_of_reference_uid, derived_uid("test", "other frame"),
                              _translation(10.0, -5.0, 30.0)),
            tmp_path / "REG.dcm", context=CONTEXT),
    }
    return files


def _translation(dx: float, dy: float, dz: float) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = [dx, dy, dz]
    return m


def test_structure_set_round_trip(written):
    original = _structure_set()
    back = read_structure_set(written["rtstruct"])
    assert back.sop_instance_uid == original.sop_instance_uid
    assert back.frame_of_reference_uid == CONTEXT.frame_of_reference_uid
    assert [s.name for s in back.structures] == [s.name for s in original.structures]
    assert [s.roi_number for s in back.structures] == [1, 2, 3, 4, 7]
    assert [s.interpreted_type for s in back.structures] == ["EXTERNAL", "PTV", "ORGAN", "MARKER", "ORGAN"]
    for a, b in zip(original.structures, back.structures, strict=True):
        assert len(a.contours) == len(b.contours), a.name
        for ca, cb in zip(a.contours, b.contours, strict=True):
            assert cb.z_mm == pytest.approx(ca.z_mm)
            assert cb.geometric_type is ca.geometric_type
            np.testing.assert_allclose(cb.points_mm, ca.points_mm, atol=5e-4)  # written to 0.001 mm
    assert back.by_number(7).is_empty
    assert not back.by_number(4).is_volumetric


@pytest.mark.parametrize("bits", [16, 32])
@pytest.mark.parametrize("nonuniform_z", [False, True])
def test_dose_round_trip(tmp_path, bits, nonuniform_z):
    grid = _dose_grid(derived_uid("test", "rtplan"), nonuniform_z)
    path = write_dose(grid, tmp_path / "RD.dcm", context=CONTEXT, bits=bits)
    back = read_dose(path)
    np.testing.assert_allclose(back.x_mm, grid.x_mm, atol=1e-6)
    np.testing.assert_allclose(back.y_mm, grid.y_mm, atol=1e-6)
    np.testing.assert_allclose(back.z_mm, grid.z_mm, atol=1e-6)
    # quantisation: half a scaling step (max dose / (2**bits - 1)) plus rounding of the DS
    step = grid.max_gy / (2**bits - 1)
    np.testing.assert_allclose(back.dose_gy, grid.dose_gy, rtol=1e-9, atol=step)
    assert back.referenced_plan_uid == grid.referenced_plan_uid
    assert back.frame_of_reference_uid == CONTEXT.frame_of_reference_uid
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.DoseUnits == "GY" and ds.DoseSummationType == "PLAN" and ds.BitsAllocated == bits


def test_beam_dose_references_its_beam(written):
    ds = pydicom.dcmread(written["rtdose_beam"])
    assert ds.DoseSummationType == "BEAM"
    group = ds.ReferencedRTPlanSequence[0].ReferencedFractionGroupSequence[0]
    assert group.ReferencedBeamSequence[0].ReferencedBeamNumber == 1


def test_plan_round_trip(written):
    plan = read_plan(written["rtplan"])
    assert plan.fractions == 5
    assert plan.prescription_gy == pytest.approx(35.0)
    assert plan.plan_date == dt.date(2026, 3, 4)
    assert plan.label == "TEST 35/5"
    assert plan.referenced_structure_set_uid == _structure_set().sop_instance_uid
    ds = pydicom.dcmread(written["rtplan"])
    assert ds.FractionGroupSequence[0].NumberOfBeams == 2
    assert [b.BeamName for b in ds.BeamSequence] == ["AP", "PA"]
    assert ds.DoseReferenceSequence[0].ReferencedROINumber == 2


def test_registration_round_trip(written):
    reg = read_registration(written["reg"])
    assert reg.frame_of_reference_uid == CONTEXT.frame_of_reference_uid
    np.testing.assert_allclose(reg.matrices[derived_uid("test", "other frame")], _translation(10.0, -5.0, 30.0))
    np.testing.assert_allclose(reg.matrices[CONTEXT.frame_of_reference_uid], np.eye(4))


def test_writing_is_deterministic(tmp_path, written):
    again = tmp_path / "again"
    ss = _structure_set()
    write_structure_set(ss, again / "RS.dcm", context=CONTEXT)
    write_dose(_dose_grid(_plan(ss.sop_instance_uid).sop_instance_uid), again / "RD.dcm", context=CONTEXT)
    for name in ("RS.dcm", "RD.dcm"):
        assert _sha256(again / name) == _sha256(written["rtstruct" if name == "RS.dcm" else "rtdose"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_writer_identity_defaults_to_the_version_and_can_be_fixed(tmp_path, written):
    import dataclasses

    from rtcheck import __version__

    ds = pydicom.dcmread(written["rtplan"])
    assert ds.SoftwareVersions == f"rtcheck {__version__}"
    fixed = dataclasses.replace(CONTEXT, software_versions="site tool v3", implementation_version_name="SITE_TOOL_3")
    ss = _structure_set()
    for path in (
        write_structure_set(ss, tmp_path / "fixed" / "RS.dcm", context=fixed),
        write_dose(_dose_grid("1.2.3"), tmp_path / "fixed" / "RD.dcm", context=fixed),
        write_plan(_plan(ss.sop_instance_uid), tmp_path / "fixed" / "RP.dcm", context=fixed, beams=BEAMS),
    ):
        ds = pydicom.dcmread(path)
        assert ds.SoftwareVersions == "site tool v3"
        assert ds.file_meta.ImplementationVersionName == "SITE_TOOL_3"
        assert __version__ not in path.read_bytes().decode("latin-1")
    with pytest.raises(ValueError, match="16"):
        dataclasses.replace(CONTEXT, implementation_version_name="A_NAME_LONGER_THAN_16")


def test_derived_uid_is_stable_and_valid():
    uid = derived_uid("a", 1)
    assert uid == derived_uid("a", 1) != derived_uid("a", 2)
    assert len(uid) <= 64 and pydicom.uid.UID(uid).is_valid


def test_writer_refuses_what_dicom_cannot_hold(tmp_path):
    plan_uid = derived_uid("test", "rtplan")
    grid = _dose_grid(plan_uid)
    with pytest.raises(ValueError, match="referenced_beam_number"):
        write_dose(grid, tmp_path / "a.dcm", context=CONTEXT, summation_type="BEAM")
    no_plan = DoseGrid(grid.dose_gy, grid.x_mm, grid.y_mm, grid.z_mm)
    with pytest.raises(ValueError, match="RTPLAN"):
        write_dose(no_plan, tmp_path / "b.dcm", context=CONTEXT)
    uneven = DoseGrid(grid.dose_gy[:, :, :3], np.array([0.0, 1.0, 3.0]), grid.y_mm, grid.z_mm,
                      referenced_plan_uid=plan_uid)
    with pytest.raises(ValueError, match="uniform"):
        write_dose(uneven, tmp_path / "c.dcm", context=CONTEXT)
    with pytest.raises(ValueError, match="rotation"):
        RigidRegistration("1.2.3", "1.2.4", np.diag([2.0, 1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="structure_set"):
        write_plan(Plan("1.2.3", 1, 8.0), tmp_path / "d.dcm", context=CONTEXT, beams=BEAMS)


def dciodvfy_errors(path: Path) -> list[str]:
    """Lines of dciodvfy's report that are errors (warnings are listed in the README)."""
    result = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.startswith(("Error", "Abort")) or "Assertion" in line]


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (Debian package dicom3tools) is not installed")
@pytest.mark.parametrize("kind", ["rtstruct", "rtplan", "rtdose", "rtdose_beam", "reg"])
def test_dciodvfy_finds_no_errors(written, kind):
    # 16-bit doses only: dciodvfy 3.x aborts on any 32-bit OW pixel data (an assertion in
    # dicom3tools, not a DICOM rule); 32-bit doses are checked by the round trip above.
    assert dciodvfy_errors(written[kind]) == []
