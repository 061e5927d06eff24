"""The dose samples of a :class:`~rtcheck.dvhcalc.masks.StructureMask`, chunk by chunk.

A mask's samples are its interior voxels (one sample each, at the voxel centre, with the
voxel's volume) and the inside sub-samples of its boundary voxels (with the dose
interpolated trilinearly at each, and a sub-sample's share of the voxel's volume). They
are produced in chunks of box layers, so that memory is bounded by the chunk, not by the
ROI. Two forms: plain (dose_gy, volume_cc, layer) arrays, and the cheaper *parts* form
for histograms (:class:`SampleChunk` with ``as_parts``: interior doses grouped by layer,
one volume for a chunk of alike voxels, the layers an end-cap variant changes kept apart,
and the coarse corner sub-lattice's samples alongside: the DVH's variants share them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .planes import MM3_PER_CC
from .sampling import interpolate_sub_samples

if TYPE_CHECKING:
    from .masks import StructureMask

#: Interior voxels of an ROI below which its interior voxels are supersampled too in DVHs
#: (with dose interpolation): below it one voxel is a visible step of the DVH (> 1/20000 of
#: the volume), above it the cost (s³ samples per voxel) buys nothing visible.
FINE_INTERIOR_MAX_VOXELS = 20000


@dataclass(frozen=True, eq=False)
class SampleChunk:
    """Dose samples of box layers [k0, k1) of a :class:`~rtcheck.dvhcalc.masks.StructureMask`.

    Interior samples: ``interior_dose_gy`` in layer order with ``interior_per_layer`` of them
    in each layer; ``interior_volume_cc`` is the voxel volume per layer (``per_voxel``
    False) or per sample (True). Boundary samples carry their own volume and layer;
    ``boundary_coarse`` holds them again as seen by the coarser corner sub-lattice (the
    interior samples are the same for both).
    """

    k0: int
    k1: int
    interior_dose_gy: np.ndarray
    interior_per_layer: np.ndarray
    interior_volume_cc: np.ndarray
    per_voxel: bool
    boundary_dose_gy: np.ndarray
    #: per sample, or one number for all (parts)
    boundary_volume_cc: np.ndarray | float
    #: box layer per sample (None for parts)
    boundary_layer: np.ndarray | None
    #: (dose_gy, volume_cc) of the boundary samples with the 8-point corner sub-lattice
    #: only (odd supersampling), or None
    boundary_coarse: tuple[np.ndarray, np.ndarray | float] | None = None
    #: parts: (dose_gy, volume_cc) of the boundary samples in the ``ends`` layers, kept
    #: apart from ``boundary_*``; None when there are none
    boundary_ends: tuple[np.ndarray, np.ndarray | float] | None = None

    def interior_layers(self) -> np.ndarray:
        """The box layer (z index) of each interior sample."""
        return np.repeat(np.arange(self.k0, self.k1), self.interior_per_layer)

    def samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(dose_gy, volume_cc, layer) of every sample: interior first, then boundary."""
        layers = self.interior_layers()
        v_int = (
            self.interior_volume_cc if self.per_voxel else self.interior_volume_cc[layers - self.k0]
        )
        v_b, k_b = self.boundary_volume_cc, self.boundary_layer
        assert isinstance(v_b, np.ndarray) and k_b is not None, "not a parts chunk"
        return (
            np.concatenate([self.interior_dose_gy, self.boundary_dose_gy]),
            np.concatenate([v_int, v_b]),
            np.concatenate([layers, k_b]),
        )


class _Interior(NamedTuple):
    """The interior samples of a chunk (fields as in :class:`SampleChunk`)."""

    dose_gy: np.ndarray
    per_layer: np.ndarray
    volume_cc: np.ndarray
    per_voxel: bool


class _Boundary(NamedTuple):
    """The boundary voxels of a chunk: box indices, inside sub-samples, volumes."""

    #: box layer, row and column of each voxel
    layer: np.ndarray
    row: np.ndarray
    column: np.ndarray
    #: (nb, s, s, s) inside sub-samples of each voxel
    inside: np.ndarray
    #: volume (cc) of each voxel
    volume_cc: np.ndarray
    #: the one volume (cc) of all voxels when they are alike (parts only), else None
    one_volume_cc: float | None


def uses_fine_interior(mask: StructureMask, interpolate: bool = True) -> bool:
    """True when ``mask``'s interior voxels too are sampled at their sub-samples with
    ``fine_interior`` (a small ROI: at most :data:`FINE_INTERIOR_MAX_VOXELS` of them)."""
    s = mask.supersampling
    return interpolate and s > 1 and mask.interior_voxels <= FINE_INTERIOR_MAX_VOXELS


def iter_chunks(
    mask: StructureMask,
    dose_gy: np.ndarray,
    *,
    interpolate: bool = True,
    fine_interior: bool = False,
    max_voxels: int = 1 << 22,
    layers: np.ndarray | None = None,
    as_parts: bool = False,
    ends: np.ndarray | None = None,
) -> Iterator[SampleChunk]:
    """The :class:`SampleChunk` of each chunk of ``mask``'s box layers, in layer order
    (see :meth:`rtcheck.dvhcalc.masks.StructureMask.iter_samples` for the arguments)."""
    nz, ny, nx = mask.counts.shape
    nyx = ny * nx
    if nz == 0 or nyx == 0:
        return
    fine = fine_interior and uses_fine_interior(mask, interpolate)
    step = nz if fine else max(1, max_voxels // nyx)
    dose_gy = np.asarray(dose_gy)
    if layers is None:
        starts = list(range(0, nz, step))
        chunks = [(k0, min(nz, k0 + step)) for k0 in starts]
    else:
        chunks = [
            (k0, min(b, k0 + step))
            for a, b in true_runs(np.asarray(layers, dtype=bool))
            for k0 in range(a, b, step)
        ]
    for k0, k1 in chunks:
        lo, hi = np.searchsorted(mask.boundary_voxels, [k0 * nyx, k1 * nyx])
        yield sample_chunk(
            mask,
            dose_gy,
            k0=k0,
            k1=k1,
            boundary_voxels=mask.boundary_voxels[lo:hi],
            boundary_inside=mask.boundary_inside[lo:hi],
            interpolate=interpolate,
            fine=fine,
            as_parts=as_parts,
            ends=ends,
        )


def sample_chunk(
    mask: StructureMask,
    dose_gy: np.ndarray,
    *,
    k0: int,
    k1: int,
    boundary_voxels: np.ndarray,
    boundary_inside: np.ndarray,
    interpolate: bool,
    fine: bool,
    as_parts: bool = False,
    ends: np.ndarray | None = None,
) -> SampleChunk:
    """The dose samples (``dose_gy``: the whole grid, Gy) of ``mask``'s box layers [k0, k1):
    its interior voxels and its boundary voxels in those layers (flat box indices
    ``boundary_voxels``, sorted, with their inside sub-samples ``boundary_inside``).

    ``fine``: every occupied voxel is sampled at its inside sub-samples (interior voxels
    as full masks). ``interpolate``: boundary sub-samples take the trilinear dose at their
    position, else their voxel's dose. ``as_parts``: the parts form for histograms, with
    the boundary samples in the layers flagged by ``ends`` kept apart. For an odd
    supersampling s > 1 the boundary is also sampled by the corner sub-lattice (indices 0
    and s − 1 per axis: 8 of the s³ sub-samples, at ±(s−1)/2s of a voxel), a coarser
    sampling that comes for free (the DVH's coarse variant).
    """
    s = mask.supersampling
    counts = mask.counts[k0:k1]
    zs, ys, xs = mask.slices
    box = dose_gy[zs.start + k0 : zs.start + k1, ys, xs]
    interior = counts == s**3
    if fine:
        # every occupied voxel goes through the sub-sample path (full masks inside)
        nyx = mask.counts.shape[1] * mask.counts.shape[2]
        occupied = np.flatnonzero(counts.ravel() > 0) + k0 * nyx
        full = np.ones((occupied.size, s, s, s), dtype=bool)
        full[np.searchsorted(occupied, boundary_voxels)] = boundary_inside
        boundary_voxels, boundary_inside = occupied, full
        interior = np.zeros_like(interior)
    inner = _interior_samples(mask, box, interior, k0, k1)
    boundary = _boundary_voxels(mask, boundary_voxels, boundary_inside, k0, k1, as_parts)
    corner = _corner_mask(s) if s % 2 == 1 and s > 1 else None
    if not interpolate:
        return _voxel_dose_chunk(mask, box, inner, boundary, corner, k0, k1, as_parts, ends)
    b = boundary
    sub = interpolate_sub_samples(
        dose_gy, mask.slices, b.layer, b.row, b.column, mask.weight_classes, s
    )
    if as_parts:
        return _parts_chunk(inner, boundary, sub, s, corner is not None, ends, k0, k1)
    inside = b.inside
    nin = inside.reshape(len(b.layer), s**3).sum(axis=1)
    return SampleChunk(
        k0=k0,
        k1=k1,
        interior_dose_gy=inner.dose_gy,
        interior_per_layer=inner.per_layer,
        interior_volume_cc=inner.volume_cc,
        per_voxel=inner.per_voxel,
        boundary_dose_gy=sub[inside],
        boundary_volume_cc=np.repeat(b.volume_cc / s**3, nin),
        boundary_layer=np.repeat(b.layer, nin),
        boundary_coarse=None,
    )


def _interior_samples(
    mask: StructureMask, box: np.ndarray, interior: np.ndarray, k0: int, k1: int
) -> _Interior:
    """The interior voxels' doses (``box``: the chunk's dose, Gy) in layer order, their
    number per layer, and their volume (cc): per layer when x and y voxel sizes are
    uniform (the usual grid), else per voxel."""
    per_layer = np.count_nonzero(interior.reshape(len(interior), -1), axis=1)
    dose = box[interior]
    if mask.voxel_sizes_alike.xy_equal:
        volume = mask.dz_mm[k0:k1] * float(mask.dy_mm[0] * mask.dx_mm[0]) / MM3_PER_CC
        return _Interior(dose, per_layer, volume, False)
    kk, jj, ii = np.nonzero(interior)
    volume = mask.dz_mm[kk + k0] * mask.dy_mm[jj] * mask.dx_mm[ii] / MM3_PER_CC
    return _Interior(dose, per_layer, volume, True)


def _boundary_voxels(
    mask: StructureMask,
    voxels: np.ndarray,
    inside: np.ndarray,
    k0: int,
    k1: int,
    as_parts: bool,
) -> _Boundary:
    """The chunk's boundary voxels (flat box indices ``voxels``) with their volumes; in
    the parts form, one volume for the whole chunk (a number, no per-sample array) when
    the chunk's voxels are all alike, as on a uniform grid."""
    at = mask.boundary_box_index(voxels)
    volume = mask.dz_mm[at.layer] * mask.dy_mm[at.row] * mask.dx_mm[at.column] / MM3_PER_CC
    alike = mask.voxel_sizes_alike
    dz = mask.dz_mm[k0:k1]
    one_volume = (
        as_parts
        and alike.xy_each_uniform
        and (alike.z_uniform or bool(np.ptp(dz) <= 1e-12 * dz[0]))
    )
    one = float(volume[0]) if one_volume and len(volume) else None
    return _Boundary(at.layer, at.row, at.column, inside, volume, one)


def _voxel_dose_chunk(
    mask: StructureMask,
    box: np.ndarray,
    inner: _Interior,
    b: _Boundary,
    corner: np.ndarray | None,
    k0: int,
    k1: int,
    as_parts: bool,
    ends: np.ndarray | None,
) -> SampleChunk:
    """The chunk without interpolation: each boundary voxel one sample at its voxel's dose
    (``box``: the chunk's dose, Gy) with its occupied volume (and, with ``corner``, with
    the corner sub-lattice's share of it)."""
    s3 = mask.supersampling**3
    dose = box[b.layer - k0, b.row, b.column]
    volume = b.volume_cc * (mask.counts[b.layer, b.row, b.column] / s3)
    coarse: tuple[np.ndarray, np.ndarray | float] | None = None
    if corner is not None:
        n_corner = (b.inside & corner).reshape(len(b.layer), s3).sum(axis=1)
        coarse = (dose, b.volume_cc * (n_corner / 8.0))
    layer: np.ndarray | None = b.layer
    at_ends: tuple[np.ndarray, np.ndarray | float] | None = None
    if as_parts and ends is not None and ends[b.layer].any():
        e = ends[b.layer]
        dose, volume, layer, at_ends = dose[~e], volume[~e], None, (dose[e], volume[e])
    return SampleChunk(
        k0=k0,
        k1=k1,
        interior_dose_gy=inner.dose_gy,
        interior_per_layer=inner.per_layer,
        interior_volume_cc=inner.volume_cc,
        per_voxel=inner.per_voxel,
        boundary_dose_gy=dose,
        boundary_volume_cc=volume,
        boundary_layer=layer,
        boundary_coarse=coarse,
        boundary_ends=at_ends,
    )


def _parts_chunk(
    inner: _Interior,
    b: _Boundary,
    sub: np.ndarray,
    s: int,
    with_corners: bool,
    ends: np.ndarray | None,
    k0: int,
    k1: int,
) -> SampleChunk:
    """The parts form of an interpolated chunk (``sub``: the (nb, s, s, s) sub-sample
    doses, Gy): the boundary samples outside and inside the ``ends`` layers apart, and
    with ``with_corners`` the corner sub-lattice's samples."""
    s3 = s**3
    n = len(b.layer)
    inside, one = b.inside, b.one_volume_cc
    coarse: tuple[np.ndarray, np.ndarray | float] | None = None
    if with_corners:
        # the 8 corner columns first, then their inside ones (same order as selecting
        # inside & corner over all s³ columns, a third of the work)
        at = _corner_columns(s)
        inside_c = inside.reshape(n, s3)[:, at]
        sub_c = sub.reshape(n, s3)[:, at][inside_c]
        if one is not None:
            coarse = (sub_c, one / 8.0)
        else:
            coarse = (sub_c, np.repeat(b.volume_cc / 8.0, inside_c.sum(axis=1)))
    groups: list[tuple[np.ndarray, np.ndarray | float]] = []
    at_end = None if ends is None else ends[b.layer]
    for sel in (None,) if at_end is None or not at_end.any() else (~at_end, at_end):
        # the voxels are sorted by layer: a selection is a few runs of them
        runs = [(0, n)] if sel is None else true_runs(sel)
        runs = runs or [(0, 0)]
        if len(runs) == 1:
            d_g = sub[runs[0][0] : runs[0][1]][inside[runs[0][0] : runs[0][1]]]
        else:
            d_g = np.concatenate([sub[a:c][inside[a:c]] for a, c in runs])
        if one is not None:
            groups.append((d_g, one / s3))
        else:
            nin = np.concatenate([inside[a:c].reshape(c - a, s3).sum(axis=1) for a, c in runs])
            vol = np.concatenate([b.volume_cc[a:c] for a, c in runs])
            groups.append((d_g, np.repeat(vol / s3, nin)))
    d_b, v_b = groups[0]
    return SampleChunk(
        k0=k0,
        k1=k1,
        interior_dose_gy=inner.dose_gy,
        interior_per_layer=inner.per_layer,
        interior_volume_cc=inner.volume_cc,
        per_voxel=inner.per_voxel,
        boundary_dose_gy=d_b,
        boundary_volume_cc=v_b,
        boundary_layer=None,
        boundary_coarse=coarse,
        boundary_ends=groups[1] if len(groups) > 1 else None,
    )


@cache
def _corner_mask(s: int) -> np.ndarray:
    """The 8 corner sub-samples (index 0 or s − 1 along each axis) of a voxel's s × s × s
    (read-only; made once per s)."""
    corner = np.zeros((s, s, s), dtype=bool)
    corner[np.ix_([0, s - 1], [0, s - 1], [0, s - 1])] = True
    corner.setflags(write=False)
    return corner


@cache
def _corner_columns(s: int) -> np.ndarray:
    """Flat indices (ascending) of the corner sub-samples among a voxel's s³."""
    columns = np.flatnonzero(_corner_mask(s))
    columns.setflags(write=False)
    return columns


def true_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in a boolean vector."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
