"""``rtcheck audit``: index an archive, check the plans not yet recorded, record each one.

:func:`run_audit` indexes the archive (:func:`~rtcheck.dicom_io.index.index_plans`),
fingerprints every plan and skips those the ledger holds with the same fingerprint
(:mod:`~rtcheck.audit.fingerprint`), then checks the others with
:func:`~rtcheck.audit.worker.check_plan_files`: in this process (``jobs=1``), in a pool of
``jobs`` worker processes, or on an existing Dask distributed cluster (``scheduler``, the
optional ``dask`` extra; workers read the files from a path they share with the client).
Only this process writes the ledger, one transaction per plan as each result arrives, so
an interrupted audit is resumed by running it again.

The exit code is that of ``rtcheck FOLDER`` over every plan of the archive, recorded now or
before: 0 every plan passed, 1 some plan did not pass, 2 or 3 some plan could not be
checked (2 usage, e.g. no table for its fractionation; 3 input), in the order 3 > 2 > 1 > 0;
4 when a check met an internal error.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from ..dicom_io.index import IndexedPlan, index_plans
from ..errors import MissingDependencyError, UsageError
from ..report.audit import AuditProgress
from .fingerprint import Fingerprint, fingerprint
from .ledger import Ledger
from .worker import NOT_CHECKED, PlanRecord, check_plan_files, unchecked_record

#: One plan to check: its index entry and its fingerprint.
Job = tuple[IndexedPlan, Fingerprint]


@dataclass(frozen=True)
class AuditOutcome:
    """What one audit run did: plans found in the archive, skipped (recorded before with
    the same fingerprint), checked now, not checked (recorded with an error), and the exit
    code over every plan of the archive; ``seconds`` the run's wall time."""

    ledger: Path
    found: int
    skipped: int
    checked: int
    not_checked: int
    exit_code: int
    seconds: float


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_audit(
    archive: str | Path,
    ledger: str | Path,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    on_progress: Callable[[AuditProgress], None] | None = None,
) -> AuditOutcome:
    """Audit every plan under ``archive`` into the SQLite ``ledger`` (created if needed).

    ``jobs``: worker processes (default: all cores; 1 checks in this process);
    ``scheduler``: the address of a Dask distributed scheduler (``tcp://HOST:PORT``) to run
    the checks on instead. ``on_progress`` is called once the plans are found and after each
    plan is recorded. Raises :class:`~rtcheck.errors.UsageError` for bad options,
    :class:`~rtcheck.errors.InputError` when the archive or the ledger cannot be used; a bad
    plan never raises: it is recorded with its error.
    """
    start = time.monotonic()
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    index = index_plans(Path(archive).resolve())
    with Ledger(ledger) as book:
        stored = book.stored_keys()
        todo: list[Job] = []
        for entry in index.plans:
            fp = fingerprint(entry)
            if not Ledger.is_current(stored.get(entry.key), fp):
                todo.append((entry, fp))
        progress = AuditProgress(found=len(index.plans), skipped=len(index.plans) - len(todo), to_check=len(todo))
        if on_progress is not None:
            on_progress(progress)
        not_checked = 0
        for record in _records(todo, jobs=jobs or default_jobs(), scheduler=scheduler):
            book.record(record)
            not_checked += record.verdict == NOT_CHECKED
            progress = progress.advanced(
                passed=record.exit_code == 0, checked=record.verdict != NOT_CHECKED, now_s=time.monotonic() - start
            )
            if on_progress is not None:
                on_progress(progress)
        codes = book.exit_codes(entry.key for entry in index.plans)
    return AuditOutcome(
        ledger=Path(ledger), found=len(index.plans), skipped=progress.skipped, checked=len(todo) - not_checked,
        not_checked=not_checked, exit_code=max(codes.values(), default=0), seconds=time.monotonic() - start,
    )


def _records(todo: Sequence[Job], *, jobs: int, scheduler: str | None) -> Iterator[PlanRecord]:
    """The records of the plans to check, as each is done (in no particular order)."""
    if not todo:
        return iter(())
    if scheduler is not None:
        return _on_dask(todo, scheduler)
    if jobs == 1 or len(todo) == 1:
        return (check_plan_files(entry, fp) for entry, fp in todo)
    return _in_processes(todo, jobs)


def _in_processes(todo: Sequence[Job], jobs: int) -> Iterator[PlanRecord]:
    """Check in a pool of ``jobs`` processes. A worker process that dies (killed, out of
    memory) breaks the pool: the plans it left are checked in a new pool, and when a pool
    breaks before recording any plan, the plans left are recorded with the error."""
    pending = list(todo)
    while pending:
        retry: list[Job] = []
        recorded = 0
        with ProcessPoolExecutor(max_workers=min(jobs, len(pending))) as pool:
            futures: dict[Future[PlanRecord], Job] = {pool.submit(check_plan_files, *job): job for job in pending}
            for future in as_completed(futures):
                try:
                    record = future.result()
                except BrokenProcessPool:
                    retry.append(futures[future])
                    continue
                recorded += 1
                yield record
        if retry and recorded == 0:
            for entry, fp in retry:
                yield unchecked_record(entry, fp, RuntimeError("the worker process checking this plan died"))
            return
        pending = retry


def _on_dask(todo: Sequence[Job], scheduler: str) -> Iterator[PlanRecord]:
    """Check on the Dask distributed cluster at ``scheduler``; a task that fails there (a
    worker lost) is recorded with its error."""
    try:
        from distributed import Client  # optional dependency: the dask extra
        from distributed import as_completed as dask_completed
    except ImportError as exc:
        raise MissingDependencyError(
            "--scheduler needs Dask distributed, which is not installed",
            remedy="pip install 'rtcheck[dask]' (and the same rtcheck on every worker)",
        ) from exc
    with Client(scheduler) as client:
        futures = {
            client.submit(check_plan_files, entry, fp, key=f"rtcheck-audit-{fp.inputs_sha256}", pure=False): (entry, fp)
            for entry, fp in todo
        }
        for future in dask_completed(futures):
            try:
                yield future.result()
            except Exception as error:  # noqa: BLE001 - a lost worker must not stop the audit
                entry, fp = futures[future]
                yield unchecked_record(entry, fp, error)


__all__ = ["AuditOutcome", "default_jobs", "run_audit"]
