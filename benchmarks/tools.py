"""The three things benchmarks/run.py times, each as a function from files to per-ROI results.

* :func:`run_floor` — the floor: read the RTSTRUCT and RTDOSE files with pydicom and decode
  the dose array to Gy. Any DVH tool has to do at least this much.
* :func:`run_rtcheck` — rtcheck end to end: its reader (rtcheck.dicom_io) then
  ``rtcheck.dvhcalc.compute_dvhs`` for every ROI with the default settings.
* :func:`run_dicompyler` — dicompyler-core 0.5.6 ``dvhcalc.get_dvh`` for every ROI, default
  or with interpolation. The files are read once with pydicom and the datasets passed to
  get_dvh (it would otherwise re-read both files for every ROI), which favours dicompyler.

Every tool returns :class:`RoiResult` rows (Gy, cc) so that accuracy is scored the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom

#: dicompyler-core's interpolation settings used for the "interpolated" column: in-plane
#: resolution a quarter of the dose pixel spacing (it must be spacing / 2^n) and two extra
#: segments between contour planes — the settings its documentation illustrates.
DICOMPYLER_INTERP_FACTOR = 4
DICOMPYLER_INTERP_SEGMENTS = 2


@dataclass
class RoiResult:
    """One ROI's DVH summary from one tool (doses Gy, volumes cc)."""

    roi_number: int
    name: str
    volume_cc: float | None = None
    min_gy: float | None = None
    mean_gy: float | None = None
    max_gy: float | None = None
    # cumulative DVH: volume (cc) receiving at least dose_gy[i]
    dvh_dose_gy: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dvh_volume_cc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    error: str | None = None
    # rtcheck only: spread of the volume over its DVH variants (end cap, coarser sampling)
    volume_uncertainty_cc: float | None = None

    def volume_at_dose_cc(self, dose_gy: float) -> float | None:
        """Volume (cc) receiving at least ``dose_gy``, linear between DVH points."""
        if self.dvh_dose_gy.size == 0:
            return None
        if dose_gy > self.dvh_dose_gy[-1]:
            return 0.0
        return float(np.interp(dose_gy, self.dvh_dose_gy, self.dvh_volume_cc))


_CONTOUR_DATA = 0x30060050


def timed(func: Callable, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = func(*args, **kwargs)
    return time.perf_counter() - start, out


# -- (c) floor ---------------------------------------------------------------------------
def run_floor(structure_file: Path, dose_files: list[Path]) -> float:
    """Read the files, decode every contour's points and the dose to Gy (the least any DVH
    tool must do; each the fastest way we know, which is what rtcheck's reader does);
    returns the summed dose max plus the point count (so nothing is skipped).

    pydicom converts element values lazily, so the contour coordinates are decoded
    explicitly; from the raw bytes (ContourData as a backslash-separated decimal string →
    float array) with ``np.fromstring(text, sep="\\")``, the fastest way we know (one C
    strtod pass; as rtcheck's reader does) — splitting and converting the numbers one by
    one is ~2× slower, pydicom's own DS conversion ~40× slower.
    """
    rtss = pydicom.dcmread(structure_file)
    n_points = 0
    for roi in rtss.get("ROIContourSequence", []):
        for contour in roi.get("ContourSequence", []):
            raw = contour.get_item(_CONTOUR_DATA)
            if raw is None:
                continue
            value = raw.value
            if isinstance(value, bytes | bytearray):
                text = bytes(value).strip(b" \x00").decode("ascii")
                points = np.fromstring(text, dtype=np.float64, sep="\\")
            else:
                points = np.asarray(value, dtype=np.float64)
            n_points += points.size
    total = None
    for path in dose_files:
        ds = pydicom.dcmread(path)
        dose = _stored_pixels(ds) * float(ds.DoseGridScaling)
        total = dose if total is None else total + dose
    return float(total.max()) + n_points


#: Uncompressed little-endian transfer syntaxes (implicit and explicit VR).
_NATIVE = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")


def _stored_pixels(ds) -> np.ndarray:
    """The dose's stored values: straight from the PixelData bytes (``np.frombuffer``) in the
    plain layout, as rtcheck's reader does (pydicom's ``pixel_array`` costs ≈ 0.3 ms more per
    file in option handling before the same buffer view), else ``pixel_array``."""
    data = ds.get("PixelData")
    bits = ds.get("BitsAllocated")
    if (
        ds.file_meta.get("TransferSyntaxUID") in _NATIVE
        and isinstance(data, bytes)
        and bits in (16, 32)
        and ds.get("BitsStored") == bits
        and ds.get("SamplesPerPixel", 1) == 1
    ):
        dtype = np.dtype(f"<{'ui'[int(ds.get('PixelRepresentation', 0))]}{bits // 8}")
        frames = int(ds.get("NumberOfFrames") or 1)
        pixels = np.frombuffer(data, dtype=dtype)
        if pixels.size == frames * ds.Rows * ds.Columns:
            return pixels.reshape(frames, ds.Rows, ds.Columns)
    return ds.pixel_array


# -- (a) rtcheck -------------------------------------------------------------------------
def run_rtcheck(structure_file: Path, dose_files: list[Path], settings=None) -> list[RoiResult]:
    from rtcheck.dicom_io import read_dose, read_structure_set
    from rtcheck.dvhcalc import compute as rtdvh
    from rtcheck.errors import RtcheckError

    structure_set = read_structure_set(structure_file)
    dose = read_dose(list(dose_files))
    settings = settings if settings is not None else rtdvh.DEFAULT
    out = []
    results = rtdvh.compute_dvhs(structure_set, dose, settings)
    for structure, res in zip(structure_set.structures, results, strict=True):
        row = RoiResult(structure.roi_number, structure.name)
        if isinstance(res, RtcheckError):
            row.error = res.message
        else:
            row.volume_cc = res.total_volume_cc
            row.min_gy, row.mean_gy, row.max_gy = res.min_gy(), res.mean_gy(), res.max_gy()
            row.volume_uncertainty_cc = res.uncertainty(lambda h: h.total_volume_cc)
            # exact cumulative curve from the samples (no binning): V(D) at each sample dose
            asc = res.dose_gy[::-1]
            vol_ge = res.volume_with_dose_cc - np.concatenate(([0.0], np.cumsum(res.volume_cc[::-1])[:-1]))
            row.dvh_dose_gy, row.dvh_volume_cc = asc, vol_ge
        out.append(row)
    return out


# -- (b) dicompyler-core -----------------------------------------------------------------
def run_dicompyler(
    structure_file: Path, dose_file: Path, interpolate: bool = False, rois: list[int] | None = None
) -> list[RoiResult]:
    from dicompyler_shim import dicomparser, dvhcalc

    rtss = pydicom.dcmread(structure_file)
    rtdose = pydicom.dcmread(dose_file)
    kwargs = {}
    if interpolate:
        spacing = [float(v) for v in rtdose.PixelSpacing]
        kwargs = {
            "interpolation_resolution": (
                spacing[0] / DICOMPYLER_INTERP_FACTOR,
                spacing[1] / DICOMPYLER_INTERP_FACTOR,
            ),
            "interpolation_segments_between_planes": DICOMPYLER_INTERP_SEGMENTS,
        }
    structures = dicomparser.DicomParser(rtss).GetStructures()
    out = []
    for number, info in structures.items():
        if rois is not None and number not in rois:
            continue
        row = RoiResult(int(number), str(info["name"]))
        try:
            h = dvhcalc.get_dvh(rtss, rtdose, number, **kwargs)
        except Exception as exc:  # dicompyler raises bare errors; record them per ROI
            row.error = f"{type(exc).__name__}: {exc}"
            out.append(row)
            continue
        if h.volume > 0:
            row.volume_cc = float(h.volume)
            row.min_gy, row.mean_gy, row.max_gy = float(h.min), float(h.mean), float(h.max)
            # counts[i] = volume receiving >= bins[i] (1 cGy bins)
            row.dvh_dose_gy = np.asarray(h.bins[:-1], dtype=float)
            row.dvh_volume_cc = np.asarray(h.counts, dtype=float)
        else:
            row.error = "empty DVH"
        out.append(row)
    return out
