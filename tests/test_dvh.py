"""rtcheck.dvhcalc against closed-form truth (rtcheck.validation.phantoms) and hand-computed cases.

Stated tolerances (issue 5), for structures >= 0.5 cc, with the default settings:

* volume: the contour volume equals the truth of the contoured solid (polygon areas × slab
  thickness) to 1e-6; the ideal solid differs by the contouring itself, not checked here;
* Dmin, Dmax, Dmean, D98%, D50%, D2%: within 1 % of the phantom's maximum dose;
* the cumulative DVH: at every dose D, the computed V(D) lies between the true V(D + δ) and
  V(D − δ) with δ = 1 % of the maximum dose (a horizontal band around the true curve).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcheck.dvhcalc.compute import (
    DEFAULT,
    DVHSettings,
    compute_dvh,
    compute_dvh_and_mask,
    compute_dvhs,
    typical_slice_thickness_mm,
)
from rtcheck.errors import GeometryError
from rtcheck.models import DVH, Contour, ContourType, DoseGrid, Structure, StructureSet
from rtcheck.validation.phantoms import make_phantom, shape_for_volume

DOSE_TOL = 0.01  # × maximum dose


def assert_matches_truth(
    dvh: DVH, phantom, end_cap: str = "half_slice", dose_tol: float = DOSE_TOL
) -> None:
    t = phantom.truth(end_cap)
    tol = dose_tol * phantom.dose.max_gy
    assert dvh.total_volume_cc == pytest.approx(t.volume_cc, rel=1e-6)
    assert dvh.volume_with_dose_cc == pytest.approx(t.volume_cc, rel=1e-6)
    assert dvh.min_gy() == pytest.approx(t.min_gy, abs=tol)
    assert dvh.max_gy() == pytest.approx(t.max_gy, abs=tol)
    assert dvh.mean_gy() == pytest.approx(t.mean_gy, abs=tol)
    for pct in (98, 50, 2):
        assert dvh.dose_at_volume(percent=pct) == pytest.approx(
            t.dose_at_volume_cc(pct / 100 * t.volume_cc), abs=tol
        )
    if t.max_gy > t.min_gy:
        for d in np.linspace(t.min_gy, t.max_gy, 25):
            v = dvh.volume_at_dose(d)
            assert t.cumulative_cc(d + tol)[0] - 1e-9 <= v <= t.cumulative_cc(d - tol)[0] + 1e-9


CASES = [
    (kind, grad, grid)
    for kind in ("sphere", "cylinder_z", "cylinder_x", "box")
    for grad in ("none", "x", "y", "z")
    for grid in (1.0, 2.0, 3.0)
]


@pytest.mark.parametrize("kind, grad, grid", CASES)
def test_phantoms_within_stated_tolerances(kind, grad, grid):
    volume = 2.0 if grid == 1.0 else 20.0  # 1 mm grids: a small organ, 2–3 mm: a larger one
    slice_mm = {1.0: 1.0, 2.0: 3.0, 3.0: 2.0}[grid]
    centre = (0.37, -0.61, 0.23)
    p = make_phantom(
        shape_for_volume(kind, volume, centre), slice_mm=slice_mm, grid_mm=grid, gradient=grad
    )
    dvh = compute_dvh(p.structure, p.dose, DVHSettings(variants=False))
    assert_matches_truth(dvh, p)


@pytest.mark.parametrize(
    "offset", [0.0, 1.5, 1.0, 0.4]
)  # on dose planes, on their boundaries, between
def test_contour_planes_anywhere_relative_to_dose_planes(offset):
    p = make_phantom(
        shape_for_volume("sphere", 5.0),
        slice_mm=2.0,
        grid_mm=3.0,
        gradient="z",
        plane_offset_mm=offset,
    )
    assert_matches_truth(compute_dvh(p.structure, p.dose, DVHSettings(variants=False)), p)


def test_thin_slices_on_a_coarse_grid_are_neither_lost_nor_doubled():
    p = make_phantom(
        shape_for_volume("cylinder_z", 1.0),
        slice_mm=1.0,
        grid_mm=3.0,
        gradient="z",
        plane_offset_mm=0.5,
    )
    assert_matches_truth(compute_dvh(p.structure, p.dose, DVHSettings(variants=False)), p)


def test_no_end_caps_convention():
    p = make_phantom(shape_for_volume("cylinder_z", 10.0), slice_mm=3.0, grid_mm=2.0, gradient="z")
    dvh = compute_dvh(p.structure, p.dose, DVHSettings(end_cap="none", variants=False))
    assert_matches_truth(dvh, p, end_cap="none")
    assert p.truth("none").volume_cc < p.truth("half_slice").volume_cc


def test_interpolation_off_is_looser_but_sound():
    p = make_phantom(shape_for_volume("sphere", 20.0), slice_mm=2.0, grid_mm=3.0, gradient="x")
    dvh = compute_dvh(p.structure, p.dose, DVHSettings(interpolate_dose=False, variants=False))
    assert_matches_truth(dvh, p, dose_tol=0.02)


def test_cone_tip_is_not_lost():
    # the apex contour is far smaller than a sub-sample cell; Dmax in a z gradient is there
    p = make_phantom(shape_for_volume("cone", 100.0), slice_mm=2.0, grid_mm=1.0, gradient="z")
    assert_matches_truth(compute_dvh(p.structure, p.dose, DVHSettings(variants=False)), p)


# -- holes and islands (hand-computed truth) ----------------------------------------------
def _grid_with_x_gradient(g_per_mm=0.5, base=50.0) -> DoseGrid:
    x = np.arange(-40.0, 40.1, 2.0)
    y = np.arange(-30.0, 30.1, 2.0)
    z = np.arange(-15.0, 15.1, 2.0)
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    return DoseGrid(base + g_per_mm * xx, x, y, z)


def _rect(x0, x1, y0, y1, ccw=True):
    pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    return pts if ccw else pts[::-1]


def test_hole_subtracts_volume_and_moves_the_mean():
    zs = np.arange(-8.0, 8.1, 2.0)  # 9 planes: 18 mm half-slice stack
    outer, hole = _rect(-20, 20, -10, 10), _rect(0.5, 10.5, -5, 5, ccw=False)
    s = Structure(1, "Ring", tuple(Contour(z, p) for z in zs for p in (outer, hole)))
    dvh = compute_dvh(s, _grid_with_x_gradient(), DVHSettings(variants=False))
    v_out, v_hole = 40 * 20 * 18, 10 * 10 * 18
    assert dvh.total_volume_cc == pytest.approx((v_out - v_hole) / 1000)
    mean_x = (v_out * 0.0 - v_hole * 5.5) / (v_out - v_hole)
    assert dvh.mean_gy() == pytest.approx(50 + 0.5 * mean_x, abs=0.05)
    # the hole would receive 50.25–55.25 Gy: V(50.25 Gy) = outer beyond x = 0.5 minus the hole
    expected = (19.5 * 20 * 18 - v_hole) / 1000
    assert dvh.volume_at_dose(50.25) == pytest.approx(expected, rel=0.03)


def test_islands_add():
    zs = np.arange(-4.0, 4.1, 2.0)  # 10 mm stack
    a, b = _rect(-30.3, -20.3, -5, 5), _rect(10.4, 30.4, -5, 5)  # edges off the sample lattice
    s = Structure(1, "Two", tuple(Contour(z, p) for z in zs for p in (a, b)))
    dvh = compute_dvh(s, _grid_with_x_gradient(), DVHSettings(variants=False))
    va, vb = 10 * 10 * 10, 20 * 10 * 10
    assert dvh.total_volume_cc == pytest.approx((va + vb) / 1000)
    assert dvh.mean_gy() == pytest.approx(50 + 0.5 * (va * -25.3 + vb * 20.4) / (va + vb), abs=0.05)
    assert dvh.min_gy() == pytest.approx(50 - 15.15, abs=0.3) and dvh.max_gy() == pytest.approx(
        50 + 15.2, abs=0.3
    )


def test_structure_partly_outside_the_grid():
    s = Structure(
        1, "Edge", tuple(Contour(z, _rect(30, 50, -5, 5)) for z in np.arange(-4.0, 4.1, 2.0))
    )
    dvh = compute_dvh(s, _grid_with_x_gradient(), DVHSettings(variants=False))
    # grid voxels end at x = 41 mm: 11 of the 20 mm are inside
    assert dvh.total_volume_cc == pytest.approx(20 * 10 * 10 / 1000)
    assert dvh.outside_grid_cc == pytest.approx(9 * 10 * 10 / 1000)
    assert dvh.coverage == pytest.approx(11 / 20)
    assert dvh.max_gy() == pytest.approx(50 + 0.5 * 40)  # clamped at the outermost voxel centre


# -- metrics that must stay undefined -------------------------------------------------------
def test_d2cc_of_a_1cc_organ_is_none():
    p = make_phantom(shape_for_volume("sphere", 1.0), slice_mm=1.0, grid_mm=2.0, gradient="x")
    dvh = compute_dvh(p.structure, p.dose)
    assert dvh.dose_at_volume(cc=2.0) is None
    assert dvh.near_max_gy() is not None
    assert dvh.dose_at_volume(percent=100) is not None  # the whole volume has a dose


# -- uncertainty variants -------------------------------------------------------------------
def test_variants_are_the_other_end_cap_and_a_coarser_sampling():
    p = make_phantom(shape_for_volume("sphere", 5.0), slice_mm=3.0, grid_mm=3.0, gradient="z")
    dvh = compute_dvh(p.structure, p.dose)
    assert DEFAULT.variants and len(dvh.variants) == 2
    assert (
        "end_cap=none" in dvh.variants[0].settings and "supersampling=2" in dvh.variants[1].settings
    )
    # the end-cap variant spliced from re-sampled end layers equals a full computation
    full = compute_dvh(p.structure, p.dose, DVHSettings(end_cap="none", variants=False))
    assert dvh.variants[0].total_volume_cc == pytest.approx(full.total_volume_cc)
    assert dvh.variants[0].mean_gy() == pytest.approx(full.mean_gy(), abs=1e-9)
    assert dvh.variants[0].max_gy() == pytest.approx(full.max_gy(), abs=1e-9)
    assert_matches_truth(dvh.variants[0], p, end_cap="none")
    u = dvh.uncertainty(lambda d: d.mean_gy())
    assert u is not None and u > 0
    assert dvh.uncertainty(lambda d: d.total_volume_cc) == pytest.approx(
        p.truth("half_slice").volume_cc - p.truth("none").volume_cc
    )


def test_settings_validate_and_describe_themselves():
    with pytest.raises(ValueError):
        DVHSettings(end_cap="full")
    with pytest.raises(ValueError):
        DVHSettings(supersampling=9)
    assert DEFAULT.describe() == "end_cap=half_slice supersampling=3 interpolation=on"
    assert [a.end_cap for a in DVHSettings(end_cap="none").alternatives()] == ["half_slice", "none"]


# -- whole structure sets --------------------------------------------------------------------
def test_compute_dvhs_keeps_order_and_reports_unusable_rois():
    p = make_phantom(shape_for_volume("box", 3.0), slice_mm=2.0, grid_mm=2.0)
    good = p.structure
    point = Structure(7, "Marker", (Contour(0.0, np.array([[0.0, 0.0]]), ContourType.POINT),))
    empty = Structure(8, "Empty")
    single = Structure(9, "Single", (Contour(0.0, _rect(-2, 2, -2, 2)),))
    ss = StructureSet("1.2.3", None, (point, good, empty, single))
    out = compute_dvhs(ss, p.dose, DVHSettings(variants=False))
    assert isinstance(out[0], GeometryError) and "not volumetric" in str(out[0])
    assert isinstance(out[1], DVH) and out[1].roi_number == 1
    assert isinstance(out[2], GeometryError) and "no contours" in str(out[2])
    # a single-plane ROI is a slab of the set's typical spacing (2 mm here)
    assert typical_slice_thickness_mm(ss) == pytest.approx(2.0)
    assert out[3].total_volume_cc == pytest.approx(4 * 4 * 2 / 1000)


def test_compute_dvh_raises_for_empty_roi():
    p = make_phantom(shape_for_volume("box", 3.0))
    with pytest.raises(GeometryError, match="no contours"):
        compute_dvh(Structure(3, "Nothing"), p.dose)


def test_mask_is_returned_for_reuse():
    p = make_phantom(shape_for_volume("sphere", 10.0), grid_mm=2.0, gradient="y")
    dvh, mask = compute_dvh_and_mask(p.structure, p.dose, DVHSettings(variants=False))
    assert mask.rasterised_volume_cc == pytest.approx(dvh.total_volume_cc, rel=0.02)
    assert mask.structure_volume_cc == pytest.approx(dvh.total_volume_cc)


def test_coarse_variant_is_the_corner_sub_lattice_and_sound():
    p = make_phantom(shape_for_volume("sphere", 10.0), slice_mm=2.0, grid_mm=3.0, gradient="x")
    dvh = compute_dvh(p.structure, p.dose)
    coarse = dvh.variants[1]
    assert coarse.settings == "end_cap=half_slice supersampling=2 interpolation=on"
    assert coarse.total_volume_cc == pytest.approx(dvh.total_volume_cc)
    assert_matches_truth(coarse, p, dose_tol=0.015)
    assert coarse.max_gy() <= dvh.max_gy() + 1e-9  # a subset of the same sub-samples


def test_two_lesions_in_one_roi_are_not_bridged():
    zs = list(np.arange(-10.0, -5.9, 2.0)) + list(np.arange(6.0, 10.1, 2.0))  # 3 + 3 planes
    s = Structure(1, "GTVs", tuple(Contour(z, _rect(-5, 5, -5, 5)) for z in zs))
    dvh = compute_dvh(s, _grid_with_x_gradient(), DVHSettings(variants=False))
    assert dvh.total_volume_cc == pytest.approx(2 * 10 * 10 * 6 / 1000)


def test_non_uniform_dose_planes_interpolate_exactly():
    x = np.arange(-20.0, 20.1, 2.0)
    z = np.array([-14.0, -11.0, -9.5, -6.0, -2.0, 0.0, 1.5, 5.0, 7.0, 10.0, 13.0, 16.0])
    zz, yy, xx = np.meshgrid(z, x, x, indexing="ij")
    grid = DoseGrid(30.0 + 0.8 * zz, x, x, z)
    planes = np.arange(-7.0, 7.1, 1.0)  # a 10 × 10 mm box, 15 mm tall with half-slice caps
    s = Structure(1, "Box", tuple(Contour(zp, _rect(-5.3, 4.7, -4.6, 5.4)) for zp in planes))
    dvh = compute_dvh(s, grid, DVHSettings(variants=False))
    assert dvh.total_volume_cc == pytest.approx(10 * 10 * 15 / 1000)
    assert dvh.mean_gy() == pytest.approx(30.0, abs=0.05)
    # extremes within one sub-sample spacing (the widest voxel is 3.75 mm: 1.25 mm)
    assert dvh.max_gy() == pytest.approx(30 + 0.8 * 7.5, abs=0.8 * 1.25)
    assert dvh.min_gy() == pytest.approx(30 - 0.8 * 7.5, abs=0.8 * 1.25)


_CONE = make_phantom(
    shape_for_volume("cone", 3.0, (0.2, -0.3, 0.1)),
    slice_mm=2.0,
    grid_mm=3.0,
    gradient="y",
    plane_offset_mm=0.37,
)


@settings(max_examples=15, deadline=None)
@given(
    shift=st.tuples(
        st.floats(-50, 50, allow_nan=False),
        st.floats(-50, 50, allow_nan=False),
        st.floats(-50, 50, allow_nan=False),
    )
)
def test_moving_structure_and_grid_together_changes_nothing(shift):
    p = _CONE  # contour slabs end at odd + 0.37 mm: no sub-sample lies exactly on a boundary
    sx, sy, sz = shift
    moved = Structure(
        1,
        "Cone",
        tuple(Contour(c.z_mm + sz, c.points_mm + [sx, sy]) for c in p.structure.contours),
    )
    grid = DoseGrid(p.dose.dose_gy, p.dose.x_mm + sx, p.dose.y_mm + sy, p.dose.z_mm + sz)
    a = compute_dvh(p.structure, p.dose)
    b = compute_dvh(moved, grid)
    assert b.total_volume_cc == pytest.approx(a.total_volume_cc, rel=1e-9)
    for metric in (DVH.mean_gy, DVH.max_gy, DVH.min_gy, lambda d: d.dose_at_volume(percent=50)):
        assert metric(b) == pytest.approx(metric(a), abs=1e-6)
        assert b.uncertainty(metric) == pytest.approx(a.uncertainty(metric), abs=1e-6)


@pytest.mark.parametrize("z_mm", [0.0, 0.9, 1.2, 2.0, 2.5])
def test_a_slab_thinner_than_the_sub_sample_spacing_is_not_lost(z_mm):
    # a 1 mm single-plane ROI on a 5 mm dose grid: sub-sample heights are 5/3 mm apart
    x = np.arange(-20.0, 20.1, 2.0)
    z = np.arange(-20.0, 20.1, 5.0)
    zz, yy, xx = np.meshgrid(z, x, x, indexing="ij")
    grid = DoseGrid(40.0 + 0.5 * zz, x, x, z)
    s = Structure(1, "Thin", (Contour(z_mm, _rect(-5, 5, -5, 5)),))
    dvh = compute_dvh(s, grid, DVHSettings(variants=False), slice_thickness_mm=1.0)
    assert dvh.volume_with_dose_cc == pytest.approx(0.1)
    assert dvh.mean_gy() == pytest.approx(40 + 0.5 * z_mm, abs=0.5 * 5 / 3)


# -- the sample accumulators' paths (binning, flushing) give the same DVH -----------------
def test_interpolation_off_with_variants_is_sound():
    # the non-interpolated samples with the end layers kept apart for the end-cap variant
    p = make_phantom(shape_for_volume("sphere", 20.0), slice_mm=2.0, grid_mm=3.0, gradient="x")
    dvh = compute_dvh(p.structure, p.dose, DVHSettings(interpolate_dose=False))
    assert_matches_truth(dvh, p, dose_tol=0.02)
    other_cap, coarse = dvh.variants
    assert other_cap.total_volume_cc == pytest.approx(p.truth("none").volume_cc, rel=1e-6)
    assert coarse.total_volume_cc == pytest.approx(p.truth("half_slice").volume_cc, rel=1e-6)
    assert coarse.mean_gy() == pytest.approx(p.truth("half_slice").mean_gy, abs=0.02 * 50)


def test_raw_samples_binned_early_give_the_same_dvh(monkeypatch):
    import rtcheck.dvhcalc.histogram as histogram

    # 100 cc on a 1 mm grid: ~10^5 samples, binned; then again binning after every chunk.
    # Binned at the end, the bins span the samples' own dose range; binned early (memory
    # bound), the dose range around the ROI's box, which bounds every sample: bins of a
    # slightly different width, so doses agree to one bin, volume, mean and extremes exactly
    p = make_phantom(shape_for_volume("sphere", 100.0), slice_mm=2.0, grid_mm=1.0, gradient="z")
    whole = compute_dvh(p.structure, p.dose)
    monkeypatch.setattr(histogram, "_RAW_LIMIT", 1000)
    early = compute_dvh(p.structure, p.dose)
    assert_matches_truth(early, p)
    one_bin = float(np.ptp(p.dose.dose_gy)) / (histogram.DOSE_BINS - 1)
    for a, b in zip((whole, *whole.variants), (early, *early.variants), strict=True):
        assert abs(b.dose_gy.size - a.dose_gy.size) <= 0.01 * a.dose_gy.size
        assert b.total_volume_cc == pytest.approx(a.total_volume_cc, rel=1e-12)
        assert b.mean_gy() == pytest.approx(a.mean_gy(), rel=1e-12)
        assert (b.min_gy(), b.max_gy()) == (a.min_gy(), a.max_gy())
        assert b.dose_at_volume(cc=0.035) == pytest.approx(a.dose_at_volume(cc=0.035), abs=one_bin)


def test_binned_samples_of_unequal_voxels_keep_volume_and_mean(monkeypatch):
    import rtcheck.dvhcalc.histogram as histogram

    # the non-uniform planes of test_non_uniform_dose_planes_interpolate_exactly, with so
    # few bins that every DVH is binned with per-sample volumes
    monkeypatch.setattr(histogram, "DOSE_BINS", 64)
    x = np.arange(-20.0, 20.1, 2.0)
    z = np.array([-14.0, -11.0, -9.5, -6.0, -2.0, 0.0, 1.5, 5.0, 7.0, 10.0, 13.0, 16.0])
    zz, yy, xx = np.meshgrid(z, x, x, indexing="ij")
    grid = DoseGrid(30.0 + 0.8 * zz, x, x, z)
    planes = np.arange(-7.0, 7.1, 1.0)
    s = Structure(1, "Box", tuple(Contour(zp, _rect(-5.3, 4.7, -4.6, 5.4)) for zp in planes))
    dvh = compute_dvh(s, grid)
    assert dvh.dose_gy.size <= 64
    assert dvh.total_volume_cc == pytest.approx(10 * 10 * 15 / 1000)
    assert dvh.volume_with_dose_cc == pytest.approx(10 * 10 * 15 / 1000)
    assert dvh.mean_gy() == pytest.approx(30.0, abs=0.05)  # bins keep the mean dose
    assert dvh.max_gy() == pytest.approx(30 + 0.8 * 7.5, abs=0.8 * 1.25)


def test_parts_sorted_before_a_merge_give_the_dvh_of_the_unsorted_samples():
    # the DVH and its variants share their parts' raw chunks, sorted once in place before a
    # merge; the stable order of equal doses (chunk order, then order in the chunk) must be
    # that of sorting the unsorted concatenation, so the DVH is the same to the last bit
    from rtcheck.dvhcalc.histogram import Accumulator, BinRange, merge_accumulators

    rng = np.random.default_rng(5)
    chunks = []
    for size, scalar in ((700, True), (300, False), (1, True), (500, False)):
        d = np.round(rng.uniform(10.0, 12.0, size), 2)  # many equal doses
        v = 0.001 if scalar else rng.uniform(0.0005, 0.002, size)
        chunks.append((d, v))
    bins = BinRange()
    parts = [Accumulator(bins), Accumulator(bins)]
    for i, (d, v) in enumerate(chunks):
        parts[i % 2].add(d.copy(), v)
    # reference: the chunks in the order the merge lays them out (part by part)
    order = [c for i, c in enumerate(chunks) if i % 2 == 0] + [
        c for i, c in enumerate(chunks) if i % 2 == 1
    ]
    ref_d = np.concatenate([d for d, _ in order])
    ref_v = np.concatenate([np.full(d.size, v) if isinstance(v, float) else v for d, v in order])
    expected = DVH("x", 1, ref_d, ref_v)
    for _ in range(2):  # the second merge finds the parts sorted already
        d, v = merge_accumulators(*parts).samples()
        got = DVH("x", 1, d, v)
        assert np.array_equal(got.dose_gy, expected.dose_gy)
        assert np.array_equal(got.volume_cc, expected.volume_cc)
    assert all(np.all(d[:-1] >= d[1:]) for p in parts for d, _ in p.raw)


def test_bins_shared_by_parts_span_their_samples_and_refuse_later_ones():
    from rtcheck.dvhcalc.histogram import DOSE_BINS, Accumulator, BinRange, merge_accumulators

    bins = BinRange()
    a, b = Accumulator(bins), Accumulator(bins)
    a.add(np.linspace(10.0, 20.0, 50_000), 0.001)
    b.add(np.linspace(5.0, 12.0, 50_000), 0.002)
    merged = merge_accumulators(a, b)  # 100 000 samples: binned over both parts' range
    lo, hi = bins.fix()
    pad = 0.5 * 15.0 / (DOSE_BINS - 2)
    assert (lo, hi) == pytest.approx((5.0 - pad, 20.0 + pad), rel=1e-15)
    d, v = merged.samples()
    assert (d[0], d[-1]) == (20.0, 5.0)  # the extreme samples exactly
    assert v.sum() == pytest.approx(50_000 * 0.003, rel=1e-12)
    assert float(np.dot(d, v)) == pytest.approx(
        50_000 * (15.0 * 0.001 + 8.5 * 0.002), rel=1e-12
    )  # Dmean kept: each bin's volume-weighted mean dose
    with pytest.raises(RuntimeError, match="internal error"):
        b.add(np.array([25.0]), 0.001)  # beyond bins fixed by the samples: never clipped
