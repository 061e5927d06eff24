"""Constraints × DVHs → results with levels, and the per-plan check.

:func:`evaluate` is independent of what the dose numbers mean: it compares a table whose
``dose_quantity`` is physical, EQD2 or BED with DVHs of the same quantity (a composite EQD2
DVH for re-irradiation holds EQD2 values in ``dose_gy``), and refuses a mismatch.

Levels (see :class:`rtcheck.models.Level`):

* PASS — the value meets the limit by more than its numerical uncertainty;
* INDETERMINATE — it meets the limit, but by less than its uncertainty (the spread of the
  metric over the DVH's alternative calculations, :meth:`rtcheck.models.DVH.uncertainty`):
  review in the planning system; never shown as a plain pass;
* MINOR — a goal is missed, or a hard limit is exceeded inside its minor-deviation band;
* MAJOR — a hard limit is exceeded beyond its minor-deviation band;
* FAIL — a hard limit without a band is exceeded;
* NOT_EVALUATED — no structure for the organ, the structure is empty or not a volume, the
  metric is undefined (D5cc of a 3 cc organ), the prescription it needs is unknown, or the
  organ lies (partly) outside the dose grid so that the result cannot be known.

An organ partly outside the dose grid: for metrics that can only grow when the unknown part
is added (Dx, Dmax, Vx, CVx) a failure found on the known part is a real failure and a pass
on a critical volume is a real pass; the other outcome cannot be known and is NOT_EVALUATED,
with the coverage reported. Dmean and Dmin of a partly covered organ are NOT_EVALUATED.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from . import __version__
from .constraints.names import NameTable, OrganAssignment, assign_organ
from .errors import GeometryError, InputError, RtcheckError, UsageError
from .models import (
    DVH,
    CheckResult,
    Comparison,
    Constraint,
    ConstraintResult,
    ConstraintTable,
    Course,
    DoseQuantity,
    Level,
    LimitKind,
    MetricKind,
    NameMatch,
    Structure,
    Unit,
)

if TYPE_CHECKING:
    from .dvhcalc.masks import StructureMask

#: Volume outside the dose grid below which an organ counts as fully covered (cc).
COVERAGE_TOLERANCE_CC = 1e-3

_GROWS_WITH_VOLUME = {
    MetricKind.DOSE_AT_VOLUME,
    MetricKind.MAX,
    MetricKind.VOLUME_AT_DOSE,
    MetricKind.CRITICAL_VOLUME,
}


def _quantity(value: DoseQuantity | str | object) -> DoseQuantity:
    """Accept a DoseQuantity, its value, or any enum with the same value (radiobiology.Quantity)."""
    if isinstance(value, DoseQuantity):
        return value
    raw = getattr(value, "value", value)
    try:
        return DoseQuantity(raw)
    except ValueError:
        raise UsageError(f"unknown dose quantity {value!r}", remedy="use physical, EQD2 or BED") from None


def limit_in_table_quantity(constraint: Constraint, table_quantity: DoseQuantity) -> float:
    """The constraint's limit expressed in the table's dose quantity.

    A BED limit in an EQD2 table (or the reverse) is converted exactly with the row's α/β:
    EQD2 = BED / (1 + 2/(α/β)).
    """
    if constraint.limit_unit is not Unit.GY or constraint.limit_quantity in (None, table_quantity):
        return constraint.limit
    ab = constraint.alpha_beta_gy
    if ab is None:
        raise UsageError(f"{constraint.text}: no α/β to convert {constraint.limit_quantity.value} to {table_quantity.value}")
    factor = 1.0 + 2.0 / ab
    if constraint.limit_quantity is DoseQuantity.BED and table_quantity is DoseQuantity.EQD2:
        return constraint.limit / factor
    if constraint.limit_quantity is DoseQuantity.EQD2 and table_quantity is DoseQuantity.BED:
        return constraint.limit * factor
    raise UsageError(f"{constraint.text}: cannot compare {constraint.limit_quantity.value} with {table_quantity.value}")


def metric_function(constraint: Constraint, prescription_gy: float | None) -> Callable[[DVH], float | None] | str:
    """A function DVH → value in the constraint's limit unit, or a reason it cannot exist."""
    metric = constraint.metric
    unit = constraint.limit_unit
    x = metric.parameter
    needs_rx = (metric.gives_dose and unit is Unit.PERCENT) or (not metric.gives_dose and metric.relative)
    if needs_rx and prescription_gy is None:
        return "the prescription is unknown, and this limit is relative to it"

    def as_limit_unit_dose(dose: float | None) -> float | None:
        if dose is None:
            return None
        return 100.0 * dose / prescription_gy if unit is Unit.PERCENT else dose  # type: ignore[operator]

    def threshold() -> float:
        if x is None:  # only V/CV metrics ask, and they always have a threshold
            raise ValueError(f"metric {metric} has no dose threshold")
        if not metric.relative:
            return x
        if prescription_gy is None:  # refused above (needs_rx)
            raise ValueError(f"metric {metric} is relative to an unknown prescription")
        return x * prescription_gy / 100.0

    kind = metric.kind
    if kind is MetricKind.MAX:
        return lambda d: as_limit_unit_dose(d.near_max_gy())
    if kind is MetricKind.MEAN:
        return lambda d: as_limit_unit_dose(d.mean_gy())
    if kind is MetricKind.MIN:

        def near_min(d: DVH) -> float | None:
            v = d.total_volume_cc - 0.035
            return as_limit_unit_dose(d.dose_at_volume(cc=v)) if v > 0 else None

        return near_min
    if kind is MetricKind.DOSE_AT_VOLUME:
        if metric.relative:
            return lambda d: as_limit_unit_dose(d.dose_at_volume(percent=x))
        return lambda d: as_limit_unit_dose(d.dose_at_volume(cc=x))
    if kind is MetricKind.VOLUME_AT_DOSE:
        return lambda d: d.volume_at_dose(threshold(), percent=unit is Unit.PERCENT)

    def spared(d: DVH) -> float | None:
        cc = d.volume_below_dose_cc(threshold())
        if cc is None or unit is Unit.CC:
            return cc
        return 100.0 * cc / d.total_volume_cc if d.total_volume_cc > 0 else None

    return spared


def _margin(comparison: Comparison, value: float, limit: float) -> float:
    return limit - value if comparison.is_upper_limit else value - limit


def _exceeded_level(constraint: Constraint, value: float) -> Level:
    if constraint.kind is LimitKind.GOAL:
        return Level.MINOR
    if constraint.minor_limit is None:
        return Level.FAIL
    return Level.MINOR if constraint.comparison.holds(value, constraint.minor_limit) else Level.MAJOR


def evaluate_constraint(
    constraint: Constraint,
    dvh: DVH | Exception | None,
    *,
    structure_name: str | None = None,
    limit: float | None = None,
    prescription_gy: float | None = None,
    required: bool = False,
    missing_reason: str = "no structure for this organ",
) -> ConstraintResult:
    """One constraint on one DVH (or the reason there is none)."""
    limit = constraint.limit if limit is None else limit

    def result(level: Level, reason: str = "", **kw) -> ConstraintResult:
        return ConstraintResult(
            constraint, level, structure_name=structure_name, required=required, reason=reason, **kw
        )

    if dvh is None:
        return result(Level.NOT_EVALUATED, missing_reason)
    if isinstance(dvh, Exception):
        message = dvh.message if isinstance(dvh, RtcheckError) else str(dvh)
        return result(Level.NOT_EVALUATED, f"no DVH: {message}")
    total_known = dvh.volume_with_dose_cc + dvh.outside_grid_cc
    coverage = dvh.coverage if total_known > 0 else None
    volume = dvh.total_volume_cc
    if dvh.is_empty or dvh.volume_with_dose_cc <= 0:
        if dvh.outside_grid_cc > 0:
            return result(Level.NOT_EVALUATED, "the organ lies outside the dose grid (coverage 0 %)", coverage=0.0, organ_volume_cc=volume)
        return result(Level.NOT_EVALUATED, "the structure has no volume", organ_volume_cc=volume)
    function = metric_function(constraint, prescription_gy)
    if isinstance(function, str):
        return result(Level.NOT_EVALUATED, function, coverage=coverage, organ_volume_cc=volume)
    value = function(dvh)
    if value is None or not math.isfinite(value):
        return result(
            Level.NOT_EVALUATED,
            f"{constraint.metric} is undefined for this structure ({volume:.3g} cc with dose known: "
            f"{dvh.volume_with_dose_cc:.3g} cc)",
            coverage=coverage,
            organ_volume_cc=volume,
        )
    uncertainty = dvh.uncertainty(function)
    margin = _margin(constraint.comparison, value, limit)
    common = dict(value=value, uncertainty=uncertainty, margin=margin, coverage=coverage, organ_volume_cc=volume)
    holds = constraint.comparison.holds(value, limit)
    partial = dvh.outside_grid_cc > COVERAGE_TOLERANCE_CC
    if partial:
        outside = f"{100 * (1 - dvh.coverage):.1f} % of the organ ({dvh.outside_grid_cc:.3g} cc) is outside the dose grid"
        if constraint.metric.kind not in _GROWS_WITH_VOLUME:
            return result(Level.NOT_EVALUATED, f"{outside}; {constraint.metric} cannot be known", **common)
        # the metric computed on the known part is a lower bound of the true value
        certain = (not holds) if constraint.comparison.is_upper_limit else holds
        if not certain:
            return result(
                Level.NOT_EVALUATED,
                f"{outside}; the true value can only be higher than {value:.4g}",
                **common,
            )
    if not holds:
        return result(_exceeded_level(constraint, value), "", **common)
    if uncertainty is None:
        return result(
            Level.INDETERMINATE,
            "the metric is undefined in an alternative DVH calculation (near a size limit): review",
            **common,
        )
    if margin <= uncertainty:
        return result(
            Level.INDETERMINATE,
            f"margin {margin:.3g} is within the numerical uncertainty ±{uncertainty:.3g}: review in the planning system",
            **common,
        )
    return result(Level.PASS, "", **common)


def overall_level(results: Iterable[ConstraintResult], missing_required: Sequence[str] = ()) -> Level:
    """Worst level; NOT_EVALUATED never counts as a PASS.

    A constraint NOT_EVALUATED counts when its organ is required, or when the organ has a
    structure (present but partly outside the dose grid, too small for the metric, unusable
    contours...): only an optional organ absent from the structure set is left out. A
    required organ with no structure makes the verdict at least NOT_EVALUATED.
    """
    worst = Level.NOT_EVALUATED if missing_required else Level.PASS
    for r in results:
        if r.level is Level.NOT_EVALUATED and not r.required and r.structure_name is None:
            continue
        if r.level.severity > worst.severity:
            worst = r.level
    return worst


#: A structure's DVH, the error that prevented one, None, or a function computing one of
#: those on first use (so that only the structures a table checks are computed).
DVHEntry = DVH | Exception | None | Callable[[], DVH | Exception]
DVHInput = Mapping[str, DVHEntry] | Sequence[tuple[str, DVHEntry]]
#: Computes the DVH of the union of the structures at these positions of the DVH input.
UnionDVH = Callable[[tuple[int, ...]], "DVH | Exception"]


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
    pairs = list(dvhs.items()) if isinstance(dvhs, Mapping) else list(dvhs)
    matches = tuple(names.match(name) for name, _ in pairs)

    def dvh_at(i: int) -> DVH | Exception | None:
        name, value = pairs[i]
        if isinstance(value, DVH | Exception) or value is None:
            return value
        computed = value()
        pairs[i] = (name, computed)
        return computed

    required = set(table.required_organs) | set(required_organs)
    assignments: dict[str, OrganAssignment] = {}
    unions: dict[str, OrganUnion | str | None] = {}
    union_dvhs: dict[tuple[int, ...], DVH | Exception] = {}
    results = []
    for constraint in table.constraints:
        organ = constraint.organ
        if organ not in assignments:
            assignments[organ] = assign_organ(names, organ, matches)
            unions[organ] = union_for(names, organ, matches)
        assignment = assignments[organ]
        limit = limit_in_table_quantity(constraint, table.dose_quantity)
        chosen = structures_for_organ(assignment, matches)
        union = unions[organ]
        if not chosen and isinstance(union, OrganUnion) and union_dvh is not None:
            combos = list(itertools.product(*union.parts))
            for combo in combos:
                if combo not in union_dvhs:
                    union_dvhs[combo] = union_dvh(combo)
                label = " + ".join(pairs[i][0] for i in combo)
                res = evaluate_constraint(
                    constraint,
                    union_dvhs[combo],
                    structure_name=label,
                    limit=limit,
                    prescription_gy=prescription_gy,
                    required=organ in required,
                )
                note = union_note(names, organ, union, label, len(combos))
                res = dataclasses.replace(res, reason="; ".join(t for t in (res.reason, note) if t))
                results.append(res)
            continue
        if not chosen:
            reason = f"no structure for {organ} (looked for {', '.join(names.candidates_for(organ))})"
            if isinstance(union, str):
                reason += f"; {union}"
            elif isinstance(union, OrganUnion):
                reason += f"; {' and '.join(union.canonical_parts)} are present: create their union as {organ} to check it"
            results.append(
                evaluate_constraint(
                    constraint,
                    None,
                    limit=limit,
                    prescription_gy=prescription_gy,
                    required=organ in required,
                    missing_reason=reason,
                )
            )
            continue
        several = ""
        if len(chosen) > 1:
            listed = ", ".join(pairs[i][0] for i in chosen)
            several = f"{len(chosen)} structures match {assignment.canonical} ({listed}): each is checked"
        for i in chosen:
            name, dvh = pairs[i][0], dvh_at(i)
            res = evaluate_constraint(
                constraint,
                dvh,
                structure_name=name,
                limit=limit,
                prescription_gy=prescription_gy,
                required=organ in required,
            )
            note = "" if assignment.ambiguous else assignment.note
            extra = [text for text in (res.reason, note, several) if text]
            if extra:
                res = dataclasses.replace(res, reason="; ".join(extra))
            results.append(res)
    missing = tuple(
        organ
        for organ in sorted(required)
        if not structures_for_organ(assignments.get(organ) or assign_organ(names, organ, matches), matches)
        and not (union_dvh is not None and isinstance(union_for(names, organ, matches), OrganUnion))
    )
    return tuple(results), matches, missing


def structures_for_organ(assignment: OrganAssignment, matches: Sequence[NameMatch]) -> list[int]:
    """Positions of every structure that stands for the assigned organ, the preferred first.

    Two structures mapping to one organ ("SpinalCord" and "Cord", or two spellings that are
    both aliases) are both checked: the one not preferred may be the one that is overdosed.
    """
    if assignment.canonical is None:
        return []
    hits = [i for i, m in enumerate(matches) if m.canonical == assignment.canonical]
    first = [i for i in hits if matches[i].structure_name == assignment.structure_name][:1]
    return first + [i for i in hits if i not in first]


@dataclasses.dataclass(frozen=True)
class OrganUnion:
    """A paired organ formed from its sides: ``candidate`` (``Kidneys``, ``Lungs-GTV``) is the
    union of ``canonical_parts``; ``parts`` holds, per part, the positions of every structure
    that matches it (the preferred spelling first)."""

    candidate: str
    canonical_parts: tuple[str, ...]
    parts: tuple[tuple[int, ...], ...]


def union_for(names: NameTable, organ: str, matches: Sequence[NameMatch]) -> OrganUnion | str | None:
    """The first union (in ``evaluate_on`` order) whose parts are all present; else, when
    some parts of a union are present, why it cannot be formed; else None."""
    partial = None
    for candidate, canonical_parts in names.compositions_for(organ):
        parts = tuple(
            tuple(structures_for_organ(assign_organ(names, part, matches), matches)) for part in canonical_parts
        )
        if all(parts):
            return OrganUnion(candidate, canonical_parts, parts)
        if partial is None and any(parts):
            present = ", ".join(
                f"{part} ({', '.join(matches[i].structure_name for i in found)})"
                for part, found in zip(canonical_parts, parts, strict=True)
                if found
            )
            absent = ", ".join(part for part, found in zip(canonical_parts, parts, strict=True) if not found)
            partial = (
                f"only {present} of {candidate} is present, {absent} is missing: one side is not "
                f"the whole organ (contour {absent}, or {organ})"
            )
    return partial


def union_note(names: NameTable, organ: str, union: OrganUnion, label: str, combinations: int = 1) -> str:
    """The note of a row evaluated on a union of sides (``label``: the structures joined by " + ")."""
    note = f"{union.candidate} = union of {label}"
    if union.candidate != organ:
        note = f"evaluated on {note}"
    note += f" (no {' or '.join(names.candidates_for(organ))} structure)"
    if combinations > 1:
        note += f"; {combinations} combinations of the sides' structures: each is checked"
    return note


def check_course(
    course: Course,
    table: ConstraintTable,
    names: NameTable,
    *,
    fractions: int | None = None,
    dvh_settings=None,
    notes: Sequence[str] = (),
    inputs: Sequence[tuple[str, str]] = (),
) -> CheckResult:
    """Check one course (plan + dose + structures) against ``table``: a pure function of
    models (picklable arguments, no I/O), so that an archive audit can call it per plan.

    ``fractions`` is the fraction count to report when it differs from the course's (an
    override, or a course without a plan). This checks one course alone: the composite of
    prior courses and this one is :func:`rtcheck.reirradiation.check_reirradiation`.
    """
    from .dvhcalc.compute import (
        DEFAULT,
        compute_dvh_and_mask,
        compute_mask,
        compute_union_dvh,
        typical_slice_thickness_mm,
    )
    from .dvhcalc.planes import contour_planes

    if course.structure_set is None:
        raise UsageError(
            "the course has no structure set, so no organ can be checked", remedy="export the RTSTRUCT with the plan"
        )
    check_dose_reaches_prescription(course)
    structures = course.structure_set.structures
    source = course.structure_set.source_file
    plan = course.plan
    prescription = plan.prescription_gy if plan is not None else None
    thickness = typical_slice_thickness_mm(course.structure_set)
    # DVHs only of the structures the table checks (a BODY or a couch is rarely one),
    # each computed once, when first needed — as compute_dvhs would compute it
    computed: dict[int, DVH | Exception] = {}
    masks: dict[int, StructureMask] = {}  # of the structures checked, for the External test
    in_unions: set[int] = set()

    def dvh_of(i: int) -> DVH | Exception:
        if i not in computed:
            gap = contour_gap_error(structures[i], names, source)
            if gap is not None:
                computed[i] = gap
            else:
                try:
                    computed[i], masks[i] = compute_dvh_and_mask(
                        structures[i], course.dose, dvh_settings or DEFAULT, slice_thickness_mm=thickness
                    )
                except GeometryError as err:
                    computed[i] = err
        return computed[i]

    pairs = [(s.name, functools.partial(dvh_of, i)) for i, s in enumerate(structures)]

    def union_dvh(positions: tuple[int, ...]) -> DVH | Exception:
        # a side that cannot be used makes the union unusable (the first such side, as its
        # own DVH would say: a gap, or contours that make no volume); the sides' own DVHs
        # are not needed for the union, so they are not computed for it
        for i in positions:
            known = computed.get(i)
            if isinstance(known, Exception):
                return known
            gap = contour_gap_error(structures[i], names, source)
            if gap is not None:
                return gap
            try:
                contour_planes(structures[i])
            except GeometryError as err:
                return err
        in_unions.update(positions)
        try:
            return compute_union_dvh(
                [structures[i] for i in positions],
                course.dose,
                dvh_settings or DEFAULT,
                slice_thickness_mm=thickness,
            )
        except GeometryError as err:
            return err

    results, matches, missing = evaluate(
        table, pairs, names=names, prescription_gy=prescription, union_dvh=union_dvh
    )
    all_inputs = list(inputs) or course_inputs(course)
    settings = dvh_settings or DEFAULT
    body = external_position(structures, matches)
    checked: list[tuple[str, StructureMask]] = []
    if body is not None:
        checked = [(structures[i].name, m) for i, m in sorted(masks.items())]
        for i in sorted(in_unions - set(masks)):  # the sides of unions: their own masks
            try:
                side = compute_mask(structures[i], course.dose, settings, slice_thickness_mm=thickness)
            except GeometryError:
                continue
            checked.append((structures[i].name, side))
    outside = outside_external_notes(course, body, checked, settings, thickness)
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
        notes=tuple(notes) + tuple(getattr(course, "notes", ()) or ()) + tuple(outside),
    )


#: A checked structure with at least this share of its volume outside the External (body)
#: contour is reported by :func:`outside_external_notes`.
OUTSIDE_EXTERNAL_MIN_FRACTION = 0.005

#: TG-263 names of the body contour (besides DICOM's RTROIInterpretedType EXTERNAL).
EXTERNAL_NAMES = ("External", "Body")


def external_position(structures: Sequence[Structure], matches: Sequence[NameMatch]) -> int | None:
    """Position of the body contour: the structure whose RTROIInterpretedType is EXTERNAL,
    else the first named External or Body (TG-263, through the alias table); None if none."""
    for i, st in enumerate(structures):
        if (st.interpreted_type or "").strip().upper() == "EXTERNAL":
            return i
    canonical = {m.structure_name: m.canonical for m in matches}
    for i, st in enumerate(structures):
        if canonical.get(st.name) in EXTERNAL_NAMES:
            return i
    return None


def outside_external_notes(
    course: Course,
    body: int | None,
    checked: Sequence[tuple[str, StructureMask]],
    settings,
    thickness: float | None,
) -> list[str]:
    """Notes on the ``checked`` structures ((label, mask) of each, as their DVHs sampled
    them) that reach outside the body contour (the structure at position ``body``, see
    :func:`external_position`) by at least :data:`OUTSIDE_EXTERNAL_MIN_FRACTION` of their
    volume, counted on the sub-samples.

    Planning systems compute dose only inside the body and usually leave such a part out of
    the structure's DVH (a scar or a target drawn on the skin, a structure not cropped);
    rtcheck keeps it, at the (near-zero) dose the grid holds there, which lowers mean doses
    and the structure's relative volumes: the note says so, the verdicts are not changed.
    """
    from .dvhcalc.compute import compute_mask

    if body is None or course.structure_set is None:
        return []
    outline = course.structure_set.structures[body]
    checked = [(label, mask) for label, mask in checked if label != outline.name]
    if not checked:
        return []
    try:
        outer = compute_mask(outline, course.dose, settings, slice_thickness_mm=thickness)
    except GeometryError as err:
        return [f"the body contour '{outline.name}' cannot be rasterised ({err.message}): structures "
                "reaching outside the patient were not looked for"]
    notes = []
    for label, mask in checked:
        total = mask.rasterised_volume_cc
        out = mask.volume_outside_cc(outer)
        if total > 0 and out >= OUTSIDE_EXTERNAL_MIN_FRACTION * total:
            notes.append(
                f"{label}: {out:.3g} cc ({100 * out / total:.1f} %) lies outside the body contour "
                f"'{outline.name}'; planning systems usually leave that part out of the DVH, rtcheck "
                "keeps it (it lowers the mean dose and relative volumes): review the contour or crop "
                "it to the body"
            )
    return notes


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


def contour_gap_error(structure: Structure, names: NameTable, source_file=None) -> GeometryError | None:
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
    "COVERAGE_TOLERANCE_CC",
    "check_course",
    "check_dose_reaches_prescription",
    "contour_gap_error",
    "structures_for_organ",
    "course_inputs",
    "evaluate",
    "evaluate_constraint",
    "limit_in_table_quantity",
    "metric_function",
    "overall_level",
]
