"""Writing a dose grid as an RT Dose (unsigned integer pixels × DoseGridScaling, head-first
supine axes, frames on z planes that may be unevenly spaced)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from rtcheck.models import DoseGrid

from .common import (
    RT_DOSE_STORAGE,
    RT_PLAN_STORAGE,
    DicomContext,
    da,
    derived_uid,
    ds_general,
    ds_str,
    new_dataset,
    save,
)


def uniform_spacing(coords: np.ndarray, name: str) -> float:
    """The step (mm) of evenly spaced coordinates; ValueError when they are not."""
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
    summation, plan_uid = _checked_request(grid, context, summation_type, referenced_plan_uid,
                                           referenced_beam_number, bits)
    dose = np.asarray(grid.dose_gy, dtype=float)
    if np.any(dose < 0):
        raise ValueError("negative doses cannot be written as unsigned RT Dose pixel data")

    sop_uid = sop_instance_uid or (grid.sop_instance_uids[0] if grid.sop_instance_uids else None)
    if sop_uid is None:
        sop_uid = derived_uid(context.frame_of_reference_uid, plan_uid, "rtdose", summation,
                              referenced_beam_number)
    series_uid = series_instance_uid or derived_uid(sop_uid, "series")
    ds = new_dataset(RT_DOSE_STORAGE, sop_uid, "RTDOSE", context, series_uid, "RT dose")
    ds.ContentDate = da(context.content_date)
    ds.ContentTime = context.content_time
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = context.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    _set_geometry(ds, grid)
    _set_pixel_module(ds, bits)
    pixels, scaling_text = _scaled_pixels(dose, bits)
    ds.DoseUnits = dose_units
    ds.DoseType = grid.dose_type
    ds.DoseSummationType = summation
    if comment:
        ds.DoseComment = comment
    ds.DoseGridScaling = scaling_text
    ds.TissueHeterogeneityCorrection = "IMAGE"
    if plan_uid is not None:
        ds.ReferencedRTPlanSequence = DicomSequence(
            [_plan_reference(plan_uid, summation, referenced_fraction_group_number, referenced_beam_number)]
        )
    ds.PixelData = pixels.tobytes()
    ds["PixelData"].VR = "OW"
    return save(ds, path)


#: Summation types whose RT Dose must reference its RTPLAN (all but RECORD).
_NEEDS_PLAN = ("PLAN", "MULTI_PLAN", "FRACTION", "BEAM", "BRACHY", "FRACTION_SESSION", "BEAM_SESSION",
               "BRACHY_SESSION", "CONTROL_POINT")


def _checked_request(
    grid: DoseGrid,
    context: DicomContext,
    summation_type: str | None,
    referenced_plan_uid: str | None,
    referenced_beam_number: int | None,
    bits: int,
) -> tuple[str, str | None]:
    """The summation type and referenced plan UID of a dose to write, after refusing what
    DICOM does not allow (ValueError)."""
    if bits not in (16, 32):
        raise ValueError("bits must be 16 or 32")
    summation = (summation_type or grid.summation_type).upper()
    plan_uid = referenced_plan_uid or grid.referenced_plan_uid
    if summation == "BEAM" and referenced_beam_number is None:
        raise ValueError("a BEAM dose needs referenced_beam_number")
    if plan_uid is None and summation in _NEEDS_PLAN:
        raise ValueError(f"a {summation} dose must reference its RTPLAN (referenced_plan_uid)")
    if grid.frame_of_reference_uid not in (None, context.frame_of_reference_uid):
        raise ValueError("dose grid and context have different frames of reference")
    return summation, plan_uid


def _set_geometry(ds: Dataset, grid: DoseGrid) -> None:
    """Position, orientation (head-first supine), spacing, frames and image pixel module."""
    dx = uniform_spacing(grid.x_mm, "x_mm")
    dy = uniform_spacing(grid.y_mm, "y_mm")
    z = np.asarray(grid.z_mm, dtype=float)
    ds.ImagePositionPatient = [ds_str(grid.x_mm[0]), ds_str(grid.y_mm[0]), ds_str(z[0])]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.PixelSpacing = [ds_str(dy), ds_str(dx)]  # row spacing (y), column spacing (x)
    uniform_z = z.size < 2 or np.allclose(np.diff(z), np.diff(z)[0], rtol=0, atol=1e-4)
    ds.SliceThickness = ds_str(z[1] - z[0]) if z.size > 1 and uniform_z else ""
    ds.GridFrameOffsetVector = [ds_str(v) for v in z - z[0]]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = int(z.size)
    ds.FrameIncrementPointer = 0x3004000C
    ds.Rows = int(grid.y_mm.size)
    ds.Columns = int(grid.x_mm.size)


def _scaled_pixels(dose: np.ndarray, bits: int) -> tuple[np.ndarray, str]:
    """Unsigned ``bits``-bit pixels and the DoseGridScaling text: the maximum dose uses the
    full range, each voxel within half a scaling step (the scaling as written, so that
    pixels × DoseGridScaling is what a reader gets)."""
    max_value = float(2**bits - 1)
    dose_max = float(dose.max()) if dose.size else 0.0
    scaling = dose_max / max_value if dose_max > 0 else 1.0
    scaling_text = ds_general(scaling)
    scaling = float(scaling_text)
    pixels = np.clip(np.rint(dose / scaling), 0, max_value)
    return pixels.astype("<u2" if bits == 16 else "<u4"), scaling_text


def _set_pixel_module(ds: Dataset, bits: int) -> None:
    """Bits allocated/stored, high bit and unsigned representation."""
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0


def _plan_reference(
    plan_uid: str, summation: str, fraction_group_number: int, beam_number: int | None
) -> Dataset:
    """The ReferencedRTPlanSequence item (with the fraction group and beam for FRACTION and
    BEAM doses)."""
    ref = Dataset()
    ref.ReferencedSOPClassUID = RT_PLAN_STORAGE
    ref.ReferencedSOPInstanceUID = plan_uid
    if summation in ("FRACTION", "BEAM"):
        group = Dataset()
        group.ReferencedFractionGroupNumber = fraction_group_number
        if summation == "BEAM":
            beam = Dataset()
            beam.ReferencedBeamNumber = int(beam_number)  # type: ignore[arg-type]
            group.ReferencedBeamSequence = DicomSequence([beam])
        ref.ReferencedFractionGroupSequence = DicomSequence([group])
    return ref
