"""The intervals between courses, against the rows whose limits hold only after a minimum
interval.

A cumulative or per-course row with ``min_interval_months: N`` (a validated field of the
table row) is valid only with at least N months between courses; the interval between every
two consecutive courses (by date, up to the current plan) is checked — shorter is a FAIL of
that condition, an unknown date leaves it NOT_EVALUATED.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import NamedTuple

from ..constraints.names import NameTable, assign_organ
from ..models import Constraint, IntervalCheck, Level, NameMatch, PriorCourse, months_between
from .organs import OrganUnion, union_for


class CoursePair(NamedTuple):
    """Two consecutive courses and the months between them (None: a date is unknown)."""

    earlier: str
    later: str
    elapsed_months: float | None


def consecutive_courses(priors: Sequence[PriorCourse], current_date: _dt.date | None) -> list[CoursePair]:
    """Every pair of consecutive courses by date, up to the current plan; a prior course
    without a date cannot be placed, so it is paired with the current plan, months unknown."""
    dated = sorted((p for p in priors if p.date is not None), key=lambda p: p.date)  # type: ignore[arg-type, return-value]
    undated = [p for p in priors if p.date is None]
    current_label = "current plan"
    timeline = [(p.label, p.date) for p in dated] + [(current_label, current_date)]
    pairs = [
        CoursePair(a, b, None if da is None or db is None else months_between(da, db))
        for (a, da), (b, db) in zip(timeline[:-1], timeline[1:], strict=True)
    ]
    return pairs + [CoursePair(p.label, current_label, None) for p in undated]


def interval_checks(
    rows: Sequence[Constraint],
    priors: Sequence[PriorCourse],
    current_date: _dt.date | None,
    names: NameTable,
    matches: Sequence[NameMatch],
) -> list[IntervalCheck]:
    """Every pair of consecutive courses (by date) against each row's ``min_interval_months``.

    A prior course without a date cannot be placed: its interval is NOT_EVALUATED.
    """
    pairs = consecutive_courses(priors, current_date)
    checks = []
    seen = set()
    for row in rows:
        months = row.min_interval_months
        if months is None:
            continue
        if assign_organ(names, row.organ, matches).structure_name is None and not isinstance(
            union_for(names, row.organ, matches), OrganUnion
        ):
            continue  # the organ is not in this plan (nor its sides): its row is reported NOT_EVALUATED already
        for earlier, later, elapsed in pairs:
            key = (earlier, later, row.organ, months, row.source)
            if key in seen:
                continue
            seen.add(key)
            if elapsed is None:
                level, reason = Level.NOT_EVALUATED, "a course date is unknown"
            elif elapsed >= months:
                level, reason = Level.PASS, ""
            else:
                level, reason = Level.FAIL, (
                    f"{elapsed:.1f} months between courses; the limit {row.text} ({row.source}) "
                    f"was derived for >= {months:g} months"
                )
            checks.append(IntervalCheck(course=earlier, organ=row.organ, source=row.source, min_months=months,
                                        elapsed_months=elapsed, level=level, reason=reason, next_course=later))
    return checks


__all__ = ["CoursePair", "consecutive_courses", "interval_checks"]
