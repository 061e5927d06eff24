"""DICOM input and output: the only package of rtcheck that imports pydicom.

Readers (:mod:`rtcheck.dicom_io.rtdose`) return frozen models from :mod:`rtcheck.models`;
every problem is an :class:`rtcheck.errors.InputError` naming the file and a remedy.
"""

from .rtdose import discover, load_course, read_dose, read_plan, read_structure_set, read_tps_dvhs

__all__ = [
    "discover",
    "load_course",
    "read_dose",
    "read_plan",
    "read_structure_set",
    "read_tps_dvhs",
]
