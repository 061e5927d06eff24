"""Dose samples → the binned samples a DVH is built from.

A large ROI has millions of dose samples; sorting them all for a DVH would dominate the
computation. :class:`Accumulator` collects samples chunk by chunk and, beyond 65 536 of
them, bins them into :data:`DOSE_BINS` dose bins keeping each bin's volume-weighted mean
dose (so Dmean is kept but for the two end bins, set to the extreme samples' exact
doses). The accumulators of one ROI — its DVH and the end-cap and coarse variants, built
from shared parts (:class:`SampleParts`) — bin over one :class:`BinRange`, so that their
bins add up.
"""

from __future__ import annotations

import numpy as np

from rtcheck.models import DoseGrid

from .dose_samples import iter_chunks
from .masks import StructureMask

#: Number of dose bins samples are merged into before the DVH is built (see :class:`Accumulator`).
DOSE_BINS = 1 << 16


#: Raw samples an accumulator holds before it bins them (memory bound: 16 MB of doses and
#: volumes); binning once per many chunks avoids allocating the bins for every chunk.
_RAW_LIMIT = 1 << 20


class Accumulator:
    """Collects dose samples chunk by chunk into at most ``DOSE_BINS`` dose bins.

    O(n) and memory-bounded instead of sorting millions of samples: the DVH then sorts at
    most 65 536 samples. Samples are kept as they are while there are at most that many;
    beyond, they are binned over the [lo, hi] of their :class:`BinRange` (shared by the
    accumulators whose bins are added together) keeping each bin's volume-weighted mean
    dose, so any dose moves by less than (hi − lo)/65 536, Dmean is kept but for the two
    end bins, whose doses are set to the extreme samples' exact doses (a change of less
    than one bin width × their share of the volume). Raw chunks are kept until :data:`_RAW_LIMIT`
    samples (or the end) and then binned together; a chunk of samples of one volume keeps
    that volume as a number.
    """

    def __init__(self, bins: BinRange):
        """An empty accumulator binning over ``bins`` (it joins the range's members)."""
        self.bins = bins
        bins.members.append(self)
        self.raw: list[tuple[np.ndarray, np.ndarray | float]] = []
        self.n = 0  # raw samples held
        self.vol: np.ndarray | None = None
        self.dv: np.ndarray | None = None
        self.dmin, self.dmax = np.inf, -np.inf
        self._raw_bins: tuple | None = None
        self._raw_sorted = False

    def add(self, d: np.ndarray, v: np.ndarray | float) -> None:
        """Add samples ``d`` (Gy) with volumes ``v`` (cc; one number: all the same)."""
        if d.size == 0:
            return
        lo, hi = float(d.min()), float(d.max())
        self.dmin = min(self.dmin, lo)
        self.dmax = max(self.dmax, hi)
        self.bins.check(lo, hi)
        self.raw.append((d, v))
        self._raw_sorted = False
        self.n += d.size
        if self.n > _RAW_LIMIT:
            self._flush()

    def raw_bins(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Bins (volume, dose × volume) of the raw samples alone, computed once."""
        if self.n == 0:
            return None, None
        if self._raw_bins is None or self._raw_bins[0] != len(self.raw):
            vol, dv = np.zeros(DOSE_BINS), np.zeros(DOSE_BINS)
            self._bin_raw_into(vol, dv)
            self._raw_bins = (len(self.raw), vol, dv)
        return self._raw_bins[1], self._raw_bins[2]

    def _flush(self) -> None:
        """Bin the raw samples (early, for memory: over the range that bounds every sample)."""
        self.bins.fix(early=True)
        if self.vol is None:
            self.vol, self.dv = np.zeros(DOSE_BINS), np.zeros(DOSE_BINS)
        self._raw_bins = None
        self._bin_raw_into(self.vol, self.dv)  # type: ignore[arg-type]
        self.raw, self.n = [], 0

    def _bin_raw_into(self, vol: np.ndarray, dv: np.ndarray) -> None:
        """Add the raw chunks' volumes and dose × volume to the bins ``vol``, ``dv``."""
        for d, v in self.raw:
            idx = self._index(d)
            if isinstance(v, float):
                vol += np.bincount(idx, minlength=DOSE_BINS) * v
                dv += np.bincount(idx, weights=d, minlength=DOSE_BINS) * v
            else:
                vol += np.bincount(idx, weights=v, minlength=DOSE_BINS)
                dv += np.bincount(idx, weights=d * v, minlength=DOSE_BINS)

    def _index(self, d: np.ndarray) -> np.ndarray:
        """The bin of each dose ``d`` (Gy) over the fixed range."""
        lo, hi = self.bins.fix()
        span = hi - lo
        scale = (DOSE_BINS - 1) / span if span > 0 else 0.0
        t = d - lo
        t *= scale
        idx = t.astype(np.intp)
        if self.dmin >= lo and self.dmax <= hi:
            return idx  # 0 <= t <= 65 535 (rounding up to it at most): in range
        return np.clip(idx, 0, DOSE_BINS - 1, out=idx)

    def sort_raw(self) -> None:
        """Sort each raw chunk by descending dose (stable), in place, once.

        Raw chunks are shared by the DVH and its variants (:func:`merge_accumulators`); sorted chunks
        make the stable sort of their concatenation (``DVH``) a merge of runs, the same
        order as sorting the concatenation of the unsorted chunks (stable sorts keep the
        order of equal doses: chunk order, then order within the chunk)."""
        if self._raw_sorted:
            return
        for i, (d, v) in enumerate(self.raw):
            if d.size > 1 and not (d[:-1] >= d[1:]).all():
                if isinstance(v, float):
                    # one volume for all: equal doses are interchangeable, so a plain sort
                    # of the doses (≈ 2× faster than the stable argsort) gives the same
                    # samples
                    self.raw[i] = (np.sort(d)[::-1], v)
                else:
                    order = np.argsort(-d, kind="stable")
                    self.raw[i] = (d[order], v[order])
        self._raw_sorted = True

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """The (dose_gy, volume_cc) samples: raw while there are at most :data:`DOSE_BINS`
        of them, else one per used bin (binned doses descending)."""
        if self.vol is None and self.n <= DOSE_BINS:
            if not self.raw:
                return np.zeros(0), np.zeros(0)
            vols = [np.full(d.size, v) if isinstance(v, float) else v for d, v in self.raw]
            return np.concatenate([d for d, _ in self.raw]), np.concatenate(vols)
        self._flush()
        used = self.vol > 0  # type: ignore[operator]
        vol = self.vol[used]  # type: ignore[index]
        dose = self.dv[used] / vol  # type: ignore[index]
        dose[0], dose[-1] = self.dmin, self.dmax  # the extreme samples exactly
        # descending, as DVH stores them: its stable sort then runs over sorted input
        return dose[::-1], vol[::-1]


class BinRange:
    """The dose range [lo, hi] that the accumulators of one ROI (its ``members``) bin over,
    shared so that their bins add up; fixed when first needed.

    At a merge (:func:`merge_accumulators`) it is the members' own sample range: every member must
    have all its samples by then (:func:`rtcheck.dvhcalc.compute.compute_dvh_and_mask` samples the variants' parts
    before the first merge), and a sample added after that outside the range is an
    internal error (:meth:`check`), never a silently clipped bin. An accumulator that has
    to bin early (:data:`_RAW_LIMIT`, memory) fixes it to the dose range of the ROI's box
    grown by one voxel (:func:`_dose_range`), which bounds every interpolated sample (and
    costs a pass over the box: for a body contour, nearly the whole grid).
    """

    def __init__(self, mask: StructureMask | None = None, dose: DoseGrid | None = None):
        """``mask`` and ``dose``: the ROI whose box range an early flush uses (without them,
        an early flush too fixes the range to the samples so far, and a later sample
        beyond it is refused)."""
        self.members: list[Accumulator] = []
        self.lo: float | None = None
        self.hi: float | None = None
        self._box = (mask, dose)
        self._from_samples = False

    def fix(self, early: bool = False) -> tuple[float, float]:
        """The range, fixed now if it is not yet (``early``: before every sample is in)."""
        if self.lo is None or self.hi is None:
            mask, dose = self._box
            if early and mask is not None and dose is not None:
                self.lo, self.hi = _dose_range(mask, dose)
            else:
                spans = [(a.dmin, a.dmax) for a in self.members if a.dmin <= a.dmax]
                lo = min(lo for lo, _ in spans) if spans else 0.0
                hi = max(hi for _, hi in spans) if spans else 0.0
                # half a bin of margin each side: no bin edge at the extreme samples, whose
                # doses (interpolated: equal up to rounding) would else split over two bins
                pad = 0.5 * (hi - lo) / (DOSE_BINS - 2)
                self.lo, self.hi = lo - pad, hi + pad
                self._from_samples = True
        return self.lo, self.hi

    def check(self, lo: float, hi: float) -> None:
        """Samples from ``lo`` to ``hi`` are being added: they must lie within a range fixed
        by the samples (a box range bounds them up to rounding: the bins clip that)."""
        if self._from_samples and not (self.lo <= lo and hi <= self.hi):  # type: ignore[operator]
            raise RuntimeError("internal error: DVH samples added after their bins were fixed")


def _dose_range(mask: StructureMask, dose: DoseGrid) -> tuple[float, float]:
    """Dose range of the ROI's box grown by one voxel (bounds every interpolated sample)."""
    grown = tuple(
        slice(max(sl.start - 1, 0), min(sl.stop + 1, n))
        for sl, n in zip(mask.slices, dose.shape, strict=True)
    )
    box = dose.dose_gy[grown]
    if box.size == 0:
        return 0.0, 0.0
    return float(box.min()), float(box.max())


class SampleParts:
    """Accumulators of one mask's samples, kept apart so that variants can share them:
    interior and boundary samples, each split into the layers that the other end-cap
    convention changes (``ends``) and the rest; and the boundary as seen by the coarse
    corner sub-lattice."""

    def __init__(self, bins: BinRange):
        """Empty parts, every accumulator binning over ``bins``."""
        self.int_rest, self.int_ends = Accumulator(bins), Accumulator(bins)
        self.bnd_rest, self.bnd_ends = Accumulator(bins), Accumulator(bins)
        self.coarse_bnd: Accumulator | None = Accumulator(bins)


def accumulate_parts(
    mask: StructureMask,
    dose: DoseGrid,
    interpolate: bool,
    bins: BinRange,
    split: np.ndarray | None = None,
    layers: np.ndarray | None = None,
) -> SampleParts:
    """Feed ``mask``'s samples (in ``layers`` only, when given) into a :class:`SampleParts`
    binned over ``bins``."""
    parts = SampleParts(bins)
    nz = mask.shape[0]
    ends = np.zeros(nz, dtype=bool) if split is None else np.asarray(split, dtype=bool)

    for ch in iter_chunks(
        mask,
        dose.dose_gy,
        interpolate=interpolate,
        fine_interior=True,
        layers=layers,
        as_parts=True,
        ends=ends,
    ):
        # interior voxels: one sample each, the same volume within a layer — binned in runs
        # of layers with the same volume and destination, without per-sample volume arrays
        if ch.per_voxel:
            k = ch.interior_layers()
            sel = ends[k]
            parts.int_rest.add(ch.interior_dose_gy[~sel], ch.interior_volume_cc[~sel])
            parts.int_ends.add(ch.interior_dose_gy[sel], ch.interior_volume_cc[sel])
        else:
            stop = np.cumsum(ch.interior_per_layer)
            start = stop - ch.interior_per_layer
            vols = ch.interior_volume_cc
            run = ch.k0
            for j in range(ch.k0 + 1, ch.k1 + 1):
                if j < ch.k1 and ends[j] == ends[run] and vols[j - ch.k0] == vols[run - ch.k0]:
                    continue
                dest = parts.int_ends if ends[run] else parts.int_rest
                a, b = start[run - ch.k0], stop[j - 1 - ch.k0]
                dest.add(ch.interior_dose_gy[a:b], float(vols[run - ch.k0]))
                run = j
        parts.bnd_rest.add(ch.boundary_dose_gy, ch.boundary_volume_cc)
        if ch.boundary_ends is not None:
            parts.bnd_ends.add(*ch.boundary_ends)
        if ch.boundary_coarse is None:
            parts.coarse_bnd = None
        elif parts.coarse_bnd is not None:
            parts.coarse_bnd.add(ch.boundary_coarse[0], ch.boundary_coarse[1])
    return parts


def merge_accumulators(*accs: Accumulator | None) -> Accumulator:
    """One accumulator holding the samples of ``accs`` (None: skipped), which must share
    their :class:`BinRange`; the parts are not changed, so that a DVH and its variants can
    each merge the parts they share."""
    present = [a for a in accs if a is not None]
    if any(a.vol is not None for a in present) or sum(a.n for a in present) > DOSE_BINS:
        # the result is binned: add the parts' bins, each part's raw samples binned once
        # (parts are shared by the DVH and its variants; they are not changed)
        out = Accumulator(present[0].bins)
        vol_sum, dv_sum = np.zeros(DOSE_BINS), np.zeros(DOSE_BINS)
        for a in present:
            for vol, dv in ((a.vol, a.dv), a.raw_bins()):
                if vol is not None and dv is not None:
                    vol_sum += vol
                    dv_sum += dv
            out.dmin, out.dmax = min(out.dmin, a.dmin), max(out.dmax, a.dmax)
        out.vol, out.dv = vol_sum, dv_sum
        return out
    # raw samples throughout (at most 65 536): the parts' chunks, shared, not copied;
    # sorted once in their parts, so that each DVH's sort merges sorted runs
    out = Accumulator(present[0].bins)
    for a in present:
        a.sort_raw()
        out.raw.extend(a.raw)
        out.n += a.n
        out.dmin, out.dmax = min(out.dmin, a.dmin), max(out.dmax, a.dmax)
    return out
