"""The re-irradiation part of the HTML report (:mod:`rtcheck.report.html`).

Per plan with prior courses: the courses (fractions, date, time since, recovery factors with
who approved them and why); per organ, each course's EQD2 contribution before and after its
recovery factor; every limit on the composite **with and without** the recovery factors;
the per-course limits; the interval conditions; the warnings; and the verdict with and
without the factors. Doses are EQD2 in Gy. A factor reads as the share of the prior dose
*discounted* ("30 % of the prior dose discounted"), never as a multiplier of the dose.
"""

from __future__ import annotations

from ..models import Level, Unit
from ..models.reirradiation import CompositeRowResult, ReirradiationResult
from .html_parts import cell, esc, level_cell, level_words, table_html
from .reirradiation import composite_limit_text, composite_value_text


def _gy(value: float | None) -> str:
    """An EQD2 dose (Gy) with two decimals and its unit; '—' for None."""
    return "—" if value is None else f"{value:.2f} Gy"


def row_value(row: CompositeRowResult, *, with_factor: bool) -> str:
    """A composite row's value with its unit, with or without the recovery factors (≤ or ≥
    when it is a bound, see :func:`rtcheck.report.reirradiation.composite_value_text`)."""
    text = composite_value_text(row, "with_factor" if with_factor else "without_factor")
    unit = row.constraint.limit_unit
    return text if text == "—" else f"{text} {'Gy' if unit is Unit.GY else unit.value}"


def _margin(row: CompositeRowResult) -> str:
    """The margin with the recovery factors, signed, in the row's unit."""
    margin = row.with_factor.margin
    if margin is None:
        return "—"
    unit = row.constraint.limit_unit
    return f"{margin:+.{1 if unit is Unit.PERCENT else 2}f} {'Gy' if unit is Unit.GY else unit.value}"


def failure_rows(result: ReirradiationResult) -> list[list[str]]:
    """The composite's rows that count in the verdict and do not pass (with the recovery
    factors), then the interval conditions not met, as cells of the failures table
    (Level, Part, Organ, Structure, Metric, Value, Limit, Margin, Reason)."""
    rows = []
    for r in result.rows:
        if not r.counts or r.with_factor.level is Level.PASS:
            continue
        part = f"re-irradiation ({r.origin}{', ' + r.course if r.course else ''}; EQD2)"
        rows.append([
            level_cell(r.with_factor.level), cell(part), cell(r.constraint.organ), cell(r.with_factor.structure_name),
            cell(r.constraint.metric), cell(row_value(r, with_factor=True), num=True), cell(composite_limit_text(r), num=True),
            cell(_margin(r), num=True), cell(r.with_factor.reason),
        ])
    for i in result.intervals:
        if i.level is Level.PASS:
            continue
        elapsed = "unknown" if i.elapsed_months is None else f"{i.elapsed_months:.1f} months"
        margin = "—" if i.elapsed_months is None else f"{i.elapsed_months - i.min_months:+.1f} months"
        rows.append([
            level_cell(i.level), cell("interval"), cell(i.organ), cell(None), cell(f"{i.course} → {i.next_course}"),
            cell(elapsed, num=True), cell(f">= {i.min_months:g} months"), cell(margin, num=True), cell(i.reason),
        ])
    return rows


def _courses(result: ReirradiationResult) -> str:
    """The prior courses with their recovery factors and the factors' documentation."""
    rows = []
    for p in result.priors:
        elapsed = result.elapsed_months(p)
        factors = "; ".join(
            f"{f.factor * 100:g} % of the prior dose discounted ({', '.join(f.organs) or 'all organs'}), "
            f"approved by {f.approver} on {f.approval_date.isoformat()}: {f.rationale}"
            for f in p.recovery
        ) or "none: the prior dose counts in full"
        rows.append([
            cell(p.label), cell(p.fractions, num=True), cell(p.date.isoformat() if p.date else "unknown"),
            cell("unknown" if elapsed is None else f"{elapsed:.1f}", num=True), cell(p.source), cell(factors),
        ])
    header = ["Course", "Fractions", "Date", "Months before this plan", "Source", "Recovery factor"]
    return "<h4>Prior courses</h4>\n" + table_html(header, rows, css_class="courses")


def _contributions(result: ReirradiationResult) -> str:
    """Each organ's EQD2 per course, before and after the course's recovery factor."""
    rows = []
    for comp in result.composites:
        for c in comp.contributions:
            after = None if c.near_max_eqd2_gy is None else c.near_max_eqd2_gy * (1 - c.factor)
            rows.append([
                cell(comp.organ), cell(f"{comp.alpha_beta_gy:g} Gy", num=True),
                cell(c.course + (" (paper record: max-to-max, an upper bound)" if c.upper_bound else "")),
                cell(c.fractions, num=True), cell(_gy(c.max_eqd2_gy), num=True),
                cell(_gy(c.near_max_eqd2_gy), num=True), cell(f"{c.factor * 100:g} %", num=True),
                cell(_gy(after), num=True),
            ])
    header = ["Organ", "α/β", "Course", "Fx", "Max EQD2", "D0.035cc EQD2 without factor", "Discounted",
              "D0.035cc EQD2 with factor"]
    return "<h4>Per-course contributions (EQD2)</h4>\n" + table_html(header, rows, css_class="contributions")


def _limits(result: ReirradiationResult) -> str:
    """Every limit on the composite and per course, with and without the recovery factors."""
    rows = []
    for r in result.rows:
        if r.with_factor.level is Level.NOT_EVALUATED and r.with_factor.structure_name is None and not r.counts:
            continue
        part = r.origin + (f" ({r.course})" if r.course else "") + ("" if r.counts else ", for information")
        rows.append([
            cell(part), cell(r.constraint.organ), cell(r.with_factor.structure_name), cell(r.constraint.metric),
            cell(composite_limit_text(r), num=True), cell(row_value(r, with_factor=True), num=True), level_cell(r.with_factor.level),
            cell(row_value(r, with_factor=False), num=True), level_cell(r.without_factor.level),
            cell("yes" if r.depends_on_factor else "no"), cell(r.with_factor.reason),
        ])
    header = ["Part", "Organ", "Structure", "Metric", "Limit", "With factor", "Level", "Without factor", "Level",
              "Depends on factor", "Reason"]
    return "<h4>Limits with and without the recovery factors</h4>\n" + table_html(header, rows, css_class="reirr-limits")


def _notes(result: ReirradiationResult) -> str:
    """Interval conditions, limits not converted, warnings and the verdicts."""
    items = []
    for i in result.intervals:
        elapsed = "unknown" if i.elapsed_months is None else f"{i.elapsed_months:.1f} months"
        items.append(f"Interval {i.course} → {i.next_course}, {i.organ} ({i.source}): {elapsed}, needs at least "
                     f"{i.min_months:g} months: {level_words(i.level)}" + (f" — {i.reason}" if i.reason else ""))
    items += [f"Not converted to EQD2: {text}" for text in result.not_converted]
    items += [f"Warning: {w}" for w in result.warnings]
    if result.upper_bound:
        items.append("A prior course known only from paper records was added max-to-max: composite doses are "
                     "upper bounds (≤), spared volumes lower bounds (≥).")
    if result.factor_applied:
        items.append(f"Verdict with the recovery factors: {level_words(result.overall_with_factor)}; without: "
                     f"{level_words(result.overall_without_factor)} — the verdict "
                     + ("DEPENDS" if result.verdict_depends_on_factor else "does not depend") + " on the factors.")
    else:
        items.append(f"Verdict: {level_words(result.overall_with_factor)} (no recovery factor applied).")
    return "<ul>" + "".join(f"<li>{esc(text)}</li>" for text in items) + "</ul>"


def section(result: ReirradiationResult) -> str:
    """The re-irradiation part of a plan's section of the HTML report."""
    return "\n".join([
        '<div class="reirradiation">',
        "<h3>Re-irradiation composite (EQD2)</h3>",
        _courses(result),
        _contributions(result),
        _limits(result),
        _notes(result),
        "</div>",
    ])
