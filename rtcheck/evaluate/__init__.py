"""Evaluation: constraints × DVHs → results with levels, per plan and over several courses.

* :mod:`~rtcheck.evaluate.levels` — one row on one DVH (:func:`evaluate_constraint`), the
  limit in the table's dose quantity, and the worst level (:func:`overall_level`);
* :mod:`~rtcheck.evaluate.organs` — which structures stand for an organ (its own, or the
  union of its sides), the body contour and the structures reaching outside it;
* :mod:`~rtcheck.evaluate.plan` — a table on a plan's DVHs (:func:`evaluate`) and the
  per-plan check (:func:`check_course`);
* :mod:`~rtcheck.evaluate.reirradiation` — the composite of prior courses and the current
  plan against cumulative and per-course limits (:func:`check_reirradiation`), with
  :mod:`~rtcheck.evaluate.conversion` (a plan's physical rows as EQD2 rows,
  :func:`convert_row_to_eqd2`) and :mod:`~rtcheck.evaluate.intervals` (the time between
  courses against a row's minimum interval).
"""

from .conversion import convert_row_to_eqd2
from .levels import (
    COVERAGE_TOLERANCE_CC,
    evaluate_constraint,
    limit_in_table_quantity,
    metric_function,
    overall_level,
)
from .organs import (
    OrganUnion,
    external_position,
    outside_external_notes,
    structures_for_organ,
    union_for,
)
from .plan import (
    check_course,
    check_dose_reaches_prescription,
    contour_gap_error,
    course_inputs,
    evaluate,
)
from .reirradiation import check_reirradiation

__all__ = [
    "COVERAGE_TOLERANCE_CC",
    "OrganUnion",
    "check_course",
    "check_dose_reaches_prescription",
    "check_reirradiation",
    "contour_gap_error",
    "convert_row_to_eqd2",
    "course_inputs",
    "evaluate",
    "evaluate_constraint",
    "external_position",
    "limit_in_table_quantity",
    "metric_function",
    "outside_external_notes",
    "overall_level",
    "structures_for_organ",
    "union_for",
]
