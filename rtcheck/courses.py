"""Prior courses, documented tissue-recovery factors, and composite (re-irradiation) EQD2.

A re-irradiation check sums, organ by organ, the EQD2 of every course at the same points of
the organ (the sample points of the current plan's DVH):

    composite(x) = EQD2_current(x) + Σ_prior (1 − f_prior,organ) · EQD2_prior(x)

where each course's physical dose at ``x`` is converted with the organ's α/β and *that
course's own* number of fractions, and ``f`` is a documented tissue-recovery factor (the
fraction of the prior BED discounted; 0 when none is given). The composite is computed both
with and without the factors so that a report can say whether a verdict depends on them.

Prior courses come as

* a DICOM export (RTPLAN + RTDOSE): fractions and date from the plan. A dose on the current
  plan's frame of reference is sampled (trilinear) at the organ's points; a dose on another
  frame needs a rigid DICOM Spatial Registration (REG) linking the frames
  (:mod:`rtcheck.dicom_io.registration`), else :class:`~rtcheck.errors.InputError`.
  Outside the prior dose grid the prior dose is taken as 0 — usually true, because dose
  grids cover the irradiated region, but an assumption: the volume where it was made is
  reported as a warning;
* a paper-record summary (organ, maximum physical dose, fractions, date, source document):
  its maximum EQD2 is added to *every* point of the organ (max-to-max). Every metric of the
  composite is then an upper bound, and the result says so.

A recovery factor is applied only with its documentation (elapsed time, approver, approval
date, rationale): anything missing raises :class:`~rtcheck.errors.RecoveryFactorError`.

The course file format (YAML) is documented in ``docs/courses.md`` and in
:func:`load_course_file`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from . import radiobiology as rb
from .errors import InputError, RecoveryFactorError
from .models import DVH, NEAR_MAX_VOLUME_CC, Course, DoseGrid

#: Average month length (days) used to express elapsed time in months.
DAYS_PER_MONTH = 365.25 / 12

#: A stated interval in months may differ from the dates by this much (rounding to months).
ELAPSED_MONTHS_TOLERANCE = 0.5
#: A stated interval in days may differ from the dates by this much.
ELAPSED_DAYS_TOLERANCE = 1

#: Largest published recovery discount in the shipped references (Price 2021: 50 % after
#: more than 12 months). Larger factors are accepted when documented, with a warning.
PUBLISHED_MAX_RECOVERY = 0.5

COURSE_FILE_VERSION = 1


# ==========================================================================================
# Resampling
# ==========================================================================================
def transform_points(matrix: np.ndarray | None, points_mm: np.ndarray) -> np.ndarray:
    """Apply a 4×4 homogeneous matrix to (N, 3) points (x, y, z in mm)."""
    pts = np.asarray(points_mm, dtype=float).reshape(-1, 3)
    if matrix is None:
        return pts
    m = np.asarray(matrix, dtype=float)
    return pts @ m[:3, :3].T + m[:3, 3]


def _fractional_index(coords: np.ndarray, values: np.ndarray, tol_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Fractional grid index of ``values`` along one axis (non-uniform spacing allowed)."""
    inside = (values >= coords[0] - tol_mm) & (values <= coords[-1] + tol_mm)
    if coords.size == 1:
        return np.zeros(values.shape), inside
    return np.interp(values, coords, np.arange(coords.size, dtype=float)), inside


def dose_at_points(grid: DoseGrid, points_mm: np.ndarray, *, tol_mm: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Trilinear dose (Gy) of ``grid`` at (N, 3) points (x, y, z mm), vectorised.

    Returns ``(dose_gy, inside)``: points outside the grid's voxel-centre box (beyond
    ``tol_mm``) get 0 Gy and ``inside`` False — the caller decides what that means.
    Non-uniform plane spacing is handled (positions are mapped to fractional indices per
    axis, then :func:`rtcheck.dvhcalc.sampling.trilinear` interpolates, as the DVH code does).
    """
    from .dvhcalc.sampling import trilinear

    pts = np.asarray(points_mm, dtype=float).reshape(-1, 3)
    fx, in_x = _fractional_index(grid.x_mm, pts[:, 0], tol_mm)
    fy, in_y = _fractional_index(grid.y_mm, pts[:, 1], tol_mm)
    fz, in_z = _fractional_index(grid.z_mm, pts[:, 2], tol_mm)
    inside = in_x & in_y & in_z
    dose = trilinear(grid.dose_gy, np.column_stack([fz, fy, fx])) if pts.shape[0] else np.zeros(0)
    return np.where(inside, dose, 0.0), inside


@dataclass(frozen=True, eq=False)
class ResampledDose:
    """A prior dose resampled onto another grid; ``outside`` marks voxels it did not cover."""

    grid: DoseGrid
    outside: np.ndarray

    @property
    def outside_fraction(self) -> float:
        return float(self.outside.mean()) if self.outside.size else 0.0


def resample_dose(prior: DoseGrid, onto: DoseGrid, prior_from_target: np.ndarray | None = None) -> ResampledDose:
    """Resample ``prior`` (trilinear) at the voxel centres of ``onto``.

    ``prior_from_target`` is the 4×4 matrix carrying coordinates of ``onto``'s frame into
    ``prior``'s frame (identity when both share a FrameOfReferenceUID). Voxels outside the
    prior grid get 0 Gy and are flagged in ``outside``.
    """
    if prior_from_target is None and prior.frame_of_reference_uid != onto.frame_of_reference_uid:
        raise InputError(
            f"prior dose is on frame of reference {prior.frame_of_reference_uid}, the target grid "
            f"on {onto.frame_of_reference_uid}; a registration matrix is needed",
            path=prior.source_files[0] if prior.source_files else None,
            remedy="export a rigid spatial registration (REG) linking the two planning CTs",
        )
    z, y, x = np.meshgrid(onto.z_mm, onto.y_mm, onto.x_mm, indexing="ij")
    points = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
    dose, inside = dose_at_points(prior, transform_points(prior_from_target, points))
    grid = dataclasses.replace(
        onto,
        dose_gy=dose.reshape(onto.shape),
        sop_instance_uids=prior.sop_instance_uids,
        source_files=prior.source_files,
        referenced_plan_uid=prior.referenced_plan_uid,
        dose_type=prior.dose_type,
        summation_type=prior.summation_type,
    )
    outside = (~inside).reshape(onto.shape)
    outside.setflags(write=False)
    return ResampledDose(grid, outside)


# ==========================================================================================
# Recovery factor and its documentation
# ==========================================================================================
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
        return not self.organs or any(same(organ, o) for o in self.organs)

    def to_dict(self) -> dict:
        return {
            "factor": self.factor,
            "elapsed_months": round(self.elapsed_months, 2),
            "elapsed_source": self.elapsed_source,
            "approver": self.approver,
            "approval_date": self.approval_date.isoformat(),
            "rationale": self.rationale,
            "organs": list(self.organs),
            "warnings": list(self.warnings),
        }


RECOVERY_REQUIRED = ("factor", "approver", "approval_date", "rationale")


def _as_date(value, what: str, path, where: str) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise RecoveryFactorError(
        f"{where}: {what} {value!r} is not a date",
        path=path,
        remedy="write dates as YYYY-MM-DD",
    )


def elapsed_months_between(earlier: _dt.date, later: _dt.date) -> float:
    return (later - earlier).days / DAYS_PER_MONTH


def document_recovery(
    raw: Mapping,
    *,
    prior_date: _dt.date | None,
    current_date: _dt.date | None,
    path: str | Path | None = None,
    where: str = "recovery factor",
) -> RecoveryFactor:
    """Validate the documentation of a recovery factor; RecoveryFactorError if incomplete.

    ``raw`` holds ``factor``, ``approver`` (the local PI's name), ``approval_date``,
    ``rationale`` (reference or reasoning) and optionally ``elapsed_months`` or
    ``elapsed_days`` and ``organs``. The elapsed time is computed from the course dates when
    both are known; a stated interval must then agree with them. Without both dates a stated
    interval is required.
    """
    if not isinstance(raw, Mapping):
        raise RecoveryFactorError(f"{where} must be a mapping of its documentation fields", path=path)
    remedy = (
        "document the factor with factor, approver (local PI), approval_date, rationale "
        "and the elapsed time (course dates or elapsed_months); an undocumented factor is never applied"
    )
    missing = [k for k in RECOVERY_REQUIRED if raw.get(k) in (None, "")]
    if missing:
        raise RecoveryFactorError(f"{where} is missing {', '.join(missing)}", path=path, remedy=remedy)
    unknown = set(raw) - {*RECOVERY_REQUIRED, "elapsed_months", "elapsed_days", "organs", "note"}
    if unknown:
        raise RecoveryFactorError(f"{where} has unknown field(s) {', '.join(sorted(unknown))}", path=path, remedy=remedy)
    try:
        factor = float(raw["factor"])
    except (TypeError, ValueError):
        raise RecoveryFactorError(f"{where}: factor {raw['factor']!r} is not a number", path=path) from None
    if not (0.0 <= factor <= 1.0) or math.isnan(factor):
        raise RecoveryFactorError(
            f"{where}: factor {factor:g} is outside 0–1",
            path=path,
            remedy="give the fraction of the prior BED discounted, e.g. 0.25 for 25 %",
        )
    for key in ("approver", "rationale"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise RecoveryFactorError(f"{where}: {key} must be a non-empty text", path=path, remedy=remedy)
    approval_date = _as_date(raw["approval_date"], "approval_date", path, where)
    warnings = []

    stated_months = raw.get("elapsed_months")
    stated_days = raw.get("elapsed_days")
    if stated_months is not None and stated_days is not None:
        raise RecoveryFactorError(f"{where}: give elapsed_months or elapsed_days, not both", path=path)
    for label, value in (("elapsed_months", stated_months), ("elapsed_days", stated_days)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise RecoveryFactorError(f"{where}: {label} {value!r} must be a number >= 0", path=path)

    if prior_date is not None and current_date is not None:
        days = (current_date - prior_date).days
        if days < 0:
            raise RecoveryFactorError(
                f"{where}: the prior course ({prior_date}) is dated after the current course ({current_date})",
                path=path,
                remedy="check the course dates",
            )
        elapsed = days / DAYS_PER_MONTH
        source = f"course dates {prior_date.isoformat()} → {current_date.isoformat()}"
        for stated, actual, tolerance, unit in (
            (stated_months, elapsed, ELAPSED_MONTHS_TOLERANCE, "months"),
            (stated_days, days, ELAPSED_DAYS_TOLERANCE, "days"),
        ):
            if stated is not None and abs(stated - actual) > tolerance:
                raise RecoveryFactorError(
                    f"{where}: stated elapsed time {stated:g} {unit} does not match the course dates "
                    f"({prior_date} → {current_date} = {actual:.1f} {unit})",
                    path=path,
                    remedy="correct the stated interval or the course date",
                )
    elif stated_months is not None or stated_days is not None:
        if stated_months is not None:
            elapsed = float(stated_months)
        elif stated_days is not None:
            elapsed = float(stated_days) / DAYS_PER_MONTH
        unknown_dates = [n for n, d in (("prior", prior_date), ("current", current_date)) if d is None]
        source = f"stated ({' and '.join(unknown_dates)} course date unknown)"
        warnings.append(f"elapsed time {elapsed:.1f} months is as stated; it could not be checked against course dates")
    else:
        unknown_dates = [n for n, d in (("prior", prior_date), ("current", current_date)) if d is None]
        raise RecoveryFactorError(
            f"{where}: the elapsed time is unknown (no {' or '.join(unknown_dates)} course date) and not stated",
            path=path,
            remedy="give the course date(s) or elapsed_months",
        )
    if prior_date is not None and approval_date < prior_date:
        raise RecoveryFactorError(
            f"{where}: approval_date {approval_date} is before the prior course ({prior_date})",
            path=path,
        )
    if factor > PUBLISHED_MAX_RECOVERY:
        warnings.append(
            f"recovery factor {factor:g} is above the largest discount in the shipped references "
            f"({PUBLISHED_MAX_RECOVERY:g}, Price 2021 for > 12 months)"
        )
    if factor > 0 and elapsed < 6:
        warnings.append(
            f"recovery factor {factor:g} with only {elapsed:.1f} months elapsed; published guidance "
            "gives no recovery before 6 months (Price 2021; Nieder 2006 interval >= 6 months)"
        )
    organs = raw.get("organs") or ()
    if isinstance(organs, str):
        organs = (organs,)
    if not all(isinstance(o, str) and o.strip() for o in organs):
        raise RecoveryFactorError(f"{where}: organs must be a list of organ names", path=path)
    return RecoveryFactor(
        factor=factor,
        elapsed_months=elapsed,
        elapsed_source=source,
        approver=raw["approver"].strip(),
        approval_date=approval_date,
        rationale=raw["rationale"].strip(),
        organs=tuple(o.strip() for o in organs),
        warnings=tuple(warnings),
    )


# ==========================================================================================
# Prior courses
# ==========================================================================================
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
    ``registration_file`` is an explicit REG file for a course on another frame.
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

    def __post_init__(self) -> None:
        if (self.course is None) == (not self.records):
            raise ValueError("a prior course has either a DICOM dose or paper records, not both or neither")
        if self.fractions < 1:
            raise ValueError(f"number of fractions must be >= 1, got {self.fractions}")
        object.__setattr__(self, "records", tuple(self.records))
        object.__setattr__(self, "recovery", tuple(self.recovery))

    @property
    def is_summary(self) -> bool:
        return self.course is None

    def recovery_for(self, organ: str, same: Callable[[str, str], bool]) -> RecoveryFactor | None:
        specific = [r for r in self.recovery if r.organs and r.applies_to(organ, same)]
        if specific:
            return specific[0]
        general = [r for r in self.recovery if not r.organs]
        return general[0] if general else None

    def record_for(self, organ: str, same: Callable[[str, str], bool]) -> OrganRecord | None:
        for record in self.records:
            if same(record.organ, organ):
                return record
        return None

    def to_dict(self) -> dict:
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


def same_organ(a: str, b: str) -> bool:
    """Organ names compared case- and separator-insensitively (TG-263 names expected)."""
    from .constraints.names import normalize

    return normalize(a) == normalize(b)


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
    from .dicom_io import discover

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("prior course folder not found", path=folder, remedy="check the --prior path")
    courses = discover(folder, require_structures=False)  # a prior course contributes dose only
    if not courses:
        raise InputError("no plan with a dose found in the prior course folder", path=folder,
                         remedy="export the prior RTPLAN and RTDOSE into this folder")
    from .evaluate import check_dose_reaches_prescription

    result = []
    for number, course in enumerate(courses, start=1):
        check_dose_reaches_prescription(course)  # a partial or cGy prior dose under-reports the sum
        warnings = []
        course_label = label or (course.label or (course.plan.label if course.plan else None) or folder.name)
        if len(courses) > 1:
            course_label = f"{course_label} [{number}/{len(courses)}]"
        if course.plan is None or course.plan.fractions is None:
            if fractions is None:
                raise InputError(
                    "the prior dose has no plan, so its number of fractions is unknown",
                    path=folder,
                    remedy="add the prior RTPLAN to the folder, or give fractions in a course file",
                )
            n = fractions
        else:
            n = course.fractions
            if fractions is not None and fractions != n:
                raise InputError(
                    f"course file says {fractions} fractions, the prior plan {n}",
                    path=source_path or folder,
                    remedy="correct the course file",
                )
        course_date = course.date
        if date is not None:
            if course_date is not None and course_date != date:
                warnings.append(f"course date {date} from the course file used instead of the plan date {course_date}")
            course_date = date
        if course_date is None:
            warnings.append("the prior course has no date; elapsed time cannot be computed")
        factors = tuple(
            document_recovery(
                raw,
                prior_date=course_date,
                current_date=current_date,
                path=source_path or folder,
                where=f"prior course {course_label!r}: recovery factor",
            )
            for raw in recovery
        )
        _check_recovery_overlap(factors, course_label, source_path or folder)
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
            )
        )
    return result


def _check_recovery_overlap(factors: Sequence[RecoveryFactor], label: str, path) -> None:
    general = [f for f in factors if not f.organs]
    if len(general) > 1:
        raise RecoveryFactorError(f"prior course {label!r} has {len(general)} recovery factors for all organs", path=path,
                                  remedy="give one factor per course, or list organs for each")
    seen: dict[str, int] = {}
    from .constraints.names import normalize

    for f in factors:
        for organ in f.organs:
            key = normalize(organ)
            if key in seen:
                raise RecoveryFactorError(f"prior course {label!r}: organ {organ} has two recovery factors", path=path)
            seen[key] = 1


# ------------------------------------------------------------------------------------------
# Course file
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CourseFile:
    """A parsed course file: its prior courses and the current course's date (if given)."""

    path: Path
    priors: tuple[PriorCourse, ...]
    current_date: _dt.date | None = None


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


def _as_date_input(value, path, where) -> _dt.date:
    try:
        return _as_date(value, "date", path, where)
    except RecoveryFactorError as exc:
        raise InputError(exc.message, path=path, remedy=exc.remedy) from None


def _positive_int(value, path, where) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{where}: fractions {value!r} must be a whole number >= 1", path=path)
    return value


def _recovery_list(entry) -> list:
    raw = entry.get("recovery")
    if raw is None:
        return []
    return list(raw) if isinstance(raw, list) else [raw]


def _parse_prior_entry(entry, number, path: Path, current_date, remedy) -> list[PriorCourse]:
    where = _where(entry, f"prior course {number}")
    if not isinstance(entry, Mapping):
        raise InputError(f"{where} must be a mapping", path=path, remedy=remedy)
    unknown = set(entry) - {"label", "dicom", "summary", "date", "fractions", "registration", "recovery", "note"}
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

    if "dicom" in entry:
        folder = (path.parent / str(entry["dicom"])).resolve()
        registration = None
        if entry.get("registration"):
            registration = (path.parent / str(entry["registration"])).resolve()
            if not registration.is_file():
                raise InputError(f"{where}: registration file not found", path=registration)
        try:
            return prior_courses_from_folder(
                folder, label=label, fractions=fractions, date=date, recovery=recovery,
                current_date=current_date, registration_file=registration, source_path=path,
            )
        except RecoveryFactorError as exc:
            raise RecoveryFactorError(f"{_where(entry, '')}{exc.message}", path=path, remedy=exc.remedy) from None

    summary = entry["summary"]
    if not isinstance(summary, Mapping):
        raise InputError(f"{where}: summary must be a mapping", path=path, remedy=remedy)
    swhere = _where(summary, f"prior course {label!r} summary")
    unknown = set(summary) - {"source_document", "date", "fractions", "organs", "note"}
    if unknown:
        raise InputError(f"{swhere}: unknown key(s) {', '.join(sorted(unknown))}", path=path, remedy=remedy)
    missing = [k for k in ("source_document", "fractions", "organs") if summary.get(k) in (None, "", [])]
    if date is None and summary.get("date") is None:
        missing.append("date")
    if missing:
        raise InputError(
            f"{swhere} is missing {', '.join(missing)}",
            path=path,
            remedy="a paper-record summary needs source_document, date, fractions and organs (organ, max_dose_gy)",
        )
    if summary.get("date") is not None:
        sdate = _as_date_input(summary["date"], path, swhere)
        if date is not None and sdate != date:
            raise InputError(f"{swhere}: date {sdate} differs from the course date {date}", path=path)
        date = sdate
    n = _positive_int(summary["fractions"], path, swhere)
    if fractions is not None and fractions != n:
        raise InputError(f"{swhere}: fractions {n} differs from the course's {fractions}", path=path)
    records = []
    for organ_entry in summary["organs"]:
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
        extra = set(organ_entry) - {"organ", "max_dose_gy", "dvh_points", "note"}
        if extra:
            raise InputError(f"{owhere}: unknown key(s) {', '.join(sorted(extra))}", path=path, remedy=remedy)
        records.append(OrganRecord(str(organ_entry["organ"]), float(max_dose), tuple(points)))
    factors = tuple(
        document_recovery(raw, prior_date=date, current_date=current_date, path=path,
                          where=_where(raw, f"prior course {label!r}: recovery factor"))
        for raw in recovery
    )
    _check_recovery_overlap(factors, label, path)
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


# ==========================================================================================
# Composite
# ==========================================================================================
@dataclass(frozen=True, eq=False)
class OrganSamples:
    """The sample points of one organ's DVH on the current plan.

    ``points_mm`` (N, 3) are x, y, z in the current plan's frame; ``volume_cc`` (N,) the
    volume each stands for (the DVH's partial-volume weights). ``current_dose_gy`` (N,),
    when given, is the current plan's physical dose at the points as the DVH computed it;
    otherwise it is sampled trilinearly from the current dose grid.
    """

    name: str
    points_mm: np.ndarray
    volume_cc: np.ndarray
    roi_number: int | None = None
    structure_volume_cc: float | None = None
    outside_grid_cc: float = 0.0
    current_dose_gy: np.ndarray | None = None

    def __post_init__(self) -> None:
        pts = np.asarray(self.points_mm, dtype=float).reshape(-1, 3)
        vol = np.asarray(self.volume_cc, dtype=float).ravel()
        if pts.shape[0] != vol.shape[0]:
            raise ValueError("points_mm and volume_cc must have the same length")
        object.__setattr__(self, "points_mm", pts)
        object.__setattr__(self, "volume_cc", vol)
        if self.current_dose_gy is not None:
            dose = np.asarray(self.current_dose_gy, dtype=float).ravel()
            if dose.shape != vol.shape:
                raise ValueError("current_dose_gy must have one value per point")
            object.__setattr__(self, "current_dose_gy", dose)


def _index_to_mm(coords: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Positions (mm) of fractional indices along one axis, extrapolated beyond the ends.

    Sub-samples of boundary voxels may lie in the outer half voxel, beyond the outermost
    voxel centre: their true position matters when a prior dose is sampled there.
    """
    if coords.size == 1:
        return np.full(index.shape, coords[0])
    inner = np.interp(index, np.arange(coords.size), coords)
    first, last = coords[1] - coords[0], coords[-1] - coords[-2]
    inner = np.where(index < 0, coords[0] + index * first, inner)
    return np.where(index > coords.size - 1, coords[-1] + (index - (coords.size - 1)) * last, inner)


def organ_samples_from_mask(mask, grid: DoseGrid, *, interpolate: bool = True, name: str | None = None) -> OrganSamples:
    """The sample points of a :class:`rtcheck.dvhcalc.masks.StructureMask` on the current grid.

    Points and volumes are those of ``mask.dose_samples`` (interior voxels at their
    centres, then boundary sub-samples — or, without ``interpolate``, partial voxels at
    their centres), scaled like :func:`rtcheck.dvhcalc.compute.dvh_from_mask` so that they add up to
    the structure's volume inside the grid. The current dose is taken from
    ``mask.dose_samples`` itself. For small ROIs :mod:`rtcheck.dvhcalc` also supersamples
    interior voxels ("fine interior"); the composite keeps one sample per interior voxel, so
    its current-course part can differ from the plan's DVH by that sampling difference
    (on the sample spine cord: < 0.02 Gy EQD2 at D0.035cc).
    """
    s3 = mask.supersampling**3
    zs, ys, xs = mask.slices
    box_z, box_y, box_x = grid.z_mm[zs], grid.y_mm[ys], grid.x_mm[xs]
    interior = mask.counts == s3
    kz, ky, kx = np.nonzero(interior)
    parts = [np.column_stack([box_x[kx], box_y[ky], box_z[kz]])]
    if interpolate:
        idx = np.asarray(mask.points_index, dtype=float).reshape(-1, 3)
        parts.append(
            np.column_stack([_index_to_mm(grid.x_mm, idx[:, 2]), _index_to_mm(grid.y_mm, idx[:, 1]),
                             _index_to_mm(grid.z_mm, idx[:, 0])])
        )
    else:
        pz, py, px = np.nonzero((mask.counts > 0) & ~interior)
        parts.append(np.column_stack([box_x[px], box_y[py], box_z[pz]]))
    points = np.concatenate(parts)
    dose, volume = mask.dose_samples(grid.dose_gy, interpolate)
    total = float(volume.sum())
    if total > 0 and mask.in_grid_volume_cc > 0:
        volume = volume * (mask.in_grid_volume_cc / total)
    return OrganSamples(
        name=name or mask.name,
        points_mm=points,
        volume_cc=volume,
        roi_number=mask.roi_number,
        structure_volume_cc=mask.structure_volume_cc,
        outside_grid_cc=mask.outside_grid_cc,
        current_dose_gy=dose,
    )


@dataclass(frozen=True)
class Contribution:
    """One course's EQD2 at one organ (Gy), before and after its recovery factor."""

    course: str
    kind: str  # "current", "dicom" or "summary"
    fractions: int
    date: _dt.date | None
    alpha_beta_gy: float
    max_eqd2_gy: float | None
    near_max_eqd2_gy: float | None
    mean_eqd2_gy: float | None
    recovery: RecoveryFactor | None = None
    outside_prior_grid_cc: float = 0.0
    upper_bound: bool = False
    note: str | None = None
    #: this course's own EQD2 at the organ's samples (before any recovery factor)
    dvh: DVH | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def factor(self) -> float:
        return self.recovery.factor if self.recovery else 0.0

    def to_dict(self) -> dict:
        keep = 1.0 - self.factor

        def scaled(v):
            return None if v is None else v * keep

        return {
            "course": self.course,
            "kind": self.kind,
            "fractions": self.fractions,
            "date": self.date.isoformat() if self.date else None,
            "alpha_beta_gy": self.alpha_beta_gy,
            "max_eqd2_gy": self.max_eqd2_gy,
            "near_max_eqd2_gy": self.near_max_eqd2_gy,
            "mean_eqd2_gy": self.mean_eqd2_gy,
            "recovery_factor": self.factor,
            "recovery": self.recovery.to_dict() if self.recovery else None,
            "max_eqd2_after_recovery_gy": scaled(self.max_eqd2_gy),
            "outside_prior_grid_cc": self.outside_prior_grid_cc,
            "upper_bound": self.upper_bound,
            "note": self.note,
        }


@dataclass(frozen=True, eq=False)
class OrganComposite:
    """The composite EQD2 of one organ at one α/β, with and without recovery factors.

    ``with_factor`` / ``without_factor`` are DVHs whose ``dose_gy`` are EQD2 values (Gy);
    both are None when the composite cannot be formed (``not_evaluated`` says why).
    ``upper_bound`` is True when a paper-record course was added max-to-max.
    """

    organ: str
    alpha_beta_gy: float
    contributions: tuple[Contribution, ...]
    with_factor: DVH | None
    without_factor: DVH | None
    upper_bound: bool = False
    warnings: tuple[str, ...] = ()
    not_evaluated: str | None = None

    @property
    def factor_applied(self) -> bool:
        return any(c.factor > 0 for c in self.contributions)

    def to_dict(self) -> dict:
        def metrics(d: DVH | None):
            if d is None:
                return None
            return {
                "max_eqd2_gy": d.max_gy(),
                "near_max_eqd2_gy": d.near_max_gy(),
                "mean_eqd2_gy": d.mean_gy(),
                "volume_cc": d.volume_with_dose_cc,
            }

        return {
            "organ": self.organ,
            "alpha_beta_gy": self.alpha_beta_gy,
            "quantity": "EQD2",
            "upper_bound": self.upper_bound,
            "factor_applied": self.factor_applied,
            "contributions": [c.to_dict() for c in self.contributions],
            "with_factor": metrics(self.with_factor),
            "without_factor": metrics(self.without_factor),
            "warnings": list(self.warnings),
            "not_evaluated": self.not_evaluated,
        }


def _contribution_metrics(
    eqd2_gy: np.ndarray, volume_cc: np.ndarray, name: str
) -> tuple[float | None, float | None, float | None]:
    if eqd2_gy.size == 0:
        return None, None, None
    dvh = DVH(name, None, eqd2_gy, volume_cc)
    return dvh.max_gy(), dvh.near_max_gy(NEAR_MAX_VOLUME_CC), dvh.mean_gy()


@functools.lru_cache(maxsize=32)
def _registrations_in(folder: Path) -> tuple:
    """Usable REG objects of a folder; unusable ones become :class:`UnusableRegistration`."""
    from .dicom_io.registration import find_registrations

    unusable: list[InputError] = []
    found = find_registrations(folder, unusable=unusable)
    return tuple(found) + tuple(UnusableRegistration(e) for e in unusable)


@dataclass(frozen=True)
class UnusableRegistration:
    """A REG object that was found but cannot be used; its error explains a refusal."""

    error: InputError

    def links(self, frame_a: str, frame_b: str) -> bool:
        return False


class FolderRegistrations:
    """The REG objects of a folder, read only when first needed (frames differ)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def __iter__(self):
        return iter(_registrations_in(self.folder) if self.folder.is_dir() else ())


def _course_dvh(organ: OrganSamples, eqd2_gy: np.ndarray, course: str, upper_bound: bool = False) -> DVH:
    """One course's EQD2 DVH of the organ (for per-course limits)."""
    note = f"EQD2 of {course}" + (" (upper bound: max-to-max)" if upper_bound else "")
    return DVH(organ.name, organ.roi_number, eqd2_gy, organ.volume_cc, structure_volume_cc=organ.structure_volume_cc,
               outside_grid_cc=organ.outside_grid_cc, settings=note)


def prior_dose_at(
    prior: PriorCourse,
    points_mm: np.ndarray,
    current_frame: str | None,
    registrations: Iterable = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Physical dose (Gy) of a DICOM prior course at points of the current frame.

    Returns ``(dose_gy, inside)``. Frames that differ need a registration linking them.
    """
    from .dicom_io.registration import read_registration, transform_between

    assert prior.course is not None
    prior_frame = prior.course.dose.frame_of_reference_uid
    matrix = None
    if prior_frame and current_frame and prior_frame != current_frame:
        # explicit file first, then REG objects exported with the prior course, then the
        # caller's (e.g. found in the current plan's folder)
        regs = [read_registration(prior.registration_file)] if prior.registration_file is not None else []
        if not prior.is_summary and Path(prior.source).is_dir():
            regs += _registrations_in(Path(prior.source))
        regs += list(registrations)
        try:
            matrix, _ = transform_between(regs, current_frame, prior_frame)
        except InputError as exc:
            skipped = [str(r.error) for r in regs if isinstance(r, UnusableRegistration)]
            also = f" (registrations found but not usable: {'; '.join(skipped)})" if skipped else ""
            raise InputError(f"prior course {prior.label!r}: {exc.message}{also}", path=prior.source,
                             remedy=exc.remedy) from None
    elif not prior_frame or not current_frame:
        # Without UIDs we cannot tell; summing would silently assume alignment.
        raise InputError(
            f"prior course {prior.label!r}: a FrameOfReferenceUID is missing, so alignment with the current plan is unknown",
            path=prior.source,
            remedy="export the doses with their frame of reference (and a REG object if the CTs differ)",
        )
    return dose_at_points(prior.course.dose, transform_points(matrix, points_mm))


def composite_organ(
    current: Course,
    organ: OrganSamples,
    alpha_beta_gy: float,
    priors: Sequence[PriorCourse],
    *,
    registrations: Iterable = (),
    same: Callable[[str, str], bool] = same_organ,
    prior_doses: Mapping[int, tuple[np.ndarray, np.ndarray]] | None = None,
) -> OrganComposite:
    """Composite EQD2 of one organ (α/β ``alpha_beta_gy``) over the current and prior courses.

    ``prior_doses`` may carry precomputed physical doses per prior (index → (dose, inside))
    so that several α/β of the same organ reuse one resampling.
    """
    vol = organ.volume_cc
    if organ.current_dose_gy is not None:
        current_phys = organ.current_dose_gy
    else:
        current_phys, inside = dose_at_points(current.dose, organ.points_mm)
        if not np.all(inside):
            raise ValueError("organ sample points must lie inside the current dose grid")
    current_eqd2 = np.asarray(rb.eqd2(current_phys, current.fractions, alpha_beta_gy), dtype=float)
    contributions = [
        Contribution(
            current.label or (current.plan.label if current.plan else None) or "current plan",
            "current",
            current.fractions,
            current.date,
            alpha_beta_gy,
            *_contribution_metrics(current_eqd2, vol, organ.name),
            dvh=_course_dvh(organ, current_eqd2, "current course"),
        )
    ]
    with_factor = current_eqd2.copy()
    without_factor = current_eqd2.copy()
    warnings: list[str] = []
    upper_bound = False
    not_evaluated = None
    for index, prior in enumerate(priors):
        recovery = prior.recovery_for(organ.name, same)
        keep = 1.0 - (recovery.factor if recovery else 0.0)
        if prior.is_summary:
            record = prior.record_for(organ.name, same)
            if record is None:
                not_evaluated = (
                    f"prior course {prior.label!r} ({prior.source}) has no record for {organ.name}: "
                    "its dose to this organ is unknown"
                )
                contributions.append(Contribution(prior.label, "summary", prior.fractions, prior.date, alpha_beta_gy,
                                                  None, None, None, recovery, note="no record for this organ"))
                continue
            max_eqd2 = float(rb.eqd2(record.max_dose_gy, prior.fractions, alpha_beta_gy))
            upper_bound = True
            with_factor += keep * max_eqd2
            without_factor += max_eqd2
            contributions.append(
                Contribution(prior.label, "summary", prior.fractions, prior.date, alpha_beta_gy,
                             max_eqd2, max_eqd2, max_eqd2, recovery, upper_bound=True,
                             note=f"max {record.max_dose_gy:g} Gy physical in {prior.fractions} fx, "
                                  "added to every point (max-to-max, upper bound)",
                             dvh=_course_dvh(organ, np.full(vol.shape, max_eqd2), prior.label, upper_bound=True))
            )
            continue
        if prior_doses is not None and index in prior_doses:
            phys, inside = prior_doses[index]
        else:
            phys, inside = prior_dose_at(prior, organ.points_mm, current.dose.frame_of_reference_uid, registrations)
        eqd2_prior = np.asarray(rb.eqd2(phys, prior.fractions, alpha_beta_gy), dtype=float)
        outside_cc = float(vol[~inside].sum())
        if outside_cc > 0:
            warnings.append(
                f"{outside_cc:.2f} cc of {organ.name} lie outside the dose grid of prior course "
                f"{prior.label!r}; its dose there is assumed to be 0 Gy"
            )
        with_factor += keep * eqd2_prior
        without_factor += eqd2_prior
        contributions.append(
            Contribution(prior.label, "dicom", prior.fractions, prior.date, alpha_beta_gy,
                         *_contribution_metrics(eqd2_prior, vol, organ.name), recovery=recovery,
                         outside_prior_grid_cc=outside_cc, dvh=_course_dvh(organ, eqd2_prior, prior.label))
        )
    if not_evaluated:
        return OrganComposite(organ.name, alpha_beta_gy, tuple(contributions), None, None, upper_bound,
                              tuple(warnings), not_evaluated)
    settings = f"composite EQD2 (α/β {alpha_beta_gy:g} Gy)" + (", upper bound" if upper_bound else "")

    def make(dose, suffix):
        return DVH(organ.name, organ.roi_number, dose, vol, structure_volume_cc=organ.structure_volume_cc,
                   outside_grid_cc=organ.outside_grid_cc, settings=settings + suffix)

    return OrganComposite(
        organ=organ.name,
        alpha_beta_gy=alpha_beta_gy,
        contributions=tuple(contributions),
        with_factor=make(with_factor, ", with recovery factors"),
        without_factor=make(without_factor, ", without recovery factors"),
        upper_bound=upper_bound,
        warnings=tuple(warnings),
    )


def composite(
    current: Course,
    organs: Iterable[tuple[OrganSamples, Iterable[float]]],
    priors: Sequence[PriorCourse],
    *,
    registrations: Iterable = (),
    same: Callable[[str, str], bool] = same_organ,
) -> list[OrganComposite]:
    """Composites for several organs, each at each of its α/β values (one resampling each)."""
    results = []
    for organ, alpha_betas in organs:
        doses = {
            i: prior_dose_at(p, organ.points_mm, current.dose.frame_of_reference_uid, registrations)
            for i, p in enumerate(priors)
            if not p.is_summary
        }
        for ab in dict.fromkeys(float(a) for a in alpha_betas):
            results.append(composite_organ(current, organ, ab, priors, registrations=registrations, same=same,
                                           prior_doses=doses))
    return results


def elapsed_months(prior: PriorCourse, current_date: _dt.date | None) -> float | None:
    """Months between a prior course and the current course, when both dates are known."""
    if prior.date is None or current_date is None:
        return None
    return elapsed_months_between(prior.date, current_date)


__all__ = [
    "Contribution",
    "CourseFile",
    "OrganComposite",
    "OrganRecord",
    "OrganSamples",
    "PriorCourse",
    "RecoveryFactor",
    "ResampledDose",
    "composite",
    "composite_organ",
    "document_recovery",
    "dose_at_points",
    "elapsed_months",
    "load_course_file",
    "prior_courses_from_folder",
    "resample_dose",
    "transform_points",
]
