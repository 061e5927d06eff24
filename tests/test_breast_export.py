"""The real dicompyler-core breast export (Eclipse): reading, and DVHs against the TPS's own.

Reference values are the planning system's cumulative DVHs stored in the RTDOSE DVHSequence
(bin width 0.01 Gy). The TPS mean and max are computed from each DVHData curve itself — the
DVHMinimumDose/DVHMaximumDose/DVHMeanDose header attributes of this export are in percent of
the 14 Gy prescription and are not used. See ../shared/testdata/dicompyler-breast/PROVENANCE.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pytest
from conftest import SHARED

from rtcheck.dicom_io import discover, read_tps_dvhs
from rtcheck.models import DVH

pytestmark = pytest.mark.skipif(SHARED is None, reason="../shared/testdata not found")

TPS_BIN_GY = 0.01


@pytest.fixture(scope="module")
def breast():
    folder = SHARED / "testdata" / "dicompyler-breast"
    before = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()
    }
    (course,) = discover(folder)
    tps = read_tps_dvhs(folder / "rtdose.dcm")
    after = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()
    }
    assert before == after
    return course, tps


@pytest.fixture(scope="module")
def breast_dvhs(breast):
    dvh = pytest.importorskip("rtcheck.dvhcalc.compute")
    course, _ = breast
    results = dvh.compute_dvhs(course.structure_set, course.dose)
    return {s.roi_number: r for s, r in zip(course.structure_set.structures, results, strict=True)}


def test_plan(breast):
    course, _ = breast
    assert course.fractions == 7
    assert course.plan.prescription_gy == pytest.approx(14.0)  # "Breast" SITE; CALC POINT ignored
    assert course.plan.label == "B1"
    assert course.plan.patient_id == "123456"
    assert course.date == dt.date(1901, 1, 1)  # anonymised placeholder date of the export
    assert course.notes == ()


def test_structures(breast):
    course, _ = breast
    ss = course.structure_set
    assert [s.roi_number for s in ss.structures] == list(range(1, 11))
    names = [s.name for s in ss.structures]
    assert names == [
        "BODY", "Areola", "Borders", "Breast", "Heart", "Lt Lung", "Nodes", "Scar", "Tumor Bed", "Tumor Bed Block",
    ]  # fmt: skip
    assert ss.by_number(2).is_empty  # Areola: declared without contours, kept
    assert [len(s.contours) for s in ss.structures] == [141, 0, 2, 48, 33, 165, 4, 6, 18, 24]
    assert ss.by_number(1).interpreted_type == "EXTERNAL"
    assert ss.by_number(5).interpreted_type == "ORGAN"
    assert ss.frame_of_reference_uid == "2.16.840.1.113662.2.12.0.3057.1241703565.36"
    assert course.ct_series_uids == ("2.16.840.1.113662.2.12.0.3057.1241703565.43",)


def test_dose_grid(breast):
    course, _ = breast
    grid = course.dose
    assert grid.shape == (98, 129, 194)
    assert grid.max_gy == pytest.approx(14.68, abs=0.005)
    # header: ImagePositionPatient (-228.6541915, -419.2444776, -122.4407), 2.5 mm, 3 mm planes
    assert grid.x_mm[0] == pytest.approx(-228.6541915) and grid.x_mm[-1] == pytest.approx(
        -228.6541915 + 193 * 2.5
    )
    assert grid.y_mm[0] == pytest.approx(-419.2444776) and grid.y_mm[-1] == pytest.approx(
        -419.2444776 + 128 * 2.5
    )
    assert grid.z_mm[0] == pytest.approx(-122.4407) and grid.z_mm[-1] == pytest.approx(
        -122.4407 + 97 * 3
    )
    # dicompyler-core's test: the stored pixel values of the first plane average 393.839...,
    # times DoseGridScaling 1.4e-5 Gy
    assert grid.dose_gy[0].mean() == pytest.approx(393.83944697514585 * 1.4e-5, rel=1e-9)


def test_tps_dvhs_are_read_in_gy_and_cc(breast):
    _, tps = breast
    assert sorted(tps) == [1, 3, 4, 5, 6, 7, 8, 9, 10]
    dose, volume = tps[5]  # Heart: dicompyler-core reads 437.4623175 cc, bins to 3.10 Gy
    assert dose[0] == 0 and volume[0] == pytest.approx(437.4623175026471)
    assert dose[-1] == pytest.approx(3.10)
    assert np.all(np.diff(dose) > 0)


def _tps_metrics(curve):
    dose, volume = curve
    volume = np.clip(volume, 0.0, None)  # the export has ±1e-12 cc round-off at the tail
    total = float(volume[0])
    # mean = ∫ V(D) dD / V(0), trapezoid over the cumulative curve, closed at one bin past the end
    mean = (
        float(np.trapezoid(np.append(volume, 0.0), np.append(dose, dose[-1] + TPS_BIN_GY))) / total
    )
    max_ = float(dose[np.nonzero(volume > 0)[0][-1]])  # highest bin still holding volume
    return total, mean, max_


# Tolerances, stated per kind of ROI (rtcheck vs Eclipse):
# * ROIs >= 10 cc: volume within 3 %, max (highest sample, see _assert_max) within 0.06 Gy (TPS bin 0.01 Gy + grid interpolation).
# * BODY: volume within 8 %. The TPS BODY DVH holds 13 944 cc while the contours enclose
#   14 880 cc (sum of the planes' polygon areas × 3 mm; 14 735 cc without end caps): the TPS
#   leaves part of the external contour out of its DVH; rtcheck reports the contour volume.
# * Small ROIs (< 2 cc, 2–6 contours): the end-capping convention dominates their volume, so
#   the TPS volume must lie within the spread of rtcheck's variants (half-slice and no end
#   caps) ± 0.2 cc; max within 0.2 Gy (small ROIs in steep gradients).
# * Mean: within 0.03 Gy + 1 % of the TPS mean; for the small ROIs (whose mean in a steep
#   gradient moves with the end-capping convention) the TPS mean must lie within the spread
#   of rtcheck's variants ± that tolerance.
def _assert_max(result, tps_max, tolerance):
    # Like for like: the TPS max is the highest of its dose samples (voxels inside the ROI),
    # so it is compared with rtcheck's highest sample. rtcheck's point max also takes the
    # ROI's surface (contour vertices and edges over their slabs), which samples inside the
    # ROI never reach: it may exceed the TPS max (Lt Lung, Scar in this export's steep
    # gradients), never fall below it beyond the tolerance.
    assert float(result.dose_gy[0]) == pytest.approx(tps_max, abs=tolerance)
    assert result.max_gy() >= float(result.dose_gy[0])


LARGE = {4: "Breast", 5: "Heart", 6: "Lt Lung", 9: "Tumor Bed", 10: "Tumor Bed Block"}
SMALL = {3: "Borders", 7: "Nodes", 8: "Scar"}


@pytest.mark.parametrize("roi", [1, *LARGE, *SMALL])
def test_dvh_matches_the_planning_system(breast, breast_dvhs, roi):
    _, tps = breast
    result = breast_dvhs[roi]
    assert isinstance(result, DVH), result
    tps_volume, tps_mean, tps_max = _tps_metrics(tps[roi])
    volume = result.total_volume_cc
    if roi in LARGE:
        assert volume == pytest.approx(tps_volume, rel=0.03)
        _assert_max(result, tps_max, 0.06)
    elif roi == 1:
        assert volume == pytest.approx(tps_volume, rel=0.08)
        _assert_max(result, tps_max, 0.06)
    else:
        spread = [volume] + [v.total_volume_cc for v in result.variants]
        assert min(spread) - 0.2 <= tps_volume <= max(spread) + 0.2
        _assert_max(result, tps_max, 0.2)
    tolerance = 0.03 + 0.01 * tps_mean
    if roi in SMALL:
        means = [result.mean_gy()] + [v.mean_gy() for v in result.variants]
        assert min(means) - tolerance <= tps_mean <= max(means) + tolerance
    else:
        assert result.mean_gy() == pytest.approx(tps_mean, abs=tolerance)


def test_empty_roi_is_reported_not_dropped(breast_dvhs):
    from rtcheck.errors import GeometryError

    assert isinstance(breast_dvhs[2], GeometryError)
    assert "Areola" in str(breast_dvhs[2])


def test_grid_max_dose_is_the_body_max(breast, breast_dvhs):
    course, _ = breast
    assert breast_dvhs[1].max_gy() <= course.dose.max_gy + 1e-9
    assert breast_dvhs[1].max_gy() == pytest.approx(course.dose.max_gy, abs=0.01)
