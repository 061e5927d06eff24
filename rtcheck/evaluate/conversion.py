"""A plan's physical table rows as EQD2 rows for the re-irradiation composite.

For an organ without a cumulative limit, the current plan's physical table rows are
converted to EQD2 at the table's fractionation with the row's α/β: dose limits and V/CV
thresholds in Gy; rows relative to the prescription cannot be converted and are listed as
such. This applies a single-course tolerance to the sum of courses — the conversion the
protocol asks for where no cumulative limit is published.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

from ..constraints.names import NameTable, assign_organ
from ..models import (
    Constraint,
    ConstraintTable,
    Course,
    DoseQuantity,
    MatchKind,
    Metric,
    MetricKind,
    NameMatch,
    Unit,
)
from ..radiobiology import lq
from .organs import OrganUnion, structures_for_organ, union_for


class ConvertedRow(NamedTuple):
    """A physical row converted to EQD2 (``row``), or None and why it cannot be (``text``:
    else the conversion, said in words)."""

    row: Constraint | None
    text: str


def convert_row_to_eqd2(row: Constraint, fractions: int) -> ConvertedRow:
    """A physical-dose row as an EQD2 row (at ``fractions`` fractions, the row's α/β).

    Returns (row, description) or (None, why it cannot be converted).
    """
    ab = row.alpha_beta_gy
    if ab is None:
        return ConvertedRow(None, "no α/β for the organ")
    metric = row.metric
    if metric.relative or (row.limit_unit is Unit.PERCENT and metric.gives_dose):
        return ConvertedRow(None, "limit relative to the prescription")
    if metric.gives_dose:
        if row.limit_unit is not Unit.GY:
            return ConvertedRow(None, f"unit {row.limit_unit.value}")
        if metric.kind is MetricKind.MEAN:
            note = "; the mean of EQD2 is not the EQD2 of the mean (conversion of the limit is approximate)"
        else:
            note = ""
        limit = float(lq.eqd2(row.limit, fractions, ab))
        minor = float(lq.eqd2(row.minor_limit, fractions, ab)) if row.minor_limit is not None else None
        text = f"{row.limit:g} Gy in {fractions} fx at α/β {ab:g} Gy = {limit:.2f} Gy EQD2{note}"
        converted = dataclasses.replace(
            row, limit=limit, minor_limit=minor, limit_quantity=DoseQuantity.EQD2,
            note=(row.note + " | " if row.note else "") + f"converted: {text}",
        )
        return ConvertedRow(converted, text)
    # V / CV metrics: the dose threshold converts, the volume limit stays
    if metric.parameter is None:  # the parser gives every V/CV metric a threshold
        raise ValueError(f"metric {metric} has no dose threshold")
    threshold = float(lq.eqd2(metric.parameter, fractions, ab))
    prefix = "V" if metric.kind is MetricKind.VOLUME_AT_DOSE else "CV"
    new_metric = Metric(kind=metric.kind, parameter=threshold, relative=False, text=f"{prefix}{threshold:.2f}Gy(EQD2)")
    text = f"threshold {metric.parameter:g} Gy in {fractions} fx at α/β {ab:g} Gy = {threshold:.2f} Gy EQD2"
    converted = dataclasses.replace(
        row, metric=new_metric, note=(row.note + " | " if row.note else "") + f"converted: {text}"
    )
    return ConvertedRow(converted, text)


def organ_present(names: NameTable, organ: str, matches: Sequence[NameMatch]) -> bool:
    """Whether the plan has a structure for ``organ``, or all the sides of its union."""
    return bool(structures_for_organ(assign_organ(names, organ, matches), matches)) or isinstance(
        union_for(names, organ, matches), OrganUnion
    )


class CompositeRow(NamedTuple):
    """A row to evaluate on the composites: its origin ("cumulative", "converted") and, for a
    converted row, the conversion in words."""

    row: Constraint
    origin: str
    conversion: str | None


class CompositeRows(NamedTuple):
    """The rows to evaluate on the composites, and the physical rows that could not be
    converted (each said in words)."""

    rows: list[CompositeRow]
    not_converted: list[str]


def composite_rows(
    cumulative: ConstraintTable,
    current_table: ConstraintTable | None,
    current: Course,
    names: NameTable,
    matches: Sequence[NameMatch],
) -> CompositeRows:
    """The cumulative rows, then the current plan's physical rows converted to EQD2 for
    organs that no cumulative row covers and that the plan has (its own check lists the
    others)."""
    rows = [CompositeRow(c, "cumulative", None) for c in cumulative.constraints]
    covered = {c.organ for c in cumulative.constraints}
    not_converted: list[str] = []
    if current_table is not None:
        n_table = current_table.fractions or current.fractions
        for c in current_table.constraints:
            if c.organ in covered or names.kind_of(c.organ) is not MatchKind.ORGAN:
                continue
            if not organ_present(names, c.organ, matches):
                continue
            converted, text = convert_row_to_eqd2(c, n_table)
            if converted is None:
                not_converted.append(f"{c.text} ({current_table.name}): not converted — {text}")
            else:
                rows.append(CompositeRow(converted, "converted", text))
    return CompositeRows(rows, not_converted)


__all__ = ["CompositeRow", "CompositeRows", "ConvertedRow", "composite_rows", "convert_row_to_eqd2", "organ_present"]
