"""Reading prior courses: their plans and doses, and the registrations exported with them.

A prior course of a re-irradiation check is a DICOM export (RTPLAN + RTDOSE; an RTSTRUCT is
not needed: the organs are those of the current plan, mapped onto the prior dose). Its
registrations (DICOM REG objects linking its frame of reference to the current plan's) are
read only when first needed — when the frames differ — through the lazy iterables
:class:`FolderRegistrations` and :class:`PriorRegistrations`; a REG object that cannot be
used (deformable, not rigid…) becomes an :class:`rtcheck.models.priors.UnusableRegistration`,
whose error explains a refusal when no usable one links the frames.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..models import Course
from ..models.priors import PriorCourse, Registration, UnusableRegistration
from .discovery import discover
from .registration import find_registrations, read_registration


@functools.lru_cache(maxsize=32)
def registrations_in(folder: Path) -> tuple[Registration, ...]:
    """The REG objects of a folder (recursively, in path order), the unusable ones as
    :class:`UnusableRegistration`; read once per folder."""
    unusable: list[InputError] = []
    found = find_registrations(folder, unusable=unusable)
    return tuple(found) + tuple(UnusableRegistration(e) for e in unusable)


class FolderRegistrations:
    """The REG objects of a folder, read only when first needed (frames differ)."""

    def __init__(self, folder: str | Path) -> None:
        """Registrations of ``folder`` (none when it is not a folder)."""
        self.folder = Path(folder)

    def __iter__(self) -> Iterator[Registration]:
        """Read the folder's registrations (once) and iterate over them."""
        return iter(registrations_in(self.folder) if self.folder.is_dir() else ())


class PriorRegistrations:
    """The registrations exported with a prior course, read only when first needed: an
    explicit REG file first (an unusable one is refused), then those of its folder."""

    def __init__(self, registration_file: Path | None, folder: str | Path | None) -> None:
        """Registrations of ``registration_file`` and ``folder`` (either may be None)."""
        self.registration_file = registration_file
        self.folder = Path(folder) if folder is not None else None

    def __iter__(self) -> Iterator[Registration]:
        """Read the registrations and iterate over them, the explicit file first."""
        regs: list[Registration] = []
        if self.registration_file is not None:
            regs.append(read_registration(self.registration_file))
        if self.folder is not None and self.folder.is_dir():
            regs += registrations_in(self.folder)
        return iter(regs)


def read_prior_plans(folder: str | Path) -> list[Course]:
    """The plans with a dose in a prior course's export folder (structure sets optional).

    InputError when the folder is missing or holds no plan with a dose.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("prior course folder not found", path=folder, remedy="check the --prior path")
    courses = discover(folder, require_structures=False)  # a prior course contributes dose only
    if not courses:
        raise InputError("no plan with a dose found in the prior course folder", path=folder,
                         remedy="export the prior RTPLAN and RTDOSE into this folder")
    return courses


def _prior_label(course: Course, number: int, total: int, label: str | None, folder: Path) -> str:
    """The label of the ``number``-th of ``total`` plans of a prior folder: the course
    file's, else the plan's, else the folder's name; numbered when the folder holds several."""
    course_label = label or (course.label or (course.plan.label if course.plan else None) or folder.name)
    if total > 1:
        course_label = f"{course_label} [{number}/{total}]"
    return course_label


def _prior_fractions(course: Course, fractions: int | None, folder: Path, source_path: Path | None) -> int:
    """The prior plan's number of fractions; a course file's must agree with it, and stands
    in for it when the dose has no plan."""
    if course.plan is None or course.plan.fractions is None:
        if fractions is None:
            raise InputError(
                "the prior dose has no plan, so its number of fractions is unknown",
                path=folder,
                remedy="add the prior RTPLAN to the folder, or give fractions in a course file",
            )
        return fractions
    n = course.fractions
    if fractions is not None and fractions != n:
        raise InputError(
            f"course file says {fractions} fractions, the prior plan {n}",
            path=source_path or folder,
            remedy="correct the course file",
        )
    return n


def _prior_date(course: Course, date: _dt.date | None, warnings: list[str]) -> _dt.date | None:
    """The prior course's date: a course file's wins over the plan's (the plan date is the
    planning date; the date of the last fraction is better for elapsed time), with a note in
    ``warnings``; no date at all is noted too."""
    course_date = course.date
    if date is not None:
        if course_date is not None and course_date != date:
            warnings.append(f"course date {date} from the course file used instead of the plan date {course_date}")
        course_date = date
    if course_date is None:
        warnings.append("the prior course has no date; elapsed time cannot be computed")
    return course_date


def prior_course_from_plan(
    course: Course,
    folder: str | Path,
    *,
    number: int = 1,
    total: int = 1,
    label: str | None = None,
    fractions: int | None = None,
    date: _dt.date | None = None,
    registration_file: Path | None = None,
    source_path: Path | None = None,
) -> PriorCourse:
    """The prior course of the ``number``-th of the ``total`` plans read from ``folder``
    (:func:`read_prior_plans`), without recovery factors (documented separately).

    ``label``, ``fractions`` and ``date`` come from a course file (``source_path``): its
    fractions must agree with the plan's, its date overrides the plan's, with a note. The
    course's registrations (``registration_file``, then the folder's REG objects) are read
    when first needed.
    """
    folder = Path(folder)
    warnings: list[str] = []
    course_label = _prior_label(course, number, total, label, folder)
    n = _prior_fractions(course, fractions, folder, source_path)
    course_date = _prior_date(course, date, warnings)
    return PriorCourse(
        label=course_label,
        fractions=n,
        date=course_date,
        source=str(folder),
        course=course,
        registration_file=registration_file,
        warnings=tuple(warnings),
        registrations=PriorRegistrations(registration_file, folder),
    )


__all__ = [
    "FolderRegistrations",
    "PriorRegistrations",
    "prior_course_from_plan",
    "read_prior_plans",
    "registrations_in",
]
