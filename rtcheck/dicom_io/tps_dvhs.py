"""The planning system's own DVHs, as stored in an RTDOSE's DVHSequence (for comparison with
rtcheck's; never used for checking)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from pydicom.dataset import Dataset

from .files import guarded_build, read_required


class TpsDVH(NamedTuple):
    """A cumulative DVH: ``volume_cc[i]`` (cc) receives at least ``dose_gy[i]`` (Gy)."""

    dose_gy: np.ndarray
    volume_cc: np.ndarray


def read_tps_dvhs(path: str | Path) -> dict[int, TpsDVH]:
    """The planning system's own DVHs from an RTDOSE DVHSequence, as cumulative curves.

    Returns ``{roi_number: TpsDVH(dose_gy, volume_cc)}`` where ``volume_cc[i]`` is the volume
    receiving at least ``dose_gy[i]`` (``dose_gy[0] == 0``). DVHData holds (bin width,
    volume) pairs; bin widths are scaled by DVHDoseScaling. DIFFERENTIAL DVHs are converted
    (one more point, at the top edge, with volume 0). DVHs in RELATIVE dose or percent
    volume are skipped (their absolute values are unknown). The DVHMinimumDose /
    DVHMaximumDose / DVHMeanDose header attributes are not used: some systems write them in
    percent of the prescription.
    """
    dose_file = read_required(path, "RTDOSE")
    return guarded_build(dose_file.path, _tps_dvhs_from, dose_file.dataset)


def _tps_dvhs_from(path: Path, ds: Dataset) -> dict[int, TpsDVH]:
    """The cumulative DVHs of an RTDOSE data set by ROI number (see :func:`read_tps_dvhs`)."""
    out: dict[int, TpsDVH] = {}
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
            out[roi] = TpsDVH(dose_gy=edges[:-1], volume_cc=volumes)
        elif kind == "DIFFERENTIAL":
            cumulative = np.concatenate((np.cumsum(volumes[::-1])[::-1], [0.0]))
            out[roi] = TpsDVH(dose_gy=edges, volume_cc=cumulative)
    return out
