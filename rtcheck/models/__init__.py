"""Domain objects: frozen dataclasses validated at construction (the public face of models).

Units: dose in Gy, volume in cc (cm³), positions and lengths in mm, dates as
:class:`datetime.date`. Arrays held by these objects are made read-only, so a model can be
shared between computations without being changed behind anyone's back.

Patient coordinates follow DICOM (x to the patient's left, y posterior, z superior). A
:class:`DoseGrid` is always held in *canonical* order: array axes (z, y, x), each axis's
coordinates strictly increasing, whatever the orientation of the file it came from
(:mod:`rtcheck.dicom_io` does the flips and transposes).

Which module holds what:

* :mod:`~rtcheck.models.structures` — :class:`ContourType`, :class:`Contour`,
  :class:`Structure`, :class:`StructureSet`;
* :mod:`~rtcheck.models.dose` — :class:`DoseGrid` (and its :class:`PlaneDoseRange`);
* :mod:`~rtcheck.models.plan` — :class:`Plan`, :class:`Course`;
* :mod:`~rtcheck.models.dvh` — :class:`DVH`, :data:`NEAR_MAX_VOLUME_CC`;
* :mod:`~rtcheck.models.constraints` — constraint tables as data: :class:`Metric`,
  :class:`Constraint`, :class:`ConstraintTable` and their enums, :class:`Level`;
* :mod:`~rtcheck.models.results` — :class:`NameMatch`, :class:`ConstraintResult`,
  :class:`CheckResult`, :class:`DVHCurve` (the curves a check keeps for plots),
  :data:`SCHEMA_VERSION`;
* :mod:`~rtcheck.models.priors` — prior courses of a re-irradiation check:
  :class:`PriorCourse`, its :class:`RecoveryFactor` and paper :class:`OrganRecord`,
  :class:`CourseFile`, the :class:`Registration` protocol, :func:`months_between`;
* :mod:`~rtcheck.models.reirradiation` — re-irradiation results: :class:`Contribution`,
  :class:`OrganComposite`, :class:`CompositeRowResult`, :class:`IntervalCheck`,
  :class:`ReirradiationResult`;
* :mod:`~rtcheck.models.arrays` — :func:`readonly_array`.

models imports nothing from rtcheck but :mod:`rtcheck.errors`.
"""

from .arrays import readonly_array
from .constraints import (
    Comparison,
    Confidence,
    Constraint,
    ConstraintTable,
    DoseQuantity,
    Level,
    LimitKind,
    Metric,
    MetricKind,
    Unit,
)
from .dose import DoseGrid, PlaneDoseRange
from .dvh import DVH, NEAR_MAX_VOLUME_CC, DVHSamples, validated_samples
from .plan import Course, Plan
from .priors import (
    DAYS_PER_MONTH,
    CourseFile,
    OrganRecord,
    PriorCourse,
    RecoveryFactor,
    Registration,
    UnusableRegistration,
    elapsed_months,
    months_between,
)
from .reirradiation import (
    CompositeRowResult,
    Contribution,
    IntervalCheck,
    OrganComposite,
    RegistrationUse,
    ReirradiationResult,
)
from .results import (
    CURVE_STEPS,
    SCHEMA_VERSION,
    CheckResult,
    ConstraintResult,
    DVHCurve,
    MatchKind,
    NameMatch,
)
from .structures import Contour, ContourType, Structure, StructureSet

__all__ = [
    "months_between",
    "elapsed_months",
    "UnusableRegistration",
    "Registration",
    "RegistrationUse",
    "ReirradiationResult",
    "RecoveryFactor",
    "PriorCourse",
    "OrganRecord",
    "OrganComposite",
    "IntervalCheck",
    "CourseFile",
    "Contribution",
    "CompositeRowResult",
    "DAYS_PER_MONTH",
    "DVH",
    "DVHCurve",
    "CURVE_STEPS",
    "NEAR_MAX_VOLUME_CC",
    "SCHEMA_VERSION",
    "CheckResult",
    "Comparison",
    "Confidence",
    "Constraint",
    "ConstraintResult",
    "ConstraintTable",
    "Contour",
    "ContourType",
    "Course",
    "DVHSamples",
    "DoseGrid",
    "DoseQuantity",
    "Level",
    "LimitKind",
    "MatchKind",
    "Metric",
    "MetricKind",
    "NameMatch",
    "Plan",
    "PlaneDoseRange",
    "Structure",
    "StructureSet",
    "Unit",
    "readonly_array",
    "validated_samples",
]
