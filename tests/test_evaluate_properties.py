"""Property tests (Hypothesis) for evaluation levels and name matching."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcheck.constraints import parse_metric, shipped_names
from rtcheck.evaluate import evaluate_constraint
from rtcheck.models import DVH, Comparison, Confidence, Constraint, Level, LimitKind, Unit

doses = st.lists(st.floats(0.0, 60.0, allow_nan=False), min_size=5, max_size=60)


def dvh_from(samples, shift):
    dose = np.array(samples)
    volume = np.full(dose.size, 0.1)
    variant = DVH("v", 1, dose + shift, volume)
    return DVH("Organ", 1, dose, volume, variants=(variant,))


def dmax_row(limit, comparison="<"):
    return Constraint(
        organ="SpinalCord",
        metric=parse_metric("D0.2cc"),
        comparison=Comparison(comparison),
        limit=limit,
        limit_unit=Unit.GY,
        kind=LimitKind.HARD,
        source="test",
        confidence=Confidence.VERIFIED,
    )


@settings(max_examples=200, deadline=None)
@given(doses, st.floats(0.0, 60.0), st.floats(0.0, 2.0))
def test_pass_only_with_margin_beyond_uncertainty(samples, limit, shift):
    result = evaluate_constraint(dmax_row(limit), dvh_from(samples, shift))
    if result.level is Level.PASS:
        assert result.value < limit
        assert result.margin > result.uncertainty
    if result.level is Level.FAIL:
        assert result.value >= limit
    if result.level is Level.INDETERMINATE:
        assert result.value < limit


@settings(max_examples=200, deadline=None)
@given(doses, st.floats(0.0, 60.0), st.floats(0.1, 10.0), st.floats(0.0, 2.0))
def test_a_stricter_limit_never_improves_the_level(samples, limit, tighter_by, shift):
    dvh = dvh_from(samples, shift)
    loose = evaluate_constraint(dmax_row(limit), dvh)
    strict = evaluate_constraint(dmax_row(limit - tighter_by), dvh)
    assert strict.level.severity >= loose.level.severity


ALIASES = ["Cord", "spinal cord", "Lung_Both", "Lungs-GTV", "Kidney Lt", "Oesophagus", "SmallBowel", "Cord+5mm", "Left Lung"]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(ALIASES), st.sampled_from(["upper", "lower", "same"]), st.sampled_from(["", " ", "  "]))
def test_matching_ignores_case_and_surrounding_space(name, case, pad):
    names = shipped_names()
    variant = {"upper": name.upper(), "lower": name.lower(), "same": name}[case]
    assert names.match(pad + variant + pad).canonical == names.match(name).canonical is not None
