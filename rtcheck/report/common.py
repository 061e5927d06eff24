"""What every renderer shares: the rounding of numbers in JSON documents and the worst level."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: Decimal places of floats in JSON documents (a µGy or a mm³ is far below any tolerance).
DECIMALS = 6


def json_ready(value: Any) -> Any:
    """``value`` with every float rounded to :data:`DECIMALS` places and non-finite floats
    (NaN, ±inf) turned into None, through nested dicts and lists."""
    if isinstance(value, float):
        return round(value, DECIMALS) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_ready(v) for v in value]
    return value


def columns(rows: Sequence[Sequence[str]], *, rule: bool = False) -> list[str]:
    """Rows of cells as left-aligned columns two spaces apart, trailing spaces removed;
    with ``rule``, a line of dashes under the first (header) row."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if rule and n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines
