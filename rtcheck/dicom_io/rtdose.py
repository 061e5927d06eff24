"""Reading DICOM-RT exports (RTPLAN, RTSTRUCT, RTDOSE) into rtcheck models.

This module (with the rest of :mod:`rtcheck.dicom_io`) is the only place that imports
pydicom. Everything it returns is a frozen model from :mod:`rtcheck.models`; everything that
goes wrong is an :class:`~rtcheck.errors.InputError` (or :class:`~rtcheck.errors.GeometryError`)
that names the file and says what to do.

Conventions:

* Discovery walks a folder recursively. Files that are not DICOM are ignored; a file that
  looks like DICOM (the ``DICM`` marker, or a ``.dcm`` suffix) but cannot be read completely
  (truncated, corrupt) is an error that names it, never skipped silently.
* Objects are linked by UID: RTDOSE → ReferencedRTPlanSequence → RTPLAN →
  ReferencedStructureSetSequence → RTSTRUCT, and their FrameOfReferenceUIDs must agree.
* Dose grids are returned in canonical order (array axes z, y, x, each increasing), whatever
  the axis-aligned ImageOrientationPatient of the file; oblique grids are refused.
* Doses are in Gy. RELATIVE doses, per-fraction doses and dose-uncertainty grids are refused.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.valuerep import VR

from ..errors import GeometryError, InputError, RtcheckError
from ..models import Contour, ContourType, Course, DoseGrid, Plan, Structure, StructureSet

__all__ = [
    "discover",
    "load_course",
    "read_dose",
    "read_plan",
    "read_structure_set",
    "read_tps_dvhs",
]

#: Largest off-axis component (of a unit direction cosine) still taken as axis-aligned.
#: 1e-3 is a rotation of 0.06°, i.e. at most 0.3 mm over a 300 mm dose grid.
ORIENTATION_TOLERANCE = 1e-3

#: Largest spread (mm) of the z coordinates of one planar contour still taken as axial.
CONTOUR_PLANARITY_TOLERANCE_MM = 0.05

_DICOM_SUFFIXES = {".dcm", ".dicom", ".dic"}
_APPLEDOUBLE_MAGIC = b"\x00\x05\x16\x07"
_CONTOUR_DATA_TAG = 0x30060050
_CONTOUR_TYPE_TAG = 0x30060042
_MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"
_RE_EXPORT_DOSE = "re-export the dose (RTDOSE) from the planning system"


# ---------------------------------------------------------------------------------------------
# Low-level reading
# ---------------------------------------------------------------------------------------------


def _looks_like_dicom(path: Path) -> bool:
    """True when a file claims to be DICOM: the DICM marker at byte 128, a DICOM suffix, or
    (older exports without preamble) a first element of group 0002 or 0008."""
    if path.suffix.lower() in _DICOM_SUFFIXES:
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    if len(head) == 132 and head[128:132] == b"DICM":
        return True
    return len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00")


def _is_appledouble(path: Path) -> bool:
    """macOS resource-fork files (``._name.dcm``) copied along with exports: not DICOM."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == _APPLEDOUBLE_MAGIC
    except OSError:
        return False


def _stored_elements(ds: Dataset) -> list[Any]:
    """The top-level elements of ``ds`` in tag order, as stored: raw (not yet decoded) or
    decoded. Unlike ``Dataset.elements()`` this decodes nothing (``elements()`` decodes
    every empty raw element, ≈ 10 µs each) and converts no tags.

    Tags are compared as plain ints: pydicom's tag type compares in Python, and sorting
    with it cost ≈ 25 µs per data set (several per file). A file read in tag order (the
    usual case) needs no sorting at all."""
    tags = [int(tag) for tag in ds.keys()]
    elements = list(ds.values())
    if tags == sorted(tags):
        return elements
    return [elem for _, elem in sorted(zip(tags, elements, strict=True))]  # tags are unique


def _cut_short(elements: Iterable[Any]) -> str | None:
    """Describe the first element (of a data set's :func:`_stored_elements`) whose value is
    shorter than its stated length."""
    for elem in elements:
        value = getattr(elem, "value", None)
        length = getattr(elem, "length", None)
        if (
            isinstance(value, bytes | bytearray)
            and isinstance(length, int)
            and length != 0xFFFFFFFF
            and len(value) < length
        ):
            return f"element {elem.tag} is cut short ({len(value)} of {length} bytes)"
    return None


def _unreadable(path: Path, detail: object) -> InputError:
    return InputError(
        f"the file looks like DICOM but cannot be read completely ({detail}); it is truncated "
        "or corrupt",
        path=path,
        remedy="copy or export the file again from the planning system",
    )


def _dcmread(path: Path, *, pixels: bool, force: bool) -> Dataset:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = pydicom.dcmread(path, stop_before_pixels=not pixels, force=force)
    elements = _stored_elements(ds)
    problem = _cut_short(elements)
    if problem is None and getattr(ds, "file_meta", None) is not None:
        problem = _cut_short(_stored_elements(ds.file_meta))
    if problem is None:
        for warning in caught:
            text = str(warning.message)
            if "end of file" in text.lower():
                problem = text
                break
    if problem is not None:
        raise _unreadable(path, problem)
    try:
        _decode_elements(ds, elements)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on corrupt elements
        raise _unreadable(path, exc) from exc
    return ds


#: Elements left encoded until their reader (guarded) needs them: bulky, and parsed fast there.
_DECODED_LATER = {
    0x30060050,  # ContourData
    0x30060039,  # ROIContourSequence (read under _guarded)
    0x30040058,  # DVHData
    0x7FE00008,  # FloatPixelData
    0x7FE00009,  # DoubleFloatPixelData
    0x7FE00010,  # PixelData
}


#: Value representations pydicom can decode; any other VR raises when its element is decoded.
_KNOWN_VRS = frozenset(vr.value for vr in VR)


def _must_decode(raw: Any) -> bool:
    """True for an element that has to be decoded now: a sequence (its items are checked in
    turn) or an element whose VR pydicom cannot decode (an unknown VR: decoding raises)."""
    vr = getattr(raw, "VR", None)
    if vr is not None and vr != "UN":
        return vr == "SQ" or vr not in _KNOWN_VRS
    # implicit VR (or UN): what pydicom will take the element for
    if getattr(raw, "length", 0) == 0xFFFFFFFF:
        return True  # undefined length: a sequence
    try:
        return dictionary_VR(raw.tag) == "SQ"
    except KeyError:
        return False  # private or unknown tag: kept as bytes, never used


def _decode_elements(ds: Dataset, elements: list[Any] | None = None) -> None:
    """Check every element now (pydicom decodes lazily), so that a corrupt element (an unknown
    VR, say) is an error naming its file here, not an exception deep inside rtcheck later.

    Cheaply: sequences are decoded (and their items checked), elements whose VR pydicom
    cannot decode are decoded (and raise); the other elements are left to pydicom's lazy
    decoding, which for a known VR does not raise (an undecodable value becomes UN).
    Decoding every element took longer than reading the file (≈ 30 µs per element).
    ``elements``: the data set's :func:`_stored_elements`, when the caller has them."""
    for raw in elements if elements is not None else _stored_elements(ds):
        tag = raw.tag
        if tag in _DECODED_LATER:
            continue
        if isinstance(raw, RawDataElement):
            if not _must_decode(raw):
                continue
            elem = ds[tag]
        else:
            elem = raw
        if elem.VR == "SQ":
            for item in elem.value:
                _decode_elements(item)


def _read_dataset(path: Path, *, pixels: bool = False, required: bool = False) -> Dataset | None:
    """Read one file; None when it is not DICOM (and not ``required``).

    Raises InputError when the file looks like DICOM (or is required to be) but is
    truncated or corrupt.
    """
    if _is_appledouble(path):
        if required:
            raise InputError("this is a macOS resource-fork file, not DICOM", path=path)
        return None
    claims_dicom = required or _looks_like_dicom(path)
    try:
        return _dcmread(path, pixels=pixels, force=False)
    except InputError:
        raise
    except InvalidDicomError as exc:
        if not claims_dicom:
            return None
        # Some older exports have no preamble; accept them only if they read completely
        # and look like a DICOM object.
        try:
            ds = _dcmread(path, pixels=pixels, force=True)
        except InputError:
            raise
        except Exception as exc2:  # noqa: BLE001 - any parser failure is a bad file
            raise _unreadable(path, exc2) from exc2
        if "SOPClassUID" not in ds or "Modality" not in ds:
            if required:
                raise InputError(
                    "not a DICOM file",
                    path=path,
                    remedy="give the DICOM file exported by the planning system",
                ) from exc
            raise _unreadable(path, "no DICOM header") from exc
        return ds
    except OSError as exc:
        raise InputError(
            f"cannot open the file ({exc.strerror or exc})",
            path=path,
            remedy="check the file's permissions (rtcheck needs to read it), or move it out of the folder",
        ) from exc
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on corrupt input
        if not claims_dicom:
            return None
        raise _unreadable(path, exc) from exc


def _modality(ds: Dataset) -> str:
    return str(ds.get("Modality", "") or "").upper()


def _require(path: str | Path, modality: str, *, pixels: bool = False) -> tuple[Path, Dataset]:
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such file (expected an {modality})", path=p, remedy="check the path")
    if p.is_dir():
        raise InputError(f"this is a folder, expected an {modality} file", path=p)
    ds = _read_dataset(p, pixels=pixels, required=True)
    assert ds is not None
    found = _modality(ds)
    if not found and "SOPInstanceUID" not in ds:
        raise _unreadable(p, "no DICOM data set after the file header")
    if found != modality:
        raise InputError(
            f"expected an {modality} file but this is {found or 'not an RT object'}",
            path=p,
            remedy=f"give the {modality} file of the plan",
        )
    return p, ds


def _guarded(path: Path, build, *args):
    """Run a model builder; turn unexpected parser failures into an InputError on ``path``."""
    try:
        return build(path, *args)
    except RtcheckError:
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        EOFError,
        OverflowError,
        NotImplementedError,  # pydicom: an unknown value representation, decoded lazily
    ) as exc:
        raise InputError(
            f"the file is malformed or incomplete ({type(exc).__name__}: {exc})",
            path=path,
            remedy="export the file again from the planning system",
        ) from exc


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _parse_date(value: object) -> _dt.date | None:
    text = str(value or "").strip()
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        return _dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _first_date(ds: Dataset, *keywords: str) -> _dt.date | None:
    for keyword in keywords:
        date = _parse_date(ds.get(keyword))
        if date is not None:
            return date
    return None


def _referenced_uids(ds: Dataset, sequence: str) -> list[str]:
    return [
        str(item.ReferencedSOPInstanceUID)
        for item in ds.get(sequence) or []
        if item.get("ReferencedSOPInstanceUID")
    ]


# ---------------------------------------------------------------------------------------------
# RTPLAN
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PlanInfo:
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


def _plan_from(path: Path, ds: Dataset) -> _PlanInfo:
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
    referenced = _referenced_uids(ds, "ReferencedStructureSetSequence")
    plan = Plan(
        sop_instance_uid=str(ds.SOPInstanceUID),
        fractions=fractions,
        prescription_gy=_prescription_gy(ds),
        label=_text(ds, "RTPlanLabel"),
        name=_text(ds, "RTPlanName"),
        patient_id=_text(ds, "PatientID"),
        plan_date=_first_date(ds, "RTPlanDate", "StudyDate", "ContentDate"),
        referenced_structure_set_uid=referenced[0] if referenced else None,
        frame_of_reference_uid=_text(ds, "FrameOfReferenceUID"),
        source_file=path,
    )
    return _PlanInfo(plan, tuple(notes))


def read_plan(path: str | Path) -> Plan:
    """Read an RTPLAN: fractions (first fraction group), prescription (Gy), label, date.

    ``plan_date`` is RTPlanDate, else StudyDate, else ContentDate.
    """
    p, ds = _require(path, "RTPLAN")
    return _guarded(p, _plan_from, ds).plan


def _treatment_beam_numbers(ds: Dataset) -> set[int]:
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


# ---------------------------------------------------------------------------------------------
# RTSTRUCT
# ---------------------------------------------------------------------------------------------


#: Bytes of a plain decimal string list: digits, point, signs, exponent marks, spaces and
#: the backslash separator (no "nan", "inf" or hexadecimal, which strtod would accept).
_PLAIN_DS_BYTES = b"0123456789.-+eE \\"


def _parse_plain_ds(text: bytes, expected: int | None = None) -> np.ndarray | None:
    """Backslash-separated decimal strings (``-12.5\\3\\2.9e-1``) → float64 in one C call.

    Hot path of reading an RTSTRUCT: ContourData holds most of its bytes, and converting
    them number by number (pydicom's DSfloat, or numpy's bytes → float) cost more than
    reading the file. ``np.fromstring`` in text mode parses with a correctly rounded
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


def _contour_points_batch(items: Sequence[Dataset]) -> list[np.ndarray | None]:
    """ContourData of several contour items parsed in one go (:func:`_parse_plain_ds`): an
    (N, 3) array per item, or None where the general parser (:func:`_contour_points`)
    must decide (no raw bytes, a count not a multiple of 3, any unusual text)."""
    texts: list[bytes | None] = []
    for item in items:
        elem = item.get_item(_CONTOUR_DATA_TAG)
        value = getattr(elem, "value", None)
        raw = bytes(value).strip(b" \x00") if isinstance(value, bytes | bytearray) else b""
        texts.append(raw or None)
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


_PLANAR = (ContourType.CLOSED_PLANAR, ContourType.OPEN_PLANAR)


def _not_axial(roi: str, kind: ContourType, z: np.ndarray, path: Path) -> GeometryError:
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
        elem = item.get_item(_CONTOUR_DATA_TAG)
        value = getattr(elem, "value", None)
        raw = bytes(value).strip(b" \x00") if isinstance(value, bytes | bytearray) else b""
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
    try:
        rgb = [int(v) for v in value]
    except (TypeError, ValueError):
        return None
    return (rgb[0], rgb[1], rgb[2]) if len(rgb) == 3 else None


@dataclass(frozen=True)
class _StructureInfo:
    structure_set: StructureSet
    ct_series_uids: tuple[str, ...]


def _structure_set_from(path: Path, ds: Dataset) -> _StructureInfo:
    frame_uids = [
        str(item.FrameOfReferenceUID)
        for item in ds.get("ReferencedFrameOfReferenceSequence") or []
        if item.get("FrameOfReferenceUID")
    ]
    series: list[str] = []
    for frame in ds.get("ReferencedFrameOfReferenceSequence") or []:
        for study in frame.get("RTReferencedStudySequence") or []:
            for ser in study.get("RTReferencedSeriesSequence") or []:
                uid = ser.get("SeriesInstanceUID")
                if uid and str(uid) not in series:
                    series.append(str(uid))

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
    interpreted: dict[int, str] = {}
    for item in ds.get("RTROIObservationsSequence") or []:
        kind = _text(item, "RTROIInterpretedType")
        if item.get("ReferencedROINumber") is not None and kind:
            interpreted.setdefault(int(item.ReferencedROINumber), kind)
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
    if declared and "ROIContourSequence" not in ds:
        raise InputError(
            "the structure set declares ROIs but has no ROIContourSequence; the file is incomplete",
            path=path,
            remedy="export the structure set again from the planning system",
        )

    structures = []
    numbers = list(declared) + [n for n in contour_items if n not in declared]
    for number in numbers:
        roi_item = declared.get(number)
        name = (_text(roi_item, "ROIName") if roi_item is not None else None) or f"ROI {number}"
        roi_frame = (
            _text(roi_item, "ReferencedFrameOfReferenceUID") if roi_item is not None else None
        )
        contour_item = contour_items.get(number)
        contours = []
        color = None
        if contour_item is not None:
            color = _color(contour_item.get("ROIDisplayColor"))
            items = list(contour_item.get("ContourSequence") or [])
            contours = _roi_contours(items, name, path)
        structures.append(
            Structure(
                roi_number=number,
                name=name,
                contours=tuple(contours),
                interpreted_type=interpreted.get(number),
                frame_of_reference_uid=roi_frame or (frame_uids[0] if frame_uids else None),
                color_rgb=color,
            )
        )

    frame = frame_uids[0] if frame_uids else None
    if frame is None:
        roi_frames = {s.frame_of_reference_uid for s in structures if s.frame_of_reference_uid}
        frame = roi_frames.pop() if len(roi_frames) == 1 else _text(ds, "FrameOfReferenceUID")
    structure_set = StructureSet(
        sop_instance_uid=str(ds.SOPInstanceUID),
        frame_of_reference_uid=frame,
        structures=tuple(structures),
        label=_text(ds, "StructureSetLabel"),
        patient_id=_text(ds, "PatientID"),
        source_file=path,
    )
    return _StructureInfo(structure_set, tuple(series))


def read_structure_set(path: str | Path) -> StructureSet:
    """Read an RTSTRUCT: every ROI in file order, with its contours (possibly none).

    CLOSED_PLANAR contours become volumes downstream; POINT / OPEN_PLANAR / OPEN_NONPLANAR
    contours are kept with their type (not volumetric). A planar contour whose points are
    not on one axial plane raises GeometryError naming the ROI and the file.
    """
    p, ds = _require(path, "RTSTRUCT")
    return _guarded(p, _structure_set_from, ds).structure_set


# ---------------------------------------------------------------------------------------------
# RTDOSE
# ---------------------------------------------------------------------------------------------


def _axis(vector: np.ndarray, label: str, path: Path) -> tuple[int, float]:
    """(patient axis 0/1/2, sign) of an axis-aligned direction cosine; refuse oblique ones."""
    norm = math.sqrt(float(vector.dot(vector)))  # as np.linalg.norm, without its overhead
    if not abs(norm - 1.0) < 1e-2:
        raise InputError(
            f"ImageOrientationPatient {label} direction {vector.tolist()} is not a unit vector",
            path=path,
            remedy=_RE_EXPORT_DOSE,
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
    return axis, 1.0 if vector[axis] > 0 else -1.0


def _structure_set_references(datasets: list[Dataset]) -> list[str]:
    """Structure-set UIDs referenced by ``datasets``, first mention first, without repeats."""
    uids: list[str] = []
    for ds in datasets:
        uids += [u for u in _referenced_uids(ds, "ReferencedStructureSetSequence") if u not in uids]
    return uids


@dataclass(frozen=True)
class _DoseHeader:
    """What is needed to decide about a dose before reading its pixels."""

    units: str
    summation: str
    dose_type: str
    plan_uids: tuple[str, ...]
    beam_number: int | None


def _dose_header(ds: Dataset) -> _DoseHeader:
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
    return _DoseHeader(
        units=str(ds.get("DoseUnits", "") or "").strip().upper(),
        summation=str(ds.get("DoseSummationType", "") or "").strip().upper(),
        dose_type=str(ds.get("DoseType", "") or "").strip().upper() or "PHYSICAL",
        plan_uids=tuple(_referenced_uids(ds, "ReferencedRTPlanSequence")),
        beam_number=beam,
    )


def _check_dose_header(path: Path, ds: Dataset) -> _DoseHeader:
    header = _dose_header(ds)
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
                remedy=_RE_EXPORT_DOSE,
            )
        values = [0.0]
    else:
        try:
            values = [float(v) for v in gfov]
        except TypeError:  # a single value
            values = [float(gfov)]
    offsets = np.asarray(values, dtype=float)
    if offsets.size != frames:
        raise InputError(
            f"GridFrameOffsetVector has {offsets.size} values for {frames} dose frames",
            path=path,
            remedy=_RE_EXPORT_DOSE,
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
            remedy=_RE_EXPORT_DOSE,
        )
    steps = np.diff(coords)
    if steps.size and not (np.all(steps > 0) or np.all(steps < 0)):
        raise InputError(
            "GridFrameOffsetVector is not strictly increasing or decreasing (repeated or "
            "unordered dose planes)",
            path=path,
            remedy=_RE_EXPORT_DOSE,
        )
    return coords


#: Transfer syntaxes whose PixelData is stored uncompressed, little endian, as read from the
#: file: Implicit VR Little Endian, Explicit VR Little Endian.
_NATIVE_LITTLE_ENDIAN = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})


def _native_pixels(ds: Dataset, frames: int, rows: int, cols: int) -> np.ndarray | None:
    """The stored values of an RTDOSE's PixelData, read straight from its bytes; None when
    the data are anything but the plain case, for pydicom's ``pixel_array`` to decode (and
    to refuse what it refuses, with its message).

    Hot path of reading a small dose: ``pixel_array`` spends ≈ 0.3 ms per file gathering and
    validating its options before the same ``np.frombuffer``. The plain case is exactly the
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


def _dose_grid_from(path: Path, ds: Dataset) -> DoseGrid:
    """One RTDOSE (read with pixels) as a canonical DoseGrid in Gy."""
    header = _check_dose_header(path, ds)
    scaling_raw = ds.get("DoseGridScaling")
    if scaling_raw is None or str(scaling_raw).strip() == "":
        raise InputError(
            "RTDOSE has no DoseGridScaling (3004,000E); the file is incomplete",
            path=path,
            remedy=_RE_EXPORT_DOSE,
        )
    scaling = float(scaling_raw)
    if not (np.isfinite(scaling) and scaling > 0):
        raise InputError(
            f"DoseGridScaling {scaling_raw!r} is not a positive number",
            path=path,
            remedy=_RE_EXPORT_DOSE,
        )
    if header.units == "CGY":  # not a DICOM term, but unambiguous
        scaling /= 100.0
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise InputError(
            "RTDOSE has no pixel data; the file is incomplete", path=path, remedy=_RE_EXPORT_DOSE
        )
    geometry: dict[str, Any] = {}
    for keyword in (
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "PixelSpacing",
        "Rows",
        "Columns",
    ):
        geometry[keyword] = ds.get(keyword)
        if geometry[keyword] is None:
            raise InputError(
                f"RTDOSE has no {keyword}; the file is incomplete",
                path=path,
                remedy=_RE_EXPORT_DOSE,
            )

    rows, cols = int(geometry["Rows"]), int(geometry["Columns"])
    frames = int(ds.get("NumberOfFrames") or 1)
    pixels = _native_pixels(ds, frames, rows, cols)
    if pixels is None:
        try:
            pixels = ds.pixel_array
        except Exception as exc:  # noqa: BLE001 - pydicom/numpy raise several types here
            raise InputError(
                f"the dose pixel data cannot be decoded ({exc})", path=path, remedy=_RE_EXPORT_DOSE
            ) from exc
        pixels = np.asarray(pixels)
    if pixels.size != frames * rows * cols:
        raise InputError(
            f"the dose pixel data has {pixels.size} values, expected {frames}×{rows}×{cols}",
            path=path,
            remedy=_RE_EXPORT_DOSE,
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
            remedy=_RE_EXPORT_DOSE,
        )

    ipp = np.asarray([float(v) for v in geometry["ImagePositionPatient"]], dtype=float)
    iop = np.asarray([float(v) for v in geometry["ImageOrientationPatient"]], dtype=float)
    spacing = [float(v) for v in geometry["PixelSpacing"]]
    if ipp.size != 3 or iop.size != 6 or len(spacing) != 2:
        raise InputError(
            "malformed ImagePositionPatient / ImageOrientationPatient / PixelSpacing",
            path=path,
            remedy=_RE_EXPORT_DOSE,
        )
    if not all(s > 0 for s in spacing):
        raise InputError(
            f"PixelSpacing {spacing} is not positive", path=path, remedy=_RE_EXPORT_DOSE
        )
    row_spacing, col_spacing = spacing  # between rows (along the column direction), between columns

    # The row direction cosine is the direction of increasing column index, the column
    # direction cosine that of increasing row index; frames follow their cross product.
    row_axis, row_sign = _axis(iop[:3], "row", path)
    col_axis, col_sign = _axis(iop[3:], "column", path)
    if row_axis == col_axis:
        raise InputError(
            "ImageOrientationPatient row and column directions are parallel",
            path=path,
            remedy=_RE_EXPORT_DOSE,
        )
    # normal = row unit × column unit: ± the third axis (+ when row, column, normal axes are
    # in cyclic order x, y, z)
    normal_axis = 3 - row_axis - col_axis
    cyclic = (row_axis, col_axis) in ((0, 1), (1, 2), (2, 0))
    normal_sign = row_sign * col_sign * (1.0 if cyclic else -1.0)

    coords_by_array_axis = {
        0: _dose_offsets(ds, frames, normal_axis, normal_sign, ipp, path),
        1: ipp[col_axis] + col_sign * row_spacing * np.arange(rows),
        2: ipp[row_axis] + row_sign * col_spacing * np.arange(cols),
    }
    patient_axis_of_array = {0: normal_axis, 1: col_axis, 2: row_axis}
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
    for label, c in (("x", x), ("y", y)):
        steps = c[1:] - c[:-1]
        if steps.size and not (
            bool((np.abs(steps - steps[0]) <= 1e-3).all())  # (implies allclose; cheaper)
            or np.allclose(steps, steps[0], rtol=0, atol=1e-3)
        ):
            # only the z planes of a canonical grid may be unevenly spaced
            raise InputError(
                f"the dose planes are unevenly spaced along {label} (GridFrameOffsetVector of a "
                "sagittal or coronal dose grid); rtcheck reads uneven spacing only between "
                "axial planes",
                path=path,
                remedy="re-export the dose on an axial grid, or with evenly spaced planes",
            )
    # the grid takes the array over (no copy) when it is ours alone: not a view of pixels
    return DoseGrid.taking(
        dose_gy=np.ascontiguousarray(dose),
        x_mm=x,
        y_mm=y,
        z_mm=z,
        frame_of_reference_uid=_text(ds, "FrameOfReferenceUID"),
        sop_instance_uids=(str(ds.SOPInstanceUID),),
        source_files=(path,),
        referenced_plan_uid=header.plan_uids[0] if header.plan_uids else None,
        dose_type=header.dose_type,
        summation_type=header.summation or "PLAN",
    )


def _as_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(paths, str | Path):
        return [Path(paths)]
    return [Path(p) for p in paths]


def read_dose(paths: str | Path | Iterable[str | Path]) -> DoseGrid:
    """Read one RTDOSE, or several per-beam RTDOSEs (DoseSummationType BEAM) and sum them.

    Several doses are summed only when all are BEAM doses of the same plan on identical grids
    in one frame of reference; summing whole-plan doses is refused (check each plan on its
    own). The sum has ``summation_type`` "BEAM_SUM".
    """
    files = _as_paths(paths)
    if not files:
        raise InputError("no dose file given", remedy="give the plan's RTDOSE file")
    grids = []
    for f in files:
        p, ds = _require(f, "RTDOSE", pixels=True)
        grids.append(_guarded(p, _dose_grid_from, ds))
    if len(grids) == 1:
        return grids[0]
    return _sum_beam_doses(grids)


def _sum_beam_doses(grids: Sequence[DoseGrid]) -> DoseGrid:
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


# ---------------------------------------------------------------------------------------------
# TPS DVHs
# ---------------------------------------------------------------------------------------------


def read_tps_dvhs(path: str | Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The planning system's own DVHs from an RTDOSE DVHSequence, as cumulative curves.

    Returns ``{roi_number: (dose_gy, volume_cc)}`` where ``volume_cc[i]`` is the volume
    receiving at least ``dose_gy[i]`` (``dose_gy[0] == 0``). DVHData holds (bin width,
    volume) pairs; bin widths are scaled by DVHDoseScaling. DIFFERENTIAL DVHs are converted
    (one more point, at the top edge, with volume 0). DVHs in RELATIVE dose or percent
    volume are skipped (their absolute values are unknown). The DVHMinimumDose /
    DVHMaximumDose / DVHMeanDose header attributes are not used: some systems write them in
    percent of the prescription.
    """
    p, ds = _require(path, "RTDOSE")
    return _guarded(p, _tps_dvhs_from, ds)


def _tps_dvhs_from(path: Path, ds: Dataset) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for item in ds.get("DVHSequence") or []:
        refs = item.get("DVHReferencedROISequence") or []
        if not refs or refs[0].get("ReferencedROINumber") is None:
            continue
        roi = int(refs[0].ReferencedROINumber)
        units = str(item.get("DoseUnits", "") or "").upper()
        volume_units = str(item.get("DVHVolumeUnits", "") or "").upper()
        if units not in ("GY", "CGY") or volume_units != "CM3":
            continue
        data = np.asarray([float(v) for v in item.get("DVHData") or []], dtype=float)
        if data.size < 2 or data.size % 2:
            continue
        scaling = float(item.get("DVHDoseScaling") or 1.0)
        if units == "CGY":
            scaling /= 100.0
        widths = data[0::2] * scaling
        volumes = data[1::2]
        edges = np.concatenate(([0.0], np.cumsum(widths)))
        kind = str(item.get("DVHType", "") or "").upper()
        if kind == "CUMULATIVE":
            out[roi] = (edges[:-1], volumes)
        elif kind == "DIFFERENTIAL":
            cumulative = np.concatenate((np.cumsum(volumes[::-1])[::-1], [0.0]))
            out[roi] = (edges, cumulative)
    return out


# ---------------------------------------------------------------------------------------------
# Linking: courses from files
# ---------------------------------------------------------------------------------------------


def _check_frames(structure_set: StructureSet | None, dose: DoseGrid, plan: Plan | None) -> None:
    dose_frame = dose.frame_of_reference_uid
    dose_file = dose.source_files[0] if dose.source_files else None
    remedy = (
        "export the dose and the structure set of the same plan (drawn on the planning CT); "
        "structures from another scan need a registration first"
    )
    if (
        plan is not None
        and plan.frame_of_reference_uid
        and dose_frame
        and plan.frame_of_reference_uid != dose_frame
    ):
        raise InputError(
            f"the dose is in frame of reference {dose_frame} but its plan "
            f"{plan.source_file.name if plan.source_file else plan.sop_instance_uid} is in "
            f"{plan.frame_of_reference_uid}",
            path=dose_file,
            remedy="export the dose computed for this plan",
        )
    if structure_set is None:
        return
    ss_frame = structure_set.frame_of_reference_uid
    if dose_frame and ss_frame and ss_frame != dose_frame:
        raise InputError(
            f"frames of reference do not match: the structures are in {ss_frame} but the dose "
            f"({dose_file.name if dose_file else '?'}) is in {dose_frame}",
            path=structure_set.source_file,
            remedy=remedy,
        )
    if dose_frame:
        other = [
            s.name
            for s in structure_set.structures
            if s.contours and s.frame_of_reference_uid and s.frame_of_reference_uid != dose_frame
        ]
        if other:
            raise InputError(
                f"ROIs {', '.join(repr(n) for n in other)} are drawn in another frame of "
                f"reference than the dose ({dose_frame})",
                path=structure_set.source_file,
                remedy=remedy,
            )


def _check_same_patient(
    structure_set: StructureSet | None,
    plan: Plan | None,
    dose: DoseGrid,
    dose_datasets: Sequence[Dataset],
) -> None:
    """Refuse files of one course that name different patients (PatientID)."""
    seen: list[tuple[str, Path | None]] = []
    if plan is not None and plan.patient_id:
        seen.append((plan.patient_id, plan.source_file))
    if structure_set is not None and structure_set.patient_id:
        seen.append((structure_set.patient_id, structure_set.source_file))
    for ds, dose_file in zip(dose_datasets, dose.source_files, strict=False):
        patient = _text(ds, "PatientID")
        if patient:
            seen.append((patient, dose_file))
    for patient, where in seen[1:]:
        if patient != seen[0][0]:
            first = seen[0][1].name if seen[0][1] is not None else "the first file"
            raise InputError(
                f"this file is for patient {patient}, but {first} is for patient {seen[0][0]}",
                path=where,
                remedy="export the plan, structure set and dose of one patient together",
            )


def _check_dose_not_empty(dose: DoseGrid) -> None:
    """Refuse a dose grid of zeros: every organ would look spared."""
    if not dose.max_gy > 0:
        raise InputError(
            "the dose grid is zero everywhere: it is not a calculated plan dose",
            path=dose.source_files[0] if dose.source_files else None,
            remedy="calculate the plan's dose in the planning system and export it again",
        )


def _make_course(
    dose: DoseGrid,
    structures: _StructureInfo | None,
    plan: _PlanInfo | None,
    dose_datasets: Sequence[Dataset],
    beams_verified: bool = False,
) -> Course:
    structure_set = structures.structure_set if structures is not None else None
    _check_frames(structure_set, dose, plan.plan if plan else None)
    _check_dose_not_empty(dose)
    _check_same_patient(structure_set, plan.plan if plan else None, dose, dose_datasets)
    notes = list(plan.notes) if plan else []
    if structure_set is None:
        notes.append("no structure set (RTSTRUCT) linked: the course has a dose but no structures")
    if dose.summation_type in ("BEAM", "BEAM_SUM") and not beams_verified:
        notes.append(
            f"the dose is the sum of {len(dose.source_files)} per-beam dose file(s); whether "
            "every beam of the plan is included could not be checked"
        )
    elif dose.summation_type == "MULTI_PLAN":
        notes.append("the dose is a sum of several plans (DoseSummationType MULTI_PLAN)")
    if plan is None:
        fractions = 1
        notes.append("no RTPLAN: the number of fractions is unknown and taken as 1")
        date = None
        for ds in dose_datasets:
            date = _first_date(ds, "StudyDate", "ContentDate", "InstanceCreationDate")
            if date:
                break
        label = dose.source_files[0].name if dose.source_files else None
    else:
        if plan.plan.fractions is None:
            fractions = 1
            notes.append("the plan states no number of fractions; taken as 1")
        else:
            fractions = plan.plan.fractions
        date = plan.plan.plan_date
        label = plan.plan.label or plan.plan.name
    return Course(
        dose=dose,
        fractions=fractions,
        plan=plan.plan if plan else None,
        structure_set=structure_set,
        date=date,
        label=label,
        ct_series_uids=structures.ct_series_uids if structures is not None else (),
        notes=tuple(notes),
    )


def _check_beam_coverage(
    plan_ds: Dataset | None, plan_path: Path | None, beam_doses: Sequence[tuple[Path, Dataset]]
) -> bool:
    """Refuse an incomplete set of per-beam doses (a missing beam would under-report dose).

    Returns True when the set was verified complete, False when it could not be checked
    (no plan, or beam numbers not stated).
    """
    if plan_ds is None or not beam_doses:
        return False
    expected = _treatment_beam_numbers(plan_ds)
    numbers = [_dose_header(ds).beam_number for _, ds in beam_doses]
    if not expected:
        return False
    if any(n is None for n in numbers):
        if len(beam_doses) < len(expected):
            raise InputError(
                f"the plan has {len(expected)} treatment beams but only {len(beam_doses)} "
                "per-beam dose file(s) (DoseSummationType BEAM, beam numbers not stated) were "
                "found; summing them would under-report the dose",
                path=plan_path,
                remedy="export the doses of all beams, or the plan dose (DoseSummationType PLAN)",
            )
        return False
    seen: dict[int, Path] = {}
    for (path, _), number in zip(beam_doses, numbers, strict=True):
        assert number is not None
        if number in seen:
            raise InputError(
                f"two beam doses for beam {number}: {seen[number].name} and {path.name}",
                path=path,
                remedy="give one dose per beam (or the plan dose) explicitly with --dose",
            )
        seen[number] = path
    missing = sorted(expected - set(seen))
    if missing:
        raise InputError(
            f"the plan has per-beam doses, but the doses of beam(s) {missing} are missing; "
            "summing the others would under-report the dose",
            path=plan_path,
            remedy="export the doses of all beams, or the plan dose (DoseSummationType PLAN)",
        )
    return True


def load_course(
    structure_file: str | Path,
    dose_files: str | Path | Iterable[str | Path],
    plan_file: str | Path | None = None,
) -> Course:
    """A course from explicitly named files (no discovery).

    Without a plan the course has ``fractions=1`` and ``plan=None``. With a plan, the dose
    must reference it (when the dose states a plan) and all frames of reference must agree.
    """
    ss_path, ss_ds = _require(structure_file, "RTSTRUCT")
    structures = _guarded(ss_path, _structure_set_from, ss_ds)
    dose_paths = _as_paths(dose_files)
    if not dose_paths:
        raise InputError("no dose file given", remedy="give the plan's RTDOSE file")
    dose_sets = [_require(f, "RTDOSE", pixels=True) for f in dose_paths]
    plan_info = None
    plan_ds = None
    plan_path = None
    verified = False
    if plan_file is not None:
        plan_path, plan_ds = _require(plan_file, "RTPLAN")
        plan_info = _guarded(plan_path, _plan_from, plan_ds)
        for path, ds in dose_sets:
            refs = _dose_header(ds).plan_uids
            if refs and plan_info.plan.sop_instance_uid not in refs:
                raise InputError(
                    f"the dose was computed for plan {refs[0]}, not for the given plan "
                    f"{plan_path.name} ({plan_info.plan.sop_instance_uid})",
                    path=path,
                    remedy="give the RTPLAN that the dose belongs to",
                )
        beam = [(p, ds) for p, ds in dose_sets if _dose_header(ds).summation == "BEAM"]
        if len(beam) == len(dose_sets):
            verified = _check_beam_coverage(plan_ds, plan_path, beam)
    grids = [_guarded(p, _dose_grid_from, ds) for p, ds in dose_sets]
    dose = grids[0] if len(grids) == 1 else _sum_beam_doses(grids)
    return _make_course(dose, structures, plan_info, [ds for _, ds in dose_sets], verified)


@dataclass
class _Found:
    path: Path
    ds: Dataset


def _files_under(folder: Path) -> list[Path]:
    """Every file below ``folder`` (symbolic links to folders are not followed), sorted.

    A subfolder that cannot be listed is an error: it may hold the plan's dose.
    """

    def fail(exc: OSError) -> None:
        raise InputError(
            f"cannot read this folder ({exc.strerror or exc}); it may hold part of the export",
            path=exc.filename or folder,
            remedy="make it readable, or move it out of the export folder",
        ) from exc

    files = [Path(root) / name for root, _, names in os.walk(folder, onerror=fail) for name in names]
    return sorted(p for p in files if p.is_file())


def _check_same_object(first: Path, other: Path, uid: str) -> None:
    """Two files with one SOPInstanceUID must hold the same object (a copy), else refuse."""
    if first.read_bytes() == other.read_bytes():
        return
    if pydicom.dcmread(first, force=True) == pydicom.dcmread(other, force=True):
        return  # the same data set with another file header
    raise InputError(
        f"this file and {first} carry the same SOPInstanceUID ({uid}) but hold different data; "
        "rtcheck cannot tell which one is current",
        path=other,
        remedy="remove the stale copy from the export folder",
    )


def _scan(folder: Path) -> tuple[dict[str, list[_Found]], int]:
    by_modality: dict[str, list[_Found]] = {}
    seen_uids: dict[str, Path] = {}
    count = 0
    for path in _files_under(folder):
        if path.name == "DICOMDIR":
            continue
        count += 1
        ds = _read_dataset(path)
        if ds is None:
            continue
        meta = getattr(ds, "file_meta", None)
        if meta is not None and str(meta.get("MediaStorageSOPClassUID", "")) == _MEDIA_DIRECTORY:
            continue  # a DICOMDIR index under another name
        if "SOPInstanceUID" not in ds and "Modality" not in ds:
            raise _unreadable(path, "no DICOM data set after the file header")
        uid = str(ds.get("SOPInstanceUID", "") or "")
        if uid and uid in seen_uids:
            _check_same_object(seen_uids[uid], path, uid)
            continue  # the same object twice (copied exports): the first copy is used
        seen_uids[uid] = path
        by_modality.setdefault(_modality(ds), []).append(_Found(path, ds))
    return by_modality, count


def _ambiguous(context: Path, doses: Sequence[_Found], what: str) -> InputError:
    names = ", ".join(str(d.path) for d in doses)
    return InputError(
        f"{what}: several dose grids ({names}) cannot be told apart",
        path=context,
        remedy="give the files explicitly: rtcheck dvh --structures RTSTRUCT --dose RTDOSE "
        "[--plan RTPLAN]",
    )


def _select_doses(doses: Sequence[_Found], context: Path, plan: _Found | None) -> list[_Found]:
    """The dose(s) to use for one plan: its PLAN dose, or all its BEAM doses."""
    by_type: dict[str, list[_Found]] = {}
    for d in doses:
        by_type.setdefault(_dose_header(d.ds).summation or "PLAN", []).append(d)
    plan_doses = by_type.get("PLAN", [])
    if len(plan_doses) == 1:
        return plan_doses
    if len(plan_doses) > 1:
        raise _ambiguous(context, plan_doses, "this plan has more than one plan dose")
    beam = by_type.get("BEAM", [])
    if beam:
        _check_beam_coverage(
            plan.ds if plan else None, plan.path if plan else None, [(b.path, b.ds) for b in beam]
        )
        return beam
    kinds = ", ".join(sorted(by_type))
    raise InputError(
        f"the dose(s) found ({', '.join(d.path.name for d in doses)}) have DoseSummationType "
        f"{kinds}; rtcheck needs the plan's total dose (PLAN) or one dose per beam (BEAM)",
        path=context,
        remedy="export the plan dose (DoseSummationType PLAN), or give the files explicitly "
        "with --structures/--dose",
    )


def _structure_for(
    structures: Sequence[_Found],
    uids: Sequence[str],
    frame: str | None,
    context: Path,
    folder: Path,
) -> _Found:
    by_uid = {str(s.ds.get("SOPInstanceUID")): s for s in structures}
    for uid in uids:
        if uid in by_uid:
            return by_uid[uid]
    if uids:
        raise InputError(
            f"the structure set it references ({uids[0]}) is not in {folder}",
            path=context,
            remedy="export the RTSTRUCT of this plan together with the plan and dose",
        )
    if not structures:
        raise InputError(
            f"no RTSTRUCT (structure set) found in {folder}",
            path=folder,
            remedy="export the structure set (RTSTRUCT) with the plan and dose",
        )
    same_frame = [
        s
        for s in structures
        if frame and _structure_frames(s.ds) and frame in _structure_frames(s.ds)
    ]
    if len(same_frame) == 1:
        return same_frame[0]
    raise InputError(
        "no structure set is referenced, and the folder has "
        f"{len(same_frame) or len(structures)} candidate(s)",
        path=context,
        remedy="give the files explicitly: rtcheck dvh --structures RTSTRUCT --dose RTDOSE",
    )


def _linked_structures(
    structures: Sequence[_Found],
    uids: Sequence[str],
    frame: str | None,
    context: Path,
    folder: Path,
    required: bool,
) -> _StructureInfo | None:
    """The structure set of one course; None when it is not ``required`` and cannot be linked."""
    try:
        ss = _structure_for(structures, uids, frame, context, folder)
    except InputError:
        if required:
            raise
        return None
    return _guarded(ss.path, _structure_set_from, ss.ds)


def _structure_frames(ds: Dataset) -> list[str]:
    return [
        str(item.FrameOfReferenceUID)
        for item in ds.get("ReferencedFrameOfReferenceSequence") or []
        if item.get("FrameOfReferenceUID")
    ]


def _read_dose_files(found: Sequence[_Found]) -> DoseGrid:
    grids = []
    for f in found:
        ds = _read_dataset(f.path, pixels=True, required=True)
        grids.append(_guarded(f.path, _dose_grid_from, ds))
    return grids[0] if len(grids) == 1 else _sum_beam_doses(grids)


def discover(folder: str | Path, *, require_structures: bool = True) -> list[Course]:
    """Find the plans in ``folder`` (recursively) and link each with its dose and structures.

    Returns one Course per RTPLAN (in file-name order). A dose that references no plan
    becomes a plan-less course (fractions 1) when it can be attributed unambiguously.
    Raises InputError naming the folder or file, with what to export, when there is no
    RTDOSE or RTSTRUCT, a referenced object is missing, doses cannot be attributed, or
    frames of reference disagree.

    With ``require_structures=False`` (prior courses of a re-irradiation check, which only
    contribute dose: an RTPLAN + RTDOSE export) a course whose structure set is absent or
    cannot be linked has ``structure_set=None`` and says so in its notes; a structure set
    that is linked is still checked against the dose's frame of reference.
    """
    root = Path(folder)
    if not root.exists():
        raise InputError("no such folder", path=root, remedy="check the path of the export folder")
    if not root.is_dir():
        raise InputError(
            "this is a file, not a folder",
            path=root,
            remedy="give the export folder, or name the files with --structures/--dose/--plan",
        )
    found, count = _scan(root)
    plans = found.get("RTPLAN", [])
    structures = found.get("RTSTRUCT", [])
    doses = found.get("RTDOSE", [])
    summary = (
        ", ".join(f"{len(v)} {k or 'other'}" for k, v in sorted(found.items())) or "no DICOM files"
    )
    if not doses:
        raise InputError(
            f"no RTDOSE (dose grid) found ({count} files searched recursively: {summary})",
            path=root,
            remedy="export the plan dose (RTDOSE, absolute dose in Gy) from the planning system "
            "together with the RTPLAN and RTSTRUCT",
        )
    if not structures and require_structures:
        raise InputError(
            f"no RTSTRUCT (structure set) found ({count} files searched recursively: {summary})",
            path=root,
            remedy="export the structure set (RTSTRUCT) together with the plan and dose",
        )

    plan_by_uid = {str(p.ds.get("SOPInstanceUID")): p for p in plans}
    doses_by_plan: dict[str, list[_Found]] = {}
    planless: list[_Found] = []
    for d in doses:
        header = _dose_header(d.ds)
        present = [uid for uid in header.plan_uids if uid in plan_by_uid]
        if header.plan_uids and not present:
            raise InputError(
                f"the dose references plan {header.plan_uids[0]}, which is not in {root}",
                path=d.path,
                remedy="export the RTPLAN together with its dose, or give the files explicitly "
                "with --structures/--dose",
            )
        if header.summation == "MULTI_PLAN" or len(present) > 1:
            continue  # a sum of several plans: not attributable to one course
        if present:
            doses_by_plan.setdefault(present[0], []).append(d)
        else:
            planless.append(d)

    courses = []
    for plan in plans:
        uid = str(plan.ds.get("SOPInstanceUID"))
        plan_doses = doses_by_plan.get(uid, [])
        assumed: tuple[str, ...] = ()
        if not plan_doses and len(plans) == 1 and planless:
            plan_doses, planless = planless, []  # doses without a plan reference: the only plan
            assumed = (
                f"the dose ({', '.join(d.path.name for d in plan_doses)}) references no plan; it "
                "was taken as the dose of the only plan in the folder",
            )
        if not plan_doses:
            raise InputError(
                f"no RTDOSE in {root} belongs to this plan",
                path=plan.path,
                remedy="export the plan's dose (RTDOSE) too, or remove the plan from the folder",
            )
        chosen = _select_doses(plan_doses, plan.path, plan)
        plan_info = _guarded(plan.path, _plan_from, plan.ds)
        plan_info = _PlanInfo(plan_info.plan, plan_info.notes + assumed)
        ss_uids = _structure_set_references([plan.ds, *(d.ds for d in chosen)])
        structure_info = _linked_structures(
            structures,
            ss_uids,
            _text(chosen[0].ds, "FrameOfReferenceUID"),
            plan.path,
            root,
            require_structures,
        )
        dose = _read_dose_files(chosen)
        verified = all(
            _dose_header(d.ds).summation == "BEAM" for d in chosen
        ) and _check_beam_coverage(plan.ds, plan.path, [(d.path, d.ds) for d in chosen])
        courses.append(
            _make_course(dose, structure_info, plan_info, [d.ds for d in chosen], verified)
        )

    if planless:
        chosen = _select_doses(planless, root, None)
        dose_ss_uids = _structure_set_references([d.ds for d in chosen])
        structure_info = _linked_structures(
            structures,
            dose_ss_uids,
            _text(chosen[0].ds, "FrameOfReferenceUID"),
            chosen[0].path,
            root,
            require_structures,
        )
        dose = _read_dose_files(chosen)
        courses.append(_make_course(dose, structure_info, None, [d.ds for d in chosen]))

    if not courses:
        raise InputError(
            "no dose in the folder can be attributed to a single plan (only MULTI_PLAN sums)",
            path=root,
            remedy="export each plan's own dose, or give the files explicitly with --structures/--dose",
        )
    return courses
