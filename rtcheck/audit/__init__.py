"""Auditing an archive (``rtcheck audit``): every plan of a tree of exports checked in
parallel and recorded in a resumable SQLite ledger, then summed up.

* :mod:`~rtcheck.audit.runner` — :func:`run_audit`: index, skip what is recorded, check the
  rest (processes, or a Dask cluster), record; :class:`AuditOutcome`;
* :mod:`~rtcheck.audit.worker` — :func:`check_plan_files`, the per-plan function run in a
  worker, and the plain records it returns (:class:`PlanRecord`, :class:`ConstraintRecord`,
  :class:`ErrorRecord`);
* :mod:`~rtcheck.audit.fingerprint` — what decides that a recorded plan is skipped
  (:class:`Fingerprint`: input hashes, rtcheck version, the table that would be chosen);
* :mod:`~rtcheck.audit.ledger` — :class:`Ledger`: the documented, versioned SQLite schema;
* :mod:`~rtcheck.audit.summary` — :func:`read_summary`: a ledger summed up for
  :mod:`rtcheck.report.audit`.
"""

from .fingerprint import Fingerprint, fingerprint
from .ledger import SCHEMA_VERSION, Ledger
from .runner import AuditOutcome, default_jobs, run_audit
from .summary import read_summary
from .worker import ConstraintRecord, ErrorRecord, PlanRecord, check_plan_files

__all__ = [
    "SCHEMA_VERSION",
    "AuditOutcome",
    "ConstraintRecord",
    "ErrorRecord",
    "Fingerprint",
    "Ledger",
    "PlanRecord",
    "check_plan_files",
    "default_jobs",
    "fingerprint",
    "read_summary",
    "run_audit",
]
