"""Write rtcheck models as DICOM-RT files (RTSTRUCT, RTDOSE, RTPLAN, spatial registration).

Used to make the synthetic sample exports in ``sample_dicom/`` and test inputs; it is not
a treatment-planning exporter. Output is Explicit VR Little Endian and checked with
dicom3tools' ``dciodvfy`` in the tests (when installed). Nothing depends on the clock or on
random numbers: writing the same models with the same context twice gives identical bytes.

* :mod:`~rtcheck.dicom_io.write.common` — :class:`DicomContext`, :func:`derived_uid`, new
  datasets, decimal strings, saving;
* :mod:`~rtcheck.dicom_io.write.rtstruct` — :func:`write_structure_set`;
* :mod:`~rtcheck.dicom_io.write.rtdose` — :func:`write_dose`;
* :mod:`~rtcheck.dicom_io.write.rtplan` — :class:`Beam`, :class:`DoseReference`, :func:`write_plan`;
* :mod:`~rtcheck.dicom_io.write.registration` — :class:`RigidRegistration`, :func:`write_registration`.
"""

from .common import DicomContext, derived_uid
from .registration import RigidRegistration, write_registration
from .rtdose import write_dose
from .rtplan import Beam, DoseReference, write_plan
from .rtstruct import write_structure_set

__all__ = [
    "Beam",
    "DicomContext",
    "DoseReference",
    "RigidRegistration",
    "derived_uid",
    "write_dose",
    "write_plan",
    "write_registration",
    "write_structure_set",
]
