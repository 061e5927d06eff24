"""Minimal synthetic DICOM-RT objects for tests (RTPLAN, RTSTRUCT, RTDOSE), built with pydicom.

Independent of rtcheck's own writer: each builder follows the DICOM definitions directly,
so the readers are tested against the standard, not against rtcheck's idea of it.

Dose voxels are filled from a function of the patient position, computed here from the
definition: the voxel at (frame f, row r, column c) is at
``ImagePositionPatient + c·Δcol·row_dir + r·Δrow·col_dir + offset[f]·(row_dir × col_dir)``
where PixelSpacing = (Δrow, Δcol).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

RT_DOSE = "1.2.840.10008.5.1.4.1.1.481.2"
RT_STRUCT = "1.2.840.10008.5.1.4.1.1.481.3"
RT_PLAN = "1.2.840.10008.5.1.4.1.1.481.5"
FRAME = "1.2.826.0.1.3680043.8.498.1"

HFS = (1, 0, 0, 0, 1, 0)


def linear_dose(pos: np.ndarray) -> np.ndarray:
    """A dose (Gy) that differs along every axis, so any flip or transpose shows."""
    return 5.0 + 0.01 * pos[..., 0] + 0.02 * pos[..., 1] + 0.04 * pos[..., 2]


def _base(sop_class: str, modality: str, uid: str | None) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid or generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = modality
    ds.PatientID = "SYNTH01"
    ds.PatientName = "Synthetic^Test"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyDate = "20240102"
    return ds


def save(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def voxel_positions(
    iop: Sequence[float],
    ipp: Sequence[float],
    spacing: Sequence[float],
    rows: int,
    cols: int,
    offsets: Sequence[float],
) -> np.ndarray:
    """(frames, rows, cols, 3) patient positions of the voxels, by the DICOM definition."""
    row_dir = np.asarray(iop[:3], dtype=float)
    col_dir = np.asarray(iop[3:], dtype=float)
    normal = np.cross(row_dir, col_dir)
    f = np.asarray(offsets, dtype=float)[:, None, None, None]
    r = np.arange(rows)[None, :, None, None]
    c = np.arange(cols)[None, None, :, None]
    return np.asarray(ipp, float) + c * spacing[1] * row_dir + r * spacing[0] * col_dir + f * normal


def dose_dataset(
    *,
    iop: Sequence[float] = HFS,
    ipp: Sequence[float] = (-10.0, -20.0, -30.0),
    spacing: Sequence[float] = (2.0, 3.0),
    rows: int = 4,
    cols: int = 5,
    offsets: Sequence[float] = (0.0, 2.5, 5.0),
    stored_offsets: Sequence[float] | None = None,
    func: Callable[[np.ndarray], np.ndarray] = linear_dose,
    scaling: float | None = 1e-4,
    units: str = "GY",
    summation: str = "PLAN",
    plan_uid: str | None = None,
    structure_set_uid: str | None = None,
    beam_number: int | None = None,
    frame: str = FRAME,
    uid: str | None = None,
) -> Dataset:
    """An RTDOSE whose voxels hold ``func(position)`` (Gy), quantised by ``scaling``.

    ``stored_offsets`` overrides what is written as GridFrameOffsetVector (e.g. absolute
    coordinates), while ``offsets`` is what places the voxels.
    """
    ds = _base(RT_DOSE, "RTDOSE", uid)
    pos = voxel_positions(iop, ipp, spacing, rows, cols, offsets)
    dose = func(pos)
    step = scaling if scaling is not None else 1e-4
    pixels = np.rint(dose / step).astype(np.uint32)
    ds.FrameOfReferenceUID = frame
    ds.ImagePositionPatient = [float(v) for v in ipp]
    ds.ImageOrientationPatient = [float(v) for v in iop]
    ds.PixelSpacing = [float(v) for v in spacing]
    ds.Rows, ds.Columns = rows, cols
    ds.NumberOfFrames = len(offsets)
    ds.FrameIncrementPointer = 0x3004000C
    ds.GridFrameOffsetVector = [
        float(v) for v in (stored_offsets if stored_offsets is not None else offsets)
    ]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 32
    ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0
    ds.DoseUnits = units
    ds.DoseType = "PHYSICAL"
    ds.DoseSummationType = summation
    if scaling is not None:
        ds.DoseGridScaling = f"{scaling:g}"
    ds.PixelData = pixels.tobytes()
    if plan_uid:
        ref = Dataset()
        ref.ReferencedSOPClassUID = RT_PLAN
        ref.ReferencedSOPInstanceUID = plan_uid
        if beam_number is not None:
            fg = Dataset()
            fg.ReferencedFractionGroupNumber = 1
            beam = Dataset()
            beam.ReferencedBeamNumber = beam_number
            fg.ReferencedBeamSequence = DicomSequence([beam])
            ref.ReferencedFractionGroupSequence = DicomSequence([fg])
        ds.ReferencedRTPlanSequence = DicomSequence([ref])
    if structure_set_uid:
        ref = Dataset()
        ref.ReferencedSOPClassUID = RT_STRUCT
        ref.ReferencedSOPInstanceUID = structure_set_uid
        ds.ReferencedStructureSetSequence = DicomSequence([ref])
    return ds


def square(z: float, half: float = 10.0, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    """A closed square contour (4 points, x, y, z) of side 2·half mm centred at (cx, cy)."""
    return np.array(
        [
            [cx - half, cy - half, z],
            [cx + half, cy - half, z],
            [cx + half, cy + half, z],
            [cx - half, cy + half, z],
        ],
        dtype=float,
    )


def structure_dataset(
    rois: Sequence[dict],
    *,
    frame: str = FRAME,
    uid: str | None = None,
    label: str = "SYNTH",
) -> Dataset:
    """An RTSTRUCT. Each roi: {number, name, contours: [(N,3) array], type='CLOSED_PLANAR',
    interpreted='ORGAN', frame=None, no_contour_sequence=False}."""
    ds = _base(RT_STRUCT, "RTSTRUCT", uid)
    ds.StructureSetLabel = label
    ref_frame = Dataset()
    ref_frame.FrameOfReferenceUID = frame
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([ref_frame])
    declared, contours, observations = [], [], []
    for roi in rois:
        item = Dataset()
        item.ROINumber = roi["number"]
        item.ROIName = roi["name"]
        item.ReferencedFrameOfReferenceUID = roi.get("frame", frame)
        item.ROIGenerationAlgorithm = "MANUAL"
        declared.append(item)
        rc = Dataset()
        rc.ReferencedROINumber = roi["number"]
        rc.ROIDisplayColor = [255, 0, 0]
        if not roi.get("no_contour_sequence"):
            seq = []
            for pts in roi.get("contours", []):
                c = Dataset()
                c.ContourGeometricType = roi.get("type", "CLOSED_PLANAR")
                c.NumberOfContourPoints = len(pts)
                c.ContourData = [f"{v:.4f}" for v in np.asarray(pts, float).ravel()]
                seq.append(c)
            rc.ContourSequence = DicomSequence(seq)
        contours.append(rc)
        obs = Dataset()
        obs.ObservationNumber = roi["number"]
        obs.ReferencedROINumber = roi["number"]
        obs.RTROIInterpretedType = roi.get("interpreted", "ORGAN")
        obs.ROIInterpreter = ""
        observations.append(obs)
    ds.StructureSetROISequence = DicomSequence(declared)
    ds.ROIContourSequence = DicomSequence(contours)
    ds.RTROIObservationsSequence = DicomSequence(observations)
    return ds


def plan_dataset(
    *,
    structure_set_uid: str | None,
    fractions: Sequence[int] = (5,),
    references: Sequence[tuple[str, str, float]] = (("TARGET", "SITE", 40.0),),
    beams: Sequence[int] = (1,),
    frame: str = FRAME,
    uid: str | None = None,
    label: str = "PLAN1",
    plan_date: str | None = "20240105",
) -> Dataset:
    """An RTPLAN. ``references``: (DoseReferenceType, DoseReferenceStructureType, dose Gy)."""
    ds = _base(RT_PLAN, "RTPLAN", uid)
    ds.FrameOfReferenceUID = frame
    ds.RTPlanLabel = label
    if plan_date:
        ds.RTPlanDate = plan_date
    ds.RTPlanGeometry = "PATIENT"
    refs = []
    for i, (kind, structure, dose) in enumerate(references, start=1):
        r = Dataset()
        r.DoseReferenceNumber = i
        r.DoseReferenceType = kind
        r.DoseReferenceStructureType = structure
        if kind == "TARGET":
            r.TargetPrescriptionDose = dose
        else:
            r.OrganAtRiskMaximumDose = dose
        refs.append(r)
    ds.DoseReferenceSequence = DicomSequence(refs)
    groups = []
    for g, n in enumerate(fractions, start=1):
        fg = Dataset()
        fg.FractionGroupNumber = g
        fg.NumberOfFractionsPlanned = n
        fg.NumberOfBeams = len(beams)
        fg.NumberOfBrachyApplicationSetups = 0
        refb = []
        for b in beams:
            rb = Dataset()
            rb.ReferencedBeamNumber = b
            rb.BeamMeterset = 100.0
            refb.append(rb)
        fg.ReferencedBeamSequence = DicomSequence(refb)
        groups.append(fg)
    ds.FractionGroupSequence = DicomSequence(groups)
    beam_items = []
    for b in beams:
        beam = Dataset()
        beam.BeamNumber = b
        beam.BeamName = f"B{b}"
        beam.TreatmentDeliveryType = "TREATMENT"
        beam_items.append(beam)
    ds.BeamSequence = DicomSequence(beam_items)
    if structure_set_uid:
        ref = Dataset()
        ref.ReferencedSOPClassUID = RT_STRUCT
        ref.ReferencedSOPInstanceUID = structure_set_uid
        ds.ReferencedStructureSetSequence = DicomSequence([ref])
    return ds


def simple_export(
    folder: Path, *, dose_kwargs: dict | None = None, frame_struct: str = FRAME
) -> dict[str, Path]:
    """A complete small export (plan, structures with a box ROI, plan dose) in ``folder``."""
    ss = structure_dataset(
        [
            {"number": 1, "name": "Box", "contours": [square(z) for z in (-25.0, -22.5, -20.0)]},
            {"number": 2, "name": "Empty", "no_contour_sequence": True},
        ],
        frame=frame_struct,
    )
    plan = plan_dataset(structure_set_uid=ss.SOPInstanceUID)
    grid = {
        "ipp": (-20.0, -20.0, -30.0),
        "rows": 21,
        "cols": 14,
        "offsets": tuple(np.arange(7) * 2.5),
    }
    grid.update(dose_kwargs or {})
    dose = dose_dataset(plan_uid=plan.SOPInstanceUID, **grid)
    return {
        "plan": save(plan, folder / "RP.plan.dcm"),
        "structures": save(ss, folder / "RS.struct.dcm"),
        "dose": save(dose, folder / "RD.dose.dcm"),
    }
