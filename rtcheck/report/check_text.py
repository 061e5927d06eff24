"""The terminal report of a check: per plan a header, the rows that do not pass first, the
full table, the notes and one verdict line that names what failed; then, for several plans,
a summary line per plan.

Pure functions from results to strings; printing and colouring decisions belong to the
command line. Colour is ANSI escape codes, used only when asked (``color=True``).
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import __version__
from ..models import CheckResult, ConstraintResult, Level, ReirradiationResult
from . import reirradiation
from .common import columns
from .rows import (
    limit_text,
    margin_text,
    not_passing,
    prescription_text,
    value_text,
)
from .summary import PlanSummary, plans_in_order

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


def _level_text(level: Level, color: bool) -> str:
    """A level's word, coloured when asked."""
    word = level.value.replace("_", " ")
    return f"{_ANSI[level]}{word}{_RESET}" if color else word


def _coloured(level: Level, text: str, color: bool) -> str:
    return f"{_ANSI[level]}{text}{_RESET}" if color else text


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


def _header(check: CheckResult, run_utc: str | None) -> list[str]:
    """Who, which plan, which table (with its sha256), the inputs' UIDs and files, the notes."""
    t = check.table
    rx = prescription_text(check.prescription_gy, check.fractions)
    out = [f"rtcheck {check.rtcheck_version} — constraint check"]
    if run_utc is not None:
        out.append(f"Run (UTC):     {run_utc}")
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
    return out


def _absent_optional(r: ConstraintResult) -> bool:
    """A row of an optional organ that is simply not contoured: counted, not tabulated."""
    plain_absence = r.reason.startswith("no structure for") and ";" not in r.reason  # no hint to show
    return r.level is Level.NOT_EVALUATED and r.structure_name is None and not r.required and plain_absence


def _failures_first(check: CheckResult, color: bool) -> list[str]:
    """Every row that keeps the plan from passing, worst first, before the full table."""
    failing = not_passing(check.results)
    if not failing:
        return ["Not passing:   none"]
    failing.sort(key=lambda r: -r.level.severity)
    rows = [["Level", "Organ", "Structure", "Metric", "Value", "Limit", "Margin"]]
    levels: list[Level | None] = [None]
    for r in failing:
        rows.append([
            r.level.value.replace("_", " "), r.constraint.organ, r.structure_name or "—", str(r.constraint.metric),
            value_text(r), limit_text(r), margin_text(r),
        ])
        levels.append(r.level)
    return [f"Not passing ({len(failing)}):"] + ["  " + line for line in _table(rows, levels, color, level_column=0)]


def _full_table(check: CheckResult, color: bool, footnotes: list[str]) -> list[str]:
    """Every row but the absent optional organs' (counted below the table)."""
    header = ["Organ", "Structure", "Metric", "Limit", "Value", "Margin", "Level", "Source", "Conf."]
    rows = [header]
    levels: list[Level | None] = [None]
    for r in check.results:
        if _absent_optional(r):
            continue
        c = r.constraint
        organ = c.organ + (" *" if r.required else "") + (" (goal)" if c.kind.value == "goal" else "")
        reason_mark = ""
        if r.reason:
            if r.reason not in footnotes:
                footnotes.append(r.reason)
            reason_mark = f" [{footnotes.index(r.reason) + 1}]"
        rows.append([
            organ, r.structure_name or "—", str(c.metric), limit_text(r), value_text(r), margin_text(r),
            r.level.value.replace("_", " ") + reason_mark, c.source, c.confidence.value,
        ])
        levels.append(r.level)
    return _table(rows, levels, color, level_column=header.index("Level"))


def _failing_organs(check: CheckResult) -> list[str]:
    """The organs whose rows keep the plan from passing, each once, in table order."""
    return list(dict.fromkeys(r.constraint.organ for r in not_passing(check.results)))


def verdict_line(label: str, level: Level, organs: Sequence[str], color: bool) -> str:
    """``label`` padded, the verdict's words and, unless it is PASS, the organs that made it."""
    words = VERDICT_WORDS[level] + (f": {', '.join(organs)}" if organs and level is not Level.PASS else "")
    return (label.ljust(15) if len(label) < 15 else label + " ") + _coloured(level, words, color)


def render_plan(
    check: CheckResult, *, color: bool = False, run_utc: str | None = None, composite_follows: bool = False
) -> str:
    """One plan's report: header, the rows not passing, the full table, notes, and the
    verdict line naming the failing organs (the plan-table verdict when a re-irradiation
    composite follows)."""
    out = _header(check, run_utc) + [""] + _failures_first(check, color) + [""]
    footnotes: list[str] = []
    out += _full_table(check, color, footnotes)
    out.append("")
    out.append("* required organ.  Value ± numerical uncertainty; margin > 0 is on the passing side.")
    out.extend(f"[{i}] {text}" for i, text in enumerate(footnotes, start=1))
    out.append("")
    counts = check.counts()
    out.append("Counts:        " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if v))
    if check.missing_required:
        out.append("Missing required organs: " + ", ".join(check.missing_required))
    if check.unmatched_structures:
        out.append("Structures not matched to a TG-263 name (not checked): " + ", ".join(check.unmatched_structures))
    absent: dict[str, int] = {}
    for r in check.results:
        if _absent_optional(r):
            absent[r.constraint.organ] = absent.get(r.constraint.organ, 0) + 1
    if absent:
        out.append(
            f"Not evaluated, organ not in the structure set ({sum(absent.values())} constraints): "
            + ", ".join(f"{organ} ({n})" for organ, n in absent.items())
        )
    label = "Plan verdict:" if composite_follows else "Verdict:"
    out.append(verdict_line(label, check.overall, _failing_organs(check), color))
    return "\n".join(out) + "\n"


def render_plan_block(
    check: CheckResult,
    composite: ReirradiationResult | None = None,
    *,
    color: bool = False,
    run_utc: str | None = None,
) -> str:
    """One plan's part of the terminal report: its check, then its re-irradiation composite
    and the one verdict that counts (the worst of the two) when prior courses were given."""
    text = render_plan(check, color=color, run_utc=run_utc, composite_follows=composite is not None)
    if composite is None:
        return text
    overall = Level.worst([check.overall, composite.overall])
    organs = _failing_organs(check) + [
        r.constraint.organ for r in composite.rows if r.counts and r.with_factor.level is not Level.PASS
    ]
    final = verdict_line("Overall verdict:", overall, list(dict.fromkeys(organs)), color)
    return text + "\n" + reirradiation.render_text(composite) + "\n" + final + " (plan table and re-irradiation composite)\n"


def render_error_block(summary: PlanSummary, *, run_utc: str | None = None) -> str:
    """The terminal block of a plan that could not be checked: which plan, the error with
    its file and remedy, and the exit code it means."""
    if summary.error is None:
        raise ValueError("render_error_block needs the summary of a plan that could not be checked")
    lines = [f"rtcheck {__version__} — constraint check"]
    if run_utc is not None:
        lines.append(f"Run (UTC):     {run_utc}")
    lines += [
        f"Patient ID:    {summary.patient_id or 'unknown'}",
        f"Plan:          {summary.plan_label or 'unnamed'}  (UID {summary.plan_uid or 'unknown'})",
        f"Not checked:   {summary.error}",
        f"Verdict:       NOT CHECKED (exit code {summary.error.exit_code})",
    ]
    return "\n".join(lines) + "\n"


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


def render_text(
    results: Sequence[CheckResult],
    composites: Sequence[ReirradiationResult] | None,
    summaries: Sequence[PlanSummary],
    *,
    color: bool = False,
    run_utc: str | None = None,
) -> str:
    """The terminal report: each plan's block (check and composite, or its error), one
    after the other, and the summary when there are several plans. ``summaries`` has one
    item per plan, in order; ``results`` and ``composites`` one per plan that was checked."""
    blocks = []
    for summary, check, composite in plans_in_order(results, composites, summaries):
        if check is None:
            blocks.append(render_error_block(summary, run_utc=run_utc))
        else:
            blocks.append(render_plan_block(check, composite, color=color, run_utc=run_utc))
    text = "\n".join(blocks)
    return text + "\n" + render_summary(summaries) if len(summaries) > 1 else text
