"""The check as one rectangular table (`rtcheck check --format csv`, and
``CheckReport.rows()`` / ``to_dataframe()``): long format, one row per plan × course ×
constraint.

``course`` is ``current plan`` for the plan table's rows, ``composite`` for the
re-irradiation limits on the sum of the courses (``part`` cumulative or converted), or the
course's name for a per-course limit. ``dose_quantity`` says in which dose the row's Gy are
(physical for the plan table, EQD2 for the composite). ``value`` is with the documented
recovery factors, ``value_without_factor`` without (composite rows only). ``counts_in_verdict``
says whether the row takes part in the plan's verdict. A plan that could not be checked has
one row with level NOT_CHECKED and the error in ``reason``. Numbers are plain (no unit in the
cell; the unit is in ``unit``), empty when undefined.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from ..models import CheckResult, CompositeRowResult, ConstraintResult, ReirradiationResult, Unit
from .rows import counts_in_verdict, number_text, unit_text
from .summary import PlanSummary, plans_in_order

CSV_COLUMNS = (
    "patient_id", "plan_uid", "plan_label", "plan_verdict", "part", "course", "table", "table_sha256",
    "dose_quantity", "organ", "structure", "metric", "comparison", "limit", "unit", "kind", "value",
    "value_without_factor", "uncertainty", "margin", "level", "level_without_factor", "required",
    "counts_in_verdict", "coverage", "alpha_beta_gy", "source", "confidence", "reason",
)


def _plan_record(check: CheckResult, summary: PlanSummary, r: ConstraintResult) -> dict[str, Any]:
    """One plan-table row (physical dose, or the table's own quantity)."""
    c = r.constraint
    return {
        "patient_id": check.patient_id, "plan_uid": check.plan_uid, "plan_label": check.plan_label,
        "plan_verdict": summary.verdict.value, "part": "plan", "course": "current plan",
        "table": check.table.name, "table_sha256": check.table.sha256,
        "dose_quantity": check.table.dose_quantity.value, "organ": c.organ, "structure": r.structure_name,
        "metric": str(c.metric), "comparison": c.comparison.value, "limit": c.limit, "unit": unit_text(r),
        "kind": c.kind.value, "value": r.value, "value_without_factor": None, "uncertainty": r.uncertainty,
        "margin": r.margin, "level": r.level.value, "level_without_factor": None, "required": r.required,
        "counts_in_verdict": counts_in_verdict(r), "coverage": r.coverage, "alpha_beta_gy": c.alpha_beta_gy,
        "source": c.source, "confidence": c.confidence.value, "reason": r.reason,
    }


def _composite_record(
    check: CheckResult, summary: PlanSummary, composite: ReirradiationResult, row: CompositeRowResult
) -> dict[str, Any]:
    """One re-irradiation row (EQD2 Gy; with and without the recovery factors)."""
    c = row.constraint
    gy = c.limit_unit is Unit.GY
    return {
        "patient_id": check.patient_id, "plan_uid": composite.plan_uid, "plan_label": composite.plan_label,
        "plan_verdict": summary.verdict.value, "part": row.origin,
        "course": row.course if row.origin == "per-course" else "composite",
        "table": None, "table_sha256": None, "dose_quantity": "EQD2", "organ": c.organ,
        "structure": row.with_factor.structure_name, "metric": str(c.metric), "comparison": c.comparison.value,
        "limit": row.limit_eqd2_gy if gy else c.limit, "unit": "Gy" if gy else c.limit_unit.value,
        "kind": c.kind.value, "value": row.with_factor.value, "value_without_factor": row.without_factor.value,
        "uncertainty": None, "margin": row.with_factor.margin, "level": row.with_factor.level.value,
        "level_without_factor": row.without_factor.level.value, "required": row.with_factor.required,
        "counts_in_verdict": row.counts, "coverage": row.with_factor.coverage, "alpha_beta_gy": row.alpha_beta_gy,
        "source": c.source, "confidence": c.confidence.value, "reason": row.with_factor.reason,
    }


def _error_record(summary: PlanSummary) -> dict[str, Any]:
    """The one row of a plan that could not be checked."""
    record: dict[str, Any] = dict.fromkeys(CSV_COLUMNS)
    record.update(
        patient_id=summary.patient_id, plan_uid=summary.plan_uid, plan_label=summary.plan_label,
        plan_verdict="NOT_CHECKED", level="NOT_CHECKED", counts_in_verdict=True, reason=str(summary.error),
    )
    return record


def records(
    results: Sequence[CheckResult],
    composites: Sequence[ReirradiationResult] | None,
    summaries: Sequence[PlanSummary],
) -> list[dict[str, Any]]:
    """Every row of the run as a record with the keys :data:`CSV_COLUMNS`, numbers as
    numbers (None when undefined), plans in order."""
    out: list[dict[str, Any]] = []
    for summary, check, composite in plans_in_order(results, composites, summaries):
        if check is None:
            out.append(_error_record(summary))
            continue
        out += [_plan_record(check, summary, r) for r in check.results]
        if composite is not None:
            out += [_composite_record(check, summary, composite, row) for row in composite.rows]
    return out


def _cell(value: Any) -> str:
    """A record's value as a CSV cell: numbers at 6 decimals, booleans yes/no, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | int):
        return number_text(float(value)) if isinstance(value, float) else str(value)
    return str(value)


def render_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The records as CSV text with the header :data:`CSV_COLUMNS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in rows:
        writer.writerow([_cell(record[c]) for c in CSV_COLUMNS])
    return buffer.getvalue()
