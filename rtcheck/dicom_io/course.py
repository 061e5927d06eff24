"""A course from its files: a plan (optional), its dose and its structures, linked and
checked for consistency (frames of reference, one patient, a calculated dose, every beam's
dose when the dose comes per beam).

:func:`load_course` takes files the user named; :mod:`~rtcheck.dicom_io.discovery`
finds them in a folder and builds its courses with :func:`make_course` too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from pydicom.dataset import Dataset

from ..errors import InputError
from ..models import Course, DoseGrid, Plan, StructureSet
from .attributes import first_date, text_value
from .files import DicomFile, as_paths, build_noting_warnings, guarded_build, read_required
from .rtdose import dose_grid_from, dose_header, sum_beam_doses
from .rtplan import PlanInfo, plan_from, treatment_beam_numbers
from .rtstruct import StructureSetInfo, structure_set_from


def _check_frames(structure_set: StructureSet | None, dose: DoseGrid, plan: Plan | None) -> None:
    """Refuse a dose in another frame of reference than its plan, its structure set or any
    of its contoured ROIs (the structures would be placed in the wrong anatomy)."""
    dose_frame = dose.frame_of_reference_uid
    dose_file = dose.source_files[0] if dose.source_files else None
    remedy = (
        "export the dose and the structure set of the same plan (drawn on the planning CT); "
        "structures from another scan need a registration first"
    )
    if (
        plan is not None
        and plan.frame_of_reference_uid
        and dose_frame
        and plan.frame_of_reference_uid != dose_frame
    ):
        raise InputError(
            f"the dose is in frame of reference {dose_frame} but its plan "
            f"{plan.source_file.name if plan.source_file else plan.sop_instance_uid} is in "
            f"{plan.frame_of_reference_uid}",
            path=dose_file,
            remedy="export the dose computed for this plan",
        )
    if structure_set is None:
        return
    _refuse_unknown_frames(structure_set, dose)
    ss_frame = structure_set.frame_of_reference_uid
    if dose_frame and ss_frame and ss_frame != dose_frame:
        raise InputError(
            f"frames of reference do not match: the structures are in {ss_frame} but the dose "
            f"({dose_file.name if dose_file else '?'}) is in {dose_frame}",
            path=structure_set.source_file,
            remedy=remedy,
        )
    if dose_frame:
        other = [
            s.name
            for s in structure_set.structures
            if s.contours and s.frame_of_reference_uid and s.frame_of_reference_uid != dose_frame
        ]
        if other:
            raise InputError(
                f"ROIs {', '.join(repr(n) for n in other)} are drawn in another frame of "
                f"reference than the dose ({dose_frame})",
                path=structure_set.source_file,
                remedy=remedy,
            )


def _refuse_unknown_frames(structure_set: StructureSet, dose: DoseGrid) -> None:
    """Refuse a dose or a structure set that names no frame of reference: without both
    FrameOfReferenceUIDs nothing confirms that the structures lie in the dose's anatomy."""
    remedy = "export the plan's dose and structure set again (both carry the frame of reference)"
    if not dose.frame_of_reference_uid:
        raise InputError(
            "the dose has no FrameOfReferenceUID (0020,0052): rtcheck cannot confirm that it "
            "shares the structures' frame of reference",
            path=dose.source_files[0] if dose.source_files else None,
            remedy=remedy,
        )
    unplaced = [s.name for s in structure_set.structures if s.contours and not s.frame_of_reference_uid]
    if not structure_set.frame_of_reference_uid or unplaced:
        what = (
            f"ROIs {', '.join(repr(n) for n in unplaced)} name" if unplaced else "the structure set names"
        )
        raise InputError(
            f"{what} no frame of reference (ReferencedFrameOfReferenceSequence, "
            "ReferencedFrameOfReferenceUID): rtcheck cannot confirm that the structures share the "
            "dose's frame of reference",
            path=structure_set.source_file,
            remedy=remedy,
        )


def _check_same_patient(
    structure_set: StructureSet | None,
    plan: Plan | None,
    dose: DoseGrid,
    dose_datasets: Sequence[Dataset],
) -> None:
    """Refuse files of one course that name different patients (PatientID)."""
    seen: list[tuple[str, Path | None]] = []
    if plan is not None and plan.patient_id:
        seen.append((plan.patient_id, plan.source_file))
    if structure_set is not None and structure_set.patient_id:
        seen.append((structure_set.patient_id, structure_set.source_file))
    for ds, dose_file in zip(dose_datasets, dose.source_files, strict=False):
        patient = text_value(ds, "PatientID")
        if patient:
            seen.append((patient, dose_file))
    for patient, where in seen[1:]:
        if patient != seen[0][0]:
            first = seen[0][1].name if seen[0][1] is not None else "the first file"
            raise InputError(
                f"this file is for patient {patient}, but {first} is for patient {seen[0][0]}",
                path=where,
                remedy="export the plan, structure set and dose of one patient together",
            )


def _check_dose_not_empty(dose: DoseGrid) -> None:
    """Refuse a dose grid of zeros: every organ would look spared."""
    if not dose.max_gy > 0:
        raise InputError(
            "the dose grid is zero everywhere: it is not a calculated plan dose",
            path=dose.source_files[0] if dose.source_files else None,
            remedy="calculate the plan's dose in the planning system and export it again",
        )


def make_course(
    dose: DoseGrid,
    structures: StructureSetInfo | None,
    plan: PlanInfo | None,
    dose_datasets: Sequence[Dataset],
    beams_verified: bool = False,
    reader_notes: Sequence[str] = (),
) -> Course:
    """The course of one dose with its structure set and plan (either may be None), after
    the consistency checks; ``dose_datasets``: the dose files' data sets (patient, dates).

    The course's notes say what had to be assumed: no structure set, no plan or no
    fraction count (fractions taken as 1), per-beam doses whose completeness
    (``beams_verified``) could not be checked, a sum of several plans; and the
    ``reader_notes`` (warnings on reading the files that were accepted).
    """
    structure_set = structures.structure_set if structures is not None else None
    _check_frames(structure_set, dose, plan.plan if plan else None)
    _check_dose_not_empty(dose)
    _check_same_patient(structure_set, plan.plan if plan else None, dose, dose_datasets)
    notes = list(plan.notes) if plan else []
    notes += reader_notes
    if structure_set is None:
        notes.append("no structure set (RTSTRUCT) linked: the course has a dose but no structures")
    if dose.summation_type in ("BEAM", "BEAM_SUM") and not beams_verified:
        notes.append(
            f"the dose is the sum of {len(dose.source_files)} per-beam dose file(s); whether "
            "every beam of the plan is included could not be checked"
        )
    elif dose.summation_type == "MULTI_PLAN":
        notes.append("the dose is a sum of several plans (DoseSummationType MULTI_PLAN)")
    if plan is None:
        fractions = 1
        notes.append("no RTPLAN: the number of fractions is unknown and taken as 1")
        date = None
        for ds in dose_datasets:
            date = first_date(ds, "StudyDate", "ContentDate", "InstanceCreationDate")
            if date:
                break
        label = dose.source_files[0].name if dose.source_files else None
    else:
        if plan.plan.fractions is None:
            fractions = 1
            notes.append("the plan states no number of fractions; taken as 1")
        else:
            fractions = plan.plan.fractions
        date = plan.plan.plan_date
        label = plan.plan.label or plan.plan.name
    return Course(
        dose=dose,
        fractions=fractions,
        plan=plan.plan if plan else None,
        structure_set=structure_set,
        date=date,
        label=label,
        ct_series_uids=structures.ct_series_uids if structures is not None else (),
        notes=tuple(notes),
    )


def check_beam_coverage(plan: DicomFile | None, beam_doses: Sequence[DicomFile]) -> bool:
    """Refuse an incomplete set of per-beam doses (a missing beam would under-report dose).

    Returns True when the set was verified complete, False when it could not be checked
    (no plan, or beam numbers not stated).
    """
    if plan is None or not beam_doses:
        return False
    plan_path = plan.path
    expected = treatment_beam_numbers(plan.dataset)
    numbers = [dose_header(dose.dataset).beam_number for dose in beam_doses]
    if not expected:
        return False
    if any(n is None for n in numbers):
        if len(beam_doses) < len(expected):
            raise InputError(
                f"the plan has {len(expected)} treatment beams but only {len(beam_doses)} "
                "per-beam dose file(s) (DoseSummationType BEAM, beam numbers not stated) were "
                "found; summing them would under-report the dose",
                path=plan_path,
                remedy="export the doses of all beams, or the plan dose (DoseSummationType PLAN)",
            )
        return False
    seen: dict[int, Path] = {}
    for dose, number in zip(beam_doses, numbers, strict=True):
        assert number is not None
        if number in seen:
            raise InputError(
                f"two beam doses for beam {number}: {seen[number].name} and {dose.path.name}",
                path=dose.path,
                remedy="give one dose per beam (or the plan dose) explicitly with --dose",
            )
        seen[number] = dose.path
    missing = sorted(expected - set(seen))
    if missing:
        raise InputError(
            f"the plan has per-beam doses, but the doses of beam(s) {missing} are missing; "
            "summing the others would under-report the dose",
            path=plan_path,
            remedy="export the doses of all beams, or the plan dose (DoseSummationType PLAN)",
        )
    return True


def load_course(
    structure_file: str | Path,
    dose_files: str | Path | Iterable[str | Path],
    plan_file: str | Path | None = None,
) -> Course:
    """A course from explicitly named files (no discovery).

    Without a plan the course has ``fractions=1`` and ``plan=None``. With a plan, the dose
    must reference it (when the dose states a plan) and all frames of reference must agree.
    """
    structure_file_read = read_required(structure_file, "RTSTRUCT")
    structures = guarded_build(
        structure_file_read.path, structure_set_from, structure_file_read.dataset
    )
    dose_paths = as_paths(dose_files)
    if not dose_paths:
        raise InputError("no dose file given", remedy="give the plan's RTDOSE file")
    dose_sets = [read_required(f, "RTDOSE", pixels=True) for f in dose_paths]
    plan_info = None
    verified = False
    if plan_file is not None:
        plan = read_required(plan_file, "RTPLAN")
        plan_info = guarded_build(plan.path, plan_from, plan.dataset)
        _check_doses_reference_plan(dose_sets, plan.path, plan_info.plan)
        beam = [d for d in dose_sets if dose_header(d.dataset).summation == "BEAM"]
        if len(beam) == len(dose_sets):
            verified = check_beam_coverage(plan, beam)
    dose = dose_grid_of(dose_sets)
    return make_course(
        dose.grid,
        structures,
        plan_info,
        dose_datasets=[d.dataset for d in dose_sets],
        beams_verified=verified,
        reader_notes=dose.notes,
    )


class DoseReading(NamedTuple):
    """A course's dose grid (Gy; per-beam doses summed) and the notes on reading it."""

    grid: DoseGrid
    notes: tuple[str, ...]


def dose_grid_of(dose_files: Sequence[DicomFile]) -> DoseReading:
    """The dose grid of RTDOSE files read with their pixels (several per-beam doses summed),
    with a note for each warning pydicom gave on an accepted file (a frame count or
    padding it had to assume): the report shows it instead of the terminal."""
    grids = []
    notes: list[str] = []
    for dose_file in dose_files:
        built = build_noting_warnings(dose_file.path, dose_grid_from, dose_file.dataset)
        grids.append(built.value)
        notes += [f"reading {dose_file.path.name}, pydicom warned: {text}" for text in built.warnings]
    grid = grids[0] if len(grids) == 1 else sum_beam_doses(grids)
    return DoseReading(grid, tuple(notes))


def _check_doses_reference_plan(doses: Sequence[DicomFile], plan_path: Path, plan: Plan) -> None:
    """Refuse a dose that states the plan it was computed for, when that is not ``plan``."""
    for dose in doses:
        refs = dose_header(dose.dataset).plan_uids
        if refs and plan.sop_instance_uid not in refs:
            raise InputError(
                f"the dose was computed for plan {refs[0]}, not for the given plan "
                f"{plan_path.name} ({plan.sop_instance_uid})",
                path=dose.path,
                remedy="give the RTPLAN that the dose belongs to",
            )
