"""The library API: one call per job, re-exported at the top of the package.

* :mod:`rtcheck.api.checking` — :func:`read_plans`, :func:`check`, :func:`dvh` and the
  decisions the commands share (table choice and overrides, prior courses, composites);
* :mod:`rtcheck.api.reports` — :class:`CheckReport`, :class:`PlanCheck`, :class:`Failure`,
  :class:`DVHReport`, :class:`PlanDVHs`: the results, with the verdict and exit-code rule.
"""

from .checking import (
    PlanInputs,
    PriorCourses,
    TableChoice,
    check,
    check_plans,
    dvh,
    load_priors,
    read_plans,
    select_plans,
    table_for_course,
)
from .reports import CheckReport, DVHReport, Failure, PlanCheck, PlanDVHs, utc_now

__all__ = [
    "CheckReport",
    "DVHReport",
    "Failure",
    "PlanCheck",
    "PlanDVHs",
    "PlanInputs",
    "PriorCourses",
    "TableChoice",
    "check",
    "check_plans",
    "dvh",
    "load_priors",
    "read_plans",
    "select_plans",
    "table_for_course",
    "utc_now",
]
