"""Name matches and check results (made by :mod:`rtcheck.evaluate`).

Plain data: every result converts to a dict (``to_dict``) for JSON under
:data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .constraints import Constraint, ConstraintTable, DoseQuantity, Level

#: Version of the plain-data (JSON) form of results. Bump on any incompatible change.
SCHEMA_VERSION = "1.1"


class MatchKind(Enum):
    """What a structure is, once its name is understood (see :mod:`rtcheck.constraints.names`)."""

    ORGAN = "organ"
    PRV = "prv"
    DERIVED = "derived"  # organ minus target (TG-263 "Derived")
    TARGET = "target"
    UNMATCHED = "unmatched"


@dataclass(frozen=True)
class NameMatch:
    """How one structure name was understood: its TG-263 name (or None) and why."""

    structure_name: str
    canonical: str | None
    kind: MatchKind
    rule: str

    def to_dict(self) -> dict:
        """The match as plain data, for the JSON of results."""
        return {
            "structure": self.structure_name,
            "canonical": self.canonical,
            "kind": self.kind.value,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class ConstraintResult:
    """The outcome of one constraint on one plan.

    ``value`` is in the constraint's limit unit (Gy, cc or %), ``uncertainty`` its
    numerical uncertainty (same unit; None when unknown), ``margin`` the distance to the
    limit in that unit, positive on the passing side. ``coverage`` is the fraction of the
    organ inside the dose grid. ``reason`` explains NOT_EVALUATED / INDETERMINATE levels.
    """

    constraint: Constraint
    level: Level
    structure_name: str | None = None
    value: float | None = None
    uncertainty: float | None = None
    margin: float | None = None
    coverage: float | None = None
    organ_volume_cc: float | None = None
    required: bool = False
    reason: str = ""

    def to_dict(self) -> dict:
        """The constraint's row with its outcome, as plain data for the JSON of results."""
        return {
            **self.constraint.to_dict(),
            "structure": self.structure_name,
            "level": self.level.value,
            "value": self.value,
            "uncertainty": self.uncertainty,
            "margin": self.margin,
            "coverage": self.coverage,
            "organ_volume_cc": self.organ_volume_cc,
            "required": self.required,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class CheckResult:
    """Everything a report shows about one plan checked against one table.

    ``overall`` is the worst level among the results, except that NOT_EVALUATED counts only
    for required organs and organs present in the structure set (an absent optional organ
    does not block a PASS, but is listed).
    ``inputs`` holds the UIDs and files the check read; ``notes`` the decisions taken on the
    way (table selection, prescription unknown…).
    """

    table: ConstraintTable
    results: tuple[ConstraintResult, ...]
    overall: Level
    rtcheck_version: str
    patient_id: str | None = None
    plan_label: str | None = None
    plan_uid: str | None = None
    fractions: int | None = None
    prescription_gy: float | None = None
    dose_quantity: DoseQuantity = DoseQuantity.PHYSICAL
    structures: tuple[NameMatch, ...] = ()
    missing_required: tuple[str, ...] = ()
    inputs: tuple[tuple[str, str], ...] = ()  # (what, UID or path)
    notes: tuple[str, ...] = ()

    @property
    def unmatched_structures(self) -> tuple[str, ...]:
        """Names of the structures whose name was not understood."""
        return tuple(m.structure_name for m in self.structures if m.kind is MatchKind.UNMATCHED)

    def counts(self) -> dict[str, int]:
        """How many results have each level (every level present, 0 when none)."""
        out = {level.value: 0 for level in Level}
        for r in self.results:
            out[r.level.value] += 1
        return out

    def to_dict(self) -> dict:
        """The whole check as plain data (the JSON report, under :data:`SCHEMA_VERSION`)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "rtcheck_version": self.rtcheck_version,
            "patient_id": self.patient_id,
            "plan_label": self.plan_label,
            "plan_uid": self.plan_uid,
            "fractions": self.fractions,
            "prescription_gy": self.prescription_gy,
            "dose_quantity": self.dose_quantity.value,
            "table": self.table.summary_dict(),
            "inputs": [{"what": what, "value": value} for what, value in self.inputs],
            "overall": self.overall.value,
            "counts": self.counts(),
            "missing_required_organs": list(self.missing_required),
            "unmatched_structures": list(self.unmatched_structures),
            "structures": [m.to_dict() for m in self.structures],
            "notes": list(self.notes),
            "results": [r.to_dict() for r in self.results],
        }
