"""The HTML report of a check (``rtcheck check --format html -o report.html``).

One self-contained, printable page: inline CSS (with print rules) and inline SVG, no script,
no external style, font or image, so it opens the same from a file, a mail attachment or an
archive years later, with no network. In order:

1. a verdict banner — the run's verdict (the worst plan verdict; a plan that could not be
   checked is NOT EVALUATED), the plans and the organs that made it;
2. per plan: its identity and table, then **the rows not passing first** (every FAIL,
   MAJOR, MINOR, INDETERMINATE and NOT EVALUATED row that counts in the verdict, worst
   first, with organ, structure, metric, value with unit, limit and margin; re-irradiation
   rows and interval conditions included; optional organs not in the structure set listed
   after them), the full constraint table, a cumulative DVH plot per checked organ with
   its constraints drawn at their limits (:mod:`rtcheck.report.plots`), and the
   re-irradiation breakdown per course with and without the recovery factors when prior
   courses were given (:mod:`rtcheck.report.html_reirradiation`);
3. the plans that could not be checked, with their error;
4. a provenance footer: rtcheck version, the run's time (UTC), each plan's table with its
   file and sha256, and the UIDs and files read.

Everything but the run's time is a function of the results: the same check gives the same
bytes. Every text from the inputs (structure names, labels, paths) is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import __version__
from ..models import CheckResult, ConstraintResult, Level
from ..models.reirradiation import ReirradiationResult
from . import html_reirradiation
from .check_text import VERDICT_WORDS
from .html_parts import cell, esc, level_cell, level_words, table_html
from .plots import LEVEL_COLOURS, organ_plots, organ_svg
from .rows import (
    counts_in_verdict,
    limit_text,
    margin_text,
    not_passing,
    prescription_text,
    unit_text,
    value_text,
)
from .summary import PlanSummary, plans_in_order

_CSS = """
:root { --pass: %(PASS)s; --ne: %(NOT_EVALUATED)s; --ind: %(INDETERMINATE)s; --minor: %(MINOR)s;
        --major: %(MAJOR)s; --fail: %(FAIL)s; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 1.5rem auto; max-width: 72rem; padding: 0 1rem; color: #1a1a1a; line-height: 1.35; }
h1 { font-size: 1.4rem; margin: 0; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 2px solid #444; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
.banner { padding: 0.9rem 1.2rem; border-radius: 6px; color: #fff; margin-bottom: 1rem; }
.banner p { margin: 0.3rem 0 0 0; } .banner ul { margin: 0.2rem 0 0 0; padding-left: 1.3rem; }
.level-PASS { background: var(--pass); } .level-NOT_EVALUATED { background: var(--ne); }
.level-INDETERMINATE { background: var(--ind); } .level-MINOR { background: var(--minor); }
.level-MAJOR { background: var(--major); } .level-FAIL { background: var(--fail); }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.85rem; width: 100%%; }
th, td { border: 1px solid #bbb; padding: 0.2rem 0.45rem; text-align: left; vertical-align: top; }
th { background: #eee; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.lvl { font-weight: 600; white-space: nowrap; }
td.lvl-PASS { color: var(--pass); } td.lvl-NOT_EVALUATED { color: var(--ne); }
td.lvl-INDETERMINATE { color: var(--ind); } td.lvl-MINOR { color: var(--minor); }
td.lvl-MAJOR { color: var(--major); } td.lvl-FAIL { color: var(--fail); }
.failures { border: 2px solid var(--fail); border-radius: 6px; padding: 0.2rem 0.8rem 0.6rem; }
.failures.none { border-color: var(--pass); }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 0.1rem 1rem; font-size: 0.9rem; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.plots { display: flex; flex-wrap: wrap; gap: 0.8rem; }
figure.dvh { margin: 0; border: 1px solid #ddd; padding: 0.3rem; break-inside: avoid; flex: 1 1 28rem; max-width: 36rem; }
figure.dvh svg { width: 100%%; height: auto; display: block; }
figcaption { font-size: 0.8rem; color: #444; }
.note { font-size: 0.85rem; color: #333; }
footer { margin-top: 2.5rem; border-top: 2px solid #444; font-size: 0.8rem; color: #333; }
footer table { font-size: 0.75rem; } footer td { overflow-wrap: anywhere; }
@media print {
  body { max-width: none; margin: 0; font-size: 10pt; }
  .banner, .level-PASS, .level-FAIL, td.lvl { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section.plan { break-before: page; } section.plan:first-of-type { break-before: auto; }
  table { page-break-inside: auto; } tr { break-inside: avoid; } thead { display: table-header-group; }
  figure.dvh { flex-basis: 8.5cm; }
}
""" % {level.value: colour for level, colour in LEVEL_COLOURS.items()}


def margin_with_unit(r: ConstraintResult) -> str:
    """A row's signed margin with its unit (positive on the passing side); '—' when undefined."""
    return "—" if r.margin is None else f"{margin_text(r)} {unit_text(r)}"


def _banner(verdict: Level, summaries: Sequence[PlanSummary]) -> str:
    """The verdict banner: the verdict's words, the plans, and what did not pass — per plan
    (by its label) when there are several, with the error of a plan not checked."""
    plans = len(summaries)
    not_checked = sum(1 for s in summaries if s.error is not None)
    count = f"{plans} plan{'s' if plans != 1 else ''}" + (
        f", {not_checked} of them could not be checked" if not_checked else " checked"
    )
    lines = [f"<p>{count}.</p>"]
    items = []
    for s in summaries:
        what = f"not checked: {s.error}" if s.error is not None else ", ".join(s.failing)
        if what:
            items.append(esc(f"{s.plan_label or 'unnamed plan'}: {what}" if plans > 1 else what))
    if verdict is not Level.PASS and items:
        lines.append("<p>Not passing:</p><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
    return (
        f'<header class="banner level-{verdict.value}" id="verdict" data-verdict="{verdict.value}">\n'
        f"<h1>Verdict: {esc(VERDICT_WORDS[verdict])}</h1>\n" + "\n".join(lines) + "\n</header>"
    )


def _plan_meta(check: CheckResult, summary: PlanSummary, composite: ReirradiationResult | None) -> str:
    """The plan's identity, table and verdict (with prior courses: the plan's verdict, then
    its own table's and the composite's, so that no verdict reads as the plan's alone)."""
    t = check.table
    rx = prescription_text(check.prescription_gy, check.fractions)
    items = [
        ("Patient ID", check.patient_id or "unknown"),
        ("Plan", f"{check.plan_label or 'unnamed'} (UID {check.plan_uid or 'unknown'})"),
        ("Fractions", check.fractions if check.fractions is not None else "unknown"),
        ("Prescription", rx),
        ("Table", f"{t.name} (version {t.version}; {t.dose_quantity.value} dose)"),
        ("Plan verdict", VERDICT_WORDS[summary.verdict]),
    ]
    if composite is not None:
        items.append(("Plan's own table", level_words(check.overall)))
        items.append(("Re-irradiation composite", level_words(composite.overall)))
    return '<dl class="meta">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def _failure_rows(check: CheckResult) -> list[list[str]]:
    """The plan table's rows that keep it from passing, worst first, as table cells."""
    failing = not_passing(check.results)
    failing.sort(key=lambda r: -r.level.severity)
    return [
        [level_cell(r.level), cell("plan"), cell(r.constraint.organ), cell(r.structure_name), cell(r.constraint.metric),
         cell(value_text(r), num=True), cell(limit_text(r)), cell(margin_with_unit(r), num=True), cell(r.reason)]
        for r in failing
    ]


def _failures(check: CheckResult, composite: ReirradiationResult | None) -> str:
    """The block of rows not passing (plan rows, then re-irradiation rows and intervals),
    and the optional organs that are not in the structure set."""
    rows = _failure_rows(check)
    if composite is not None:
        rows += html_reirradiation.failure_rows(composite)
    absent = list(dict.fromkeys(r.constraint.organ for r in check.results if not counts_in_verdict(r)))
    header = ["Level", "Part", "Organ", "Structure", "Metric", "Value", "Limit", "Margin", "Reason"]
    parts = ['<div class="failures' + ("" if rows else " none") + '" id="failures">',
             f"<h3>Not passing ({len(rows)})</h3>"]
    parts.append(table_html(header, rows, css_class="failures-table") if rows else "<p>None: every row passes.</p>")
    if absent:
        parts.append('<p class="note">Not evaluated, optional organs not in the structure set (they do not '
                     f"affect the verdict): {esc(', '.join(absent))}</p>")
    parts.append("</div>")
    return "\n".join(parts)


def _full_table(check: CheckResult) -> str:
    """Every row of the plan's table with its outcome, but those of optional organs not in the
    structure set (listed with the rows not passing)."""
    header = ["Organ", "Structure", "Metric", "Limit", "Value", "Margin", "Level", "Source", "Conf.", "Reason"]
    rows = []
    for r in check.results:
        if not counts_in_verdict(r):
            continue
        c = r.constraint
        organ = c.organ + (" *" if r.required else "") + (" (goal)" if c.kind.value == "goal" else "")
        rows.append([
            cell(organ), cell(r.structure_name), cell(c.metric), cell(limit_text(r), num=True), cell(value_text(r), num=True),
            cell(margin_with_unit(r), num=True), level_cell(r.level), cell(c.source), cell(c.confidence.value),
            cell(r.reason),
        ])
    note = ('<p class="note">* required organ. Value ± numerical uncertainty; margin &gt; 0 is on the passing '
            "side.</p>")
    return "<h3>All constraints</h3>\n" + table_html(header, rows, css_class="constraints") + "\n" + note


def _plots(check: CheckResult, plan_id: str) -> str:
    """A DVH plot per checked organ, its constraints drawn at their limits."""
    plots = organ_plots(check)
    if not plots:
        return "<h3>DVH</h3>\n<p>No DVH was kept with this check.</p>"
    figures = []
    for n, plot in enumerate(plots):
        rendered = organ_svg(plot, id_prefix=f"{plan_id}-o{n}")
        structures = ", ".join(c.structure_name for c in plot.curves)
        figures.append(
            f'<figure class="dvh" id="{plan_id}-dvh-{n}" data-organ="{esc(plot.organ)}">\n{rendered.svg}'
            f"<figcaption>{esc(plot.organ)}: cumulative DVH of {esc(structures)}; ▼ upper and ▲ lower limits "
            "at their values, in the colour of their level.</figcaption></figure>"
        )
    return '<h3>DVH</h3>\n<div class="plots">\n' + "\n".join(figures) + "\n</div>"


def _notes(check: CheckResult) -> str:
    """The check's notes, missing required organs and structures whose name was not understood."""
    items = [esc(n) for n in check.notes]
    if check.missing_required:
        items.append("Missing required organs: " + esc(", ".join(check.missing_required)))
    if check.unmatched_structures:
        items.append("Structures not matched to a TG-263 name (not checked): "
                     + esc(", ".join(check.unmatched_structures)))
    return "<h3>Notes</h3>\n<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" if items else ""


def _plan_section(check: CheckResult, composite: ReirradiationResult | None, summary: PlanSummary, n: int) -> str:
    """One plan's section: identity, rows not passing, full table, DVH plots, notes and the
    re-irradiation breakdown."""
    plan_id = f"plan-{n}"
    parts = [
        f'<section class="plan" id="{plan_id}">',
        f"<h2>{esc(check.plan_label or 'unnamed plan')}</h2>",
        _plan_meta(check, summary, composite),
        _failures(check, composite),
        _full_table(check),
        _plots(check, plan_id),
        _notes(check),
    ]
    if composite is not None:
        parts.append(html_reirradiation.section(composite))
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _error_section(summary: PlanSummary, n: int) -> str:
    """A plan that could not be checked: which plan, the error and the exit code it means."""
    assert summary.error is not None
    return (
        f'<section class="plan not-checked" id="plan-{n}">\n<h2>{esc(summary.plan_label or "unnamed plan")}: not checked</h2>\n'
        f'<dl class="meta"><dt>Patient ID</dt><dd>{esc(summary.patient_id or "unknown")}</dd>'
        f'<dt>Plan UID</dt><dd>{esc(summary.plan_uid or "unknown")}</dd>'
        f"<dt>Error</dt><dd>{esc(summary.error)}</dd><dt>Exit code</dt><dd>{summary.error.exit_code}</dd></dl>\n"
        "</section>"
    )


def _footer(results: Sequence[CheckResult], run_utc: str | None) -> str:
    """Provenance: rtcheck version, the run's time, each plan's table (file, sha256) and inputs."""
    rows = [[cell("rtcheck version"), cell(__version__)], [cell("Run (UTC)"), cell(run_utc or "not recorded")]]
    for check in results:
        t = check.table
        label = check.plan_label or check.plan_uid or "plan"
        rows.append([cell(f"{label}: table"), cell(f"{t.name} version {t.version}")])
        rows.append([cell(f"{label}: table sha256"), cell(t.sha256 or "unknown")])
        if t.path is not None:
            rows.append([cell(f"{label}: table file"), cell(t.path)])
        rows += [[cell(f"{label}: {what}"), cell(value)] for what, value in check.inputs]
    return '<footer id="provenance">\n<h2>Provenance</h2>\n' + table_html(["What", "Value"], rows) + "\n</footer>"


def render_html(
    results: Sequence[CheckResult],
    composites: Sequence[ReirradiationResult] | None,
    summaries: Sequence[PlanSummary],
    *,
    run_utc: str | None = None,
) -> str:
    """The HTML report of a run (see the module's docstring): ``results`` one per plan
    checked, ``composites`` their re-irradiation composites (one per plan, or None),
    ``summaries`` one per plan in order, checked or not (their verdicts make the run's:
    the worst); ``run_utc`` the run's time (ISO 8601, UTC)."""
    verdict = Level.worst(s.verdict for s in summaries)
    sections = []
    for n, (summary, check, composite) in enumerate(plans_in_order(results, composites, summaries)):
        if check is None:
            sections.append(_error_section(summary, n + 1))
        else:
            sections.append(_plan_section(check, composite, summary, n + 1))
    title = f"rtcheck — {level_words(verdict)}"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + _banner(verdict, summaries) + "\n"
        + "\n".join(sections) + "\n"
        + _footer(results, run_utc) + "\n</body>\n</html>\n"
    )
