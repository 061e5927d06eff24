"""rtcheck.validation.phantoms: the closed-form truth is checked against textbook formulas, not rtcheck."""

from __future__ import annotations

import numpy as np
import pytest

from rtcheck.validation.phantoms import (
    GRADIENTS,
    SHAPES,
    Shape,
    make_phantom,
    shape_for_volume,
    standard_phantom_set,
)


def shoelace(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@pytest.mark.parametrize("kind", SHAPES)
def test_shapes_have_the_requested_ideal_volume(kind):
    for vol in (0.1, 5.0, 500.0):
        p = make_phantom(shape_for_volume(kind, vol), slice_mm=1.0, grid_mm=3.0)
        assert p.truth("ideal").volume_cc == pytest.approx(vol, rel=2e-3)


def test_sphere_in_x_gradient_is_a_spherical_cap():
    r = 10.0
    p = make_phantom(
        Shape("sphere", (1.0, 2.0, 3.0), (r,)), slice_mm=2.0, grid_mm=2.0, gradient="x"
    )
    truth = p.truth("ideal")
    g = p.dose_model.gradient_gy_per_mm
    assert truth.max_gy == pytest.approx(50 + g * r) and truth.min_gy == pytest.approx(50 - g * r)
    assert truth.mean_gy == pytest.approx(50.0, abs=1e-6)
    for h in (1.0, 4.0, 10.0, 17.0):  # cap height: dose >= D(x = centre + r - h)
        dose = 50 + g * (r - h)
        cap_cc = np.pi * h * h * (3 * r - h) / 3 / 1000
        assert truth.cumulative_cc(dose)[0] == pytest.approx(cap_cc, rel=1e-3)


def test_cylinder_along_z_in_x_gradient_is_circular_segment_times_height():
    r, length = 8.0, 20.0
    p = make_phantom(
        Shape("cylinder_z", (0.0, 0.0, 0.0), (r, length)), slice_mm=2.0, grid_mm=2.0, gradient="x"
    )
    g = p.dose_model.gradient_gy_per_mm
    for d in (-6.0, 0.0, 3.0, 7.5):  # x >= d
        segment = r * r * np.arccos(d / r) - d * np.sqrt(r * r - d * d)
        for conv in ("ideal", "half_slice"):
            # planes every 2 mm from -10 to 10: the half-slice stack is 22 mm tall
            height = length if conv == "ideal" else length + 2.0
            assert p.truth(conv).cumulative_cc(50 + g * d)[0] == pytest.approx(
                segment * height / 1000, rel=1e-6
            )


def test_box_dvh_is_linear_in_its_gradient():
    p = make_phantom(
        Shape("box", (0.0, 0.0, 0.0), (10.0, 20.0, 8.0)), slice_mm=2.0, grid_mm=2.0, gradient="y"
    )
    t = p.truth("half_slice")  # planes at -4..4: 5 planes, 10 mm tall stack
    g = p.dose_model.gradient_gy_per_mm
    for y in (-10.0, -2.5, 0.0, 9.0):
        assert t.cumulative_cc(50 + g * y)[0] == pytest.approx(10 * (10 - y) * 10 / 1000)
    assert t.volume_cc == pytest.approx(10 * 20 * 10 / 1000)


def test_contoured_truth_volume_is_polygon_area_times_slab():
    p = make_phantom(shape_for_volume("cone", 30.0), slice_mm=3.0, grid_mm=2.0, plane_offset_mm=0.7)
    contours = p.structure.contours
    areas = np.array([shoelace(c.points_mm) for c in contours])
    assert p.truth("half_slice").volume_cc == pytest.approx(areas.sum() * 3.0 / 1000, rel=1e-6)
    ends = (areas[0] + areas[-1]) * 1.5 / 1000
    assert p.truth("none").volume_cc == pytest.approx(
        p.truth("half_slice").volume_cc - ends, rel=1e-6
    )


def test_mean_dose_is_consistent_with_the_cumulative_dvh():
    # Dmean = Dmin + ∫ V(D)/V dD over [Dmin, Dmax]
    for grad in ("x", "z"):
        p = make_phantom(shape_for_volume("cone", 10.0), slice_mm=2.0, grid_mm=2.0, gradient=grad)
        t = p.truth("half_slice")
        d = np.linspace(t.min_gy, t.max_gy, 20001)
        v = t.cumulative_cc(d)
        integral = float(np.sum((v[1:] + v[:-1]) / 2 * np.diff(d)))
        assert t.min_gy + integral / t.volume_cc == pytest.approx(t.mean_gy, abs=1e-3)


def test_dose_grid_is_the_linear_model_and_positive():
    p = make_phantom(shape_for_volume("sphere", 500.0), slice_mm=3.0, grid_mm=3.0, gradient="z")
    zz = np.broadcast_to(p.dose.z_mm[:, None, None], p.dose.shape)
    assert np.allclose(p.dose.dose_gy, 50 + 0.5 * (zz - p.shape.center_mm[2]))
    assert p.dose.dose_gy.min() > 0


def test_circles_are_equal_area_polygons():
    p = make_phantom(Shape("cylinder_z", (0.0, 0.0, 0.0), (5.0, 10.0)), slice_mm=2.0, grid_mm=2.0)
    assert shoelace(p.structure.contours[0].points_mm) == pytest.approx(np.pi * 25.0, rel=1e-12)


def test_dose_at_volume_inverts_the_cumulative_dvh():
    t = make_phantom(shape_for_volume("sphere", 5.0), gradient="x").truth("half_slice")
    d50 = t.dose_at_volume_cc(t.volume_cc / 2)
    assert t.cumulative_cc(d50)[0] == pytest.approx(t.volume_cc / 2, rel=1e-6)


def test_standard_set_is_deterministic_and_covers_the_design():
    a = standard_phantom_set(volumes_cc=(0.1, 500.0), grids_mm=(1.0, 3.0))
    b = standard_phantom_set(volumes_cc=(0.1, 500.0), grids_mm=(1.0, 3.0))
    assert [p.name for p in a] == [p.name for p in b]
    assert all(np.array_equal(p.dose.dose_gy, q.dose.dose_gy) for p, q in zip(a, b, strict=True))
    assert a[0].structure_set.sop_instance_uid == b[0].structure_set.sop_instance_uid
    assert {p.shape.kind for p in a} == set(SHAPES)
    assert {p.grid_mm for p in a} == {1.0, 3.0}
    assert all(len({c.z_mm for c in p.structure.contours}) >= 2 for p in a)
    full = standard_phantom_set(
        shapes=("box",), volumes_cc=(1.0,), grids_mm=(2.0,), gradients=GRADIENTS
    )
    assert [p.dose_model.axis for p in full] == [None, "x", "y", "z"]
