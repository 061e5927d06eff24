"""rtcheck.dvhcalc: planes, slabs and end caps, even-odd rasterisation, masks.

Expected values are closed-form (polygon areas, slab thicknesses, linear functions).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rtcheck.dvhcalc import (
    contour_planes,
    even_odd_area_mm2,
    points_in_polygons,
    rasterise_plane,
    rasterise_planes,
    rasterise_planes_packed,
    slab_bounds,
    structure_mask,
    structure_volume_cc,
    trilinear,
    voxel_edges,
)
from rtcheck.errors import GeometryError
from rtcheck.models import Contour, ContourType, DoseGrid, Structure


def square(cx: float, cy: float, half: float, ccw: bool = True) -> np.ndarray:
    pts = np.array(
        [
            [cx - half, cy - half],
            [cx + half, cy - half],
            [cx + half, cy + half],
            [cx - half, cy + half],
        ]
    )
    return pts if ccw else pts[::-1]


def prism(polygons_per_plane, zs, roi_number=1, name="ROI") -> Structure:
    """The same polygons on every plane of ``zs``."""
    contours = [Contour(z, p) for z in zs for p in polygons_per_plane]
    return Structure(roi_number, name, tuple(contours))


def grid(
    spacing=(2.0, 2.0, 2.0), n=(20, 20, 20), origin=(-19.0, -19.0, -19.0), dose=None
) -> DoseGrid:
    x = origin[0] + spacing[0] * np.arange(n[0])
    y = origin[1] + spacing[1] * np.arange(n[1])
    z = origin[2] + spacing[2] * np.arange(n[2])
    if dose is None:
        values = np.ones((n[2], n[1], n[0]))
    else:
        zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
        values = dose(xx, yy, zz)
    return DoseGrid(values, x, y, z)


# -- slabs and end caps ----------------------------------------------------------------
def test_slab_bounds_half_slice_and_none():
    z = np.array([0.0, 2.0, 4.0, 6.0])
    lo, hi = slab_bounds(z, "half_slice")
    assert np.allclose(lo, [-1, 1, 3, 5]) and np.allclose(hi, [1, 3, 5, 7])
    lo, hi = slab_bounds(z, "none")
    assert np.allclose(lo, [0, 1, 3, 5]) and np.allclose(hi, [1, 3, 5, 6])


def test_slab_bounds_non_uniform_spacing_uses_midpoints():
    lo, hi = slab_bounds(np.array([0.0, 1.0, 4.0]), "half_slice", slice_thickness_mm=1.0)
    # typical spacing (median of 1 and 3) = 2: the end slabs extend half of it outward
    assert np.allclose(lo, [-1.0, 0.5, 2.5]) and np.allclose(hi, [0.5, 2.5, 5.0])


def test_slab_bounds_gap_is_not_bridged():
    # two pieces, 2 mm planes, 20 mm apart: each gets its own end caps
    z = np.array([0.0, 2.0, 4.0, 24.0, 26.0, 28.0])
    lo, hi = slab_bounds(z, "half_slice")
    assert np.allclose(hi - lo, 2.0)
    lo, hi = slab_bounds(z, "none")
    assert np.allclose(hi - lo, [1, 2, 1, 1, 2, 1])


def test_single_plane_slab_is_slice_thickness_under_both_conventions():
    for cap in ("none", "half_slice"):
        lo, hi = slab_bounds(np.array([5.0]), cap, slice_thickness_mm=3.0)
        assert lo[0] == pytest.approx(3.5) and hi[0] == pytest.approx(6.5)


# -- volumes ---------------------------------------------------------------------------
def test_box_volume_per_end_cap_convention():
    s = prism([square(0, 0, 5)], zs=[0.0, 2.0, 4.0, 6.0, 8.0])  # 10 × 10 mm, 5 planes
    assert structure_volume_cc(s, "half_slice") == pytest.approx(100 * 10 / 1000)
    assert structure_volume_cc(s, "none") == pytest.approx(100 * 8 / 1000)


def test_hole_subtracts_and_island_in_hole_adds():
    outer, hole, island = square(0, 0, 10), square(0, 0, 5, ccw=False), square(0, 0, 2)
    assert even_odd_area_mm2([outer, hole]) == pytest.approx(400 - 100)
    assert even_odd_area_mm2([outer, hole, island]) == pytest.approx(400 - 100 + 16)
    assert even_odd_area_mm2([square(-20, 0, 3), square(20, 0, 4)]) == pytest.approx(36 + 64)


def test_contours_on_one_plane_are_grouped_and_sorted():
    s = Structure(
        1,
        "R",
        (
            Contour(4.0, square(0, 0, 3)),
            Contour(0.0, square(0, 0, 3)),
            Contour(4.001, square(9, 9, 1)),
        ),
    )
    planes = contour_planes(s)
    assert [p.z_mm for p in planes] == pytest.approx([0.0, 4.0005])
    assert len(planes[1].polygons) == 2


@pytest.mark.parametrize(
    "structure, words",
    [
        (Structure(3, "Empty"), "no contours"),
        (
            Structure(4, "Pt", (Contour(0.0, np.array([[1.0, 2.0]]), ContourType.POINT),)),
            "not volumetric",
        ),
        (
            Structure(5, "Line", (Contour(0.0, square(0, 0, 1), ContourType.OPEN_PLANAR),)),
            "not volumetric",
        ),
        (Structure(6, "Two", (Contour(0.0, np.array([[0.0, 0.0], [1.0, 1.0]])),)), "fewer than 3"),
        (
            Structure(7, "Flat", (Contour(0.0, np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])),)),
            "zero area",
        ),
        (
            Structure(8, "Fig8", (Contour(0.0, np.array([[0.0, 0], [4, 3], [4, 0], [0, 2]])),)),
            "self-crossing",
        ),
        (
            Structure(9, "Overlap", (Contour(0.0, square(0, 0, 2)), Contour(0.0, square(1, 1, 2)))),
            "cross each other",
        ),
    ],
)
def test_unusable_rois_raise_geometry_error_with_name_and_remedy(structure, words):
    with pytest.raises(GeometryError) as info:
        contour_planes(structure)
    assert words in info.value.message
    assert structure.name in info.value.message
    assert info.value.remedy


# -- rasterisation ---------------------------------------------------------------------
def star(n=7, r1=10.0, r2=4.0) -> np.ndarray:
    ang = np.pi * np.arange(2 * n) / n
    r = np.where(np.arange(2 * n) % 2 == 0, r1, r2)
    return np.stack([r * np.cos(ang) + 0.3, r * np.sin(ang) - 0.2], axis=1)


def test_scanline_fill_equals_crossing_number_test():
    polys = [star(), square(0.3, -0.2, 2.5, ccw=False), square(15, 3, 2)]
    xs = np.linspace(-14, 20, 211)
    ys = np.linspace(-12, 12, 157)
    mask = rasterise_plane(polys, xs, ys)
    xx, yy = np.meshgrid(xs, ys)
    expected = points_in_polygons(np.stack([xx.ravel(), yy.ravel()], axis=1), polys).reshape(
        mask.shape
    )
    assert np.array_equal(mask, expected)


def test_scanline_fill_area_converges_to_polygon_area():
    polys = [star(), square(0.3, -0.2, 2.5, ccw=False)]
    step = 0.05
    xs = np.arange(-12, 12, step) + step / 2
    ys = np.arange(-12, 12, step) + step / 2
    area = rasterise_plane(polys, xs, ys).sum() * step * step
    assert area == pytest.approx(even_odd_area_mm2(polys), rel=0.01)


def test_linear_function_is_interpolated_exactly():
    g = grid(dose=lambda x, y, z: 3 + 0.5 * x - 0.25 * y + 0.125 * z)
    rng = np.random.default_rng(1)
    idx = rng.uniform(0, 19, size=(500, 3))
    x, y, z = g.x_mm[0] + 2 * idx[:, 2], g.y_mm[0] + 2 * idx[:, 1], g.z_mm[0] + 2 * idx[:, 0]
    assert np.allclose(trilinear(g.dose_gy, idx), 3 + 0.5 * x - 0.25 * y + 0.125 * z)


def test_voxel_edges_are_midpoints():
    assert np.allclose(voxel_edges(np.array([0.0, 2.0, 6.0])), [-1, 1, 4, 8])


def test_mask_volume_matches_contours_and_fraction_in_range():
    s = prism([square(0.4, -0.7, 7.3)], zs=np.arange(-6.0, 6.1, 1.5))
    m = structure_mask(s, grid(), supersampling=4)
    assert 0 <= m.fraction.min() and m.fraction.max() <= 1
    assert m.rasterised_volume_cc == pytest.approx(m.structure_volume_cc, rel=0.02)
    assert m.outside_grid_cc == pytest.approx(0.0, abs=1e-12)
    full = m.full_mask(grid().shape)
    assert full.sum() == pytest.approx(m.fraction.sum())


def test_points_index_is_the_order_of_dose_samples():
    g = grid(dose=lambda x, y, z: 10 + 0.3 * x + 0.2 * y * y - 0.1 * z)
    s = prism([star()], zs=np.arange(-7.0, 7.1, 2.0))
    m = structure_mask(s, g, supersampling=3)
    d, _ = m.dose_samples(g.dose_gy, interpolate=True)
    n_interior = int((m.counts == 27).sum())
    assert np.allclose(d[n_interior:], trilinear(g.dose_gy, m.points_index))


def test_contours_between_dose_planes_are_not_lost():
    # a 1.5 mm thick ROI (three 0.5 mm planes) sitting between two dose planes 6 mm apart
    s = prism([square(0, 0, 5)], zs=[1.0, 1.5, 2.0])
    g = grid(spacing=(2.0, 2.0, 6.0), n=(20, 20, 5), origin=(-19.0, -19.0, -12.0))
    m = structure_mask(s, g, supersampling=3)
    assert m.structure_volume_cc == pytest.approx(100 * 1.5 / 1000)
    assert m.rasterised_volume_cc > 0


def test_structure_half_outside_the_grid_reports_outside_volume():
    s = prism(
        [square(-19.0, 0, 4)], zs=np.arange(-4.0, 4.1, 2.0)
    )  # x from -23 to -15; grid edge -20
    m = structure_mask(s, grid(), supersampling=2)
    total = 8 * 8 * 10 / 1000
    assert m.structure_volume_cc == pytest.approx(total)
    assert m.outside_grid_cc == pytest.approx(3 * 8 * 10 / 1000)


def test_rejects_bad_supersampling():
    with pytest.raises(ValueError):
        structure_mask(prism([square(0, 0, 3)], [0.0, 1.0]), grid(), supersampling=0)


# -- properties ------------------------------------------------------------------------
coord = st.floats(-3.0, 3.0, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(dx=coord, dy=coord, kz=st.integers(-2, 2))
def test_translation_by_whole_voxels_changes_nothing(dx, dy, kz):
    base = grid()
    shift = np.array([2.0 * round(dx), 2.0 * round(dy), 2.0 * kz])
    s0 = prism([star(), square(0.3, -0.2, 2.0, ccw=False)], zs=np.arange(-5.0, 5.1, 2.5))
    s1 = prism(
        [p + shift[:2] for p in (star(), square(0.3, -0.2, 2.0, ccw=False))],
        zs=np.arange(-5.0, 5.1, 2.5) + shift[2],
    )
    m0, m1 = structure_mask(s0, base, 3), structure_mask(s1, base, 3)
    assert m1.rasterised_volume_cc == pytest.approx(m0.rasterised_volume_cc, rel=1e-9)
    assert np.array_equal(m0.counts, m1.counts)


@settings(max_examples=25, deadline=None)
@given(r=st.floats(2.0, 8.0), dr=st.floats(0.3, 2.0), off=coord)
def test_volume_monotonic_in_size(r, dr, off):
    zs = np.arange(-6.0, 6.1, 2.0)
    small = structure_mask(prism([square(off, -off, r)], zs), grid(), 3)
    large = structure_mask(prism([square(off, -off, r + dr)], zs), grid(), 3)
    assert large.structure_volume_cc > small.structure_volume_cc
    assert large.rasterised_volume_cc >= small.rasterised_volume_cc - 1e-12


@settings(max_examples=25, deadline=None)
@given(r_out=st.floats(6.0, 9.0), r_in=st.floats(1.0, 5.0), ox=coord, oy=coord)
@example(r_out=6.0, r_in=1.25, ox=0.05, oy=0.0)  # hole edge at x = -1 on a sub-sample
def test_hole_subtracts_exactly(r_out, r_in, ox, oy):
    zs = np.arange(-4.0, 4.1, 2.0)
    outer = square(ox, oy, r_out)
    inner = square(ox + 0.2, oy - 0.1, r_in, ccw=False)
    g = grid()
    both = structure_mask(prism([outer, inner], zs), g, 3)
    just_outer = structure_mask(prism([outer], zs), g, 3)
    just_inner = structure_mask(prism([inner], zs), g, 3)
    assert both.structure_volume_cc == pytest.approx(
        just_outer.structure_volume_cc - just_inner.structure_volume_cc
    )
    # the sub-samples of the hole are exactly those removed (even-odd is exact per sample)
    assert np.array_equal(
        both.counts.astype(int), just_outer.counts.astype(int) - _aligned(just_inner, just_outer)
    )


def _aligned(inner, outer) -> np.ndarray:
    """inner.counts placed in outer's bounding box."""
    out = np.zeros(outer.counts.shape, dtype=int)
    sl = tuple(
        slice(a.start - b.start, a.stop - b.start)
        for a, b in zip(inner.slices, outer.slices, strict=True)
    )
    out[sl] = inner.counts
    return out


# -- ties: samples exactly on an edge (common: vertices and sub-samples on round mm) ----
def rect(x0: float, x1: float, y0: float, y1: float, ccw: bool = True) -> np.ndarray:
    pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)
    return pts if ccw else pts[::-1]


def test_samples_on_edges_split_evenly_so_a_box_on_the_samples_is_not_shifted():
    # rows half-open [y_low, y_high); along x a tie goes right in even rows, left in odd rows
    xs = np.arange(-5.0, 5.1, 1.0)
    ys = np.arange(-5.0, 5.1, 1.0)
    mask = rasterise_plane([square(0, 0, 3)], xs, ys)
    even = (xs >= -3) & (xs < 3)
    odd = (xs > -3) & (xs <= 3)
    for i, y in enumerate(ys):
        row = (even if i % 2 == 0 else odd) if -3 <= y < 3 else np.zeros_like(xs, dtype=bool)
        assert mask[i].tolist() == row.tolist()
    assert mask.sum() == 36  # the square's area in samples, not 5×5 or 7×7
    yy, xx = np.nonzero(mask)
    assert xs[xx].mean() == 0.0  # centred: ties do not shift it by a sample
    # the parity is the global row's: a window starting one row later flips it
    assert np.array_equal(rasterise_plane([square(0, 0, 3)], xs, ys[1:], row0=1), mask[1:])


def test_neighbours_sharing_an_edge_on_samples_count_each_sample_once():
    xs = np.arange(-6.0, 6.1, 0.5)
    ys = np.arange(-6.0, 6.1, 0.5)
    whole = rasterise_plane([rect(-4, 4, -3, 5)], xs, ys)
    # split along x = 1 (vertical shared edge) and along y = 0 (horizontal shared edge)
    pieces = [rect(-4, 1, -3, 0), rect(1, 4, -3, 0), rect(-4, 1, 0, 5, ccw=False), rect(1, 4, 0, 5)]
    stack = np.array([rasterise_plane([p], xs, ys) for p in pieces], dtype=int)
    assert np.array_equal(stack.sum(axis=0), whole.astype(int))  # no sample twice, none lost
    assert stack[:, 10, :].sum() > 0 and stack[:, :, 14].sum() > 0  # rows/columns on the edges


def test_triangles_sharing_a_diagonal_partition_their_quadrilateral():
    # the shared edge is traversed in opposite directions and has an awkward slope
    a, b, c, d = (-5.0, -4.0), (6.0, -3.0), (4.0, 5.0), (-3.0, 3.0)
    xs = np.arange(-7.0, 7.01, 0.25)
    ys = np.arange(-6.0, 6.01, 0.25)
    left = rasterise_plane([np.array([a, b, c])], xs, ys).astype(int)
    right = rasterise_plane([np.array([a, c, d])], xs, ys).astype(int)
    whole = rasterise_plane([np.array([a, b, c, d])], xs, ys).astype(int)
    assert np.array_equal(left + right, whole)


def test_a_hole_and_its_filling_partition_the_outer_contour():
    xs = np.arange(-8.0, 8.1, 1.0)
    ys = np.arange(-8.0, 8.1, 1.0)
    outer, hole = rect(-6, 6, -5, 7), rect(-2, 3, -1, 2, ccw=False)
    ring = rasterise_plane([outer, hole], xs, ys).astype(int)
    filling = rasterise_plane([hole], xs, ys).astype(int)
    assert np.array_equal(ring + filling, rasterise_plane([outer], xs, ys).astype(int))
    # a hole sharing part of an edge with its outer contour
    notch = rect(-6, -2, -1, 2, ccw=False)
    ring = rasterise_plane([outer, notch], xs, ys).astype(int)
    filling = rasterise_plane([notch], xs, ys).astype(int)
    assert np.array_equal(ring + filling, rasterise_plane([outer], xs, ys).astype(int))


def test_fill_agrees_with_crossing_number_test_on_ties():
    # even rows: the crossing-number test's half-open rule; odd rows: its mirror image
    polys = [np.array([(-5.0, -4.0), (6.0, -3.0), (4.0, 5.0), (-3.0, 3.0)]), rect(-1, 2, -1, 1)]
    xs = np.arange(-7.0, 7.01, 0.5)
    ys = np.arange(-6.0, 6.01, 0.5)
    mask = rasterise_plane(polys, xs, ys)
    xx, yy = np.meshgrid(xs, ys)
    pts = np.stack([xx.ravel(), yy.ravel()], axis=1)
    right = points_in_polygons(pts, polys).reshape(mask.shape)
    mirrored = [p * [-1.0, 1.0] for p in polys]
    left = points_in_polygons(pts * [-1.0, 1.0], mirrored).reshape(mask.shape)
    assert np.array_equal(mask[0::2], right[0::2])
    assert np.array_equal(mask[1::2], left[1::2])
    assert not np.array_equal(right, left)  # there are ties


half_mm = st.integers(-16, 16).map(lambda k: k / 2)


@settings(max_examples=40, deadline=None)
@given(xcut=half_mm, ycut=half_mm, tip=st.tuples(half_mm, half_mm))
def test_cutting_a_polygon_on_sample_positions_loses_and_doubles_nothing(xcut, ycut, tip):
    # a pentagon with a free vertex, cut into four by lines through sample positions
    x0, x1, y0, y1 = -9.0, 9.0, -9.0, 9.0
    xcut, ycut = min(max(xcut, x0 + 0.5), x1 - 0.5), min(max(ycut, y0 + 0.5), y1 - 0.5)
    xs = np.arange(-10.0, 10.01, 0.5)
    ys = np.arange(-10.0, 10.01, 0.5)
    whole = rasterise_plane([rect(x0, x1, y0, y1)], xs, ys).astype(int)
    pieces = [
        rect(x0, xcut, y0, ycut),
        rect(xcut, x1, y0, ycut, ccw=False),
        rect(x0, xcut, ycut, y1),
        rect(xcut, x1, ycut, y1),
    ]
    total = sum(rasterise_plane([p], xs, ys).astype(int) for p in pieces)
    assert np.array_equal(total, whole)
    # a triangle fan around a free point inside: shared slanted edges between the pieces
    px, py = min(max(tip[0], x0 + 0.5), x1 - 0.5), min(max(tip[1], y0 + 0.5), y1 - 0.5)
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    fan = [np.array([corners[i], corners[(i + 1) % 4], (px, py)]) for i in range(4)]
    total = sum(rasterise_plane([p], xs, ys).astype(int) for p in fan)
    assert np.array_equal(total, whole)


def test_neighbouring_structures_sharing_a_face_on_sub_samples_count_it_once():
    # x = -1 mm is a sub-sample position of the 2 mm grid (origin -19) at supersampling 3
    zs = np.arange(-4.0, 4.1, 2.0)
    g = grid()
    left = structure_mask(prism([rect(-7, -1, -4, 4)], zs), g, 3)
    right = structure_mask(prism([rect(-1, 5, -4, 4)], zs), g, 3)
    whole = structure_mask(prism([rect(-7, 5, -4, 4)], zs), g, 3)
    assert np.array_equal(_aligned(left, whole) + _aligned(right, whole), whole.counts.astype(int))
    assert whole.rasterised_volume_cc == pytest.approx(
        left.rasterised_volume_cc + right.rasterised_volume_cc, rel=1e-12
    )


def test_all_planes_at_once_fill_exactly_as_one_plane_at_a_time():
    # islands, holes, shared edges and vertices on sample rows/columns, both row parities
    planes = [
        [square(0, 0, 3)],
        [square(0, 0, 4), square(0, 0, 2, ccw=False)],
        [rect(-4, 0, -3, 5), rect(0, 4, -3, 5)],
        [np.array([[-3.3, -2.1], [2.7, -1.9], [0.4, 3.6]])],
        [],
    ]
    xs = np.arange(-5.0, 5.01, 0.5)
    ys = np.arange(-5.0, 6.01, 1.0 / 3.0)
    for row0 in (0, 1):
        stack = rasterise_planes(planes, xs, ys, row0)
        assert stack.shape == (len(planes), len(ys), len(xs))
        for p, polys in enumerate(planes):
            one = rasterise_plane(polys, xs, ys, row0) if polys else np.zeros_like(stack[p])
            assert np.array_equal(stack[p], one)


def test_mask_does_not_depend_on_how_layers_are_chunked(monkeypatch):
    import rtcheck.dvhcalc.rasterise as rasterise

    # planes of different sizes, each with a hole, on 2 mm planes over a 1 mm grid
    contours = [
        Contour(z, poly)
        for i, z in enumerate(np.arange(0.0, 12.0, 2.0))
        for poly in (square(0.3, -0.2, 3.0 + 0.4 * i), square(0.3, -0.2, 1.0, ccw=False))
    ]
    st_ = Structure(1, "ROI", tuple(contours))
    g = grid(spacing=(1.0, 1.0, 1.0), n=(16, 16, 16), origin=(-7.5, -7.5, -2.0))
    whole = structure_mask(st_, g, 3, "half_slice")
    monkeypatch.setattr(rasterise, "_RASTER_CHUNK_BYTES", 1)  # one layer per chunk
    chunked = structure_mask(st_, g, 3, "half_slice")
    assert np.array_equal(whole.counts, chunked.counts)
    assert np.array_equal(whole.boundary_voxels, chunked.boundary_voxels)
    assert np.array_equal(whole.boundary_inside, chunked.boundary_inside)
    assert whole.counts.sum() > 0


def test_polygons_clipped_to_the_grid_in_one_batch_have_their_closed_form_areas():
    from rtcheck.dvhcalc.polygons import clipped_polygon_areas_mm2

    polys = [
        square(0, 0, 2),  # 4 × 4, half of it at x ≥ 0
        rect(1, 3, 1, 2),  # inside: 2 × 1
        rect(10, 12, 0, 1),  # outside
        np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]),  # right triangle, legs 4
    ]
    got = clipped_polygon_areas_mm2(polys, (0.0, 5.0), (-5.0, 2.0))
    # the triangle below y = 2: area 8 minus the top triangle (legs 2) = 6
    assert got == pytest.approx([8.0, 2.0, 0.0, 6.0], abs=1e-12)


@pytest.mark.parametrize("s", [1, 2, 3, 4])
def test_packed_fill_holds_the_same_samples_as_the_boolean_fill(s):
    # islands, holes, shared edges, vertices on sample rows/columns; boundaries at every
    # offset inside a group of s columns, several inside one group (a narrow sliver)
    planes = [
        [square(0, 0, 3)],
        [square(0, 0, 4), square(0, 0, 2, ccw=False)],
        [rect(-4, 0, -3, 5), rect(0, 4, -3, 5)],
        [np.array([[-3.3, -2.1], [2.7, -1.9], [0.4, 3.6]])],
        [rect(0.1, 0.3, -4, 4)],
    ]
    xs = -5.0 + 0.25 * np.arange(40 // s * s)
    ys = np.arange(-5.0, 6.01, 1.0 / 3.0)
    for row0 in (0, 1):
        full = rasterise_planes(planes, xs, ys, row0)
        packed = rasterise_planes_packed(planes, xs, ys, s, row0)
        assert packed.shape == (len(planes), len(ys), len(xs) // s)
        bits = (packed[..., None] >> np.arange(s)) & 1  # bit a: column v·s + a
        assert np.array_equal(bits.reshape(full.shape).astype(bool), full)
        assert full.any(axis=(1, 2)).all()


@pytest.mark.parametrize("end_cap", ["half_slice", "none"])
@pytest.mark.parametrize("contour_step", [1.0, 3.0])
def test_mask_sub_samples_equal_a_sub_sample_by_sub_sample_fill(end_cap, contour_step):
    # Independent reference: every sub-sample height takes its contour plane (the
    # rasteriser's plane_of_subz: slab limits, end caps), every plane is filled on its own
    # (rasterise_plane), and the voxels' counts and boundary masks are read off the full
    # sub-sample volume. Contours every 1 mm on a 3 mm dose grid make every layer "mixed"
    # (its three sub-sample heights in three planes, or in none at the ends); planes differ
    # (a square growing with z, a hole on some planes), so a sub-sample taken from the
    # wrong plane changes the result.
    from rtcheck.dvhcalc.rasterise import Rasteriser

    zs = np.arange(-6.0, 6.01, contour_step)
    contours = []
    for i, z in enumerate(zs):
        contours.append(Contour(float(z), square(0.4, -0.3, 3.0 + 0.25 * i)))
        if i % 3 == 1:
            contours.append(Contour(float(z), square(0.4, -0.3, 1.2, ccw=False)))
    st_ = Structure(1, "ROI", tuple(contours))
    g = grid(spacing=(1.5, 1.5, 3.0), n=(14, 14, 8), origin=(-9.7, -9.9, -10.4))
    s = 3
    mask = structure_mask(st_, g, s, end_cap)
    planes = contour_planes(st_)
    r = Rasteriser(planes, g, s, None)
    plane_idx = r.plane_of_subz(end_cap)
    nz, ny, nx = r.shape
    full = np.zeros((nz * s, ny * s, nx * s), dtype=bool)
    for h, p in enumerate(plane_idx):
        if p >= 0:
            full[h] = rasterise_plane(planes[p].polygons, r.xs, r.ys, r.yb[0] * s)
    blocks = full.reshape(nz, s, ny, s, nx, s).transpose(0, 2, 4, 1, 3, 5)
    counts = blocks.reshape(nz, ny, nx, -1).sum(axis=3)
    boundary = np.flatnonzero((counts > 0) & (counts < s**3))
    assert np.array_equal(mask.counts, counts)
    assert np.array_equal(mask.boundary_voxels, boundary)
    assert np.array_equal(mask.boundary_inside, blocks.reshape(-1, s, s, s)[boundary])
    assert boundary.size > 0 and (counts == s**3).any()


def _nested_plane_sets(seed: int, n_sets: int) -> list[tuple[np.ndarray, ...]]:
    """Random planes of 1–5 contours: circles and squares, nested or apart, vertices on
    round values (shared rows and columns), some clockwise."""
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(n_sets):
        polys = []
        for _c in range(int(rng.integers(1, 6))):
            cx, cy = rng.integers(-3, 4, 2)
            if rng.random() < 0.5:
                t = np.linspace(0, 2 * np.pi, int(rng.integers(5, 13)), endpoint=False)
                r = float(rng.integers(1, 6))
                pts = np.round(np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1), 1)
            else:
                pts = square(float(cx), float(cy), float(rng.integers(1, 5)))
            polys.append(pts if rng.random() < 0.7 else pts[::-1])
        sets.append(tuple(polys))
    return sets


@pytest.mark.parametrize("batch_pairs", [1, 200, 1 << 20])
def test_nesting_signs_of_many_planes_equal_each_planes_crossing_number_depth(
    monkeypatch, batch_pairs
):
    # the batched test (planes with several contours together, in batches of any size)
    # against each plane's own crossing-number test of its contours' first vertices
    import rtcheck.dvhcalc.polygons as polygons

    monkeypatch.setattr(polygons, "_NESTING_BATCH_PAIRS", batch_pairs)
    sets = _nested_plane_sets(11, 300)
    got = polygons.nesting_signs_of_planes(sets)
    holes = 0
    for polys, signs in zip(sets, got, strict=True):
        inside = polygons._inside_each_polygon(np.array([p[0] for p in polys]), polys)
        np.fill_diagonal(inside, False)
        expected = np.where(inside.sum(axis=1) % 2 == 0, 1.0, -1.0)
        assert signs.dtype == expected.dtype and np.array_equal(signs, expected)
        holes += int((signs < 0).any())
    assert holes > 30


def test_contour_planes_give_planes_with_several_contours_their_nesting_signs():
    polys = (square(0, 0, 4), square(0, 0, 2, ccw=False), square(0, 0, 1), square(9, 0, 1))
    st_ = prism(polys, [0.0, 2.0])
    for plane in contour_planes(st_):
        assert np.array_equal(plane.nesting_signs, [1.0, -1.0, 1.0, 1.0])
        assert plane.area_mm2 == pytest.approx(64 - 16 + 4 + 4)


def test_next_points_follow_each_polygon_round_as_the_successor_index():
    from rtcheck.dvhcalc.polygons import next_points, successor_index

    sizes = [3, 0, 5, 1, 4]
    points = np.arange(2 * sum(sizes), dtype=float).reshape(-1, 2)
    assert np.array_equal(next_points(points, sizes), points[successor_index(sizes)])
    assert np.array_equal(next_points(points[:, 0], sizes), points[successor_index(sizes), 0])


def test_spliced_variant_voxels_are_in_the_order_of_a_sort():
    from rtcheck.dvhcalc.masks import _spliced

    rng = np.random.default_rng(5)
    layer = rng.integers(0, 40, 500)
    flat = np.unique(layer * 1000 + rng.integers(0, 1000, 500))
    changed = np.isin(flat // 1000, [0, 1, 2, 17, 38, 39])
    kept, new = flat[~changed], flat[changed]
    sub = rng.random((flat.size, 2, 2, 2)) < 0.5
    kept_sub, new_sub = sub[~changed], sub[changed]
    half = len(new) // 2  # the new voxels in two chunks
    vox, inside = _spliced(kept, kept_sub, [new[:half], new[half:]], [new_sub[:half], new_sub[half:]])
    assert np.array_equal(np.concatenate(vox), flat)
    assert np.array_equal(np.concatenate(inside), sub)
    vox, inside = _spliced(kept, kept_sub, [new[:0]], [new_sub[:0]])
    assert np.array_equal(np.concatenate(vox), kept)


def test_polygon_areas_in_one_batch_are_the_closed_form_signed_areas():
    from rtcheck.dvhcalc.polygons import polygon_areas_mm2

    polys = [
        square(3.0, -2.0, 2.0),  # 4 × 4, counter-clockwise
        square(100.0, 250.0, 0.5, ccw=False),  # 1 × 1 far from the origin, clockwise
        np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 3.0]]),  # right triangle, legs 6 and 3
    ]
    assert polygon_areas_mm2(polys) == pytest.approx([16.0, -1.0, 9.0], rel=1e-12)


def test_a_degenerate_contour_among_good_ones_is_named_by_its_position():
    good = Contour(0.0, square(0, 0, 2))
    flat = Contour(2.0, np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))
    with pytest.raises(GeometryError, match=r"contour 2 at z = 2 mm has zero area"):
        contour_planes(Structure(3, "ROI", (good, flat, Contour(4.0, square(0, 0, 2)))))
