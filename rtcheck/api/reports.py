"""The results of the library API: :class:`CheckReport` and :class:`DVHReport`.

Both are plain, frozen, picklable data built from the domain models (a plan's check can run
in another process or on another machine and come back intact). They render themselves
through :mod:`rtcheck.report` — ``to_dict`` and ``to_json`` give exactly the documents of
``rtcheck check --format json`` and ``rtcheck dvh --format json`` — and ``to_dataframe``
gives one row per plan × part × constraint (pandas, an optional extra).

The verdict rule is decided here once, for the API and the command line alike:

* a plan's verdict is the worst of its check and its re-irradiation composite (with the
  documented recovery factors); a plan that could not be checked is NOT EVALUATED, never PASS;
* the report's verdict is the worst plan verdict;
* the exit code is 0 exactly when the verdict is PASS and no plan failed to be checked, 1 when
  a plan does not pass, and the error's own code (2 usage, 3 input) when a plan could not be
  checked — the worst code over the plans, in the order 3 > 2 > 1 > 0.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError, RtcheckError
from ..models import DVH, CheckResult, ConstraintResult, Course, Level, Unit
from ..models.reirradiation import CompositeRowResult, IntervalCheck, ReirradiationResult
from ..report import check as check_report
from ..report import check_csv, check_json, check_text
from ..report import dvh as dvh_report
from ..report.rows import counts_in_verdict
from ..report.summary import PlanSummary

EXIT_OK = 0
EXIT_FAILED = 1


def utc_now() -> str:
    """The current time in UTC as ISO 8601 to the second (``2026-12-08T02:50:00Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Failure:
    """One row that is not PASS: where it comes from, what was measured and the limit.

    ``part`` is ``"plan"`` for the plan's own table, else the re-irradiation row's origin
    (``"cumulative"``, ``"converted"``, ``"per-course"``) or ``"interval"``. ``value``,
    ``limit`` and ``margin`` share ``unit`` (Gy — EQD2 Gy for re-irradiation rows —, cc, %
    or months); ``margin`` is positive on the passing side and None when undefined.
    """

    plan_label: str | None
    plan_uid: str | None
    part: str
    organ: str
    structure: str | None
    metric: str
    level: Level
    value: float | None
    limit: float | None
    unit: str
    margin: float | None
    reason: str = ""
    counts_in_verdict: bool = True  # False for an optional organ not in the structure set


def _plan_failure(check: CheckResult, row: ConstraintResult) -> Failure:
    """A plan-table row as a :class:`Failure` (value and limit in the row's unit)."""
    c = row.constraint
    return Failure(
        plan_label=check.plan_label, plan_uid=check.plan_uid, part="plan", organ=c.organ,
        structure=row.structure_name, metric=str(c.metric), level=row.level, value=row.value,
        limit=c.limit, unit=c.limit_unit.value, margin=row.margin, reason=row.reason,
        counts_in_verdict=counts_in_verdict(row),
    )


def _composite_failure(result: ReirradiationResult, row: CompositeRowResult) -> Failure:
    """A composite row as a :class:`Failure`: the outcome with the recovery factors, a dose
    limit in EQD2 Gy."""
    c = row.constraint
    outcome = row.with_factor
    limit = row.limit_eqd2_gy if c.limit_unit is Unit.GY else c.limit
    return Failure(
        plan_label=result.plan_label, plan_uid=result.plan_uid, part=row.origin, organ=c.organ,
        structure=outcome.structure_name, metric=str(c.metric), level=outcome.level, value=outcome.value,
        limit=limit, unit=c.limit_unit.value, margin=outcome.margin, reason=outcome.reason,
        counts_in_verdict=counts_in_verdict(outcome),
    )


def _interval_failure(result: ReirradiationResult, interval: IntervalCheck) -> Failure:
    """An interval condition between two courses as a :class:`Failure` (months)."""
    margin = None if interval.elapsed_months is None else interval.elapsed_months - interval.min_months
    return Failure(
        plan_label=result.plan_label, plan_uid=result.plan_uid, part="interval", organ=interval.organ,
        structure=None, metric=f"interval {interval.course} → {interval.next_course}", level=interval.level,
        value=interval.elapsed_months, limit=interval.min_months, unit="months", margin=margin,
        reason=interval.reason,
    )


@dataclass(frozen=True)
class PlanIdentity:
    """Who a plan is when only its headers could be read: patient ID, label, UID, and the
    error that kept it from being read."""

    patient_id: str | None
    plan_label: str | None
    plan_uid: str | None
    error: RtcheckError | None = None


@dataclass(frozen=True)
class PlanCheck:
    """One plan: its check against its table, its re-irradiation composite when prior
    courses were given, or the error that kept it from being checked."""

    result: CheckResult | None
    reirradiation: ReirradiationResult | None = None
    error: RtcheckError | None = None
    course: Course | None = field(default=None, compare=False, repr=False)
    identity: PlanIdentity | None = None  # for a plan whose files could not be read

    def __post_init__(self) -> None:
        """Refuse a plan with both a result and an error, or neither."""
        if (self.result is None) == (self.error is None):
            raise ValueError("a PlanCheck holds either a result or an error")

    @property
    def plan_label(self) -> str | None:
        """The plan's label (RTPlanLabel), when known."""
        if self.result is not None:
            return self.result.plan_label
        if self.course is not None:
            return self.course.label
        return self.identity.plan_label if self.identity is not None else None

    @property
    def verdict(self) -> Level:
        """Worst of the check and the composite; NOT_EVALUATED for a plan that could not be checked."""
        if self.result is None:
            return Level.NOT_EVALUATED
        levels = [self.result.overall]
        if self.reirradiation is not None:
            levels.append(self.reirradiation.overall)
        return Level.worst(levels)

    @property
    def exit_code(self) -> int:
        """This plan's exit code: the error's code, else 0 for PASS and 1 otherwise."""
        if self.error is not None:
            return self.error.exit_code
        return EXIT_OK if self.verdict is Level.PASS else EXIT_FAILED

    @property
    def table(self):
        """The constraint table the plan was checked against (None for a plan not checked)."""
        return self.result.table if self.result is not None else None

    @property
    def rows(self) -> tuple[ConstraintResult, ...]:
        """The plan table's rows, in table order."""
        return self.result.results if self.result is not None else ()

    @property
    def notes(self) -> tuple[str, ...]:
        """Decisions taken on the way (table choice, overrides, unknown prescription…)."""
        return self.result.notes if self.result is not None else ()

    def summary(self) -> PlanSummary:
        """The plan's line in a run's summary: identity, table, verdict, and the rows that
        make the verdict what it is (or the error)."""
        course, result = self.course, self.result
        plan = course.plan if course is not None else None
        failing = tuple(
            f"{f.organ} {f.metric}" + ("" if f.part == "plan" else f" ({f.part})") + f": {f.level.value.replace('_', ' ')}"
            for f in self.failures()
            if f.counts_in_verdict
        )
        identity = self.identity
        patient_id = plan.patient_id if plan is not None else (identity.patient_id if identity else None)
        plan_uid = plan.sop_instance_uid if plan is not None else (identity.plan_uid if identity else None)
        return PlanSummary(
            patient_id=result.patient_id if result is not None else patient_id,
            plan_label=self.plan_label,
            plan_uid=result.plan_uid if result is not None else plan_uid,
            fractions=result.fractions if result is not None else (course.fractions if course is not None else None),
            table=result.table.name if result is not None else None,
            verdict=self.verdict,
            failing=failing,
            error=self.error,
        )

    def render(self, *, color: bool = False, run_utc: str | None = None) -> str:
        """This plan's part of the terminal report (its check and composite, or its error)."""
        if self.result is None:
            return check_text.render_error_block(self.summary(), run_utc=run_utc)
        return check_text.render_plan_block(self.result, self.reirradiation, color=color, run_utc=run_utc)

    def failures(self) -> tuple[Failure, ...]:
        """Every row that is not PASS: the plan's own rows, then the composite's rows that
        count in its verdict and its interval conditions."""
        if self.result is None:
            return ()
        out = [_plan_failure(self.result, r) for r in self.result.results if r.level is not Level.PASS]
        composite = self.reirradiation
        if composite is not None:
            out += [
                _composite_failure(composite, r)
                for r in composite.rows
                if r.counts and r.with_factor.level is not Level.PASS
            ]
            out += [_interval_failure(composite, i) for i in composite.intervals if i.level is not Level.PASS]
        return tuple(out)


@dataclass(frozen=True)
class CheckReport:
    """The outcome of :func:`rtcheck.check`: one :class:`PlanCheck` per plan, in the order
    the plans were found, and the input files read."""

    plans: tuple[PlanCheck, ...]
    input_files: tuple[Path, ...] = ()
    run_utc: str | None = None  # when the run started, ISO 8601 UTC (YYYY-MM-DDTHH:MM:SSZ)

    @property
    def results(self) -> tuple[CheckResult, ...]:
        """The check results of the plans that could be checked."""
        return tuple(p.result for p in self.plans if p.result is not None)

    @property
    def composites(self) -> tuple[ReirradiationResult, ...] | None:
        """The re-irradiation composites, one per checked plan; None when no prior course was given."""
        found = [p.reirradiation for p in self.plans if p.reirradiation is not None]
        return tuple(found) if found else None

    @property
    def verdict(self) -> Level:
        """The worst plan verdict: PASS exactly when :attr:`exit_code` is 0."""
        return Level.worst(p.verdict for p in self.plans)

    @property
    def exit_code(self) -> int:
        """0 every plan passes; 1 a plan does not; 2 or 3 a plan could not be checked (worst wins)."""
        return max((p.exit_code for p in self.plans), default=EXIT_OK)

    def failures(self) -> tuple[Failure, ...]:
        """Every row that is not PASS, over all plans (see :meth:`PlanCheck.failures`)."""
        return tuple(f for p in self.plans for f in p.failures())

    def summaries(self) -> tuple[PlanSummary, ...]:
        """One summary line per plan, checked or not, in order."""
        return tuple(p.summary() for p in self.plans)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``rtcheck check --format json`` as plain data."""
        return check_json.check_document(
            self.results, self.composites, self.summaries(), exit_code=self.exit_code, run_utc=self.run_utc
        )

    def to_json(self) -> str:
        """The text of ``rtcheck check --format json``."""
        return check_json.render_json(self.to_dict())

    def render(self, fmt: str = "table", *, color: bool = False) -> str:
        """The report as ``rtcheck check --format FMT`` prints it (table, json, csv, junit)."""
        return check_report.render(
            fmt, self.results, self.composites, self.summaries(), exit_code=self.exit_code, run_utc=self.run_utc,
            color=color,
        )

    def render_summary(self) -> str:
        """The closing summary of the terminal report (one line per plan)."""
        return check_text.render_summary(self.summaries())

    def rows(self) -> list[dict[str, Any]]:
        """Long format: one record per plan × course × constraint, PASS rows included (the
        CSV's columns, numbers as numbers; see :mod:`rtcheck.report.check_csv`)."""
        return check_csv.records(self.results, self.composites, self.summaries())

    def to_dataframe(self):
        """:meth:`rows` as a pandas DataFrame (needs the optional pandas extra)."""
        return _dataframe(self.rows())


@dataclass(frozen=True)
class PlanDVHs:
    """One plan's DVHs: the course read, and per structure (in structure-set order) its DVH
    or the error that explains why it has none."""

    course: Course
    dvhs: tuple[DVH | RtcheckError, ...]


@dataclass(frozen=True)
class DVHReport:
    """The outcome of :func:`rtcheck.dvh`: one :class:`PlanDVHs` per plan."""

    plans: tuple[PlanDVHs, ...]
    input_files: tuple[Path, ...] = ()

    def _pairs(self) -> list[tuple[Course, Sequence[DVH | RtcheckError]]]:
        """(course, DVHs) pairs, the form the DVH renderers take."""
        return [(p.course, p.dvhs) for p in self.plans]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``rtcheck dvh --format json`` as plain data."""
        return json.loads(self.to_json())

    def to_json(self) -> str:
        """The text of ``rtcheck dvh --format json``."""
        return dvh_report.render_json(self._pairs())

    def render(self, fmt: str = "table") -> str:
        """The report as ``rtcheck dvh --format FMT`` prints it (table, json or csv)."""
        return dvh_report.RENDERERS[fmt](self._pairs())

    def rows(self) -> list[dict[str, Any]]:
        """One record per plan × structure (the CSV's columns)."""
        return dvh_report.records(self._pairs())

    def to_dataframe(self):
        """:meth:`rows` as a pandas DataFrame (needs the optional pandas extra)."""
        return _dataframe(self.rows())


def _dataframe(records: list[dict[str, Any]]):
    """``records`` as a pandas DataFrame; :class:`MissingDependencyError` without pandas."""
    try:
        import pandas  # optional dependency: imported only when a DataFrame is asked for
    except ImportError as exc:
        raise MissingDependencyError(
            "to_dataframe() needs pandas, which is not installed",
            remedy="pip install 'rtcheck[pandas]' (or use rows() for plain records)",
        ) from exc
    return pandas.DataFrame.from_records(records)


__all__ = ["CheckReport", "DVHReport", "Failure", "PlanCheck", "PlanDVHs", "PlanIdentity", "utc_now"]
