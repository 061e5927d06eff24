"""Rendering a re-irradiation composite (:class:`rtcheck.models.ReirradiationResult`).

Pure functions from the result to strings. The text report shows, in order: the courses
(fractions, date, elapsed time, source) with each recovery factor and its documentation;
each organ's per-course EQD2 contributions; every limit evaluated on the composite **with and
without** the recovery factors; per-course limits; interval conditions; warnings; and the
verdicts, saying whether the verdict depends on the factors and whether values are upper
bounds.

JSON: the result's ``to_dict()`` (schema ``rtcheck-reirradiation``, version
:data:`rtcheck.models.SCHEMA_VERSION`), rounded to 6 decimals; with `rtcheck check --format
json` it is the list under the key ``reirradiation`` (one per plan)::

    {"schema": "rtcheck-reirradiation", "schema_version", "rtcheck_version",
     "plan_label", "plan_uid", "fractions", "current_date", "dose_quantity": "EQD2",
     "overall", "overall_with_factor", "overall_without_factor",
     "factor_applied": bool, "verdict_depends_on_factor": bool, "upper_bound": bool,
     "tables": [{"name", "version", "dose_quantity", "sha256", ...}],
     "prior_courses": [{"label", "kind": "dicom"|"summary", "source", "fractions", "date",
                        "elapsed_months", "plan_uid", "frame_of_reference_uid", "records",
                        "recovery": [{"factor", "elapsed_months", "elapsed_source", "approver",
                                      "approval_date", "rationale", "organs", "warnings"}],
                        "warnings"}],
     "composites": [{"organ", "alpha_beta_gy", "upper_bound", "factor_applied",
                     "contributions": [{"course", "kind", "fractions", "max_eqd2_gy",
                                        "near_max_eqd2_gy", "mean_eqd2_gy", "recovery_factor",
                                        "max_eqd2_after_recovery_gy", "outside_prior_grid_cc", ...}],
                     "with_factor": {"max_eqd2_gy", "near_max_eqd2_gy", "mean_eqd2_gy", "volume_cc"},
                     "without_factor": {...}, "warnings", "not_evaluated"}],
     "results": [{"origin": "cumulative"|"converted"|"per-course", "course", "counts_in_verdict",
                  "constraint": {...row...}, "alpha_beta_gy", "limit_eqd2_gy", "conversion",
                  "upper_bound", "with_factor": {"structure", "level", "value", "margin",
                  "coverage", "reason"}, "without_factor": {...}, "depends_on_factor"}],
     "intervals": [{"course", "organ", "source", "min_months", "elapsed_months", "level", "reason"}],
     "not_converted": [str], "warnings": [str]}
"""

from __future__ import annotations

import csv
import io
import json

from ..models import Level, MetricKind, Unit
from ..models.priors import elapsed_months
from ..models.reirradiation import CompositeRowResult, ReirradiationResult
from .common import columns, json_ready

VERDICTS = {
    Level.PASS: "PASS",
    Level.NOT_EVALUATED: "NOT EVALUATED (a required organ could not be evaluated)",
    Level.INDETERMINATE: "INDETERMINATE (review)",
    Level.MINOR: "MINOR DEVIATION",
    Level.MAJOR: "MAJOR DEVIATION",
    Level.FAIL: "FAIL (a hard limit or a condition of it is not met)",
}


def to_dict(result: ReirradiationResult) -> dict:
    """The composite's document as plain data, floats rounded (see :func:`json_ready`)."""
    return json_ready(result.to_dict())


def render_json(result: ReirradiationResult) -> str:
    """The composite's document as JSON text, ending with a newline."""
    return json.dumps(to_dict(result), indent=2, ensure_ascii=False) + "\n"


def _gy(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def composite_value_text(row: CompositeRowResult, which: str) -> str:
    """A composite row's value (``which``: "with_factor" or "without_factor") in its unit,
    without the unit; marked ≤ (an upper bound) or ≥ (a spared volume's lower bound) when a
    paper record was added max-to-max; '—' when not evaluated."""
    r = getattr(row, which)
    if r.value is None:
        return "—"
    digits = 1 if row.constraint.limit_unit is Unit.PERCENT else 2
    text = f"{r.value:.{digits}f}"
    if not row.upper_bound:
        return text
    # adding a prior maximum everywhere overstates doses: dose and V metrics are upper bounds,
    # a spared (critical) volume is a lower bound
    return ("≥ " if row.constraint.metric.kind is MetricKind.CRITICAL_VOLUME else "≤ ") + text


def composite_limit_text(row: CompositeRowResult) -> str:
    """A composite row's limit: a dose in Gy EQD2 (with the table's BED value), else as written."""
    c = row.constraint
    if c.limit_unit is Unit.GY:
        text = f"{c.comparison.value} {row.limit_eqd2_gy:.2f} Gy EQD2"
        if c.limit_quantity is not None and c.limit_quantity.value == "BED":
            text += f" (= {c.limit:g} Gy BED)"
        return text
    return f"{c.comparison.value} {c.limit:g} {c.limit_unit.value}"


class _Footnotes:
    """Reasons numbered in order of first use; a row shows ``[n]``, the list follows the tables."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def mark(self, text: str) -> str:
        """`` [n]`` for ``text`` (numbered on first use), or "" for no text."""
        if not text:
            return ""
        if text not in self.texts:
            self.texts.append(text)
        return f" [{self.texts.index(text) + 1}]"


def _heading(result: ReirradiationResult) -> list[str]:
    out = [f"rtcheck {result.rtcheck_version} — re-irradiation composite (EQD2)"]
    date = result.current_date.isoformat() if result.current_date else "unknown"
    out.append(f"Current plan:  {result.plan_label or 'unnamed'} (UID {result.plan_uid or 'unknown'}), "
               f"{result.fractions} fx, date {date}")
    for t in result.tables:
        out.append(f"Table:         {t.name} (version {t.version}; {t.dose_quantity.value}; sha256 {t.sha256 or '?'})")
    return out


def _prior_courses(result: ReirradiationResult) -> list[str]:
    """Each prior course with its date, the time since it, and its recovery factors with
    their documentation (who approved, when, why)."""
    out = ["", "Prior courses:"]
    for p in result.priors:
        elapsed = elapsed_months(p, result.current_date)
        when = p.date.isoformat() if p.date else "date unknown"
        gap = f", {elapsed:.1f} months before" if elapsed is not None else ""
        out.append(f"  {p.label}: {p.fractions} fx, {when}{gap} — {p.source}")
        if not p.recovery:
            out.append("    recovery factor: none (prior dose counted in full)")
        for f in p.recovery:
            scope = ", ".join(f.organs) if f.organs else "all organs"
            out.append(f"    recovery factor {f.factor:g} ({f.factor * 100:g} % of the prior BED discounted; {scope})")
            out.append(f"      elapsed {f.elapsed_months:.1f} months ({f.elapsed_source})")
            out.append(f"      approved by {f.approver} on {f.approval_date.isoformat()}")
            out.append(f"      rationale: {f.rationale}")
        for reg in (r for r in result.registrations if r.course == p.label):
            out.append(f"    registration: REG {reg.sop_instance_uid or 'unknown UID'} ({reg.source_file or 'file unknown'})")
            out.append("      current frame → prior frame (mm): "
                       + "; ".join(" ".join(f"{v:.4g}" for v in row) for row in reg.matrix[:3]))
    return out


def _discount(factor: float) -> str:
    """A recovery factor as the part of the prior dose discounted ("none", "25 %"): a bare
    "0" would read as "the prior dose multiplied by 0"."""
    return "none" if factor == 0 else f"{factor * 100:g} % discounted"


def _contributions(result: ReirradiationResult) -> list[str]:
    out = ["", "Per-course contributions at each organ (EQD2, Gy; D0.035cc / max; after the recovery discount):"]
    rows = [["Organ", "α/β", "Course", "Fx", "D0.035cc", "Max", "Recovery discount", "After discount"]]
    for comp in result.composites:
        for c in comp.contributions:
            after = None if c.near_max_eqd2_gy is None else c.near_max_eqd2_gy * (1 - c.factor)
            rows.append([comp.organ, f"{comp.alpha_beta_gy:g}", c.course + (" (≤, max-to-max)" if c.upper_bound else ""),
                         str(c.fractions), _gy(c.near_max_eqd2_gy), _gy(c.max_eqd2_gy), _discount(c.factor), _gy(after)])
    out.extend("  " + line for line in columns(rows, rule=True))
    return out


def _absent_optional(r: CompositeRowResult) -> bool:
    """A row of an optional organ that is not in the structure set: listed, not tabulated."""
    return r.with_factor.level is Level.NOT_EVALUATED and r.with_factor.structure_name is None and not r.with_factor.required


def _composite_limits(result: ReirradiationResult, footnotes: _Footnotes) -> list[str]:
    """The cumulative and converted limits, each with and without the recovery factors."""
    out = ["", "Limits on the composite (with and without recovery factors):"]
    rows = [["Organ", "Structure", "Metric", "Limit", "α/β", "With factor", "Level", "Without", "Level", "Source"]]
    composite_rows = [r for r in result.rows if r.origin != "per-course"]
    for r in composite_rows:
        if _absent_optional(r):
            continue
        row = r.constraint
        origin = "" if r.origin == "cumulative" else " (conv.)"
        rows.append([
            row.organ + (" *" if r.with_factor.required else "") + (" (goal)" if row.kind.value == "goal" else ""),
            r.with_factor.structure_name or "—", str(row.metric) + origin, composite_limit_text(r),
            "—" if r.alpha_beta_gy is None else f"{r.alpha_beta_gy:g}",
            composite_value_text(r, "with_factor"), r.with_factor.level.value.replace("_", " ") + footnotes.mark(r.with_factor.reason),
            composite_value_text(r, "without_factor"),
            r.without_factor.level.value.replace("_", " ") + ("  ← depends on factor" if r.depends_on_factor else ""),
            row.source,
        ])
    out.extend("  " + line for line in columns(rows, rule=True))
    skipped = [r.constraint.organ for r in composite_rows if _absent_optional(r)]
    if skipped:
        out.append(f"  Not in the structure set (not evaluated): {', '.join(dict.fromkeys(skipped))}")
    out.append("  * required organ. (conv.): the plan table's physical limit converted to EQD2 at its fractionation.")
    return out


def _per_course_limits(result: ReirradiationResult, footnotes: _Footnotes) -> list[str]:
    per_course = [r for r in result.rows if r.origin == "per-course" and r.with_factor.structure_name is not None]
    if not per_course:
        return []
    out = ["", "Per-course limits (each course's own EQD2; only the current course counts in the verdict):"]
    rows = [["Course", "Organ", "Metric", "Limit", "Value", "Level", "Source"]]
    for r in per_course:
        rows.append([r.course or "?", r.constraint.organ, str(r.constraint.metric), composite_limit_text(r), composite_value_text(r, "without_factor"),
                     r.without_factor.level.value.replace("_", " ") + ("" if r.counts else " (info)")
                     + footnotes.mark(r.without_factor.reason if r.counts else ""), r.constraint.source])
    out.extend("  " + line for line in columns(rows, rule=True))
    return out


def _intervals_and_notes(result: ReirradiationResult, footnotes: _Footnotes) -> list[str]:
    """Interval conditions, limits not converted, the footnotes and the warnings."""
    out: list[str] = []
    if result.intervals:
        out += ["", "Interval conditions of the limits (min_interval_months):"]
        for i in result.intervals:
            interval = "unknown" if i.elapsed_months is None else f"{i.elapsed_months:.1f} months"
            out.append(f"  {i.course} → {i.next_course}, {i.organ} ({i.source}): {interval}, needs >= {i.min_months:g} months: "
                       f"{i.level.value.replace('_', ' ')}" + (f" — {i.reason}" if i.reason else ""))
    if result.not_converted:
        out += ["", "Plan-table limits not converted to EQD2:"]
        out.extend(f"  {text}" for text in result.not_converted)
    if footnotes.texts:
        out.append("")
        out.extend(f"[{n}] {text}" for n, text in enumerate(footnotes.texts, start=1))
    if result.warnings:
        out.append("")
        out.extend(f"Warning: {w}" for w in result.warnings)
    return out


def _verdicts(result: ReirradiationResult) -> list[str]:
    """The verdict with and without the recovery factors, and whether it depends on them."""
    out = [""]
    if result.upper_bound:
        out.append("Upper bound:   a prior course known only from paper records was added max-to-max: "
                   "composite doses are upper bounds (≤), spared volumes lower bounds (≥).")
    if result.factor_applied:
        out.append(f"Composite verdict with recovery factors:    {VERDICTS[result.overall_with_factor]}")
        out.append(f"Composite verdict without recovery factors: {VERDICTS[result.overall_without_factor]}")
        out.append("The verdict " + ("DEPENDS" if result.verdict_depends_on_factor else "does not depend")
                   + " on the recovery factor(s).")
    else:
        out.append(f"Composite verdict: {VERDICTS[result.overall_with_factor]} (no recovery factor applied)")
    return out


def render_text(result: ReirradiationResult) -> str:
    """The composite report for a terminal: courses, contributions, limits with and without
    the recovery factors, per-course limits, intervals, notes and the verdicts."""
    footnotes = _Footnotes()
    out = _heading(result) + _prior_courses(result) + _contributions(result)
    out += _composite_limits(result, footnotes) + _per_course_limits(result, footnotes)
    out += _intervals_and_notes(result, footnotes) + _verdicts(result)
    return "\n".join(out) + "\n"


CSV_COLUMNS = (
    "plan_uid", "origin", "course", "organ", "structure", "metric", "comparison", "limit_eqd2_gy", "unit",
    "alpha_beta_gy", "value_with_factor", "level_with_factor", "value_without_factor", "level_without_factor",
    "depends_on_factor", "upper_bound", "counts_in_verdict", "source", "reason",
)


def render_csv(result: ReirradiationResult) -> str:
    """One line per limit evaluated (columns :data:`CSV_COLUMNS`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in result.rows:
        c = r.constraint
        writer.writerow([
            result.plan_uid or "", r.origin, r.course or "", c.organ, r.with_factor.structure_name or "", str(c.metric),
            c.comparison.value, "" if r.limit_eqd2_gy is None else f"{r.limit_eqd2_gy:.6g}",
            "Gy EQD2" if c.limit_unit is Unit.GY else c.limit_unit.value,
            "" if r.alpha_beta_gy is None else f"{r.alpha_beta_gy:g}",
            "" if r.with_factor.value is None else f"{r.with_factor.value:.6g}", r.with_factor.level.value,
            "" if r.without_factor.value is None else f"{r.without_factor.value:.6g}", r.without_factor.level.value,
            str(r.depends_on_factor).lower(), str(r.upper_bound).lower(), str(r.counts).lower(), c.source,
            r.with_factor.reason,
        ])
    return buffer.getvalue()


RENDERERS = {"table": render_text, "json": render_json, "csv": render_csv}
