"""The per-plan check: every row of a table on the structures' DVHs, and the checks of a
course's inputs that make its doses trustworthy.

:func:`evaluate` pairs each row of a table with the structures standing for its organ
(:mod:`rtcheck.evaluate.organs`: the organ's own structures, else the union of its sides)
and evaluates it (:func:`rtcheck.evaluate.levels.evaluate_constraint`); it is independent of
what the dose numbers mean, but refuses DVHs of another dose quantity than the table's.
:func:`check_course` computes the DVHs a table needs from one course and returns a
:class:`rtcheck.models.CheckResult`: a pure function of models, so that an archive audit can
call it per plan.

A course is refused when its dose cannot be the plan's total dose
(:func:`check_dose_reaches_prescription`); a continuous organ (the cord) with a gap between
its contours is not evaluated (:func:`contour_gap_error`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..constraints.names import NameTable, OrganAssignment, assign_organ
from ..dvhcalc.compute import (
    DEFAULT,
    DVHSettings,
    compute_dvh_and_mask,
    compute_mask,
    compute_union_dvh,
    typical_slice_thickness_mm,
)
from ..dvhcalc.planes import contour_planes
from ..errors import GeometryError, InputError, UsageError
from ..models import (
    DVH,
    CheckResult,
    Constraint,
    ConstraintResult,
    ConstraintTable,
    Course,
    DoseQuantity,
    DVHCurve,
    NameMatch,
    Structure,
)
from .levels import evaluate_constraint, limit_in_table_quantity, overall_level
from .organs import (
    OrganUnion,
    external_position,
    organs_away_from_targets_notes,
    outside_external_notes,
    structures_for_organ,
    union_for,
    union_note,
)

if TYPE_CHECKING:
    from ..dvhcalc.masks import StructureMask


def _quantity(value: DoseQuantity | str | object) -> DoseQuantity:
    """Accept a DoseQuantity, its value, or any enum with the same value (radiobiology.Quantity)."""
    if isinstance(value, DoseQuantity):
        return value
    raw = getattr(value, "value", value)
    try:
        return DoseQuantity(raw)
    except ValueError:
        raise UsageError(f"unknown dose quantity {value!r}", remedy="use physical, EQD2 or BED") from None


#: A structure's DVH, the error that prevented one, None, or a function computing one of
#: those on first use (so that only the structures a table checks are computed).
DVHEntry = DVH | Exception | None | Callable[[], DVH | Exception]
DVHInput = Mapping[str, DVHEntry] | Sequence[tuple[str, DVHEntry]]
#: Computes the DVH of the union of the structures at these positions of the DVH input.
UnionDVH = Callable[[tuple[int, ...]], "DVH | Exception"]


class _LazyDVHs:
    """The structures' names and DVHs (a DVH input), each DVH computed on first use."""

    def __init__(self, dvhs: DVHInput) -> None:
        """The (name, DVH entry) pairs of ``dvhs``, in order."""
        self.pairs = list(dvhs.items()) if isinstance(dvhs, Mapping) else list(dvhs)

    def name(self, i: int) -> str:
        """The name of the structure at position ``i``."""
        return self.pairs[i][0]

    def dvh(self, i: int) -> DVH | Exception | None:
        """The DVH (or the error that prevented one) at position ``i``, computed once."""
        name, value = self.pairs[i]
        if isinstance(value, DVH | Exception) or value is None:
            return value
        computed = value()
        self.pairs[i] = (name, computed)
        return computed


@dataclasses.dataclass(frozen=True)
class _Row:
    """One table row as evaluated: the limit in the table's quantity (Gy, %, cc), the
    prescription (Gy) and whether its organ is required."""

    constraint: Constraint
    limit: float
    prescription_gy: float | None
    required: bool

    def on(self, dvh: DVH | Exception | None, structure_name: str | None = None, **kw: str) -> ConstraintResult:
        """The row evaluated on one DVH (see :func:`evaluate_constraint`)."""
        return evaluate_constraint(
            self.constraint,
            dvh,
            structure_name=structure_name,
            limit=self.limit,
            prescription_gy=self.prescription_gy,
            required=self.required,
            **kw,
        )


def _rows_on_union(
    row: _Row,
    union: OrganUnion,
    structures: _LazyDVHs,
    union_dvh: UnionDVH,
    union_dvhs: dict[tuple[int, ...], DVH | Exception],
    names: NameTable,
) -> list[ConstraintResult]:
    """A row of a paired organ evaluated on the union of its sides: every combination of
    the sides' structures (each union's DVH computed once, kept in ``union_dvhs``)."""
    organ = row.constraint.organ
    combos = list(itertools.product(*union.parts))
    results = []
    for combo in combos:
        if combo not in union_dvhs:
            union_dvhs[combo] = union_dvh(combo)
        label = union_label(structures.name(i) for i in combo)
        res = row.on(union_dvhs[combo], label)
        note = union_note(names, organ, union, label, len(combos))
        results.append(dataclasses.replace(res, reason="; ".join(t for t in (res.reason, note) if t)))
    return results


def union_label(names: Iterable[str]) -> str:
    """How a union of structures is named in results (``Kidney Lt + Kidney Rt``)."""
    return " + ".join(names)


def _row_without_structure(row: _Row, union: OrganUnion | str | None, names: NameTable) -> ConstraintResult:
    """A row whose organ has no structure: NOT_EVALUATED, saying what was looked for and
    what of a union of its sides is present."""
    organ = row.constraint.organ
    reason = f"no structure for {organ} (looked for {', '.join(names.candidates_for(organ))})"
    if isinstance(union, str):
        reason += f"; {union}"
    elif isinstance(union, OrganUnion):
        reason += f"; {' and '.join(union.canonical_parts)} are present: create their union as {organ} to check it"
    return row.on(None, missing_reason=reason)


def _rows_on_structures(
    row: _Row, chosen: list[int], assignment: OrganAssignment, structures: _LazyDVHs
) -> list[ConstraintResult]:
    """A row evaluated on every structure that stands for its organ (the preferred first)."""
    several = ""
    if len(chosen) > 1:
        listed = ", ".join(structures.name(i) for i in chosen)
        several = f"{len(chosen)} structures match {assignment.canonical} ({listed}): each is checked"
    results = []
    for i in chosen:
        res = row.on(structures.dvh(i), structures.name(i))
        note = "" if assignment.ambiguous else assignment.note
        extra = [text for text in (res.reason, note, several) if text]
        if extra:
            res = dataclasses.replace(res, reason="; ".join(extra))
        results.append(res)
    return results


def evaluate(
    table: ConstraintTable,
    dvhs: DVHInput,
    *,
    names: NameTable,
    prescription_gy: float | None = None,
    dose_quantity: DoseQuantity | str = DoseQuantity.PHYSICAL,
    required_organs: Iterable[str] = (),
    union_dvh: UnionDVH | None = None,
) -> tuple[tuple[ConstraintResult, ...], tuple[NameMatch, ...], tuple[str, ...]]:
    """Evaluate every row of ``table`` on the structures' DVHs.

    ``dvhs`` maps structure names to their DVH (or the error that prevented one, or a
    function computing either, called once and only for a structure that a row checks); a
    sequence of (name, DVH) pairs keeps structures that share a name. The DVHs' doses must
    be in ``dose_quantity``, the table's quantity (else :class:`UsageError`). Returns the
    results (table order), how each structure name was understood, and the required organs
    with no structure.

    A paired organ with no structure of its own but all its sides present (the alias
    file's ``compositions``: ``Kidneys`` = ``Kidney_L`` + ``Kidney_R``) is evaluated on the
    union of the sides, whose DVH ``union_dvh`` computes from the structures' positions in
    ``dvhs`` (without ``union_dvh`` such rows are NOT EVALUATED). A structure of the organ
    itself always wins over a union.
    """
    quantity = _quantity(dose_quantity)
    if quantity is not table.dose_quantity:
        raise UsageError(
            f"table {table.name} holds {table.dose_quantity.value} doses but the DVHs given are {quantity.value}",
            remedy="evaluate physical plans with physical tables, composites with EQD2/BED tables",
        )
    structures = _LazyDVHs(dvhs)
    matches = tuple(names.match(name) for name, _ in structures.pairs)
    required = set(table.required_organs) | set(required_organs)
    assignments: dict[str, OrganAssignment] = {}
    unions: dict[str, OrganUnion | str | None] = {}
    union_dvhs: dict[tuple[int, ...], DVH | Exception] = {}
    results: list[ConstraintResult] = []
    for constraint in table.constraints:
        organ = constraint.organ
        if organ not in assignments:
            assignments[organ] = assign_organ(names, organ, matches)
            unions[organ] = union_for(names, organ, matches)
        row = _Row(constraint, limit_in_table_quantity(constraint, table.dose_quantity), prescription_gy,
                   organ in required)
        chosen = structures_for_organ(assignments[organ], matches)
        union = unions[organ]
        if not chosen and isinstance(union, OrganUnion) and union_dvh is not None:
            results += _rows_on_union(row, union, structures, union_dvh, union_dvhs, names)
        elif not chosen:
            results.append(_row_without_structure(row, union, names))
        else:
            results += _rows_on_structures(row, chosen, assignments[organ], structures)
    missing = tuple(
        organ
        for organ in sorted(required)
        if not structures_for_organ(assignments.get(organ) or assign_organ(names, organ, matches), matches)
        and not (union_dvh is not None and isinstance(union_for(names, organ, matches), OrganUnion))
    )
    return tuple(results), matches, missing


class _CourseDVHs:
    """The DVHs of one course's structures as a check needs them: only those of the
    structures the table checks (a BODY or a couch is rarely one), each computed once, when
    first needed, as :func:`rtcheck.dvhcalc.compute.compute_dvhs` would compute it; the
    unions of paired organs' sides; and the masks they sampled, for the body-contour notes.
    """

    def __init__(self, course: Course, names: NameTable, settings: DVHSettings) -> None:
        """The course's structures (it must have a structure set), with their DVHs to come."""
        assert course.structure_set is not None
        self.course = course
        self.names = names
        self.settings = settings
        self.structures = course.structure_set.structures
        self.source = course.structure_set.source_file
        self.thickness = typical_slice_thickness_mm(course.structure_set)
        self.computed: dict[int, DVH | Exception] = {}
        #: the masks of the structures whose DVHs were computed
        self.masks: dict[int, StructureMask] = {}
        #: positions of the structures that are sides of a union evaluated
        self.in_unions: set[int] = set()
        #: the DVHs of the unions evaluated, by their label in the results
        self.union_dvhs: dict[str, DVH] = {}

    def dvh_of(self, i: int) -> DVH | Exception:
        """The DVH of structure ``i``, or the error (a contour gap, unusable contours)."""
        if i not in self.computed:
            gap = contour_gap_error(self.structures[i], self.names, self.source)
            if gap is not None:
                self.computed[i] = gap
            else:
                try:
                    self.computed[i], self.masks[i] = compute_dvh_and_mask(
                        self.structures[i], self.course.dose, self.settings, slice_thickness_mm=self.thickness
                    )
                except GeometryError as err:
                    self.computed[i] = err
        return self.computed[i]

    def entries(self) -> list[tuple[str, DVHEntry]]:
        """The (name, DVH on first use) pairs that :func:`evaluate` takes."""
        return [(s.name, functools.partial(self.dvh_of, i)) for i, s in enumerate(self.structures)]

    def union_dvh(self, positions: tuple[int, ...]) -> DVH | Exception:
        """The DVH of the union of the structures at ``positions``, or why there is none.

        A side that cannot be used makes the union unusable (the first such side, as its
        own DVH would say: a gap, or contours that make no volume); the sides' own DVHs are
        not needed for the union, so they are not computed for it.
        """
        for i in positions:
            known = self.computed.get(i)
            if isinstance(known, Exception):
                return known
            gap = contour_gap_error(self.structures[i], self.names, self.source)
            if gap is not None:
                return gap
            try:
                contour_planes(self.structures[i])
            except GeometryError as err:
                return err
        self.in_unions.update(positions)
        try:
            union = compute_union_dvh(
                [self.structures[i] for i in positions],
                self.course.dose,
                self.settings,
                slice_thickness_mm=self.thickness,
            )
        except GeometryError as err:
            return err
        self.union_dvhs[union_label(self.structures[i].name for i in positions)] = union
        return union

    def curves(self, results: Sequence[ConstraintResult]) -> tuple[DVHCurve, ...]:
        """The cumulative DVH curve of each structure (or union) that ``results`` name, in
        their order, for the report's plots: computed DVHs only (nothing new is computed)."""
        by_name: dict[str, DVH] = {}
        for i, dvh in sorted(self.computed.items()):
            if isinstance(dvh, DVH):
                by_name.setdefault(self.structures[i].name, dvh)
        by_name.update(self.union_dvhs)
        used = dict.fromkeys(r.structure_name for r in results if r.structure_name in by_name)
        return tuple(DVHCurve.from_dvh(name, by_name[name]) for name in used if name is not None)

    def checked_masks(self) -> list[tuple[str, StructureMask]]:
        """(name, mask) of every structure checked: those with a DVH, then the sides of
        unions (their own masks; a side that cannot be rasterised is left out)."""
        checked = [(self.structures[i].name, m) for i, m in sorted(self.masks.items())]
        for i in sorted(self.in_unions - set(self.masks)):
            try:
                side = compute_mask(self.structures[i], self.course.dose, self.settings,
                                    slice_thickness_mm=self.thickness)
            except GeometryError:
                continue
            checked.append((self.structures[i].name, side))
        return checked


def check_course(
    course: Course,
    table: ConstraintTable,
    names: NameTable,
    *,
    fractions: int | None = None,
    dvh_settings: DVHSettings | None = None,
    notes: Sequence[str] = (),
    inputs: Sequence[tuple[str, str]] = (),
) -> CheckResult:
    """Check one course (plan + dose + structures) against ``table``: a pure function of
    models (picklable arguments, no I/O), so that an archive audit can call it per plan.

    ``fractions`` is the fraction count to report when it differs from the course's (an
    override, or a course without a plan). This checks one course alone: the composite of
    prior courses and this one is :func:`rtcheck.evaluate.reirradiation.check_reirradiation`.
    """
    if course.structure_set is None:
        raise UsageError(
            "the course has no structure set, so no organ can be checked", remedy="export the RTSTRUCT with the plan"
        )
    check_dose_reaches_prescription(course)
    plan = course.plan
    prescription = plan.prescription_gy if plan is not None else None
    dvhs = _CourseDVHs(course, names, dvh_settings or DEFAULT)
    results, matches, missing = evaluate(
        table, dvhs.entries(), names=names, prescription_gy=prescription, union_dvh=dvhs.union_dvh
    )
    all_inputs = list(inputs) or course_inputs(course)
    body = external_position(dvhs.structures, matches)
    checked = dvhs.checked_masks() if body is not None else []
    outside = outside_external_notes(course, body, checked, dvhs.settings, dvhs.thickness)
    return CheckResult(
        table=table,
        results=results,
        overall=overall_level(results, missing),
        rtcheck_version=__version__,
        patient_id=(plan.patient_id if plan is not None else None) or course.structure_set.patient_id,
        plan_label=(plan.label or plan.name) if plan is not None else course.label,
        plan_uid=plan.sop_instance_uid if plan is not None else None,
        fractions=fractions if fractions is not None else (course.fractions if plan is not None else None),
        prescription_gy=prescription,
        dose_quantity=table.dose_quantity,
        structures=matches,
        missing_required=missing,
        inputs=tuple(all_inputs),
        notes=tuple(notes)
        + tuple(getattr(course, "notes", ()) or ())
        + tuple(outside)
        + tuple(organs_away_from_targets_notes(course, results, matches)),
        dvh_curves=dvhs.curves(results),
    )


#: A plan's total dose reaches at least its prescription somewhere (hot spots are 100-130 %);
#: a grid whose maximum is below this fraction of the prescription is a per-fraction or
#: single-beam dose, or cGy values labelled Gy, and would make every organ look spared.
MIN_MAX_DOSE_TO_PRESCRIPTION = 0.8


def check_dose_reaches_prescription(course: Course) -> None:
    """Refuse (InputError, exit 3) a dose whose maximum is far below the plan's prescription."""
    plan = course.plan
    rx = plan.prescription_gy if plan is not None else None
    dose_max = course.dose.max_gy
    if plan is None or rx is None or dose_max >= MIN_MAX_DOSE_TO_PRESCRIPTION * rx:
        return
    plan_name = plan.source_file.name if plan.source_file is not None else plan.sop_instance_uid
    raise InputError(
        f"the dose grid's maximum, {dose_max:.3g} Gy, is {100 * dose_max / rx:.0f} % of the "
        f"prescription ({rx:g} Gy in plan {plan_name}): it cannot be the plan's total dose "
        "(a per-fraction or single-beam dose, or cGy values labelled Gy?)",
        path=course.dose.source_files[0] if course.dose.source_files else None,
        remedy="export the plan's total dose in Gy (DoseSummationType PLAN), or correct the plan's "
        "TargetPrescriptionDose",
    )


#: Organs that are continuous tubes along z: planes missing inside one are a contouring error.
CONTINUOUS_ORGANS = frozenset({"SpinalCord", "SpinalCanal", "CaudaEquina", "ThecalSac", "Esophagus", "Trachea"})


def contour_gap_error(
    structure: Structure, names: NameTable, source_file: Path | None = None
) -> GeometryError | None:
    """A GeometryError when a continuous organ (:data:`CONTINUOUS_ORGANS`) has a gap in z.

    A gap is a step between contoured planes larger than twice the structure's usual plane
    spacing: the organ's dose there is unknown (a cord contoured around the field looks cold).
    """
    if names.match(structure.name).canonical not in CONTINUOUS_ORGANS:
        return None
    z = sorted({round(c.z_mm, 3) for c in structure.contours})
    if len(z) < 3:
        return None
    steps = [b - a for a, b in zip(z[:-1], z[1:], strict=True)]
    usual = sorted(steps)[len(steps) // 2]
    widest = max(range(len(steps)), key=steps.__getitem__)
    if steps[widest] <= 2 * usual + 1e-6:
        return None
    return GeometryError(
        f"ROI '{structure.name}': no contours between z = {z[widest]:g} and {z[widest + 1]:g} mm "
        f"(a gap of {steps[widest]:g} mm where planes are {usual:g} mm apart); the organ is "
        "continuous, so its dose in the gap is unknown",
        path=source_file,
        remedy="complete the contours in the planning system and export the structure set again",
    )


def course_inputs(course: Course) -> list[tuple[str, str]]:
    """The UIDs (and files) a check read, for the report header."""
    out: list[tuple[str, str]] = []
    if course.plan is not None:
        out.append(("RTPLAN SOPInstanceUID", course.plan.sop_instance_uid))
        if course.plan.source_file is not None:
            out.append(("RTPLAN file", str(course.plan.source_file)))
    if course.structure_set is not None:
        out.append(("RTSTRUCT SOPInstanceUID", course.structure_set.sop_instance_uid))
        if course.structure_set.source_file is not None:
            out.append(("RTSTRUCT file", str(course.structure_set.source_file)))
    for uid in course.dose.sop_instance_uids:
        out.append(("RTDOSE SOPInstanceUID", uid))
    for path in course.dose.source_files:
        out.append(("RTDOSE file", str(path)))
    if course.dose.frame_of_reference_uid:
        out.append(("FrameOfReferenceUID", course.dose.frame_of_reference_uid))
    return out


__all__ = [
    "CONTINUOUS_ORGANS",
    "MIN_MAX_DOSE_TO_PRESCRIPTION",
    "check_course",
    "check_dose_reaches_prescription",
    "contour_gap_error",
    "course_inputs",
    "evaluate",
    "union_label",
]
