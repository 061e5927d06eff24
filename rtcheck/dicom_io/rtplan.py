"""RTPLAN: the plan as checking needs it (fractions, prescription in Gy, label, date) and
the beams that deliver dose (for the completeness of per-beam doses)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from ..models import Plan
from .attributes import first_date, referenced_uids, text_value
from .files import guarded_build, read_required


@dataclass(frozen=True)
class PlanInfo:
    """A plan with the reader's notes on it (what it had to assume, e.g. several fraction
    groups), for the course's notes."""

    plan: Plan
    notes: tuple[str, ...]


def _prescription_gy(ds: Dataset) -> float | None:
    """Total prescription (Gy) from DoseReferenceSequence TARGET items.

    The largest TargetPrescriptionDose of the SITE targets; when there are none, of the
    VOLUME (ROI-based) targets. Point-type references (COORDINATES, POINT: calculation
    points) are never taken as the prescription. None when the plan states none.
    """
    by_kind: dict[str, list[float]] = {}
    for item in ds.get("DoseReferenceSequence") or []:
        if str(item.get("DoseReferenceType", "")).upper() != "TARGET":
            continue
        dose = item.get("TargetPrescriptionDose")
        if dose is None or str(dose).strip() == "":
            continue
        value = float(dose)
        if not np.isfinite(value) or value <= 0:
            continue
        kind = str(item.get("DoseReferenceStructureType", "")).upper()
        by_kind.setdefault(kind, []).append(value)
    for kind in ("SITE", "VOLUME"):
        if by_kind.get(kind):
            return max(by_kind[kind])
    return None


def plan_from(path: Path, ds: Dataset) -> PlanInfo:
    """The plan of an RTPLAN data set read from ``path`` (run under :func:`guarded_build`).

    The number of fractions is that of the only fraction group; with several groups it is
    unknown (None) and a note says why.
    """
    notes: list[str] = []
    fractions: int | None = None
    groups = ds.get("FractionGroupSequence") or []
    if len(groups) == 1:
        planned = groups[0].get("NumberOfFractionsPlanned")
        if planned is not None and str(planned).strip() != "" and int(planned) >= 1:
            fractions = int(planned)
    elif len(groups) > 1:
        # Several fraction groups (sequential phases, or lesions with their own schedules)
        # have no single fraction count: taking one group's count would convert the summed
        # dose with the wrong fractionation and could pick a too-lenient table.
        counts = [str(g.get("NumberOfFractionsPlanned", "?")) for g in groups]
        notes.append(
            f"the plan has {len(groups)} fraction groups ({' + '.join(counts)} fractions): "
            "no single number of fractions"
        )
    referenced = referenced_uids(ds, "ReferencedStructureSetSequence")
    plan = Plan(
        sop_instance_uid=str(ds.SOPInstanceUID),
        fractions=fractions,
        prescription_gy=_prescription_gy(ds),
        label=text_value(ds, "RTPlanLabel"),
        name=text_value(ds, "RTPlanName"),
        patient_id=text_value(ds, "PatientID"),
        plan_date=first_date(ds, "RTPlanDate", "StudyDate", "ContentDate"),
        referenced_structure_set_uid=referenced[0] if referenced else None,
        frame_of_reference_uid=text_value(ds, "FrameOfReferenceUID"),
        source_file=path,
    )
    return PlanInfo(plan=plan, notes=tuple(notes))


def read_plan(path: str | Path) -> Plan:
    """Read an RTPLAN: fractions (first fraction group), prescription (Gy), label, date.

    ``plan_date`` is RTPlanDate, else StudyDate, else ContentDate.
    """
    plan_file = read_required(path, "RTPLAN")
    return guarded_build(plan_file.path, plan_from, plan_file.dataset).plan


def treatment_beam_numbers(ds: Dataset) -> set[int]:
    """Beam numbers of the first fraction group that deliver dose (no setup beams)."""
    groups = ds.get("FractionGroupSequence") or []
    if not groups:
        return set()
    beams = {}
    for seq in ("BeamSequence", "IonBeamSequence"):
        for beam in ds.get(seq) or []:
            if beam.get("BeamNumber") is not None:
                beams[int(beam.BeamNumber)] = beam
    numbers = set()
    for ref in groups[0].get("ReferencedBeamSequence") or []:
        if ref.get("ReferencedBeamNumber") is None:
            continue
        number = int(ref.ReferencedBeamNumber)
        meterset = ref.get("BeamMeterset")
        if meterset is not None and str(meterset).strip() != "" and float(meterset) == 0:
            continue
        beam = beams.get(number)
        if beam is not None and str(beam.get("TreatmentDeliveryType", "")).upper() == "SETUP":
            continue
        numbers.add(number)
    return numbers
