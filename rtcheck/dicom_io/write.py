"""Write rtcheck models as DICOM-RT files (RTSTRUCT, RTDOSE, RTPLAN, spatial registration).

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, generate_uid

from rtcheck import __version__
from rtcheck.models import ContourType, DoseGrid, Plan, StructureSet

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
RT_PLAN_STORAGE = "1.2.840.10008.5.1.4.1.1.481.5"
SPATIAL_REGISTRATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.1"

#: Frame of reference of the identity "patient" coordinate system (PS3.16 / PS3.3 C.20.2).
_IMPLEMENTATION_VERSION = f"RTCHECK_{__version__}"[:16]

_DEFAULT_COLOURS = (
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


def _da(date: _dt.date) -> str:
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


@dataclass(frozen=True)
class Beam:
    """A static photon beam for a minimal, valid RTPLAN (not a deliverable plan).

    Jaw positions are (x1, x2, y1, y2) in mm at the isocentre plane; ``meterset_mu`` per
    fraction; ``dose_gy`` the beam's dose per fraction at the dose reference (optional).
    """

    name: str
    gantry_deg: float
    meterset_mu: float
    isocenter_mm: tuple[float, float, float]
    jaws_mm: tuple[float, float, float, float] = (-50.0, 50.0, -50.0, 50.0)
    energy_mv: float = 6.0
    dose_gy: float | None = None
    machine: str = "SIM_LINAC"


@dataclass(frozen=True)
class DoseReference:
    """One DoseReferenceSequence item: a target ROI and its total prescribed dose (Gy)."""

    roi_number: int
    prescription_gy: float
    description: str = ""


def _new_dataset(sop_class_uid: str, sop_instance_uid: str, modality: str, context: DicomContext,
                 series_instance_uid: str, series_description: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = context.implementation_version_name

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.InstanceCreationDate = _da(context.content_date)
    ds.InstanceCreationTime = context.content_time
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    study_date = context.study_date or context.content_date
    ds.StudyDate = _da(study_date)
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
    ds.PatientBirthDate = _da(context.patient_birth_date) if context.patient_birth_date else ""
    ds.PatientSex = context.patient_sex
    ds.SoftwareVersions = context.software_versions
    ds.StudyInstanceUID = context.study_instance_uid
    ds.SeriesInstanceUID = series_instance_uid
    ds.StudyID = context.study_id
    ds.SeriesNumber = context.series_number
    return ds


def _save(ds: Dataset, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _ds_str(value: float) -> str:
    """A decimal string (VR DS, at most 16 characters) for ``value``, rounded to 0.001 mm."""
    text = f"{round(float(value), 3):.3f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if len(text) > 16:
        raise ValueError(f"value {value} does not fit a DICOM decimal string")
    return text


def _ds_general(value: float) -> str:
    """A DS of at most 16 characters keeping as many significant digits as fit."""
    for digits in range(12, 3, -1):
        text = f"{float(value):.{digits}g}"
        if len(text) <= 16:
            return text
    raise ValueError(f"value {value} does not fit a DICOM decimal string")


# -- RTSTRUCT -------------------------------------------------------------------------------

def write_structure_set(
    ss: StructureSet,
    path: str | Path,
    *,
    context: DicomContext,
    series_instance_uid: str | None = None,
    label: str | None = None,
    colours: dict[int, tuple[int, int, int]] | None = None,
    generation_algorithm: str = "MANUAL",
) -> Path:
    """Write ``ss`` as an RT Structure Set to ``path`` and return the path.

    Contour points are written in mm, rounded to 0.001 mm. No CT is referenced (the sample
    exports carry no images); every ROI refers to ``context.frame_of_reference_uid``.
    Interpreted types come from each :class:`~rtcheck.models.Structure` (default ORGAN).
    """
    if ss.frame_of_reference_uid not in (None, context.frame_of_reference_uid):
        raise ValueError("structure set and context have different frames of reference")
    series_uid = series_instance_uid or derived_uid(ss.sop_instance_uid, "series")
    ds = _new_dataset(RT_STRUCTURE_SET_STORAGE, ss.sop_instance_uid, "RTSTRUCT", context,
                      series_uid, "RT structures")
    ds.InstanceNumber = 1
    ds.StructureSetLabel = (label or ss.label or "RTSTRUCT")[:16]
    ds.StructureSetName = (label or ss.label or "RTSTRUCT")[:64]
    ds.StructureSetDate = _da(context.content_date)
    ds.StructureSetTime = context.content_time
    ds.FrameOfReferenceUID = context.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""

    frame = Dataset()
    frame.FrameOfReferenceUID = context.frame_of_reference_uid
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([frame])

    roi_items, contour_items, observation_items = [], [], []
    colours = colours or {}
    for index, structure in enumerate(ss.structures):
        roi = Dataset()
        roi.ROINumber = structure.roi_number
        roi.ReferencedFrameOfReferenceUID = context.frame_of_reference_uid
        roi.ROIName = structure.name
        roi.ROIGenerationAlgorithm = generation_algorithm
        roi_items.append(roi)

        roi_contour = Dataset()
        colour = colours.get(structure.roi_number) or structure.color_rgb or _DEFAULT_COLOURS[
            index % len(_DEFAULT_COLOURS)]
        roi_contour.ROIDisplayColor = [int(c) for c in colour]
        roi_contour.ReferencedROINumber = structure.roi_number
        items = []
        for number, contour in enumerate(structure.contours, start=1):
            item = Dataset()
            item.ContourNumber = number
            item.ContourGeometricType = contour.geometric_type.value
            points = contour.points_mm
            if contour.geometric_type is ContourType.CLOSED_PLANAR and len(points) > 1 and np.allclose(
                    points[0], points[-1]):
                points = points[:-1]  # DICOM closes the polygon implicitly
            item.NumberOfContourPoints = len(points)
            xyz = np.column_stack([points, np.full(len(points), contour.z_mm)])
            item.ContourData = [_ds_str(v) for v in xyz.ravel()]
            items.append(item)
        if items:
            roi_contour.ContourSequence = DicomSequence(items)
        contour_items.append(roi_contour)

        observation = Dataset()
        observation.ObservationNumber = structure.roi_number
        observation.ReferencedROINumber = structure.roi_number
        observation.RTROIInterpretedType = structure.interpreted_type or "ORGAN"
        observation.ROIInterpreter = ""
        observation_items.append(observation)

    ds.StructureSetROISequence = DicomSequence(roi_items)
    ds.ROIContourSequence = DicomSequence(contour_items)
    ds.RTROIObservationsSequence = DicomSequence(observation_items)
    ds.ApprovalStatus = "UNAPPROVED"
    return _save(ds, path)


# -- RTDOSE ---------------------------------------------------------------------------------

def _uniform_spacing(coords: np.ndarray, name: str) -> float:
    if coords.size < 2:
        raise ValueError(f"{name}: a dose grid needs at least 2 voxels along each in-plane axis")
    steps = np.diff(coords)
    if not np.allclose(steps, steps[0], rtol=0, atol=1e-4):
        raise ValueError(f"{name}: in-plane voxel spacing must be uniform to be written as DICOM")
    return float(steps[0])


def write_dose(
    grid: DoseGrid,
    path: str | Path,
    *,
    context: DicomContext,
    referenced_plan_uid: str | None = None,
    sop_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    summation_type: str | None = None,
    referenced_beam_number: int | None = None,
    referenced_fraction_group_number: int = 1,
    bits: int = 16,
    dose_units: str = "GY",
    comment: str = "",
) -> Path:
    """Write ``grid`` as an RT Dose to ``path`` (head-first supine axes) and return the path.

    Pixel data are unsigned ``bits``-bit integers (16 or 32) scaled by DoseGridScaling so
    that the maximum dose uses the full range; dose per voxel is reproduced to within half
    a scaling step (max dose / 65535 for 16 bits). Frames are the z planes (may be
    non-uniform: GridFrameOffsetVector is relative to the first plane).

    ``summation_type`` defaults to the grid's; BEAM needs ``referenced_beam_number``.
    ``referenced_plan_uid`` defaults to ``grid.referenced_plan_uid``; DICOM requires the
    ReferencedRTPlanSequence for every summation type except RECORD, so does this writer.
    """
    if bits not in (16, 32):
        raise ValueError("bits must be 16 or 32")
    summation = (summation_type or grid.summation_type).upper()
    plan_uid = referenced_plan_uid or grid.referenced_plan_uid
    if summation == "BEAM" and referenced_beam_number is None:
        raise ValueError("a BEAM dose needs referenced_beam_number")
    if plan_uid is None and summation in ("PLAN", "MULTI_PLAN", "FRACTION", "BEAM", "BRACHY",
                                          "FRACTION_SESSION", "BEAM_SESSION", "BRACHY_SESSION",
                                          "CONTROL_POINT"):
        raise ValueError(f"a {summation} dose must reference its RTPLAN (referenced_plan_uid)")
    if grid.frame_of_reference_uid not in (None, context.frame_of_reference_uid):
        raise ValueError("dose grid and context have different frames of reference")
    dose = np.asarray(grid.dose_gy, dtype=float)
    if np.any(dose < 0):
        raise ValueError("negative doses cannot be written as unsigned RT Dose pixel data")

    sop_uid = sop_instance_uid or (grid.sop_instance_uids[0] if grid.sop_instance_uids else None)
    if sop_uid is None:
        sop_uid = derived_uid(context.frame_of_reference_uid, plan_uid, "rtdose", summation,
                              referenced_beam_number)
    series_uid = series_instance_uid or derived_uid(sop_uid, "series")
    ds = _new_dataset(RT_DOSE_STORAGE, sop_uid, "RTDOSE", context, series_uid, "RT dose")
    ds.ContentDate = _da(context.content_date)
    ds.ContentTime = context.content_time
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = context.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""

    dx = _uniform_spacing(grid.x_mm, "x_mm")
    dy = _uniform_spacing(grid.y_mm, "y_mm")
    z = np.asarray(grid.z_mm, dtype=float)
    ds.ImagePositionPatient = [_ds_str(grid.x_mm[0]), _ds_str(grid.y_mm[0]), _ds_str(z[0])]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.PixelSpacing = [_ds_str(dy), _ds_str(dx)]  # row spacing (y), column spacing (x)
    uniform_z = z.size < 2 or np.allclose(np.diff(z), np.diff(z)[0], rtol=0, atol=1e-4)
    ds.SliceThickness = _ds_str(z[1] - z[0]) if z.size > 1 and uniform_z else ""
    ds.GridFrameOffsetVector = [_ds_str(v) for v in z - z[0]]

    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = int(z.size)
    ds.FrameIncrementPointer = 0x3004000C
    ds.Rows = int(grid.y_mm.size)
    ds.Columns = int(grid.x_mm.size)
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    max_value = float(2**bits - 1)
    dose_max = float(dose.max()) if dose.size else 0.0
    scaling = dose_max / max_value if dose_max > 0 else 1.0
    scaling_text = _ds_general(scaling)
    scaling = float(scaling_text)
    pixels = np.clip(np.rint(dose / scaling), 0, max_value)
    pixels = pixels.astype("<u2" if bits == 16 else "<u4")
    ds.DoseUnits = dose_units
    ds.DoseType = grid.dose_type
    ds.DoseSummationType = summation
    if comment:
        ds.DoseComment = comment
    ds.DoseGridScaling = scaling_text
    ds.TissueHeterogeneityCorrection = "IMAGE"
    if plan_uid is not None:
        ref = Dataset()
        ref.ReferencedSOPClassUID = RT_PLAN_STORAGE
        ref.ReferencedSOPInstanceUID = plan_uid
        if summation in ("FRACTION", "BEAM"):
            group = Dataset()
            group.ReferencedFractionGroupNumber = referenced_fraction_group_number
            if summation == "BEAM":
                beam = Dataset()
                beam.ReferencedBeamNumber = int(referenced_beam_number)  # type: ignore[arg-type]
                group.ReferencedBeamSequence = DicomSequence([beam])
            ref.ReferencedFractionGroupSequence = DicomSequence([group])
        ds.ReferencedRTPlanSequence = DicomSequence([ref])
    ds.PixelData = pixels.tobytes()
    ds["PixelData"].VR = "OW"
    return _save(ds, path)


# -- RTPLAN ---------------------------------------------------------------------------------

def write_plan(
    plan: Plan,
    path: str | Path,
    *,
    context: DicomContext,
    beams: Sequence[Beam],
    dose_references: Sequence[DoseReference] = (),
    series_instance_uid: str | None = None,
    plan_time: str = "100000",
    plan_intent: str = "PALLIATIVE",
    patient_position: str = "HFS",
    description: str = "",
) -> Path:
    """Write ``plan`` as an RT Plan (static photon beams, one fraction group).

    ``plan.fractions`` → NumberOfFractionsPlanned; ``dose_references`` → the
    DoseReferenceSequence (TargetPrescriptionDose, total Gy); when empty and
    ``plan.prescription_gy`` is set, the prescription is written as one SITE reference.
    ``plan.referenced_structure_set_uid`` → ReferencedStructureSetSequence (required: the
    plan geometry is PATIENT). ``plan.plan_date`` → RTPlanDate (empty when unknown).
    """
    if not beams:
        raise ValueError("a plan needs at least one beam")
    if plan.referenced_structure_set_uid is None:
        raise ValueError("plan.referenced_structure_set_uid is required (RTPlanGeometry PATIENT)")
    if plan.fractions is None:
        raise ValueError("plan.fractions is required to write a fraction group")
    series_uid = series_instance_uid or derived_uid(plan.sop_instance_uid, "series")
    ds = _new_dataset(RT_PLAN_STORAGE, plan.sop_instance_uid, "RTPLAN", context, series_uid,
                      description or "RT plan")
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = context.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.RTPlanLabel = (plan.label or "PLAN")[:16]
    if plan.name:
        ds.RTPlanName = plan.name[:64]
    if description:
        ds.RTPlanDescription = description
    ds.RTPlanDate = _da(plan.plan_date) if plan.plan_date else ""
    ds.RTPlanTime = plan_time if plan.plan_date else ""
    ds.PlanIntent = plan_intent
    ds.RTPlanGeometry = "PATIENT"
    ref_ss = Dataset()
    ref_ss.ReferencedSOPClassUID = RT_STRUCTURE_SET_STORAGE
    ref_ss.ReferencedSOPInstanceUID = plan.referenced_structure_set_uid
    ds.ReferencedStructureSetSequence = DicomSequence([ref_ss])

    refs = list(dose_references)
    dose_items = []
    for number, ref in enumerate(refs, start=1):
        item = Dataset()
        item.DoseReferenceNumber = number
        item.DoseReferenceUID = derived_uid(plan.sop_instance_uid, "doseref", number)
        item.DoseReferenceStructureType = "VOLUME"
        item.ReferencedROINumber = ref.roi_number
        if ref.description:
            item.DoseReferenceDescription = ref.description[:64]
        item.DoseReferenceType = "TARGET"
        item.TargetPrescriptionDose = _ds_general(ref.prescription_gy)
        dose_items.append(item)
    if not refs and plan.prescription_gy is not None:
        item = Dataset()
        item.DoseReferenceNumber = 1
        item.DoseReferenceUID = derived_uid(plan.sop_instance_uid, "doseref", 1)
        item.DoseReferenceStructureType = "SITE"
        item.DoseReferenceDescription = "prescription"
        item.DoseReferenceType = "TARGET"
        item.TargetPrescriptionDose = _ds_general(plan.prescription_gy)
        dose_items.append(item)
    if dose_items:
        ds.DoseReferenceSequence = DicomSequence(dose_items)

    tolerance = Dataset()
    tolerance.ToleranceTableNumber = 1
    tolerance.ToleranceTableLabel = "T1"
    ds.ToleranceTableSequence = DicomSequence([tolerance])

    setup = Dataset()
    setup.PatientPosition = patient_position
    setup.PatientSetupNumber = 1
    setup.SetupTechnique = "ISOCENTRIC"
    ds.PatientSetupSequence = DicomSequence([setup])

    group = Dataset()
    group.FractionGroupNumber = 1
    group.NumberOfFractionsPlanned = int(plan.fractions)
    group.NumberOfBeams = len(beams)
    group.NumberOfBrachyApplicationSetups = 0
    referenced_beams = []
    for number, beam in enumerate(beams, start=1):
        ref_beam = Dataset()
        ref_beam.ReferencedBeamNumber = number
        if beam.dose_gy is not None:
            ref_beam.BeamDose = _ds_general(beam.dose_gy)
        ref_beam.BeamMeterset = _ds_general(beam.meterset_mu)
        referenced_beams.append(ref_beam)
    group.ReferencedBeamSequence = DicomSequence(referenced_beams)
    ds.FractionGroupSequence = DicomSequence([group])

    ds.BeamSequence = DicomSequence(
        [_beam_item(number, beam) for number, beam in enumerate(beams, start=1)])
    ds.ApprovalStatus = "UNAPPROVED"
    return _save(ds, path)


def _beam_item(number: int, beam: Beam) -> Dataset:
    item = Dataset()
    item.Manufacturer = "rtcheck"
    item.TreatmentMachineName = beam.machine
    item.PrimaryDosimeterUnit = "MU"
    item.SourceAxisDistance = "1000"
    x_jaw, y_jaw = Dataset(), Dataset()
    x_jaw.RTBeamLimitingDeviceType = "ASYMX"
    x_jaw.NumberOfLeafJawPairs = 1
    y_jaw.RTBeamLimitingDeviceType = "ASYMY"
    y_jaw.NumberOfLeafJawPairs = 1
    item.BeamLimitingDeviceSequence = DicomSequence([x_jaw, y_jaw])
    item.BeamNumber = number
    item.BeamName = beam.name[:64]
    item.BeamType = "STATIC"
    item.RadiationType = "PHOTON"
    item.TreatmentDeliveryType = "TREATMENT"
    item.NumberOfWedges = 0
    item.NumberOfCompensators = 0
    item.NumberOfBoli = 0
    item.NumberOfBlocks = 0
    item.FinalCumulativeMetersetWeight = "1"
    item.NumberOfControlPoints = 2

    first = Dataset()
    first.ControlPointIndex = 0
    first.NominalBeamEnergy = _ds_general(beam.energy_mv)
    x_pos, y_pos = Dataset(), Dataset()
    x_pos.RTBeamLimitingDeviceType = "ASYMX"
    x_pos.LeafJawPositions = [_ds_str(beam.jaws_mm[0]), _ds_str(beam.jaws_mm[1])]
    y_pos.RTBeamLimitingDeviceType = "ASYMY"
    y_pos.LeafJawPositions = [_ds_str(beam.jaws_mm[2]), _ds_str(beam.jaws_mm[3])]
    first.BeamLimitingDevicePositionSequence = DicomSequence([x_pos, y_pos])
    first.GantryAngle = _ds_general(beam.gantry_deg % 360.0)
    first.GantryRotationDirection = "NONE"
    first.BeamLimitingDeviceAngle = "0"
    first.BeamLimitingDeviceRotationDirection = "NONE"
    first.PatientSupportAngle = "0"
    first.PatientSupportRotationDirection = "NONE"
    first.TableTopEccentricAngle = "0"
    first.TableTopEccentricRotationDirection = "NONE"
    first.TableTopVerticalPosition = ""
    first.TableTopLongitudinalPosition = ""
    first.TableTopLateralPosition = ""
    first.IsocenterPosition = [_ds_str(v) for v in beam.isocenter_mm]
    first.CumulativeMetersetWeight = "0"
    last = Dataset()
    last.ControlPointIndex = 1
    last.CumulativeMetersetWeight = "1"
    item.ControlPointSequence = DicomSequence([first, last])
    item.ReferencedPatientSetupNumber = 1
    item.ReferencedToleranceTableNumber = 1
    return item


# -- Spatial registration -------------------------------------------------------------------

@dataclass(frozen=True)
class RigidRegistration:
    """A rigid registration: ``matrix`` (4×4) maps points of ``moving_frame_uid`` into the
    registered frame ``fixed_frame_uid`` (homogeneous column vectors, mm):
    ``p_fixed = matrix @ [x, y, z, 1]`` with ``[x, y, z]`` in the moving frame.
    """

    fixed_frame_uid: str
    moving_frame_uid: str
    matrix: np.ndarray = field(default_factory=lambda: np.eye(4))

    def __post_init__(self) -> None:
        m = np.asarray(self.matrix, dtype=float)
        if m.shape != (4, 4) or not np.allclose(m[3], [0, 0, 0, 1]):
            raise ValueError("a rigid registration matrix must be 4×4 with last row 0 0 0 1")
        rotation = m[:3, :3]
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6) or not np.isclose(
                np.linalg.det(rotation), 1.0, atol=1e-6):
            raise ValueError("the 3×3 part of a rigid registration must be a rotation")
        object.__setattr__(self, "matrix", m)


def write_registration(
    registration: RigidRegistration,
    path: str | Path,
    *,
    context: DicomContext,
    sop_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    description: str = "rigid registration",
) -> Path:
    """Write a Spatial Registration object (REG) with one rigid matrix.

    The object's own FrameOfReferenceUID is the fixed (registered) frame, which must be the
    context's frame. It holds two RegistrationSequence items: the fixed frame with the
    identity, and the moving frame with ``registration.matrix`` (moving → fixed).
    """
    if registration.fixed_frame_uid != context.frame_of_reference_uid:
        raise ValueError("the registration's fixed frame must be the context's frame of reference")
    sop_uid = sop_instance_uid or derived_uid(registration.fixed_frame_uid,
                                              registration.moving_frame_uid, "reg")
    series_uid = series_instance_uid or derived_uid(sop_uid, "series")
    ds = _new_dataset(SPATIAL_REGISTRATION_STORAGE, sop_uid, "REG", context, series_uid,
                      description)
    ds.ContentDate = _da(context.content_date)
    ds.ContentTime = context.content_time
    ds.InstanceNumber = 1
    ds.ContentLabel = "REGISTRATION"
    ds.ContentDescription = description[:64]
    ds.ContentCreatorName = ""
    ds.FrameOfReferenceUID = context.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.Laterality = ""

    items = []
    for frame_uid, matrix in ((registration.fixed_frame_uid, np.eye(4)),
                              (registration.moving_frame_uid, registration.matrix)):
        item = Dataset()
        item.FrameOfReferenceUID = frame_uid
        matrix_item = Dataset()
        matrix_item.FrameOfReferenceTransformationMatrixType = "RIGID"
        matrix_item.FrameOfReferenceTransformationMatrix = [_ds_general(v) for v in
                                                            np.asarray(matrix).ravel()]
        matrix_reg = Dataset()
        matrix_reg.MatrixSequence = DicomSequence([matrix_item])
        category = Dataset()
        category.CodeValue = "125025"
        category.CodingSchemeDesignator = "DCM"
        category.CodeMeaning = "Visual Alignment"
        matrix_reg.RegistrationTypeCodeSequence = DicomSequence([category])
        item.MatrixRegistrationSequence = DicomSequence([matrix_reg])
        items.append(item)
    ds.RegistrationSequence = DicomSequence(items)
    return _save(ds, path)
