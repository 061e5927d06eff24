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

from typing import TYPE_CHECKING

__version__ = "0.1.0"

# The API is loaded on first use (PEP 562), so that `import rtcheck` — and the command
# line's --help and --version — do not pay for numpy, pydicom and the tables up front.
_LAZY = {
    **dict.fromkeys(
        ("CheckReport", "DVHReport", "Failure", "PlanCheck", "PlanDVHs", "PlanInputs", "check", "dvh", "read_plans"),
        "rtcheck.api",
    ),
    **dict.fromkeys(
        ("ConstraintTableError", "GeometryError", "InputError", "MissingDependencyError", "RecoveryFactorError",
         "RtcheckError", "UsageError"),
        "rtcheck.errors",
    ),
    "Level": "rtcheck.models",
    **dict.fromkeys(
        ("bed", "bed_from_eqd2", "dose_per_fraction_for_bed", "dose_per_fraction_for_eqd2", "eqd2", "eqd2_from_bed",
         "total_dose_for_bed", "total_dose_for_eqd2"),
        "rtcheck.radiobiology",
    ),
}

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


def __getattr__(name: str):
    """The public names above, imported from their modules on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rtcheck' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazily imported public ones included."""
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # what the lazy names are, for type checkers
    from .api import (
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
    from .errors import (
        ConstraintTableError,
        GeometryError,
        InputError,
        MissingDependencyError,
        RecoveryFactorError,
        RtcheckError,
        UsageError,
    )
    from .models import Level
    from .radiobiology import (
        bed,
        bed_from_eqd2,
        dose_per_fraction_for_bed,
        dose_per_fraction_for_eqd2,
        eqd2,
        eqd2_from_bed,
        total_dose_for_bed,
        total_dose_for_eqd2,
    )
