"""Rendering constraint-check results (`rtcheck check`) as a terminal table, JSON and CSV.

Pure functions from :class:`~rtcheck.models.CheckResult` objects to strings; printing,
colouring decisions and files belong to the command line. Colour is ANSI escape codes,
used only when the caller asks (``color=True``, e.g. when standard output is a TTY).

JSON (schema ``rtcheck-check``, version :data:`rtcheck.models.SCHEMA_VERSION`; keys are only
ever added within a major version)::

    {"schema": "rtcheck-check", "schema_version": "1.0", "rtcheck_version": str,
     "overall": "PASS"|"NOT_EVALUATED"|"INDETERMINATE"|"MINOR"|"MAJOR"|"FAIL",
     "plans": [{
        "schema_version": str, "rtcheck_version": str,
        "patient_id": str|null, "plan_label": str|null, "plan_uid": str|null,
        "fractions": int|null, "prescription_gy": float|null, "dose_quantity": "physical"|"EQD2"|"BED",
        "table": {"name", "version", "arm", "fractions", "prescription_gy", "dose_quantity", "path", "sha256"},
        "inputs": [{"what": str, "value": str}],          # UIDs and files read
        "overall": level, "counts": {level: int},
        "missing_required_organs": [str], "unmatched_structures": [str],
        "structures": [{"structure", "canonical", "kind", "rule"}],
        "notes": [str],
        "results": [{"organ", "metric", "comparison", "limit", "unit", "dose_quantity",
                     "kind": "hard"|"goal", "minor_limit", "source", "confidence",
                     "alpha_beta_gy", "note", "min_interval_months", "line",
                     "structure": str|null, "level": level,
                     "value": float|null, "uncertainty": float|null, "margin": float|null,
                     "coverage": float|null, "organ_volume_cc": float|null,
                     "required": bool, "reason": str}]}]}

``value``, ``uncertainty``, ``margin`` and ``limit`` share the row's ``unit`` (Gy, cc or %;
a % on a dose metric is % of the prescription). ``margin`` is positive on the passing side.
``overall`` of the document is the worst plan verdict.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence

from .. import __version__
from ..models import SCHEMA_VERSION, CheckResult, ConstraintResult, Level, Unit

SCHEMA_NAME = "rtcheck-check"
DECIMALS = 6

_ANSI = {
    Level.PASS: "\x1b[32m",  # green
    Level.NOT_EVALUATED: "\x1b[35m",  # magenta
    Level.INDETERMINATE: "\x1b[33m",  # yellow
    Level.MINOR: "\x1b[33m",
    Level.MAJOR: "\x1b[31m",  # red
    Level.FAIL: "\x1b[1;31m",  # bold red
}
_RESET = "\x1b[0m"

#: Words for the verdict line.
VERDICT_WORDS = {
    Level.PASS: "PASS — every evaluated constraint passes",
    Level.NOT_EVALUATED: "NOT EVALUATED — a required organ, or an organ present in the structure set, could not be evaluated",
    Level.INDETERMINATE: "INDETERMINATE — a constraint is within its numerical uncertainty of the limit: review",
    Level.MINOR: "MINOR DEVIATION",
    Level.MAJOR: "MAJOR DEVIATION",
    Level.FAIL: "FAIL — a hard limit is exceeded",
}


def worst(results: Sequence[CheckResult]) -> Level:
    out = Level.PASS
    for r in results:
        if r.overall.severity > out.severity:
            out = r.overall
    return out


def _round(value):
    if isinstance(value, float):
        return round(value, DECIMALS) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def render_json(results: Sequence[CheckResult]) -> str:
    document = {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "rtcheck_version": __version__,
        "overall": worst(results).value,
        "plans": [_round(r.to_dict()) for r in results],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = (
    "patient_id",
    "plan_uid",
    "plan_label",
    "table",
    "table_sha256",
    "organ",
    "structure",
    "metric",
    "comparison",
    "limit",
    "unit",
    "kind",
    "value",
    "uncertainty",
    "margin",
    "level",
    "required",
    "coverage",
    "source",
    "confidence",
    "reason",
)


def render_csv(results: Sequence[CheckResult]) -> str:
    """One line per constraint and plan (columns :data:`CSV_COLUMNS`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for check in results:
        for r in check.results:
            c = r.constraint
            writer.writerow(
                [
                    check.patient_id or "",
                    check.plan_uid or "",
                    check.plan_label or "",
                    check.table.name,
                    check.table.sha256 or "",
                    c.organ,
                    r.structure_name or "",
                    str(c.metric),
                    c.comparison.value,
                    f"{c.limit:g}",
                    _unit_text(r),
                    c.kind.value,
                    _num(r.value),
                    _num(r.uncertainty),
                    _num(r.margin),
                    r.level.value,
                    "yes" if r.required else "no",
                    _num(r.coverage),
                    c.source,
                    c.confidence.value,
                    r.reason,
                ]
            )
    return buffer.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{round(value, DECIMALS):g}"


def _unit_text(r: ConstraintResult) -> str:
    c = r.constraint
    if c.limit_unit is Unit.GY and c.limit_quantity is not None and c.limit_quantity.value != "physical":
        return f"Gy {c.limit_quantity.value}"
    if c.limit_unit is Unit.PERCENT and c.metric.gives_dose:
        return "% Rx"
    return c.limit_unit.value


def _fmt(value: float | None, unit: Unit) -> str:
    if value is None:
        return "—"
    digits = 1 if unit is Unit.PERCENT else 2
    return f"{value:.{digits}f}"


def _value_text(r: ConstraintResult) -> str:
    if r.value is None:
        return "—"
    unit = r.constraint.limit_unit
    text = _fmt(r.value, unit)
    if r.uncertainty is None:
        return text + " ± ?"
    if r.uncertainty > 0:
        text += f" ± {_fmt(r.uncertainty, unit)}"
    return text


def _limit_text(r: ConstraintResult) -> str:
    c = r.constraint
    text = c.limit_text
    if c.minor_limit is not None:
        text += f" (minor to {c.minor_limit:g})"
    return text


def _level_text(level: Level, color: bool) -> str:
    word = level.value.replace("_", " ")
    return f"{_ANSI[level]}{word}{_RESET}" if color else word


def _table(rows: list[list[str]], levels: list[Level | None], color: bool, level_column: int) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row, level in zip(rows, levels, strict=True):
        cells = []
        for i, cell in enumerate(row):
            padded = cell.ljust(widths[i])
            if i == level_column and level is not None and color:
                word = level.value.replace("_", " ")
                padded = _level_text(level, True) + padded[len(word):]
            cells.append(padded)
        lines.append("  ".join(cells).rstrip())
        if level is None:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def render_plan(check: CheckResult, *, color: bool = False) -> str:
    """One plan's report: header, one row per constraint, notes and the verdict."""
    out: list[str] = []
    t = check.table
    rx = "unknown"
    if check.prescription_gy is not None:
        rx = f"{check.prescription_gy:g} Gy"
        if check.fractions:
            rx += f" ({check.prescription_gy / check.fractions:g} Gy × {check.fractions})"
    out.append(f"rtcheck {check.rtcheck_version} — constraint check")
    out.append(f"Patient ID:    {check.patient_id or 'unknown'}")
    out.append(f"Plan:          {check.plan_label or 'unnamed'}  (UID {check.plan_uid or 'unknown'})")
    out.append(f"Fractions:     {check.fractions if check.fractions is not None else 'unknown'}")
    out.append(f"Prescription:  {rx}")
    out.append(f"Table:         {t.name} (version {t.version}; {t.dose_quantity.value} dose)")
    out.append(f"Table sha256:  {t.sha256 or 'unknown'}")
    if t.path is not None:
        out.append(f"Table file:    {t.path}")
    for what, value in check.inputs:
        out.append(f"{what + ':':<14} {value}")
    for note in check.notes:
        out.append(f"Note:          {note}")
    out.append("")
    header = ["Organ", "Structure", "Metric", "Limit", "Value", "Margin", "Level", "Source", "Conf."]
    rows = [header]
    levels: list[Level | None] = [None]
    footnotes: list[str] = []
    absent: dict[str, int] = {}
    for r in check.results:
        c = r.constraint
        plain_absence = r.reason.startswith("no structure for") and ";" not in r.reason  # no hint to show
        if r.level is Level.NOT_EVALUATED and r.structure_name is None and not r.required and plain_absence:
            absent[c.organ] = absent.get(c.organ, 0) + 1
            continue
        organ = c.organ + (" *" if r.required else "") + (" (goal)" if c.kind.value == "goal" else "")
        margin = "—" if r.margin is None else f"{r.margin:+.{1 if c.limit_unit is Unit.PERCENT else 2}f}"
        reason_mark = ""
        if r.reason:
            if r.reason not in footnotes:
                footnotes.append(r.reason)
            reason_mark = f" [{footnotes.index(r.reason) + 1}]"
        rows.append(
            [
                organ,
                r.structure_name or "—",
                str(c.metric),
                _limit_text(r),
                _value_text(r),
                margin,
                r.level.value.replace("_", " ") + reason_mark,
                c.source,
                c.confidence.value,
            ]
        )
        levels.append(r.level)
    out.extend(_table(rows, levels, color, level_column=header.index("Level")))
    out.append("")
    out.append("* required organ.  Value ± numerical uncertainty; margin > 0 is on the passing side.")
    for i, text in enumerate(footnotes, start=1):
        out.append(f"[{i}] {text}")
    out.append("")
    counts = check.counts()
    out.append("Counts:        " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if v))
    if check.missing_required:
        out.append("Missing required organs: " + ", ".join(check.missing_required))
    unmatched = check.unmatched_structures
    if unmatched:
        out.append("Structures not matched to a TG-263 name (not checked): " + ", ".join(unmatched))
    if absent:
        out.append(
            f"Not evaluated, organ not in the structure set ({sum(absent.values())} constraints): "
            + ", ".join(f"{organ} ({n})" for organ, n in absent.items())
        )
    verdict = VERDICT_WORDS[check.overall]
    out.append("Verdict:       " + (f"{_ANSI[check.overall]}{verdict}{_RESET}" if color else verdict))
    return "\n".join(out) + "\n"


def render_table(results: Sequence[CheckResult], *, color: bool = False) -> str:
    """All plans' reports, one after the other."""
    return "\n".join(render_plan(r, color=color) for r in results)


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv}
