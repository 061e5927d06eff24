"""What every renderer of a run needs to know of each plan beyond its check: who it is,
which table, its verdict (with the composite), what did not pass, or the error that kept it
from being checked."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import RtcheckError
from ..models import Level


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
