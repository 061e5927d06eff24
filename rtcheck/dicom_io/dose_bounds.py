"""Bounds on an RTDOSE's geometry and doses: values beyond them are damaged attributes.

A dose grid whose positions, spacings or plane offsets are not finite numbers, whose
neighbouring rows, columns or planes lie more than :data:`MAX_DOSE_SPACING_MM` apart, whose
voxels lie more than :data:`MAX_DOSE_COORDINATE_MM` from the origin, or whose dose exceeds
:data:`MAX_PLAUSIBLE_DOSE_GY` is refused (:class:`~rtcheck.errors.InputError` naming the
file): a plane moved far away would leave the organs near it the interpolated dose of
nothing (a cord read 0.00 Gy and passed), and a 10³⁰ scaling would report 10³⁷ Gy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..models import DoseGrid

#: The remedy for a damaged or incomplete RTDOSE.
RE_EXPORT_DOSE = "re-export the dose (RTDOSE) from the planning system"

#: Largest spacing (mm) between neighbouring dose rows, columns or planes. Dose grids are
#: computed at 1–5 mm; a wider step is a damaged PixelSpacing or GridFrameOffsetVector
#: (planes moved away from the rest would leave the organs between them with the
#: interpolated dose of planes far away).
MAX_DOSE_SPACING_MM = 50.0
#: Largest |coordinate| (mm) of a dose voxel centre: 10 m, far beyond any patient frame.
MAX_DOSE_COORDINATE_MM = 10_000.0
#: Highest dose (Gy) a dose grid may hold: no plan's total dose comes near it; beyond it the
#: DoseGridScaling or the pixel data are damaged.
MAX_PLAUSIBLE_DOSE_GY = 10_000.0


def check_plane_spacing(path: Path, coords: np.ndarray) -> None:
    """Refuse dose planes (coordinates in mm along the frame normal) further apart than
    :data:`MAX_DOSE_SPACING_MM` or beyond :data:`MAX_DOSE_COORDINATE_MM`: the planes are
    not where the planning system computed them."""
    steps = np.abs(np.diff(coords))
    if steps.size and float(steps.max()) > MAX_DOSE_SPACING_MM:
        at = int(np.argmax(steps))
        raise InputError(
            f"dose planes {at + 1} and {at + 2} are {float(steps[at]):.4g} mm apart "
            f"(GridFrameOffsetVector); rtcheck reads dose planes at most "
            f"{MAX_DOSE_SPACING_MM:g} mm apart",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    if float(np.abs(coords).max()) > MAX_DOSE_COORDINATE_MM:
        raise InputError(
            f"a dose plane lies {float(np.abs(coords).max()):.4g} mm from the origin "
            f"(GridFrameOffsetVector); rtcheck reads dose grids within "
            f"{MAX_DOSE_COORDINATE_MM:g} mm of it",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )


def check_grid_placement(path: Path, ipp: np.ndarray, iop: np.ndarray) -> None:
    """Refuse an ImagePositionPatient (mm) or ImageOrientationPatient that is not finite,
    or a position beyond :data:`MAX_DOSE_COORDINATE_MM`."""
    if not (np.isfinite(ipp).all() and np.isfinite(iop).all()):
        raise InputError(
            f"ImagePositionPatient {ipp.tolist()} / ImageOrientationPatient {iop.tolist()} "
            "hold a value that is not a finite number",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
    if float(np.abs(ipp).max()) > MAX_DOSE_COORDINATE_MM:
        raise InputError(
            f"ImagePositionPatient {ipp.tolist()} lies more than {MAX_DOSE_COORDINATE_MM:g} mm "
            "from the origin",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )


def check_pixel_spacing(path: Path, spacing: Sequence[float]) -> None:
    """Refuse a (positive) PixelSpacing (mm) wider than :data:`MAX_DOSE_SPACING_MM`."""
    if not all(s <= MAX_DOSE_SPACING_MM for s in spacing):
        raise InputError(
            f"PixelSpacing {spacing} mm is not a dose grid's spacing; rtcheck reads dose grids "
            f"of at most {MAX_DOSE_SPACING_MM:g} mm spacing",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )


def check_plausible_dose(path: Path, scaling: object, grid: DoseGrid) -> None:
    """Refuse a grid whose highest dose exceeds :data:`MAX_PLAUSIBLE_DOSE_GY` (read from
    the grid's plane ranges: no extra pass over the dose)."""
    if grid.max_gy > MAX_PLAUSIBLE_DOSE_GY:
        raise InputError(
            f"the dose grid reaches {grid.max_gy:.3g} Gy (DoseGridScaling "
            f"{scaling}); no plan's total dose comes near "
            f"{MAX_PLAUSIBLE_DOSE_GY:g} Gy: the scaling or the pixel data are damaged",
            path=path,
            remedy=RE_EXPORT_DOSE,
        )
