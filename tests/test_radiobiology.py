"""BED / EQD2 and their inverses: hand-computed values and LQ-model properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcheck import radiobiology as rb
from rtcheck.models import DVH, DoseGrid

# -- hand-computed values ------------------------------------------------------------------


def test_8gy_single_fraction_alpha_beta_2():
    # BED = 8 * (1 + 8/2) = 40 Gy2; EQD2 = 40 / (1 + 2/2) = 20 Gy
    assert rb.bed(8, 1, 2) == pytest.approx(40.0)
    assert rb.eqd2(8, 1, 2) == pytest.approx(20.0)


def test_8gy_single_fraction_other_alpha_beta():
    # α/β 3: BED = 8 * (1 + 8/3) = 29.333; EQD2 = BED / (5/3) = 17.6
    assert rb.bed(8, 1, 3) == pytest.approx(8 * (1 + 8 / 3))
    assert rb.eqd2(8, 1, 3) == pytest.approx(17.6)
    # α/β 10: BED = 8 * 1.8 = 14.4; EQD2 = 14.4 / 1.2 = 12
    assert rb.eqd2(8, 1, 10) == pytest.approx(12.0)


def test_two_gray_fractions_are_their_own_eqd2():
    assert rb.eqd2(50, 25, 3) == pytest.approx(50.0)
    assert rb.eqd2(50, 25, 0.87) == pytest.approx(50.0)


def test_cumulative_bed_is_sum_of_course_beds():
    # 20 Gy / 5 fx: d = 4, BED = 20 * (1 + 4/2) = 60 Gy2
    # 24 Gy / 2 fx: d = 12, BED = 24 * (1 + 12/2) = 168 Gy2
    course_1 = rb.bed(20, 5, 2)
    course_2 = rb.bed(24, 2, 2)
    assert course_1 == pytest.approx(60.0)
    assert course_2 == pytest.approx(168.0)
    assert course_1 + course_2 == pytest.approx(228.0)
    # cumulative EQD2 = 228 / 2 = 114 Gy, the sum of each course's EQD2 (30 + 84)
    assert rb.eqd2(20, 5, 2) + rb.eqd2(24, 2, 2) == pytest.approx(114.0)
    # summing the physical doses first would be wrong: 44 Gy in 7 fx is BED 182.3, not 228
    assert rb.bed(44, 7, 2) != pytest.approx(228.0)


def test_inverse_hand_computed():
    # EQD2 20 Gy in 1 fx at α/β 2 -> 8 Gy; BED 60 Gy2 in 5 fx -> 4 Gy per fraction
    assert rb.dose_per_fraction_for_eqd2(20, 1, 2) == pytest.approx(8.0)
    assert rb.total_dose_for_eqd2(20, 1, 2) == pytest.approx(8.0)
    assert rb.dose_per_fraction_for_bed(60, 5, 2) == pytest.approx(4.0)
    assert rb.total_dose_for_bed(60, 5, 2) == pytest.approx(20.0)
    # Nieder 2006: cumulative cord BED 135.5 Gy2 == EQD2 67.75 Gy
    assert rb.eqd2_from_bed(135.5, 2) == pytest.approx(67.75)
    assert rb.bed_from_eqd2(67.75, 2) == pytest.approx(135.5)


def test_zero_dose():
    assert rb.bed(0, 1, 2) == 0.0
    assert rb.dose_per_fraction_for_bed(0, 3, 2) == 0.0


def test_vectorised_and_broadcast():
    out = rb.eqd2(np.array([8.0, 20.0, 24.0]), np.array([1, 5, 2]), 2)
    np.testing.assert_allclose(out, [20.0, 30.0, 84.0])
    assert isinstance(out, np.ndarray)
    grid = rb.bed(np.full((2, 3), 8.0), 1, np.array([2.0, 3.0, 10.0]))
    np.testing.assert_allclose(grid[0], [40.0, 8 * (1 + 8 / 3), 14.4])
    assert isinstance(rb.bed(8, 1, 2), float)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(total_gy=-1, fractions=1, alpha_beta_gy=2), "total_gy"),
        (dict(total_gy=8, fractions=0, alpha_beta_gy=2), "fractions"),
        (dict(total_gy=8, fractions=1.5, alpha_beta_gy=2), "fractions"),
        (dict(total_gy=8, fractions=1, alpha_beta_gy=0), "alpha_beta"),
        (dict(total_gy=8, fractions=1, alpha_beta_gy=-3), "alpha_beta"),
        (dict(total_gy=float("nan"), fractions=1, alpha_beta_gy=2), "total_gy"),
        (dict(total_gy=np.array([1.0, -2.0]), fractions=1, alpha_beta_gy=2), "total_gy"),
    ],
)
def test_invalid_inputs_name_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        rb.bed(**kwargs)


def test_inverse_rejects_negative_target():
    with pytest.raises(ValueError, match="eqd2_gy"):
        rb.total_dose_for_eqd2(-5, 1, 2)


def test_convert_dvh_converts_samples_with_the_given_alpha_beta():
    dvh = DVH("SpinalCord", 3, dose_gy=np.array([8.0, 4.0, 0.0]), volume_cc=np.array([0.1, 0.2, 0.3]))
    converted = rb.convert_dvh(dvh, fractions=1, alpha_beta_gy=2)
    # 8 Gy -> 20 Gy; 4 Gy -> 4*(1+2)/2 = 6 Gy; 0 -> 0
    np.testing.assert_allclose(converted.dose_gy, [20.0, 6.0, 0.0])
    np.testing.assert_allclose(converted.volume_cc, dvh.volume_cc)
    assert "EQD2" in converted.settings and "α/β 2" in converted.settings
    assert rb.convert_dvh(dvh, 1, 2, rb.Quantity.BED).max_gy() == pytest.approx(40.0)


def test_convert_grid():
    grid = DoseGrid(np.full((1, 1, 2), 8.0), x_mm=[0.0, 1.0], y_mm=[0.0], z_mm=[0.0])
    converted = rb.convert_grid(grid, 1, 2)
    np.testing.assert_allclose(converted.dose_gy, 20.0)
    assert converted.dose_type == "EFFECTIVE"
    with pytest.raises(ValueError, match="PHYSICAL"):
        rb.convert_grid(converted, 1, 2)


# -- properties ----------------------------------------------------------------------------

doses = st.floats(min_value=0.0, max_value=200.0, allow_nan=False)
fractions = st.integers(min_value=1, max_value=40)
alpha_betas = st.floats(min_value=0.5, max_value=20.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(doses, doses, fractions, alpha_betas)
def test_bed_is_monotonic_in_dose(d1, d2, n, ab):
    low, high = sorted((d1, d2))
    assert rb.bed(low, n, ab) <= rb.bed(high, n, ab)
    assert rb.eqd2(low, n, ab) <= rb.eqd2(high, n, ab)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(doses, fractions), min_size=1, max_size=4), alpha_betas)
def test_bed_is_additive_over_courses(courses, ab):
    # each course's BED computed independently, by the formula, then summed
    by_hand = sum(total * (1 + (total / n) / ab) for total, n in courses)
    totals = np.array([c[0] for c in courses])
    ns = np.array([c[1] for c in courses])
    assert float(np.sum(rb.bed(totals, ns, ab))) == pytest.approx(by_hand, rel=1e-12, abs=1e-9)
    eqd2_sum = float(np.sum(rb.eqd2(totals, ns, ab)))
    assert eqd2_sum == pytest.approx(by_hand / (1 + 2 / ab), rel=1e-12, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.0, max_value=30.0), fractions, alpha_betas)
def test_eqd2_round_trips_through_the_inverse(d, n, ab):
    e = rb.eqd2(n * d, n, ab)
    assert rb.dose_per_fraction_for_eqd2(e, n, ab) == pytest.approx(d, rel=1e-9, abs=1e-9)
    assert rb.total_dose_for_eqd2(e, n, ab) == pytest.approx(n * d, rel=1e-9, abs=1e-9)
    b = rb.bed(n * d, n, ab)
    assert rb.total_dose_for_bed(b, n, ab) == pytest.approx(n * d, rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=0.0, max_value=300.0), fractions, alpha_betas)
def test_inverse_solves_the_quadratic(target_bed, n, ab):
    d = rb.dose_per_fraction_for_bed(target_bed, n, ab)
    assert d >= 0
    assert n * d * (1 + d / ab) == pytest.approx(target_bed, rel=1e-9, abs=1e-9)
    # the textbook form of the root agrees
    assert d == pytest.approx(ab / 2 * (math.sqrt(1 + 4 * target_bed / (n * ab)) - 1), rel=1e-6, abs=1e-6)
