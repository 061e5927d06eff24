"""What every DICOM-RT writer shares: the context of a file (patient, study, frame, dates),
new datasets with their file meta, decimal strings, deterministic UIDs and saving.

The writers (:mod:`rtcheck.dicom_io.write`) write rtcheck models as DICOM-RT files (RTSTRUCT,
RTDOSE, RTPLAN, spatial registration).

Used to make the synthetic sample exports in ``sample_dicom/`` and test inputs; it is not
a treatment-planning exporter. Output is Explicit VR Little Endian and checked with
dicom3tools' ``dciodvfy`` in the tests (when installed).

Everything a file needs beyond the model (patient, study, frame of reference, dates,
equipment) comes from a :class:`DicomContext`. Nothing depends on the clock or on random
numbers: UIDs are derived from seeds with :func:`derived_uid`, so writing the same models
with the same context twice gives identical bytes.

Units as in :mod:`rtcheck.models`: dose in Gy, positions and lengths in mm.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, generate_uid

from rtcheck import __version__

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
RT_PLAN_STORAGE = "1.2.840.10008.5.1.4.1.1.481.5"
SPATIAL_REGISTRATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.1"

#: Frame of reference of the identity "patient" coordinate system (PS3.16 / PS3.3 C.20.2).
_IMPLEMENTATION_VERSION = f"RTCHECK_{__version__}"[:16]

DEFAULT_COLOURS = (
    (255, 0, 0), (0, 160, 0), (0, 0, 255), (255, 160, 0), (160, 0, 255),
    (0, 200, 200), (255, 0, 160), (128, 128, 0), (0, 128, 255), (200, 100, 50),
)


def derived_uid(*parts: object) -> str:
    """A UID derived deterministically from ``parts`` (same parts → same UID).

    Uses pydicom's UID root; the parts are hashed, so they may be any printable values
    (e.g. ``derived_uid("rtcheck-sample", "spine", "rtdose")``).
    """
    if not parts:
        raise ValueError("derived_uid needs at least one seed part")
    return generate_uid(entropy_srcs=[str(p) for p in parts])


def da(date: _dt.date) -> str:
    """A date as DICOM DA (YYYYMMDD)."""
    return date.strftime("%Y%m%d")


@dataclass(frozen=True)
class DicomContext:
    """Patient, study, frame of reference, dates and equipment shared by a set of files.

    ``content_date``/``content_time`` (HHMMSS) date the objects written with this context
    (instance creation, structure set, series); ``study_date`` defaults to it.
    ``software_versions`` (SoftwareVersions) and ``implementation_version_name`` (file meta
    ImplementationVersionName, at most 16 characters) name the writer; they default to this
    rtcheck version. Give fixed values for files that must not change with the version
    (the committed samples).
    """

    patient_name: str
    patient_id: str
    study_instance_uid: str
    frame_of_reference_uid: str
    content_date: _dt.date
    content_time: str = "120000"
    study_date: _dt.date | None = None
    study_time: str = "090000"
    study_id: str = "1"
    study_description: str = ""
    accession_number: str = ""
    patient_birth_date: _dt.date | None = None
    patient_sex: str = "O"
    manufacturer: str = "rtcheck"
    institution_name: str = "rtcheck synthetic data"
    station_name: str = "RTCHECK"
    operator_name: str = ""
    series_number: int = 1
    software_versions: str = f"rtcheck {__version__}"
    implementation_version_name: str = _IMPLEMENTATION_VERSION

    def __post_init__(self) -> None:
        for name in ("content_time", "study_time"):
            value = getattr(self, name)
            if len(value) != 6 or not value.isdigit():
                raise ValueError(f"{name} must be HHMMSS, got {value!r}")
        if not 0 < len(self.implementation_version_name) <= 16:
            raise ValueError(
                f"implementation_version_name must have 1-16 characters (VR SH), got {self.implementation_version_name!r}"
            )
        if not 0 < len(self.software_versions) <= 64:
            raise ValueError(f"software_versions must have 1-64 characters (VR LO), got {self.software_versions!r}")
        if self.patient_sex not in ("M", "F", "O"):
            raise ValueError(f"patient_sex must be M, F or O, got {self.patient_sex!r}")


def new_dataset(sop_class_uid: str, sop_instance_uid: str, modality: str, context: DicomContext,
                 series_instance_uid: str, series_description: str) -> Dataset:
    """A dataset with its file meta and the patient, study, series, equipment and SOP
    common modules filled from ``context``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = context.implementation_version_name

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.InstanceCreationDate = da(context.content_date)
    ds.InstanceCreationTime = context.content_time
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    study_date = context.study_date or context.content_date
    ds.StudyDate = da(study_date)
    ds.StudyTime = context.study_time
    ds.AccessionNumber = context.accession_number
    ds.Modality = modality
    ds.Manufacturer = context.manufacturer
    ds.InstitutionName = context.institution_name
    ds.ReferringPhysicianName = ""
    ds.StationName = context.station_name
    if context.study_description:
        ds.StudyDescription = context.study_description
    ds.SeriesDescription = series_description
    ds.OperatorsName = context.operator_name
    ds.ManufacturerModelName = "rtcheck.dicom_io.write"
    ds.PatientName = context.patient_name
    ds.PatientID = context.patient_id
    ds.PatientBirthDate = da(context.patient_birth_date) if context.patient_birth_date else ""
    ds.PatientSex = context.patient_sex
    ds.SoftwareVersions = context.software_versions
    ds.StudyInstanceUID = context.study_instance_uid
    ds.SeriesInstanceUID = series_instance_uid
    ds.StudyID = context.study_id
    ds.SeriesNumber = context.series_number
    return ds


def save(ds: Dataset, path: str | Path) -> Path:
    """Save ``ds`` as a DICOM file (with its file meta) at ``path``, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def ds_str(value: float) -> str:
    """A decimal string (VR DS, at most 16 characters) for ``value``, rounded to 0.001 mm."""
    text = f"{round(float(value), 3):.3f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if len(text) > 16:
        raise ValueError(f"value {value} does not fit a DICOM decimal string")
    return text


def ds_general(value: float) -> str:
    """A DS of at most 16 characters keeping as many significant digits as fit."""
    for digits in range(12, 3, -1):
        text = f"{float(value):.{digits}g}"
        if len(text) <= 16:
            return text
    raise ValueError(f"value {value} does not fit a DICOM decimal string")


# -- RTSTRUCT -------------------------------------------------------------------------------

