"""``rtcheck.check`` and ``rtcheck.dvh``: one call per job, everything the commands decide.

:func:`read_plans` finds the plans (a folder by discovery, or named files); :func:`check`
chooses each plan's table (from its fractionation and prescription, or the caller's
overrides), checks it, adds the re-irradiation composite when prior courses are given and
returns a :class:`~rtcheck.api.reports.CheckReport`; :func:`dvh` computes every structure's
DVH. The command line is a thin layer over these three functions.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..constraints import (
    NameTable,
    names_with_site_aliases,
    resolve_table,
    select_table,
    shipped_table,
)
from ..dicom_io import discover, load_course
from ..dicom_io.index import index_plans
from ..dicom_io.priors import FolderRegistrations
from ..dvhcalc.compute import compute_dvhs
from ..errors import InputError, RtcheckError, UsageError
from ..evaluate import check_course
from ..evaluate.reirradiation import check_reirradiation
from ..models import ConstraintTable, Course, PriorCourse, ReirradiationResult
from .priors import load_course_file, prior_courses_from_folder
from .reports import CheckReport, DVHReport, PlanCheck, PlanDVHs, PlanIdentity, utc_now

CUMULATIVE_TABLE = "reirradiation-cumulative"
PER_COURSE_TABLE = "reirradiation-per-course"

PathLike = str | Path


@dataclass(frozen=True)
class PlanInputs:
    """The plans to work on, the DICOM files they were read from, the folder given (None
    when the files were named one by one), and the plans of the folder that could not be
    read (each with its error; the others are still checked)."""

    courses: tuple[Course, ...]
    files: tuple[Path, ...]
    folder: Path | None = None
    unreadable: tuple[PlanIdentity, ...] = ()


def read_plans(
    path: PathLike | None = None,
    *,
    structures: PathLike | None = None,
    dose: PathLike | Sequence[PathLike] = (),
    plan: PathLike | None = None,
) -> PlanInputs:
    """The plans under ``path`` (a folder, searched recursively; one course per plan), or
    the course made of the named ``structures`` file, ``dose`` file(s) and optional ``plan``.

    Raises :class:`~rtcheck.errors.UsageError` for a missing path or when both or neither
    ways are given, :class:`~rtcheck.errors.InputError` for unreadable or inconsistent files.
    """
    doses = [Path(dose)] if isinstance(dose, str | Path) else [Path(d) for d in dose]
    if structures is not None or doses or plan is not None:
        if path is not None:
            raise UsageError("give either a folder or structures/dose files, not both")
        if structures is None or not doses:
            raise UsageError("the structures file and the dose file(s) are needed together")
        given = [Path(structures), *doses, *([Path(plan)] if plan is not None else [])]
        for file in given:
            if not file.exists():
                raise UsageError("no such file", path=file, remedy="check the path of the DICOM file")
        course = load_course(Path(structures), doses, Path(plan) if plan is not None else None)
        return PlanInputs(courses=(course,), files=tuple(given))
    if path is None:
        raise UsageError("give the export folder, or the structures and dose files")
    folder = Path(path)
    if not folder.exists():
        raise UsageError("no such file or folder", path=folder, remedy="give the path of the export folder")
    try:
        courses = tuple(discover(folder))
    except InputError as error:
        return _plans_one_by_one(folder, error)
    return PlanInputs(courses=courses, files=_files_of(courses), folder=folder)


def _plans_one_by_one(folder: Path, error: InputError) -> PlanInputs:
    """When a folder cannot be read as a whole, its plans one by one: each plan whose files
    are complete and consistent is read, each other one kept with its error, so that one
    broken plan does not hide the others. A folder of one plan (or none readable) raises
    the folder's ``error`` as before."""
    index = index_plans(folder)
    if len(index.plans) < 2:
        raise error
    courses: list[Course] = []
    unreadable: list[PlanIdentity] = []
    for entry in index.plans:
        identity = PlanIdentity(entry.patient_id, entry.plan_label, entry.plan_uid)
        if entry.error is not None or entry.structures is None:
            unreadable.append(dataclasses.replace(identity, error=entry.error or error))
            continue
        try:
            courses.append(load_course(entry.structures, list(entry.doses), entry.plan))
        except InputError as exc:
            unreadable.append(dataclasses.replace(identity, error=exc))
    if not courses:
        raise error
    return PlanInputs(courses=tuple(courses), files=_files_of(courses), folder=folder, unreadable=tuple(unreadable))


def _files_of(courses: Sequence[Course]) -> tuple[Path, ...]:
    """The DICOM files the courses were read from: doses, then structure sets, then plans."""
    files = [p for c in courses for p in c.dose.source_files]
    files += [c.structure_set.source_file for c in courses if c.structure_set and c.structure_set.source_file]
    files += [c.plan.source_file for c in courses if c.plan and c.plan.source_file]
    return tuple(Path(f) for f in files)


@dataclass(frozen=True)
class TableChoice:
    """The table a course is checked against, the fraction count used, and how they were chosen."""

    table: ConstraintTable
    fractions: int | None
    notes: tuple[str, ...]


def table_for_course(
    course: Course,
    *,
    table: str | None = None,
    arm: str | None = None,
    fractions: int | None = None,
    names: NameTable,
) -> TableChoice:
    """Choose the table for one course: ``table`` (a file or shipped name) when given, else
    from the fraction count (``fractions`` overrides the plan's) and prescription (``arm``
    overrides the choice of arm). Every decision taken is stated in the notes.

    Raises :class:`~rtcheck.errors.UsageError` when the table does not fit the plan or no
    table exists for its fractionation, :class:`~rtcheck.errors.InputError` when the plan
    states no single number of fractions.
    """
    notes: list[str] = []
    plan = course.plan
    plan_fractions = plan.fractions if plan is not None else None
    if plan is None:
        notes.append("no RTPLAN: fractions and prescription unknown from the files")
    used = fractions if fractions is not None else plan_fractions
    if fractions is not None and plan_fractions is not None and fractions != plan_fractions:
        notes.append(f"fractions {fractions} from --fractions (the plan says {plan_fractions})")
    prescription = plan.prescription_gy if plan is not None else None
    if table is not None:
        chosen = resolve_table(table, names)
        if chosen.fractions is not None and used is not None and chosen.fractions != used:
            raise UsageError(
                f"table {chosen.name} is for {chosen.fractions} fraction(s) but the plan has {used}",
                remedy="give the table for this fractionation (or --fractions if the plan's count is wrong)",
            )
        if arm is not None and chosen.arm is not None and chosen.arm != arm:
            raise UsageError(f"table {chosen.name} is for the {chosen.arm} arm, not {arm}")
        notes.append(f"table {chosen.name} given with --table")
        if prescription is None:
            notes.append("prescription unknown (the plan states no TargetPrescriptionDose)")
        return TableChoice(chosen, used, tuple(notes))
    if used is None and plan is not None:
        raise InputError(
            "the plan states no single number of fractions (NumberOfFractionsPlanned missing, or "
            "several fraction groups), so no table can be chosen",
            path=plan.source_file,
            remedy="give --fractions N or --table",
        )
    selection = select_table(fractions=used, prescription_gy=prescription, arm=arm)
    return TableChoice(selection.table, used, tuple(notes) + tuple(selection.notes))


@dataclass(frozen=True)
class PriorCourses:
    """The prior courses for one current course, and the current course's date (a course
    file's ``current_date`` wins over the plan's)."""

    priors: tuple[PriorCourse, ...]
    current_date: _dt.date | None


def load_priors(
    prior_folders: Sequence[PathLike], course_file: PathLike | None, current_date: _dt.date | None
) -> PriorCourses:
    """Prior courses from DICOM export folders and a course file (YAML, docs/courses.md)."""
    from_file: list[PriorCourse] = []
    if course_file is not None:
        parsed = load_course_file(Path(course_file), current_date=current_date)
        current_date = parsed.current_date
        from_file = list(parsed.priors)
    from_folders = [
        p for folder in prior_folders for p in prior_courses_from_folder(Path(folder), current_date=current_date)
    ]
    return PriorCourses(tuple(from_folders + from_file), current_date)


def check(
    path: PathLike | PlanInputs | None = None,
    *,
    structures: PathLike | None = None,
    dose: PathLike | Sequence[PathLike] = (),
    plan: PathLike | None = None,
    select: str | None = None,
    table: str | None = None,
    arm: str | None = None,
    fractions: int | None = None,
    priors: Sequence[PathLike] = (),
    courses: PathLike | None = None,
    aliases: Sequence[PathLike] = (),
    cumulative_table: str = CUMULATIVE_TABLE,
    converted_limits: bool = True,
) -> CheckReport:
    """Check every plan under ``path`` (or the named files) against its constraint table.

    The table is chosen from each plan: 8 Gy × 1 → the control-arm table, otherwise the SABR
    table for its number of fractions; ``arm`` (``"control"`` or ``"sabr"``), ``fractions``
    and ``table`` (a YAML file or a shipped table name) override — for one plan only: with
    several plans they are refused unless ``select`` (a plan's SOPInstanceUID or label)
    narrows the run to one. ``aliases`` are site alias files. ``priors`` (DICOM export
    folders of prior courses) and ``courses`` (a course file) add the re-irradiation
    composite in EQD2 against ``cumulative_table``; with ``converted_limits`` organs without
    a cumulative limit are also checked against the plan table's limits converted to EQD2.

    Each plan is checked on its own: a plan that cannot be checked (no table for its
    fractionation, an inconsistent structure…) carries its error in the report and the
    others are still checked. What concerns the whole run (a missing folder, unreadable
    files, a bad alias file, overrides with several plans) raises
    :class:`~rtcheck.errors.RtcheckError` (``.path``, ``.remedy``, ``.exit_code``).
    ``path`` may also be the :class:`PlanInputs` of :func:`read_plans`.
    """
    started = utc_now()
    inputs = path if isinstance(path, PlanInputs) else read_plans(path, structures=structures, dose=dose, plan=plan)
    plans = tuple(
        check_plans(
            inputs, select=select, table=table, arm=arm, fractions=fractions, priors=priors, courses=courses,
            aliases=aliases, cumulative_table=cumulative_table, converted_limits=converted_limits,
        )
    )
    return CheckReport(plans=plans, input_files=inputs.files, run_utc=started)


def plan_name(course: Course) -> str:
    """How a plan is named to a user: its label and SOPInstanceUID (or its dose file)."""
    if course.plan is None:
        return f"the plan-less dose {course.dose.source_files[0] if course.dose.source_files else '(no file)'}"
    return f"{course.label or '(no label)'} [{course.plan.sop_instance_uid}]"


def select_plans(courses: Sequence[Course], select: str | None) -> tuple[Course, ...]:
    """The courses whose plan has ``select`` as SOPInstanceUID or label (all when None).

    Raises :class:`~rtcheck.errors.UsageError` listing the plans when none matches.
    """
    if select is None:
        return tuple(courses)
    chosen = tuple(
        c for c in courses if c.plan is not None and select in (c.plan.sop_instance_uid, c.label)
    )
    if not chosen:
        listing = "; ".join(plan_name(c) for c in courses) or "none"
        raise UsageError(
            f"no plan has the UID or label {select!r} (plans found: {listing})",
            remedy="give --plan with one of the labels or UIDs listed",
        )
    return chosen


def _refuse_overrides_for_several(courses: Sequence[Course], overrides: dict[str, object]) -> None:
    """Overrides apply to one plan: with several, a 5-fraction override would check an
    8 Gy × 1 plan against the 5-fraction table (and could pass it)."""
    given = [name for name, value in overrides.items() if value is not None]
    if given and len(courses) > 1:
        listing = "; ".join(plan_name(c) for c in courses)
        raise UsageError(
            f"{', '.join(given)} would apply to every one of {len(courses)} plans ({listing})",
            remedy="select one plan with --plan UID|LABEL, or check each plan folder on its own",
        )


def check_plans(
    inputs: PlanInputs,
    *,
    select: str | None = None,
    table: str | None = None,
    arm: str | None = None,
    fractions: int | None = None,
    priors: Sequence[PathLike] = (),
    courses: PathLike | None = None,
    aliases: Sequence[PathLike] = (),
    cumulative_table: str = CUMULATIVE_TABLE,
    converted_limits: bool = True,
) -> Iterator[PlanCheck]:
    """The plans of :func:`check`, one :class:`PlanCheck` at a time as each is done (a
    command can show each plan's report as soon as it is ready)."""
    chosen = select_plans(inputs.courses, select)
    _refuse_overrides_for_several(chosen, {"--table": table, "--arm": arm, "--fractions": fractions})
    names = names_with_site_aliases(tuple(Path(a) for a in aliases))
    composite = None
    if priors or courses is not None:
        composite = _CompositeSetup.for_run(
            names=names, prior_folders=tuple(priors), course_file=courses, folder=inputs.folder,
            cumulative_table=cumulative_table, fractions=fractions, converted_limits=converted_limits,
        )
    for course in chosen:
        try:
            choice = table_for_course(course, table=table, arm=arm, fractions=fractions, names=names)
            result = check_course(course, choice.table, names, fractions=choice.fractions, notes=list(choice.notes))
            reirradiation = composite.check(course, choice.table) if composite is not None else None
        except RtcheckError as error:
            yield PlanCheck(result=None, error=error, course=course)
            continue
        yield PlanCheck(result=result, reirradiation=reirradiation, course=course)
    if select is None:
        for identity in inputs.unreadable:
            yield PlanCheck(result=None, error=identity.error, identity=identity)


@dataclass(frozen=True)
class _CompositeSetup:
    """What the re-irradiation composite of every plan of a run shares."""

    names: NameTable
    prior_folders: tuple[PathLike, ...]
    course_file: PathLike | None
    cumulative: ConstraintTable
    per_course: ConstraintTable | None
    registrations: FolderRegistrations | tuple[()]
    fractions: int | None
    converted_limits: bool

    @classmethod
    def for_run(
        cls,
        *,
        names: NameTable,
        prior_folders: tuple[PathLike, ...],
        course_file: PathLike | None,
        folder: Path | None,
        cumulative_table: str,
        fractions: int | None,
        converted_limits: bool,
    ) -> _CompositeSetup:
        """The tables and the current folder's registrations, resolved once for the run (a
        bad cumulative table concerns every plan: it raises here)."""
        return cls(
            names=names, prior_folders=prior_folders, course_file=course_file,
            cumulative=resolve_table(cumulative_table, names),
            per_course=shipped_table(PER_COURSE_TABLE) if cumulative_table == CUMULATIVE_TABLE else None,
            registrations=FolderRegistrations(folder) if folder is not None else (),
            fractions=fractions, converted_limits=converted_limits,
        )

    def check(self, course: Course, table: ConstraintTable) -> ReirradiationResult:
        """The composite of ``course`` with the prior courses; ``table`` is the physical
        table of the course's own check (its rows are converted to EQD2 for organs that have
        no cumulative limit)."""
        if self.fractions is not None and self.fractions != course.fractions:
            course = dataclasses.replace(course, fractions=self.fractions)  # the override applies here too
        found = load_priors(self.prior_folders, self.course_file, course.date)
        return check_reirradiation(
            course, list(found.priors), names=self.names, cumulative=self.cumulative, per_course=self.per_course,
            current_table=table if self.converted_limits else None, current_date=found.current_date,
            registrations=self.registrations,
        )


def dvh(
    path: PathLike | PlanInputs | None = None,
    *,
    structures: PathLike | None = None,
    dose: PathLike | Sequence[PathLike] = (),
    plan: PathLike | None = None,
) -> DVHReport:
    """The DVH of every structure of every plan under ``path`` (or of the named files).

    Dose in Gy, volume in cc. A structure without a DVH (no contours, points, open contours…)
    carries the :class:`~rtcheck.errors.GeometryError` that says why.
    """
    inputs = path if isinstance(path, PlanInputs) else read_plans(path, structures=structures, dose=dose, plan=plan)
    plans = tuple(
        PlanDVHs(course=c, dvhs=tuple(compute_dvhs(c.structure_set or (), c.dose))) for c in inputs.courses
    )
    return DVHReport(plans=plans, input_files=inputs.files)
