"""RTSTRUCT: every ROI of a structure set with its contours, read fast and checked.

Contours are held as rtcheck models (:class:`~rtcheck.models.Contour`): points in mm at the
height of their axial plane. CLOSED_PLANAR contours become volumes downstream; POINT,
OPEN_PLANAR and OPEN_NONPLANAR contours are kept with their type. A planar contour whose
points are not on one axial plane (sagittal, coronal, oblique) is refused with a
:class:`~rtcheck.errors.GeometryError` naming the ROI and the file.

ContourData holds most of an RTSTRUCT's bytes, so it is parsed from the raw text in one
call per ROI when it is plain (:func:`_parse_plain_ds`), and through pydicom's general
parser otherwise, with the same checks and the same errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from ..errors import GeometryError, InputError
from ..models import Contour, ContourType, Structure, StructureSet
from .attributes import text_value
from .files import guarded_build, read_required

#: Largest spread (mm) of the z coordinates of one planar contour still taken as axial.
CONTOUR_PLANARITY_TOLERANCE_MM = 0.05

_CONTOUR_DATA_TAG = 0x30060050
_CONTOUR_TYPE_TAG = 0x30060042
_PLANAR = (ContourType.CLOSED_PLANAR, ContourType.OPEN_PLANAR)


#: Bytes of a plain decimal string list: digits, point, signs, exponent marks, spaces and
#: the backslash separator (no "nan", "inf" or hexadecimal, which strtod would accept).
_PLAIN_DS_BYTES = b"0123456789.-+eE \\"


def _parse_plain_ds(text: bytes, expected: int | None = None) -> np.ndarray | None:
    """Backslash-separated decimal strings (``-12.5\\3\\2.9e-1``) → float64 in one C call.

    ContourData holds most of an RTSTRUCT's bytes, and converting them number by number
    (pydicom's DSfloat, or numpy's bytes → float) costs more than reading the file. ``np.fromstring`` in text mode parses with a correctly rounded
    strtod (the same double as ``float(token)``); it stops at the first malformed number,
    so the count is checked. Returns None for anything else (unexpected characters, an
    empty or malformed number), for the caller's general parser. ``expected``: the number
    of values (backslashes + 1) when the caller has counted them.
    """
    if not text or text.translate(None, _PLAIN_DS_BYTES):
        return None
    if expected is None:
        expected = text.count(b"\\") + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not be read to its end": caught by the count
        try:
            values = np.fromstring(text.decode("ascii"), dtype=np.float64, sep="\\")
        except ValueError:
            return None
    return values if values.size == expected else None


def _raw_contour_data(item: Dataset) -> bytes:
    """A contour item's ContourData as its raw text (padding stripped); b"" when it is
    absent, empty or already decoded by pydicom."""
    elem = item.get_item(_CONTOUR_DATA_TAG)
    value = getattr(elem, "value", None)
    return bytes(value).strip(b" \x00") if isinstance(value, bytes | bytearray) else b""


def _contour_points_batch(items: Sequence[Dataset]) -> list[np.ndarray | None]:
    """ContourData of several contour items parsed in one go (:func:`_parse_plain_ds`): an
    (N, 3) array per item, or None where the general parser (:func:`_contour_points`)
    must decide (no raw bytes, a count not a multiple of 3, any unusual text)."""
    texts: list[bytes | None] = [_raw_contour_data(item) or None for item in items]
    present = [t for t in texts if t is not None]
    out: list[np.ndarray | None] = [None] * len(items)
    if not present:
        return out
    values = _parse_plain_ds(b"\\".join(present))
    if values is None:
        return out
    counts = [t.count(b"\\") + 1 for t in present]
    stops = np.cumsum(counts)
    j = 0
    for i, text in enumerate(texts):
        if text is None:
            continue
        n, stop = counts[j], int(stops[j])
        j += 1
        if n % 3 == 0:
            out[i] = values[stop - n : stop].reshape(-1, 3)
    return out


def _contour_points(item: Dataset) -> np.ndarray:
    """ContourData as an (N, 3) float array, parsing the raw bytes when possible (fast)."""
    elem = item.get_item(_CONTOUR_DATA_TAG)
    if elem is None:
        return np.zeros((0, 3))
    value = elem.value
    if isinstance(value, bytes | bytearray):
        text = bytes(value).strip(b" \x00")
        values = np.array(text.split(b"\\")).astype(np.float64) if text else np.zeros(0)
    elif value is None:
        values = np.zeros(0)
    else:
        values = np.asarray(value, dtype=np.float64).ravel()
    if values.size % 3:
        raise ValueError(f"ContourData holds {values.size} numbers, not a multiple of 3 (x, y, z)")
    return values.reshape(-1, 3)


def _contour_type(item: Dataset, roi: str, path: Path) -> ContourType:
    """A contour item's ContourGeometricType; an unknown type is refused, naming ROI ``roi``."""
    raw = item.get_item(_CONTOUR_TYPE_TAG)
    value = getattr(raw, "value", None)
    if isinstance(raw, RawDataElement) and raw.VR in (None, "CS") and isinstance(value, bytes):
        # the raw text (pydicom's element conversion costs more than the rest of the contour)
        text = value.decode("ascii", "replace").strip(" \x00").upper()
    else:
        text = str(item.get("ContourGeometricType", "") or "").strip().upper()
    try:
        return ContourType(text)
    except ValueError:
        raise InputError(
            f"ROI '{roi}' has a contour of unknown ContourGeometricType {text!r}",
            path=path,
            remedy="export the structure set again; contours must be CLOSED_PLANAR, OPEN_PLANAR, "
            "OPEN_NONPLANAR or POINT",
        ) from None


def _make_contour(
    item: Dataset, roi: str, path: Path, points: np.ndarray | None = None
) -> Contour | None:
    """One contour item as a Contour (``points``: its ContourData if already parsed)."""
    if points is None:
        points = _contour_points(item)
    if points.shape[0] == 0:
        stated = item.get("NumberOfContourPoints")
        if stated is not None and str(stated).strip() != "" and int(stated) == 0:
            return None  # declared empty by the exporter
        raise InputError(
            f"ROI '{roi}' has a contour item without ContourData (3006,0050)"
            + (f" although NumberOfContourPoints is {stated}" if stated is not None else "")
            + "; dropping it would remove part of the structure",
            path=path,
            remedy="export the structure set again from the planning system",
        )
    kind = _contour_type(item, roi, path)
    if not np.all(np.isfinite(points)):
        raise GeometryError(
            f"ROI '{roi}' has a contour with non-finite coordinates (NaN or infinity in ContourData)",
            path=path,
            remedy="export the structure set again from the planning system",
        )
    z = points[:, 2]
    spread = float(z.max() - z.min())
    if kind in _PLANAR and spread > CONTOUR_PLANARITY_TOLERANCE_MM:
        raise _not_axial(roi, kind, z, path)
    z_mm = float(np.median(z)) if kind is ContourType.OPEN_NONPLANAR else float(z[0])
    return Contour(z_mm=z_mm, points_mm=points[:, :2], geometric_type=kind)


def _not_axial(roi: str, kind: ContourType, z: np.ndarray, path: Path) -> GeometryError:
    """The error for a planar contour of ROI ``roi`` whose points' z (mm) are not on one
    axial plane."""
    return GeometryError(
        f"ROI '{roi}' has a {kind.value} contour whose points are not on one axial plane "
        f"(z from {z.min():.2f} to {z.max():.2f} mm): non-axial (sagittal, coronal or "
        "oblique) contours are not supported",
        path=path,
        remedy="export the structure set with axial contours (contours drawn on, or "
        "converted to, the transverse CT planes)",
    )


def _roi_contours(items: Sequence[Dataset], roi: str, path: Path) -> list[Contour]:
    """The contours of one ROI's ContourSequence items, in order (items declared empty left out).

    Fast path, taken when every item has plain ContourData text with 3 numbers per point,
    all finite: the points of all the contours are parsed in one call (as
    :func:`_contour_points_batch`) and checked at once (planarity with one reduction per
    ROI, the model's checks in :meth:`Contour.many`); only the contour type is read per
    item. Anything else goes through :func:`_make_contour` contour by contour, which makes
    the same checks in the same order (so the same error is raised for the same contour).
    """
    texts: list[bytes] = []
    for item in items:
        raw = _raw_contour_data(item)
        if not raw:
            break
        texts.append(raw)
    values = None
    if texts and len(texts) == len(items):
        counts = [t.count(b"\\") + 1 for t in texts]
        if not any(n % 3 for n in counts):
            values = _parse_plain_ds(b"\\".join(texts), sum(counts))
    if values is None or not np.all(np.isfinite(values)):
        contours = []
        for c, points in zip(items, _contour_points_batch(items), strict=True):
            contour = _make_contour(c, roi, path, points)
            if contour is not None:
                contours.append(contour)
        return contours
    points = values.reshape(-1, 3)
    rows = [n // 3 for n in counts]
    starts = np.zeros(len(rows), dtype=np.intp)
    np.cumsum(rows[:-1], out=starts[1:])
    z = points[:, 2]
    spread = np.maximum.reduceat(z, starts) - np.minimum.reduceat(z, starts)
    kinds: list[ContourType] = []
    z_mm: list[float] = []
    for item, start, n, dz in zip(items, starts.tolist(), rows, spread.tolist(), strict=True):
        kind = _contour_type(item, roi, path)
        if kind in _PLANAR and dz > CONTOUR_PLANARITY_TOLERANCE_MM:
            raise _not_axial(roi, kind, z[start : start + n], path)
        if kind is ContourType.OPEN_NONPLANAR:
            z_mm.append(float(np.median(z[start : start + n])))
        else:
            z_mm.append(float(z[start]))
        kinds.append(kind)
    return Contour.many(z_mm, points[:, :2], rows, kinds)



def _color(value: Any) -> tuple[int, int, int] | None:
    """ROIDisplayColor as an (r, g, b) triple; None when it is not three integers."""
    try:
        rgb = [int(v) for v in value]
    except (TypeError, ValueError):
        return None
    return (rgb[0], rgb[1], rgb[2]) if len(rgb) == 3 else None


@dataclass(frozen=True)
class StructureSetInfo:
    """A structure set with the CT series it was drawn on (SeriesInstanceUIDs, from
    ReferencedFrameOfReferenceSequence), for the course."""

    structure_set: StructureSet
    ct_series_uids: tuple[str, ...]


def referenced_frames(ds: Dataset) -> list[str]:
    """The FrameOfReferenceUIDs of an RTSTRUCT's ReferencedFrameOfReferenceSequence, in order."""
    return [
        str(item.FrameOfReferenceUID)
        for item in ds.get("ReferencedFrameOfReferenceSequence") or []
        if item.get("FrameOfReferenceUID")
    ]


def _referenced_series(ds: Dataset) -> list[str]:
    """The CT series (SeriesInstanceUIDs) an RTSTRUCT references, first mention first."""
    series: list[str] = []
    for frame in ds.get("ReferencedFrameOfReferenceSequence") or []:
        for study in frame.get("RTReferencedStudySequence") or []:
            for ser in study.get("RTReferencedSeriesSequence") or []:
                uid = ser.get("SeriesInstanceUID")
                if uid and str(uid) not in series:
                    series.append(str(uid))
    return series


def _declared_rois(path: Path, ds: Dataset) -> dict[int, Dataset]:
    """StructureSetROISequence items by ROI number; an ROI number declared twice is refused."""
    declared: dict[int, Dataset] = {}
    for item in ds.get("StructureSetROISequence") or []:
        number = int(item.ROINumber)
        if number in declared:
            raise InputError(
                f"ROI number {number} is declared twice in StructureSetROISequence",
                path=path,
                remedy="export the structure set again from the planning system",
            )
        declared[number] = item
    return declared


def _interpreted_types(ds: Dataset) -> dict[int, str]:
    """RTROIInterpretedType by ROI number (the first observation of an ROI that states one)."""
    interpreted: dict[int, str] = {}
    for item in ds.get("RTROIObservationsSequence") or []:
        kind = text_value(item, "RTROIInterpretedType")
        if item.get("ReferencedROINumber") is not None and kind:
            interpreted.setdefault(int(item.ReferencedROINumber), kind)
    return interpreted


def _contour_items(path: Path, ds: Dataset) -> dict[int, Dataset]:
    """ROIContourSequence items by ROI number; two items for one ROI are refused (using one
    would drop the other's contours)."""
    contour_items: dict[int, Dataset] = {}
    for item in ds.get("ROIContourSequence") or []:
        if item.get("ReferencedROINumber") is not None:
            number = int(item.ReferencedROINumber)
            if number in contour_items:
                raise InputError(
                    f"ROI number {number} has two ROIContourSequence items; using one would drop "
                    "the other's contours",
                    path=path,
                    remedy="export the structure set again from the planning system",
                )
            contour_items[number] = item
    return contour_items


def _structure(
    path: Path,
    number: int,
    roi_item: Dataset | None,
    contour_item: Dataset | None,
    interpreted_type: str | None,
    default_frame: str | None,
) -> Structure:
    """One ROI as a Structure: its declaration (name, frame; may be absent) and its contours
    (may be absent: an ROI without contours is kept)."""
    name = (text_value(roi_item, "ROIName") if roi_item is not None else None) or f"ROI {number}"
    roi_frame = (
        text_value(roi_item, "ReferencedFrameOfReferenceUID") if roi_item is not None else None
    )
    contours = []
    color = None
    if contour_item is not None:
        color = _color(contour_item.get("ROIDisplayColor"))
        items = list(contour_item.get("ContourSequence") or [])
        contours = _roi_contours(items, name, path)
    return Structure(
        roi_number=number,
        name=name,
        contours=tuple(contours),
        interpreted_type=interpreted_type,
        frame_of_reference_uid=roi_frame or default_frame,
        color_rgb=color,
    )


def structure_set_from(path: Path, ds: Dataset) -> StructureSetInfo:
    """The structure set of an RTSTRUCT data set read from ``path`` (run under
    :func:`guarded_build`): declared ROIs in file order, then ROIs that only have contours.

    The set's frame of reference is the first referenced frame, else the ROIs' common one,
    else the data set's FrameOfReferenceUID.
    """
    frame_uids = referenced_frames(ds)
    series = _referenced_series(ds)
    declared = _declared_rois(path, ds)
    interpreted = _interpreted_types(ds)
    contour_items = _contour_items(path, ds)
    if declared and "ROIContourSequence" not in ds:
        raise InputError(
            "the structure set declares ROIs but has no ROIContourSequence; the file is incomplete",
            path=path,
            remedy="export the structure set again from the planning system",
        )
    first_frame = frame_uids[0] if frame_uids else None
    numbers = list(declared) + [n for n in contour_items if n not in declared]
    structures = [
        _structure(
            path,
            number,
            declared.get(number),
            contour_items.get(number),
            interpreted.get(number),
            first_frame,
        )
        for number in numbers
    ]
    frame = first_frame
    if frame is None:
        roi_frames = {s.frame_of_reference_uid for s in structures if s.frame_of_reference_uid}
        frame = roi_frames.pop() if len(roi_frames) == 1 else text_value(ds, "FrameOfReferenceUID")
    structure_set = StructureSet(
        sop_instance_uid=str(ds.SOPInstanceUID),
        frame_of_reference_uid=frame,
        structures=tuple(structures),
        label=text_value(ds, "StructureSetLabel"),
        patient_id=text_value(ds, "PatientID"),
        source_file=path,
    )
    return StructureSetInfo(structure_set=structure_set, ct_series_uids=tuple(series))


def read_structure_set(path: str | Path) -> StructureSet:
    """Read an RTSTRUCT: every ROI in file order, with its contours (possibly none).

    CLOSED_PLANAR contours become volumes downstream; POINT / OPEN_PLANAR / OPEN_NONPLANAR
    contours are kept with their type (not volumetric). A planar contour whose points are
    not on one axial plane raises GeometryError naming the ROI and the file.
    """
    structure_file = read_required(path, "RTSTRUCT")
    return guarded_build(structure_file.path, structure_set_from, structure_file.dataset).structure_set
