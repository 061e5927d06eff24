"""Re-irradiation results: per-course contributions, organ composites, rows, intervals.

Plain data, computed by :mod:`rtcheck.radiobiology.composite` and
:mod:`rtcheck.evaluate.reirradiation`, rendered by :mod:`rtcheck.report.reirradiation`
without the renderer knowing the computation. Doses are EQD2 (Gy) unless said otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass

from .. import __version__
from .constraints import Constraint, ConstraintTable, Level
from .dvh import DVH
from .priors import PriorCourse, RecoveryFactor, elapsed_months, months_in_document
from .results import SCHEMA_VERSION, ConstraintResult

SCHEMA_NAME = "rtcheck-reirradiation"


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
        """The recovery factor applied to this course (0 when none)."""
        return self.recovery.factor if self.recovery else 0.0

    def to_dict(self) -> dict:
        """The contribution as the JSON document gives it."""
        keep = 1.0 - self.factor

        def scaled(v: float | None) -> float | None:
            """An EQD2 (Gy) after the recovery factor."""
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
        """Whether a recovery factor discounts any course of this composite."""
        return any(c.factor > 0 for c in self.contributions)

    def to_dict(self) -> dict:
        """The composite as the JSON document gives it (metrics of both DVHs)."""

        def metrics(d: DVH | None) -> dict | None:
            """The maximum, near-maximum, mean EQD2 (Gy) and volume (cc) of a composite DVH."""
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
        """Whether the row's level differs with and without the recovery factors."""
        return self.with_factor.level is not self.without_factor.level

    def to_dict(self) -> dict:
        """The row as the JSON document gives it."""
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
    """One side (with or without factors) of a row, as the JSON document gives it."""
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
        """The interval condition as the JSON document gives it."""
        return {
            "course": self.course,
            "next_course": self.next_course,
            "organ": self.organ,
            "source": self.source,
            "min_months": self.min_months,
            "elapsed_months": months_in_document(self.elapsed_months),
            "level": self.level.value,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RegistrationUse:
    """The spatial registration that mapped a prior course's dose onto the current plan:
    the course, the REG object (SOPInstanceUID, file), the two frames and the 4×4 matrix
    carrying current-frame coordinates (mm) into the prior course's frame."""

    course: str
    sop_instance_uid: str | None
    source_file: str | None
    from_frame: str
    to_frame: str
    matrix: tuple[tuple[float, ...], ...]

    def to_dict(self) -> dict:
        """Plain data (the composite document's ``registrations`` items)."""
        return {
            "course": self.course,
            "reg_uid": self.sop_instance_uid,
            "file": self.source_file,
            "from_frame_of_reference_uid": self.from_frame,
            "to_frame_of_reference_uid": self.to_frame,
            "matrix": [list(row) for row in self.matrix],
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
    registrations: tuple[RegistrationUse, ...] = ()

    @property
    def factor_applied(self) -> bool:
        """Whether any prior course has a recovery factor above 0."""
        return any(r.factor > 0 for p in self.priors for r in p.recovery)

    @property
    def verdict_depends_on_factor(self) -> bool:
        """Whether the verdict differs with and without the recovery factors."""
        return self.overall_with_factor is not self.overall_without_factor

    @property
    def upper_bound(self) -> bool:
        """Whether a paper-record course makes the composite values upper bounds."""
        return any(p.is_summary for p in self.priors)

    @property
    def overall(self) -> Level:
        """The verdict that counts: with the documented factors (none: the same as without)."""
        return self.overall_with_factor

    def elapsed_months(self, prior: PriorCourse) -> float | None:
        """Months between ``prior`` and the current course, when both dates are known."""
        return elapsed_months(prior, self.current_date)

    def to_dict(self) -> dict:
        """The whole result as the JSON document gives it (schema ``rtcheck-reirradiation``)."""
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
                {**p.to_dict(), "elapsed_months": months_in_document(self.elapsed_months(p))} for p in self.priors
            ],
            "composites": [c.to_dict() for c in self.composites],
            "results": [r.to_dict() for r in self.rows],
            "intervals": [i.to_dict() for i in self.intervals],
            "not_converted": list(self.not_converted),
            "warnings": list(self.warnings),
            "registrations": [r.to_dict() for r in self.registrations],
        }



__all__ = [
    "SCHEMA_NAME",
    "CompositeRowResult",
    "Contribution",
    "IntervalCheck",
    "OrganComposite",
    "ReirradiationResult",
]
