"""A ledger summed up: :func:`read_summary` reads it into an
:class:`~rtcheck.report.audit.AuditSummary` (plans by verdict, most frequent deviations per
organ and metric, plans needing review with their reasons) for the renderers of
:mod:`rtcheck.report.audit`."""

from __future__ import annotations

from pathlib import Path

from ..models import Level
from ..report.audit import AuditSummary, DeviationCount, ReviewItem, VerdictCount
from .ledger import SCHEMA_VERSION, Ledger
from .worker import NOT_CHECKED

#: Verdicts from best to worst: a plan that could not be checked is last.
_VERDICT_ORDER = [level.value for level in sorted(Level, key=lambda level: level.severity)] + [NOT_CHECKED]


def _verdict_rank(verdict: str) -> int:
    """The position of a verdict in :data:`_VERDICT_ORDER` (unknown ones last)."""
    return _VERDICT_ORDER.index(verdict) if verdict in _VERDICT_ORDER else len(_VERDICT_ORDER)


def read_summary(ledger: str | Path, *, top_deviations: int = 20) -> AuditSummary:
    """The summary of the ledger at ``ledger``: every verdict's count, the
    ``top_deviations`` most frequent deviations, and every plan needing review (worst
    verdict first, then by patient and label).

    Raises :class:`~rtcheck.errors.InputError` when the file is not a ledger.
    """
    with Ledger(ledger, create=False) as book:
        db = book.connection
        counts = db.execute("SELECT verdict, count(*) FROM plans GROUP BY verdict").fetchall()
        deviations = db.execute("SELECT organ, metric, level, plans FROM deviations LIMIT ?", (top_deviations,)).fetchall()
        review = db.execute(
            "SELECT plan_key, plan_uid, patient_id, plan_label, fractions, table_name, verdict, exit_code, reasons "
            "FROM plans_needing_review"
        ).fetchall()
        versions = [v for (v,) in db.execute("SELECT DISTINCT rtcheck_version FROM plan_checks ORDER BY 1")]
    items = [ReviewItem(*row) for row in review]
    items.sort(key=lambda r: (-_verdict_rank(r.verdict), r.patient_id or "", r.plan_label or "", r.plan_key))
    return AuditSummary(
        ledger=str(ledger),
        schema_version=SCHEMA_VERSION,
        plans=sum(n for _, n in counts),
        by_verdict=tuple(VerdictCount(v, n) for v, n in sorted(counts, key=lambda c: _verdict_rank(c[0]))),
        deviations=tuple(DeviationCount(*row) for row in deviations),
        review=tuple(items),
        rtcheck_versions=tuple(versions),
    )
