"""Contour planes → sub-sample masks on the dose grid, box layer by box layer.

The conventions of planes, slabs and end caps: :mod:`rtcheck.dvhcalc.planes`.

Rasterisation (:class:`Rasteriser`, for :func:`rtcheck.dvhcalc.masks.structure_mask`)
supersamples every dose voxel of the ROI's bounding box ``s`` times along x, y and z
(sub-voxel centres). A sub-sample at height z takes the
in-plane polygon set of the contour plane whose slab contains z; in-plane membership is the
even-odd crossing-number test done as a vectorised scanline fill. A sub-sample exactly on an
edge belongs to exactly one side, so sampling partitions space — contours sharing an edge,
and a contour and its hole, count it once: rows are half-open ([y_low, y_high), the region
above a horizontal edge), and along x the tie goes right in even and left in odd sub-sample
rows of the grid, so that an edge on a column of sub-samples gives half to each side
(:func:`rtcheck.dvhcalc.scanline.rasterise_plane`). Voxels whose sub-samples are all inside
are *interior* (one sample at the voxel centre); voxels partly inside are *boundary* voxels
whose inside sub-samples are kept as points (for dose interpolation). A contour plane whose
polygons enclose no sub-sample at all (smaller than a sub-sample cell: the tip of a cone or
an organ) is given the sub-sample nearest its centre, so that no contour is lost. Contours
that cross themselves or each other are refused (:class:`rtcheck.errors.GeometryError`):
their inside is ambiguous.
"""

from __future__ import annotations

from functools import cached_property
from typing import NamedTuple

import numpy as np

from rtcheck.models import DoseGrid, Structure

from .planes import ContourPlane, EndCap, contour_planes, slab_bounds
from .polygons import plane_bounds
from .sampling import axis_sampling, voxel_edges, weight_classes_zyx
from .scanline import rasterise_planes_packed, unpacking_table


class RasterLayers(NamedTuple):
    """Box layers of an ROI rasterised (:meth:`Rasteriser.layers`)."""

    #: (layers, ny, nx) inside sub-samples per voxel (uint8)
    counts: np.ndarray
    #: flat box indices (sorted) of the boundary voxels (0 < count < s³)
    boundary_voxels: np.ndarray
    #: (nb, s, s, s) inside sub-samples of each boundary voxel (z, y, x)
    boundary_inside: np.ndarray


def _grid_slice_thickness(grid: DoseGrid) -> float:
    """The dose grid's median plane spacing (mm; 1 mm for a single plane): the slab of a
    single-plane ROI when the structure set gives no slice thickness."""
    return float(np.median(np.diff(grid.z_mm))) if grid.z_mm.size > 1 else 1.0


def rasteriser_for(
    structure: Structure, grid: DoseGrid, s: int, slice_thickness_mm: float | None
) -> Rasteriser:
    """The rasteriser of ``structure``'s validated contour planes (:func:`contour_planes`:
    raises GeometryError) on ``grid`` at supersampling ``s``. A single-plane ROI without a
    ``slice_thickness_mm`` takes the grid's median plane spacing as its slab."""
    planes = contour_planes(structure)
    if len(planes) == 1 and slice_thickness_mm is None:
        slice_thickness_mm = _grid_slice_thickness(grid)
    return Rasteriser(planes, grid, s, slice_thickness_mm)


def _box_range(edges: np.ndarray, lo: float, hi: float) -> tuple[int, int]:
    """Voxel index range [i0, i1) of voxels whose extent overlaps [lo, hi]."""
    i0 = int(np.searchsorted(edges, lo, side="right")) - 1
    i1 = int(np.searchsorted(edges, hi, side="left"))
    return max(i0, 0), min(i1, len(edges) - 1)


def _nearest_corner(sub_centres: np.ndarray, value: float, s: int) -> int:
    """Index of the sub-sample nearest ``value`` among those of the coarse corner lattice
    (positions 0 and s−1 within each voxel), so that both samplings see it."""
    corner = np.flatnonzero(np.isin(np.arange(sub_centres.size) % s, [0, s - 1]))
    return int(corner[np.argmin(np.abs(sub_centres[corner] - value))])


class Rasteriser:
    """Per-layer rasterisation of one ROI in its bounding box (packed plane masks of at most
    :data:`_RASTER_CHUNK_BYTES` at once; kept for all the ROI's masks when all planes
    fit).

    Built once per ROI, grid and supersampling s, and shared by the masks of both end caps
    (:func:`rtcheck.dvhcalc.masks.structure_mask`): the box (the union of both end caps'
    slabs), the sub-samples along each axis (centres ``xs``/``ys``/``zsub`` mm, fractional
    grid indices ``xi``/``yi``/``zi``, trilinear weights ``wx``/``wy``/``wz``, voxel sizes
    ``dx``/``dy``/``dz`` mm), each end cap's slabs and plane per sub-sample height, and the
    planes' packed masks when they fit.
    """

    def __init__(
        self,
        planes: list[ContourPlane],
        grid: DoseGrid,
        s: int,
        slice_thickness_mm: float | None,
    ):
        """``planes``: the ROI's validated contour planes; ``slice_thickness_mm``: the slab
        of single-plane pieces (mm; see :func:`rtcheck.dvhcalc.planes.slab_bounds`)."""
        self.planes = planes
        self.s = s
        self.slice_thickness_mm = slice_thickness_mm
        self.zs = np.array([p.z_mm for p in planes])
        self.x_edges, self.y_edges, self.z_edges = (
            voxel_edges(grid.x_mm),
            voxel_edges(grid.y_mm),
            voxel_edges(grid.z_mm),
        )
        # bounding box: the union of both end-cap conventions, so that variants share it
        lo, hi = self.slabs("half_slice")
        # each plane's (x min, x max, y min, y max), by reduceat over all points at once
        pts = np.concatenate([poly for p in planes for poly in p.polygons])
        starts = np.cumsum([0] + [sum(len(poly) for poly in p.polygons) for p in planes])[:-1]
        self.plane_bounds = plane_bounds(pts, starts)
        b = self.plane_bounds
        self.xb = _box_range(self.x_edges, b.x_min.min(), b.x_max.max())
        self.yb = _box_range(self.y_edges, b.y_min.min(), b.y_max.max())
        self.zb = _box_range(self.z_edges, float(lo.min()), float(hi.max()))
        self.empty = (
            self.xb[0] >= self.xb[1] or self.yb[0] >= self.yb[1] or self.zb[0] >= self.zb[1]
        )
        nx, ny, nz = (b[1] - b[0] for b in (self.xb, self.yb, self.zb))
        self.shape = (max(nz, 0), max(ny, 0), max(nx, 0))
        # the sub-sample centres, their fractional whole-grid indices (extrapolated beyond
        # the outermost centres) and the trilinear weights used for dose interpolation
        x = axis_sampling(grid.x_mm, self.x_edges, self.xb, s)
        y = axis_sampling(grid.y_mm, self.y_edges, self.yb, s)
        z = axis_sampling(grid.z_mm, self.z_edges, self.zb, s)
        self.xs, self.ys, self.zsub = x.sub_mm, y.sub_mm, z.sub_mm
        self.dx, self.dy, self.dz = x.voxel_mm, y.voxel_mm, z.voxel_mm
        self.xi, self.yi, self.zi = x.sub_index, y.sub_index, z.sub_index
        self.wx, self.wy, self.wz = x.weights, y.weights, z.weights
        self.axes = (z, y, x)

    @cached_property
    def _plane_of_subz(self) -> dict[str, np.ndarray]:
        """Cache of :meth:`plane_of_subz` by end cap."""
        return {}

    @cached_property
    def _slabs(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Cache of :meth:`slabs` by end cap."""
        return {}

    def slabs(self, end_cap: EndCap) -> tuple[np.ndarray, np.ndarray]:
        """:func:`slab_bounds` of the ROI's planes with ``end_cap`` (computed once)."""
        cached = self._slabs.get(end_cap)
        if cached is None:
            cached = slab_bounds(self.zs, end_cap, self.slice_thickness_mm)
            for bound in cached:
                bound.setflags(write=False)
            self._slabs[end_cap] = cached
        return cached

    @cached_property
    def plane_areas(self) -> np.ndarray:
        """Each plane's even-odd area (mm²), for the volumes of every end cap's mask."""
        return np.array([p.area_mm2 for p in self.planes])

    @cached_property
    def in_grid_areas(self) -> dict[int, float]:
        """Cache of each plane's contour area inside the grid's x/y extent (mm²)."""
        return {}

    @cached_property
    def weight_tables(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """Weight classes of the trilinear weights (shared by every mask of this ROI)."""
        return weight_classes_zyx(self.wz, self.wy, self.wx)

    def plane_of_subz(self, end_cap: EndCap) -> np.ndarray:
        """Contour-plane index for each sub-sample height (−1: outside every slab).

        A slab thinner than the sub-sample spacing may contain no sub-sample height; when
        the nearest height (of the coarse corner lattice, see
        :meth:`rtcheck.dvhcalc.masks.StructureMask.iter_samples`) within one sub-sample
        spacing is free, it takes that plane, so that a thin isolated structure is never
        lost.
        """
        cached = self._plane_of_subz.get(end_cap)
        if cached is not None:
            return cached
        lo, hi = self.slabs(end_cap)
        idx = _plane_of_heights(self.zsub, lo, hi)
        _give_lost_planes_a_height(idx, self.zsub, self.zs, self.dz, self.s)
        idx.setflags(write=False)
        self._plane_of_subz[end_cap] = idx
        return idx

    def plane_masks(self, p0: int, p1: int) -> tuple[np.ndarray, np.ndarray]:
        """Packed sub-sample masks (p1 − p0 + 1, ny·s, nx) of planes p0 … p1 − 1 over the box
        (bit a of [p, r, ix]: sub-sample column ix·s + a, see rasterise_planes_packed), then
        one empty plane (index p1 − p0: heights in no slab), and their per-voxel counts
        (p1 − p0 + 1, ny, nx) (uint8), all planes in one pass."""
        ny, nx, s = self.shape[1], self.shape[2], self.s
        planes = self.planes[p0:p1]
        # row parity (tie rule) by the grid's global sub-sample row: the same for all ROIs
        packed = rasterise_planes_packed(
            [pl.polygons for pl in planes] + [()], self.xs, self.ys, s, self.yb[0] * s
        )
        _mark_tiny_contours(packed, planes, self.xs, self.ys, s)
        # per-voxel counts: the s rows added one by one (2× faster than .sum over the axis)
        per_row = np.bitwise_count(packed).reshape(len(planes) + 1, ny, s, nx)
        counts = per_row[:, :, 0].copy()
        for a in range(1, s):
            counts += per_row[:, :, a]
        return packed, counts

    @cached_property
    def _all_plane_masks(self) -> tuple[np.ndarray, np.ndarray] | None:
        """:meth:`plane_masks` of all planes (read-only), kept when they fit within
        :data:`_RASTER_CHUNK_BYTES` packed (the usual case; else None, and each chunk of layers
        fills its own planes): the masks of both end caps then share one fill, the other
        end cap's layers being those of the same end planes."""
        ny, nx, s = self.shape[1], self.shape[2], self.s
        if len(self.planes) * ny * s * nx > _RASTER_CHUNK_BYTES:
            return None
        masks = self.plane_masks(0, len(self.planes))
        for a in masks:
            a.setflags(write=False)
        return masks

    def layers(self, ks: np.ndarray, plane_idx: np.ndarray) -> RasterLayers:
        """The box layers ``ks`` (ascending) rasterised, ``plane_idx`` being the plane of
        each sub-sample height (:meth:`plane_of_subz`)."""
        s, ny, nx = self.s, self.shape[1], self.shape[2]
        pid = plane_idx.reshape(-1, s)[ks]
        whole = self._all_plane_masks
        if whole is not None:
            p0, n = 0, len(self.planes)
            masks, plane_counts = whole
        else:
            used = pid[pid >= 0]
            if used.size == 0:
                return RasterLayers(
                    np.zeros((len(ks), ny, nx), dtype=np.uint8),
                    np.zeros(0, dtype=np.intp),
                    np.zeros((0, s, s, s), dtype=bool),
                )
            p0, p1 = int(used.min()), int(used.max()) + 1
            n = p1 - p0
            masks, plane_counts = self.plane_masks(p0, p1)
        local = np.where(pid >= 0, pid - p0, n)  # n: no plane (the empty plane)
        # a layer whose s sub-sample heights all lie in one plane (the usual case: contour
        # spacing ≥ dose spacing) is s copies of that plane: counts × s, one s × s gather
        single = (local == local[:, :1]).all(axis=1) & (local[:, 0] < n)
        all_single = bool(single.all())
        if all_single:
            count = plane_counts[local[:, 0]] * np.uint8(s)  # at most s³ ≤ 216
        else:
            count = plane_counts[local[:, 0]]
            for j in range(1, s):
                count += plane_counts[local[:, j]]
        # boundary: 0 < count < s³ (uint8 arithmetic: count − 1 wraps 0 to 255)
        flat_b = np.flatnonzero(count - np.uint8(1) < np.uint8(s**3 - 1))
        kk, rest = np.divmod(flat_b, ny * nx)
        iy, ix = np.divmod(rest, nx)
        sub = _boundary_sub_samples(masks, local, kk, iy, ix, s, all_single)
        return RasterLayers(count, ks[kk] * (ny * nx) + rest, sub)

    def layer_chunks(self, layers: np.ndarray, plane_idx: np.ndarray) -> list[np.ndarray]:
        """The box ``layers`` (ascending) in chunks to rasterise at once: all of them when
        the planes' masks are kept (:attr:`_all_plane_masks`), else runs of consecutive
        layers whose planes' sub-sample masks together stay within
        :data:`_RASTER_CHUNK_BYTES` packed (memory bound; at least one layer)."""
        layers = np.asarray(layers, dtype=np.intp)
        if self._all_plane_masks is not None:
            return [layers] if layers.size else []
        per_plane = self.shape[1] * self.s * self.shape[2]  # packed bytes: s sub-samples each
        return _chunks_within_bytes(layers, plane_idx.reshape(-1, self.s), per_plane, len(self.planes))


#: Most bytes of packed plane masks (s sub-samples per byte, see rasterise_planes_packed)
#: held at once while rasterising: those of one chunk of layers, or of all the planes of
#: an ROI that fits, kept by its rasteriser for both end caps (16 MB: a body contour's
#: planes fit, and are filled once for both end caps).
_RASTER_CHUNK_BYTES = 1 << 24


def _plane_of_heights(heights: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The plane whose slab [lo, hi) (mm) contains each height (mm), or −1."""
    idx = np.searchsorted(lo, heights, side="right") - 1
    ok = (idx >= 0) & (heights < hi[np.maximum(idx, 0)])
    return np.where(ok, idx, -1)


def _give_lost_planes_a_height(
    idx: np.ndarray, zsub: np.ndarray, zs: np.ndarray, dz: np.ndarray, s: int
) -> None:
    """Give each plane (heights ``zs``, mm) that no sub-sample height ``zsub`` falls in the
    nearest free height of the coarse corner lattice within one sub-sample spacing, in
    ``idx`` (the plane of each height, −1: none), so that a thin isolated structure is
    never lost."""
    seen = np.zeros(len(zs) + 1, dtype=bool)
    seen[idx] = True  # idx −1 marks the extra last entry
    missing = np.flatnonzero(~seen[:-1])  # planes without a sub-sample height
    if missing.size and zsub.size:
        offset = np.arange(zsub.size) % s  # (not np.isin: 10× the cost here)
        corner = (offset == 0) | (offset == s - 1)
        reach = np.repeat(dz, s) / s  # sub-sample spacing at each height
        for p in missing:
            dist = np.abs(zsub - zs[p])
            free = (idx < 0) & corner & (dist <= reach)
            if free.any():
                idx[np.flatnonzero(free)[np.argmin(dist[free])]] = p


def _mark_tiny_contours(
    packed: np.ndarray, planes: list[ContourPlane], xs: np.ndarray, ys: np.ndarray, s: int
) -> None:
    """In ``packed`` (the planes' packed masks, :func:`rasterise_planes_packed`), give each
    plane whose fill is empty — a contour smaller than a sub-sample cell, the tip of a cone
    or an organ — the corner sub-sample nearest its centre (``xs``, ``ys``: the box's
    sub-sample centres, mm), so that it is never lost."""
    empty = ~packed[:-1].reshape(len(planes), -1).any(axis=1)
    for j in np.flatnonzero(empty):
        polys = planes[j].polygons
        pts = np.concatenate(polys) if len(polys) > 1 else polys[0]
        cx, cy = pts.mean(axis=0)
        if xs[0] - 1 <= cx <= xs[-1] + 1 and ys[0] - 1 <= cy <= ys[-1] + 1:
            col = _nearest_corner(xs, cx, s)
            packed[j, _nearest_corner(ys, cy, s), col // s] |= np.uint8(1 << (col % s))


def _boundary_sub_samples(
    masks: np.ndarray,
    local: np.ndarray,
    kk: np.ndarray,
    iy: np.ndarray,
    ix: np.ndarray,
    s: int,
    all_single: bool,
) -> np.ndarray:
    """The inside sub-samples (nb, s heights, s rows, s columns) of the boundary voxels at
    layer ``kk`` (of the chunk), row ``iy`` and column ``ix``, gathered from the packed
    plane ``masks``: the s packed rows of each voxel at each sub-sample height (``local``:
    each layer's plane per height; heights in no slab read the empty plane), unpacked to
    booleans. In a chunk of single layers (``all_single``), the s × s block of the first
    height stands for all of them.

    The byte indices are laid out rows first (long inner loops: the broadcast add over a
    last axis of s is 3× slower), the unpacking reads them in voxel order.
    """
    ny, nx = masks.shape[1] // s, masks.shape[2]
    rows = (iy * s) * nx + ix
    rows_off = np.arange(s) * nx
    flat_masks = masks.reshape(-1)
    bits = unpacking_table(s)
    if all_single:
        start = local[kk, 0] * (ny * s * nx) + rows
        block = np.take(flat_masks, start + rows_off[:, None])  # (s rows, nb)
        sub = np.empty((len(kk), s, s, s), dtype=bool)
        sub[:] = np.take(bits, block.T).view(bool).reshape(len(kk), 1, s, s)
        return sub
    start = local[kk] * (ny * s * nx) + rows[:, None]  # (nb, s heights)
    block = np.take(flat_masks, start + rows_off[:, None, None])  # (s rows, nb, s)
    sub = np.take(bits, block.transpose(1, 2, 0)).view(bool)
    return sub.reshape(len(kk), s, s, s)


def _chunks_within_bytes(
    layers: np.ndarray, pid: np.ndarray, per_plane: int, n_planes: int
) -> list[np.ndarray]:
    """Runs of consecutive ``layers`` whose planes (``pid``: each layer's plane per
    sub-sample height, −1: none) span at most :data:`_RASTER_CHUNK_BYTES` of packed masks
    (``per_plane`` bytes each), at least one layer a run."""
    lows = np.where(pid >= 0, pid, n_planes).min(axis=1).tolist()  # n_planes: no plane
    highs = pid.max(axis=1).tolist()  # −1: no plane
    chunks: list[np.ndarray] = []
    k0 = prev = -2
    p_lo, p_hi = n_planes, -1
    for k in layers.tolist():
        lo, hi = min(p_lo, lows[k]), max(p_hi, highs[k])
        if k == prev + 1 and (hi < lo or (hi - lo + 1) * per_plane <= _RASTER_CHUNK_BYTES):
            p_lo, p_hi, prev = lo, hi, k
            continue
        if prev >= 0:
            chunks.append(np.arange(k0, prev + 1))
        k0 = prev = k
        p_lo, p_hi = lows[k], highs[k]
    if prev >= 0:
        chunks.append(np.arange(k0, prev + 1))
    return chunks
