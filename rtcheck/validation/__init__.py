"""Validation of rtcheck against closed-form truth: analytic phantoms and the installation
self-test.

* :mod:`~rtcheck.validation.phantoms` — shapes in linear dose gradients whose volume, dose
  statistics and DVH are known in closed form, as rtcheck models;
* :mod:`~rtcheck.validation.selftest` — :func:`run_selftest`: the phantoms written as DICOM,
  read back through the normal readers, their DVHs scored against the truth (the scoring,
  :func:`agreement` and :func:`summarise`, is shared with the benchmarks).

A computing layer that round-trips through DICOM on purpose (so the self-test takes the
path a clinical plan takes): it may use :mod:`rtcheck.dicom_io` to write and read its
phantom files, never report or cli.
"""

from .phantoms import make_phantom, shape_for_volume, standard_phantom_set
from .selftest import SelftestReport, format_table, run_selftest

__all__ = [
    "SelftestReport",
    "format_table",
    "make_phantom",
    "run_selftest",
    "shape_for_volume",
    "standard_phantom_set",
]
