"""Prior courses from DICOM export folders and course files (YAML), with their documented
recovery factors.

A prior course is read from its export folder (:mod:`rtcheck.dicom_io.priors`), checked
(its dose must be a whole course's, :func:`rtcheck.evaluate.plan.check_dose_reaches_prescription`)
and given its documented recovery factors (:func:`rtcheck.radiobiology.recovery.document_recovery`).
The course file format (YAML) is documented in ``docs/courses.md`` and in
:func:`load_course_file`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from .constraints.names import normalize
from .dicom_io.priors import PriorRegistrations, read_prior_plans
from .errors import InputError, RecoveryFactorError
from .evaluate.plan import check_dose_reaches_prescription
from .models import Course
from .models.priors import CourseFile, OrganRecord, PriorCourse, RecoveryFactor
from .radiobiology.recovery import document_recovery, parse_date

COURSE_FILE_VERSION = 1


def check_recovery_overlap(factors: Sequence[RecoveryFactor], label: str, path: str | Path | None) -> None:
    """Refuse two factors for one organ of a course, or two for all its organs."""
    general = [f for f in factors if not f.organs]
    if len(general) > 1:
        raise RecoveryFactorError(f"prior course {label!r} has {len(general)} recovery factors for all organs", path=path,
                                  remedy="give one factor per course, or list organs for each")
    seen: set[str] = set()
    for f in factors:
        for organ in f.organs:
            key = normalize(organ)
            if key in seen:
                raise RecoveryFactorError(f"prior course {label!r}: organ {organ} has two recovery factors", path=path)
            seen.add(key)


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
    """The prior course's date: a course file's wins over the plan's (with a note in
    ``warnings``); no date at all is noted too."""
    course_date = course.date
    if date is not None:
        if course_date is not None and course_date != date:
            warnings.append(f"course date {date} from the course file used instead of the plan date {course_date}")
        course_date = date
    if course_date is None:
        warnings.append("the prior course has no date; elapsed time cannot be computed")
    return course_date


def _documented_factors(
    recovery: Sequence[Mapping],
    *,
    label: str,
    prior_date: _dt.date | None,
    current_date: _dt.date | None,
    path: Path,
    where: str,
) -> tuple[RecoveryFactor, ...]:
    """The recovery factors of one prior course, each documented, at most one per organ."""
    factors = tuple(
        document_recovery(raw, prior_date=prior_date, current_date=current_date, path=path, where=where)
        for raw in recovery
    )
    check_recovery_overlap(factors, label, path)
    return factors


def prior_courses_from_folder(
    folder: str | Path,
    *,
    label: str | None = None,
    fractions: int | None = None,
    date: _dt.date | None = None,
    recovery: Sequence[Mapping] = (),
    current_date: _dt.date | None = None,
    registration_file: Path | None = None,
    source_path: Path | None = None,
) -> list[PriorCourse]:
    """One PriorCourse per plan found in a DICOM export folder (via ``dicom_io.discover``).

    The export needs an RTPLAN and its RTDOSE; an RTSTRUCT is not needed (organs are those of
    the current plan, mapped onto the prior dose).

    ``fractions``/``date`` (from a course file) must agree with the plan's fractions and
    override its date (the plan date is the planning date; the date of the last fraction is
    better for elapsed time, so a stated date wins, with a note).
    """
    folder = Path(folder)
    courses = read_prior_plans(folder)
    result = []
    for number, course in enumerate(courses, start=1):
        check_dose_reaches_prescription(course)  # a partial or cGy prior dose under-reports the sum
        warnings: list[str] = []
        course_label = _prior_label(course, number, len(courses), label, folder)
        n = _prior_fractions(course, fractions, folder, source_path)
        course_date = _prior_date(course, date, warnings)
        factors = _documented_factors(
            recovery,
            label=course_label,
            prior_date=course_date,
            current_date=current_date,
            path=source_path or folder,
            where=f"prior course {course_label!r}: recovery factor",
        )
        result.append(
            PriorCourse(
                label=course_label,
                fractions=n,
                date=course_date,
                source=str(folder),
                course=course,
                recovery=factors,
                registration_file=registration_file,
                warnings=tuple(warnings),
                registrations=PriorRegistrations(registration_file, folder),
            )
        )
    return result


# ------------------------------------------------------------------------------------------
# Course file
# ------------------------------------------------------------------------------------------

class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the line of every mapping (for messages)."""


def _construct_mapping(loader, node):
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


class _LineDict(dict):
    line: int | None = None


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _where(raw, text: str) -> str:
    line = getattr(raw, "line", None)
    return f"line {line}: {text}" if line else text



def load_course_file(path: str | Path, *, current_date: _dt.date | None = None) -> CourseFile:
    """Read a YAML course file listing prior courses (format: ``docs/courses.md``).

    ::

        version: 1
        current_date: 2026-11-20        # optional; default: the current plan's date
        prior_courses:
          - label: T-spine 2025          # a DICOM export (relative paths: to this file)
            dicom: prior_export/
            date: 2025-05-02             # optional, overrides the plan date
            registration: reg.dcm        # optional REG file (frames differ)
            recovery:                    # optional; one mapping or a list (per organ)
              factor: 0.25
              elapsed_months: 18         # optional when both course dates are known
              approver: Dr A. Example (local PI)
              approval_date: 2026-11-18
              rationale: Price 2021 ... ; interval 18 months
              organs: [SpinalCord]       # optional; default every organ
          - label: Lumbar RT 2019 (paper record)
            summary:
              source_document: discharge letter 2019-03-04, page 2
              date: 2019-02-10
              fractions: 10
              organs:
                - {organ: SpinalCord, max_dose_gy: 30.5}

    ``current_date`` (argument) is the current plan's date; the file's ``current_date``
    overrides it. Errors in the file raise InputError (RecoveryFactorError for recovery
    documentation) naming the file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read course file: {exc.strerror}", path=path) from exc
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise InputError(f"course file is not valid YAML: {exc}", path=path) from exc
    remedy = "see docs/courses.md for the course file format"
    if not isinstance(data, Mapping) or "prior_courses" not in data:
        raise InputError("course file must be a mapping with a prior_courses list", path=path, remedy=remedy)
    if data.get("version", COURSE_FILE_VERSION) != COURSE_FILE_VERSION:
        raise InputError(f"course file version {data.get('version')!r} is not supported (expected 1)", path=path)
    unknown = set(data) - {"version", "current_date", "prior_courses", "note"}
    if unknown:
        raise InputError(f"unknown top-level key(s) {', '.join(sorted(unknown))}", path=path, remedy=remedy)
    if data.get("current_date") is not None:
        file_date = _as_date_input(data["current_date"], path, _where(data, "current_date"))
        current_date = file_date
    entries = data["prior_courses"]
    if not isinstance(entries, list) or not entries:
        raise InputError("prior_courses must be a non-empty list", path=path, remedy=remedy)
    priors: list[PriorCourse] = []
    for number, entry in enumerate(entries, start=1):
        priors.extend(_parse_prior_entry(entry, number, path, current_date, remedy))
    return CourseFile(path=path, priors=tuple(priors), current_date=current_date)




def _as_date_input(value: object, path: Path, where: str) -> _dt.date:
    """A date of the course file, else InputError naming the file and ``where``."""
    try:
        return parse_date(value, "date", path, where)
    except RecoveryFactorError as exc:
        raise InputError(exc.message, path=path, remedy=exc.remedy) from None


def _positive_int(value: object, path: Path, where: str) -> int:
    """A number of fractions (a whole number ≥ 1), else InputError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{where}: fractions {value!r} must be a whole number >= 1", path=path)
    return value


def _recovery_list(entry: Mapping) -> list:
    """An entry's recovery documentation: one mapping or a list of them, as a list."""
    raw = entry.get("recovery")
    if raw is None:
        return []
    return list(raw) if isinstance(raw, list) else [raw]


@dataclasses.dataclass(frozen=True)
class _Entry:
    """What every prior-course entry of a course file gives, validated: its label, the
    raw recovery documentation, and the date and fractions when given (``where``: the entry
    for messages, with its line)."""

    where: str
    label: str
    recovery: list
    date: _dt.date | None
    fractions: int | None


_ENTRY_KEYS = {"label", "dicom", "summary", "date", "fractions", "registration", "recovery", "note"}


def _entry(entry: object, number: int, path: Path, remedy: str) -> _Entry:
    """Validate the keys common to DICOM and paper-record entries."""
    where = _where(entry, f"prior course {number}")
    if not isinstance(entry, Mapping):
        raise InputError(f"{where} must be a mapping", path=path, remedy=remedy)
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}", path=path, remedy=remedy)
    if ("dicom" in entry) == ("summary" in entry):
        raise InputError(f"{where}: give exactly one of dicom (a folder) or summary (a paper record)", path=path, remedy=remedy)
    label = str(entry.get("label") or f"prior course {number}")
    recovery = _recovery_list(entry)
    for raw in recovery:
        if not isinstance(raw, Mapping):
            raise RecoveryFactorError(f"{where}: recovery must be a mapping (or a list of them)", path=path)
    date = _as_date_input(entry["date"], path, where) if entry.get("date") is not None else None
    fractions = _positive_int(entry["fractions"], path, where) if entry.get("fractions") is not None else None
    return _Entry(where, label, recovery, date, fractions)


def _dicom_entry(
    entry: Mapping, common: _Entry, path: Path, current_date: _dt.date | None
) -> list[PriorCourse]:
    """The prior courses of an entry naming a DICOM export folder (relative to the file)."""
    folder = (path.parent / str(entry["dicom"])).resolve()
    registration = None
    if entry.get("registration"):
        registration = (path.parent / str(entry["registration"])).resolve()
        if not registration.is_file():
            raise InputError(f"{common.where}: registration file not found", path=registration)
    try:
        return prior_courses_from_folder(
            folder, label=common.label, fractions=common.fractions, date=common.date, recovery=common.recovery,
            current_date=current_date, registration_file=registration, source_path=path,
        )
    except RecoveryFactorError as exc:
        raise RecoveryFactorError(f"{_where(entry, '')}{exc.message}", path=path, remedy=exc.remedy) from None


_SUMMARY_KEYS = {"source_document", "date", "fractions", "organs", "note"}
_ORGAN_KEYS = {"organ", "max_dose_gy", "dvh_points", "note"}


def _summary_date(summary: Mapping, date: _dt.date | None, path: Path, where: str) -> _dt.date | None:
    """The paper record's date: the summary's, which must agree with the entry's if both
    are given."""
    if summary.get("date") is not None:
        sdate = _as_date_input(summary["date"], path, where)
        if date is not None and sdate != date:
            raise InputError(f"{where}: date {sdate} differs from the course date {date}", path=path)
        date = sdate
    return date


def _organ_record(organ_entry: object, label: str, path: Path, remedy: str) -> OrganRecord:
    """One organ of a paper record: its maximum physical dose (Gy) and optional DVH points."""
    owhere = _where(organ_entry, f"prior course {label!r} organ")
    if not isinstance(organ_entry, Mapping) or not organ_entry.get("organ"):
        raise InputError(f"{owhere}: each organ needs organ and max_dose_gy", path=path, remedy=remedy)
    max_dose = organ_entry.get("max_dose_gy")
    if isinstance(max_dose, bool) or not isinstance(max_dose, (int, float)) or not max_dose >= 0:
        raise InputError(
            f"{owhere}: max_dose_gy {max_dose!r} must be a physical dose >= 0 Gy",
            path=path,
            remedy="give the maximum physical dose of the whole course from the record",
        )
    points = []
    for point in organ_entry.get("dvh_points") or ():
        try:
            points.append((float(point["volume_cc"]), float(point["dose_gy"])))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{owhere}: dvh_points need volume_cc and dose_gy", path=path) from None
    extra = set(organ_entry) - _ORGAN_KEYS
    if extra:
        raise InputError(f"{owhere}: unknown key(s) {', '.join(sorted(extra))}", path=path, remedy=remedy)
    return OrganRecord(str(organ_entry["organ"]), float(max_dose), tuple(points))


def _summary_entry(
    entry: Mapping, common: _Entry, path: Path, current_date: _dt.date | None, remedy: str
) -> list[PriorCourse]:
    """The prior course of an entry giving a paper-record summary."""
    label = common.label
    summary = entry["summary"]
    if not isinstance(summary, Mapping):
        raise InputError(f"{common.where}: summary must be a mapping", path=path, remedy=remedy)
    swhere = _where(summary, f"prior course {label!r} summary")
    unknown = set(summary) - _SUMMARY_KEYS
    if unknown:
        raise InputError(f"{swhere}: unknown key(s) {', '.join(sorted(unknown))}", path=path, remedy=remedy)
    missing = [k for k in ("source_document", "fractions", "organs") if summary.get(k) in (None, "", [])]
    if common.date is None and summary.get("date") is None:
        missing.append("date")
    if missing:
        raise InputError(
            f"{swhere} is missing {', '.join(missing)}",
            path=path,
            remedy="a paper-record summary needs source_document, date, fractions and organs (organ, max_dose_gy)",
        )
    date = _summary_date(summary, common.date, path, swhere)
    n = _positive_int(summary["fractions"], path, swhere)
    if common.fractions is not None and common.fractions != n:
        raise InputError(f"{swhere}: fractions {n} differs from the course's {common.fractions}", path=path)
    records = [_organ_record(organ_entry, label, path, remedy) for organ_entry in summary["organs"]]
    factors = tuple(
        document_recovery(raw, prior_date=date, current_date=current_date, path=path,
                          where=_where(raw, f"prior course {label!r}: recovery factor"))
        for raw in common.recovery
    )
    check_recovery_overlap(factors, label, path)
    return [
        PriorCourse(
            label=label,
            fractions=n,
            date=date,
            source=f"paper record: {summary['source_document']}",
            records=tuple(records),
            recovery=factors,
        )
    ]


def _parse_prior_entry(
    entry: object, number: int, path: Path, current_date: _dt.date | None, remedy: str
) -> list[PriorCourse]:
    """The prior course(s) of the ``number``-th entry of a course file."""
    common = _entry(entry, number, path, remedy)
    assert isinstance(entry, Mapping)
    if "dicom" in entry:
        return _dicom_entry(entry, common, path, current_date)
    return _summary_entry(entry, common, path, current_date, remedy)


__all__ = ["COURSE_FILE_VERSION", "CourseFile", "load_course_file", "prior_courses_from_folder"]
