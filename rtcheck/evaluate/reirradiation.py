"""Re-irradiation check: composite EQD2 of prior courses + the current plan against limits.

:func:`check_reirradiation` is a pure function of models (no I/O, no printing):

* **cumulative rows** (a table whose ``dose_quantity`` is EQD2 or BED, e.g. the shipped
  ``reirradiation-cumulative``) are evaluated on each organ's composite EQD2 DVH, with and
  without the documented recovery factors (:mod:`rtcheck.radiobiology.composite`). BED
  limits are compared in EQD2 with the row's α/β (``EQD2 = BED / (1 + 2/(α/β))``); each row
  uses its own α/β, so an organ with rows at two α/β values gets two composites;
* **converted rows**: for organs without a cumulative row, the current plan's physical
  table rows converted to EQD2 (:mod:`rtcheck.evaluate.conversion`);
* **per-course rows** (e.g. ``reirradiation-per-course``) are evaluated on each course's own
  EQD2 DVH. Only the current course's results count in the verdict: the shipped rows are
  written for the re-irradiation course (HyTEC's 25 Gy EQD2 is for the SBRT course alone);
  prior courses' results are shown for information;
* **intervals**: a cumulative or per-course row with ``min_interval_months: N`` holds only
  with at least N months between consecutive courses (:mod:`rtcheck.evaluate.intervals`).

The verdict is computed twice (with and without recovery factors); the result says whether
it depends on the factors. A paper-record prior course makes every composite value an
upper bound; the result says so.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..constraints.names import NameTable, OrganAssignment, assign_organ, normalize
from ..dvhcalc.compute import (
    DEFAULT,
    DVHSettings,
    compute_mask,
    compute_union_mask,
    typical_slice_thickness_mm,
)
from ..errors import GeometryError, InputError, UsageError
from ..models import (
    ConstraintResult,
    ConstraintTable,
    Course,
    DoseQuantity,
    Level,
    NameMatch,
    Structure,
    Unit,
)
from ..models.priors import PriorCourse, Registration
from ..models.reirradiation import (
    CompositeRowResult,
    OrganComposite,
    RegistrationUse,
    ReirradiationResult,
)
from ..radiobiology.composite import (
    OrganSamples,
    composite_organ,
    organ_samples_from_mask,
    prior_doses_at,
)
from ..radiobiology.resample import PointDoses, linking_registration
from .conversion import CompositeRow, composite_rows
from .intervals import interval_checks
from .levels import evaluate_constraint, limit_in_table_quantity, overall_level
from .organs import (
    OrganUnion,
    external_position,
    outside_external_notes,
    structures_for_organ,
    union_for,
    union_note,
)

if TYPE_CHECKING:
    from ..dvhcalc.masks import StructureMask

#: A structure of the current plan (its name), or the sides of a paired organ (their names,
#: for their union).
StructureKey = str | tuple[str, ...]


# -- the inputs -------------------------------------------------------------------------------
def same_organ(a: str, b: str) -> bool:
    """Organ names compared case- and separator-insensitively (TG-263 names expected)."""
    return normalize(a) == normalize(b)


def names_same(names: NameTable) -> Callable[[str, str], bool]:
    """Whether two organ names mean the same organ (through the name table's aliases)."""

    def same(a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` name one organ."""
        ca = names.canonical_organ(a) or a
        cb = names.canonical_organ(b) or b
        return normalize(ca) == normalize(cb)

    return same


def _patient_of(course: Course) -> str | None:
    """The patient ID of a course: its plan's, else its structure set's."""
    if course.plan is not None and course.plan.patient_id:
        return course.plan.patient_id
    return course.structure_set.patient_id if course.structure_set is not None else None


def _check_same_patient(current: Course, priors: Sequence[PriorCourse]) -> None:
    """Refuse a DICOM prior course whose files name another patient than the current plan."""
    patient = _patient_of(current)
    for prior in priors:
        other = _patient_of(prior.course) if prior.course is not None else None
        if patient and other and other != patient:
            assert prior.course is not None
            where = prior.course.plan.source_file if prior.course.plan is not None else None
            raise InputError(
                f"prior course {prior.label!r} is for patient {other}, the current plan for {patient}",
                path=where or (prior.course.dose.source_files[0] if prior.course.dose.source_files else None),
                remedy="give the prior courses of this patient",
            )


def _check_inputs(
    current: Course, priors: Sequence[PriorCourse], tables: Iterable[ConstraintTable | None]
) -> None:
    """Refuse a current course without structures, priors of another patient, and
    cumulative or per-course tables of physical doses."""
    if current.structure_set is None:
        raise InputError("the current course has no structure set", remedy="export the RTSTRUCT with the plan")
    _check_same_patient(current, priors)
    for table in tables:
        if table is not None and table.dose_quantity is DoseQuantity.PHYSICAL:
            raise UsageError(
                f"table {table.name} holds physical doses; cumulative and per-course re-irradiation tables "
                "must be in EQD2 or BED",
                path=table.path,
            )


def _input_warnings(current: Course, priors: Sequence[PriorCourse]) -> list[str]:
    """The notes of the current plan and the prior courses, and their recovery factors' warnings."""
    warnings: list[str] = [f"current plan: {note}" for note in current.notes]
    for p in priors:
        warnings += [f"prior course {p.label!r}: {w}" for w in p.warnings]
        if p.course is not None:
            warnings += [f"prior course {p.label!r}: {note}" for note in p.course.notes]
        for f in p.recovery:
            warnings += [f"prior course {p.label!r}, recovery factor: {w}" for w in f.warnings]
    return warnings


# -- the composites -------------------------------------------------------------------------
class _Composites:
    """The composites of the current plan's organs, each computed once: a structure's (or a
    union of sides') sample points, the prior doses there (one resampling for every α/β),
    and the composite at each α/β; the masks sampled are kept for the body-contour notes.

    The masks are those :func:`rtcheck.evaluate.plan.check_course` samples for its DVHs
    (same slab thickness for single planes, same unions), so that the current course's part
    of a composite matches the plan's own check.
    """

    def __init__(
        self,
        current: Course,
        priors: Sequence[PriorCourse],
        *,
        settings: DVHSettings,
        same: Callable[[str, str], bool],
        registrations: Iterable[Registration],
    ) -> None:
        """Composites of ``current`` (it must have a structure set) with ``priors``."""
        assert current.structure_set is not None
        self.current = current
        self.priors = priors
        self.settings = settings
        self.same = same
        self.registrations = registrations
        self.by_name: dict[str, Structure] = {s.name: s for s in current.structure_set.structures}
        self.thickness = typical_slice_thickness_mm(current.structure_set)
        self.samples: dict[StructureKey, OrganSamples | Exception] = {}
        self.masks: dict[StructureKey, StructureMask] = {}
        self.prior_doses: dict[StructureKey, dict[int, PointDoses]] = {}
        self.composites: dict[tuple[StructureKey, float], OrganComposite] = {}

    def _mask(self, key: StructureKey) -> StructureMask:
        """The mask of a structure, or of the union of sides (sub-sample by sub-sample: an
        overlap counted once)."""
        if isinstance(key, tuple):
            return compute_union_mask(
                [self.by_name[n] for n in key], self.current.dose, self.settings, slice_thickness_mm=self.thickness
            )
        return compute_mask(self.by_name[key], self.current.dose, self.settings, slice_thickness_mm=self.thickness)

    def samples_for(self, key: StructureKey) -> OrganSamples | Exception:
        """The sample points of a structure or union, or the error that prevents them."""
        if key not in self.samples:
            try:
                mask = self._mask(key)
                self.masks[key] = mask
                self.samples[key] = organ_samples_from_mask(
                    mask, self.current.dose, interpolate=self.settings.interpolate_dose
                )
            except GeometryError as exc:
                self.samples[key] = exc
        return self.samples[key]

    def composite_for(self, key: StructureKey, organ: str, alpha_beta_gy: float) -> OrganComposite | Exception:
        """The composite of ``organ`` on a structure or union at one α/β (Gy), or the error
        that prevents its sample points."""
        samples = self.samples_for(key)
        if isinstance(samples, Exception):
            return samples
        samples = dataclasses.replace(samples, name=organ)
        if key not in self.prior_doses:
            self.prior_doses[key] = prior_doses_at(self.current, samples.points_mm, self.priors, self.registrations)
        if (key, alpha_beta_gy) not in self.composites:
            self.composites[(key, alpha_beta_gy)] = composite_organ(
                self.current, samples, alpha_beta_gy, self.priors, same=self.same,
                prior_doses=self.prior_doses[key],
            )
        return self.composites[(key, alpha_beta_gy)]

    def warnings(self, matches: Sequence[NameMatch], already: Sequence[str]) -> list[str]:
        """The composites' warnings not in ``already``, then the notes on structures reaching
        outside the body contour."""
        warnings = list(already)
        for organ_composite in self.composites.values():
            warnings += [w for w in organ_composite.warnings if w not in warnings]
        assert self.current.structure_set is not None
        warnings += outside_external_notes(
            self.current,
            external_position(self.current.structure_set.structures, matches),
            [(" + ".join(key) if isinstance(key, tuple) else key, m) for key, m in self.masks.items()],
            self.settings,
            self.thickness,
        )
        return warnings[len(already):]


# -- the rows -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _RowContext:
    """What every row of one kind is evaluated with: the plan's structures as understood,
    the composites, the required organs, and the course (``course_index`` None: the
    composite; 0 the current course, 1… the priors, for per-course rows)."""

    names: NameTable
    matches: tuple[NameMatch, ...]
    composites: _Composites
    required: frozenset[str]
    course_index: int | None = None
    course_label: str | None = None


def _note(res: ConstraintResult, text: str) -> ConstraintResult:
    """The result with ``text`` added to its reason."""
    return dataclasses.replace(res, reason=f"{res.reason}; {text}" if res.reason else text)


def _noted(result: CompositeRowResult, text: str) -> CompositeRowResult:
    """The row's result with ``text`` added to both sides' reasons."""
    return dataclasses.replace(
        result, with_factor=_note(result.with_factor, text), without_factor=_note(result.without_factor, text)
    )


def _evaluate_rows(spec: CompositeRow, ctx: _RowContext) -> list[CompositeRowResult]:
    """:func:`_evaluate_row` on every structure that stands for the row's organ: with
    "SpinalCord" and "Cord" both present, each is summed and checked (the one not preferred
    may be the hot one)."""
    names, matches = ctx.names, ctx.matches
    assignment = assign_organ(names, spec.row.organ, matches)
    chosen = structures_for_organ(assignment, matches)
    if not chosen:
        # a paired organ contoured only as its sides: the union of the sides, chosen as the
        # plan's own check does (union_for); one side alone is never used
        union = union_for(names, spec.row.organ, matches)
        if not isinstance(union, OrganUnion):
            return [_evaluate_row(spec, ctx, assignment, missing_note=union)]
        combos = list(itertools.product(*union.parts))
        out = []
        for combo in combos:
            parts = tuple(matches[i].structure_name for i in combo)
            label = " + ".join(parts)
            text = union_note(names, spec.row.organ, union, label, len(combos))
            out.append(_noted(_evaluate_row(spec, ctx, assignment, union=(label, parts)), text))
        return out
    if len(chosen) <= 1:
        return [_evaluate_row(spec, ctx, assignment)]
    names_listed = [matches[i].structure_name for i in chosen]
    note = f"{len(chosen)} structures match {assignment.canonical} ({', '.join(names_listed)}): each is checked"
    return [
        _noted(_evaluate_row(spec, ctx, dataclasses.replace(assignment, structure_name=name, ambiguous=())), note)
        for name in names_listed
    ]


def _missing_reason(spec: CompositeRow, ctx: _RowContext, assignment: OrganAssignment, missing_note: str | None) -> str:
    """Why a row's organ has no structure (several candidates, or none found)."""
    if assignment.ambiguous:
        return f"several structures could be {assignment.canonical}: {', '.join(assignment.ambiguous)}"
    reason = f"no structure for {spec.row.organ} (looked for {', '.join(ctx.names.candidates_for(spec.row.organ))})"
    if missing_note:
        reason += f"; {missing_note}"
    return reason


def _evaluate_row(
    spec: CompositeRow,
    ctx: _RowContext,
    assignment: OrganAssignment,
    *,
    union: tuple[str, tuple[str, ...]] | None = None,
    missing_note: str | None = None,
) -> CompositeRowResult:
    """One row on the composite (``ctx.course_index`` None) or on one course's own EQD2 DVH.

    ``union`` (label, side structure names) evaluates the row on the union of the sides;
    ``missing_note`` is added to the reason when the organ has no structure."""
    row = spec.row
    structure_name: str | None
    key: StructureKey | None
    if union is not None:
        structure_name, key = union
    else:
        structure_name = key = assignment.structure_name
    ab = row.alpha_beta_gy
    limit = limit_in_table_quantity(row, DoseQuantity.EQD2) if row.limit_unit is Unit.GY else row.limit
    is_required = row.organ in ctx.required

    def unevaluated(res: ConstraintResult) -> CompositeRowResult:
        """The row with one result, the same with and without the recovery factors."""
        return CompositeRowResult(
            constraint=row, origin=spec.origin, with_factor=res, without_factor=res, alpha_beta_gy=ab,
            limit_eqd2_gy=limit if row.limit_unit is Unit.GY else None, course=ctx.course_label,
            counts=ctx.course_index in (None, 0), conversion=spec.conversion,
        )

    if structure_name is None or key is None:
        reason = _missing_reason(spec, ctx, assignment, missing_note)
        return unevaluated(evaluate_constraint(row, None, limit=limit, required=is_required, missing_reason=reason))
    if ab is None:
        return unevaluated(evaluate_constraint(
            row, None, structure_name=structure_name, limit=limit, required=is_required,
            missing_reason="no α/β for the organ: cannot convert to EQD2",
        ))
    comp = ctx.composites.composite_for(key, row.organ, float(ab))
    if isinstance(comp, Exception):
        return unevaluated(evaluate_constraint(row, comp, structure_name=structure_name, limit=limit,
                                               required=is_required))
    return _evaluate_on_composite(spec, ctx, comp, structure_name=structure_name, limit=limit, required=is_required)


def _evaluate_on_composite(
    spec: CompositeRow,
    ctx: _RowContext,
    comp: OrganComposite,
    *,
    structure_name: str,
    limit: float,
    required: bool,
) -> CompositeRowResult:
    """One row on an organ's composite EQD2 DVHs (with and without the recovery factors),
    or, for a per-course row, on the course's own EQD2 DVH."""
    row = spec.row
    if ctx.course_index is None:
        dvh_with, dvh_without = comp.with_factor, comp.without_factor
        reason = comp.not_evaluated or ""
        upper = comp.upper_bound
    else:
        contribution = comp.contributions[ctx.course_index]
        dvh_with = dvh_without = contribution.dvh
        reason = (contribution.note or "") if contribution.dvh is None else ""
        upper = contribution.upper_bound
    missing_reason = reason or "composite not available"
    with_res = evaluate_constraint(row, dvh_with, structure_name=structure_name, limit=limit, required=required,
                                   missing_reason=missing_reason)
    without_res = evaluate_constraint(row, dvh_without, structure_name=structure_name, limit=limit,
                                      required=required, missing_reason=missing_reason)
    if upper:
        with_res = _note(with_res, "upper bound (paper-record course added max-to-max)")
        without_res = _note(without_res, "upper bound (paper-record course added max-to-max)")
    if ctx.course_index not in (None, 0):
        note = "prior course: shown for information (per-course rows are written for the re-irradiation course)"
        with_res, without_res = _note(with_res, note), _note(without_res, note)
    return CompositeRowResult(
        constraint=row,
        origin=spec.origin,
        with_factor=with_res,
        without_factor=without_res,
        alpha_beta_gy=row.alpha_beta_gy,
        limit_eqd2_gy=limit if row.limit_unit is Unit.GY else None,
        upper_bound=upper,
        course=ctx.course_label,
        counts=ctx.course_index in (None, 0),
        conversion=spec.conversion,
    )


def _per_course_results(
    per_course: ConstraintTable, current: Course, priors: Sequence[PriorCourse], ctx: _RowContext
) -> list[CompositeRowResult]:
    """Every per-course row on each course's own EQD2 DVH: the current course's count in the
    verdict (and its required organs), the priors' are shown for information."""
    current_label = (current.plan.label if current.plan else None) or current.label or "current plan"
    course_labels = [current_label] + [p.label for p in priors]
    results = []
    for row in per_course.constraints:
        for index, label in enumerate(course_labels):
            required = frozenset(per_course.required_organs) if index == 0 else frozenset()
            course_ctx = dataclasses.replace(ctx, required=required, course_index=index, course_label=label)
            results.extend(_evaluate_rows(CompositeRow(row, "per-course", None), course_ctx))
    return results


def _unused_recovery_warnings(
    priors: Sequence[PriorCourse], evaluated: set[str], same: Callable[[str, str], bool]
) -> list[str]:
    """Warnings on recovery factors naming organs that no composite evaluated."""
    warnings = []
    for p in priors:
        for f in p.recovery:
            unused = [o for o in f.organs if not any(same(o, organ) for organ in evaluated)]
            if unused:
                warnings.append(
                    f"prior course {p.label!r}: the recovery factor for {', '.join(unused)} applies to no organ "
                    "evaluated (check the organ names)"
                )
    return warnings


# -- the check ------------------------------------------------------------------------------
def check_reirradiation(
    current: Course,
    priors: Sequence[PriorCourse],
    *,
    names: NameTable,
    cumulative: ConstraintTable,
    per_course: ConstraintTable | None = None,
    current_table: ConstraintTable | None = None,
    current_date: _dt.date | None = None,
    registrations: Iterable[Registration] = (),
    dvh_settings: DVHSettings | None = None,
) -> ReirradiationResult:
    """Composite EQD2 of ``priors`` + ``current``, evaluated against the given tables.

    ``cumulative`` (EQD2 or BED) applies to the composites; ``per_course`` (EQD2 or BED) to
    each course alone; ``current_table`` (physical, the plan's own table) supplies converted
    rows for organs that no cumulative row covers. ``current_date`` defaults to the current
    course's date. ``registrations`` (e.g. those of the current plan's folder) link a prior
    course on another frame when its own do not. A paired organ contoured only as its sides
    (``Kidneys`` from ``Kidney_L`` and ``Kidney_R``) is evaluated on their union, chosen as
    :func:`rtcheck.evaluate.plan.check_course` does (:func:`rtcheck.evaluate.organs.union_for`):
    every course's dose is sampled at the union's points (an overlap counted once); one side
    alone is never taken for the organ.
    """
    _check_inputs(current, priors, (cumulative, per_course))
    assert current.structure_set is not None
    current_date = current_date or current.date
    same = names_same(names)
    matches = tuple(names.match(s.name) for s in current.structure_set.structures)
    warnings = _input_warnings(current, priors)
    rows, not_converted = composite_rows(cumulative, current_table, current, names, matches)
    composites = _Composites(current, priors, settings=dvh_settings or DEFAULT, same=same,
                             registrations=registrations)
    ctx = _RowContext(names, matches, composites, frozenset(cumulative.required_organs))
    results = [result for spec in rows for result in _evaluate_rows(spec, ctx)]
    if per_course is not None:
        results += _per_course_results(per_course, current, priors, ctx)
    interval_rows = [*cumulative.constraints, *(per_course.constraints if per_course is not None else ())]
    intervals = interval_checks(interval_rows, priors, current_date, names, matches)
    counted = [r for r in results if r.counts]
    interval_levels = [i.level for i in intervals]
    warnings += composites.warnings(matches, warnings)
    evaluated = {c.organ for c in composites.composites.values()}
    warnings += _unused_recovery_warnings(priors, evaluated, same)
    plan = current.plan
    return ReirradiationResult(
        plan_label=(plan.label or plan.name) if plan is not None else current.label,
        plan_uid=plan.sop_instance_uid if plan is not None else None,
        fractions=current.fractions,
        current_date=current_date,
        priors=tuple(priors),
        composites=tuple(composites.composites.values()),
        rows=tuple(results),
        intervals=tuple(intervals),
        overall_with_factor=Level.worst([overall_level([r.with_factor for r in counted]), *interval_levels]),
        overall_without_factor=Level.worst([overall_level([r.without_factor for r in counted]), *interval_levels]),
        tables=tuple(t for t in (cumulative, per_course, current_table) if t is not None),
        not_converted=tuple(not_converted),
        warnings=tuple(warnings),
        registrations=registrations_used(current, priors, registrations),
    )


def registrations_used(
    current: Course, priors: Sequence[PriorCourse], registrations: Iterable[Registration]
) -> tuple[RegistrationUse, ...]:
    """For each DICOM prior course on another frame of reference, the registration that
    mapped its dose (the one the composite used: the course's own before the caller's), with
    its matrix from the current frame into the prior's — the provenance a report must carry."""
    current_frame = current.dose.frame_of_reference_uid
    shared = tuple(registrations)
    used = []
    for prior in priors:
        prior_frame = prior.course.dose.frame_of_reference_uid if prior.course is not None else None
        if not prior_frame or not current_frame or prior_frame == current_frame:
            continue
        reg = linking_registration([*prior.registrations, *shared], current_frame, prior_frame)
        if reg is None:
            continue  # the composite has refused this course already
        matrix = np.asarray(reg.transform(current_frame, prior_frame), dtype=float)
        source = getattr(reg, "source_file", None)
        used.append(RegistrationUse(
            course=prior.label, sop_instance_uid=getattr(reg, "sop_instance_uid", None),
            source_file=str(source) if source is not None else None, from_frame=current_frame,
            to_frame=prior_frame, matrix=tuple(tuple(float(v) for v in row) for row in matrix),
        ))
    return tuple(used)


__all__ = ["check_reirradiation", "names_same", "registrations_used", "same_organ"]
