"""Rendering constraint tables (`rtcheck constraints list|show`): a listing, a description
with every row and its source, and the table as a JSON document."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..models import ConstraintTable
from .common import columns


def render_list(tables: Sequence[ConstraintTable]) -> str:
    """One line per table: name, arm, fractions, prescription, dose quantity, rows, version,
    the first 12 hex digits of its sha256."""
    rows = [("name", "arm", "fx", "Rx (Gy)", "dose", "rows", "version", "sha256")]
    for t in tables:
        rows.append(
            (
                t.name,
                t.arm or "—",
                str(t.fractions) if t.fractions is not None else "—",
                f"{t.prescription_gy:g}" if t.prescription_gy is not None else "any",
                t.dose_quantity.value,
                str(len(t.constraints)),
                t.version,
                (t.sha256 or "")[:12],
            )
        )
    return "\n".join(columns(rows)) + "\n"


def render_description(table: ConstraintTable) -> str:
    """A table as a physicist reads it: header, one line per row (level, α/β, source,
    confidence, line in the file) and the sources cited."""
    lines = [
        f"{table.name} (version {table.version})",
        f"file:      {table.path}",
        f"sha256:    {table.sha256}",
        f"arm:       {table.arm or '—'}   fractions: {table.fractions or '—'}   "
        f"prescription: {f'{table.prescription_gy:g} Gy' if table.prescription_gy else 'any'}   "
        f"dose: {table.dose_quantity.value}",
        f"required:  {', '.join(table.required_organs) or '—'}",
        "",
        table.description,
        "",
    ]
    rows = [("organ", "constraint", "level", "α/β", "source", "confidence", "line")]
    for c in table.constraints:
        level = c.kind.value + (f" (minor to {c.minor_limit:g})" if c.minor_limit is not None else "")
        if c.min_interval_months is not None:
            level += f", >= {c.min_interval_months:g} months between courses"
        rows.append(
            (
                c.organ,
                f"{c.metric} {c.limit_text}",
                level,
                f"{c.alpha_beta_gy:g}" if c.alpha_beta_gy is not None else "—",
                c.source,
                c.confidence.value,
                str(c.line),
            )
        )
    lines += columns(rows)
    lines.append("")
    lines.append("sources:")
    for key, citation in table.sources:
        lines.append(f"  {key}: {citation}")
    return "\n".join(lines) + "\n"


def table_document(table: ConstraintTable) -> dict:
    """The table as plain data: its summary, description, required organs, sources and rows."""
    return table.summary_dict() | {
        "description": table.description,
        "required_organs": list(table.required_organs),
        "sources": dict(table.sources),
        "constraints": [c.to_dict() for c in table.constraints],
    }


def render_json(table: ConstraintTable) -> str:
    """:func:`table_document` as JSON text, ending with a newline."""
    return json.dumps(table_document(table), indent=2, ensure_ascii=False) + "\n"
