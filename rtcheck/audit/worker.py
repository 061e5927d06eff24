"""The per-plan function of an audit: an indexed plan's files in, plain picklable data out.

:func:`check_plan_files` runs in a worker process (or on a Dask worker of another machine,
reading the files from a path it shares): it reads the plan's files itself
(:func:`rtcheck.api.read_plans` with the named files, so nothing but the plan's own files is
read) and checks it with :func:`rtcheck.api.check_plans`. It never raises for a bad plan:
whatever keeps the plan from being checked — an :class:`~rtcheck.errors.RtcheckError`, or an
unexpected exception (a bug, recorded as an internal error) — becomes the record's error, so
one bad plan never stops the audit. The record holds only strings and numbers, so it crosses
process and machine boundaries whatever the worker's rtcheck objects are.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..api import PlanCheck, check_plans, read_plans
from ..dicom_io.index import IndexedPlan
from ..errors import RtcheckError
from .fingerprint import Fingerprint, selection_key

#: Exit code of a plan whose check raised an unexpected exception (as ``rtcheck`` exits on a bug).
EXIT_INTERNAL = 4

#: The verdict of a plan that could not be checked.
NOT_CHECKED = "NOT_CHECKED"


@dataclass(frozen=True)
class ConstraintRecord:
    """One constraint of a checked plan: the table's row and its outcome.

    ``limit`` and ``value`` (and ``uncertainty``, ``margin``) are in ``unit`` (Gy, cc, %);
    ``level`` is a :class:`~rtcheck.models.Level` name; ``reason`` explains NOT_EVALUATED
    and INDETERMINATE.
    """

    position: int
    organ: str
    structure: str | None
    metric: str
    comparison: str
    limit: float
    unit: str
    kind: str
    value: float | None
    uncertainty: float | None
    margin: float | None
    level: str
    reason: str


@dataclass(frozen=True)
class ErrorRecord:
    """Why a plan could not be checked: the error's class name, message, file and remedy,
    and the exit code it means (2 usage, 3 input, 4 internal)."""

    type: str
    message: str
    path: str | None
    remedy: str | None
    exit_code: int

    @property
    def text(self) -> str:
        """``path: message — remedy``, as rtcheck prints an error."""
        text = f"{self.path}: {self.message}" if self.path else self.message
        return text + (f" — {self.remedy}" if self.remedy else "")


@dataclass(frozen=True)
class PlanRecord:
    """One plan as the ledger records it: identity, fingerprint, table, verdict or error,
    time taken (s) and its constraints (none when it was not checked).

    ``verdict`` is a :class:`~rtcheck.models.Level` name, or ``NOT_CHECKED`` with ``error``.
    ``selected_table_sha256`` is the skip key of :mod:`rtcheck.audit.fingerprint`.
    """

    key: str
    plan_uid: str | None
    plan_label: str | None
    patient_id: str | None
    fractions: int | None
    fingerprint: Fingerprint
    table_name: str | None
    table_sha256: str | None
    selected_table_sha256: str | None
    verdict: str
    exit_code: int
    error: ErrorRecord | None
    seconds: float
    constraints: tuple[ConstraintRecord, ...] = ()


def error_record(error: BaseException) -> ErrorRecord:
    """The record of an error: an RtcheckError's own fields and exit code, any other
    exception as an internal error (exit code 4)."""
    if isinstance(error, RtcheckError):
        return ErrorRecord(
            type=type(error).__name__, message=error.message,
            path=str(error.path) if error.path is not None else None, remedy=error.remedy,
            exit_code=error.exit_code,
        )
    return ErrorRecord(
        type="InternalError", message=f"{type(error).__name__}: {error}", path=None,
        remedy="please report it with the plan's files; run rtcheck on the plan folder with RTCHECK_DEBUG=1",
        exit_code=EXIT_INTERNAL,
    )


def unchecked_record(entry: IndexedPlan, fp: Fingerprint, error: BaseException, seconds: float = 0.0) -> PlanRecord:
    """The record of a plan that could not be checked (its index error, or its check's)."""
    return PlanRecord(
        key=entry.key, plan_uid=entry.plan_uid, plan_label=entry.plan_label, patient_id=entry.patient_id,
        fractions=entry.fractions, fingerprint=fp, table_name=None, table_sha256=None,
        selected_table_sha256=selection_key(fp.table_sha256, None, checked=False), verdict=NOT_CHECKED,
        exit_code=error_record(error).exit_code, error=error_record(error), seconds=seconds,
    )


def _checked_record(entry: IndexedPlan, fp: Fingerprint, plan: PlanCheck, seconds: float) -> PlanRecord:
    """The record of a plan that was checked: its table, verdict and every constraint row."""
    result = plan.result
    assert result is not None
    rows = tuple(
        ConstraintRecord(
            position=n, organ=row.constraint.organ, structure=row.structure_name, metric=str(row.constraint.metric),
            comparison=row.constraint.comparison.value, limit=row.constraint.limit,
            unit=row.constraint.limit_unit.value, kind=row.constraint.kind.value, value=row.value,
            uncertainty=row.uncertainty, margin=row.margin, level=row.level.value, reason=row.reason,
        )
        for n, row in enumerate(result.results)
    )
    return PlanRecord(
        key=entry.key, plan_uid=result.plan_uid or entry.plan_uid, plan_label=result.plan_label or entry.plan_label,
        patient_id=result.patient_id or entry.patient_id, fractions=result.fractions, fingerprint=fp,
        table_name=result.table.name, table_sha256=result.table.sha256,
        selected_table_sha256=selection_key(fp.table_sha256, result.table.sha256, checked=True),
        verdict=plan.verdict.value, exit_code=plan.exit_code, error=None, seconds=seconds, constraints=rows,
    )


def check_plan_files(entry: IndexedPlan, fp: Fingerprint) -> PlanRecord:
    """Read and check one indexed plan; its record, never an exception for a bad plan.

    ``fp`` is the fingerprint the client computed (recorded as is: the worker does not
    hash the files again). Time taken in seconds, reading included.
    """
    start = time.perf_counter()
    if entry.error is not None:
        return unchecked_record(entry, fp, entry.error)
    try:
        assert entry.structures is not None, "an indexed plan without error has its structure set"
        inputs = read_plans(structures=entry.structures, dose=entry.doses, plan=entry.plan)
        (plan,) = tuple(check_plans(inputs))
    except Exception as error:  # noqa: BLE001 - one bad plan never stops the audit
        return unchecked_record(entry, fp, error, time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if plan.error is not None:
        return unchecked_record(entry, fp, plan.error, seconds)
    return _checked_record(entry, fp, plan, seconds)
