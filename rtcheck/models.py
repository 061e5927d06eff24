"""Domain objects: frozen dataclasses validated at construction.

Units: dose in Gy, volume in cc (cm³), positions and lengths in mm, dates as
:class:`datetime.date`. Arrays held by these objects are made read-only, so a model can be
shared between computations without being changed behind anyone's back.

Patient coordinates follow DICOM (x to the patient's left, y posterior, z superior). A
:class:`DoseGrid` is always held in *canonical* order: array axes (z, y, x), each axis's
coordinates strictly increasing, whatever the orientation of the file it came from
(:mod:`rtcheck.dicom_io` does the flips and transposes).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

#: Version of the plain-data (JSON) form of results. Bump on any incompatible change.
SCHEMA_VERSION = "1.0"

#: Volume used for the "near-point" maximum dose, D0.035cc (cc).
NEAR_MAX_VOLUME_CC = 0.035


def _readonly(array: np.ndarray, dtype=None) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


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
        pts = np.asarray(self.points_mm, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"contour points must be an (N, 2) array of x, y in mm, got {pts.shape}")
        if not np.all(np.isfinite(pts)) or not np.isfinite(self.z_mm):
            raise ValueError("contour coordinates must be finite")
        object.__setattr__(self, "points_mm", _readonly(pts))
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
        shared = _readonly(pts)
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
        object.__setattr__(self, "contours", tuple(self.contours))

    @property
    def geometric_types(self) -> frozenset[ContourType]:
        return frozenset(c.geometric_type for c in self.contours)

    @property
    def is_empty(self) -> bool:
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
        object.__setattr__(self, "structures", tuple(self.structures))
        numbers = [s.roi_number for s in self.structures]
        if len(numbers) != len(set(numbers)):
            raise ValueError(f"duplicate ROI numbers in structure set {self.sop_instance_uid}")

    def by_number(self, roi_number: int) -> Structure:
        for s in self.structures:
            if s.roi_number == roi_number:
                return s
        raise KeyError(roi_number)


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
        axes = {}
        for name in ("x_mm", "y_mm", "z_mm"):
            coords = np.asarray(getattr(self, name), dtype=float)
            if coords.ndim != 1 or coords.size < 1:
                raise ValueError(f"{name} must be a non-empty 1-D array")
            if coords.size > 1 and not (coords[1:] > coords[:-1]).all():  # (diff > 0, cheaper)
                raise ValueError(f"{name} must be strictly increasing (canonical order)")
            axes[name] = _readonly(coords)
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
        object.__setattr__(self, "_plane_range", (plane_min, plane_max))
        if (
            take
            and dose is self.dose_gy
            and dose.flags.owndata
            and dose.flags.c_contiguous
            and dose.flags.writeable
        ):
            dose.setflags(write=False)  # what _readonly would give, without the copy
        else:
            dose = _readonly(dose)
        object.__setattr__(self, "dose_gy", dose)
        object.__setattr__(self, "sop_instance_uids", tuple(self.sop_instance_uids))
        object.__setattr__(self, "source_files", tuple(Path(p) for p in self.source_files))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.dose_gy.shape)  # type: ignore[return-value]

    @property
    def max_gy(self) -> float:
        return float(self.plane_dose_range[1].max())

    @property
    def plane_dose_range(self) -> tuple[np.ndarray, np.ndarray]:
        """The lowest and the highest dose (Gy) of each z plane (read-only arrays, one value
        per plane), computed once when the grid is made."""
        return self._plane_range  # type: ignore[attr-defined, no-any-return]

    def same_geometry(self, other: DoseGrid, tol_mm: float = 1e-3) -> bool:
        """True when both grids have the same voxel centres (within ``tol_mm``)."""
        return all(
            a.shape == b.shape and np.allclose(a, b, atol=tol_mm, rtol=0)
            for a, b in ((self.x_mm, other.x_mm), (self.y_mm, other.y_mm), (self.z_mm, other.z_mm))
        )


@dataclass(frozen=True, eq=False)
class Plan:
    """An RTPLAN, reduced to what checking needs.

    ``prescription_gy`` is the total prescribed dose (Gy) from DoseReferenceSequence, or
    None when the plan does not state it (reported as unknown, never guessed).
    """

    sop_instance_uid: str
    fractions: int | None
    prescription_gy: float | None = None
    label: str | None = None
    name: str | None = None
    patient_id: str | None = None
    plan_date: _dt.date | None = None
    referenced_structure_set_uid: str | None = None
    frame_of_reference_uid: str | None = None
    source_file: Path | None = None

    def __post_init__(self) -> None:
        if self.fractions is not None and self.fractions < 1:
            raise ValueError(f"number of fractions must be >= 1, got {self.fractions}")
        if self.prescription_gy is not None and not self.prescription_gy > 0:
            raise ValueError(f"prescription must be > 0 Gy, got {self.prescription_gy}")

    @property
    def dose_per_fraction_gy(self) -> float | None:
        if self.prescription_gy is None or self.fractions is None:
            return None
        return self.prescription_gy / self.fractions


@dataclass(frozen=True, eq=False)
class Course:
    """One course of radiotherapy: a plan with its dose (and structures, when known).

    ``fractions`` and ``date`` are the course's own; they are what BED/EQD2 conversion and
    recovery-factor documentation use. A course is the unit that summation works on.
    ``notes`` are what the reader had to assume or simplify (e.g. "no RTPLAN: fractions
    taken as 1", several fraction groups), for reports to show.
    """

    dose: DoseGrid
    fractions: int
    plan: Plan | None = None
    structure_set: StructureSet | None = None
    date: _dt.date | None = None
    label: str | None = None
    ct_series_uids: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.fractions < 1:
            raise ValueError(f"number of fractions must be >= 1, got {self.fractions}")
        object.__setattr__(self, "notes", tuple(self.notes))


@dataclass(frozen=True, eq=False)
class DVH:
    """The dose-volume data of one structure: dose samples with the volume each stands for.

    ``dose_gy[i]`` is the dose at a (sub-)voxel sample and ``volume_cc[i]`` the structure
    volume it represents (partial-volume weights). Samples are stored sorted by dose,
    descending. ``structure_volume_cc`` is the structure's volume from its contours;
    ``outside_grid_cc`` the part of it outside the dose grid (no dose known there).

    Conventions for the metrics (all doses Gy, volumes cc):

    * the cumulative DVH V(D) is the volume receiving at least D;
    * D at volume v is read on the cumulative DVH with each sample's volume centred on its
      dose (linear interpolation between samples); it is ``None`` (undefined) when v is
      larger than the volume with known dose, never 0;
    * ``max_gy``/``min_gy`` are point values: the extreme sample doses, together with
      ``boundary_max_gy``/``boundary_min_gy`` — the highest/lowest dose on the structure's
      surface (contour vertices and edges over their slabs, :mod:`rtcheck.dvhcalc.extremes`), which
      carry no volume; ``None`` when unknown or when the samples already reach it (to within
      a rounding-level margin, :data:`rtcheck.dvhcalc.compute._SURFACE_MARGIN`). Samples lie inside
      the structure, so without them a point extreme in a gradient is biased toward the
      interior. The near-point maximum is :meth:`near_max_gy` (D0.035cc, from
      the samples only).

    ``variants`` are DVHs of the same structure computed with other defensible settings
    (coarser sampling, other end-capping); the spread of a metric across the DVH and its
    variants is that metric's numerical uncertainty (:meth:`uncertainty`).
    """

    name: str
    roi_number: int | None
    dose_gy: np.ndarray
    volume_cc: np.ndarray
    structure_volume_cc: float | None = None
    outside_grid_cc: float = 0.0
    settings: str = ""
    variants: tuple[DVH, ...] = field(default=())
    boundary_min_gy: float | None = None
    boundary_max_gy: float | None = None

    def __post_init__(self) -> None:
        # Hot path: rtcheck.dvhcalc builds three DVHs per ROI (up to 65 536 samples each). The
        # checks below are the former ones (finite samples, volumes >= 0; zero-volume
        # samples dropped; stable sort by descending dose) with fewer passes: volumes by
        # min/max (NaN propagates), doses by the ends of the sorted samples (a NaN fails the
        # sortedness test and is sorted last), and one copy per array, the one it owns.
        dose = np.asarray(self.dose_gy, dtype=float).ravel()
        vol = np.asarray(self.volume_cc, dtype=float).ravel()
        if dose.shape != vol.shape:
            raise ValueError("dose_gy and volume_cc must have the same length")
        bad = ValueError("DVH samples must be finite with non-negative volumes")
        owned = False
        if vol.size:
            vol_min = vol.min()
            if not (vol_min >= 0 and vol.max() < np.inf):
                raise bad
            if not vol_min > 0:  # zero-volume samples: the dropped doses are checked here
                if not np.isfinite(dose).all():
                    raise bad
                keep = vol > 0
                dose, vol, owned = dose[keep], vol[keep], True
        if dose.size > 1 and not (dose[:-1] >= dose[1:]).all():
            order = np.argsort(-dose, kind="stable")
            dose, vol, owned = dose[order], vol[order], True
        if dose.size and not (np.isfinite(dose[0]) and np.isfinite(dose[-1])):
            raise bad  # sorted: the ends are the extremes, or a NaN is last
        if not owned:
            dose, vol = dose.copy(), vol.copy()
        for array in (dose, vol):
            array.setflags(write=False)
        object.__setattr__(self, "dose_gy", dose)
        object.__setattr__(self, "volume_cc", vol)
        object.__setattr__(self, "variants", tuple(self.variants))
        for attr in ("boundary_min_gy", "boundary_max_gy"):
            value = getattr(self, attr)
            if value is not None:
                if not np.isfinite(value):
                    raise ValueError(f"{attr} must be finite, got {value!r}")
                object.__setattr__(self, attr, float(value))
        if (
            self.boundary_min_gy is not None
            and self.boundary_max_gy is not None
            and self.boundary_min_gy > self.boundary_max_gy
        ):
            raise ValueError("boundary_min_gy must not exceed boundary_max_gy")

    # -- sizes ---------------------------------------------------------------------------
    @functools.cached_property
    def _cumulative_cc(self) -> np.ndarray:
        # made on first use: the variants are often asked only for their structure volume
        cumulative = np.cumsum(self.volume_cc)
        cumulative.setflags(write=False)
        return cumulative

    @functools.cached_property
    def volume_with_dose_cc(self) -> float:
        """Volume (cc) of the structure where the dose is known (inside the grid)."""
        cumulative = self._cumulative_cc
        return float(cumulative[-1]) if cumulative.size else 0.0

    @property
    def total_volume_cc(self) -> float:
        """Structure volume (cc): from the contours when known, else the sampled volume."""
        if self.structure_volume_cc is not None:
            return float(self.structure_volume_cc)
        return self.volume_with_dose_cc

    @property
    def coverage(self) -> float:
        """Fraction (0–1) of the structure volume that lies inside the dose grid."""
        total = self.volume_with_dose_cc + self.outside_grid_cc
        return self.volume_with_dose_cc / total if total > 0 else 0.0

    @property
    def is_empty(self) -> bool:
        return self.dose_gy.size == 0

    # -- point metrics --------------------------------------------------------------------
    def max_gy(self) -> float | None:
        """Point maximum: the highest sample or boundary dose (None without samples)."""
        if not self.dose_gy.size:
            return None
        top = float(self.dose_gy[0])
        return top if self.boundary_max_gy is None else max(top, self.boundary_max_gy)

    def min_gy(self) -> float | None:
        """Point minimum: the lowest sample or boundary dose (None without samples)."""
        if not self.dose_gy.size:
            return None
        low = float(self.dose_gy[-1])
        return low if self.boundary_min_gy is None else min(low, self.boundary_min_gy)

    def mean_gy(self) -> float | None:
        return self._mean_gy

    @functools.cached_property
    def _mean_gy(self) -> float | None:
        # once per DVH (uncertainty(mean) asks again); a plain product and pairwise sum,
        # not np.dot: on large arrays that is a multi-threaded BLAS call (~10x its
        # single-thread cost in wall time) whose last bits depend on the thread count
        if not self.dose_gy.size:
            return None
        return float(np.sum(self.dose_gy * self.volume_cc) / self.volume_with_dose_cc)

    # -- dose-volume metrics --------------------------------------------------------------
    def _volume_cc_from(self, cc: float | None, percent: float | None) -> float:
        if (cc is None) == (percent is None):
            raise ValueError("give exactly one of cc= or percent=")
        if cc is not None:
            if not cc >= 0:
                raise ValueError(f"volume must be >= 0 cc, got {cc}")
            return float(cc)
        assert percent is not None
        if not 0 <= percent <= 100:
            raise ValueError(f"percent must be within 0–100, got {percent}")
        return percent / 100.0 * self.total_volume_cc

    def dose_at_volume(self, *, cc: float | None = None, percent: float | None = None) -> float | None:
        """Dose (Gy) received by at least the hottest ``cc`` (or ``percent`` of the volume).

        ``None`` when the structure (with known dose) is smaller than the volume asked for.
        """
        v = self._volume_cc_from(cc, percent)
        if self.is_empty or v > self.volume_with_dose_cc * (1 + 1e-9):
            return None
        cum, vol, dose = self._cumulative_cc, self.volume_cc, self.dose_gy
        # Hot path (D0.035cc for every ROI and variant): np.interp reads only the two
        # centres around v (and the end values), so the centres are made for a few samples
        # around the first cumulative volume >= v; when they bracket v, the result is that
        # of np.interp over all centres, else all centres are made.
        n = cum.size
        k = int(np.searchsorted(cum, v))
        a, b = max(k - 2, 0), min(k + 3, n)
        centres = cum[a:b] - vol[a:b] / 2.0
        if (a == 0 or centres[0] <= v) and (b == n or v < centres[-1]):
            return float(np.interp(v, centres, dose[a:b], left=dose[0], right=dose[-1]))
        centres = cum - vol / 2.0
        return float(np.interp(v, centres, dose))

    def volume_at_dose(self, dose_gy: float, *, percent: bool = False) -> float | None:
        """Volume receiving at least ``dose_gy`` (cc, or % of the structure volume)."""
        if self.is_empty:
            return None
        received = float(self.volume_cc[self.dose_gy >= dose_gy].sum())
        if percent:
            return 100.0 * received / self.total_volume_cc
        return received

    def volume_below_dose_cc(self, dose_gy: float) -> float | None:
        """Volume (cc) receiving less than ``dose_gy`` (critical-volume constraints)."""
        if self.is_empty:
            return None
        return float(self.volume_cc[self.dose_gy < dose_gy].sum())

    def near_max_gy(self, cc: float = NEAR_MAX_VOLUME_CC) -> float | None:
        """Near-point maximum: D at ``cc`` (default D0.035cc); None if the structure is smaller."""
        return self.dose_at_volume(cc=cc)

    def cumulative(self, step_gy: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative DVH as (dose_gy, volume_cc) arrays starting at 0 Gy with full volume.

        ``step_gy`` defaults to 1 % of the maximum dose (or 0.01 Gy for a zero dose).
        """
        if self.is_empty:
            return np.zeros(1), np.zeros(1)
        dmax = float(self.dose_gy[0])
        if step_gy is None:
            step_gy = dmax / 100.0 if dmax > 0 else 0.01
        if not step_gy > 0:
            raise ValueError("step_gy must be > 0")
        n = int(np.floor(dmax / step_gy)) + 2
        bins = np.arange(n) * step_gy
        ascending_dose = self.dose_gy[::-1]
        # volume with dose >= bin = total - volume with dose < bin
        below = np.concatenate(([0.0], np.cumsum(self.volume_cc[::-1])))
        idx = np.searchsorted(ascending_dose, bins, side="left")
        volumes = self.volume_with_dose_cc - below[idx]
        return bins, np.clip(volumes, 0.0, None)

    # -- uncertainty ----------------------------------------------------------------------
    def uncertainty(self, metric: Callable[[DVH], float | None]) -> float | None:
        """Largest deviation of ``metric`` in the variants from this DVH's value (same units).

        0.0 when there are no variants; None when the metric is undefined for any of them.
        """
        own = metric(self)
        others = [metric(d) for d in self.variants]
        if own is None or any(v is None for v in others):
            return None
        return max((abs(v - own) for v in others), default=0.0)  # type: ignore[operator]


# =========================================================================================
# Constraints (parsed by rtcheck.constraints), name matches and check results (rtcheck.evaluate).
# Plain data: every result converts to a dict (``to_dict``) for JSON under SCHEMA_VERSION.
# =========================================================================================


class DoseQuantity(Enum):
    """What the dose numbers of a table or a DVH mean (values match radiobiology.Quantity)."""

    PHYSICAL = "physical"
    EQD2 = "EQD2"
    BED = "BED"


class MetricKind(Enum):
    """Kinds of DVH metric a constraint row can name (see constraints/README.md)."""

    DOSE_AT_VOLUME = "D"  # Dxcc / Dx%: dose received by the hottest x cc / x % (Gy)
    MAX = "Dmax"  # near-point maximum, D0.035cc (Gy)
    MIN = "Dmin"  # near-point minimum, D(volume − 0.035cc) (Gy)
    MEAN = "Dmean"  # mean dose (Gy)
    VOLUME_AT_DOSE = "V"  # VxGy / Vx%: volume receiving at least x (cc or % of the organ)
    CRITICAL_VOLUME = "CV"  # CVxGy: volume receiving less than x (cc or %) — volume spared


class Comparison(Enum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    @property
    def is_upper_limit(self) -> bool:
        return self in (Comparison.LT, Comparison.LE)

    def holds(self, value: float, limit: float) -> bool:
        return {
            Comparison.LT: value < limit,
            Comparison.LE: value <= limit,
            Comparison.GT: value > limit,
            Comparison.GE: value >= limit,
        }[self]


class LimitKind(Enum):
    """Hard limit (exceeding it fails the plan) or optimal goal (missing it is minor)."""

    HARD = "hard"
    GOAL = "goal"


class Unit(Enum):
    GY = "Gy"
    CC = "cc"
    PERCENT = "%"  # of the organ volume (volume metrics) or of the prescription (dose metrics)


class Confidence(Enum):
    """How sure the table's compiler is of a value (constraints-sources.md flags)."""

    VERIFIED = "verified"  # read in the primary source text
    SECONDARY = "secondary"  # read in a secondary reproduction
    UNCERTAIN = "uncertain"  # recalled or unsourced: check the primary source
    DERIVED = "derived"  # computed from a sourced value (e.g. BED-equivalence), stated in the note


class Level(Enum):
    """Outcome of one constraint, ordered from best to worst by :attr:`severity`."""

    PASS = "PASS"
    NOT_EVALUATED = "NOT_EVALUATED"
    INDETERMINATE = "INDETERMINATE"  # margin inside the numerical uncertainty: review
    MINOR = "MINOR"  # goal missed, or hard limit exceeded within its minor-deviation band
    MAJOR = "MAJOR"  # hard limit exceeded beyond its minor-deviation band
    FAIL = "FAIL"  # hard limit (without a band) exceeded

    @property
    def severity(self) -> int:
        return _LEVEL_SEVERITY[self]


_LEVEL_SEVERITY = {
    Level.PASS: 0,
    Level.NOT_EVALUATED: 1,
    Level.INDETERMINATE: 2,
    Level.MINOR: 3,
    Level.MAJOR: 4,
    Level.FAIL: 5,
}


@dataclass(frozen=True)
class Metric:
    """A DVH metric as written in a table (``D0.035cc``, ``V20Gy``, ``Dmean``…).

    ``parameter`` is the volume (D metrics: cc, or % when ``relative``) or the dose
    threshold (V/CV metrics: Gy in the table's dose quantity, or % of the prescription when
    ``relative``); None for Dmax/Dmin/Dmean.
    """

    kind: MetricKind
    parameter: float | None = None
    relative: bool = False
    text: str = ""

    @property
    def gives_dose(self) -> bool:
        return self.kind in (MetricKind.DOSE_AT_VOLUME, MetricKind.MAX, MetricKind.MIN, MetricKind.MEAN)

    def __str__(self) -> str:
        return self.text or self.kind.value


@dataclass(frozen=True)
class Constraint:
    """One row of a constraint table.

    ``limit`` is in ``limit_unit``; for a dose in Gy, ``limit_quantity`` says physical,
    EQD2 or BED. ``minor_limit`` (same unit) is the outer edge of the minor-deviation band
    of a hard limit, when the source gives one. ``alpha_beta_gy`` is the organ's α/β used
    for BED/EQD2 work. ``min_interval_months`` (re-irradiation tables only) is the minimum
    time between consecutive courses that the limit was derived for (None: no condition).
    ``line`` is the row's line in its table file.
    """

    organ: str
    metric: Metric
    comparison: Comparison
    limit: float
    limit_unit: Unit
    limit_quantity: DoseQuantity | None = None
    kind: LimitKind = LimitKind.HARD
    minor_limit: float | None = None
    source: str = ""
    confidence: Confidence = Confidence.UNCERTAIN
    alpha_beta_gy: float | None = None
    note: str = ""
    line: int | None = None
    min_interval_months: float | None = None

    @property
    def limit_text(self) -> str:
        unit = self.limit_unit.value
        if self.limit_unit is Unit.GY and self.limit_quantity not in (None, DoseQuantity.PHYSICAL):
            unit = f"Gy {self.limit_quantity.value}"
        elif self.limit_unit is Unit.PERCENT and self.metric.gives_dose:
            unit = "% of prescription"
        return f"{self.comparison.value} {self.limit:g} {unit}"

    @property
    def text(self) -> str:
        return f"{self.organ}: {self.metric} {self.limit_text}"

    def to_dict(self) -> dict:
        return {
            "organ": self.organ,
            "metric": str(self.metric),
            "comparison": self.comparison.value,
            "limit": self.limit,
            "unit": self.limit_unit.value,
            "dose_quantity": self.limit_quantity.value if self.limit_quantity else None,
            "kind": self.kind.value,
            "minor_limit": self.minor_limit,
            "source": self.source,
            "confidence": self.confidence.value,
            "alpha_beta_gy": self.alpha_beta_gy,
            "note": self.note,
            "min_interval_months": self.min_interval_months,
            "line": self.line,
        }


@dataclass(frozen=True)
class ConstraintTable:
    """A validated constraint table (one arm and fractionation, or a cumulative table)."""

    name: str
    version: str
    description: str
    constraints: tuple[Constraint, ...]
    sources: tuple[tuple[str, str], ...]  # (key, full citation)
    arm: str | None = None
    fractions: int | None = None
    prescription_gy: float | None = None
    dose_quantity: DoseQuantity = DoseQuantity.PHYSICAL
    required_organs: tuple[str, ...] = ()
    alpha_beta_gy: tuple[tuple[str, float], ...] = ()  # (organ or "default", α/β)
    path: Path | None = None
    sha256: str | None = None

    def citation(self, key: str) -> str | None:
        return dict(self.sources).get(key)

    @property
    def organs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.organ for c in self.constraints))

    def alpha_beta_for(self, organ: str) -> float | None:
        """The α/β (Gy) of ``organ`` in this table (its own entry, else the default)."""
        table = dict(self.alpha_beta_gy)
        return table.get(organ, table.get("default"))

    def summary_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "arm": self.arm,
            "fractions": self.fractions,
            "prescription_gy": self.prescription_gy,
            "dose_quantity": self.dose_quantity.value,
            "path": str(self.path) if self.path else None,
            "sha256": self.sha256,
        }


class MatchKind(Enum):
    """What a structure is, once its name is understood (see :mod:`rtcheck.names`)."""

    ORGAN = "organ"
    PRV = "prv"
    DERIVED = "derived"  # organ minus target (TG-263 "Derived")
    TARGET = "target"
    UNMATCHED = "unmatched"


@dataclass(frozen=True)
class NameMatch:
    """How one structure name was understood: its TG-263 name (or None) and why."""

    structure_name: str
    canonical: str | None
    kind: MatchKind
    rule: str

    def to_dict(self) -> dict:
        return {
            "structure": self.structure_name,
            "canonical": self.canonical,
            "kind": self.kind.value,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class ConstraintResult:
    """The outcome of one constraint on one plan.

    ``value`` is in the constraint's limit unit (Gy, cc or %), ``uncertainty`` its
    numerical uncertainty (same unit; None when unknown), ``margin`` the distance to the
    limit in that unit, positive on the passing side. ``coverage`` is the fraction of the
    organ inside the dose grid. ``reason`` explains NOT_EVALUATED / INDETERMINATE levels.
    """

    constraint: Constraint
    level: Level
    structure_name: str | None = None
    value: float | None = None
    uncertainty: float | None = None
    margin: float | None = None
    coverage: float | None = None
    organ_volume_cc: float | None = None
    required: bool = False
    reason: str = ""

    def to_dict(self) -> dict:
        return {
            **self.constraint.to_dict(),
            "structure": self.structure_name,
            "level": self.level.value,
            "value": self.value,
            "uncertainty": self.uncertainty,
            "margin": self.margin,
            "coverage": self.coverage,
            "organ_volume_cc": self.organ_volume_cc,
            "required": self.required,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class CheckResult:
    """Everything a report shows about one plan checked against one table.

    ``overall`` is the worst level among the results, except that NOT_EVALUATED counts only
    for required organs and organs present in the structure set (an absent optional organ
    does not block a PASS, but is listed).
    ``inputs`` holds the UIDs and files the check read; ``notes`` the decisions taken on the
    way (table selection, prescription unknown…).
    """

    table: ConstraintTable
    results: tuple[ConstraintResult, ...]
    overall: Level
    rtcheck_version: str
    patient_id: str | None = None
    plan_label: str | None = None
    plan_uid: str | None = None
    fractions: int | None = None
    prescription_gy: float | None = None
    dose_quantity: DoseQuantity = DoseQuantity.PHYSICAL
    structures: tuple[NameMatch, ...] = ()
    missing_required: tuple[str, ...] = ()
    inputs: tuple[tuple[str, str], ...] = ()  # (what, UID or path)
    notes: tuple[str, ...] = ()

    @property
    def unmatched_structures(self) -> tuple[str, ...]:
        return tuple(m.structure_name for m in self.structures if m.kind is MatchKind.UNMATCHED)

    def counts(self) -> dict[str, int]:
        out = {level.value: 0 for level in Level}
        for r in self.results:
            out[r.level.value] += 1
        return out

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "rtcheck_version": self.rtcheck_version,
            "patient_id": self.patient_id,
            "plan_label": self.plan_label,
            "plan_uid": self.plan_uid,
            "fractions": self.fractions,
            "prescription_gy": self.prescription_gy,
            "dose_quantity": self.dose_quantity.value,
            "table": self.table.summary_dict(),
            "inputs": [{"what": what, "value": value} for what, value in self.inputs],
            "overall": self.overall.value,
            "counts": self.counts(),
            "missing_required_organs": list(self.missing_required),
            "unmatched_structures": list(self.unmatched_structures),
            "structures": [m.to_dict() for m in self.structures],
            "notes": list(self.notes),
            "results": [r.to_dict() for r in self.results],
        }
