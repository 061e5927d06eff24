"""Prior-course data: documented recovery factors, paper records, prior courses, course files.

These are plain data, built by the readers (:mod:`rtcheck.dicom_io.priors`, the course-file
parser :mod:`rtcheck.constraints.course_file`) and by :func:`rtcheck.radiobiology.recovery.document_recovery`;
the composite (:mod:`rtcheck.radiobiology.composite`) and the re-irradiation check
(:mod:`rtcheck.evaluate.reirradiation`) compute on them, and the report renders them.

Elapsed time between two dates is expressed in months of :data:`DAYS_PER_MONTH` days
(:func:`months_between`), everywhere: in the recovery documentation, the interval checks and
the report.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from .plan import Course

#: Average month length (days) used to express elapsed time in months.
DAYS_PER_MONTH = 365.25 / 12


def months_between(earlier: _dt.date, later: _dt.date) -> float:
    """Months (of :data:`DAYS_PER_MONTH` days) from ``earlier`` to ``later``; negative if
    ``later`` comes first."""
    return (later - earlier).days / DAYS_PER_MONTH


#: What to do about a value of prior-course data that is not a date.
DATE_REMEDY = "write dates as YYYY-MM-DD"


def as_date(value: object) -> _dt.date | None:
    """A date of prior-course data: a date, a datetime's date, or ISO text (YYYY-MM-DD);
    None for anything else."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def months_in_document(value: float | None) -> float | None:
    """Elapsed months as the JSON documents give them: 2 decimals (None stays None)."""
    return None if value is None else round(value, 2)


class Registration(Protocol):
    """A spatial registration as the composite uses it (``rtcheck.dicom_io.registration.
    RigidRegistration``, or :class:`UnusableRegistration`)."""

    def links(self, frame_a: str, frame_b: str) -> bool:
        """Whether the registration carries coordinates between the two frames."""
        ...

    def transform(self, from_frame: str, to_frame: str) -> np.ndarray:
        """The 4×4 matrix carrying coordinates (mm) in ``from_frame`` to ``to_frame``."""
        ...


@dataclass(frozen=True)
class UnusableRegistration:
    """A REG object that was found but cannot be used; its error explains a refusal."""

    error: InputError

    def links(self, frame_a: str, frame_b: str) -> bool:
        """Never: an unusable registration links no frames."""
        return False

    def transform(self, from_frame: str, to_frame: str) -> np.ndarray:
        """Refuse with the error that made the registration unusable."""
        raise self.error


@dataclass(frozen=True)
class RecoveryFactor:
    """A documented tissue-recovery factor for one prior course (optionally some organs).

    ``factor`` is the fraction (0–1) of the prior course's BED (equivalently EQD2) that is
    discounted. ``elapsed_months`` is the interval between the prior and the current course,
    from their dates when both are known (``elapsed_source`` says which).
    ``organs`` empty means every organ of the course.
    """

    factor: float
    elapsed_months: float
    elapsed_source: str
    approver: str
    approval_date: _dt.date
    rationale: str
    organs: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def applies_to(self, organ: str, same: Callable[[str, str], bool]) -> bool:
        """Whether the factor covers ``organ`` (``same`` compares organ names)."""
        return not self.organs or any(same(organ, o) for o in self.organs)

    def to_dict(self) -> dict:
        """The factor and its documentation as the JSON document gives them."""
        return {
            "factor": self.factor,
            "elapsed_months": months_in_document(self.elapsed_months),
            "elapsed_source": self.elapsed_source,
            "approver": self.approver,
            "approval_date": self.approval_date.isoformat(),
            "rationale": self.rationale,
            "organs": list(self.organs),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class OrganRecord:
    """A paper-record summary of one organ's dose in a prior course (physical dose, Gy).

    ``max_dose_gy`` is the maximum physical dose to the organ over the whole course.
    ``dvh_points`` ((volume_cc, dose_gy) pairs) are kept for the report only: without
    voxel positions they cannot be summed, and the maximum alone gives the upper bound.
    """

    organ: str
    max_dose_gy: float
    dvh_points: tuple[tuple[float, float], ...] = ()

    def to_dict(self) -> dict:
        """The record as the JSON document gives it."""
        return {
            "organ": self.organ,
            "max_dose_gy": self.max_dose_gy,
            "dvh_points": [{"volume_cc": v, "dose_gy": d} for v, d in self.dvh_points],
        }


@dataclass(frozen=True, eq=False)
class PriorCourse:
    """A prior course: a DICOM dose (``course``) or paper-record ``records`` (not both).

    ``fractions`` and ``date`` are the course's own. ``recovery`` holds documented factors
    (at most one per organ; one without ``organs`` covers every other organ).
    ``registration_file`` is an explicit REG file for a course on another frame;
    ``registrations`` are the REG objects exported with the course (that file first, then
    those of its folder), which the reader (:func:`rtcheck.dicom_io.priors.prior_registrations`)
    makes read only when first iterated: only a course on another frame needs them.
    """

    label: str
    fractions: int
    date: _dt.date | None
    source: str
    course: Course | None = None
    records: tuple[OrganRecord, ...] = ()
    recovery: tuple[RecoveryFactor, ...] = ()
    registration_file: Path | None = None
    warnings: tuple[str, ...] = ()
    registrations: Iterable[Registration] = ()

    def __post_init__(self) -> None:
        """Refuse a course with both or neither of a dose and records, or no fractions."""
        if (self.course is None) == (not self.records):
            raise ValueError("a prior course has either a DICOM dose or paper records, not both or neither")
        if self.fractions < 1:
            raise ValueError(f"number of fractions must be >= 1, got {self.fractions}")
        object.__setattr__(self, "records", tuple(self.records))
        object.__setattr__(self, "recovery", tuple(self.recovery))

    @property
    def is_summary(self) -> bool:
        """Whether the course is a paper record (no DICOM dose)."""
        return self.course is None

    def recovery_for(self, organ: str, same: Callable[[str, str], bool]) -> RecoveryFactor | None:
        """The factor for ``organ``: one naming it, else the course's general one, else None."""
        specific = [r for r in self.recovery if r.organs and r.applies_to(organ, same)]
        if specific:
            return specific[0]
        general = [r for r in self.recovery if not r.organs]
        return general[0] if general else None

    def record_for(self, organ: str, same: Callable[[str, str], bool]) -> OrganRecord | None:
        """The paper record of ``organ`` (``same`` compares organ names), None if none."""
        for record in self.records:
            if same(record.organ, organ):
                return record
        return None

    def to_dict(self) -> dict:
        """The course as the JSON document gives it (the re-irradiation result adds the
        elapsed months to its current course)."""
        return {
            "label": self.label,
            "kind": "summary" if self.is_summary else "dicom",
            "source": self.source,
            "fractions": self.fractions,
            "date": self.date.isoformat() if self.date else None,
            "plan_uid": self.course.plan.sop_instance_uid if self.course is not None and self.course.plan else None,
            "frame_of_reference_uid": self.course.dose.frame_of_reference_uid if self.course is not None else None,
            "records": [r.to_dict() for r in self.records],
            "recovery": [r.to_dict() for r in self.recovery],
            "warnings": list(self.warnings),
        }


def elapsed_months(prior: PriorCourse, current_date: _dt.date | None) -> float | None:
    """Months between a prior course and the current course, when both dates are known."""
    if prior.date is None or current_date is None:
        return None
    return months_between(prior.date, current_date)


def where_in_file(line: int | None, text: str) -> str:
    """``text`` prefixed with its line in a course file ("line 12: …"), when known."""
    return f"line {line}: {text}" if line else text


@dataclass(frozen=True)
class RecoveryDocumentation:
    """A recovery factor's documentation as a course file writes it, not yet validated
    (:func:`rtcheck.radiobiology.recovery.document_recovery` does): its fields, and the
    line of its mapping in the file (None when not from a file)."""

    fields: Mapping[str, object]
    line: int | None = None


@dataclass(frozen=True, eq=False)
class PriorEntry:
    """One prior course as a course file lists it, checked for form but not yet read nor
    documented: a DICOM export ``folder`` (with an optional ``registration_file``) or a
    paper record (``summary``: the course without its recovery factors).

    ``where`` names the entry in messages ("line 4: prior course 1"); ``line`` is the line
    of its mapping. ``date`` and ``fractions`` are the entry's own (a DICOM course's plan
    must agree with them).
    """

    label: str
    where: str
    line: int | None
    recovery: tuple[RecoveryDocumentation, ...] = ()
    date: _dt.date | None = None
    fractions: int | None = None
    folder: Path | None = None
    registration_file: Path | None = None
    summary: PriorCourse | None = None


@dataclass(frozen=True, eq=False)
class CourseFile:
    """A parsed course file: its prior courses and the current course's date (if given)."""

    path: Path
    priors: tuple[PriorCourse, ...]
    current_date: _dt.date | None = None


__all__ = [
    "DATE_REMEDY",
    "DAYS_PER_MONTH",
    "CourseFile",
    "OrganRecord",
    "PriorCourse",
    "PriorEntry",
    "RecoveryDocumentation",
    "RecoveryFactor",
    "Registration",
    "UnusableRegistration",
    "as_date",
    "elapsed_months",
    "months_between",
    "months_in_document",
    "where_in_file",
]
