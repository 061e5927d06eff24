"""The check as JUnit XML (`rtcheck check --format junit`), so that CI systems show it.

One ``<testsuite>`` per plan (its re-irradiation rows in a second suite named "… —
re-irradiation"), one ``<testcase>`` per constraint (classname the organ, name the metric
and limit). How levels map:

* PASS → a passing test case;
* FAIL, MAJOR, MINOR, INDETERMINATE → ``<failure type="LEVEL">`` (each makes the exit code 1);
* NOT EVALUATED for a required organ or an organ in the structure set → ``<error>`` (it too
  makes the exit code 1: the constraint could not be evaluated);
* NOT EVALUATED for an optional organ that is not contoured → ``<skipped>``;
* a plan that could not be checked → one test case with ``<error type="NOT_CHECKED">``.

The ``<properties>`` of a suite carry the rtcheck version, the table and its sha256, the
plan UID and the run's time.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree import ElementTree as ET

from .. import __version__
from ..models import CheckResult, ConstraintResult, Level, ReirradiationResult
from .rows import counts_in_verdict, limit_text, value_text
from .summary import PlanSummary, plans_in_order

FAILURE_LEVELS = (Level.FAIL, Level.MAJOR, Level.MINOR, Level.INDETERMINATE)


def _suite(name: str, properties: dict[str, str | None]) -> ET.Element:
    """An empty test suite with its properties (None values left out)."""
    suite = ET.Element("testsuite", name=name)
    props = ET.SubElement(suite, "properties")
    for key, value in properties.items():
        if value is not None:
            ET.SubElement(props, "property", name=key, value=value)
    return suite


def _case(suite: ET.Element, organ: str, name: str, level: Level, message: str, counts: bool) -> None:
    """One constraint as a test case, its outcome mapped as the module docstring says."""
    case = ET.SubElement(suite, "testcase", classname=organ, name=name)
    if level in FAILURE_LEVELS:
        ET.SubElement(case, "failure", type=level.value, message=message).text = message
    elif level is Level.NOT_EVALUATED:
        tag = "error" if counts else "skipped"
        ET.SubElement(case, tag, type=level.value, message=message)


def _plan_suite(check: CheckResult, run_utc: str | None) -> ET.Element:
    """The plan table's constraints."""
    suite = _suite(
        f"{check.plan_label or 'unnamed'} ({check.patient_id or 'unknown'})",
        {"rtcheck_version": check.rtcheck_version, "table": check.table.name, "table_sha256": check.table.sha256,
         "plan_uid": check.plan_uid, "run_utc": run_utc},
    )
    for r in check.results:
        _case(suite, r.constraint.organ, _name(r), r.level, _message(r), counts_in_verdict(r))
    return suite


def _name(r: ConstraintResult) -> str:
    return f"{r.constraint.metric} {limit_text(r)}"


def _message(r: ConstraintResult) -> str:
    """What a failing case says: level, structure, value with unit, limit, and the reason."""
    if r.value is None:
        return f"{r.level.value}: {r.reason}"
    text = f"{r.level.value}: {r.structure_name} {r.constraint.metric} = {value_text(r)}, limit {limit_text(r)}"
    return text + (f" — {r.reason}" if r.reason else "")


def _composite_suite(check: CheckResult, composite: ReirradiationResult, run_utc: str | None) -> ET.Element:
    """The re-irradiation rows that count in the verdict (with the recovery factors)."""
    suite = _suite(
        f"{check.plan_label or 'unnamed'} ({check.patient_id or 'unknown'}) — re-irradiation",
        {"rtcheck_version": composite.rtcheck_version, "plan_uid": composite.plan_uid, "run_utc": run_utc,
         "tables": ", ".join(f"{t.name} {t.sha256}" for t in composite.tables)},
    )
    for row in composite.rows:
        if not row.counts:
            continue
        outcome = row.with_factor
        limit = f"{row.constraint.comparison.value} {row.limit_eqd2_gy:.2f} Gy EQD2" if row.limit_eqd2_gy is not None \
            else row.constraint.limit_text
        name = f"{row.constraint.metric} {limit} ({row.origin}{', ' + row.course if row.course else ''})"
        value = "not evaluated" if outcome.value is None else f"{outcome.value:.2f}"
        message = f"{outcome.level.value}: {outcome.structure_name or 'no structure'} = {value}" + (
            f" — {outcome.reason}" if outcome.reason else "")
        _case(suite, row.constraint.organ, name, outcome.level, message, counts_in_verdict(outcome))
    for interval in composite.intervals:
        case = ET.SubElement(suite, "testcase", classname=interval.organ,
                             name=f"interval {interval.course} → {interval.next_course} >= {interval.min_months:g} months")
        if interval.level is not Level.PASS:
            ET.SubElement(case, "failure", type=interval.level.value, message=interval.reason or interval.level.value)
    return suite


def _error_suite(summary: PlanSummary, run_utc: str | None) -> ET.Element:
    """A plan that could not be checked: one test case in error."""
    suite = _suite(f"{summary.plan_label or 'unnamed'} ({summary.patient_id or 'unknown'})",
                   {"rtcheck_version": __version__, "plan_uid": summary.plan_uid, "run_utc": run_utc})
    case = ET.SubElement(suite, "testcase", classname="plan", name="checked")
    ET.SubElement(case, "error", type="NOT_CHECKED", message=str(summary.error))
    return suite


def _count(suite: ET.Element) -> None:
    """Fill a suite's tests/failures/errors/skipped attributes from its cases."""
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attr, str(sum(1 for c in cases if c.find(tag) is not None)))


def render_junit(
    results: Sequence[CheckResult],
    composites: Sequence[ReirradiationResult] | None,
    summaries: Sequence[PlanSummary],
    *,
    run_utc: str | None = None,
) -> str:
    """The run as a JUnit XML document (``<testsuites>``), ending with a newline."""
    root = ET.Element("testsuites", name="rtcheck check")
    for summary, check, composite in plans_in_order(results, composites, summaries):
        if check is None:
            root.append(_error_suite(summary, run_utc))
            continue
        root.append(_plan_suite(check, run_utc))
        if composite is not None:
            root.append(_composite_suite(check, composite, run_utc))
    for suite in root:
        _count(suite)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
