"""The course file (YAML) listing a patient's prior courses: its parser.

The format is documented in ``docs/courses.md`` and in :func:`read_course_file`. The parser
checks the file's form and yields one :class:`rtcheck.models.priors.PriorEntry` per listed
course (a DICOM export folder, or a paper record with its organs' maximum doses), each with
its recovery factors' documentation still to be validated; reading the DICOM folders and
documenting the factors follow (:mod:`rtcheck.api.priors`). Errors name the file and line;
they are :class:`~rtcheck.errors.InputError` (:class:`~rtcheck.errors.RecoveryFactorError`
for the recovery documentation).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import InputError, RecoveryFactorError
from ..models.priors import (
    DATE_REMEDY,
    OrganRecord,
    PriorCourse,
    PriorEntry,
    RecoveryDocumentation,
    RecoveryFactor,
    as_date,
    where_in_file,
)
from .names import normalize
from .yaml_lines import parse_yaml_with_lines

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


# ------------------------------------------------------------------------------------------
# Course file
# ------------------------------------------------------------------------------------------

def _line(raw: object) -> int | None:
    """The line of a mapping of the file (None for other values)."""
    return getattr(raw, "line", None)


def _where(raw: object, text: str) -> str:
    """``text`` prefixed with the line of mapping ``raw`` ("line 12: …"), when known."""
    return where_in_file(_line(raw), text)


_REMEDY = "see docs/courses.md for the course file format"


@dataclass(frozen=True)
class CourseFileListing:
    """A course file read up to its list of courses: the current course's date (the file's,
    else the one given) and the entries, each checked when reached (a generator)."""

    path: Path
    current_date: _dt.date | None
    entries: Iterator[PriorEntry]


def _load_yaml(path: Path) -> object:
    """The YAML document of the file (:func:`rtcheck.constraints.yaml_lines.parse_yaml_with_lines`:
    a key repeated in one mapping is refused with its line), its mappings with their lines
    (:class:`rtcheck.constraints.yaml_lines.LinedDict`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read course file: {exc.strerror}", path=path) from exc
    except UnicodeDecodeError as exc:
        raise InputError("the course file is not UTF-8 text", path=path, remedy="save it as UTF-8") from exc
    try:
        root = parse_yaml_with_lines(text, path)
    except yaml.YAMLError as exc:
        raise InputError(f"course file is not valid YAML: {exc}", path=path) from exc
    return None if root is None else root.plain()


def read_course_file(path: str | Path, *, current_date: _dt.date | None = None) -> CourseFileListing:
    """Read a YAML course file listing prior courses (format: ``docs/courses.md``): its
    form up to the list of courses now, each course when its entry is reached.

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
    documentation) naming the file and line; an entry's errors are raised as its entry is
    reached, so that a caller resolving each entry before the next (reading its folder,
    documenting its factors) reports a file's first error first.
    """
    path = Path(path)
    data = _load_yaml(path)
    if not isinstance(data, Mapping) or "prior_courses" not in data:
        raise InputError("course file must be a mapping with a prior_courses list", path=path, remedy=_REMEDY)
    if data.get("version", COURSE_FILE_VERSION) != COURSE_FILE_VERSION:
        raise InputError(f"course file version {data.get('version')!r} is not supported (expected 1)", path=path)
    unknown = set(data) - {"version", "current_date", "prior_courses", "note"}
    if unknown:
        raise InputError(f"unknown top-level key(s) {', '.join(sorted(unknown))}", path=path, remedy=_REMEDY)
    if data.get("current_date") is not None:
        current_date = _as_date_input(data["current_date"], path, _where(data, "current_date"))
    entries = data["prior_courses"]
    if not isinstance(entries, list) or not entries:
        raise InputError("prior_courses must be a non-empty list", path=path, remedy=_REMEDY)
    return CourseFileListing(path, current_date, _prior_entries(entries, path))


def _prior_entries(entries: Sequence[object], path: Path) -> Iterator[PriorEntry]:
    """Each entry of ``prior_courses``, checked when reached."""
    for number, entry in enumerate(entries, start=1):
        yield _prior_entry(entry, number, path)


def _as_date_input(value: object, path: Path, where: str) -> _dt.date:
    """A date of the course file, else InputError naming the file and ``where``."""
    date = as_date(value)
    if date is None:
        raise InputError(f"{where}: date {value!r} is not a date", path=path, remedy=DATE_REMEDY)
    return date


def _positive_int(value: object, path: Path, where: str) -> int:
    """A number of fractions (a whole number ≥ 1), else InputError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{where}: fractions {value!r} must be a whole number >= 1", path=path)
    return value


def _recovery_list(entry: Mapping, where: str, path: Path) -> tuple[RecoveryDocumentation, ...]:
    """An entry's recovery documentation (one mapping or a list of them), each mapping
    with its line."""
    raw = entry.get("recovery")
    if raw is None:
        return ()
    documents = list(raw) if isinstance(raw, list) else [raw]
    for doc in documents:
        if not isinstance(doc, Mapping):
            raise RecoveryFactorError(f"{where}: recovery must be a mapping (or a list of them)", path=path)
    return tuple(RecoveryDocumentation(dict(doc), _line(doc)) for doc in documents)


_ENTRY_KEYS = {"label", "dicom", "summary", "date", "fractions", "registration", "recovery", "note"}
_SUMMARY_KEYS = {"source_document", "date", "fractions", "organs", "note"}
_ORGAN_KEYS = {"organ", "max_dose_gy", "dvh_points", "note"}


def _common_entry(entry: object, number: int, path: Path) -> PriorEntry:
    """The keys common to DICOM and paper-record entries, checked: the entry without its
    folder or record yet."""
    where = _where(entry, f"prior course {number}")
    if not isinstance(entry, Mapping):
        raise InputError(f"{where} must be a mapping", path=path, remedy=_REMEDY)
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}", path=path, remedy=_REMEDY)
    if ("dicom" in entry) == ("summary" in entry):
        raise InputError(f"{where}: give exactly one of dicom (a folder) or summary (a paper record)", path=path,
                         remedy=_REMEDY)
    label = str(entry.get("label") or f"prior course {number}")
    recovery = _recovery_list(entry, where, path)
    date = _as_date_input(entry["date"], path, where) if entry.get("date") is not None else None
    fractions = _positive_int(entry["fractions"], path, where) if entry.get("fractions") is not None else None
    return PriorEntry(label=label, where=where, line=_line(entry), recovery=recovery, date=date, fractions=fractions)


def _summary_date(summary: Mapping, date: _dt.date | None, path: Path, where: str) -> _dt.date | None:
    """The paper record's date: the summary's, which must agree with the entry's if both
    are given."""
    if summary.get("date") is not None:
        sdate = _as_date_input(summary["date"], path, where)
        if date is not None and sdate != date:
            raise InputError(f"{where}: date {sdate} differs from the course date {date}", path=path)
        date = sdate
    return date


def _organ_record(organ_entry: object, label: str, path: Path) -> OrganRecord:
    """One organ of a paper record: its maximum physical dose (Gy) and optional DVH points."""
    owhere = _where(organ_entry, f"prior course {label!r} organ")
    if not isinstance(organ_entry, Mapping) or not organ_entry.get("organ"):
        raise InputError(f"{owhere}: each organ needs organ and max_dose_gy", path=path, remedy=_REMEDY)
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
        raise InputError(f"{owhere}: unknown key(s) {', '.join(sorted(extra))}", path=path, remedy=_REMEDY)
    return OrganRecord(str(organ_entry["organ"]), float(max_dose), tuple(points))


def _summary_course(summary: object, common: PriorEntry, path: Path) -> PriorCourse:
    """The paper record of an entry, as a prior course without its recovery factors."""
    label = common.label
    if not isinstance(summary, Mapping):
        raise InputError(f"{common.where}: summary must be a mapping", path=path, remedy=_REMEDY)
    swhere = _where(summary, f"prior course {label!r} summary")
    unknown = set(summary) - _SUMMARY_KEYS
    if unknown:
        raise InputError(f"{swhere}: unknown key(s) {', '.join(sorted(unknown))}", path=path, remedy=_REMEDY)
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
    records = [_organ_record(organ_entry, label, path) for organ_entry in summary["organs"]]
    return PriorCourse(
        label=label,
        fractions=n,
        date=date,
        source=f"paper record: {summary['source_document']}",
        records=tuple(records),
    )


def _prior_entry(entry: object, number: int, path: Path) -> PriorEntry:
    """The ``number``-th entry of a course file: a DICOM folder (relative paths: to the
    file) or a paper record."""
    common = _common_entry(entry, number, path)
    assert isinstance(entry, Mapping)
    if "dicom" in entry:
        registration = None
        if entry.get("registration"):
            registration = (path.parent / str(entry["registration"])).resolve()
        folder = (path.parent / str(entry["dicom"])).resolve()
        return dataclasses.replace(common, folder=folder, registration_file=registration)
    return dataclasses.replace(common, summary=_summary_course(entry["summary"], common, path))


__all__ = ["COURSE_FILE_VERSION", "CourseFileListing", "check_recovery_overlap", "read_course_file"]
