"""How one constraint row reads in every format: its unit, value, limit and margin as text."""

from __future__ import annotations

from collections.abc import Iterable

from ..models import ConstraintResult, Level, Unit
from .common import DECIMALS

#: Levels whose rows make a plan's verdict something other than PASS (NOT_EVALUATED only for
#: required organs and organs present in the structure set: see :func:`counts_in_verdict`).
NOT_PASSING = (Level.FAIL, Level.MAJOR, Level.MINOR, Level.INDETERMINATE, Level.NOT_EVALUATED)


def counts_in_verdict(r: ConstraintResult) -> bool:
    """Whether a row takes part in the plan's verdict: every evaluated row, and a NOT
    EVALUATED one for a required organ or an organ present in the structure set (an absent
    optional organ is listed, but does not block a PASS)."""
    return r.level is not Level.NOT_EVALUATED or r.required or r.structure_name is not None


def not_passing(results: Iterable[ConstraintResult]) -> list[ConstraintResult]:
    """The rows that keep a plan from passing: not PASS and counting in the verdict, in order."""
    return [r for r in results if r.level is not Level.PASS and counts_in_verdict(r)]


def number_text(value: float | None) -> str:
    """Empty for None, else the number in its shortest form at :data:`DECIMALS` places (CSV)."""
    return "" if value is None else f"{round(value, DECIMALS):g}"


def unit_text(r: ConstraintResult) -> str:
    """The unit of a row's value: Gy (Gy EQD2 or Gy BED for a biological limit), cc, %, or
    % Rx for a dose relative to the prescription."""
    c = r.constraint
    if c.limit_unit is Unit.GY and c.limit_quantity is not None and c.limit_quantity.value != "physical":
        return f"Gy {c.limit_quantity.value}"
    if c.limit_unit is Unit.PERCENT and c.metric.gives_dose:
        return "% Rx"
    return c.limit_unit.value


def fixed(value: float | None, unit: Unit) -> str:
    """A number with the places its unit deserves (1 for %, 2 otherwise); '—' for None."""
    if value is None:
        return "—"
    digits = 1 if unit is Unit.PERCENT else 2
    return f"{value:.{digits}f}"


def value_text(r: ConstraintResult, *, with_unit: bool = True) -> str:
    """A row's value with its numerical uncertainty (± ?, when unknown) and its unit; '—'
    when not evaluated."""
    if r.value is None:
        return "—"
    unit = r.constraint.limit_unit
    text = fixed(r.value, unit)
    if r.uncertainty is None:
        text += " ± ?"
    elif r.uncertainty > 0:
        text += f" ± {fixed(r.uncertainty, unit)}"
    return f"{text} {unit_text(r)}" if with_unit else text


def limit_text(r: ConstraintResult) -> str:
    """A row's limit as written in its table, with its minor-deviation band when it has one."""
    c = r.constraint
    text = c.limit_text
    if c.minor_limit is not None:
        text += f" (minor to {c.minor_limit:g})"
    return text


def margin_text(r: ConstraintResult) -> str:
    """A row's margin, signed (positive on the passing side); '—' when undefined."""
    if r.margin is None:
        return "—"
    return f"{r.margin:+.{1 if r.constraint.limit_unit is Unit.PERCENT else 2}f}"


def prescription_text(prescription_gy: float | None, fractions: int | None) -> str:
    """A prescription as a report shows it: ``35 Gy (7 Gy × 5)``, or "unknown"."""
    if prescription_gy is None:
        return "unknown"
    text = f"{prescription_gy:g} Gy"
    if fractions:
        text += f" ({prescription_gy / fractions:g} Gy × {fractions})"
    return text
