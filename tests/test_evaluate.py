"""Evaluation levels on hand-built DVHs whose metrics are known in closed form.

The basic organ: 10 cc in 1000 samples of 0.01 cc with doses evenly spread over 0–20 Gy, so
the dose received by the hottest v cc is 20·(1 − v/10) Gy (to within one sample, 0.02 Gy),
the mean is 10 Gy, and the volume receiving at least x Gy is 10·(1 − x/20) cc.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rtcheck.constraints import parse_metric, shipped_names
from rtcheck.errors import GeometryError, UsageError
from rtcheck.evaluate import evaluate, evaluate_constraint, limit_in_table_quantity, overall_level
from rtcheck.models import (
    DVH,
    Comparison,
    Confidence,
    Constraint,
    ConstraintTable,
    DoseQuantity,
    Level,
    LimitKind,
    Unit,
)

SAMPLE = 0.02  # Gy: dose step between samples, the reading precision of the ramp organ


def ramp(name="Organ", top_gy=20.0, volume_cc=10.0, n=1000, outside_cc=0.0, shift_variant_gy=None, structure_volume_cc=None):
    dose = np.linspace(0.0, top_gy, n)
    variants = ()
    if shift_variant_gy is not None:
        variants = (DVH(name, 1, dose + shift_variant_gy, np.full(n, volume_cc / n)),)
    return DVH(
        name,
        1,
        dose,
        np.full(n, volume_cc / n),
        structure_volume_cc=structure_volume_cc if structure_volume_cc is not None else volume_cc + outside_cc,
        outside_grid_cc=outside_cc,
        variants=variants,
    )


def row(expr: str, organ="SpinalCord", kind=LimitKind.HARD, minor=None, quantity=DoseQuantity.PHYSICAL, ab=2.0):
    metric_text, op, value, *unit = expr.split()
    unit_text = " ".join(unit)
    unit_enum = {"Gy": Unit.GY, "cc": Unit.CC, "%": Unit.PERCENT}[unit_text.split()[0] if unit_text.startswith("Gy") else unit_text]
    return Constraint(
        organ=organ,
        metric=parse_metric(metric_text),
        comparison=Comparison(op),
        limit=float(value),
        limit_unit=unit_enum,
        limit_quantity=quantity if unit_enum is Unit.GY else None,
        kind=kind,
        minor_limit=minor,
        source="test",
        confidence=Confidence.VERIFIED,
        alpha_beta_gy=ab,
    )


# -- the metrics themselves --------------------------------------------------------------
@pytest.mark.parametrize(
    "expr, expected",
    [
        ("D1cc < 100 Gy", 18.0),  # 20·(1 − 1/10)
        ("D50% < 100 Gy", 10.0),
        ("Dmax < 100 Gy", 20 * (1 - 0.035 / 10)),
        ("Dmean < 100 Gy", 10.0),
        ("V15Gy < 100 cc", 2.5),  # 10·(1 − 15/20)
        ("V15Gy < 100 %", 25.0),
        ("CV5Gy >= 1 cc", 2.5),  # volume below 5 Gy
        ("CV5Gy >= 1 %", 25.0),
    ],
)
def test_metric_values_match_closed_form(expr, expected):
    result = evaluate_constraint(row(expr), ramp())
    assert result.level is Level.PASS
    assert result.value == pytest.approx(expected, abs=SAMPLE + 0.011)


def test_percent_of_prescription_dose_limit():
    # D1cc = 18 Gy = 90 % of a 20 Gy prescription
    result = evaluate_constraint(row("D1cc < 95 %"), ramp(), prescription_gy=20.0)
    assert result.value == pytest.approx(90.0, abs=0.2)
    assert result.level is Level.PASS


def test_relative_dose_threshold_uses_prescription():
    # V50% of a 20 Gy prescription is V10Gy = 5 cc
    result = evaluate_constraint(row("V50% < 6 cc"), ramp(), prescription_gy=20.0)
    assert result.value == pytest.approx(5.0, abs=0.02)


# -- levels --------------------------------------------------------------------------------
def test_pass_fail_and_margin_sign():
    passing = evaluate_constraint(row("D1cc < 19 Gy"), ramp())
    failing = evaluate_constraint(row("D1cc < 17 Gy"), ramp())
    assert passing.level is Level.PASS and passing.margin == pytest.approx(1.0, abs=SAMPLE)
    assert failing.level is Level.FAIL and failing.margin == pytest.approx(-1.0, abs=SAMPLE)


def test_lower_limit_critical_volume():
    assert evaluate_constraint(row("CV5Gy >= 2 cc"), ramp()).level is Level.PASS
    assert evaluate_constraint(row("CV5Gy >= 3 cc"), ramp()).level is Level.FAIL


def test_goal_missed_is_minor():
    assert evaluate_constraint(row("D1cc < 17 Gy", kind=LimitKind.GOAL), ramp()).level is Level.MINOR


def test_minor_band_then_major():
    # D1cc = 18 Gy: inside the band 17–18.5 → MINOR; band 17–17.5 → MAJOR
    assert evaluate_constraint(row("D1cc < 17 Gy", minor=18.5), ramp()).level is Level.MINOR
    assert evaluate_constraint(row("D1cc < 17 Gy", minor=17.5), ramp()).level is Level.MAJOR


def test_margin_inside_uncertainty_is_indeterminate_never_pass():
    # a variant 0.5 Gy hotter: D1cc = 18 ± 0.5 Gy; limit 18.3 Gy passes by 0.3 < 0.5
    dvh = ramp(shift_variant_gy=0.5)
    result = evaluate_constraint(row("D1cc < 18.3 Gy"), dvh)
    assert result.level is Level.INDETERMINATE
    assert result.uncertainty == pytest.approx(0.5, abs=1e-6)
    assert "uncertainty" in result.reason
    clear = evaluate_constraint(row("D1cc < 19 Gy"), dvh)
    assert clear.level is Level.PASS


def test_failure_within_uncertainty_stays_a_failure():
    # conservative: a value on the failing side is reported as failing even when close
    result = evaluate_constraint(row("D1cc < 17.8 Gy"), ramp(shift_variant_gy=0.5))
    assert result.level is Level.FAIL


# -- not evaluated -------------------------------------------------------------------------
def test_absent_organ_not_evaluated():
    result = evaluate_constraint(row("D1cc < 19 Gy"), None)
    assert result.level is Level.NOT_EVALUATED and result.value is None


def test_structure_without_dvh_not_evaluated_with_reason():
    err = GeometryError("ROI 'Cord' has only POINT contours; no volume")
    result = evaluate_constraint(row("D1cc < 19 Gy"), err)
    assert result.level is Level.NOT_EVALUATED
    assert "POINT" in result.reason


def test_metric_larger_than_organ_is_undefined_not_zero():
    # D2cc of a 1 cc organ is undefined
    result = evaluate_constraint(row("D2cc < 19 Gy"), ramp(volume_cc=1.0))
    assert result.level is Level.NOT_EVALUATED
    assert result.value is None
    assert "undefined" in result.reason


def test_organ_outside_dose_grid():
    dvh = DVH("Cord", 1, np.array([]), np.array([]), structure_volume_cc=5.0, outside_grid_cc=5.0)
    result = evaluate_constraint(row("D1cc < 19 Gy"), dvh)
    assert result.level is Level.NOT_EVALUATED
    assert result.coverage == 0.0
    assert "outside the dose grid" in result.reason


def test_partial_coverage_max_type_metric_cannot_pass():
    dvh = ramp(outside_cc=2.0)  # 10 cc inside, 2 cc outside: coverage 5/6
    result = evaluate_constraint(row("D1cc < 19 Gy"), dvh)
    assert result.level is Level.NOT_EVALUATED
    assert result.coverage == pytest.approx(10 / 12)
    assert "outside the dose grid" in result.reason


def test_partial_coverage_failure_is_still_a_failure():
    result = evaluate_constraint(row("D1cc < 17 Gy"), ramp(outside_cc=2.0))
    assert result.level is Level.FAIL


def test_partial_coverage_spared_volume_pass_is_certain():
    # the unknown 2 cc can only add spared volume
    assert evaluate_constraint(row("CV5Gy >= 2 cc"), ramp(outside_cc=2.0)).level is Level.PASS
    assert evaluate_constraint(row("CV5Gy >= 3 cc"), ramp(outside_cc=2.0)).level is Level.NOT_EVALUATED


def test_partial_coverage_mean_not_evaluated():
    assert evaluate_constraint(row("Dmean < 19 Gy"), ramp(outside_cc=2.0)).level is Level.NOT_EVALUATED


def test_prescription_relative_limit_without_prescription():
    result = evaluate_constraint(row("D1cc < 95 %"), ramp(), prescription_gy=None)
    assert result.level is Level.NOT_EVALUATED
    assert "prescription" in result.reason


# -- tables, names, verdicts -----------------------------------------------------------------
def table(*rows, required=("SpinalCord",), quantity=DoseQuantity.PHYSICAL):
    return ConstraintTable(
        name="t",
        version="1",
        description="test",
        constraints=tuple(rows),
        sources=(("test", "test"),),
        dose_quantity=quantity,
        required_organs=required,
    )


def test_structure_set_without_cord_is_not_a_pass():
    t = table(row("D1cc < 19 Gy", organ="SpinalCord"), row("D1cc < 19 Gy", organ="Esophagus"))
    results, matches, missing = evaluate(t, {"Oesophagus": ramp("Oesophagus")}, names=shipped_names())
    assert missing == ("SpinalCord",)
    assert [r.level for r in results] == [Level.NOT_EVALUATED, Level.PASS]
    assert results[0].required
    assert overall_level(results, missing) is Level.NOT_EVALUATED
    assert overall_level(results, missing) is not Level.PASS


def test_absent_optional_organ_does_not_block_pass():
    t = table(row("D1cc < 19 Gy", organ="SpinalCord"), row("D1cc < 19 Gy", organ="Esophagus"))
    results, _, missing = evaluate(t, {"Cord": ramp("Cord")}, names=shipped_names())
    assert missing == ()
    assert results[1].level is Level.NOT_EVALUATED
    assert overall_level(results, missing) is Level.PASS


def test_prv_is_not_the_cord():
    t = table(row("D1cc < 19 Gy", organ="SpinalCord"))
    results, matches, missing = evaluate(t, {"SpinalCord_PRV5": ramp("SpinalCord_PRV5")}, names=shipped_names())
    assert results[0].level is Level.NOT_EVALUATED
    assert missing == ("SpinalCord",)
    assert matches[0].canonical == "SpinalCord_PRV"


def test_two_structures_for_one_organ_are_each_checked():
    t = table(row("D1cc < 19 Gy", organ="SpinalCord"))
    pairs = [("Cord", ramp("Cord")), ("Spinal Cord", ramp("Spinal Cord", top_gy=30))]
    results, _, missing = evaluate(t, pairs, names=shipped_names())
    assert [r.structure_name for r in results] == ["Cord", "Spinal Cord"]
    assert [r.level for r in results] == [Level.PASS, Level.FAIL]  # D1cc 18 Gy, 27 Gy
    assert all("Cord" in r.reason and "Spinal Cord" in r.reason for r in results)
    assert missing == ()
    assert overall_level(results, missing) is Level.FAIL


def test_exact_tg263_spelling_wins_over_alias():
    t = table(row("D1cc < 19 Gy", organ="SpinalCord"))
    results, _, _ = evaluate(
        t, [("Cord", ramp("Cord", top_gy=30)), ("SpinalCord", ramp("SpinalCord"))], names=shipped_names()
    )
    assert results[0].structure_name == "SpinalCord"
    assert results[0].level is Level.PASS
    # ... and the alias spelling is checked too: its 27 Gy must not hide behind the pass
    assert (results[1].structure_name, results[1].level) == ("Cord", Level.FAIL)


def test_lungs_minus_gtv_preferred_over_whole_lungs():
    t = table(row("V15Gy < 50 %", organ="Lungs"), required=())
    pairs = [("Lung_Total", ramp("Lung_Total", top_gy=40)), ("Lung_Total-GTV", ramp("Lung_Total-GTV"))]
    results, _, _ = evaluate(t, pairs, names=shipped_names())
    assert results[0].structure_name == "Lung_Total-GTV"
    assert "Lungs-GTV" in results[0].reason


def test_dose_quantity_mismatch_refused():
    t = table(row("D1cc < 19 Gy"), quantity=DoseQuantity.PHYSICAL)
    with pytest.raises(UsageError, match="physical"):
        evaluate(t, {"Cord": ramp()}, names=shipped_names(), dose_quantity=DoseQuantity.EQD2)


def test_eqd2_table_with_bed_limit_converted_exactly():
    # 135.5 Gy BED at α/β 2 is 67.75 Gy EQD2 (EQD2 = BED / (1 + 2/2))
    c = row("Dmax < 135.5 Gy BED", quantity=DoseQuantity.BED, ab=2.0)
    assert limit_in_table_quantity(c, DoseQuantity.EQD2) == pytest.approx(67.75)
    t = table(c, quantity=DoseQuantity.EQD2)
    # an EQD2 "DVH": cord max ~ 70 Gy EQD2 fails 67.75; ~ 60 passes
    failing, _, _ = evaluate(t, {"Cord": ramp(top_gy=70)}, names=shipped_names(), dose_quantity="EQD2")
    passing, _, _ = evaluate(t, {"Cord": ramp(top_gy=60)}, names=shipped_names(), dose_quantity="EQD2")
    assert failing[0].level is Level.FAIL
    assert failing[0].margin == pytest.approx(67.75 - 70 * (1 - 0.035 / 10), abs=70 / 999)
    assert passing[0].level is Level.PASS


def test_results_are_plain_data():
    result = evaluate_constraint(row("D1cc < 19 Gy"), ramp())
    data = result.to_dict()
    assert data["level"] == "PASS" and data["metric"] == "D1cc" and data["unit"] == "Gy"
    assert dataclasses.is_dataclass(result)


def test_paired_organ_missing_but_sides_present_says_so():
    t = table(row("V15Gy < 50 %", organ="Lungs"), required=())
    results, _, _ = evaluate(t, {"Lung_L": ramp("Lung_L"), "Rt Lung": ramp("Rt Lung")}, names=shipped_names())
    assert results[0].level is Level.NOT_EVALUATED
    assert "Lung_L and Lung_R are present" in results[0].reason


def test_check_course_has_no_prior_courses_parameter():
    """Prior courses are summed by rtcheck.evaluate.reirradiation.check_reirradiation; check_course checks
    one course and must not offer a ``priors`` argument that it cannot honour."""
    import inspect

    from rtcheck.evaluate import check_course
    from rtcheck.evaluate.reirradiation import check_reirradiation

    assert "priors" not in inspect.signature(check_course).parameters
    assert "priors" in inspect.signature(check_reirradiation).parameters
    with pytest.raises(TypeError):
        check_course(None, None, shipped_names(), priors=["a prior course"])
