"""Constraints × one DVH → a result with its level, and the worst level of several.

The comparison is independent of what the dose numbers mean: it compares a table whose
``dose_quantity`` is physical, EQD2 or BED with DVHs of the same quantity (a composite EQD2
DVH for re-irradiation holds EQD2 values in ``dose_gy``), and refuses a mismatch.

Levels (see :class:`rtcheck.models.Level`):

* PASS — the value meets the limit by more than its numerical uncertainty;
* INDETERMINATE — it meets the limit, but by less than its uncertainty (the spread of the
  metric over the DVH's alternative calculations, :meth:`rtcheck.models.DVH.uncertainty`):
  review in the planning system; never shown as a plain pass;
* MINOR — a goal is missed, or a hard limit is exceeded inside its minor-deviation band;
* MAJOR — a hard limit is exceeded beyond its minor-deviation band;
* FAIL — a hard limit without a band is exceeded;
* NOT_EVALUATED — no structure for the organ, the structure is empty or not a volume, the
  metric is undefined (D5cc of a 3 cc organ), the prescription it needs is unknown, or the
  organ lies (partly) outside the dose grid so that the result cannot be known.

An organ partly outside the dose grid: for metrics that can only grow when the unknown part
is added (Dx, Dmax, Vx, CVx) a failure found on the known part is a real failure and a pass
on a critical volume is a real pass; the other outcome cannot be known and is NOT_EVALUATED,
with the coverage reported. Dmean and Dmin of a partly covered organ are NOT_EVALUATED.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from ..errors import RtcheckError, UsageError
from ..models import (
    DVH,
    Comparison,
    Constraint,
    ConstraintResult,
    DoseQuantity,
    Level,
    LimitKind,
    MetricKind,
    Unit,
)

#: Volume outside the dose grid below which an organ counts as fully covered (cc).
COVERAGE_TOLERANCE_CC = 1e-3

_GROWS_WITH_VOLUME = {
    MetricKind.DOSE_AT_VOLUME,
    MetricKind.MAX,
    MetricKind.VOLUME_AT_DOSE,
    MetricKind.CRITICAL_VOLUME,
}


def limit_in_table_quantity(constraint: Constraint, table_quantity: DoseQuantity) -> float:
    """The constraint's limit expressed in the table's dose quantity.

    A BED limit in an EQD2 table (or the reverse) is converted exactly with the row's α/β:
    EQD2 = BED / (1 + 2/(α/β)).
    """
    if constraint.limit_unit is not Unit.GY or constraint.limit_quantity in (None, table_quantity):
        return constraint.limit
    ab = constraint.alpha_beta_gy
    if ab is None:
        raise UsageError(f"{constraint.text}: no α/β to convert {constraint.limit_quantity.value} to {table_quantity.value}")
    factor = 1.0 + 2.0 / ab
    if constraint.limit_quantity is DoseQuantity.BED and table_quantity is DoseQuantity.EQD2:
        return constraint.limit / factor
    if constraint.limit_quantity is DoseQuantity.EQD2 and table_quantity is DoseQuantity.BED:
        return constraint.limit * factor
    raise UsageError(f"{constraint.text}: cannot compare {constraint.limit_quantity.value} with {table_quantity.value}")


def metric_function(constraint: Constraint, prescription_gy: float | None) -> Callable[[DVH], float | None] | str:
    """A function DVH → value in the constraint's limit unit, or a reason it cannot exist."""
    metric = constraint.metric
    unit = constraint.limit_unit
    x = metric.parameter
    needs_rx = (metric.gives_dose and unit is Unit.PERCENT) or (not metric.gives_dose and metric.relative)
    if needs_rx and prescription_gy is None:
        return "the prescription is unknown, and this limit is relative to it"

    def as_limit_unit_dose(dose: float | None) -> float | None:
        """A dose (Gy) in the limit's unit: Gy, or % of the prescription."""
        if dose is None:
            return None
        return 100.0 * dose / prescription_gy if unit is Unit.PERCENT else dose  # type: ignore[operator]

    def threshold() -> float:
        """The V/CV metric's dose threshold (Gy)."""
        if x is None:  # only V/CV metrics ask, and they always have a threshold
            raise ValueError(f"metric {metric} has no dose threshold")
        if not metric.relative:
            return x
        if prescription_gy is None:  # refused above (needs_rx)
            raise ValueError(f"metric {metric} is relative to an unknown prescription")
        return x * prescription_gy / 100.0

    kind = metric.kind
    if kind is MetricKind.MAX:
        return lambda d: as_limit_unit_dose(d.near_max_gy())
    if kind is MetricKind.MEAN:
        return lambda d: as_limit_unit_dose(d.mean_gy())
    if kind is MetricKind.MIN:

        def near_min(d: DVH) -> float | None:
            """The near-minimum: the dose to all but 0.035 cc (undefined below that volume)."""
            v = d.total_volume_cc - 0.035
            return as_limit_unit_dose(d.dose_at_volume(cc=v)) if v > 0 else None

        return near_min
    if kind is MetricKind.DOSE_AT_VOLUME:
        if metric.relative:
            return lambda d: as_limit_unit_dose(d.dose_at_volume(percent=x))
        return lambda d: as_limit_unit_dose(d.dose_at_volume(cc=x))
    if kind is MetricKind.VOLUME_AT_DOSE:
        return lambda d: d.volume_at_dose(threshold(), percent=unit is Unit.PERCENT)

    def spared(d: DVH) -> float | None:
        """The critical volume: the volume (cc or %) below the threshold dose."""
        cc = d.volume_below_dose_cc(threshold())
        if cc is None or unit is Unit.CC:
            return cc
        return 100.0 * cc / d.total_volume_cc if d.total_volume_cc > 0 else None

    return spared


def _margin(comparison: Comparison, value: float, limit: float) -> float:
    """How far the value meets the limit (negative: exceeds it), in the limit's unit."""
    return limit - value if comparison.is_upper_limit else value - limit


def _exceeded_level(constraint: Constraint, value: float) -> Level:
    """The level of an exceeded limit: MINOR for a goal or inside the minor band, else MAJOR
    beyond the band, FAIL without one."""
    if constraint.kind is LimitKind.GOAL:
        return Level.MINOR
    if constraint.minor_limit is None:
        return Level.FAIL
    return Level.MINOR if constraint.comparison.holds(value, constraint.minor_limit) else Level.MAJOR


def evaluate_constraint(
    constraint: Constraint,
    dvh: DVH | Exception | None,
    *,
    structure_name: str | None = None,
    limit: float | None = None,
    prescription_gy: float | None = None,
    required: bool = False,
    missing_reason: str = "no structure for this organ",
) -> ConstraintResult:
    """One constraint on one DVH (or the reason there is none)."""
    limit = constraint.limit if limit is None else limit

    def result(level: Level, reason: str = "", **kw: float | None) -> ConstraintResult:
        """The result of this constraint at ``level``."""
        return ConstraintResult(
            constraint, level, structure_name=structure_name, required=required, reason=reason, **kw
        )

    if dvh is None:
        return result(Level.NOT_EVALUATED, missing_reason)
    if isinstance(dvh, Exception):
        message = dvh.message if isinstance(dvh, RtcheckError) else str(dvh)
        return result(Level.NOT_EVALUATED, f"no DVH: {message}")
    total_known = dvh.volume_with_dose_cc + dvh.outside_grid_cc
    coverage = dvh.coverage if total_known > 0 else None
    volume = dvh.total_volume_cc
    if dvh.is_empty or dvh.volume_with_dose_cc <= 0:
        if dvh.outside_grid_cc > 0:
            return result(Level.NOT_EVALUATED, "the organ lies outside the dose grid (coverage 0 %)", coverage=0.0, organ_volume_cc=volume)
        return result(Level.NOT_EVALUATED, "the structure has no volume", organ_volume_cc=volume)
    function = metric_function(constraint, prescription_gy)
    if isinstance(function, str):
        return result(Level.NOT_EVALUATED, function, coverage=coverage, organ_volume_cc=volume)
    value = function(dvh)
    if value is None or not math.isfinite(value):
        return result(
            Level.NOT_EVALUATED,
            f"{constraint.metric} is undefined for this structure ({volume:.3g} cc with dose known: "
            f"{dvh.volume_with_dose_cc:.3g} cc)",
            coverage=coverage,
            organ_volume_cc=volume,
        )
    uncertainty = dvh.uncertainty(function)
    margin = _margin(constraint.comparison, value, limit)
    common = dict(value=value, uncertainty=uncertainty, margin=margin, coverage=coverage, organ_volume_cc=volume)
    holds = constraint.comparison.holds(value, limit)
    partial = dvh.outside_grid_cc > COVERAGE_TOLERANCE_CC
    if partial:
        outside = f"{100 * (1 - dvh.coverage):.1f} % of the organ ({dvh.outside_grid_cc:.3g} cc) is outside the dose grid"
        if constraint.metric.kind not in _GROWS_WITH_VOLUME:
            return result(Level.NOT_EVALUATED, f"{outside}; {constraint.metric} cannot be known", **common)
        # the metric computed on the known part is a lower bound of the true value
        certain = (not holds) if constraint.comparison.is_upper_limit else holds
        if not certain:
            return result(
                Level.NOT_EVALUATED,
                f"{outside}; the true value can only be higher than {value:.4g}",
                **common,
            )
    if not holds:
        return result(_exceeded_level(constraint, value), "", **common)
    if uncertainty is None:
        return result(
            Level.INDETERMINATE,
            "the metric is undefined in an alternative DVH calculation (near a size limit): review",
            **common,
        )
    if margin <= uncertainty:
        return result(
            Level.INDETERMINATE,
            f"margin {margin:.3g} is within the numerical uncertainty ±{uncertainty:.3g}: review in the planning system",
            **common,
        )
    return result(Level.PASS, "", **common)


def overall_level(results: Iterable[ConstraintResult], missing_required: Sequence[str] = ()) -> Level:
    """Worst level; NOT_EVALUATED never counts as a PASS.

    A constraint NOT_EVALUATED counts when its organ is required, or when the organ has a
    structure (present but partly outside the dose grid, too small for the metric, unusable
    contours...): only an optional organ absent from the structure set is left out. A
    required organ with no structure makes the verdict at least NOT_EVALUATED.
    """
    worst = Level.NOT_EVALUATED if missing_required else Level.PASS
    for r in results:
        if r.level is Level.NOT_EVALUATED and not r.required and r.structure_name is None:
            continue
        if r.level.severity > worst.severity:
            worst = r.level
    return worst


__all__ = [
    "COVERAGE_TOLERANCE_CC",
    "evaluate_constraint",
    "limit_in_table_quantity",
    "metric_function",
    "overall_level",
]
