"""The dose distribution: :class:`DoseGrid`, held in canonical order.

Dose in Gy, coordinates in mm. Patient coordinates follow DICOM (x to the patient's left,
y posterior, z superior). A :class:`DoseGrid` is always held in *canonical* order: array
axes (z, y, x), each axis's coordinates strictly increasing, whatever the orientation of
the file it came from (:mod:`rtcheck.dicom_io` does the flips and transposes).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .arrays import readonly_array


class PlaneDoseRange(NamedTuple):
    """The lowest and the highest dose (Gy) of each z plane of a grid (read-only arrays,
    one value per plane)."""

    min_gy: np.ndarray
    max_gy: np.ndarray


@dataclass(frozen=True, eq=False)
class DoseGrid:
    """A 3-D dose distribution on a rectilinear grid, in canonical order.

    ``dose_gy`` has shape (len(z_mm), len(y_mm), len(x_mm)) and is stored as float64 (other
    dtypes are converted); ``x_mm``, ``y_mm``, ``z_mm`` are the voxel-centre coordinates in
    patient space (mm), strictly increasing. Plane spacing along z may be non-uniform.
    """

    dose_gy: np.ndarray
    x_mm: np.ndarray
    y_mm: np.ndarray
    z_mm: np.ndarray
    frame_of_reference_uid: str | None = None
    sop_instance_uids: tuple[str, ...] = ()
    source_files: tuple[Path, ...] = ()
    referenced_plan_uid: str | None = None
    dose_type: str = "PHYSICAL"
    summation_type: str = "PLAN"

    def __post_init__(self) -> None:
        """Validate the grid and hold read-only copies of its arrays."""
        self._check_and_freeze(take=False)

    @classmethod
    def taking(
        cls,
        dose_gy: np.ndarray,
        x_mm: np.ndarray,
        y_mm: np.ndarray,
        z_mm: np.ndarray,
        **fields: object,
    ) -> DoseGrid:
        """As the constructor (same checks, same errors), but ``dose_gy`` is taken over, not
        copied: when it is a C-contiguous array owning its memory, it is made read-only in
        place. For a caller that made the array and keeps no reference to it (the reader: a
        dose grid can be tens of MB, and a copy costs more than reading it).
        """
        grid = cls.__new__(cls)
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                values[f.name] = f.default
        unknown = set(fields) - set(values)
        if unknown:
            raise TypeError(f"unexpected DoseGrid field(s) {sorted(unknown)}")
        values.update(fields, dose_gy=dose_gy, x_mm=x_mm, y_mm=y_mm, z_mm=z_mm)
        for name, value in values.items():
            object.__setattr__(grid, name, value)
        grid._check_and_freeze(take=True)
        return grid

    def _check_and_freeze(self, *, take: bool) -> None:
        """Validate the axes and the dose (shape, canonical order, finite values), convert
        the dose to float64 and make every array read-only; record each plane's dose range.

        ``take``: the dose array may be made read-only in place instead of copied (see
        :meth:`taking`).
        """
        axes = {}
        for name in ("x_mm", "y_mm", "z_mm"):
            coords = np.asarray(getattr(self, name), dtype=float)
            if coords.ndim != 1 or coords.size < 1:
                raise ValueError(f"{name} must be a non-empty 1-D array")
            if coords.size > 1 and not (coords[1:] > coords[:-1]).all():  # (diff > 0, cheaper)
                raise ValueError(f"{name} must be strictly increasing (canonical order)")
            axes[name] = readonly_array(coords)
            object.__setattr__(self, name, axes[name])
        dose = np.asarray(self.dose_gy)
        expected = (axes["z_mm"].size, axes["y_mm"].size, axes["x_mm"].size)
        if dose.shape != expected:
            raise ValueError(f"dose array shape {dose.shape} does not match coordinates {expected}")
        if dose.dtype != np.float64:
            # float64 throughout: interpolation, binning and the surface-extreme screen
            # compare doses with float64 thresholds (a float32 grid would be compared at
            # float32 precision, coarser than the screen's margin)
            dose = dose.astype(np.float64)
        # each plane's min and max (NaN propagates, ±inf shows): the finiteness check, and
        # kept (plane_dose_range) for the surface extremes' screen, in the same two passes
        # that np.isfinite(dose).all() cost
        flat = dose.reshape(dose.shape[0], -1)
        plane_min, plane_max = flat.min(axis=1), flat.max(axis=1)
        if not (np.isfinite(plane_min).all() and np.isfinite(plane_max).all()):
            raise ValueError("dose grid contains non-finite values")
        for bound in (plane_min, plane_max):
            bound.setflags(write=False)
        object.__setattr__(self, "_plane_range", PlaneDoseRange(plane_min, plane_max))
        if (
            take
            and dose is self.dose_gy
            and dose.flags.owndata
            and dose.flags.c_contiguous
            and dose.flags.writeable
        ):
            dose.setflags(write=False)  # what readonly_array would give, without the copy
        else:
            dose = readonly_array(dose)
        object.__setattr__(self, "dose_gy", dose)
        object.__setattr__(self, "sop_instance_uids", tuple(self.sop_instance_uids))
        object.__setattr__(self, "source_files", tuple(Path(p) for p in self.source_files))

    @property
    def shape(self) -> tuple[int, int, int]:
        """The dose array's shape: (planes along z, rows along y, columns along x)."""
        return tuple(self.dose_gy.shape)  # type: ignore[return-value]

    @property
    def max_gy(self) -> float:
        """The highest dose (Gy) of the grid."""
        return float(self.plane_dose_range.max_gy.max())

    @property
    def plane_dose_range(self) -> PlaneDoseRange:
        """The lowest and the highest dose (Gy) of each z plane (read-only arrays, one value
        per plane), computed once when the grid is made."""
        return self._plane_range  # type: ignore[attr-defined, no-any-return]

    def same_geometry(self, other: DoseGrid, tol_mm: float = 1e-3) -> bool:
        """True when both grids have the same voxel centres (within ``tol_mm``)."""
        return all(
            a.shape == b.shape and np.allclose(a, b, atol=tol_mm, rtol=0)
            for a, b in ((self.x_mm, other.x_mm), (self.y_mm, other.y_mm), (self.z_mm, other.z_mm))
        )
