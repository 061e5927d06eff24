"""RTDOSE: a dose grid in Gy, in canonical order, and the sum of per-beam doses.

Dose grids are returned in canonical order (array axes z, y, x, each increasing), whatever
the axis-aligned ImageOrientationPatient of the file; oblique grids are refused. Doses are
in Gy. RELATIVE doses, per-fraction doses and dose-uncertainty grids are refused, each with
an :class:`~rtcheck.errors.InputError` naming the file and what to export instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydicom.dataset import Dataset

from ..errors import InputError
from ..models import DoseGrid
from .attributes import referenced_uids, text_value
from .dose_bounds import (
    RE_EXPORT_DOSE,
    check_grid_placement,
    check_pixel_spacing,
    check_plane_spacing,
    check_plausible_dose,
)
from .files import as_paths, guarded_build, read_required

#: Largest off-axis component (of a unit direction cosine) still taken as axis-aligned.
#: 1e-3 is a rotation of 0.06°, i.e. at most 0.3 mm over a 300 mm dose grid.
ORIENTATION_TOLERANCE = 1e-3




class AxisDirection(NamedTuple):
    """The patient axis (0, 1, 2 for x, y, z) a direction cosine runs along, and its sign."""

    axis: int
    sign: float


def _axis(vector: np.ndarray, label: str, path: Path) -> AxisDirection:
    """The patient axis and sign of an axis-aligned direction cosine (``label``: "row" or
    "column", for the message); oblique ones are refused."""
    norm = math.sqrt(float(vector.dot(vector)))  # as np.linalg.norm, without its overhead
    if not abs(norm - 1.0) < 1e-2:
        raise InputError(
            f"ImageOrientationPatient {label} direction {vector.tolist()} is not a unit vector",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    size = [abs(float(v)) for v in vector]  # finite here (the norm is about 1)
    axis = size.index(max(size))  # the first largest, as np.argmax
    if max(v for i, v in enumerate(size) if i != axis) > ORIENTATION_TOLERANCE:
        raise InputError(
            f"the dose grid is oblique (ImageOrientationPatient {label} direction "
            f"{[round(float(v), 6) for v in vector]} is not along a patient axis); rtcheck "
            "only reads dose grids aligned with the patient axes",
            path=path,
            remedy="re-export the dose on a grid aligned with the patient (CT) axes, without "
            "rotation",
        )
    return AxisDirection(axis=axis, sign=1.0 if vector[axis] > 0 else -1.0)


@dataclass(frozen=True)
class DoseHeader:
    """What is needed to decide about a dose before reading its pixels."""

    units: str
    summation: str
    dose_type: str
    plan_uids: tuple[str, ...]
    beam_number: int | None


def dose_header(ds: Dataset) -> DoseHeader:
    """The header of an RTDOSE data set (no pixels needed): units, summation and dose type
    upper-cased, the referenced plans and, for a per-beam dose, its beam number."""
    beam = None
    try:
        beam = int(
            ds.ReferencedRTPlanSequence[0]
            .ReferencedFractionGroupSequence[0]
            .ReferencedBeamSequence[0]
            .ReferencedBeamNumber
        )
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        beam = None
    return DoseHeader(
        units=str(ds.get("DoseUnits", "") or "").strip().upper(),
        summation=str(ds.get("DoseSummationType", "") or "").strip().upper(),
        dose_type=str(ds.get("DoseType", "") or "").strip().upper() or "PHYSICAL",
        plan_uids=tuple(referenced_uids(ds, "ReferencedRTPlanSequence")),
        beam_number=beam,
    )


def _check_dose_header(path: Path, ds: Dataset) -> DoseHeader:
    """The header of an RTDOSE read from ``path``; refused when the dose is relative, in
    unknown units, an uncertainty grid or a single fraction's."""
    header = dose_header(ds)
    if header.units == "RELATIVE":
        raise InputError(
            "the dose is RELATIVE (DoseUnits RELATIVE, a fraction of an unstated reference), "
            "not absolute dose in Gy; rtcheck cannot check relative doses",
            path=path,
            remedy="re-export the dose as absolute dose (DoseUnits GY)",
        )
    if header.units not in ("GY", "CGY"):
        raise InputError(
            f"unknown DoseUnits {header.units or '(missing)'!r}; expected GY",
            path=path,
            remedy="re-export the dose as absolute dose in Gy (DoseUnits GY)",
        )
    if header.dose_type == "ERROR":
        raise InputError(
            "this RTDOSE is a dose-uncertainty grid (DoseType ERROR), not a dose",
            path=path,
            remedy="give the plan's physical dose",
        )
    if header.summation == "FRACTION":
        raise InputError(
            "the dose is for a single fraction (DoseSummationType FRACTION); rtcheck needs the "
            "plan's total dose",
            path=path,
            remedy="re-export the dose summed over the plan (DoseSummationType PLAN)",
        )
    return header


def _dose_offsets(
    ds: Dataset, frames: int, normal_axis: int, normal_sign: float, ipp: np.ndarray, path: Path
) -> np.ndarray:
    """Coordinates (mm) of the dose planes along the patient axis of the frame normal.

    GridFrameOffsetVector holds offsets along the frame normal relative to
    ImagePositionPatient (first value 0), or, in older exports, the planes' absolute
    coordinates (first value equal to ImagePositionPatient along the normal, non-zero).
    """
    gfov = ds.get("GridFrameOffsetVector")
    if gfov is None:
        if frames != 1:
            raise InputError(
                f"the dose has {frames} frames but no GridFrameOffsetVector (3004,000C); the "
                "file is incomplete",
                path=path,
                remedy=RE_EXPORT_DOSE,
            )
        values = [0.0]
    else:
        try:
            values = [float(v) for v in gfov]
        except TypeError:  # a single value
            values = [float(gfov)]
    offsets = np.asarray(values, dtype=float)
    if not np.isfinite(offsets).all():
        raise InputError(
            "GridFrameOffsetVector holds a value that is not a finite number",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    if offsets.size != frames:
        raise InputError(
            f"GridFrameOffsetVector has {offsets.size} values for {frames} dose frames",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    if offsets[0] == 0.0:
        coords = ipp[normal_axis] + normal_sign * offsets
    elif abs(offsets[0] - ipp[normal_axis]) < 1e-3:
        coords = offsets.copy()
    else:
        raise InputError(
            f"GridFrameOffsetVector starts at {offsets[0]:g} mm, neither 0 (offsets relative "
            f"to ImagePositionPatient) nor the first plane's position {ipp[normal_axis]:g} mm "
            "(absolute coordinates); the dose planes cannot be placed",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    steps = np.diff(coords)
    if steps.size and not (np.all(steps > 0) or np.all(steps < 0)):
        raise InputError(
            "GridFrameOffsetVector is not strictly increasing or decreasing (repeated or "
            "unordered dose planes)",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    check_plane_spacing(path, coords)
    return coords


#: Transfer syntaxes whose PixelData is stored uncompressed, little endian, as read from the
#: file: Implicit VR Little Endian, Explicit VR Little Endian.
_NATIVE_LITTLE_ENDIAN = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})


def _native_pixels(ds: Dataset, frames: int, rows: int, cols: int) -> np.ndarray | None:
    """The stored values of an RTDOSE's PixelData, read straight from its bytes; None when
    the data are anything but the plain case, for pydicom's ``pixel_array`` to decode (and
    to refuse what it refuses, with its message).

    Reading a small dose, ``pixel_array`` spends more time gathering and validating its
    options than the ``np.frombuffer`` it then makes. The plain case is exactly the
    one where pydicom returns the bytes as they are: an uncompressed little-endian transfer
    syntax, integer PixelData only (no Float/DoubleFloatPixelData), one sample per pixel,
    MONOCHROME2, 16 or 32 bits allocated and all of them stored, PixelRepresentation 0 or 1,
    Rows and Columns in 1…65535, at least one frame, and exactly the number of bytes
    ``frames × rows × columns`` pixels need (no excess padding, which pydicom trims with a
    warning). The values, their dtype and the array's length are then pydicom's.
    """
    meta = getattr(ds, "file_meta", None)
    if meta is None or meta.get("TransferSyntaxUID") not in _NATIVE_LITTLE_ENDIAN:
        return None
    if 0x7FE00008 in ds or 0x7FE00009 in ds:  # FloatPixelData, DoubleFloatPixelData
        return None
    data = getattr(ds.get_item(0x7FE00010), "value", None)  # PixelData, not converted
    bits = ds.get("BitsAllocated")
    representation = ds.get("PixelRepresentation")
    if not (
        isinstance(data, bytes)
        and bits in (16, 32)
        and ds.get("BitsStored") == bits
        and representation in (0, 1)
        and ds.get("SamplesPerPixel") == 1
        and ds.get("PhotometricInterpretation") == "MONOCHROME2"
        and 0 < rows < 0x10000
        and 0 < cols < 0x10000
        and frames >= 1
        and len(data) == frames * rows * cols * (bits // 8)
    ):
        return None
    if 0x00280008 in ds and ds.get("NumberOfFrames") != frames:
        return None  # an empty or zero NumberOfFrames: pydicom warns and takes 1 frame
    dtype = np.dtype(f"<{'ui'[representation]}{bits // 8}")
    return np.frombuffer(data, dtype=dtype)


def _gy_per_stored_unit(path: Path, ds: Dataset, header: DoseHeader) -> float:
    """DoseGridScaling in Gy per stored pixel value (cGy doses converted); refused when
    absent or not a positive number."""
    scaling_raw = ds.get("DoseGridScaling")
    if scaling_raw is None or str(scaling_raw).strip() == "":
        raise InputError(
            "RTDOSE has no DoseGridScaling (3004,000E); the file is incomplete",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    scaling = float(scaling_raw)
    if not (np.isfinite(scaling) and scaling > 0):
        raise InputError(
            f"DoseGridScaling {scaling_raw!r} is not a positive number",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    if header.units == "CGY":  # not a DICOM term, but unambiguous
        scaling /= 100.0
    return scaling


#: The attributes that place the dose grid in the patient; none may be missing.
_GEOMETRY_KEYWORDS = (
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "Rows",
    "Columns",
)


def _required_geometry(path: Path, ds: Dataset) -> dict[str, Any]:
    """The values of :data:`_GEOMETRY_KEYWORDS`; an RTDOSE without pixel data (or with an
    empty PixelData) or without one of them is refused as incomplete."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise InputError(
            "RTDOSE has no pixel data; the file is incomplete", path=path, remedy=RE_EXPORT_DOSE
        )
    stored = ds.get_item(0x7FE00010) if "PixelData" in ds else None
    if stored is not None and not getattr(stored, "value", None):
        raise InputError(
            "RTDOSE has empty pixel data (PixelData of 0 bytes); the file is incomplete",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    geometry: dict[str, Any] = {}
    for keyword in _GEOMETRY_KEYWORDS:
        geometry[keyword] = ds.get(keyword)
        if geometry[keyword] is None:
            raise InputError(
                f"RTDOSE has no {keyword}; the file is incomplete",
                path=path,
                remedy=RE_EXPORT_DOSE,
            )
    return geometry


def _frames_gy(
    path: Path, ds: Dataset, frames: int, rows: int, cols: int, scaling: float
) -> np.ndarray:
    """The pixel data as doses (Gy) in file order, shape (frames, rows, columns), float64.

    Plain pixel data are read straight from their bytes (:func:`_native_pixels`), anything
    else is decoded by pydicom. Negative doses are refused: they mean the pixel data are
    not read as the planning system wrote them.
    """
    pixels = _native_pixels(ds, frames, rows, cols)
    if pixels is None:
        try:
            pixels = ds.pixel_array
        except Exception as exc:  # noqa: BLE001 - pydicom/numpy raise several types here
            raise InputError(
                f"the dose pixel data cannot be decoded ({exc})", path=path, remedy=RE_EXPORT_DOSE
            ) from exc
        pixels = np.asarray(pixels)
    if pixels.size != frames * rows * cols:
        raise InputError(
            f"the dose pixel data has {pixels.size} values, expected {frames}×{rows}×{cols}",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    dose = pixels.reshape(frames, rows, cols).astype(np.float64)
    dose *= scaling  # in place: the same doubles as astype(...) * scaling, one array less
    # (unsigned stored values times a positive scaling cannot be negative)
    if dose.size and pixels.dtype.kind != "u" and float(dose.min()) < 0:
        raise InputError(
            f"the dose grid holds negative doses (down to {float(dose.min()):.3g} Gy; "
            f"PixelRepresentation {ds.get('PixelRepresentation')}): the pixel data are not read "
            "as the planning system wrote them",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    return dose


class FrameAxes(NamedTuple):
    """How the file's pixel grid lies in the patient: the patient axis (0, 1, 2 for x, y,
    z) and direction (±1) of increasing column index (``row_*``), of increasing row index
    (``col_*``) and of the frame normal (``normal_*``); the spacing (mm) between rows and
    between columns; ImagePositionPatient (mm)."""

    position_mm: np.ndarray
    row_axis: int
    row_sign: float
    col_axis: int
    col_sign: float
    normal_axis: int
    normal_sign: float
    row_spacing_mm: float
    col_spacing_mm: float


def _frame_axes(path: Path, geometry: dict[str, Any]) -> FrameAxes:
    """The grid's placement from ImagePositionPatient, ImageOrientationPatient and
    PixelSpacing; malformed values, non-positive spacing and grids that are oblique or
    whose row and column directions are parallel are refused."""
    ipp = np.asarray([float(v) for v in geometry["ImagePositionPatient"]], dtype=float)
    iop = np.asarray([float(v) for v in geometry["ImageOrientationPatient"]], dtype=float)
    spacing = [float(v) for v in geometry["PixelSpacing"]]
    if ipp.size != 3 or iop.size != 6 or len(spacing) != 2:
        raise InputError(
            "malformed ImagePositionPatient / ImageOrientationPatient / PixelSpacing",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    check_grid_placement(path, ipp, iop)
    if not all(s > 0 for s in spacing):
        raise InputError(
            f"PixelSpacing {spacing} is not positive", path=path, remedy=RE_EXPORT_DOSE
        )
    check_pixel_spacing(path, spacing)
    row_spacing, col_spacing = spacing  # between rows (along the column direction), between columns

    # The row direction cosine is the direction of increasing column index, the column
    # direction cosine that of increasing row index; frames follow their cross product.
    row = _axis(iop[:3], "row", path)
    col = _axis(iop[3:], "column", path)
    if row.axis == col.axis:
        raise InputError(
            "ImageOrientationPatient row and column directions are parallel",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    # normal = row unit × column unit: ± the third axis (+ when row, column, normal axes are
    # in cyclic order x, y, z)
    normal_axis = 3 - row.axis - col.axis
    cyclic = (row.axis, col.axis) in ((0, 1), (1, 2), (2, 0))
    normal_sign = row.sign * col.sign * (1.0 if cyclic else -1.0)
    return FrameAxes(
        position_mm=ipp,
        row_axis=row.axis,
        row_sign=row.sign,
        col_axis=col.axis,
        col_sign=col.sign,
        normal_axis=normal_axis,
        normal_sign=normal_sign,
        row_spacing_mm=row_spacing,
        col_spacing_mm=col_spacing,
    )


class CanonicalDose(NamedTuple):
    """A dose array (Gy) in canonical order (axes z, y, x) with its coordinates (mm), each
    increasing."""

    dose_gy: np.ndarray
    z_mm: np.ndarray
    y_mm: np.ndarray
    x_mm: np.ndarray


def _canonical(
    dose: np.ndarray, axes: FrameAxes, plane_mm: np.ndarray, rows: int, cols: int
) -> CanonicalDose:
    """The doses in file order (frames, rows, columns) transposed and flipped into canonical
    order; ``plane_mm`` are the frames' coordinates along the normal (:func:`_dose_offsets`)."""
    ipp = axes.position_mm
    coords_by_array_axis = {
        0: plane_mm,
        1: ipp[axes.col_axis] + axes.col_sign * axes.row_spacing_mm * np.arange(rows),
        2: ipp[axes.row_axis] + axes.row_sign * axes.col_spacing_mm * np.arange(cols),
    }
    patient_axis_of_array = {0: axes.normal_axis, 1: axes.col_axis, 2: axes.row_axis}
    array_axis_of_patient = {p: a for a, p in patient_axis_of_array.items()}
    order = [
        array_axis_of_patient[2],
        array_axis_of_patient[1],
        array_axis_of_patient[0],
    ]  # z, y, x
    if order != [0, 1, 2]:
        dose = np.transpose(dose, order)
    coords = [coords_by_array_axis[a] for a in order]
    for i, c in enumerate(coords):
        if c.size > 1 and c[-1] < c[0]:
            dose = np.flip(dose, axis=i)
            coords[i] = c[::-1].copy()
    z, y, x = coords
    return CanonicalDose(dose_gy=dose, z_mm=z, y_mm=y, x_mm=x)


def _check_even_spacing(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    """Refuse uneven spacing along x or y (mm): only the z planes of a canonical grid may be
    unevenly spaced (a sagittal or coronal grid's GridFrameOffsetVector is not)."""
    for label, c in (("x", x), ("y", y)):
        steps = c[1:] - c[:-1]
        if steps.size and not (
            bool((np.abs(steps - steps[0]) <= 1e-3).all())  # (implies allclose; cheaper)
            or np.allclose(steps, steps[0], rtol=0, atol=1e-3)
        ):
            raise InputError(
                f"the dose planes are unevenly spaced along {label} (GridFrameOffsetVector of a "
                "sagittal or coronal dose grid); rtcheck reads uneven spacing only between "
                "axial planes",
                path=path,
                remedy="re-export the dose on an axial grid, or with evenly spaced planes",
            )


def dose_grid_from(path: Path, ds: Dataset) -> DoseGrid:
    """One RTDOSE data set (read with pixels) from ``path`` as a canonical DoseGrid in Gy
    (run under :func:`guarded_build`).

    The steps, each refusing what it cannot read: the header (units, summation, type), the
    scaling, the required attributes, the pixels as Gy, the grid's placement, the planes'
    coordinates, canonical order, even in-plane spacing.
    """
    header = _check_dose_header(path, ds)
    scaling = _gy_per_stored_unit(path, ds, header)
    geometry = _required_geometry(path, ds)
    rows, cols = int(geometry["Rows"]), int(geometry["Columns"])
    frames = int(ds.get("NumberOfFrames") or 1)
    dose = _frames_gy(path, ds, frames, rows, cols, scaling)
    axes = _frame_axes(path, geometry)
    planes_mm = _dose_offsets(ds, frames, axes.normal_axis, axes.normal_sign, axes.position_mm, path)
    canonical = _canonical(dose, axes, planes_mm, rows, cols)
    _check_even_spacing(path, canonical.x_mm, canonical.y_mm)
    # the grid takes the array over (no copy) when it is ours alone: not a view of pixels
    grid = DoseGrid.taking(
        dose_gy=np.ascontiguousarray(canonical.dose_gy),
        x_mm=canonical.x_mm,
        y_mm=canonical.y_mm,
        z_mm=canonical.z_mm,
        frame_of_reference_uid=text_value(ds, "FrameOfReferenceUID"),
        sop_instance_uids=(str(ds.SOPInstanceUID),),
        source_files=(path,),
        referenced_plan_uid=header.plan_uids[0] if header.plan_uids else None,
        dose_type=header.dose_type,
        summation_type=header.summation or "PLAN",
    )
    check_plausible_dose(path, ds.get("DoseGridScaling"), grid)
    return grid


def read_dose(paths: str | Path | Iterable[str | Path]) -> DoseGrid:
    """Read one RTDOSE, or several per-beam RTDOSEs (DoseSummationType BEAM) and sum them.

    Several doses are summed only when all are BEAM doses of the same plan on identical grids
    in one frame of reference; summing whole-plan doses is refused (check each plan on its
    own). The sum has ``summation_type`` "BEAM_SUM".
    """
    files = as_paths(paths)
    if not files:
        raise InputError("no dose file given", remedy="give the plan's RTDOSE file")
    grids = []
    for f in files:
        dose_file = read_required(f, "RTDOSE", pixels=True)
        grids.append(guarded_build(dose_file.path, dose_grid_from, dose_file.dataset))
    if len(grids) == 1:
        return grids[0]
    return sum_beam_doses(grids)


def sum_beam_doses(grids: Sequence[DoseGrid]) -> DoseGrid:
    """The voxel-wise sum (Gy) of per-beam doses, summation type "BEAM_SUM".

    Refused: one dose given twice, a dose that is not a BEAM dose, doses of different plans,
    frames of reference, grids or dose types.
    """
    first = grids[0]
    names = ", ".join(str(g.source_files[0]) for g in grids)
    seen: dict[str, Path] = {}
    for g in grids:
        for uid in g.sop_instance_uids:
            if uid in seen:
                raise InputError(
                    f"the same dose (SOPInstanceUID {uid}) is given twice ({seen[uid].name} and "
                    f"{g.source_files[0].name}); summing it would count one beam twice",
                    path=g.source_files[0],
                    remedy="give each beam's dose once",
                )
            seen[uid] = g.source_files[0]
    not_beam = [g for g in grids if g.summation_type != "BEAM"]
    if not_beam:
        raise InputError(
            f"several doses were given ({names}) but {not_beam[0].source_files[0].name} is a "
            f"{not_beam[0].summation_type} dose; only per-beam doses (DoseSummationType BEAM) "
            "of one plan are summed",
            path=not_beam[0].source_files[0],
            remedy="give the single plan dose, or one dose per beam of the same plan",
        )
    for g in grids[1:]:
        if g.referenced_plan_uid != first.referenced_plan_uid:
            raise InputError(
                f"beam doses belong to different plans ({first.referenced_plan_uid} and "
                f"{g.referenced_plan_uid})",
                path=g.source_files[0],
                remedy="give the beam doses of one plan only",
            )
        if g.frame_of_reference_uid != first.frame_of_reference_uid:
            raise InputError(
                "beam doses are in different frames of reference",
                path=g.source_files[0],
                remedy="give the beam doses of one plan only",
            )
        if not first.same_geometry(g):
            raise InputError(
                f"beam doses are on different grids ({first.source_files[0].name}: "
                f"{first.shape}, {g.source_files[0].name}: {g.shape}) and cannot be summed "
                "voxel by voxel",
                path=g.source_files[0],
                remedy="export the plan dose (DoseSummationType PLAN), or all beam doses on one grid",
            )
        if g.dose_type != first.dose_type:
            raise InputError("beam doses mix PHYSICAL and EFFECTIVE dose", path=g.source_files[0])
    total = np.sum([g.dose_gy for g in grids], axis=0)
    return DoseGrid(
        dose_gy=total,
        x_mm=first.x_mm,
        y_mm=first.y_mm,
        z_mm=first.z_mm,
        frame_of_reference_uid=first.frame_of_reference_uid,
        sop_instance_uids=tuple(u for g in grids for u in g.sop_instance_uids),
        source_files=tuple(f for g in grids for f in g.source_files),
        referenced_plan_uid=first.referenced_plan_uid,
        dose_type=first.dose_type,
        summation_type="BEAM_SUM",
    )
