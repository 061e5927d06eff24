"""Name matches and check results (made by :mod:`rtcheck.evaluate`).

Plain data: every result converts to a dict (``to_dict``) for JSON under
:data:`SCHEMA_VERSION`. A check also keeps the cumulative DVH curve of each structure its rows
used (:class:`DVHCurve`), so that a report can plot them without computing anything; the
curves are not part of the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .arrays import readonly_array
from .constraints import Constraint, ConstraintTable, DoseQuantity, Level
from .dvh import DVH

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


#: Dose steps of a :class:`DVHCurve` from 0 Gy to the structure's maximum sample dose: fine
#: enough that a limit marker lies on the right side of the drawn curve to within 0.25 % of
#: the maximum dose, small enough (a few kB) that a check pickles quickly.
CURVE_STEPS = 400


@dataclass(frozen=True, eq=False)
class DVHCurve:
    """The cumulative DVH of one structure (or union of structures) as a check evaluated it.

    ``volume_cc[i]`` is the volume (cc) receiving at least ``dose_gy[i]`` (Gy, ascending from
    0, in the check's dose quantity); ``total_volume_cc`` is the structure's volume (cc) that
    percentages refer to, as in :meth:`DVH.volume_at_dose`. It is what a report plots: the
    DVH itself, with its samples and variants, is far larger and stays with the computation.
    """

    structure_name: str
    dose_gy: np.ndarray
    volume_cc: np.ndarray
    total_volume_cc: float

    def __post_init__(self) -> None:
        """Hold the samples as read-only float arrays of one length (ValueError otherwise)."""
        dose = readonly_array(self.dose_gy, float).ravel()
        volume = readonly_array(self.volume_cc, float).ravel()
        if dose.shape != volume.shape:
            raise ValueError("dose_gy and volume_cc of a DVH curve must have the same length")
        object.__setattr__(self, "dose_gy", dose)
        object.__setattr__(self, "volume_cc", volume)
        object.__setattr__(self, "total_volume_cc", float(self.total_volume_cc))

    def __setstate__(self, state: dict) -> None:
        """Unpickle through the same checks, so that the arrays come back read-only."""
        for name, value in state.items():
            object.__setattr__(self, name, value)
        self.__post_init__()

    @classmethod
    def from_dvh(cls, structure_name: str, dvh: DVH, steps: int = CURVE_STEPS) -> DVHCurve:
        """The curve of ``dvh`` in ``steps`` equal dose steps up to its maximum sample dose (Gy)."""
        top = float(dvh.dose_gy[0]) if not dvh.is_empty else 0.0
        dose, volume = dvh.cumulative(step_gy=top / steps if top > 0 else None)
        return cls(structure_name, dose, volume, dvh.total_volume_cc)

    def volume_percent(self) -> np.ndarray:
        """``volume_cc`` as % of :attr:`total_volume_cc` (zeros for a structure without volume)."""
        if self.total_volume_cc <= 0:
            return np.zeros_like(self.volume_cc)
        return 100.0 * self.volume_cc / self.total_volume_cc


@dataclass(frozen=True)
class CheckResult:
    """Everything a report shows about one plan checked against one table.

    ``overall`` is the worst level among the results, except that NOT_EVALUATED counts only
    for required organs and organs present in the structure set (an absent optional organ
    does not block a PASS, but is listed).
    ``inputs`` holds the UIDs and files the check read; ``notes`` the decisions taken on the
    way (table selection, prescription unknown…). ``dvh_curves`` are the cumulative DVHs of
    the structures the rows used (for plots; not in :meth:`to_dict`, not compared).
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
    dvh_curves: tuple[DVHCurve, ...] = field(default=(), compare=False, repr=False)

    def curve_of(self, structure_name: str) -> DVHCurve | None:
        """The DVH curve of the structure (or union label) a row names; None when not kept."""
        for curve in self.dvh_curves:
            if curve.structure_name == structure_name:
                return curve
        return None

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
