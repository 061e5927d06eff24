"""The dose-volume histogram of one structure (:class:`DVH`) and its metrics.

Doses in Gy, volumes in cc (cm³). The samples are held read-only, sorted by dose.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

#: Volume used for the "near-point" maximum dose, D0.035cc (cc).
NEAR_MAX_VOLUME_CC = 0.035


class DVHSamples(NamedTuple):
    """A DVH's samples as it holds them: read-only, sorted by dose, descending."""

    dose_gy: np.ndarray
    volume_cc: np.ndarray


def validated_samples(dose_gy: np.ndarray, volume_cc: np.ndarray) -> DVHSamples:
    """``dose_gy`` (Gy) and ``volume_cc`` (cc) checked and put in the order a DVH holds them.

    The samples must be finite with non-negative volumes (ValueError otherwise);
    zero-volume samples are dropped; the rest are sorted stably by descending dose and
    returned as read-only arrays the DVH owns.

    A DVH is built three times per ROI (up to 65 536 samples each), so the checks take few
    passes: volumes by their min and max (NaN propagates), doses by the ends of the sorted
    samples (a NaN fails the sortedness test and is sorted last), and one copy per array,
    the one the DVH owns.
    """
    dose = np.asarray(dose_gy, dtype=float).ravel()
    vol = np.asarray(volume_cc, dtype=float).ravel()
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
    return DVHSamples(dose, vol)


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
        """Validate and hold the samples (:func:`validated_samples`), the variants as a tuple
        and the surface extremes as finite floats, the minimum not above the maximum."""
        samples = validated_samples(self.dose_gy, self.volume_cc)
        object.__setattr__(self, "dose_gy", samples.dose_gy)
        object.__setattr__(self, "volume_cc", samples.volume_cc)
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
        """Cumulative volume (cc) of the samples, hottest first (read-only).

        Made on first use: the variants are often asked only for their structure volume.
        """
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
        """True when no sample has a known dose (the structure lies outside the grid, or
        has no volume)."""
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
        """Mean dose (Gy) over the volume with known dose; None without samples."""
        return self._mean_gy

    @functools.cached_property
    def _mean_gy(self) -> float | None:
        """The mean dose (Gy), computed once per DVH (``uncertainty(mean)`` asks again).

        A plain product and pairwise sum, not ``np.dot``: on large arrays that is a
        multi-threaded BLAS call whose last bits depend on the thread count.
        """
        if not self.dose_gy.size:
            return None
        return float(np.sum(self.dose_gy * self.volume_cc) / self.volume_with_dose_cc)

    # -- dose-volume metrics --------------------------------------------------------------
    def _volume_cc_from(self, cc: float | None, percent: float | None) -> float:
        """The volume (cc) asked for by exactly one of ``cc`` or ``percent`` (of the
        structure volume); ValueError when both or neither is given, or out of range."""
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
        # Asked for every ROI and variant (D0.035cc): np.interp reads only the two
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
