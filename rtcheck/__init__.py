"""rtcheck: check radiotherapy plans (DICOM RT) against dose constraints.

The package is a library first; :mod:`rtcheck.cli` is a thin command line on top.
Units inside rtcheck: dose in Gy, volume in cc (cm³), positions in mm.

The public API::

    import rtcheck
    report = rtcheck.check("export/")          # a CheckReport: .verdict, .exit_code, .failures(), .to_json()
    dvhs = rtcheck.dvh("export/")              # a DVHReport: .plans, .to_json(), .to_dataframe()
    rtcheck.eqd2(8.0, 1, 2.0)                  # 8 Gy in 1 fraction at α/β 2 Gy: 20.0 Gy EQD2

Errors are :class:`RtcheckError` (``.path``, ``.remedy``, ``.exit_code``):
:class:`InputError` (and :class:`GeometryError`), :class:`ConstraintTableError`,
:class:`RecoveryFactorError`, :class:`UsageError`, :class:`MissingDependencyError`.
"""

__version__ = "0.1.0"

from .api import (  # noqa: E402 - the version is defined first: submodules read it
    CheckReport,
    DVHReport,
    Failure,
    PlanCheck,
    PlanDVHs,
    PlanInputs,
    check,
    dvh,
    read_plans,
)
from .errors import (  # noqa: E402
    ConstraintTableError,
    GeometryError,
    InputError,
    MissingDependencyError,
    RecoveryFactorError,
    RtcheckError,
    UsageError,
)
from .models import Level  # noqa: E402
from .radiobiology import (  # noqa: E402
    bed,
    bed_from_eqd2,
    dose_per_fraction_for_bed,
    dose_per_fraction_for_eqd2,
    eqd2,
    eqd2_from_bed,
    total_dose_for_bed,
    total_dose_for_eqd2,
)

__all__ = [
    "CheckReport",
    "ConstraintTableError",
    "DVHReport",
    "Failure",
    "GeometryError",
    "InputError",
    "Level",
    "MissingDependencyError",
    "PlanCheck",
    "PlanDVHs",
    "PlanInputs",
    "RecoveryFactorError",
    "RtcheckError",
    "UsageError",
    "__version__",
    "bed",
    "bed_from_eqd2",
    "check",
    "dose_per_fraction_for_bed",
    "dose_per_fraction_for_eqd2",
    "dvh",
    "eqd2",
    "eqd2_from_bed",
    "read_plans",
    "total_dose_for_bed",
    "total_dose_for_eqd2",
]
