"""Rendering the BED/EQD2 calculator's records (`rtcheck eqd2`) as text and JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def render_text(rows: Sequence[dict[str, Any]], *, inverse: bool) -> str:
    """The records of :func:`rtcheck.api.fractionation.equivalent_doses` (or, with
    ``inverse``, of ``doses_reaching``) as lines for the console, without a final newline."""
    lines = []
    for r in rows:
        fx = "fraction" if r["fractions"] == 1 else "fractions"
        if inverse:
            lines.append(
                f"{r['target']} {r['target_gy']:g} Gy at α/β {r['alpha_beta_gy']:g} Gy in {r['fractions']} {fx}:"
            )
            lines.append(f"  dose per fraction  {r['dose_per_fraction_gy']:.3f} Gy")
            lines.append(f"  total dose         {r['total_gy']:.3f} Gy")
            other = ("EQD2", r["eqd2_gy"]) if r["target"] == "BED" else ("BED", r["bed_gy"])
            lines.append(f"  ({other[0]} {other[1]:.2f} Gy)")
        else:
            lines.append(
                f"{r['total_gy']:g} Gy in {r['fractions']} {fx} ({r['dose_per_fraction_gy']:g} Gy per fraction), "
                f"α/β {r['alpha_beta_gy']:g} Gy:"
            )
            lines.append(f"  BED   {r['bed_gy']:.2f} Gy")
            lines.append(f"  EQD2  {r['eqd2_gy']:.2f} Gy")
    return "\n".join(lines)


def render_json(rows: Sequence[dict[str, Any]]) -> str:
    """The records as the JSON document ``{"results": [...]}``, without a final newline."""
    return json.dumps({"results": list(rows)}, indent=2)
