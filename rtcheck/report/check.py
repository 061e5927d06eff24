"""The report of `rtcheck check` in each of its formats, from the results of a run.

* ``table`` — the terminal report (:mod:`rtcheck.report.check_text`);
* ``json`` — the document of schema ``rtcheck-check`` (:mod:`rtcheck.report.check_json`);
* ``csv`` — one rectangular long-format table (:mod:`rtcheck.report.check_csv`);
* ``junit`` — JUnit XML for CI systems (:mod:`rtcheck.report.junit`);
* ``html`` — one self-contained page with DVH plots (:mod:`rtcheck.report.html`).

Every renderer takes the same three things: the checks of the plans that were checked, their
re-irradiation composites (or None), and one :class:`~rtcheck.report.summary.PlanSummary`
per plan, checked or not. Pure functions to strings; files and printing belong to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import CheckResult, ReirradiationResult
from .check_csv import records, render_csv
from .check_json import check_document, render_json
from .check_text import render_text
from .html import render_html
from .junit import render_junit
from .summary import PlanSummary

FORMATS = ("csv", "html", "json", "junit", "table")


def render(
    fmt: str,
    results: Sequence[CheckResult],
    composites: Sequence[ReirradiationResult] | None,
    summaries: Sequence[PlanSummary],
    *,
    exit_code: int,
    run_utc: str | None = None,
    color: bool = False,
) -> str:
    """The report of a run in ``fmt`` (one of :data:`FORMATS`). ``exit_code`` is the run's
    (the JSON states it beside its verdict); ``color`` applies to the table only."""
    if fmt == "json":
        return render_json(check_document(results, composites, summaries, exit_code=exit_code, run_utc=run_utc))
    if fmt == "csv":
        return render_csv(records(results, composites, summaries))
    if fmt == "junit":
        return render_junit(results, composites, summaries, run_utc=run_utc)
    if fmt == "table":
        return render_text(results, composites, summaries, color=color, run_utc=run_utc)
    if fmt == "html":
        return render_html(results, composites, summaries, run_utc=run_utc)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
