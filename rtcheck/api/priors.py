"""Prior courses of a re-irradiation check, from DICOM export folders and course files.

Each prior course is read (:mod:`rtcheck.dicom_io.priors`), its dose checked to be a whole
course's (:func:`rtcheck.evaluate.plan.check_dose_reaches_prescription`: a partial or cGy
prior dose would under-report the sum), and its recovery factors documented
(:func:`rtcheck.radiobiology.recovery.document_recovery`, at most one per organ). A course
file (:mod:`rtcheck.constraints.course_file`) is resolved entry by entry, so that its first error is the one
reported.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..constraints.course_file import check_recovery_overlap, read_course_file
from ..dicom_io.priors import prior_course_from_plan, read_prior_plans
from ..errors import InputError, RecoveryFactorError
from ..evaluate.plan import check_dose_reaches_prescription
from ..models.priors import (
    CourseFile,
    PriorCourse,
    PriorEntry,
    RecoveryDocumentation,
    RecoveryFactor,
    where_in_file,
)
from ..radiobiology.recovery import document_recovery


def _documented_factors(
    recovery: Sequence[RecoveryDocumentation],
    *,
    label: str,
    prior_date: _dt.date | None,
    current_date: _dt.date | None,
    path: Path,
    where: str | None = None,
) -> tuple[RecoveryFactor, ...]:
    """The recovery factors of one prior course, each documented, at most one per organ.

    ``where`` names the factors in messages; without it each is named by its own line.
    """
    factors = tuple(
        document_recovery(
            doc.fields, prior_date=prior_date, current_date=current_date, path=path,
            where=where or where_in_file(doc.line, f"prior course {label!r}: recovery factor"),
        )
        for doc in recovery
    )
    check_recovery_overlap(factors, label, path)
    return factors


def prior_courses_from_folder(
    folder: str | Path,
    *,
    label: str | None = None,
    fractions: int | None = None,
    date: _dt.date | None = None,
    recovery: Sequence[RecoveryDocumentation | Mapping] = (),
    current_date: _dt.date | None = None,
    registration_file: Path | None = None,
    source_path: Path | None = None,
) -> list[PriorCourse]:
    """One PriorCourse per plan found in a DICOM export folder (RTPLAN + RTDOSE; organs are
    those of the current plan, mapped onto the prior dose).

    ``label``, ``fractions``, ``date`` and ``recovery`` (documentation mappings) come from a
    course file (``source_path``): its fractions must agree with the plan's, its date
    overrides the plan's (see :func:`rtcheck.dicom_io.priors.prior_course_from_plan`).
    """
    folder = Path(folder)
    documents = [d if isinstance(d, RecoveryDocumentation) else RecoveryDocumentation(d) for d in recovery]
    courses = read_prior_plans(folder)
    result = []
    for number, course in enumerate(courses, start=1):
        check_dose_reaches_prescription(course)
        prior = prior_course_from_plan(
            course, folder, number=number, total=len(courses), label=label, fractions=fractions, date=date,
            registration_file=registration_file, source_path=source_path,
        )
        factors = _documented_factors(
            documents, label=prior.label, prior_date=prior.date, current_date=current_date,
            path=source_path or folder, where=f"prior course {prior.label!r}: recovery factor",
        )
        result.append(dataclasses.replace(prior, recovery=factors))
    return result


def _dicom_entry(entry: PriorEntry, path: Path, current_date: _dt.date | None) -> list[PriorCourse]:
    """The prior courses of a course-file entry naming a DICOM export folder."""
    assert entry.folder is not None
    if entry.registration_file is not None and not entry.registration_file.is_file():
        raise InputError(f"{entry.where}: registration file not found", path=entry.registration_file)
    try:
        return prior_courses_from_folder(
            entry.folder, label=entry.label, fractions=entry.fractions, date=entry.date, recovery=entry.recovery,
            current_date=current_date, registration_file=entry.registration_file, source_path=path,
        )
    except RecoveryFactorError as exc:
        raise RecoveryFactorError(f"{where_in_file(entry.line, '')}{exc.message}", path=path,
                                  remedy=exc.remedy) from None


def _summary_entry(entry: PriorEntry, path: Path, current_date: _dt.date | None) -> PriorCourse:
    """The paper-record course of a course-file entry, with its documented factors."""
    assert entry.summary is not None
    factors = _documented_factors(
        entry.recovery, label=entry.label, prior_date=entry.summary.date, current_date=current_date, path=path
    )
    return dataclasses.replace(entry.summary, recovery=factors)


def load_course_file(path: str | Path, *, current_date: _dt.date | None = None) -> CourseFile:
    """The prior courses a YAML course file lists (format: ``docs/courses.md``), read and
    documented, and the current course's date (the file's ``current_date``, else the one
    given). Errors raise InputError (RecoveryFactorError for recovery documentation) naming
    the file and line.
    """
    listing = read_course_file(path, current_date=current_date)
    priors: list[PriorCourse] = []
    for entry in listing.entries:
        if entry.folder is not None:
            priors += _dicom_entry(entry, listing.path, listing.current_date)
        else:
            priors.append(_summary_entry(entry, listing.path, listing.current_date))
    return CourseFile(path=listing.path, priors=tuple(priors), current_date=listing.current_date)


__all__ = ["load_course_file", "prior_courses_from_folder"]
