"""Renderers of an audit: its progress line, and the summary of a ledger (text, CSV, JSON,
HTML).

The data rendered here is plain and frozen: :class:`AuditProgress` (made by
:func:`rtcheck.audit.run_audit` as plans are recorded) and :class:`AuditSummary` (read from
a ledger by :func:`rtcheck.audit.read_summary`). Nothing here computes, reads a ledger or
prints: each function returns text.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditProgress:
    """Where an audit stands: plans ``found`` in the archive, ``skipped`` (unchanged since
    recorded), ``to_check``, ``done`` so far, of which ``not_passed`` (checked, verdict not
    PASS) and ``not_checked`` (recorded with an error). Times in seconds since the audit
    started: ``elapsed_s``, and ``checks_started_s`` when the first check began."""

    found: int
    skipped: int
    to_check: int
    done: int = 0
    not_passed: int = 0
    not_checked: int = 0
    elapsed_s: float = 0.0
    checks_started_s: float | None = None

    def advanced(self, *, passed: bool, checked: bool, now_s: float) -> AuditProgress:
        """The progress once one more plan is recorded (``now_s``: seconds since the start)."""
        return dataclasses.replace(
            self, done=self.done + 1, not_passed=self.not_passed + (checked and not passed),
            not_checked=self.not_checked + (not checked), elapsed_s=now_s,
            checks_started_s=self.checks_started_s if self.checks_started_s is not None else self.elapsed_s,
        )

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (None before the first plan is done)."""
        if self.done == 0 or self.checks_started_s is None:
            return None
        rate = (self.elapsed_s - self.checks_started_s) / self.done
        return rate * (self.to_check - self.done)


def _duration(seconds: float | None) -> str:
    """``1 h 02 min``, ``3 min 05 s``, ``12 s``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    whole = int(round(seconds))
    if whole >= 3600:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    if whole >= 60:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole} s"


def render_progress(progress: AuditProgress, *, bar_width: int = 0) -> str:
    """One progress line: plans found and skipped, done out of those to check, not passed,
    not checked, ETA; with ``bar_width`` a bar of that many characters leads it."""
    p = progress
    bar = ""
    if bar_width:
        filled = bar_width * p.done // p.to_check if p.to_check else bar_width
        bar = "[" + "#" * filled + "-" * (bar_width - filled) + "] "
    return (
        f"{bar}{p.done}/{p.to_check} checked ({p.not_passed} not passed, {p.not_checked} not checked); "
        f"{p.found} plans found, {p.skipped} unchanged; ETA {_duration(p.eta_s) if p.done < p.to_check else '0 s'}"
    )


@dataclass(frozen=True)
class VerdictCount:
    """How many plans of a ledger have one verdict (a level name, or NOT_CHECKED)."""

    verdict: str
    plans: int


@dataclass(frozen=True)
class DeviationCount:
    """How many plans deviate on one organ and metric at one level (INDETERMINATE, MINOR,
    MAJOR, FAIL)."""

    organ: str
    metric: str
    level: str
    plans: int


@dataclass(frozen=True)
class ReviewItem:
    """A plan that did not pass, and why: its error, or the rows that make its verdict."""

    plan_key: str
    plan_uid: str | None
    patient_id: str | None
    plan_label: str | None
    fractions: int | None
    table_name: str | None
    verdict: str
    exit_code: int
    reasons: str


@dataclass(frozen=True)
class AuditSummary:
    """What a ledger holds, summed up: plans by verdict (worst last), the most frequent
    deviations per organ and metric, and the plans needing review."""

    ledger: str
    schema_version: int
    plans: int
    by_verdict: tuple[VerdictCount, ...]
    deviations: tuple[DeviationCount, ...]
    review: tuple[ReviewItem, ...]
    rtcheck_versions: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """The summary as plain data (the JSON document)."""
        return dataclasses.asdict(self)


def _identity(item: ReviewItem) -> str:
    """How a plan is named in the text summary: patient, label and UID (or its key)."""
    who = " ".join(x for x in (item.patient_id, item.plan_label) if x) or "(unknown plan)"
    return f"{who} [{item.plan_uid or item.plan_key}]"


def render_text(summary: AuditSummary) -> str:
    """The summary for a terminal: counts, deviations, plans needing review."""
    lines = [f"Audit ledger {summary.ledger}: {summary.plans} plans (rtcheck {', '.join(summary.rtcheck_versions) or '-'})", ""]
    lines.append("Plans by verdict:")
    lines += [f"  {c.verdict.replace('_', ' '):<14} {c.plans}" for c in summary.by_verdict] or ["  (none)"]
    lines += ["", "Most frequent deviations (plans per organ, metric and level):"]
    lines += [f"  {d.plans:>5}  {d.organ} {d.metric}: {d.level}" for d in summary.deviations] or ["  (none)"]
    lines += ["", f"Plans needing review ({len(summary.review)}):"]
    for item in summary.review:
        table = f", {item.table_name}" if item.table_name else ""
        lines.append(f"  {_identity(item)} — {item.verdict.replace('_', ' ')}{table}: {item.reasons or '(no reason recorded)'}")
    if not summary.review:
        lines.append("  (none)")
    return "\n".join(lines) + "\n"


_CSV_COLUMNS = ("section", "verdict", "organ", "metric", "level", "plans", "plan_key", "plan_uid", "patient_id",
                "plan_label", "fractions", "table", "exit_code", "reasons")


def render_csv(summary: AuditSummary) -> str:
    """The summary as one CSV table; ``section`` (verdicts, deviations, review) says which
    part each row belongs to."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for c in summary.by_verdict:
        writer.writerow({"section": "verdicts", "verdict": c.verdict, "plans": c.plans})
    for d in summary.deviations:
        writer.writerow({"section": "deviations", "organ": d.organ, "metric": d.metric, "level": d.level, "plans": d.plans})
    for r in summary.review:
        writer.writerow({
            "section": "review", "verdict": r.verdict, "plan_key": r.plan_key, "plan_uid": r.plan_uid,
            "patient_id": r.patient_id, "plan_label": r.plan_label, "fractions": r.fractions,
            "table": r.table_name, "exit_code": r.exit_code, "reasons": r.reasons,
        })
    return out.getvalue()


def render_json(summary: AuditSummary) -> str:
    """The summary as a JSON document."""
    return json.dumps(summary.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _html_table(headers: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    """An HTML table, every cell escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(summary: AuditSummary) -> str:
    """The summary as a standalone HTML page."""
    title = f"rtcheck audit — {html.escape(summary.ledger)}"
    parts = [
        f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title>",
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;"
        "padding:2px 6px;text-align:left}</style></head><body>",
        f"<h1>{title}</h1><p>{summary.plans} plans</p>",
        "<h2>Plans by verdict</h2>",
        _html_table(("verdict", "plans"), [(c.verdict, c.plans) for c in summary.by_verdict]),
        "<h2>Most frequent deviations</h2>",
        _html_table(("organ", "metric", "level", "plans"), [(d.organ, d.metric, d.level, d.plans) for d in summary.deviations]),
        "<h2>Plans needing review</h2>",
        _html_table(
            ("patient", "plan", "UID", "fractions", "table", "verdict", "reasons"),
            [(r.patient_id, r.plan_label, r.plan_uid or r.plan_key, r.fractions, r.table_name, r.verdict, r.reasons)
             for r in summary.review],
        ),
        "</body></html>\n",
    ]
    return "".join(parts)


#: The summary formats of ``rtcheck audit-report``.
FORMATS = {"text": render_text, "csv": render_csv, "json": render_json, "html": render_html}


def render(fmt: str, summary: AuditSummary) -> str:
    """The summary in format ``fmt`` (one of :data:`FORMATS`)."""
    return FORMATS[fmt](summary)
