"""DVH construction and metrics against a plain reading of the documented conventions:
zero-volume samples dropped, samples stably sorted by descending dose, D at volume read on
the cumulative DVH with each sample's volume centred on its dose (np.interp over all
centres), mean dose the volume-weighted mean."""

from __future__ import annotations

import numpy as np
import pytest

from rtcheck.models import DVH


def _reference(dose, vol):
    dose = np.asarray(dose, dtype=float).ravel()
    vol = np.asarray(vol, dtype=float).ravel()
    keep = vol > 0
    dose, vol = dose[keep], vol[keep]
    order = np.argsort(-dose, kind="stable")
    return dose[order], vol[order]


def _reference_dose_at(dose, vol, v):
    cum = np.cumsum(vol)
    if dose.size == 0 or v > cum[-1] * (1 + 1e-9):
        return None
    return float(np.interp(v, cum - vol / 2.0, dose))


def _cases():
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 4, 5, 7, 50, 3000):
        dose = rng.uniform(0.0, 70.0, n)
        vol = rng.uniform(0.001, 0.05, n)
        yield dose, vol  # unsorted
        yield np.sort(dose)[::-1], vol  # sorted, a reversed view
        ties = np.round(dose / 10.0) * 10.0  # many equal doses: stable order matters
        yield ties, vol
        zeros = vol.copy()
        zeros[rng.random(n) < 0.3] = 0.0
        yield dose, zeros
        yield np.sort(ties)[::-1], zeros
        yield dose.astype(np.float32), vol.tolist()
    yield np.zeros(0), np.zeros(0)
    yield np.array([5.0, 4.0]), np.zeros(2)  # every sample without volume
    yield rng.uniform(0, 1, (6, 5)), rng.uniform(0.1, 1, 30)


def test_samples_and_metrics_follow_the_conventions():
    for dose_in, vol_in in _cases():
        h = DVH("x", 1, dose_in, vol_in)
        dose, vol = _reference(dose_in, vol_in)
        np.testing.assert_array_equal(h.dose_gy, dose)
        np.testing.assert_array_equal(h.volume_cc, vol)
        total = float(np.cumsum(vol)[-1]) if vol.size else 0.0
        assert h.volume_with_dose_cc == total
        if vol.size:
            assert h.mean_gy() == pytest.approx(float(np.dot(dose, vol) / total), rel=1e-12)
            assert h.max_gy() == dose.max() and h.min_gy() == dose.min()
        else:
            assert h.mean_gy() is None and h.max_gy() is None
        centres = np.cumsum(vol) - vol / 2.0
        volumes = [0.0, 0.035, 1e-12, total, total * (1 + 5e-10), total * 2, *centres[:5]]
        volumes += list(centres[-3:]) + list(np.cumsum(vol)[:5])
        for v in volumes:
            assert h.dose_at_volume(cc=float(v)) == _reference_dose_at(dose, vol, float(v))
        for percent in (0.0, 1.0, 50.0, 100.0):
            v = percent / 100.0 * h.total_volume_cc
            assert h.dose_at_volume(percent=percent) == _reference_dose_at(dose, vol, v)


def test_dose_at_volume_on_long_flat_stretches():
    # equal volumes make runs of equal centres differences; a window must still find the
    # interval np.interp finds over all centres
    dose = np.repeat([60.0, 40.0, 20.0], 1000)
    vol = np.full(dose.size, 0.001)
    h = DVH("flat", None, dose, vol)
    for v in np.linspace(0.0, 3.0, 301):
        assert h.dose_at_volume(cc=float(v)) == _reference_dose_at(dose, vol, float(v))


def test_arrays_are_read_only_copies():
    dose, vol = np.array([3.0, 1.0, 2.0]), np.array([0.1, 0.2, 0.3])
    h = DVH("x", 1, dose, vol)
    assert not h.dose_gy.flags.writeable and not h.volume_cc.flags.writeable
    assert dose.flags.writeable and vol.flags.writeable  # the caller's arrays untouched
    sorted_dose, sorted_vol = np.array([3.0, 2.0, 1.0]), np.array([0.1, 0.2, 0.3])
    h = DVH("x", 1, sorted_dose, sorted_vol)
    assert sorted_dose.flags.writeable and not np.shares_memory(h.dose_gy, sorted_dose)
    assert not np.shares_memory(h.volume_cc, sorted_vol)
    sorted_dose[0] = 99.0
    assert h.dose_gy[0] == 3.0
    with pytest.raises(ValueError):
        h.dose_gy[0] = 1.0


BAD_SAMPLES = "DVH samples must be finite with non-negative volumes"


@pytest.mark.parametrize(
    "dose, vol",
    [
        ([np.nan], [1.0]),
        ([np.inf], [1.0]),
        ([-np.inf], [1.0]),
        ([3.0, np.nan, 1.0], [1.0, 1.0, 1.0]),
        ([np.nan, 3.0, 1.0], [1.0, 1.0, 1.0]),
        ([3.0, 1.0, np.nan], [1.0, 1.0, 1.0]),
        ([3.0, np.inf, 1.0], [1.0, 1.0, 1.0]),
        ([3.0, 2.0, -np.inf], [1.0, 1.0, 1.0]),
        ([3.0, np.nan, 1.0], [1.0, 0.0, 1.0]),  # no volume, still checked
        ([np.inf, 2.0], [0.0, 1.0]),
        ([np.nan], [0.0]),
        ([3.0, 2.0], [1.0, -1e-300]),
        ([3.0, 2.0], [-0.5, 1.0]),
        ([3.0, 2.0], [np.nan, 1.0]),
        ([3.0, 2.0], [1.0, np.inf]),
        ([3.0, 2.0], [0.0, -np.inf]),
    ],
)
def test_bad_samples_are_refused(dose, vol):
    with pytest.raises(ValueError, match=BAD_SAMPLES):
        DVH("x", 1, np.array(dose), np.array(vol))


def test_bad_samples_are_refused_before_bad_boundary_doses():
    with pytest.raises(ValueError, match=BAD_SAMPLES):
        DVH("x", 1, np.array([np.nan, 1.0]), np.ones(2), boundary_min_gy=5.0, boundary_max_gy=1.0)
    with pytest.raises(ValueError, match="boundary_min_gy must not exceed"):
        DVH("x", 1, np.array([2.0, 1.0]), np.ones(2), boundary_min_gy=5.0, boundary_max_gy=1.0)


def test_lengths_must_match():
    with pytest.raises(ValueError, match="same length"):
        DVH("x", 1, np.array([np.nan, 1.0]), np.array([1.0]))


def test_dose_grid_is_float64_whatever_the_input_dtype():
    # the DVH and the surface-extreme screen compare doses with float64 thresholds
    from rtcheck.models import DoseGrid

    axis = np.arange(3.0)
    for dtype in (np.float32, np.int32, np.float64):
        grid = DoseGrid(np.ones((3, 3, 3), dtype=dtype) * 7, axis, axis, axis)
        assert grid.dose_gy.dtype == np.float64
        assert np.all(grid.dose_gy == 7.0)
