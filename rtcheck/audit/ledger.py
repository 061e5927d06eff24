"""The audit ledger: one SQLite file holding every plan checked, its fingerprint and results.

Schema version 1 (``PRAGMA user_version``; a ledger of another version is refused, never
rewritten). Tables:

* ``plan_checks`` — a row per plan, keyed by ``plan_key`` (the plan's SOPInstanceUID;
  ``dose:UID`` for plan-less doses, ``file:PATH`` for a file that cannot be read):
  ``plan_uid``, ``plan_label``, ``patient_id``, ``fractions``; the fingerprint
  ``inputs_sha256`` (over the input files' SHA-256), ``rtcheck_version`` and
  ``selected_table_sha256`` (the skip key, see :mod:`rtcheck.audit.fingerprint`); the table
  used ``table_name``, ``table_sha256``; ``verdict`` (a level — PASS, NOT_EVALUATED,
  INDETERMINATE, MINOR, MAJOR, FAIL — or NOT_CHECKED), ``exit_code`` (0 pass, 1 not pass,
  2 usage, 3 input, 4 internal); ``error_type``, ``error_message``, ``error_path``,
  ``error_remedy`` (NULL when the plan was checked); ``seconds`` taken to read and check;
  ``recorded_at`` (UTC, ISO 8601).
* ``plan_inputs`` — a row per plan × input file: ``role`` (plan, structures, dose),
  ``path``, ``sha256``.
* ``constraint_results`` — a row per plan × constraint of its table, in table order
  (``position``): ``organ``, ``structure`` (NULL when absent), ``metric``, ``comparison``,
  ``limit_value``, ``unit`` (Gy, cc, %), ``kind`` (hard, goal), ``value``, ``uncertainty``,
  ``margin`` (in ``unit``; margin positive on the passing side), ``level``, ``reason``,
  ``counts`` (1 when the row counts in the plan's verdict: not PASS, and not an absent
  organ's NOT_EVALUATED).

Views: ``plans`` (``plan_uid``, ``plan_key``, ``patient_id``, ``plan_label``,
``fractions``, ``table_name``, ``verdict``, ``exit_code``, ``error`` — NULL when the plan
was checked —, ``rtcheck_version``, ``seconds``, ``recorded_at``); ``plans_needing_review``
(every plan that did not pass, with ``reasons``: its error, or the rows that make its
verdict); ``deviations`` (per ``organ``, ``metric`` and ``level`` above NOT_EVALUATED, the
number of ``plans``, most frequent first); ``plan_constraints`` (every constraint row with
its plan's identity).

Each plan is recorded in one transaction (its old rows replaced), in WAL mode: a process
killed at any moment leaves every plan either fully recorded or not at all, and a plan is
never recorded twice (its key is the primary key). Only the audit's client process writes.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from ..errors import InputError
from .fingerprint import Fingerprint
from .worker import PlanRecord

#: The version of the schema this module writes and reads.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE plan_checks (
    plan_key TEXT PRIMARY KEY,
    plan_uid TEXT,
    plan_label TEXT,
    patient_id TEXT,
    fractions INTEGER,
    inputs_sha256 TEXT NOT NULL,
    rtcheck_version TEXT NOT NULL,
    selected_table_sha256 TEXT,
    table_name TEXT,
    table_sha256 TEXT,
    verdict TEXT NOT NULL,
    exit_code INTEGER NOT NULL,
    error_type TEXT,
    error_message TEXT,
    error_path TEXT,
    error_remedy TEXT,
    seconds REAL NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE plan_inputs (
    plan_key TEXT NOT NULL REFERENCES plan_checks(plan_key) ON DELETE CASCADE,
    role TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (plan_key, role, path)
);
CREATE TABLE constraint_results (
    plan_key TEXT NOT NULL REFERENCES plan_checks(plan_key) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    organ TEXT NOT NULL,
    structure TEXT,
    metric TEXT NOT NULL,
    comparison TEXT NOT NULL,
    limit_value REAL NOT NULL,
    unit TEXT NOT NULL,
    kind TEXT NOT NULL,
    value REAL,
    uncertainty REAL,
    margin REAL,
    level TEXT NOT NULL,
    reason TEXT NOT NULL,
    counts INTEGER NOT NULL,
    PRIMARY KEY (plan_key, position)
);
CREATE INDEX constraint_results_by_organ ON constraint_results (organ, metric, level);
CREATE VIEW plans AS
SELECT plan_uid, plan_key, patient_id, plan_label, fractions, table_name, verdict, exit_code,
       CASE WHEN error_message IS NULL THEN NULL
            ELSE coalesce(error_path || ': ', '') || error_message || coalesce(' — ' || error_remedy, '')
       END AS error,
       rtcheck_version, seconds, recorded_at
FROM plan_checks;
CREATE VIEW plans_needing_review AS
SELECT p.plan_key, p.plan_uid, p.patient_id, p.plan_label, p.fractions, p.table_name, p.verdict, p.exit_code,
       coalesce(p.error, (
           SELECT group_concat(c.organ || ' ' || c.metric || ': ' || c.level, '; ')
           FROM constraint_results c WHERE c.plan_key = p.plan_key AND c.counts = 1
       ), '') AS reasons
FROM plans p
WHERE p.verdict <> 'PASS';
CREATE VIEW deviations AS
SELECT organ, metric, level, count(DISTINCT plan_key) AS plans
FROM constraint_results
WHERE level IN ('INDETERMINATE', 'MINOR', 'MAJOR', 'FAIL')
GROUP BY organ, metric, level
ORDER BY plans DESC, organ, metric, level;
CREATE VIEW plan_constraints AS
SELECT p.plan_uid, p.plan_key, p.patient_id, p.plan_label, p.table_name, p.verdict AS plan_verdict,
       c.position, c.organ, c.structure, c.metric, c.comparison, c.limit_value, c.unit, c.kind, c.value,
       c.uncertainty, c.margin, c.level, c.reason, c.counts
FROM plan_checks p JOIN constraint_results c ON c.plan_key = p.plan_key;
"""


class StoredKey(NamedTuple):
    """The skip key of a plan as recorded (see :mod:`rtcheck.audit.fingerprint`)."""

    inputs_sha256: str
    rtcheck_version: str
    selected_table_sha256: str | None


def _counts(level: str, structure: str | None) -> bool:
    """True when a row counts in its plan's verdict: not PASS, and not the NOT_EVALUATED of
    an organ absent from the structure set (the rule of the run's summary line)."""
    return level != "PASS" and (level != "NOT_EVALUATED" or structure is not None)


class Ledger:
    """An open ledger (created when the file does not exist). Use as a context manager, or
    call :meth:`close`."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        """Open (or, with ``create``, create) the ledger at ``path``; refuse a file that is
        not a ledger of :data:`SCHEMA_VERSION`."""
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise InputError("no such ledger", path=self.path, remedy="give the ledger written by rtcheck audit")
        try:
            self.connection = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self.connection.execute("PRAGMA foreign_keys = ON")
            self._prepare()
        except sqlite3.DatabaseError as exc:
            raise InputError(
                f"this is not an audit ledger ({exc})", path=self.path,
                remedy="give the SQLite ledger written by rtcheck audit, or a new file name",
            ) from exc

    def _prepare(self) -> None:
        """Create the schema in an empty file; check the version of an existing one."""
        version = self.connection.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            tables = self.connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise InputError(
                    "this SQLite file is not an audit ledger", path=self.path,
                    remedy="give the ledger written by rtcheck audit, or a new file name",
                )
            self.connection.execute("PRAGMA journal_mode = WAL")
            self.connection.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        elif version != SCHEMA_VERSION:
            raise InputError(
                f"the ledger has schema version {version}; this rtcheck reads and writes version {SCHEMA_VERSION}",
                path=self.path,
                remedy="use the rtcheck version that wrote it, or audit into a new ledger",
            )
        self.connection.execute("PRAGMA journal_mode = WAL")
        self.connection.execute("PRAGMA synchronous = NORMAL")  # WAL: a killed process loses no commit

    def __enter__(self) -> Ledger:
        """The ledger itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the connection."""
        self.close()

    def close(self) -> None:
        """Close the connection (every recorded plan is already committed)."""
        self.connection.close()

    def stored_keys(self) -> dict[str, StoredKey]:
        """The skip key of every plan recorded, by plan key."""
        rows = self.connection.execute(
            "SELECT plan_key, inputs_sha256, rtcheck_version, selected_table_sha256 FROM plan_checks"
        )
        return {key: StoredKey(inputs, version, table) for key, inputs, version, table in rows}

    @staticmethod
    def is_current(stored: StoredKey | None, fp: Fingerprint) -> bool:
        """True when a recorded plan need not be checked again: same inputs, rtcheck
        version and table that would be chosen."""
        return stored is not None and stored == StoredKey(fp.inputs_sha256, fp.rtcheck_version, fp.table_sha256)

    def exit_codes(self, keys: Iterable[str]) -> dict[str, int]:
        """The recorded exit code of each of ``keys`` that is in the ledger."""
        wanted = set(keys)
        rows = self.connection.execute("SELECT plan_key, exit_code FROM plan_checks")
        return {key: code for key, code in rows if key in wanted}

    def record(self, record: PlanRecord) -> None:
        """Record one plan in one transaction, replacing what was recorded for it before."""
        error = record.error
        fp = record.fingerprint
        db = self.connection
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM plan_checks WHERE plan_key = ?", (record.key,))
            db.execute(
                "INSERT INTO plan_checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.key, record.plan_uid, record.plan_label, record.patient_id, record.fractions,
                    fp.inputs_sha256, fp.rtcheck_version, record.selected_table_sha256, record.table_name,
                    record.table_sha256, record.verdict, record.exit_code,
                    error.type if error else None, error.message if error else None,
                    error.path if error else None, error.remedy if error else None,
                    record.seconds, _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                ),
            )
            db.executemany(
                "INSERT INTO plan_inputs VALUES (?, ?, ?, ?)",
                [(record.key, f.role, f.path, f.sha256) for f in fp.inputs],
            )
            db.executemany(
                "INSERT INTO constraint_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        record.key, c.position, c.organ, c.structure, c.metric, c.comparison, c.limit, c.unit,
                        c.kind, c.value, c.uncertainty, c.margin, c.level, c.reason, int(_counts(c.level, c.structure)),
                    )
                    for c in record.constraints
                ],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


__all__ = ["SCHEMA_VERSION", "Ledger", "StoredKey"]
