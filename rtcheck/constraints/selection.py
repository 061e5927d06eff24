"""Which table: the shipped tables, a table named on the command line, the table for a plan.

Tables are selected by :func:`select_table` only, from the tables' own headers (arm,
fraction count and prescription), not from constants in the code, so a protocol object can
own the selection later.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..models import ConstraintTable, DoseQuantity
from .names import NameTable
from .shipped import NON_TABLE_FILES, shipped_dir
from .tables import parse_table


@functools.lru_cache(maxsize=1)
def shipped_tables() -> tuple[ConstraintTable, ...]:
    """All shipped tables, parsed once (sorted by name)."""
    folder = shipped_dir()
    tables = [
        parse_table(p)
        for p in sorted(folder.glob("*.yaml"))
        if p.name not in NON_TABLE_FILES
    ]
    return tuple(sorted(tables, key=lambda t: t.name))


def shipped_table(name: str) -> ConstraintTable:
    """The shipped table called ``name`` (its header name, file name, or file name without
    ``.yaml``); :class:`UsageError` listing the shipped tables when there is none."""
    for table in shipped_tables():
        if table.name == name or (table.path is not None and table.path.name in (name, f"{name}.yaml")):
            return table
    raise UsageError(
        f"no shipped table named '{name}'",
        remedy=f"shipped tables: {', '.join(t.name for t in shipped_tables())}; or give a table file",
    )


def resolve_table(spec: str | Path, names: NameTable | None = None) -> ConstraintTable:
    """A table from ``--table``: an existing file path, else a shipped table name."""
    path = Path(spec)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise UsageError(f"table file not found: {path}", remedy="give a table file or a shipped table name")
        return parse_table(path, names)
    if names is not None:
        table = shipped_table(str(spec))
        return parse_table(table.path, names) if table.path else table
    return shipped_table(str(spec))


@dataclass(frozen=True)
class Selection:
    """The table chosen for a plan and the reasons, in words."""

    table: ConstraintTable
    notes: tuple[str, ...]


def _same_dose(a: float, b: float) -> bool:
    """Whether two doses (Gy) agree to 0.1 % (or 1 mGy below 1 Gy)."""
    return abs(a - b) <= 1e-3 * max(abs(a), abs(b), 1.0)


def select_table(
    *,
    fractions: int | None,
    prescription_gy: float | None = None,
    arm: str | None = None,
    tables: tuple[ConstraintTable, ...] | None = None,
) -> Selection:
    """Choose the table for a plan from the tables' own headers (arm, fractions, prescription).

    A table that states a prescription (the control arm: 8 Gy in 1 fraction) matches only
    plans with that prescription; tables that state none match any prescription with their
    fraction count. With ``arm`` only tables of that arm are considered. Raises
    :class:`UsageError` (exit code 2, no verdict) when no table, or more than one equally
    specific table, fits.
    """
    tables = tables if tables is not None else shipped_tables()
    notes: list[str] = []
    if fractions is None:
        raise UsageError(
            "the number of fractions is unknown, so no table can be chosen", remedy="give --fractions N or --table"
        )
    candidates = [t for t in tables if t.fractions == fractions and t.dose_quantity is DoseQuantity.PHYSICAL]
    if arm is not None:
        candidates = [t for t in candidates if t.arm == arm.lower()]
    if prescription_gy is not None:
        specific = [
            t for t in candidates if t.prescription_gy is not None and _same_dose(t.prescription_gy, prescription_gy)
        ]
        chosen = specific or [t for t in candidates if t.prescription_gy is None]
    else:
        notes.append("prescription unknown (the plan states no TargetPrescriptionDose)")
        if arm is None and any(t.prescription_gy is not None for t in candidates):
            arms = sorted({t.arm or t.name for t in candidates})
            raise UsageError(
                f"the prescription is unknown and {fractions} fraction(s) fit several arms ({', '.join(arms)})",
                remedy="give --arm or --table",
            )
        chosen = candidates
    if not chosen:
        available = ", ".join(
            f"{t.name} ({t.arm}, {t.fractions} fx)" for t in tables if t.fractions is not None
        )
        what = f"{fractions} fraction(s)" + (f" in the {arm} arm" if arm else "")
        raise UsageError(
            f"no constraint table for {what}",
            remedy=f"available: {available}; give --table FILE for a site table",
        )
    if len(chosen) > 1:
        raise UsageError(
            f"several tables fit {fractions} fraction(s): {', '.join(t.name for t in chosen)}",
            remedy="give --arm or --table",
        )
    table = chosen[0]
    rx = f"{prescription_gy:g} Gy" if prescription_gy is not None else "unknown prescription"
    notes.append(f"table {table.name} selected for {fractions} fraction(s), {rx}" + (f", arm {arm}" if arm else ""))
    return Selection(table=table, notes=tuple(notes))
