"""Re-irradiation check: composite EQD2 of prior courses + the current plan against limits.

:func:`check_reirradiation` is a pure function of models (no I/O, no printing):

* **cumulative rows** (a table whose ``dose_quantity`` is EQD2 or BED, e.g. the shipped
  ``reirradiation-cumulative``) are evaluated on each organ's composite EQD2 DVH, with and
  without the documented recovery factors (:mod:`rtcheck.courses`). BED limits are compared
  in EQD2 with the row's α/β (``EQD2 = BED / (1 + 2/(α/β))``); each row uses its own α/β, so
  an organ with rows at two α/β values gets two composites;
* **converted rows**: for organs without a cumulative row, the current plan's physical
  table rows are converted to EQD2 at the table's fractionation with the row's α/β (dose
  limits and V/CV thresholds in Gy; rows relative to the prescription cannot be converted and
  are listed as such). This applies a single-course tolerance to the sum of courses — the
  conversion the protocol asks for where no cumulative limit is published;
* **per-course rows** (e.g. ``reirradiation-per-course``) are evaluated on each course's own
  EQD2 DVH. Only the current course's results count in the verdict: the shipped rows are
  written for the re-irradiation course (HyTEC's 25 Gy EQD2 is for the SBRT course alone);
  prior courses' results are shown for information;
* **intervals**: a cumulative or per-course row with ``min_interval_months: N`` (a
  validated field of the table row) is valid only with at least N months between courses;
  the interval between every two consecutive courses (by date, up to the current plan) is
  checked — shorter is a FAIL of that condition, an unknown date leaves it NOT_EVALUATED.

The verdict is computed twice (with and without recovery factors); the result says whether
it depends on the factors. A paper-record prior course makes every composite value an
upper bound; the result says so.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import __version__
from . import radiobiology as rb
from .constraints.names import NameTable, assign_organ
from .courses import (
    OrganComposite,
    OrganSamples,
    PriorCourse,
    composite_organ,
    elapsed_months,
    elapsed_months_between,
    organ_samples_from_mask,
    prior_dose_at,
)
from .errors import GeometryError, InputError, UsageError
from .evaluate import (
    OrganUnion,
    evaluate_constraint,
    external_position,
    limit_in_table_quantity,
    outside_external_notes,
    overall_level,
    structures_for_organ,
    union_for,
    union_note,
)
from .models import (
    SCHEMA_VERSION,
    Constraint,
    ConstraintResult,
    ConstraintTable,
    Course,
    DoseQuantity,
    Level,
    MatchKind,
    Metric,
    MetricKind,
    Unit,
)

if TYPE_CHECKING:
    from .dvhcalc.masks import StructureMask

SCHEMA_NAME = "rtcheck-reirradiation"


@dataclass(frozen=True)
class CompositeRowResult:
    """One limit evaluated on a composite (or one course's) EQD2 DVH, with and without factors.

    ``origin`` is "cumulative", "converted" (from the current plan's physical table) or
    "per-course"; ``course`` names the course of a per-course row; ``counts`` says whether
    the row takes part in the verdict.
    """

    constraint: Constraint
    origin: str
    with_factor: ConstraintResult
    without_factor: ConstraintResult
    alpha_beta_gy: float | None
    limit_eqd2_gy: float | None
    upper_bound: bool = False
    course: str | None = None
    counts: bool = True
    conversion: str | None = None

    @property
    def depends_on_factor(self) -> bool:
        return self.with_factor.level is not self.without_factor.level

    def to_dict(self) -> dict:
        return {
            "origin": self.origin,
            "course": self.course,
            "counts_in_verdict": self.counts,
            "constraint": self.constraint.to_dict(),
            "alpha_beta_gy": self.alpha_beta_gy,
            "limit_eqd2_gy": self.limit_eqd2_gy,
            "conversion": self.conversion,
            "upper_bound": self.upper_bound,
            "with_factor": _result_dict(self.with_factor),
            "without_factor": _result_dict(self.without_factor),
            "depends_on_factor": self.depends_on_factor,
        }


def _result_dict(r: ConstraintResult) -> dict:
    return {
        "structure": r.structure_name,
        "level": r.level.value,
        "value": r.value,
        "margin": r.margin,
        "coverage": r.coverage,
        "reason": r.reason,
    }


@dataclass(frozen=True)
class IntervalCheck:
    """The time between two consecutive courses (``course`` then ``next_course``), against a
    cumulative row's condition."""

    course: str
    organ: str
    source: str
    min_months: float
    elapsed_months: float | None
    level: Level
    reason: str = ""
    next_course: str = "current plan"

    def to_dict(self) -> dict:
        return {
            "course": self.course,
            "next_course": self.next_course,
            "organ": self.organ,
            "source": self.source,
            "min_months": self.min_months,
            "elapsed_months": None if self.elapsed_months is None else round(self.elapsed_months, 2),
            "level": self.level.value,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ReirradiationResult:
    """Everything a report shows about the composite of prior courses and the current plan."""

    plan_label: str | None
    plan_uid: str | None
    fractions: int
    current_date: _dt.date | None
    priors: tuple[PriorCourse, ...]
    composites: tuple[OrganComposite, ...]
    rows: tuple[CompositeRowResult, ...]
    intervals: tuple[IntervalCheck, ...]
    overall_with_factor: Level
    overall_without_factor: Level
    tables: tuple[ConstraintTable, ...] = ()
    not_converted: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    rtcheck_version: str = __version__

    @property
    def factor_applied(self) -> bool:
        return any(r.factor > 0 for p in self.priors for r in p.recovery)

    @property
    def verdict_depends_on_factor(self) -> bool:
        return self.overall_with_factor is not self.overall_without_factor

    @property
    def upper_bound(self) -> bool:
        return any(p.is_summary for p in self.priors)

    @property
    def overall(self) -> Level:
        """The verdict that counts: with the documented factors (none: the same as without)."""
        return self.overall_with_factor

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA_NAME,
            "schema_version": SCHEMA_VERSION,
            "rtcheck_version": self.rtcheck_version,
            "plan_label": self.plan_label,
            "plan_uid": self.plan_uid,
            "fractions": self.fractions,
            "current_date": self.current_date.isoformat() if self.current_date else None,
            "dose_quantity": "EQD2",
            "overall": self.overall.value,
            "overall_with_factor": self.overall_with_factor.value,
            "overall_without_factor": self.overall_without_factor.value,
            "factor_applied": self.factor_applied,
            "verdict_depends_on_factor": self.verdict_depends_on_factor,
            "upper_bound": self.upper_bound,
            "tables": [t.summary_dict() for t in self.tables],
            "prior_courses": [
                {**p.to_dict(), "elapsed_months": _round(elapsed_months(p, self.current_date))} for p in self.priors
            ],
            "composites": [c.to_dict() for c in self.composites],
            "results": [r.to_dict() for r in self.rows],
            "intervals": [i.to_dict() for i in self.intervals],
            "not_converted": list(self.not_converted),
            "warnings": list(self.warnings),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# -- converting a physical table's rows to EQD2 ---------------------------------------------
def convert_row_to_eqd2(row: Constraint, fractions: int) -> tuple[Constraint | None, str]:
    """A physical-dose row as an EQD2 row (at ``fractions`` fractions, the row's α/β).

    Returns (row, description) or (None, why it cannot be converted).
    """
    ab = row.alpha_beta_gy
    if ab is None:
        return None, "no α/β for the organ"
    metric = row.metric
    if metric.relative or (row.limit_unit is Unit.PERCENT and metric.gives_dose):
        return None, "limit relative to the prescription"
    if metric.gives_dose:
        if row.limit_unit is not Unit.GY:
            return None, f"unit {row.limit_unit.value}"
        if metric.kind is MetricKind.MEAN:
            note = "; the mean of EQD2 is not the EQD2 of the mean (conversion of the limit is approximate)"
        else:
            note = ""
        limit = float(rb.eqd2(row.limit, fractions, ab))
        minor = float(rb.eqd2(row.minor_limit, fractions, ab)) if row.minor_limit is not None else None
        text = f"{row.limit:g} Gy in {fractions} fx at α/β {ab:g} Gy = {limit:.2f} Gy EQD2{note}"
        converted = dataclasses.replace(
            row, limit=limit, minor_limit=minor, limit_quantity=DoseQuantity.EQD2,
            note=(row.note + " | " if row.note else "") + f"converted: {text}",
        )
        return converted, text
    # V / CV metrics: the dose threshold converts, the volume limit stays
    threshold = float(rb.eqd2(metric.parameter, fractions, ab))
    prefix = "V" if metric.kind is MetricKind.VOLUME_AT_DOSE else "CV"
    new_metric = Metric(metric.kind, threshold, False, f"{prefix}{threshold:.2f}Gy(EQD2)")
    text = f"threshold {metric.parameter:g} Gy in {fractions} fx at α/β {ab:g} Gy = {threshold:.2f} Gy EQD2"
    converted = dataclasses.replace(
        row, metric=new_metric, note=(row.note + " | " if row.note else "") + f"converted: {text}"
    )
    return converted, text


# -- the check ------------------------------------------------------------------------------
def _names_same(names: NameTable):
    def same(a: str, b: str) -> bool:
        ca = names.canonical_organ(a) or a
        cb = names.canonical_organ(b) or b
        from .constraints.names import normalize

        return normalize(ca) == normalize(cb)

    return same


def check_reirradiation(
    current: Course,
    priors: Sequence[PriorCourse],
    *,
    names: NameTable,
    cumulative: ConstraintTable,
    per_course: ConstraintTable | None = None,
    current_table: ConstraintTable | None = None,
    current_date: _dt.date | None = None,
    registrations: Iterable = (),
    dvh_settings=None,
) -> ReirradiationResult:
    """Composite EQD2 of ``priors`` + ``current``, evaluated against the given tables.

    ``cumulative`` (EQD2 or BED) applies to the composites; ``per_course`` (EQD2 or BED) to
    each course alone; ``current_table`` (physical, the plan's own table) supplies converted
    rows for organs that no cumulative row covers. ``current_date`` defaults to the current
    course's date. A paired organ contoured only as its sides (``Kidneys`` from ``Kidney_L``
    and ``Kidney_R``) is evaluated on their union, chosen as :func:`rtcheck.evaluate.check_course`
    does (:func:`rtcheck.evaluate.union_for`): every course's dose is sampled at the union's
    points (an overlap counted once); one side alone is never taken for the organ.
    """
    from .dvhcalc.compute import (
        DEFAULT,
        compute_mask,
        compute_union_mask,
        typical_slice_thickness_mm,
    )

    if current.structure_set is None:
        raise InputError("the current course has no structure set", remedy="export the RTSTRUCT with the plan")
    _check_same_patient(current, priors)
    for table in (cumulative, per_course):
        if table is not None and table.dose_quantity is DoseQuantity.PHYSICAL:
            raise UsageError(
                f"table {table.name} holds physical doses; cumulative and per-course re-irradiation tables "
                "must be in EQD2 or BED",
                path=table.path,
            )
    current_date = current_date or current.date
    settings = dvh_settings or DEFAULT
    same = _names_same(names)
    structures = current.structure_set.structures
    matches = tuple(names.match(s.name) for s in structures)
    by_name = {s.name: s for s in structures}
    warnings: list[str] = [f"current plan: {note}" for note in current.notes]
    for p in priors:
        warnings += [f"prior course {p.label!r}: {w}" for w in p.warnings]
        if p.course is not None:
            warnings += [f"prior course {p.label!r}: {note}" for note in p.course.notes]
        for f in p.recovery:
            warnings += [f"prior course {p.label!r}, recovery factor: {w}" for w in f.warnings]

    # rows to evaluate on composites
    rows: list[tuple[Constraint, str, str | None]] = [(c, "cumulative", None) for c in cumulative.constraints]
    covered = {c.organ for c in cumulative.constraints}
    not_converted: list[str] = []
    if current_table is not None:
        n_table = current_table.fractions or current.fractions
        for c in current_table.constraints:
            if c.organ in covered or names.kind_of(c.organ) is not MatchKind.ORGAN:
                continue
            if not structures_for_organ(assign_organ(names, c.organ, matches), matches) and not isinstance(
                union_for(names, c.organ, matches), OrganUnion
            ):
                continue  # organ absent from the plan (nor formed from its sides): the plan's own check lists it
            converted, text = convert_row_to_eqd2(c, n_table)
            if converted is None:
                not_converted.append(f"{c.text} ({current_table.name}): not converted — {text}")
            else:
                rows.append((converted, "converted", text))

    # a key is a structure name, or the names of the sides of a paired organ (their union)
    samples_cache: dict[str | tuple[str, ...], OrganSamples | Exception] = {}
    masks: dict[str | tuple[str, ...], StructureMask] = {}  # for the body-contour notes
    prior_dose_cache: dict[str | tuple[str, ...], dict] = {}
    composite_cache: dict[tuple[str | tuple[str, ...], float], OrganComposite] = {}
    thickness = typical_slice_thickness_mm(current.structure_set)  # as check_course forms unions

    def samples_for(structure_name: str | tuple[str, ...]) -> OrganSamples | Exception:
        if structure_name not in samples_cache:
            try:
                if isinstance(structure_name, tuple):
                    # the union of the sides, sub-sample by sub-sample: an overlap counted once
                    mask = compute_union_mask(
                        [by_name[n] for n in structure_name], current.dose, settings, slice_thickness_mm=thickness
                    )
                else:
                    # the mask check_course's DVH sampled: same slab thickness for single planes
                    mask = compute_mask(by_name[structure_name], current.dose, settings, slice_thickness_mm=thickness)
                masks[structure_name] = mask
                samples_cache[structure_name] = organ_samples_from_mask(
                    mask, current.dose, interpolate=settings.interpolate_dose
                )
            except GeometryError as exc:
                samples_cache[structure_name] = exc
        return samples_cache[structure_name]

    def composite_for(structure_name: str | tuple[str, ...], organ: str, ab: float) -> OrganComposite | Exception:
        samples = samples_for(structure_name)
        if isinstance(samples, Exception):
            return samples
        samples = dataclasses.replace(samples, name=organ)
        if structure_name not in prior_dose_cache:
            prior_dose_cache[structure_name] = {
                i: prior_dose_at(p, samples.points_mm, current.dose.frame_of_reference_uid, registrations)
                for i, p in enumerate(priors)
                if not p.is_summary
            }
        key = (structure_name, ab)
        if key not in composite_cache:
            composite_cache[key] = composite_organ(
                current, samples, ab, priors, same=same, prior_doses=prior_dose_cache[structure_name]
            )
        return composite_cache[key]

    required = set(cumulative.required_organs)
    results: list[CompositeRowResult] = []
    for row, origin, conversion in rows:
        results.extend(_evaluate_rows(row, origin, conversion, names, matches, composite_for, required, None, None))
    if per_course is not None:
        current_label = (current.plan.label if current.plan else None) or current.label or "current plan"
        course_labels = [current_label] + [p.label for p in priors]
        for row in per_course.constraints:
            for index, label in enumerate(course_labels):
                results.extend(
                    _evaluate_rows(row, "per-course", None, names, matches, composite_for,
                                  set(per_course.required_organs) if index == 0 else set(), index, label)
                )

    interval_rows = [*cumulative.constraints, *(per_course.constraints if per_course is not None else ())]
    intervals = _interval_checks(interval_rows, priors, current_date, names, matches)
    counted = [r for r in results if r.counts]
    interval_levels = [i.level for i in intervals]
    overall_with = _worst(overall_level([r.with_factor for r in counted]), interval_levels)
    overall_without = _worst(overall_level([r.without_factor for r in counted]), interval_levels)
    for organ_composite in composite_cache.values():
        warnings += [w for w in organ_composite.warnings if w not in warnings]
    warnings += outside_external_notes(
        current,
        external_position(structures, matches),
        [(" + ".join(key) if isinstance(key, tuple) else key, m) for key, m in masks.items()],
        settings,
        thickness,
    )
    evaluated = {c.organ for c in composite_cache.values()}
    for p in priors:
        for f in p.recovery:
            unused = [o for o in f.organs if not any(same(o, organ) for organ in evaluated)]
            if unused:
                warnings.append(
                    f"prior course {p.label!r}: the recovery factor for {', '.join(unused)} applies to no organ "
                    "evaluated (check the organ names)"
                )
    plan = current.plan
    return ReirradiationResult(
        plan_label=(plan.label or plan.name) if plan is not None else current.label,
        plan_uid=plan.sop_instance_uid if plan is not None else None,
        fractions=current.fractions,
        current_date=current_date,
        priors=tuple(priors),
        composites=tuple(composite_cache.values()),
        rows=tuple(results),
        intervals=tuple(intervals),
        overall_with_factor=overall_with,
        overall_without_factor=overall_without,
        tables=tuple(t for t in (cumulative, per_course, current_table) if t is not None),
        not_converted=tuple(not_converted),
        warnings=tuple(warnings),
    )


def _patient_of(course: Course) -> str | None:
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


def _worst(level: Level, others: Sequence[Level]) -> Level:
    for other in others:
        if other.severity > level.severity:
            level = other
    return level


def _evaluate_rows(row, origin, conversion, names, matches, composite_for, required, course_index, course_label):
    """:func:`_evaluate_row` on every structure that stands for the row's organ: with "SpinalCord"
    and "Cord" both present, each is summed and checked (the one not preferred may be the hot one)."""
    assignment = assign_organ(names, row.organ, matches)
    chosen = structures_for_organ(assignment, matches)
    args = (row, origin, conversion, names, matches, composite_for, required, course_index, course_label)
    if not chosen:
        # a paired organ contoured only as its sides: the union of the sides, chosen as the
        # plan's own check does (rtcheck.evaluate.union_for); one side alone is never used
        union = union_for(names, row.organ, matches)
        if not isinstance(union, OrganUnion):
            return [_evaluate_row(*args, assignment=assignment, missing_note=union)]
        combos = list(itertools.product(*union.parts))
        out = []
        for combo in combos:
            parts = tuple(matches[i].structure_name for i in combo)
            label = " + ".join(parts)
            text = union_note(names, row.organ, union, label, len(combos))
            r = _evaluate_row(*args, assignment=assignment, union=(label, parts))
            out.append(dataclasses.replace(r, with_factor=_note(r.with_factor, text), without_factor=_note(r.without_factor, text)))
        return out
    if len(chosen) <= 1:
        return [_evaluate_row(*args, assignment=assignment)]
    names_listed = [matches[i].structure_name for i in chosen]
    note = f"{len(chosen)} structures match {assignment.canonical} ({', '.join(names_listed)}): each is checked"
    out = []
    for name in names_listed:
        one = dataclasses.replace(assignment, structure_name=name, ambiguous=())
        r = _evaluate_row(*args, assignment=one)
        out.append(dataclasses.replace(r, with_factor=_note(r.with_factor, note), without_factor=_note(r.without_factor, note)))
    return out


def _evaluate_row(row, origin, conversion, names, matches, composite_for, required, course_index, course_label,
                  assignment=None, union=None, missing_note=None):
    """One row on the composite (``course_index`` None) or on one course's own EQD2 DVH.

    ``union`` (label, side structure names) evaluates the row on the union of the sides;
    ``missing_note`` is added to the reason when the organ has no structure."""
    assignment = assignment if assignment is not None else assign_organ(names, row.organ, matches)
    if union is not None:
        structure_name, key = union
    else:
        structure_name = key = assignment.structure_name
    ab = row.alpha_beta_gy
    limit = limit_in_table_quantity(row, DoseQuantity.EQD2) if row.limit_unit is Unit.GY else row.limit
    limit_eqd2 = limit if row.limit_unit is Unit.GY else None
    is_required = row.organ in required
    counts = course_index in (None, 0)
    if structure_name is None:
        if assignment.ambiguous:
            reason = f"several structures could be {assignment.canonical}: {', '.join(assignment.ambiguous)}"
        else:
            reason = f"no structure for {row.organ} (looked for {', '.join(names.candidates_for(row.organ))})"
            if missing_note:
                reason += f"; {missing_note}"
        res = evaluate_constraint(row, None, limit=limit, required=is_required, missing_reason=reason)
        return CompositeRowResult(row, origin, res, res, ab, limit_eqd2, conversion=conversion, counts=counts,
                                  course=course_label)
    if ab is None:
        res = evaluate_constraint(row, None, structure_name=structure_name, limit=limit,
                                  required=is_required, missing_reason="no α/β for the organ: cannot convert to EQD2")
        return CompositeRowResult(row, origin, res, res, ab, limit_eqd2, conversion=conversion, counts=counts,
                                  course=course_label)
    comp = composite_for(key, row.organ, float(ab))
    if isinstance(comp, Exception):
        res = evaluate_constraint(row, comp, structure_name=structure_name, limit=limit, required=is_required)
        return CompositeRowResult(row, origin, res, res, ab, limit_eqd2, conversion=conversion, counts=counts,
                                  course=course_label)
    if course_index is None:
        dvh_with, dvh_without = comp.with_factor, comp.without_factor
        reason = comp.not_evaluated or ""
        upper = comp.upper_bound
    else:
        contribution = comp.contributions[course_index]
        dvh_with = dvh_without = contribution.dvh
        reason = (contribution.note or "") if contribution.dvh is None else ""
        upper = contribution.upper_bound
    kw = dict(structure_name=structure_name, limit=limit, required=is_required,
              missing_reason=reason or "composite not available")
    with_res = evaluate_constraint(row, dvh_with, **kw)
    without_res = evaluate_constraint(row, dvh_without, **kw)
    if upper:
        with_res = _note(with_res, "upper bound (paper-record course added max-to-max)")
        without_res = _note(without_res, "upper bound (paper-record course added max-to-max)")
    if course_index not in (None, 0):
        note = "prior course: shown for information (per-course rows are written for the re-irradiation course)"
        with_res, without_res = _note(with_res, note), _note(without_res, note)
    return CompositeRowResult(row, origin, with_res, without_res, ab, limit_eqd2, upper, course_label, counts,
                              conversion)


def _note(res: ConstraintResult, text: str) -> ConstraintResult:
    return dataclasses.replace(res, reason=f"{res.reason}; {text}" if res.reason else text)


def _interval_checks(rows: Sequence[Constraint], priors, current_date, names, matches) -> list[IntervalCheck]:
    """Every pair of consecutive courses (by date) against each row's ``min_interval_months``.

    A prior course without a date cannot be placed: its interval is NOT_EVALUATED.
    """
    dated = sorted((p for p in priors if p.date is not None), key=lambda p: p.date)
    undated = [p for p in priors if p.date is None]
    current_label = "current plan"
    pairs: list[tuple[str, str, float | None]] = []
    timeline = [(p.label, p.date) for p in dated] + [(current_label, current_date)]
    for (a, da), (b, db) in zip(timeline[:-1], timeline[1:], strict=True):
        pairs.append((a, b, None if da is None or db is None else elapsed_months_between(da, db)))
    pairs += [(p.label, current_label, None) for p in undated]
    checks = []
    seen = set()
    for row in rows:
        months = row.min_interval_months
        if months is None:
            continue
        if assign_organ(names, row.organ, matches).structure_name is None and not isinstance(
            union_for(names, row.organ, matches), OrganUnion
        ):
            continue  # the organ is not in this plan (nor its sides): its row is reported NOT_EVALUATED already
        for earlier, later, elapsed in pairs:
            key = (earlier, later, row.organ, months, row.source)
            if key in seen:
                continue
            seen.add(key)
            if elapsed is None:
                level, reason = Level.NOT_EVALUATED, "a course date is unknown"
            elif elapsed >= months:
                level, reason = Level.PASS, ""
            else:
                level, reason = Level.FAIL, (
                    f"{elapsed:.1f} months between courses; the limit {row.text} ({row.source}) "
                    f"was derived for >= {months:g} months"
                )
            checks.append(IntervalCheck(earlier, row.organ, row.source, months, elapsed, level, reason, later))
    return checks
