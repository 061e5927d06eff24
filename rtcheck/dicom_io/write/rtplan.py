"""Writing a plan as an RT Plan (static photon beams, one fraction group, dose references)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from rtcheck.models import Plan

from .common import (
    RT_PLAN_STORAGE,
    RT_STRUCTURE_SET_STORAGE,
    DicomContext,
    da,
    derived_uid,
    ds_general,
    ds_str,
    new_dataset,
    save,
)


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
    ds = new_dataset(RT_PLAN_STORAGE, plan.sop_instance_uid, "RTPLAN", context, series_uid,
                      description or "RT plan")
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = context.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.RTPlanLabel = (plan.label or "PLAN")[:16]
    if plan.name:
        ds.RTPlanName = plan.name[:64]
    if description:
        ds.RTPlanDescription = description
    ds.RTPlanDate = da(plan.plan_date) if plan.plan_date else ""
    ds.RTPlanTime = plan_time if plan.plan_date else ""
    ds.PlanIntent = plan_intent
    ds.RTPlanGeometry = "PATIENT"
    ref_ss = Dataset()
    ref_ss.ReferencedSOPClassUID = RT_STRUCTURE_SET_STORAGE
    ref_ss.ReferencedSOPInstanceUID = plan.referenced_structure_set_uid
    ds.ReferencedStructureSetSequence = DicomSequence([ref_ss])

    dose_items = _dose_reference_items(plan, dose_references)
    if dose_items:
        ds.DoseReferenceSequence = DicomSequence(dose_items)
    _set_setup(ds, patient_position)
    ds.FractionGroupSequence = DicomSequence([_fraction_group(plan, beams)])
    ds.BeamSequence = DicomSequence(
        [_beam_item(number, beam) for number, beam in enumerate(beams, start=1)])
    ds.ApprovalStatus = "UNAPPROVED"
    return save(ds, path)


def _dose_reference_items(plan: Plan, dose_references: Sequence[DoseReference]) -> list[Dataset]:
    """The DoseReferenceSequence items: one TARGET per given reference (TargetPrescriptionDose
    in total Gy), or one SITE reference for the plan's prescription when none is given."""
    items = []
    for number, ref in enumerate(dose_references, start=1):
        item = Dataset()
        item.DoseReferenceNumber = number
        item.DoseReferenceUID = derived_uid(plan.sop_instance_uid, "doseref", number)
        item.DoseReferenceStructureType = "VOLUME"
        item.ReferencedROINumber = ref.roi_number
        if ref.description:
            item.DoseReferenceDescription = ref.description[:64]
        item.DoseReferenceType = "TARGET"
        item.TargetPrescriptionDose = ds_general(ref.prescription_gy)
        items.append(item)
    if not dose_references and plan.prescription_gy is not None:
        item = Dataset()
        item.DoseReferenceNumber = 1
        item.DoseReferenceUID = derived_uid(plan.sop_instance_uid, "doseref", 1)
        item.DoseReferenceStructureType = "SITE"
        item.DoseReferenceDescription = "prescription"
        item.DoseReferenceType = "TARGET"
        item.TargetPrescriptionDose = ds_general(plan.prescription_gy)
        items.append(item)
    return items


def _set_setup(ds: Dataset, patient_position: str) -> None:
    """One tolerance table and one isocentric patient setup."""
    tolerance = Dataset()
    tolerance.ToleranceTableNumber = 1
    tolerance.ToleranceTableLabel = "T1"
    ds.ToleranceTableSequence = DicomSequence([tolerance])
    setup = Dataset()
    setup.PatientPosition = patient_position
    setup.PatientSetupNumber = 1
    setup.SetupTechnique = "ISOCENTRIC"
    ds.PatientSetupSequence = DicomSequence([setup])


def _fraction_group(plan: Plan, beams: Sequence[Beam]) -> Dataset:
    """The one fraction group: NumberOfFractionsPlanned and each beam's dose and meterset."""
    group = Dataset()
    group.FractionGroupNumber = 1
    group.NumberOfFractionsPlanned = int(plan.fractions)  # type: ignore[arg-type]
    group.NumberOfBeams = len(beams)
    group.NumberOfBrachyApplicationSetups = 0
    referenced_beams = []
    for number, beam in enumerate(beams, start=1):
        ref_beam = Dataset()
        ref_beam.ReferencedBeamNumber = number
        if beam.dose_gy is not None:
            ref_beam.BeamDose = ds_general(beam.dose_gy)
        ref_beam.BeamMeterset = ds_general(beam.meterset_mu)
        referenced_beams.append(ref_beam)
    group.ReferencedBeamSequence = DicomSequence(referenced_beams)
    return group


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
    first.NominalBeamEnergy = ds_general(beam.energy_mv)
    x_pos, y_pos = Dataset(), Dataset()
    x_pos.RTBeamLimitingDeviceType = "ASYMX"
    x_pos.LeafJawPositions = [ds_str(beam.jaws_mm[0]), ds_str(beam.jaws_mm[1])]
    y_pos.RTBeamLimitingDeviceType = "ASYMY"
    y_pos.LeafJawPositions = [ds_str(beam.jaws_mm[2]), ds_str(beam.jaws_mm[3])]
    first.BeamLimitingDevicePositionSequence = DicomSequence([x_pos, y_pos])
    first.GantryAngle = ds_general(beam.gantry_deg % 360.0)
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
    first.IsocenterPosition = [ds_str(v) for v in beam.isocenter_mm]
    first.CumulativeMetersetWeight = "0"
    last = Dataset()
    last.ControlPointIndex = 1
    last.CumulativeMetersetWeight = "1"
    item.ControlPointSequence = DicomSequence([first, last])
    item.ReferencedPatientSetupNumber = 1
    item.ReferencedToleranceTableNumber = 1
    return item


# -- Spatial registration -------------------------------------------------------------------
