"""The plan (RTPLAN, reduced to what checking needs) and the course: a plan with its dose.

Doses in Gy; dates as :class:`datetime.date`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

from .dose import DoseGrid
from .structures import StructureSet


@dataclass(frozen=True, eq=False)
class Plan:
    """An RTPLAN, reduced to what checking needs.

    ``prescription_gy`` is the total prescribed dose (Gy) from DoseReferenceSequence, or
    None when the plan does not state it (reported as unknown, never guessed).
    """

    sop_instance_uid: str
    fractions: int | None
    prescription_gy: float | None = None
    label: str | None = None
    name: str | None = None
    patient_id: str | None = None
    plan_date: _dt.date | None = None
    referenced_structure_set_uid: str | None = None
    frame_of_reference_uid: str | None = None
    source_file: Path | None = None

    def __post_init__(self) -> None:
        """Refuse a fraction count below 1 and a prescription that is not above 0 Gy."""
        if self.fractions is not None and self.fractions < 1:
            raise ValueError(f"number of fractions must be >= 1, got {self.fractions}")
        if self.prescription_gy is not None and not self.prescription_gy > 0:
            raise ValueError(f"prescription must be > 0 Gy, got {self.prescription_gy}")

    @property
    def dose_per_fraction_gy(self) -> float | None:
        """Prescribed dose per fraction (Gy); None when the prescription or the fraction
        count is unknown."""
        if self.prescription_gy is None or self.fractions is None:
            return None
        return self.prescription_gy / self.fractions


@dataclass(frozen=True, eq=False)
class Course:
    """One course of radiotherapy: a plan with its dose (and structures, when known).

    ``fractions`` and ``date`` are the course's own; they are what BED/EQD2 conversion and
    recovery-factor documentation use. A course is the unit that summation works on.
    ``notes`` are what the reader had to assume or simplify (e.g. "no RTPLAN: fractions
    taken as 1", several fraction groups), for reports to show.
    """

    dose: DoseGrid
    fractions: int
    plan: Plan | None = None
    structure_set: StructureSet | None = None
    date: _dt.date | None = None
    label: str | None = None
    ct_series_uids: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a fraction count below 1; hold the notes as a tuple."""
        if self.fractions < 1:
            raise ValueError(f"number of fractions must be >= 1, got {self.fractions}")
        object.__setattr__(self, "notes", tuple(self.notes))
