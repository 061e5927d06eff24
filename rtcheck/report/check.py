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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..errors import RtcheckError
from ..models import SCHEMA_VERSION, CheckResult, ConstraintResult, Level, Unit
from ..models.reirradiation import CompositeRowResult, ReirradiationResult
from . import reirradiation
from .common import DECIMALS, columns, json_ready, worst_of

SCHEMA_NAME = "rtcheck-check"

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


@dataclass(frozen=True)
class PlanSummary:
    """One plan's line in the summary of a multi-plan run: who, which table, the verdict and
    what did not pass — or the error that kept it from being checked (``error``, with the
    exit code it means)."""

    patient_id: str | None
    plan_label: str | None
    plan_uid: str | None
    fractions: int | None
    table: str | None
    verdict: Level
    failing: tuple[str, ...] = ()
    error: RtcheckError | None = None

    def error_dict(self) -> dict:
        """The plan and its error as plain data (the JSON document's ``errors`` items)."""
        return {
            "patient_id": self.patient_id,
            "plan_label": self.plan_label,
            "plan_uid": self.plan_uid,
            "exit_code": self.error.exit_code if self.error is not None else None,
            "error": self.error.to_dict() if self.error is not None else None,
        }


def worst(results: Sequence[CheckResult]) -> Level:
    """The worst plan verdict of the checks (PASS when there are none)."""
    return worst_of(r.overall for r in results)


def check_document(
    results: Sequence[CheckResult],
    composites: Sequence[ReirradiationResult] | None = None,
    summaries: Sequence[PlanSummary] = (),
) -> dict:
    """The JSON document of a check as plain data (floats rounded, see :func:`json_ready`).

    With re-irradiation composites (one per plan) the document also holds them under
    ``reirradiation``, and ``overall_including_reirradiation``: the worst of the plans'
    checks and the composites' verdicts.
    """
    document = {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "rtcheck_version": __version__,
        "overall": worst(results).value,
        "plans": [json_ready(r.to_dict()) for r in results],
    }
    if composites:
        document["reirradiation"] = [reirradiation.to_dict(r) for r in composites]
        combined = worst_of([worst(results), *(r.overall for r in composites)])
        document["overall_including_reirradiation"] = combined.value
    errors = [summary.error_dict() for summary in summaries if summary.error is not None]
    if errors:
        document["errors"] = errors  # plans that could not be checked (see PlanSummary.error_dict)
    return document


def render_json(
    results: Sequence[CheckResult],
    composites: Sequence[ReirradiationResult] | None = None,
    summaries: Sequence[PlanSummary] = (),
) -> str:
    """The check (and composites, and plans that could not be checked) as JSON text,
    ending with a newline."""
    return json.dumps(check_document(results, composites, summaries), indent=2, ensure_ascii=False) + "\n"


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
    """Empty for None, else the number in its shortest form at :data:`DECIMALS` places."""
    return "" if value is None else f"{round(value, DECIMALS):g}"


def _unit_text(r: ConstraintResult) -> str:
    """The unit of a row's value as shown: Gy (with EQD2/BED for a biological limit), cc, %, or % Rx for a dose relative to the prescription."""
    c = r.constraint
    if c.limit_unit is Unit.GY and c.limit_quantity is not None and c.limit_quantity.value != "physical":
        return f"Gy {c.limit_quantity.value}"
    if c.limit_unit is Unit.PERCENT and c.metric.gives_dose:
        return "% Rx"
    return c.limit_unit.value


def _fmt(value: float | None, unit: Unit) -> str:
    """A number with the places its unit deserves (1 for %, 2 otherwise)."""
    if value is None:
        return "—"
    digits = 1 if unit is Unit.PERCENT else 2
    return f"{value:.{digits}f}"


def _value_text(r: ConstraintResult) -> str:
    """A row's value with its numerical uncertainty (±), '—' when not evaluated."""
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
    """A row's limit as written in its table, with its minor-deviation band when it has one."""
    c = r.constraint
    text = c.limit_text
    if c.minor_limit is not None:
        text += f" (minor to {c.minor_limit:g})"
    return text


def _level_text(level: Level, color: bool) -> str:
    """A level's word, coloured when asked."""
    word = level.value.replace("_", " ")
    return f"{_ANSI[level]}{word}{_RESET}" if color else word


def _table(rows: list[list[str]], levels: list[Level | None], color: bool, level_column: int) -> list[str]:
    """Rows of cells as columns, a rule under the header, the level column coloured when asked."""
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


FORMATS = ("csv", "json", "table")


def render_plan_block(
    check: CheckResult | None,
    composite: ReirradiationResult | None = None,
    summary: PlanSummary | None = None,
    *,
    color: bool = False,
) -> str:
    """One plan's part of the terminal report: its check and its composite, or the error
    that kept it from being checked (``check`` None, ``summary`` given)."""
    if check is None:
        if summary is None or summary.error is None:
            raise ValueError("a plan that was not checked needs its summary with the error")
        return render_error_block(summary)
    text = render_plan(check, color=color)
    return text + "\n" + reirradiation.render_text(composite) if composite is not None else text


def render_error_block(summary: PlanSummary) -> str:
    """The terminal block of a plan that could not be checked: which plan, the error with
    its file and remedy, and the exit code it means."""
    assert summary.error is not None
    return (
        f"rtcheck {__version__} — constraint check\n"
        f"Patient ID:    {summary.patient_id or 'unknown'}\n"
        f"Plan:          {summary.plan_label or 'unnamed'}  (UID {summary.plan_uid or 'unknown'})\n"
        f"Not checked:   {summary.error}\n"
        f"Verdict:       NOT CHECKED (exit code {summary.error.exit_code})\n"
    )


def render_summary(summaries: Sequence[PlanSummary]) -> str:
    """The closing summary of a run over several plans: counts by verdict, then one line per
    plan (patient ID, label, fractions, table, verdict, what did not pass or the error)."""
    counts: dict[str, int] = {}
    for s in summaries:
        word = "NOT CHECKED" if s.error is not None else s.verdict.value.replace("_", " ")
        counts[word] = counts.get(word, 0) + 1
    out = [f"Summary: {len(summaries)} plans — " + ", ".join(f"{n} {word}" for word, n in counts.items())]
    rows = [["Patient ID", "Plan", "Fx", "Table", "Verdict", "Not passing"]]
    for s in summaries:
        if s.error is not None:
            verdict, detail = f"NOT CHECKED (exit {s.error.exit_code})", str(s.error)
        else:
            verdict, detail = s.verdict.value.replace("_", " "), ", ".join(s.failing) or "—"
        rows.append([
            s.patient_id or "unknown", s.plan_label or "unnamed", "?" if s.fractions is None else str(s.fractions),
            s.table or "—", verdict, detail,
        ])
    out.extend("  " + line for line in columns(rows, rule=True))
    return "\n".join(out) + "\n"


FORMATS = ("csv", "json", "table")


def render(
    fmt: str,
    results: Sequence[CheckResult],
    composites: Sequence[ReirradiationResult] | None = None,
    *,
    color: bool = False,
    summaries: Sequence[PlanSummary] = (),
) -> str:
    """The check report in ``fmt`` (one of :data:`FORMATS`) with the re-irradiation
    composites in the same format. ``color`` applies to the table only.

    ``summaries`` (one per plan, in order, checked or not) add the plans that could not be
    checked and, for the table of several plans, the closing summary.
    """
    if fmt == "json":
        return render_json(results, composites, summaries)
    if fmt == "csv":
        text = render_csv(results) + _error_csv_rows(summaries)
        return text + "\n" + "".join(reirradiation.render_csv(r) for r in composites) if composites else text
    if fmt == "table":
        return render_text(results, composites, summaries, color=color)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def render_text(
    results: Sequence[CheckResult],
    composites: Sequence[ReirradiationResult] | None = None,
    summaries: Sequence[PlanSummary] = (),
    *,
    color: bool = False,
) -> str:
    """The terminal report: each plan's block (check and composite, or its error), one
    after the other, and the summary when there are several plans."""
    if not summaries:  # results only: each plan checked, no error
        blocks = [render_plan(r, color=color) for r in results]
        if composites:
            return "\n".join(blocks) + "\n" + "\n".join(reirradiation.render_text(c) for c in composites)
        return "\n".join(blocks)
    paired: list[ReirradiationResult | None] = list(composites) if composites else [None] * len(results)
    checked = iter(zip(results, paired, strict=True))
    blocks = []
    for summary in summaries:
        if summary.error is not None:
            blocks.append(render_error_block(summary))
        else:
            check, composite = next(checked)
            blocks.append(render_plan_block(check, composite, color=color))
    text = "\n".join(blocks)
    return text + "\n" + render_summary(summaries) if len(summaries) > 1 else text


def _error_csv_rows(summaries: Sequence[PlanSummary]) -> str:
    """CSV rows (:data:`CSV_COLUMNS`) for the plans that could not be checked: level
    NOT_CHECKED, the error in ``reason``."""
    errors = [s for s in summaries if s.error is not None]
    if not errors:
        return ""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for s in errors:
        row = dict.fromkeys(CSV_COLUMNS, "")
        row.update(patient_id=s.patient_id or "", plan_uid=s.plan_uid or "", plan_label=s.plan_label or "",
                   level="NOT_CHECKED", reason=str(s.error))
        writer.writerow([row[c] for c in CSV_COLUMNS])
    return buffer.getvalue()


def _plan_record(check: CheckResult, r: ConstraintResult) -> dict[str, Any]:
    """One plan-table row as a long-format record (physical dose)."""
    c = r.constraint
    return {
        "patient_id": check.patient_id, "plan_uid": check.plan_uid, "plan_label": check.plan_label,
        "part": "plan", "course": None, "table": check.table.name, "table_sha256": check.table.sha256,
        "dose_quantity": check.table.dose_quantity.value, "organ": c.organ, "structure": r.structure_name,
        "metric": str(c.metric), "comparison": c.comparison.value, "limit": c.limit, "unit": _unit_text(r),
        "kind": c.kind.value, "value": r.value, "value_without_factor": None, "uncertainty": r.uncertainty,
        "margin": r.margin, "level": r.level.value, "required": r.required, "coverage": r.coverage,
        "source": c.source, "confidence": c.confidence.value, "reason": r.reason,
    }


def _composite_record(check: CheckResult, composite: ReirradiationResult, row: CompositeRowResult) -> dict[str, Any]:
    """One composite row as a long-format record (EQD2; with and without the factors)."""
    c = row.constraint
    gy = c.limit_unit is Unit.GY
    return {
        "patient_id": check.patient_id, "plan_uid": composite.plan_uid, "plan_label": composite.plan_label,
        "part": row.origin, "course": row.course, "table": None, "table_sha256": None,
        "dose_quantity": "EQD2", "organ": c.organ, "structure": row.with_factor.structure_name,
        "metric": str(c.metric), "comparison": c.comparison.value,
        "limit": row.limit_eqd2_gy if gy else c.limit, "unit": "Gy" if gy else c.limit_unit.value,
        "kind": c.kind.value, "value": row.with_factor.value, "value_without_factor": row.without_factor.value,
        "uncertainty": None, "margin": row.with_factor.margin, "level": row.with_factor.level.value,
        "required": row.counts, "coverage": row.with_factor.coverage, "source": c.source,
        "confidence": c.confidence.value, "reason": row.with_factor.reason,
    }


def long_rows(check: CheckResult, composite: ReirradiationResult | None = None) -> list[dict[str, Any]]:
    """One record per constraint of a plan in long format, numbers as numbers: the plan
    table's rows (``part`` "plan", physical dose) then the composite's rows (``part`` its
    origin, EQD2; ``value`` with the recovery factors, ``value_without_factor`` without;
    ``required`` says whether the row counts in the verdict)."""
    rows = [_plan_record(check, r) for r in check.results]
    if composite is not None:
        rows += [_composite_record(check, composite, row) for row in composite.rows]
    return rows
