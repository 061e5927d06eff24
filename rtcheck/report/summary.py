"""What every renderer of a run needs to know of each plan beyond its check: who it is,
which table, its verdict (with the composite), what did not pass, or the error that kept it
from being checked."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import RtcheckError
from ..models import CheckResult, Level, ReirradiationResult


@dataclass(frozen=True)
class PlanSummary:
    """One plan of a run, checked or not: its identity, table, verdict — the worst of its
    check and its re-irradiation composite — and what did not pass (``failing``, "organ
    metric: LEVEL" texts), or ``error`` for a plan that could not be checked."""

    patient_id: str | None
    plan_label: str | None
    plan_uid: str | None
    fractions: int | None
    table: str | None
    verdict: Level
    failing: tuple[str, ...] = ()
    error: RtcheckError | None = None

    @property
    def failing_organs(self) -> tuple[str, ...]:
        """The organs of :attr:`failing`, each once, in order."""
        return tuple(dict.fromkeys(text.split(" ", 1)[0] for text in self.failing))

    def error_dict(self) -> dict:
        """The plan and its error as plain data (the JSON document's ``errors`` items)."""
        return {
            "patient_id": self.patient_id,
            "plan_label": self.plan_label,
            "plan_uid": self.plan_uid,
            "exit_code": self.error.exit_code if self.error is not None else None,
            "error": self.error.to_dict() if self.error is not None else None,
        }


class PlanInRun(NamedTuple):
    """One plan of a run as the renderers walk it: its summary, and its check and composite
    (both None for a plan that could not be checked; the composite None without priors)."""

    summary: PlanSummary
    check: CheckResult | None
    composite: ReirradiationResult | None


def plans_in_order(
    results: Sequence[CheckResult],
    composites: Sequence[ReirradiationResult] | None,
    summaries: Sequence[PlanSummary],
) -> Iterator[PlanInRun]:
    """The plans of a run in order: ``summaries`` has one item per plan, checked or not;
    ``results`` and ``composites`` (None without prior courses) one per plan checked."""
    paired: list[ReirradiationResult | None] = list(composites) if composites else [None] * len(results)
    checked = iter(zip(results, paired, strict=True))
    for summary in summaries:
        if summary.error is not None:
            yield PlanInRun(summary, None, None)
        else:
            check, composite = next(checked)
            yield PlanInRun(summary, check, composite)
