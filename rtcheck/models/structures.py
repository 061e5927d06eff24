"""Structures: contours, regions of interest (ROIs) and the structure set (RTSTRUCT).

Positions in mm, patient coordinates as DICOM (x to the patient's left, y posterior, z
superior). Contour points are held in read-only arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from .arrays import readonly_array


class ContourType(Enum):
    """DICOM ContourGeometricType (3006,0042)."""

    CLOSED_PLANAR = "CLOSED_PLANAR"
    OPEN_PLANAR = "OPEN_PLANAR"
    OPEN_NONPLANAR = "OPEN_NONPLANAR"
    POINT = "POINT"


@dataclass(frozen=True, eq=False)
class Contour:
    """One planar contour: ``points_mm`` is an (N, 2) array of (x, y) at height ``z_mm``."""

    z_mm: float
    points_mm: np.ndarray
    geometric_type: ContourType = ContourType.CLOSED_PLANAR

    def __post_init__(self) -> None:
        """Check the points are a finite (N, 2) array and hold them as a read-only copy."""
        pts = np.asarray(self.points_mm, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"contour points must be an (N, 2) array of x, y in mm, got {pts.shape}")
        if not np.all(np.isfinite(pts)) or not np.isfinite(self.z_mm):
            raise ValueError("contour coordinates must be finite")
        object.__setattr__(self, "points_mm", readonly_array(pts))
        object.__setattr__(self, "z_mm", float(self.z_mm))

    @classmethod
    def many(
        cls,
        z_mm: Sequence[float],
        points_mm: np.ndarray,
        counts: Sequence[int],
        geometric_types: Sequence[ContourType],
    ) -> list[Contour]:
        """Several contours at once (the reader's path: one ROI's contours).

        ``points_mm`` is an (sum(counts), 2) array holding the contours' points one after
        another, ``counts[i]`` points for contour i. The constructor's checks are made once
        on all the points (same errors); each contour's points are a read-only view of one
        read-only copy, instead of a copy per contour.
        """
        pts = np.asarray(points_mm, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(
                f"contour points must be an (N, 2) array of x, y in mm, got {pts.shape}"
            )
        zs = [float(z) for z in z_mm]
        if not (len(zs) == len(counts) == len(geometric_types)) or sum(counts) != pts.shape[0]:
            raise ValueError(
                "z_mm, counts and geometric_types must describe every row of points_mm"
            )
        if not np.all(np.isfinite(pts)) or not np.all(np.isfinite(zs)):
            raise ValueError("contour coordinates must be finite")
        shared = readonly_array(pts)
        out = []
        start = 0
        new = object.__new__
        set_attr = object.__setattr__
        for z, n, kind in zip(zs, counts, geometric_types, strict=True):
            contour = new(cls)
            set_attr(contour, "z_mm", z)
            set_attr(contour, "points_mm", shared[start : start + n])
            set_attr(contour, "geometric_type", kind)
            out.append(contour)
            start += n
        return out

    @property
    def signed_area_mm2(self) -> float:
        """Shoelace area (mm²), positive when the points run counter-clockwise in (x, y)."""
        x, y = self.points_mm[:, 0], self.points_mm[:, 1]
        return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


@dataclass(frozen=True, eq=False)
class Structure:
    """A region of interest (ROI) of a structure set.

    ``contours`` may be empty (an ROI declared without contours): such a structure is kept
    and reported, never silently dropped. Only CLOSED_PLANAR contours make a volume.
    """

    roi_number: int
    name: str
    contours: tuple[Contour, ...] = ()
    interpreted_type: str | None = None
    frame_of_reference_uid: str | None = None
    color_rgb: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        """Hold the contours as a tuple (a frozen structure shares nothing mutable)."""
        object.__setattr__(self, "contours", tuple(self.contours))

    @property
    def geometric_types(self) -> frozenset[ContourType]:
        """The geometric types of the ROI's contours (empty for an ROI without contours)."""
        return frozenset(c.geometric_type for c in self.contours)

    @property
    def is_empty(self) -> bool:
        """True when the ROI has no contours."""
        return not self.contours

    @property
    def is_volumetric(self) -> bool:
        """True when the ROI has contours and all of them are CLOSED_PLANAR."""
        return bool(self.contours) and self.geometric_types == {ContourType.CLOSED_PLANAR}


@dataclass(frozen=True, eq=False)
class StructureSet:
    """An RTSTRUCT: its structures in file order."""

    sop_instance_uid: str
    frame_of_reference_uid: str | None
    structures: tuple[Structure, ...]
    label: str | None = None
    patient_id: str | None = None
    source_file: Path | None = None

    def __post_init__(self) -> None:
        """Hold the structures as a tuple; refuse two ROIs with the same number."""
        object.__setattr__(self, "structures", tuple(self.structures))
        numbers = [s.roi_number for s in self.structures]
        if len(numbers) != len(set(numbers)):
            raise ValueError(f"duplicate ROI numbers in structure set {self.sop_instance_uid}")

    def by_number(self, roi_number: int) -> Structure:
        """The structure with ROI number ``roi_number``; KeyError when there is none."""
        for s in self.structures:
            if s.roi_number == roi_number:
                return s
        raise KeyError(roi_number)
