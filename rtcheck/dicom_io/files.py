"""Reading DICOM files safely: what is DICOM, reading it completely, and failing with the
file's name.

Every reader of :mod:`rtcheck.dicom_io` opens its files here. A file that is not DICOM is
ignored (during discovery) or refused (when named); a file that looks like DICOM (the
``DICM`` marker, or a ``.dcm`` suffix) but cannot be read completely (truncated, corrupt)
is an :class:`~rtcheck.errors.InputError` that names it, never skipped silently. Elements
pydicom would decode lazily are checked when the file is read, so that a corrupt element is
an error naming its file here, not an exception deep inside rtcheck later.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.valuerep import VR

from ..errors import InputError, RtcheckError

_DICOM_SUFFIXES = {".dcm", ".dicom", ".dic"}
_APPLEDOUBLE_MAGIC = b"\x00\x05\x16\x07"

T = TypeVar("T")


class DicomFile(NamedTuple):
    """A DICOM file and its data set, as read."""

    path: Path
    dataset: Dataset


_DICOM_SUFFIXES = {".dcm", ".dicom", ".dic"}


_APPLEDOUBLE_MAGIC = b"\x00\x05\x16\x07"


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
    every empty raw element) and converts no tags.

    Tags are compared as plain ints: pydicom's tag type compares in Python, slow for the
    several data sets of every file. A file read in tag order (the usual case) needs no
    sorting at all."""
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


def unreadable_file_error(path: Path, detail: object) -> InputError:
    """The error for a file that looks like DICOM but cannot be read completely; ``detail``
    says what was wrong."""
    return InputError(
        f"the file looks like DICOM but cannot be read completely ({detail}); it is truncated "
        "or corrupt",
        path=path,
        remedy="copy or export the file again from the planning system",
    )


def _dcmread(path: Path, *, pixels: bool, force: bool) -> Dataset:
    """Read ``path`` with pydicom and check it was read completely: no element cut short,
    no end-of-file warning, every element decodable (:func:`_decode_elements`).

    ``pixels``: read the pixel data too; ``force``: accept a file without preamble.
    Raises :func:`unreadable_file_error` otherwise; pydicom's own errors pass through.
    """
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
        raise unreadable_file_error(path, problem)
    try:
        _decode_elements(ds, elements)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on corrupt elements
        raise unreadable_file_error(path, exc) from exc
    return ds


#: Elements left encoded until their reader (guarded) needs them: bulky, and parsed fast there.
_DECODED_LATER = {
    0x30060050,  # ContourData
    0x30060039,  # ROIContourSequence (read under guarded_build)
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
    Decoding every element would take longer than reading the file.
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


def read_dataset(path: Path, *, pixels: bool = False, required: bool = False) -> Dataset | None:
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
            raise unreadable_file_error(path, exc2) from exc2
        if "SOPClassUID" not in ds or "Modality" not in ds:
            if required:
                raise InputError(
                    "not a DICOM file",
                    path=path,
                    remedy="give the DICOM file exported by the planning system",
                ) from exc
            raise unreadable_file_error(path, "no DICOM header") from exc
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
        raise unreadable_file_error(path, exc) from exc


def modality_of(ds: Dataset) -> str:
    """The data set's Modality (RTPLAN, RTSTRUCT, RTDOSE, …) in upper case; "" when absent."""
    return str(ds.get("Modality", "") or "").upper()


def read_required(path: str | Path, modality: str, *, pixels: bool = False) -> DicomFile:
    """Read a file the user named, which must be a DICOM object of ``modality``.

    Raises InputError naming the file when it is missing, a folder, not DICOM, truncated
    or corrupt, or another kind of object. ``pixels``: read the pixel data too.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such file (expected an {modality})", path=p, remedy="check the path")
    if p.is_dir():
        raise InputError(f"this is a folder, expected an {modality} file", path=p)
    ds = read_dataset(p, pixels=pixels, required=True)
    assert ds is not None
    found = modality_of(ds)
    if not found and "SOPInstanceUID" not in ds:
        raise unreadable_file_error(p, "no DICOM data set after the file header")
    if found != modality:
        raise InputError(
            f"expected an {modality} file but this is {found or 'not an RT object'}",
            path=p,
            remedy=f"give the {modality} file of the plan",
        )
    return DicomFile(p, ds)


class Built(NamedTuple, Generic[T]):
    """What a model builder made of a file (``value``) and the warnings pydicom gave while
    it read the data set (``warnings``: their first lines, each once, in order)."""

    value: T
    warnings: tuple[str, ...]


def build_noting_warnings(path: Path, build: Callable[..., T], *args: Any) -> Built[T]:
    """``build(path, *args)``: run a model builder on a file's data set, turning unexpected
    parser failures (a missing or malformed attribute) into an InputError on ``path``.

    pydicom's warnings (it decodes lazily: a frame count it had to assume, excess pixel
    data, an invalid value) never reach the terminal: they are folded into the error when
    the build fails, and returned with the value when it succeeds, for the caller's notes.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = build(path, *args)
        except RtcheckError as error:
            _with_warnings(error, caught)
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
            malformed = InputError(
                f"the file is malformed or incomplete ({type(exc).__name__}: {exc})",
                path=path,
                remedy="export the file again from the planning system",
            )
            raise _with_warnings(malformed, caught) from exc
    return Built(value, _warning_texts(caught))


def guarded_build(path: Path, build: Callable[..., T], *args: Any) -> T:
    """:func:`build_noting_warnings`'s value (for a caller that keeps no notes)."""
    return build_noting_warnings(path, build, *args).value


def _warning_texts(caught: Sequence[warnings.WarningMessage]) -> tuple[str, ...]:
    """The first line of each warning, each once, in order."""
    texts: list[str] = []
    for warning in caught:
        text = str(warning.message).strip().splitlines()[0] if str(warning.message).strip() else ""
        if text and text not in texts:
            texts.append(text)
    return tuple(texts)


def _with_warnings(error: RtcheckError, caught: Sequence[warnings.WarningMessage]) -> RtcheckError:
    """``error`` with pydicom's warnings added to its message (one line in all)."""
    texts = _warning_texts(caught)
    if texts:
        error.message = f"{error.message} (pydicom warned: {'; '.join(texts)})"
    return error


def as_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """One path or several, as a list of paths."""
    if isinstance(paths, str | Path):
        return [Path(paths)]
    return [Path(p) for p in paths]
