"""Discovery: the courses of a DICOM export folder, each plan linked with its dose and
structures.

The folder is walked to any depth, following symbolic links (each real folder once; a link
that leads nowhere or loops is an error). Files that are not DICOM are ignored; a file that looks
like DICOM but cannot be read completely is an error naming it, never skipped silently. The
same object copied twice is read once; two different objects with one SOPInstanceUID are
refused. Objects are linked by UID: RTDOSE → ReferencedRTPlanSequence → RTPLAN →
ReferencedStructureSetSequence → RTSTRUCT, and their frames of reference must agree
(:func:`~rtcheck.dicom_io.course.make_course`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import pydicom
from pydicom.dataset import Dataset

from ..errors import InputError
from ..models import Course
from .attributes import referenced_uids, text_value
from .course import DoseReading, check_beam_coverage, dose_grid_of, make_course
from .files import DicomFile, guarded_build, modality_of, read_dataset, unreadable_file_error
from .folders import sort_entries
from .rtdose import dose_header
from .rtplan import PlanInfo, plan_from
from .rtstruct import StructureSetInfo, referenced_frames, structure_set_from

#: SOP class of a DICOMDIR (Media Storage Directory Storage): an index, not an object.
_MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"


class FolderScan(NamedTuple):
    """The DICOM objects of a folder by modality (first copy of each), and how many files
    were searched."""

    by_modality: dict[str, list[DicomFile]]
    files_searched: int


def _unlistable_folder(folder: Path, exc: OSError) -> InputError:
    """The error for a subfolder that cannot be listed: it may hold the plan's dose."""
    return InputError(
        f"cannot read this folder ({exc.strerror or exc}); it may hold part of the export",
        path=exc.filename or folder,
        remedy="make it readable, or move it out of the export folder",
    )


def _files_under(folder: Path) -> list[Path]:
    """Every file below ``folder``, sorted, walked with an explicit stack (no recursion,
    whatever the depth).

    Symbolic links are followed by the rules of :mod:`~rtcheck.dicom_io.folders`; a
    subfolder that cannot be listed is an error (it may hold the plan's dose).
    """
    files: list[Path] = []
    stack = [folder]
    root = os.path.realpath(folder)
    walked = {root}
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as listing:
                entries = sort_entries(sorted(listing, key=lambda e: e.name), root, walked)
        except OSError as exc:
            raise _unlistable_folder(current, exc) from exc
        stack.extend(entries.folders)
        files.extend(entries.files)
    return sorted(files)


def _check_same_object(first: Path, other: Path, uid: str) -> None:
    """Two files with one SOPInstanceUID must hold the same object (a copy), else refuse."""
    if first.read_bytes() == other.read_bytes():
        return
    if pydicom.dcmread(first, force=True) == pydicom.dcmread(other, force=True):
        return  # the same data set with another file header
    raise InputError(
        f"this file and {first} carry the same SOPInstanceUID ({uid}) but hold different data; "
        "rtcheck cannot tell which one is current",
        path=other,
        remedy="remove the stale copy from the export folder",
    )


def _scan(folder: Path) -> FolderScan:
    """Read every file under ``folder`` (no pixels): the DICOM objects by modality.

    DICOMDIR indexes are skipped; a copy of an object already seen is skipped after
    checking it is the same object (:func:`_check_same_object`).
    """
    by_modality: dict[str, list[DicomFile]] = {}
    seen_uids: dict[str, Path] = {}
    count = 0
    for path in _files_under(folder):
        if path.name == "DICOMDIR":
            continue
        count += 1
        ds = read_dataset(path)
        if ds is None:
            continue
        meta = getattr(ds, "file_meta", None)
        if meta is not None and str(meta.get("MediaStorageSOPClassUID", "")) == _MEDIA_DIRECTORY:
            continue  # a DICOMDIR index under another name
        if "SOPInstanceUID" not in ds and "Modality" not in ds:
            raise unreadable_file_error(path, "no DICOM data set after the file header")
        uid = str(ds.get("SOPInstanceUID", "") or "")
        if uid and uid in seen_uids:
            _check_same_object(seen_uids[uid], path, uid)
            continue  # the same object twice (copied exports): the first copy is used
        seen_uids[uid] = path
        by_modality.setdefault(modality_of(ds), []).append(DicomFile(path, ds))
    return FolderScan(by_modality=by_modality, files_searched=count)


def _ambiguous(context: Path, doses: Sequence[DicomFile], what: str) -> InputError:
    """The error for doses that cannot be told apart (``what``: why one was expected)."""
    names = ", ".join(str(d.path) for d in doses)
    return InputError(
        f"{what}: several dose grids ({names}) cannot be told apart",
        path=context,
        remedy="give the files explicitly: rtcheck dvh --structures RTSTRUCT --dose RTDOSE "
        "[--plan RTPLAN]",
    )


def _select_doses(doses: Sequence[DicomFile], context: Path, plan: DicomFile | None) -> list[DicomFile]:
    """The dose(s) to use for one plan: its PLAN dose, or all its BEAM doses."""
    by_type: dict[str, list[DicomFile]] = {}
    for d in doses:
        by_type.setdefault(dose_header(d.dataset).summation or "PLAN", []).append(d)
    plan_doses = by_type.get("PLAN", [])
    if len(plan_doses) == 1:
        return plan_doses
    if len(plan_doses) > 1:
        raise _ambiguous(context, plan_doses, "this plan has more than one plan dose")
    beam = by_type.get("BEAM", [])
    if beam:
        check_beam_coverage(plan, beam)
        return beam
    kinds = ", ".join(sorted(by_type))
    raise InputError(
        f"the dose(s) found ({', '.join(d.path.name for d in doses)}) have DoseSummationType "
        f"{kinds}; rtcheck needs the plan's total dose (PLAN) or one dose per beam (BEAM)",
        path=context,
        remedy="export the plan dose (DoseSummationType PLAN), or give the files explicitly "
        "with --structures/--dose",
    )


def _structure_for(
    structures: Sequence[DicomFile],
    uids: Sequence[str],
    frame: str | None,
    context: Path,
    folder: Path,
) -> DicomFile:
    """The structure set of a course (``context``: its plan or dose file): the first one
    referenced by ``uids`` that is in the folder, else the only one in the dose's frame of
    reference ``frame``; refused when none or several qualify."""
    by_uid = {str(s.dataset.get("SOPInstanceUID")): s for s in structures}
    for uid in uids:
        if uid in by_uid:
            return by_uid[uid]
    if uids:
        raise InputError(
            f"the structure set it references ({uids[0]}) is not in {folder}",
            path=context,
            remedy="export the RTSTRUCT of this plan together with the plan and dose",
        )
    if not structures:
        raise InputError(
            f"no RTSTRUCT (structure set) found in {folder}",
            path=folder,
            remedy="export the structure set (RTSTRUCT) with the plan and dose",
        )
    same_frame = [
        s
        for s in structures
        if frame and referenced_frames(s.dataset) and frame in referenced_frames(s.dataset)
    ]
    if len(same_frame) == 1:
        return same_frame[0]
    raise InputError(
        "no structure set is referenced, and the folder has "
        f"{len(same_frame) or len(structures)} candidate(s)",
        path=context,
        remedy="give the files explicitly: rtcheck dvh --structures RTSTRUCT --dose RTDOSE",
    )


def _linked_structures(
    structures: Sequence[DicomFile],
    uids: Sequence[str],
    frame: str | None,
    context: Path,
    folder: Path,
    required: bool,
) -> StructureSetInfo | None:
    """The structure set of one course; None when it is not ``required`` and cannot be linked."""
    try:
        ss = _structure_for(structures, uids, frame, context, folder)
    except InputError:
        if required:
            raise
        return None
    return guarded_build(ss.path, structure_set_from, ss.dataset)


def _structure_set_references(datasets: list[Dataset]) -> list[str]:
    """Structure-set UIDs referenced by ``datasets``, first mention first, without repeats."""
    uids: list[str] = []
    for ds in datasets:
        uids += [u for u in referenced_uids(ds, "ReferencedStructureSetSequence") if u not in uids]
    return uids


def _read_dose_files(found: Sequence[DicomFile]) -> DoseReading:
    """The dose grid of the chosen dose files, read again with their pixels (summed when
    there are several per-beam doses), with the notes on reading them."""
    with_pixels = []
    for f in found:
        ds = read_dataset(f.path, pixels=True, required=True)
        assert ds is not None  # required: a file that is not DICOM raises
        with_pixels.append(DicomFile(f.path, ds))
    return dose_grid_of(with_pixels)


def _export_folder(folder: str | Path) -> Path:
    """``folder`` as a path; refused when it does not exist or is a file."""
    root = Path(folder)
    if not root.exists():
        raise InputError("no such folder", path=root, remedy="check the path of the export folder")
    if not root.is_dir():
        raise InputError(
            "this is a file, not a folder",
            path=root,
            remedy="give the export folder, or name the files with --structures/--dose/--plan",
        )
    return root


def _check_contents(root: Path, scan: FolderScan, require_structures: bool) -> None:
    """Refuse a folder without a dose, or without structures when they are required; the
    message says what was found."""
    found = scan.by_modality
    summary = (
        ", ".join(f"{len(v)} {k or 'other'}" for k, v in sorted(found.items())) or "no DICOM files"
    )
    if not found.get("RTDOSE"):
        raise InputError(
            f"no RTDOSE (dose grid) found ({scan.files_searched} files searched recursively: "
            f"{summary})",
            path=root,
            remedy="export the plan dose (RTDOSE, absolute dose in Gy) from the planning system "
            "together with the RTPLAN and RTSTRUCT",
        )
    if not found.get("RTSTRUCT") and require_structures:
        raise InputError(
            f"no RTSTRUCT (structure set) found ({scan.files_searched} files searched "
            f"recursively: {summary})",
            path=root,
            remedy="export the structure set (RTSTRUCT) together with the plan and dose",
        )


class DosesByPlan(NamedTuple):
    """The doses of a folder attributed to its plans (by SOPInstanceUID), and those that
    reference no plan."""

    by_plan: dict[str, list[DicomFile]]
    planless: list[DicomFile]


def _doses_by_plan(root: Path, doses: Sequence[DicomFile], plan_uids: set[str]) -> DosesByPlan:
    """Each dose attributed to the plan it references; a reference to a plan that is not in
    the folder is refused; sums of several plans (MULTI_PLAN) belong to no course."""
    by_plan: dict[str, list[DicomFile]] = {}
    planless: list[DicomFile] = []
    for d in doses:
        header = dose_header(d.dataset)
        present = [uid for uid in header.plan_uids if uid in plan_uids]
        if header.plan_uids and not present:
            raise InputError(
                f"the dose references plan {header.plan_uids[0]}, which is not in {root}",
                path=d.path,
                remedy="export the RTPLAN together with its dose, or give the files explicitly "
                "with --structures/--dose",
            )
        if header.summation == "MULTI_PLAN" or len(present) > 1:
            continue  # a sum of several plans: not attributable to one course
        if present:
            by_plan.setdefault(present[0], []).append(d)
        else:
            planless.append(d)
    return DosesByPlan(by_plan=by_plan, planless=planless)


def _plan_course(
    plan: DicomFile,
    plan_doses: Sequence[DicomFile],
    assumed: tuple[str, ...],
    structures: Sequence[DicomFile],
    root: Path,
    require_structures: bool,
) -> Course:
    """The course of one plan from its doses (``assumed``: notes on how they were
    attributed) and the folder's structure sets."""
    chosen = _select_doses(plan_doses, plan.path, plan)
    plan_info = guarded_build(plan.path, plan_from, plan.dataset)
    plan_info = PlanInfo(plan=plan_info.plan, notes=plan_info.notes + assumed)
    ss_uids = _structure_set_references([plan.dataset, *(d.dataset for d in chosen)])
    structure_info = _linked_structures(
        structures,
        ss_uids,
        text_value(chosen[0].dataset, "FrameOfReferenceUID"),
        plan.path,
        root,
        require_structures,
    )
    dose = _read_dose_files(chosen)
    verified = all(
        dose_header(d.dataset).summation == "BEAM" for d in chosen
    ) and check_beam_coverage(plan, chosen)
    return make_course(
        dose.grid,
        structure_info,
        plan_info,
        dose_datasets=[d.dataset for d in chosen],
        beams_verified=verified,
        reader_notes=dose.notes,
    )


def _planless_course(
    planless: Sequence[DicomFile],
    structures: Sequence[DicomFile],
    root: Path,
    require_structures: bool,
) -> Course:
    """The course of the doses that reference no plan (fractions taken as 1)."""
    chosen = _select_doses(planless, root, None)
    dose_ss_uids = _structure_set_references([d.dataset for d in chosen])
    structure_info = _linked_structures(
        structures,
        dose_ss_uids,
        text_value(chosen[0].dataset, "FrameOfReferenceUID"),
        chosen[0].path,
        root,
        require_structures,
    )
    dose = _read_dose_files(chosen)
    return make_course(
        dose.grid, structure_info, None, dose_datasets=[d.dataset for d in chosen], reader_notes=dose.notes
    )


def discover(folder: str | Path, *, require_structures: bool = True) -> list[Course]:
    """Find the plans in ``folder`` (recursively) and link each with its dose and structures.

    Returns one Course per RTPLAN (in file-name order). A dose that references no plan
    becomes a plan-less course (fractions 1) when it can be attributed unambiguously.
    Raises InputError naming the folder or file, with what to export, when there is no
    RTDOSE or RTSTRUCT, a referenced object is missing, doses cannot be attributed, or
    frames of reference disagree.

    With ``require_structures=False`` (prior courses of a re-irradiation check, which only
    contribute dose: an RTPLAN + RTDOSE export) a course whose structure set is absent or
    cannot be linked has ``structure_set=None`` and says so in its notes; a structure set
    that is linked is still checked against the dose's frame of reference.
    """
    root = _export_folder(folder)
    scan = _scan(root)
    _check_contents(root, scan, require_structures)
    plans = scan.by_modality.get("RTPLAN", [])
    structures = scan.by_modality.get("RTSTRUCT", [])
    doses = scan.by_modality.get("RTDOSE", [])
    attributed = _doses_by_plan(root, doses, {str(p.dataset.get("SOPInstanceUID")) for p in plans})
    planless = attributed.planless

    courses = []
    for plan in plans:
        plan_doses = attributed.by_plan.get(str(plan.dataset.get("SOPInstanceUID")), [])
        assumed: tuple[str, ...] = ()
        if not plan_doses and len(plans) == 1 and planless:
            plan_doses, planless = planless, []  # doses without a plan reference: the only plan
            assumed = (
                f"the dose ({', '.join(d.path.name for d in plan_doses)}) references no plan; it "
                "was taken as the dose of the only plan in the folder",
            )
        if not plan_doses:
            raise InputError(
                f"no RTDOSE in {root} belongs to this plan",
                path=plan.path,
                remedy="export the plan's dose (RTDOSE) too, or remove the plan from the folder",
            )
        courses.append(
            _plan_course(plan, plan_doses, assumed, structures, root, require_structures)
        )
    if planless:
        courses.append(_planless_course(planless, structures, root, require_structures))
    if not courses:
        raise InputError(
            "no dose in the folder can be attributed to a single plan (only MULTI_PLAN sums)",
            path=root,
            remedy="export each plan's own dose, or give the files explicitly with --structures/--dose",
        )
    return courses
