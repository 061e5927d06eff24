"""The plans of an archive: its DICOM files grouped into plans by their UID links, from the
headers alone.

An archive is a tree of export folders (nested to any depth, mixed patients, some broken).
:func:`index_plans` reads the header of every file (never the pixel data) and groups them:
one :class:`IndexedPlan` per RTPLAN, with the RTSTRUCT and every RTDOSE its check needs —
RTDOSE → ReferencedRTPlanSequence → RTPLAN → ReferencedStructureSetSequence → RTSTRUCT, as
:func:`~rtcheck.dicom_io.discovery.discover` links them in one folder, but across the whole
tree. Doses that reference no plan become a plan-less entry per folder (taken as the dose of
the folder's only plan when that plan has no dose of its own, as discovery does). CT images
and registrations are not needed to check a plan and are left out.

A plan whose files are incomplete or inconsistent (no dose, its structure set missing, two
plan doses, a dose whose plan is not in the archive) carries the
:class:`~rtcheck.errors.InputError` that says so, and a file that cannot be read becomes an
entry of its own with its error: one broken plan never hides the others. The index does not
check what only the full files show (pixel data, frames of reference of every ROI, one
patient): reading the plan's files (:func:`~rtcheck.dicom_io.course.load_course`) does.

The tree is walked iteratively, so a folder nested thousands of levels deep is indexed like
any other. The order of entries is the order of their files' paths (deterministic).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pydicom.dataset import Dataset

from ..errors import InputError
from ..models import Plan
from .attributes import referenced_uids, text_value
from .files import guarded_build, modality_of, read_dataset, unreadable_file_error
from .folders import sort_entries
from .rtdose import dose_header
from .rtplan import plan_from
from .rtstruct import referenced_frames

#: SOP class of a DICOMDIR (Media Storage Directory Storage): an index, not an object.
MEDIA_DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"


@dataclass(frozen=True)
class IndexedPlan:
    """One plan of an archive and the files its check reads.

    ``key`` identifies the entry across runs: the plan's SOPInstanceUID, ``dose:UID`` (the
    first dose's SOPInstanceUID) for plan-less doses, ``file:PATH`` for a file that cannot
    be read. ``fractions`` and ``prescription_gy`` (total, Gy) are the plan's as its header
    states them (None when unknown). ``error`` is set when the plan cannot be checked from
    these files; the paths found are kept all the same.
    """

    key: str
    plan_uid: str | None
    plan_label: str | None
    patient_id: str | None
    fractions: int | None
    prescription_gy: float | None
    plan: Path | None
    structures: Path | None
    doses: tuple[Path, ...]
    error: InputError | None = None

    @property
    def files(self) -> tuple[Path, ...]:
        """The entry's files: plan, structure set, doses (those found)."""
        head = tuple(p for p in (self.plan, self.structures) if p is not None)
        return head + self.doses

    @property
    def complete(self) -> bool:
        """True when the plan can be read and checked from its files (no error)."""
        return self.error is None


@dataclass(frozen=True)
class ArchiveIndex:
    """The plans of an archive, in path order, and how many files were searched."""

    root: Path
    plans: tuple[IndexedPlan, ...]
    files_searched: int


@dataclass(frozen=True)
class _Header:
    """What linking needs from one file's header (the data set itself is not kept: an
    archive's structure sets would not fit in memory)."""

    path: Path
    modality: str
    uid: str
    patient_id: str | None
    frame: str | None
    structure_set_references: tuple[str, ...] = ()  # RTPLAN, RTDOSE
    plan_references: tuple[str, ...] = ()  # RTDOSE
    summation: str = ""  # RTDOSE
    frames: tuple[str, ...] = ()  # RTSTRUCT: its referenced frames of reference
    plan: Plan | None = None  # RTPLAN, when it could be read
    plan_error: InputError | None = None  # RTPLAN, when it could not

    @classmethod
    def of(cls, path: Path, ds: Dataset) -> _Header:
        """The header of data set ``ds`` read from ``path``."""
        modality = modality_of(ds)
        base = cls(
            path=path, modality=modality, uid=str(ds.get("SOPInstanceUID", "") or ""),
            patient_id=text_value(ds, "PatientID"), frame=text_value(ds, "FrameOfReferenceUID"),
        )
        if modality == "RTDOSE":
            dose = dose_header(ds)
            return replace(
                base, structure_set_references=tuple(referenced_uids(ds, "ReferencedStructureSetSequence")),
                plan_references=dose.plan_uids, summation=dose.summation,
            )
        if modality == "RTSTRUCT":
            return replace(base, frames=tuple(referenced_frames(ds)))
        if modality == "RTPLAN":
            base = replace(base, structure_set_references=tuple(referenced_uids(ds, "ReferencedStructureSetSequence")))
            try:
                return replace(base, plan=guarded_build(path, plan_from, ds).plan)
            except InputError as error:
                return replace(base, plan_error=error)
        return base


def walk_files(root: Path) -> Iterator[Path]:
    """Every regular file below ``root`` in sorted path order, walked with an explicit stack
    (no recursion, whatever the depth); symbolic links are followed by the rules of
    :mod:`~rtcheck.dicom_io.folders` (each real folder once; a dangling or looping link is
    an error naming it).

    A folder that cannot be listed raises :class:`~rtcheck.errors.InputError`: it may hold a
    plan's dose.
    """
    stack = [root]
    real_root = os.path.realpath(root)
    walked = {real_root}
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            raise InputError(
                f"cannot read this folder ({exc.strerror or exc}); it may hold part of an export",
                path=folder,
                remedy="make it readable, or move it out of the archive",
            ) from exc
        taken = sort_entries(listed, real_root, walked)
        yield from taken.files
        stack.extend(reversed(taken.folders))  # the first subfolder is walked next


def _header(path: Path) -> _Header | None:
    """The header of ``path`` (no pixels); None when it is not a DICOM object (not DICOM,
    a DICOMDIR index). Raises InputError when it looks like DICOM but cannot be read."""
    if path.name == "DICOMDIR":
        return None
    ds = read_dataset(path)
    if ds is None:
        return None
    meta = getattr(ds, "file_meta", None)
    if meta is not None and str(meta.get("MediaStorageSOPClassUID", "")) == MEDIA_DIRECTORY_SOP_CLASS:
        return None
    if "SOPInstanceUID" not in ds and "Modality" not in ds:
        raise unreadable_file_error(path, "no DICOM data set after the file header")
    return _Header.of(path, ds)


def same_file_contents(first: Path, other: Path) -> bool:
    """True when two files hold the same bytes (a copied export)."""
    return first.stat().st_size == other.stat().st_size and first.read_bytes() == other.read_bytes()


@dataclass
class _Scan:
    """The readable RT objects of an archive by modality (first copy of each UID), the files
    that could not be read, and the UIDs held by two different files."""

    by_modality: dict[str, list[_Header]]
    unreadable: list[InputError]
    conflicts: dict[str, InputError]
    files_searched: int = 0


def _scan(root: Path) -> _Scan:
    """Read the header of every file under ``root``; keep RTPLAN, RTSTRUCT and RTDOSE."""
    scan = _Scan(by_modality={}, unreadable=[], conflicts={})
    first_copy: dict[str, Path] = {}
    for path in walk_files(root):
        scan.files_searched += 1
        try:
            header = _header(path)
        except InputError as error:
            scan.unreadable.append(error)
            continue
        if header is None or header.modality not in ("RTPLAN", "RTSTRUCT", "RTDOSE"):
            continue
        if header.uid in first_copy:
            if not same_file_contents(first_copy[header.uid], path):
                scan.conflicts[header.uid] = InputError(
                    f"this file and {first_copy[header.uid]} carry the same SOPInstanceUID "
                    f"({header.uid}) but hold different data; rtcheck cannot tell which one is current",
                    path=path,
                    remedy="remove the stale copy from the archive",
                )
            continue  # the same object twice (copied exports): the first copy is used
        first_copy[header.uid] = path
        scan.by_modality.setdefault(header.modality, []).append(header)
    return scan


def index_plans(root: str | Path) -> ArchiveIndex:
    """Group the DICOM files under ``root`` into plans by their UID links (headers only).

    Returns an :class:`ArchiveIndex`: one :class:`IndexedPlan` per RTPLAN, per plan
    referenced by a dose but absent from the archive (with its error), per folder of
    plan-less doses, and per file that cannot be read (with its error). Raises
    :class:`~rtcheck.errors.InputError` only when ``root`` is not a readable folder.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise InputError(
            "no such folder" if not folder.exists() else "this is a file, not a folder",
            path=folder,
            remedy="give the folder of the archive (exports in nested folders)",
        )
    scan = _scan(folder)
    linker = _Linker(scan)
    entries = linker.plan_entries() + linker.planless_entries() + linker.missing_plan_entries()
    entries += [
        IndexedPlan(
            key=f"file:{error.path}", plan_uid=None, plan_label=None, patient_id=None, fractions=None,
            prescription_gy=None, plan=None, structures=None, doses=(), error=error,
        )
        for error in scan.unreadable
    ]
    entries.sort(key=lambda e: str(e.files[0]) if e.files else e.key)
    return ArchiveIndex(root=folder, plans=tuple(entries), files_searched=scan.files_searched)


class _Linker:
    """The links between the objects of one scan: doses by plan, structure sets by UID."""

    def __init__(self, scan: _Scan) -> None:
        """Attribute every dose to the plan(s) it references."""
        self.scan = scan
        self.plans = scan.by_modality.get("RTPLAN", [])
        self.structures = scan.by_modality.get("RTSTRUCT", [])
        self.structures_by_uid = {s.uid: s for s in self.structures}
        plan_uids = {p.uid for p in self.plans}
        self.doses_by_plan: dict[str, list[_Header]] = {}
        self.planless: dict[Path, list[_Header]] = {}
        self.missing_plans: dict[str, list[_Header]] = {}
        for dose in scan.by_modality.get("RTDOSE", []):
            present = [uid for uid in dose.plan_references if uid in plan_uids]
            if dose.summation == "MULTI_PLAN" or len(present) > 1:
                continue  # a sum of several plans: not attributable to one plan
            if present:
                self.doses_by_plan.setdefault(present[0], []).append(dose)
            elif dose.plan_references:
                self.missing_plans.setdefault(dose.plan_references[0], []).append(dose)
            else:
                self.planless.setdefault(dose.path.parent, []).append(dose)
        self.unreadable_by_folder: dict[Path, list[Path]] = {}
        for error in scan.unreadable:
            if error.path is not None:
                self.unreadable_by_folder.setdefault(Path(error.path).parent, []).append(Path(error.path))

    def plan_entries(self) -> list[IndexedPlan]:
        """One entry per RTPLAN: its doses and structure set, or why they cannot be linked."""
        plans_per_folder: dict[Path, int] = {}
        for plan in self.plans:
            plans_per_folder[plan.path.parent] = plans_per_folder.get(plan.path.parent, 0) + 1
        entries = []
        for plan in self.plans:
            doses = self.doses_by_plan.get(plan.uid, [])
            if not doses and plans_per_folder[plan.path.parent] == 1:
                doses = self.planless.pop(plan.path.parent, [])  # the folder's only plan: as discovery
            entries.append(self._plan_entry(plan, doses))
        return entries

    def _plan_entry(self, plan: _Header, doses: list[_Header]) -> IndexedPlan:
        """The entry of one RTPLAN with the doses attributed to it."""
        info = plan.plan
        if info is None:
            return _entry(plan.uid, plan=plan, doses=doses, structures=None, error=plan.plan_error)
        error: InputError | None = self.scan.conflicts.get(plan.uid)
        chosen: list[_Header] = doses
        structures = None
        try:
            if not doses:
                raise InputError(
                    "no RTDOSE in the archive belongs to this plan" + self._unreadable_note(plan.path),
                    path=plan.path,
                    remedy="export the plan's dose (RTDOSE) too, or remove the plan from the archive",
                )
            chosen = _doses_to_use(doses, plan.path)
            references = list(plan.structure_set_references) + _structure_set_references(chosen)
            structures = self._structure_set(references, plan.frame, plan.path)
        except InputError as link_error:
            error = error or link_error
        for dose in chosen:
            error = error or self.scan.conflicts.get(dose.uid)
        if structures is not None:
            error = error or self.scan.conflicts.get(structures.uid)
        return IndexedPlan(
            key=plan.uid, plan_uid=plan.uid, plan_label=info.label, patient_id=info.patient_id,
            fractions=info.fractions, prescription_gy=info.prescription_gy, plan=plan.path,
            structures=structures.path if structures is not None else None,
            doses=tuple(d.path for d in chosen), error=error,
        )

    def planless_entries(self) -> list[IndexedPlan]:
        """One entry per folder of doses that reference no plan (and were not taken as the
        dose of the folder's only plan)."""
        entries = []
        for folder, doses in self.planless.items():
            context = doses[0].path
            try:
                chosen = _doses_to_use(doses, folder)
                structures = self._structure_set(_structure_set_references(chosen), chosen[0].frame, context)
            except InputError as error:
                entries.append(_entry(f"dose:{doses[0].uid}", plan=None, doses=doses, structures=None, error=error))
                continue
            entries.append(_entry(f"dose:{chosen[0].uid}", plan=None, doses=chosen, structures=structures, error=None))
        return entries

    def missing_plan_entries(self) -> list[IndexedPlan]:
        """One entry per plan that doses reference but the archive does not hold."""
        return [
            _entry(
                uid, plan=None, doses=doses, structures=None,
                error=InputError(
                    f"the dose references plan {uid}, which is not in the archive",
                    path=doses[0].path,
                    remedy="export the RTPLAN together with its dose",
                ),
                plan_uid=uid,
            )
            for uid, doses in self.missing_plans.items()
        ]

    def _structure_set(self, references: Sequence[str], frame: str | None, context: Path) -> _Header:
        """The structure set of a plan or dose (``context``): the first one referenced that
        the archive holds, else the only one in ``context``'s folder in ``frame``."""
        for uid in references:
            if uid in self.structures_by_uid:
                return self.structures_by_uid[uid]
        if references:
            raise InputError(
                f"the structure set it references ({references[0]}) is not in the archive"
                + self._unreadable_note(context),
                path=context,
                remedy="export the RTSTRUCT of this plan together with the plan and dose",
            )
        beside = [s for s in self.structures if s.path.parent == context.parent]
        same_frame = [s for s in beside if frame and frame in s.frames]
        if len(same_frame) == 1:
            return same_frame[0]
        raise InputError(
            f"no structure set is referenced, and its folder has {len(same_frame) or len(beside)} "
            "candidate(s)" + self._unreadable_note(context),
            path=context,
            remedy="export the structure set (RTSTRUCT) with the plan and dose, referenced by the plan",
        )

    def _unreadable_note(self, context: Path) -> str:
        """A note naming the unreadable files beside ``context`` (one may be the missing object)."""
        unreadable = self.unreadable_by_folder.get(context.parent)
        if not unreadable:
            return ""
        return f" (its folder holds {len(unreadable)} file(s) that cannot be read: {', '.join(p.name for p in unreadable)})"


def _entry(
    key: str,
    *,
    plan: _Header | None,
    doses: Sequence[_Header],
    structures: _Header | None,
    error: InputError | None,
    plan_uid: str | None = None,
) -> IndexedPlan:
    """An entry whose plan could not be read (or that has none): identity from the headers."""
    first = plan or (doses[0] if doses else None)
    return IndexedPlan(
        key=key,
        plan_uid=plan.uid if plan is not None else plan_uid,
        plan_label=None,
        patient_id=first.patient_id if first is not None else None,
        fractions=None,
        prescription_gy=None,
        plan=plan.path if plan is not None else None,
        structures=structures.path if structures is not None else None,
        doses=tuple(d.path for d in doses),
        error=error,
    )


def _doses_to_use(doses: Sequence[_Header], context: Path) -> list[_Header]:
    """The doses a plan's check reads: its one PLAN dose, or all its BEAM doses."""
    by_type: dict[str, list[_Header]] = {}
    for dose in doses:
        by_type.setdefault(dose.summation or "PLAN", []).append(dose)
    plan_doses = by_type.get("PLAN", [])
    if len(plan_doses) == 1:
        return plan_doses
    if len(plan_doses) > 1:
        raise InputError(
            f"this plan has more than one plan dose ({', '.join(str(d.path) for d in plan_doses)})",
            path=context,
            remedy="keep one plan dose per plan in the archive, or check the plan with named files",
        )
    if by_type.get("BEAM"):
        return by_type["BEAM"]
    raise InputError(
        f"the dose(s) found ({', '.join(d.path.name for d in doses)}) have DoseSummationType "
        f"{', '.join(sorted(by_type))}; rtcheck needs the plan's total dose (PLAN) or one dose per beam (BEAM)",
        path=context,
        remedy="export the plan dose (DoseSummationType PLAN)",
    )


def _structure_set_references(doses: Sequence[_Header]) -> list[str]:
    """Structure-set UIDs referenced by ``doses``, first mention first, without repeats."""
    uids: list[str] = []
    for dose in doses:
        uids += [u for u in dose.structure_set_references if u not in uids]
    return uids


__all__ = ["ArchiveIndex", "IndexedPlan", "index_plans", "same_file_contents", "walk_files"]
