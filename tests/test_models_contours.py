"""Contour.many (one ROI's contours built at once) against the one-by-one constructor."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rtcheck.models import Contour, ContourType


def _rings(counts):
    rng = np.random.default_rng(7)
    return [rng.normal(size=(n, 2)) * 20.0 for n in counts]


def test_many_gives_the_same_contours_as_the_constructor():
    counts = [4, 1, 7, 3]
    rings = _rings(counts)
    zs = [0.0, 2.5, -1.25, 7.0]
    kinds = [
        ContourType.CLOSED_PLANAR,
        ContourType.POINT,
        ContourType.OPEN_PLANAR,
        ContourType.OPEN_NONPLANAR,
    ]
    batch = Contour.many(zs, np.concatenate(rings), counts, kinds)
    single = [
        Contour(z_mm=z, points_mm=r, geometric_type=k)
        for z, r, k in zip(zs, rings, kinds, strict=True)
    ]
    assert len(batch) == len(single)
    names = [f.name for f in dataclasses.fields(Contour)]
    for b, s in zip(batch, single, strict=True):
        assert type(b) is Contour
        for name in names:
            bv, sv = getattr(b, name), getattr(s, name)
            if isinstance(sv, np.ndarray):
                assert bv.dtype == sv.dtype and bv.shape == sv.shape
                assert np.array_equal(bv, sv)
                assert not bv.flags.writeable and bv.flags.c_contiguous
            else:
                assert type(bv) is type(sv) and bv == sv
        assert b.signed_area_mm2 == s.signed_area_mm2


def test_many_does_not_share_the_callers_array():
    points = np.concatenate(_rings([3, 3]))
    batch = Contour.many([0.0, 1.0], points, [3, 3], [ContourType.CLOSED_PLANAR] * 2)
    points[:] = 0.0
    assert np.any(batch[0].points_mm != 0.0)
    with pytest.raises(ValueError):
        batch[1].points_mm[0, 0] = 1.0


@pytest.mark.parametrize(
    ("zs", "points", "message"),
    [
        (
            [0.0, 1.0],
            np.array([[0.0, 0.0], [1.0, np.nan], [2.0, 2.0]]),
            "contour coordinates must be finite",
        ),
        ([0.0, np.inf], np.zeros((3, 2)), "contour coordinates must be finite"),
        ([0.0, 1.0], np.zeros((3, 3)), r"contour points must be an \(N, 2\) array"),
    ],
)
def test_many_refuses_what_the_constructor_refuses(zs, points, message):
    with pytest.raises(ValueError, match=message):
        Contour.many(zs, points, [1, 2], [ContourType.CLOSED_PLANAR] * 2)


def test_many_refuses_counts_that_do_not_cover_the_points():
    with pytest.raises(ValueError, match="every row"):
        Contour.many([0.0, 1.0], np.zeros((4, 2)), [1, 2], [ContourType.CLOSED_PLANAR] * 2)
