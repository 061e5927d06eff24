"""Unions of structures (a paired organ from its sides): rtcheck.dvhcalc.union_mask and
rtcheck.dvhcalc.compute_union_dvh.

Expected values are closed-form: boxes aligned to the sub-sample lattice (exact), circles
and spheres (circle-circle lens areas; the sphere-sphere lens volume).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rtcheck.dvhcalc.compute import DVHSettings, compute_dvh, compute_union_dvh
from rtcheck.dvhcalc.masks import structure_mask
from rtcheck.dvhcalc.unions import union_mask
from rtcheck.models import Contour, DoseGrid, Structure


def square(cx: float, cy: float, half: float) -> np.ndarray:
    return np.array(
        [
            [cx - half, cy - half],
            [cx + half, cy - half],
            [cx + half, cy + half],
            [cx - half, cy + half],
        ]
    )


def circle(cx: float, cy: float, r: float, n: int = 256) -> np.ndarray:
    t = 2 * np.pi * np.arange(n) / n
    # radius scaled so that the polygon has the circle's area exactly
    rr = r * math.sqrt(2 * math.pi / (n * math.sin(2 * math.pi / n)))
    return np.stack([cx + rr * np.cos(t), cy + rr * np.sin(t)], axis=1)


def prism(polygon: np.ndarray, zs, roi_number: int, name: str) -> Structure:
    return Structure(roi_number, name, tuple(Contour(float(z), polygon) for z in zs))


def sphere(cx: float, r: float, zs, roi_number: int, name: str) -> Structure:
    contours = [
        Contour(float(z), circle(cx, 0.0, math.sqrt(r * r - z * z))) for z in zs if abs(z) < r
    ]
    return Structure(roi_number, name, tuple(contours))


def linear_grid(spacing: float = 1.0, n: int = 40) -> DoseGrid:
    """Voxel edges on whole mm (centres at k + 0.5); dose 10 + 0.2 x + 0.1 y Gy."""
    c = -n / 2 * spacing + spacing / 2 + spacing * np.arange(n)
    zz, yy, xx = np.meshgrid(c, c, c, indexing="ij")
    return DoseGrid(10 + 0.2 * xx + 0.1 * yy, c, c, c)


PLANES = np.arange(-4.5, 4.6, 1.0)  # slabs −5 … 5 mm with half-slice end caps


def test_overlapping_boxes_union_counts_the_overlap_once():
    g = linear_grid()
    a = prism(square(-6, 0, 5), PLANES, 1, "A")  # x −11 … −1
    c = prism(square(-2, 0, 5), PLANES, 2, "C")  # x −7 … 3: 6 × 10 mm in common with A
    union = compute_union_dvh([a, c], g)
    # union: x −11 … 3, y −5 … 5, z −5 … 5 → 14 × 10 × 10 mm³
    assert union.structure_volume_cc == pytest.approx(1.4, rel=1e-9)
    assert union.total_volume_cc == pytest.approx(1.4, rel=1e-9)
    # dose linear in x and y, interpolated exactly: mean at the centre (x = −4, y = 0)
    assert union.mean_gy() == pytest.approx(10 + 0.2 * -4, abs=1e-6)
    # the level set 10 + 0.2 x + 0.1 y = 9.2 passes through the box's centre and crosses the
    # y faces inside the box (x = −6.5 … −1.5): by point symmetry it halves the box
    assert union.volume_at_dose(9.2) == pytest.approx(0.7, rel=1e-3)
    assert union.name == "A + C" and union.roi_number is None
    # the variant with the other end cap is a union too: slabs −4.5 … 4.5 mm
    volumes = sorted(v.total_volume_cc for v in union.variants)
    assert volumes[0] == pytest.approx(14 * 10 * 9 / 1000, rel=1e-9)


def test_disjoint_union_dvh_is_the_volume_weighted_combination():
    g = linear_grid()
    a = prism(square(-6, 0, 5), PLANES, 1, "Kidney Lt")
    b = prism(square(6, 2, 4), PLANES, 2, "Kidney Rt")
    da, db = compute_dvh(a, g), compute_dvh(b, g)
    union = compute_union_dvh([a, b], g)
    assert union.structure_volume_cc == pytest.approx(
        da.structure_volume_cc + db.structure_volume_cc, rel=1e-12
    )
    for dose in (8.0, 9.0, 10.0, 10.5, 11.0, 12.0):
        assert union.volume_at_dose(dose) == pytest.approx(
            da.volume_at_dose(dose) + db.volume_at_dose(dose), abs=1e-9
        )
    weighted = (da.mean_gy() * da.total_volume_cc + db.mean_gy() * db.total_volume_cc) / (
        da.total_volume_cc + db.total_volume_cc
    )
    assert union.mean_gy() == pytest.approx(weighted, abs=1e-9)
    assert len(union.variants) == len(da.variants)


def test_disjoint_spheres_volume_is_the_sum_of_contour_volumes():
    g = linear_grid()
    zs = np.arange(-7.5, 7.6, 1.0)
    a, b = sphere(-9.0, 8.0, zs, 1, "Lung Lt"), sphere(9.0, 8.0, zs, 2, "Lung Rt")
    da, db = compute_dvh(a, g), compute_dvh(b, g)
    union = compute_union_dvh([a, b], g)
    assert union.structure_volume_cc == pytest.approx(
        da.structure_volume_cc + db.structure_volume_cc, rel=1e-12
    )
    # the DVH shape: the per-ROI grid/contour volume ratios differ by < 0.5 %
    for dose in (7.0, 8.0, 9.0, 10.0, 11.0, 12.0):
        assert union.volume_at_dose(dose) == pytest.approx(
            da.volume_at_dose(dose) + db.volume_at_dose(dose), rel=5e-3, abs=1e-4
        )


def lens_area(r: float, d: float) -> float:
    """Area common to two circles of radius r whose centres are d apart."""
    if d >= 2 * r:
        return 0.0
    return 2 * r * r * math.acos(d / (2 * r)) - (d / 2) * math.sqrt(4 * r * r - d * d)


def test_overlapping_spheres_union_volume_in_closed_form():
    g = linear_grid()
    r, d = 8.0, 8.0
    zs = np.arange(-7.5, 7.6, 1.0)
    a, b = sphere(-d / 2, r, zs, 1, "A"), sphere(d / 2, r, zs, 2, "B")
    union = compute_union_dvh([a, b], g, DVHSettings(variants=False))
    # contoured truth: each plane's disc of radius ρ stands for a 1 mm slab
    rho = np.sqrt(r * r - zs**2)
    contoured_mm3 = sum(2 * math.pi * p * p - lens_area(p, d) for p in rho) * 1.0
    assert union.structure_volume_cc == pytest.approx(contoured_mm3 / 1000, rel=0.01)
    # and the smooth solids: 2 spheres − the lens π (4r + d)(2r − d)² / 12
    ideal_mm3 = 2 * 4 / 3 * math.pi * r**3 - math.pi * (4 * r + d) * (2 * r - d) ** 2 / 12
    assert union.structure_volume_cc == pytest.approx(ideal_mm3 / 1000, rel=0.02)
    # not the sum of the two spheres (the overlap counted twice)
    assert union.structure_volume_cc < 0.9 * 2 * compute_dvh(a, g).structure_volume_cc
    # symmetric about x = 0 with dose 10 + 0.2 x + 0.1 y: mean 10 Gy
    assert union.mean_gy() == pytest.approx(10.0, abs=0.01)


def test_union_mask_of_a_structure_with_itself_is_the_structure():
    g = linear_grid()
    a = sphere(0.0, 6.0, np.arange(-5.5, 5.6, 1.0), 1, "A")
    m = structure_mask(a, g, 3)
    u = union_mask([m, m], g, "A + A")
    assert np.array_equal(u.full_mask(g.shape), m.full_mask(g.shape))
    assert u.rasterised_volume_cc == pytest.approx(m.rasterised_volume_cc, rel=1e-12)


def test_union_refuses_masks_with_different_settings():
    g = linear_grid()
    a = prism(square(0, 0, 3), PLANES, 1, "A")
    with pytest.raises(ValueError):
        union_mask([structure_mask(a, g, 3), structure_mask(a, g, 2)], g, "A + A")


def rect(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


thirds = st.integers(min_value=-30, max_value=30).map(lambda k: k / 3)


@settings(max_examples=25, deadline=None)
@given(
    st.tuples(thirds, thirds, thirds, thirds),
    st.tuples(thirds, thirds, thirds, thirds),
    st.integers(min_value=-6, max_value=2),
    st.integers(min_value=-2, max_value=6),
)
def test_union_of_boxes_is_inclusion_exclusion(a, b, z_lo, z_hi):
    """Boxes with edges on the 1/3 mm sub-sample lattice of a 1 mm grid: the union's volume is
    |A| + |B| − |A ∩ B| exactly (A spans z −5 … 5 mm, B a random range of whole mm), and the
    part of A outside B is |A| − |A ∩ B| (of B outside A: |B| − |A ∩ B|)."""
    ax0, ax1 = sorted(a[:2])
    ay0, ay1 = sorted(a[2:])
    bx0, bx1 = sorted(b[:2])
    by0, by1 = sorted(b[2:])
    assume(min(ax1 - ax0, ay1 - ay0, bx1 - bx0, by1 - by0) > 0.1 and z_hi > z_lo)
    g = linear_grid()
    box_a = prism(rect(ax0, ax1, ay0, ay1), PLANES, 1, "A")
    box_b = prism(rect(bx0, bx1, by0, by1), np.arange(z_lo + 0.5, z_hi, 1.0), 2, "B")
    ma, mb = structure_mask(box_a, g, 3), structure_mask(box_b, g, 3)
    u = union_mask([ma, mb], g, "A + B")
    area_a, area_b = (ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0)
    common_xy = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    common_z = max(0, min(5, z_hi) - max(-5, z_lo))
    truth_cc = (area_a * 10 + area_b * (z_hi - z_lo) - common_xy * common_z) / 1000
    assert u.structure_volume_cc == pytest.approx(truth_cc, rel=1e-9, abs=1e-12)
    assert u.rasterised_volume_cc == pytest.approx(truth_cc, rel=1e-9, abs=1e-12)
    common_cc = common_xy * common_z / 1000
    assert ma.volume_outside_cc(mb) == pytest.approx(area_a * 10 / 1000 - common_cc, rel=1e-9, abs=1e-12)
    assert mb.volume_outside_cc(ma) == pytest.approx(
        area_b * (z_hi - z_lo) / 1000 - common_cc, rel=1e-9, abs=1e-12
    )
    fa, fb, fu = ma.full_mask(g.shape), mb.full_mask(g.shape), u.full_mask(g.shape)
    # per voxel: at least either side's occupancy, at most their sum (disjoint sub-samples)
    assert np.all(fu >= np.maximum(fa, fb) - 1e-6) and np.all(fu <= np.minimum(fa + fb, 1) + 1e-6)


def test_union_with_a_side_partly_or_wholly_outside_the_grid():
    g = linear_grid()  # x from −20 to 20 mm
    inside = prism(square(0, 0, 5), PLANES, 1, "A")
    half_out = prism(square(20, 0, 4), PLANES, 2, "B")  # x 16 … 24: half outside
    union = compute_union_dvh([inside, half_out], g)
    assert union.structure_volume_cc == pytest.approx((100 + 64) * 10 / 1000, rel=1e-9)
    assert union.outside_grid_cc == pytest.approx(4 * 8 * 10 / 1000, rel=1e-9)
    far = prism(square(60, 0, 4), PLANES, 3, "C")  # wholly outside
    union = compute_union_dvh([inside, far], g)
    assert union.outside_grid_cc == pytest.approx(0.64, rel=1e-9)
    assert union.volume_with_dose_cc == pytest.approx(1.0, rel=1e-9)
    nothing = compute_union_dvh([far, prism(square(-60, 0, 4), PLANES, 4, "D")], g)
    assert nothing.volume_with_dose_cc == 0 and nothing.outside_grid_cc == pytest.approx(
        1.28, rel=1e-9
    )


def test_volume_outside_agrees_with_the_union_for_curved_shapes():
    # spheres: no closed form on the sub-samples, but |A outside B| = |A ∪ B| − |B| holds for
    # the sub-samples, which union_mask counts by another route
    g = linear_grid()
    zs = np.arange(-5.5, 5.6, 1.0)
    ma = structure_mask(sphere(-2.3, 6.0, zs, 1, "A"), g, 3)
    mb = structure_mask(sphere(3.1, 7.0, zs, 2, "B"), g, 3)
    union = union_mask([ma, mb], g, "A + B").rasterised_volume_cc
    assert ma.volume_outside_cc(mb) == pytest.approx(union - mb.rasterised_volume_cc, rel=1e-9)
    assert mb.volume_outside_cc(ma) == pytest.approx(union - ma.rasterised_volume_cc, rel=1e-9)
    assert 0 < ma.volume_outside_cc(mb) < ma.rasterised_volume_cc
    # wholly inside, itself, and disjoint
    inner = structure_mask(sphere(3.1, 3.0, zs, 3, "C"), g, 3)
    assert inner.volume_outside_cc(mb) == 0.0
    assert ma.volume_outside_cc(ma) == 0.0
    far = structure_mask(prism(square(15, 15, 2), PLANES, 4, "D"), g, 3)
    assert far.volume_outside_cc(ma) == pytest.approx(far.rasterised_volume_cc, rel=1e-12)
    with pytest.raises(ValueError):
        ma.volume_outside_cc(structure_mask(sphere(3.1, 7.0, zs, 2, "B"), g, 2))
