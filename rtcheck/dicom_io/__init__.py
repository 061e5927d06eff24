"""DICOM input and output: the only package of rtcheck that imports pydicom.

Readers return frozen models from :mod:`rtcheck.models`; every problem is an
:class:`rtcheck.errors.InputError` naming the file and a remedy. One module per DICOM
object and concern:

* :mod:`~rtcheck.dicom_io.files` — reading a file safely (what is DICOM, truncated or
  corrupt files, a file of the expected modality), :class:`DicomFile`;
* :mod:`~rtcheck.dicom_io.attributes` — text, dates and referenced UIDs of a data set;
* :mod:`~rtcheck.dicom_io.rtplan` — :func:`read_plan`: fractions, prescription, beams;
* :mod:`~rtcheck.dicom_io.rtstruct` — :func:`read_structure_set`: ROIs and contours;
* :mod:`~rtcheck.dicom_io.rtdose` — :func:`read_dose`: the dose grid in canonical order,
  per-beam doses summed;
* :mod:`~rtcheck.dicom_io.tps_dvhs` — :func:`read_tps_dvhs`: the planning system's DVHs;
* :mod:`~rtcheck.dicom_io.course` — :func:`load_course` from named files, and the checks
  that a plan, its dose and its structures belong together;
* :mod:`~rtcheck.dicom_io.discovery` — :func:`discover`: the courses of an export folder;
* :mod:`~rtcheck.dicom_io.registration` — spatial registrations (REG) between frames;
* :mod:`~rtcheck.dicom_io.write` — models written as DICOM files (phantoms, samples).
"""

from .course import load_course
from .discovery import discover
from .files import DicomFile
from .rtdose import read_dose
from .rtplan import read_plan
from .rtstruct import read_structure_set
from .tps_dvhs import TpsDVH, read_tps_dvhs

__all__ = [
    "DicomFile",
    "TpsDVH",
    "discover",
    "load_course",
    "read_dose",
    "read_plan",
    "read_structure_set",
    "read_tps_dvhs",
]
