"""Re-irradiation: resampling, registration, recovery documentation, composite EQD2.

Expected values are computed by hand from the LQ formulas and the geometry of each test,
never taken from rtcheck's output.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from rtcheck.api.priors import load_course_file
from rtcheck.dicom_io.priors import PriorRegistrations
from rtcheck.dicom_io.registration import (
    SPATIAL_REGISTRATION_SOP_CLASS,
    find_registrations,
    read_registration,
)
from rtcheck.errors import InputError, RecoveryFactorError
from rtcheck.evaluate.reirradiation import same_organ
from rtcheck.models import Course, DoseGrid
from rtcheck.models.priors import OrganRecord, PriorCourse
from rtcheck.radiobiology.composite import (
    OrganSamples,
    composite,
    composite_organ,
    organ_samples_from_mask,
)
from rtcheck.radiobiology.recovery import document_recovery
from rtcheck.radiobiology.resample import (
    dose_at_points,
    frame_transform,
    prior_dose_at,
    resample_dose,
)

CURRENT_FRAME = "1.2.826.0.1.3680043.10.543.1"
PRIOR_FRAME = "1.2.826.0.1.3680043.10.543.2"
THIRD_FRAME = "1.2.826.0.1.3680043.10.543.3"


def linear_grid(x, y, z, coeffs=(1.0, 0.1, -0.05, 0.2), frame=CURRENT_FRAME) -> DoseGrid:
    a, bx, by, bz = coeffs
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    return DoseGrid(a + bx * xx + by * yy + bz * zz + 50.0, x_mm=x, y_mm=y, z_mm=z, frame_of_reference_uid=frame)


def linear_value(p, coeffs=(1.0, 0.1, -0.05, 0.2)):
    a, bx, by, bz = coeffs
    return a + bx * p[..., 0] + by * p[..., 1] + bz * p[..., 2] + 50.0


def uniform_course(dose_gy, fractions, frame=CURRENT_FRAME, date=None, label=None) -> Course:
    x = np.arange(-20.0, 21.0, 5.0)
    grid = DoseGrid(np.full((x.size, x.size, x.size), float(dose_gy)), x_mm=x, y_mm=x, z_mm=x,
                    frame_of_reference_uid=frame)
    return Course(dose=grid, fractions=fractions, date=date, label=label)


def organ(points, volumes=None, name="SpinalCord") -> OrganSamples:
    points = np.asarray(points, dtype=float).reshape(-1, 3)
    vol = np.full(points.shape[0], 0.01) if volumes is None else volumes
    return OrganSamples(name=name, points_mm=points, volume_cc=vol)


def documented(**overrides) -> dict:
    raw = {
        "factor": 0.25,
        "approver": "Dr A. Example (local PI)",
        "approval_date": "2026-11-18",
        "rationale": "Price 2021: 0-50 % recovery; 18 months elapsed",
    }
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not None}


# -- resampling --------------------------------------------------------------------------


def test_trilinear_resampling_of_a_linear_dose_is_exact():
    # a dose linear in x, y, z is reproduced exactly by trilinear interpolation, between
    # grids of different spacing, offset and non-uniform plane spacing
    prior = linear_grid(np.arange(-30.0, 31.0, 2.5), np.arange(-30.0, 31.0, 3.0), np.array([-30, -25, -18, -10, 0, 4, 20, 30.0]))
    target = linear_grid(np.arange(-20.3, 20.0, 1.7), np.arange(-15.1, 15.0, 2.2), np.arange(-19.0, 19.0, 3.1))
    resampled = resample_dose(prior, target)
    zz, yy, xx = np.meshgrid(target.z_mm, target.y_mm, target.x_mm, indexing="ij")
    expected = linear_value(np.stack([xx, yy, zz], axis=-1))
    np.testing.assert_allclose(resampled.grid.dose_gy, expected, rtol=0, atol=1e-9)
    assert not resampled.outside.any()


def test_points_outside_the_prior_grid_are_zero_and_flagged():
    prior = linear_grid(np.arange(0.0, 11.0, 2.0), np.arange(0.0, 11.0, 2.0), np.arange(0.0, 11.0, 2.0))
    dose, inside = dose_at_points(prior, np.array([[5.0, 5.0, 5.0], [10.0, 10.0, 10.0], [10.5, 5.0, 5.0], [5, 5, -1]]))
    assert inside.tolist() == [True, True, False, False]
    assert dose[0] == pytest.approx(linear_value(np.array([5.0, 5.0, 5.0])))
    assert dose[2] == 0.0 and dose[3] == 0.0


def test_resample_without_registration_on_another_frame_is_refused():
    prior = linear_grid(np.arange(3.0), np.arange(3.0), np.arange(3.0), frame=PRIOR_FRAME)
    target = linear_grid(np.arange(3.0), np.arange(3.0), np.arange(3.0))
    with pytest.raises(InputError, match="registration"):
        resample_dose(prior, target)


# -- registration -------------------------------------------------------------------------


def write_reg(path: Path, own_frame: str, items: dict[str, np.ndarray], *, kind="RIGID", chain=1) -> Path:
    """A minimal Spatial Registration object (PS3.3 A.39) with one matrix per frame."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SPATIAL_REGISTRATION_SOP_CLASS
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SPATIAL_REGISTRATION_SOP_CLASS
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "REG"
    ds.PatientID = "RTCHECK-TEST"
    ds.FrameOfReferenceUID = own_frame
    ds.ContentDate = "20261118"
    ds.ContentTime = "120000"
    seq = []
    for frame, matrix in items.items():
        m_item = pydicom.Dataset()
        m_item.FrameOfReferenceTransformationMatrix = [f"{v:.6f}" for v in np.asarray(matrix, float).ravel()]
        m_item.FrameOfReferenceTransformationMatrixType = kind
        mrs = pydicom.Dataset()
        mrs.MatrixSequence = [m_item] * chain
        mrs.RegistrationTypeCodeSequence = []
        item = pydicom.Dataset()
        item.FrameOfReferenceUID = frame
        item.MatrixRegistrationSequence = [mrs]
        seq.append(item)
    ds.RegistrationSequence = seq
    ds.save_as(path, enforce_file_format=True)
    return path


def translation(t) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = t
    return m


def rotation_z(deg, t=(0, 0, 0)) -> np.ndarray:
    a = np.radians(deg)
    m = np.eye(4)
    m[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    m[:3, 3] = t
    return m


def test_registration_translation_moves_the_prior_dose_by_the_offset(tmp_path):
    # The REG object lives in the current frame. Its item for the prior frame carries M with
    # p_current = M @ p_prior (PS3.3 C.20.2: source RCS -> registered RCS), here a
    # translation by t. A hot spot at p in the prior frame must appear at p + t.
    t = np.array([10.0, -5.0, 7.5])
    reg = read_registration(write_reg(tmp_path / "reg.dcm", CURRENT_FRAME, {PRIOR_FRAME: translation(t)}))
    axis = np.arange(-30.0, 31.0, 2.5)
    hot = np.zeros((axis.size,) * 3)
    ip = np.searchsorted(axis, 0.0)
    hot[ip, ip, ip] = 20.0  # 20 Gy at (0, 0, 0) of the prior frame
    prior = Course(DoseGrid(hot, axis, axis, axis, frame_of_reference_uid=PRIOR_FRAME), fractions=5)
    prior_course = PriorCourse("prior", 5, None, "test", course=prior)
    points = np.array([t, [0.0, 0.0, 0.0]])
    dose, inside = prior_dose_at(prior_course, points, CURRENT_FRAME, [reg])
    assert inside.all()
    assert dose[0] == pytest.approx(20.0)  # moved by t
    assert dose[1] == pytest.approx(0.0)  # no longer at the origin
    # a linear prior dose D(p_prior) appears as D(p_current - t)
    lin = Course(linear_grid(axis, axis, axis, frame=PRIOR_FRAME), fractions=5)
    q = np.array([[1.0, 2.0, 3.0], [-4.0, 6.5, 0.25]])
    dose, _ = prior_dose_at(PriorCourse("lin", 5, None, "test", course=lin), q, CURRENT_FRAME, [reg])
    np.testing.assert_allclose(dose, linear_value(q - t), atol=1e-9)


def test_registration_via_a_third_frame_and_rotation(tmp_path):
    # REG in a third frame R: p_R = A @ p_current and p_R = B @ p_prior, so
    # p_prior = inv(B) @ A @ p_current (PS3.3 Equation C.20.2-3)
    a_mat = rotation_z(90, (5.0, 0.0, 0.0))
    b_mat = translation((0.0, 3.0, -2.0))
    path = write_reg(tmp_path / "reg.dcm", THIRD_FRAME, {CURRENT_FRAME: a_mat, PRIOR_FRAME: b_mat})
    reg = read_registration(path)
    matrix = frame_transform([reg], CURRENT_FRAME, PRIOR_FRAME)
    p_current = np.array([1.0, 2.0, 3.0, 1.0])
    # by hand: A rotates (1,2,3) by 90° about z -> (-2, 1, 3), then +5 in x -> (3, 1, 3);
    # inv(B) subtracts (0, 3, -2) -> (3, -2, 5)
    np.testing.assert_allclose(matrix @ p_current, [3.0, -2.0, 5.0, 1.0], atol=1e-6)
    assert find_registrations(tmp_path)[0].frames == {THIRD_FRAME, CURRENT_FRAME, PRIOR_FRAME}


def test_same_frame_needs_no_registration():
    assert np.array_equal(frame_transform([], CURRENT_FRAME, CURRENT_FRAME), np.eye(4))


def test_different_frame_without_registration_is_an_input_error():
    prior = PriorCourse("old course", 5, None, "/exports/old", course=uniform_course(20, 5, frame=PRIOR_FRAME))
    with pytest.raises(InputError, match="no spatial registration") as info:
        prior_dose_at(prior, np.zeros((1, 3)), CURRENT_FRAME, [])
    assert "REG" in str(info.value)


def test_registration_not_linking_the_frames_is_an_input_error(tmp_path):
    reg = read_registration(write_reg(tmp_path / "reg.dcm", CURRENT_FRAME, {THIRD_FRAME: np.eye(4)}))
    with pytest.raises(InputError, match="no spatial registration"):
        frame_transform([reg], CURRENT_FRAME, PRIOR_FRAME)


@pytest.mark.parametrize(
    "matrix, kwargs, message",
    [
        (np.diag([2.0, 1.0, 1.0, 1.0]), {}, "not orthonormal"),
        (np.diag([-1.0, 1.0, 1.0, 1.0]), {}, "reflection"),
        (np.eye(4), {"kind": "AFFINE"}, "AFFINE"),
        (np.eye(4), {"chain": 2}, "chains 2 matrices"),
    ],
)
def test_unsupported_registrations_are_refused(tmp_path, matrix, kwargs, message):
    path = write_reg(tmp_path / "reg.dcm", CURRENT_FRAME, {PRIOR_FRAME: matrix}, **kwargs)
    with pytest.raises(InputError, match=message):
        read_registration(path)


# -- recovery documentation ----------------------------------------------------------------

PRIOR_DATE = dt.date(2025, 5, 1)
CURRENT_DATE = dt.date(2026, 11, 1)  # 549 days = 18.04 months


def test_documented_factor_computes_elapsed_time_from_dates():
    f = document_recovery(documented(), prior_date=PRIOR_DATE, current_date=CURRENT_DATE)
    assert f.factor == 0.25
    assert f.elapsed_months == pytest.approx(549 / (365.25 / 12))
    assert "course dates" in f.elapsed_source
    assert f.to_dict()["approver"] == "Dr A. Example (local PI)"


@pytest.mark.parametrize("field", ["factor", "approver", "approval_date", "rationale"])
def test_each_missing_field_is_refused(field):
    with pytest.raises(RecoveryFactorError, match=f"missing {field}") as info:
        document_recovery(documented(**{field: None}), prior_date=PRIOR_DATE, current_date=CURRENT_DATE)
    assert info.value.exit_code == 3
    assert "never applied" in str(info.value)


def test_empty_text_is_refused():
    with pytest.raises(RecoveryFactorError, match="approver"):
        document_recovery(documented(approver="  "), prior_date=PRIOR_DATE, current_date=CURRENT_DATE)


def test_missing_elapsed_time_is_refused():
    with pytest.raises(RecoveryFactorError, match="elapsed time is unknown"):
        document_recovery(documented(), prior_date=None, current_date=CURRENT_DATE)


def test_stated_elapsed_time_without_dates_is_used_with_a_warning():
    f = document_recovery(documented(elapsed_months=14), prior_date=None, current_date=CURRENT_DATE)
    assert f.elapsed_months == 14
    assert "stated" in f.elapsed_source
    assert any("could not be checked" in w for w in f.warnings)


@pytest.mark.parametrize("stated", [{"elapsed_months": 12}, {"elapsed_days": 500}])
def test_elapsed_time_mismatch_is_an_error(stated):
    with pytest.raises(RecoveryFactorError, match="does not match the course dates"):
        document_recovery(documented(**stated), prior_date=PRIOR_DATE, current_date=CURRENT_DATE)


@pytest.mark.parametrize("stated", [{"elapsed_months": 18}, {"elapsed_days": 549}, {"elapsed_months": 18.4}])
def test_elapsed_time_agreeing_with_dates_is_accepted(stated):
    f = document_recovery(documented(**stated), prior_date=PRIOR_DATE, current_date=CURRENT_DATE)
    assert f.elapsed_months == pytest.approx(18.04, abs=0.01)


@pytest.mark.parametrize("factor", [-0.1, 1.5, "a lot"])
def test_factor_outside_range_is_refused(factor):
    with pytest.raises(RecoveryFactorError, match="factor"):
        document_recovery(documented(factor=factor), prior_date=PRIOR_DATE, current_date=CURRENT_DATE)


def test_factor_warnings_for_large_or_early_recovery():
    f = document_recovery(documented(factor=0.6), prior_date=dt.date(2026, 8, 1), current_date=CURRENT_DATE)
    assert any("above the largest discount" in w for w in f.warnings)
    assert any("before 6 months" in w for w in f.warnings)


def test_prior_after_current_is_refused():
    with pytest.raises(RecoveryFactorError, match="after the current course"):
        document_recovery(documented(), prior_date=CURRENT_DATE, current_date=PRIOR_DATE)


# -- composite -------------------------------------------------------------------------------


def test_composite_of_two_courses_is_the_sum_of_their_eqd2():
    # prior 20 Gy / 5 fx, current 24 Gy / 2 fx, both uniform, α/β 2:
    # BED 60 + 168 = 228 Gy2 -> EQD2 114 Gy; with 25 % of the prior discounted:
    # 84 + 0.75 * 30 = 106.5 Gy
    current = uniform_course(24, 2, date=CURRENT_DATE, label="SBRT 2026")
    factor = document_recovery(documented(), prior_date=PRIOR_DATE, current_date=CURRENT_DATE)
    prior = PriorCourse("RT 2025", 5, PRIOR_DATE, "test", course=uniform_course(20, 5), recovery=(factor,))
    result = composite_organ(current, organ([[0, 0, 0], [5, 5, 5]]), 2.0, [prior], same=same_organ)
    assert result.without_factor.max_gy() == pytest.approx(114.0)
    assert result.without_factor.min_gy() == pytest.approx(114.0)
    assert result.with_factor.max_gy() == pytest.approx(106.5)
    assert result.factor_applied and not result.upper_bound
    kinds = [(c.kind, c.max_eqd2_gy, c.factor) for c in result.contributions]
    assert kinds == [("current", pytest.approx(84.0), 0.0), ("dicom", pytest.approx(30.0), 0.25)]
    data = result.to_dict()
    assert data["contributions"][1]["max_eqd2_after_recovery_gy"] == pytest.approx(22.5)
    assert data["contributions"][1]["recovery"]["approver"] == "Dr A. Example (local PI)"


def test_organ_with_two_alpha_beta_rows_uses_each():
    # 8 Gy x 1 now, 20 Gy / 5 before, uniform. α/β 2: 20 + 30 = 50 Gy.
    # α/β 4: 8*(1+8/4)/1.5 = 16; 20*(1+4/4)/1.5 = 26.667 -> 42.667 Gy
    current = uniform_course(8, 1)
    prior = PriorCourse("RT", 5, None, "test", course=uniform_course(20, 5))
    results = composite(current, [(organ([[0, 0, 0]]), [2.0, 4.0, 2.0])], [prior], same=same_organ)
    assert [r.alpha_beta_gy for r in results] == [2.0, 4.0]
    assert results[0].without_factor.max_gy() == pytest.approx(50.0)
    assert results[1].without_factor.max_gy() == pytest.approx(16.0 + 40.0 / 1.5)


def test_each_organ_uses_its_own_alpha_beta_in_overlap():
    # the same point belongs to two organs with α/β 2 and 10: two different composites
    current = uniform_course(8, 1)
    prior = PriorCourse("RT", 5, None, "test", course=uniform_course(20, 5))
    cord = organ([[0, 0, 0]], name="SpinalCord")
    ptv = organ([[0, 0, 0]], name="PTV")
    results = composite(current, [(cord, [2.0]), (ptv, [10.0])], [prior], same=same_organ)
    assert results[0].without_factor.max_gy() == pytest.approx(50.0)
    # α/β 10: 8*1.8/1.2 = 12; 20*1.4/1.2 = 23.333
    assert results[1].without_factor.max_gy() == pytest.approx(12.0 + 28.0 / 1.2)


def test_factor_for_another_organ_is_not_applied():
    factor = document_recovery(documented(organs=["Esophagus"]), prior_date=PRIOR_DATE, current_date=CURRENT_DATE)
    prior = PriorCourse("RT", 5, PRIOR_DATE, "test", course=uniform_course(20, 5), recovery=(factor,))
    result = composite_organ(uniform_course(8, 1), organ([[0, 0, 0]]), 2.0, [prior], same=same_organ)
    assert result.with_factor.max_gy() == pytest.approx(50.0)
    assert not result.factor_applied


def test_partial_prior_coverage_is_reported():
    # prior grid covers x in [-20, 20]; one sample at x = 30 lies outside: 0 Gy assumed, warned
    current_x = np.arange(-40.0, 41.0, 5.0)
    grid = DoseGrid(np.full((3, 3, current_x.size), 8.0), current_x, [-5.0, 0, 5.0], [-5.0, 0, 5.0],
                    frame_of_reference_uid=CURRENT_FRAME)
    current = Course(grid, fractions=1)
    prior = PriorCourse("RT", 5, None, "test", course=uniform_course(20, 5))
    result = composite_organ(current, organ([[0, 0, 0], [30, 0, 0]], volumes=np.array([0.5, 0.25])), 2.0, [prior], same=same_organ)
    assert result.contributions[1].outside_prior_grid_cc == pytest.approx(0.25)
    assert any("0.25 cc" in w and "assumed to be 0 Gy" in w for w in result.warnings)
    assert sorted(result.without_factor.dose_gy.tolist()) == pytest.approx([20.0, 50.0])


def test_paper_summary_adds_the_prior_maximum_everywhere_as_upper_bound():
    # paper record: cord max 30 Gy in 10 fx -> EQD2 at α/β 2 = 30*(1+3/2)/2 = 37.5 Gy
    # current: 8 Gy x 1 at one point (20 Gy EQD2) and 4 Gy x 1 at another (4*3/2 = 6 Gy)
    x = np.array([0.0, 10.0])
    grid = DoseGrid(np.array([[[8.0, 4.0]]]), x, [0.0], [0.0], frame_of_reference_uid=CURRENT_FRAME)
    record = OrganRecord("SpinalCord", 30.0)
    prior = PriorCourse("1998 RT", 10, dt.date(1998, 1, 1), "paper record: letter", records=(record,))
    result = composite_organ(Course(grid, 1), organ([[0, 0, 0], [10, 0, 0]]), 2.0, [prior], same=same_organ)
    assert result.upper_bound
    assert sorted(result.without_factor.dose_gy.tolist()) == pytest.approx([43.5, 57.5])
    assert result.to_dict()["upper_bound"] is True


def test_paper_summary_without_the_organ_leaves_it_not_evaluated():
    prior = PriorCourse("1998 RT", 10, None, "paper record: letter", records=(OrganRecord("Esophagus", 30.0),))
    result = composite_organ(uniform_course(8, 1), organ([[0, 0, 0]]), 2.0, [prior], same=same_organ)
    assert result.with_factor is None and result.without_factor is None
    assert "no record for SpinalCord" in result.not_evaluated


# -- course file -----------------------------------------------------------------------------


def write_course_file(tmp_path, text: str) -> Path:
    path = tmp_path / "courses.yaml"
    path.write_text(text, encoding="utf-8")
    return path


SUMMARY_FILE = """\
version: 1
current_date: 2026-11-01
prior_courses:
  - label: Lumbar RT 2025
    summary:
      source_document: discharge letter 2025-05-20, page 2
      date: 2025-05-01
      fractions: 10
      organs:
        - organ: SpinalCord
          max_dose_gy: 30
          dvh_points: [{volume_cc: 0.1, dose_gy: 29.5}]
    recovery:
      factor: 0.25
      elapsed_months: 18
      approver: Dr A. Example (local PI)
      approval_date: 2026-10-28
      rationale: Price 2021 (0 % < 6 months, 50 % > 12 months); 25 % chosen
"""


def test_course_file_with_a_paper_summary(tmp_path):
    parsed = load_course_file(write_course_file(tmp_path, SUMMARY_FILE))
    assert parsed.current_date == CURRENT_DATE
    (prior,) = parsed.priors
    assert prior.is_summary and prior.fractions == 10 and prior.date == PRIOR_DATE
    assert prior.records[0].max_dose_gy == 30.0 and prior.records[0].dvh_points == ((0.1, 29.5),)
    assert prior.recovery[0].factor == 0.25
    assert prior.source.startswith("paper record: discharge letter")


@pytest.mark.parametrize("field", ["approver", "approval_date", "rationale", "factor"])
def test_course_file_refuses_an_undocumented_factor(tmp_path, field):
    text = "\n".join(line for line in SUMMARY_FILE.splitlines() if not line.strip().startswith(f"{field}:"))
    with pytest.raises(RecoveryFactorError, match=f"missing {field}") as info:
        load_course_file(write_course_file(tmp_path, text))
    assert "line 14:" in str(info.value)  # where the recovery mapping starts


def test_course_file_elapsed_mismatch(tmp_path):
    text = SUMMARY_FILE.replace("elapsed_months: 18", "elapsed_months: 6")
    with pytest.raises(RecoveryFactorError, match="does not match"):
        load_course_file(write_course_file(tmp_path, text))


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("      fractions: 10\n", "", "missing fractions"),
        ("max_dose_gy: 30", "max_dose_gy: -3", "max_dose_gy"),
        ("    summary:", "    dicom: somewhere\n    summary:", "exactly one of dicom"),
        ("version: 1", "version: 7", "version"),
        ("  - label:", "  - lable: x\n    label:", "unknown key"),
    ],
)
def test_course_file_errors(tmp_path, old, new, message):
    with pytest.raises(InputError, match=message):
        load_course_file(write_course_file(tmp_path, SUMMARY_FILE.replace(old, new, 1)))


def test_course_file_key_written_twice_is_refused_with_its_line(tmp_path):
    # the shared YAML loader refuses it: plain YAML would keep the second value silently
    from rtcheck.errors import ConstraintTableError

    text = SUMMARY_FILE.replace("      fractions: 10\n", "      fractions: 10\n      fractions: 5\n", 1)
    with pytest.raises(ConstraintTableError, match="key 'fractions' appears twice") as info:
        load_course_file(write_course_file(tmp_path, text))
    assert info.value.line == 9


def test_course_file_reports_its_first_error_first(tmp_path):
    # entries are resolved one by one: the first entry's missing folder is reported, not the
    # second entry's malformed summary that a parse of the whole file would meet first
    text = "version: 1\nprior_courses:\n  - dicom: nowhere/\n    fractions: 5\n  - summary: 3\n"
    with pytest.raises(InputError, match="prior course folder not found"):
        load_course_file(write_course_file(tmp_path, text))


def test_course_file_missing_dicom_folder(tmp_path):
    text = "version: 1\nprior_courses:\n  - dicom: nowhere/\n    fractions: 5\n"
    with pytest.raises(InputError, match="not found"):
        load_course_file(write_course_file(tmp_path, text))


# -- sample points of the plan's DVH (rtcheck.dvhcalc masks) --------------------------------


def test_organ_samples_from_a_mask_sit_where_the_dvh_sampled_the_dose():
    from rtcheck.dvhcalc.compute import DVHSettings, compute_dvh_and_mask
    from rtcheck.radiobiology import convert_dvh
    from rtcheck.validation.phantoms import Shape, make_phantom

    # sphere of radius 12 mm in a dose linear along x (1 %/mm of 8 Gy), 2.5 mm grid
    phantom = make_phantom(Shape("sphere", (1.0, -2.0, 3.0), (12.0,)), grid_mm=2.5, gradient="x", dose_gy=8.0,
                           margin_mm=10.0)
    dvh, mask = compute_dvh_and_mask(phantom.structure, phantom.dose, DVHSettings(variants=False))
    samples = organ_samples_from_mask(mask, phantom.dose)
    assert samples.volume_cc.sum() == pytest.approx(dvh.volume_with_dose_cc, rel=1e-9)
    # the dose is linear, so re-sampling the plan's own grid at the points reproduces the
    # DVH's samples exactly: the points are where the DVH sampled
    again, inside = dose_at_points(phantom.dose, samples.points_mm)
    assert inside.all()
    np.testing.assert_allclose(again, samples.current_dose_gy, atol=1e-9)
    np.testing.assert_allclose(again, phantom.dose_model.at(samples.points_mm[:, 0]), atol=1e-9)
    # every point lies inside the contoured solid: within the contour polygons (inscribed in
    # 12 mm circles) and the z extent of the planes with half-slice end caps
    rho = np.linalg.norm(samples.points_mm[:, :2] - np.array([1.0, -2.0]), axis=1)
    assert rho.max() <= 12.0 + 1e-6
    planes = np.array([c.z_mm for c in phantom.structure.contours])
    half_slice = phantom.slice_mm / 2
    assert planes.min() - half_slice - 1e-6 <= samples.points_mm[:, 2].min()
    assert samples.points_mm[:, 2].max() <= planes.max() + half_slice + 1e-6
    # with no prior course the composite is the plan's own DVH converted to EQD2
    current = Course(phantom.dose, fractions=1)
    result = composite_organ(current, samples, 2.0, [], same=same_organ)
    expected = convert_dvh(dvh, 1, 2.0)
    # (the composite is built from the DVH's sample points only: it has the DVH's highest
    # sample, not the extremes on the organ's surface — README "Known shortfalls")
    assert result.with_factor.max_gy() == pytest.approx(float(expected.dose_gy[0]), abs=1e-9)
    assert expected.max_gy() >= float(expected.dose_gy[0])
    assert result.with_factor.near_max_gy() == pytest.approx(expected.near_max_gy(), abs=1e-3)


# -- the re-irradiation check (rtcheck.evaluate.reirradiation) on a synthetic plan ----------------------

CUMULATIVE_YAML = """\
name: test-cumulative
version: "1"
description: test table
dose_quantity: EQD2
required_organs: [SpinalCord]
sources:
  Nieder-2006: Nieder C et al. IJROBP 2006;66:1446-1449.
  Lumbar: test row at alpha/beta 4
constraints:
  - SpinalCord: D0.035cc < 135.5 Gy BED
    source: Nieder-2006
    confidence: verified
    min_interval_months: 6
  - SpinalCord: Dmean < 45 Gy
    alpha_beta: 4
    source: Lumbar
    confidence: verified
"""

PHYSICAL_YAML = """\
name: test-physical-3fx
version: "1"
description: test table
fractions: 3
sources:
  TG-101: Benedict SH et al. Med Phys 2010;37:4078.
constraints:
  - Esophagus: D1cc < 17.7 Gy
    source: TG-101
    confidence: secondary
  - Lungs: V20Gy < 10 %
    source: TG-101
    confidence: secondary
  - PTV: V100% >= 95 %
    source: TG-101
    confidence: secondary
"""


def synthetic_plan(dose_gy: float, fractions: int, date: dt.date):
    """A plan with 16 mm cubes 'Cord' and 'Esophagus' in a uniform dose, inside the prior grids."""
    from rtcheck.models import Contour, Plan, Structure, StructureSet

    def cube(number, name, cx):
        square = np.array([[cx - 8, -8], [cx + 8, -8], [cx + 8, 8], [cx - 8, 8]], dtype=float)
        return Structure(number, name, tuple(Contour(z, square) for z in np.arange(-8.0, 8.1, 2.0)), "ORGAN",
                         CURRENT_FRAME)

    ss = StructureSet("1.2.3.4", CURRENT_FRAME, (cube(1, "Cord", -10.0), cube(2, "Esophagus", 10.0)))
    axis = np.arange(-40.0, 40.1, 2.0)
    grid = DoseGrid(np.full((axis.size,) * 3, float(dose_gy)), axis, axis, axis, frame_of_reference_uid=CURRENT_FRAME)
    plan = Plan("1.2.3.5", fractions, prescription_gy=float(dose_gy), label="TEST", plan_date=date)
    return Course(grid, fractions, plan=plan, structure_set=ss, date=date)


def tables(tmp_path):
    from rtcheck.constraints import parse_table

    (tmp_path / "cum.yaml").write_text(CUMULATIVE_YAML, encoding="utf-8")
    (tmp_path / "phys.yaml").write_text(PHYSICAL_YAML, encoding="utf-8")
    return parse_table(tmp_path / "cum.yaml"), parse_table(tmp_path / "phys.yaml")


def test_convert_row_to_eqd2_by_hand(tmp_path):
    from rtcheck.evaluate.conversion import convert_row_to_eqd2

    _, physical = tables(tmp_path)
    eso, lungs, ptv = physical.constraints
    converted, _ = convert_row_to_eqd2(eso, 3)
    # 17.7 Gy in 3 fx at α/β 3: d = 5.9, EQD2 = 17.7 * (1 + 5.9/3) / (1 + 2/3) = 31.506
    assert converted.limit == pytest.approx(17.7 * (1 + 5.9 / 3) / (5 / 3))
    assert converted.limit_quantity.value == "EQD2"
    converted, text = convert_row_to_eqd2(lungs, 3)
    # V20Gy threshold in 3 fx: 20 * (1 + 6.667/3) / (5/3) = 38.67 Gy EQD2; the 10 % stays
    assert converted.metric.parameter == pytest.approx(20 * (1 + (20 / 3) / 3) / (5 / 3))
    assert converted.limit == 10
    assert convert_row_to_eqd2(ptv, 3)[0] is None


def test_check_reirradiation_two_alpha_betas_bed_rows_and_intervals(tmp_path):
    from rtcheck.constraints import shipped_names
    from rtcheck.evaluate.reirradiation import check_reirradiation

    cumulative, physical = tables(tmp_path)
    current = synthetic_plan(24.0, 3, CURRENT_DATE)  # 24 Gy / 3 fx everywhere
    prior = PriorCourse("RT 2025", 10, PRIOR_DATE, "test", course=uniform_course(30, 10))  # 30 Gy / 10 fx
    result = check_reirradiation(current, [prior], names=shipped_names(), cumulative=cumulative,
                                 current_table=physical)
    by_row = {(r.constraint.organ, str(r.constraint.metric)): r for r in result.rows}
    # α/β 2: 24/3 -> 24 * (1 + 8/2) / 2 = 60; 30/10 -> 30 * (1 + 3/2) / 2 = 37.5; sum 97.5 Gy EQD2
    cord = by_row[("SpinalCord", "D0.035cc")]
    assert cord.alpha_beta_gy == 2
    assert cord.limit_eqd2_gy == pytest.approx(67.75)  # 135.5 Gy BED at α/β 2
    assert cord.without_factor.value == pytest.approx(97.5)
    assert cord.without_factor.level.value == "FAIL"
    # the Dmean row has its own α/β 4: 24 * (1 + 8/4) / 1.5 = 48; 30 * (1 + 3/4) / 1.5 = 35
    mean = by_row[("SpinalCord", "Dmean")]
    assert mean.alpha_beta_gy == 4
    assert mean.without_factor.value == pytest.approx(83.0)
    # Esophagus has no cumulative row: the plan table's 3-fx limit converted to EQD2 (α/β 3)
    eso = by_row[("Esophagus", "D1cc")]
    assert eso.origin == "converted"
    assert eso.without_factor.value == pytest.approx(24 * (1 + 8 / 3) / (5 / 3) + 30 * (1 + 3 / 3) / (5 / 3))
    # Lungs and PTV are not in the plan: not converted / not listed
    assert ("Lungs", "V38.67Gy(EQD2)") not in by_row
    (interval,) = result.intervals
    assert interval.level.value == "PASS" and interval.min_months == 6
    assert result.overall.value == "FAIL" and not result.verdict_depends_on_factor
    assert result.to_dict()["results"][0]["limit_eqd2_gy"] == pytest.approx(67.75)


def test_check_reirradiation_short_interval_fails_the_condition(tmp_path):
    from rtcheck.constraints import shipped_names
    from rtcheck.evaluate.reirradiation import check_reirradiation

    cumulative, _ = tables(tmp_path)
    current = synthetic_plan(8.0, 1, CURRENT_DATE)
    recent = PriorCourse("RT 3 months ago", 5, dt.date(2026, 8, 1), "test", course=uniform_course(20, 5))
    result = check_reirradiation(current, [recent], names=shipped_names(), cumulative=cumulative)
    cord = [r for r in result.rows if str(r.constraint.metric) == "D0.035cc"][0]
    assert cord.without_factor.level.value == "PASS"  # 20 + 30 = 50 < 67.75 Gy EQD2
    (interval,) = result.intervals
    assert interval.level.value == "FAIL"
    assert interval.elapsed_months == pytest.approx(92 / (365.25 / 12))
    assert result.overall.value == "FAIL"


def test_check_reirradiation_factor_can_flip_the_verdict(tmp_path):
    from rtcheck.constraints import shipped_names
    from rtcheck.evaluate.reirradiation import check_reirradiation
    from rtcheck.report.reirradiation import render_csv, render_text

    cumulative, _ = tables(tmp_path)
    current = synthetic_plan(8.0, 1, CURRENT_DATE)  # cord EQD2 20 Gy
    factor = document_recovery(documented(factor=0.5, organs=["SpinalCord"]), prior_date=PRIOR_DATE,
                                  current_date=CURRENT_DATE)
    # prior 40 Gy / 10 fx: EQD2 (α/β 2) 40 * (1 + 4/2) / 2 = 60 Gy; 20 + 60 = 80 > 67.75; 20 + 30 = 50 passes.
    # Dmean row (α/β 4): 8 * (1 + 8/4) / 1.5 = 16 now, 40 * (1 + 4/4) / 1.5 = 53.33 before:
    # 16 + 53.33 = 69.33 > 45 without the factor, 16 + 26.67 = 42.67 < 45 with it
    prior = PriorCourse("RT 2025", 10, PRIOR_DATE, "test", course=uniform_course(40, 10), recovery=(factor,))
    result = check_reirradiation(current, [prior], names=shipped_names(), cumulative=cumulative)
    cord = [r for r in result.rows if str(r.constraint.metric) == "D0.035cc"][0]
    assert cord.with_factor.value == pytest.approx(50.0)
    assert cord.without_factor.value == pytest.approx(80.0)
    assert cord.depends_on_factor
    mean = [r for r in result.rows if str(r.constraint.metric) == "Dmean"][0]
    assert mean.with_factor.value == pytest.approx(16 + 0.5 * 160 / 3)
    assert result.overall_with_factor.value == "PASS"
    assert result.overall_without_factor.value == "FAIL"
    assert result.verdict_depends_on_factor
    text = render_text(result)
    assert "The verdict DEPENDS on the recovery factor(s)." in text
    assert "approved by Dr A. Example (local PI) on 2026-11-18" in text
    assert "depends_on_factor" in render_csv(result).splitlines()[0]


def test_unusable_registration_in_the_prior_folder_is_named_in_the_refusal(tmp_path):
    write_reg(tmp_path / "reg.dcm", CURRENT_FRAME, {PRIOR_FRAME: np.eye(4)}, kind="AFFINE")
    (tmp_path / "notes.txt").write_text("not DICOM", encoding="utf-8")
    prior = PriorCourse("old", 5, None, str(tmp_path), course=uniform_course(20, 5, frame=PRIOR_FRAME),
                        registrations=PriorRegistrations(None, tmp_path))
    with pytest.raises(InputError, match="not usable: .*AFFINE is not supported"):
        prior_dose_at(prior, np.zeros((1, 3)), CURRENT_FRAME, [])


def test_interval_between_two_prior_courses_is_checked(tmp_path):
    from rtcheck.constraints import shipped_names
    from rtcheck.evaluate.reirradiation import check_reirradiation

    cumulative, _ = tables(tmp_path)
    current = synthetic_plan(8.0, 1, CURRENT_DATE)
    first = PriorCourse("2024", 5, dt.date(2024, 1, 10), "test", course=uniform_course(4, 5))
    second = PriorCourse("2024b", 5, dt.date(2024, 4, 10), "test", course=uniform_course(4, 5))  # 3 months later
    result = check_reirradiation(current, [second, first], names=shipped_names(), cumulative=cumulative)
    pairs = {(i.course, i.next_course): i for i in result.intervals}
    assert set(pairs) == {("2024", "2024b"), ("2024b", "current plan")}
    assert pairs[("2024", "2024b")].level.value == "FAIL"
    assert pairs[("2024", "2024b")].elapsed_months == pytest.approx(91 / (365.25 / 12))
    assert pairs[("2024b", "current plan")].level.value == "PASS"
    assert result.overall.value == "FAIL"


def test_interval_comes_from_the_row_field_never_from_its_note(tmp_path):
    from rtcheck.constraints import parse_table, shipped_names
    from rtcheck.evaluate.reirradiation import check_reirradiation

    # the same cord limit twice: as a note only (free text, not a condition), then as a field
    note_only = CUMULATIVE_YAML.replace("    min_interval_months: 6\n", '    note: "valid with >= 6 months between courses"\n')
    assert "min_interval_months" not in note_only
    (tmp_path / "note.yaml").write_text(note_only, encoding="utf-8")
    current = synthetic_plan(8.0, 1, CURRENT_DATE)
    recent = PriorCourse("RT 3 months ago", 5, dt.date(2026, 8, 1), "test", course=uniform_course(20, 5))
    result = check_reirradiation(current, [recent], names=shipped_names(), cumulative=parse_table(tmp_path / "note.yaml"))
    assert result.intervals == ()
    # a per-course row's interval is checked too (not silently ignored)
    cumulative, _ = tables(tmp_path)
    per_course = CUMULATIVE_YAML.replace("name: test-cumulative", "name: test-per-course").replace(
        "    min_interval_months: 6\n", "    min_interval_months: 4\n"
    )
    (tmp_path / "per-course.yaml").write_text(per_course, encoding="utf-8")
    result = check_reirradiation(current, [recent], names=shipped_names(), cumulative=cumulative,
                                 per_course=parse_table(tmp_path / "per-course.yaml"))
    assert sorted((i.min_months, i.level.value) for i in result.intervals) == [(4, "FAIL"), (6, "FAIL")]
    assert "SpinalCord: D0.035cc < 135.5 Gy BED" in result.intervals[0].reason
