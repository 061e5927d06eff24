"""The reusable mask of a structure on a dose grid: :class:`StructureMask`.

:func:`structure_mask` rasterises an ROI (:mod:`rtcheck.dvhcalc.rasterise`) into its
bounding box on the dose grid: per voxel, how many of its s³ sub-samples lie inside
(partial volume), and for the boundary voxels which ones. The mask carries what sampling
the dose needs (sub-sample indices and trilinear weights) and the ROI's contour volume, so
that any measure of the ROI on this grid (DVHs, overlaps, the part outside the body,
re-irradiation composites) reuses it instead of rasterising again. Its dose samples:
:mod:`rtcheck.dvhcalc.dose_samples`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np

from rtcheck.models import DoseGrid, Structure

from .dose_samples import SampleChunk, iter_chunks, uses_fine_interior
from .planes import END_CAPS, MM3_PER_CC, ContourPlane, EndCap
from .polygons import PlaneBounds, clipped_polygon_areas_mm2
from .rasterise import Rasteriser, RasterLayers, rasteriser_for
from .sampling import MAX_SUPERSAMPLING, AxisSampling, weight_classes_zyx


class VoxelSizesAlike(NamedTuple):
    """Whether the voxel sizes of a mask's box are alike along each axis."""

    #: x sizes and y sizes each equal within 1e-9 mm
    xy_equal: bool
    #: x sizes and y sizes each equal within 1e-12 relative
    xy_each_uniform: bool
    #: z sizes exactly equal
    z_uniform: bool


class BoxIndex(NamedTuple):
    """Voxels of a mask's box by their layer (z), row (y) and column (x) in the box."""

    layer: np.ndarray
    row: np.ndarray
    column: np.ndarray


@dataclass(frozen=True, eq=False)
class StructureMask:
    """An ROI rasterised on a dose grid, restricted to its bounding box.

    * ``slices`` — (z, y, x) slices of the dose grid covering the ROI's bounding box;
    * ``counts`` — uint8 array over the box: how many of the ``supersampling``³ sub-samples
      of each voxel are inside the ROI (occupancy = counts / s³, see :attr:`fraction`);
    * ``boundary_voxels`` — flat box indices of the boundary voxels (0 < counts < s³), and
      ``boundary_inside`` — their (nb, s, s, s) sub-sample masks (z, y, x order);
    * ``weights_z/y/x`` — per box voxel and sub-sample offset, the trilinear weights of the
      voxel's neighbours (−1, 0, +1) along each axis (exact for non-uniform spacing;
      clamped to the outermost voxel centre at the grid's edge);
    * ``dz_mm/dy_mm/dx_mm`` — voxel sizes of the box along each axis;
    * ``structure_volume_cc`` — the contour volume; ``in_grid_volume_cc`` — the contour
      volume inside the dose grid's extent (voxel boundaries).

    Reuse it for any measure that needs the ROI on this grid (overlaps, conformity or
    gradient indices) instead of rasterising again.
    """

    roi_number: int
    name: str
    slices: tuple[slice, slice, slice]
    counts: np.ndarray
    supersampling: int
    end_cap: str
    boundary_voxels: np.ndarray
    boundary_inside: np.ndarray
    weights_z: np.ndarray
    weights_y: np.ndarray
    weights_x: np.ndarray
    sub_index_z: np.ndarray
    sub_index_y: np.ndarray
    sub_index_x: np.ndarray
    dz_mm: np.ndarray
    dy_mm: np.ndarray
    dx_mm: np.ndarray
    structure_volume_cc: float
    in_grid_volume_cc: float
    #: _weight_classes of weights_z/y/x when already known (shared by a rasteriser's masks)
    weight_tables: tuple[tuple[np.ndarray, np.ndarray], ...] | None = None

    @classmethod
    def on_axes(
        cls,
        *,
        roi_number: int,
        name: str,
        slices: tuple[slice, slice, slice],
        counts: np.ndarray,
        supersampling: int,
        end_cap: str,
        boundary_voxels: np.ndarray,
        boundary_inside: np.ndarray,
        axes: tuple[AxisSampling, AxisSampling, AxisSampling],
        structure_volume_cc: float,
        in_grid_volume_cc: float,
        weight_tables: tuple[tuple[np.ndarray, np.ndarray], ...] | None = None,
    ) -> StructureMask:
        """The mask whose box is sampled along z, y and x as ``axes`` say (weights,
        sub-sample indices and voxel sizes of each axis; the other fields as named)."""
        z, y, x = axes
        return cls(
            roi_number=roi_number,
            name=name,
            slices=slices,
            counts=counts,
            supersampling=supersampling,
            end_cap=end_cap,
            boundary_voxels=boundary_voxels,
            boundary_inside=boundary_inside,
            weights_z=z.weights,
            weights_y=y.weights,
            weights_x=x.weights,
            sub_index_z=z.sub_index,
            sub_index_y=y.sub_index,
            sub_index_x=x.sub_index,
            dz_mm=z.voxel_mm,
            dy_mm=y.voxel_mm,
            dx_mm=x.voxel_mm,
            structure_volume_cc=structure_volume_cc,
            in_grid_volume_cc=in_grid_volume_cc,
            weight_tables=weight_tables,
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        """The box's shape (nz, ny, nx) in voxels."""
        return tuple(self.counts.shape)  # type: ignore[return-value]

    @property
    def fraction(self) -> np.ndarray:
        """Occupancy (0–1) of each voxel of the bounding box (float32)."""
        return self.counts.astype(np.float32) / np.float32(self.supersampling**3)

    def voxel_volumes_cc(self) -> np.ndarray:
        """Volume (cc) of each voxel of the bounding box (broadcast (nz, ny, nx))."""
        return (
            self.dz_mm[:, None, None] * self.dy_mm[None, :, None] * self.dx_mm[None, None, :]
        ) / MM3_PER_CC

    @property
    def rasterised_volume_cc(self) -> float:
        """Volume (cc) of the ROI as sampled on the grid (Σ occupancy × voxel volume)."""
        return self._sub_sample_volume_cc(self.counts)

    def _sub_sample_volume_cc(self, counts: np.ndarray) -> float:
        """Volume (cc) of ``counts`` sub-samples per voxel of the box."""
        rows = counts @ self.dx_mm  # (nz, ny): Σ counts × dx
        mm3 = float(self.dz_mm @ (rows @ self.dy_mm))
        return mm3 / MM3_PER_CC / self.supersampling**3

    @property
    def outside_grid_cc(self) -> float:
        """Contour volume (cc) outside the dose grid's extent."""
        return max(0.0, self.structure_volume_cc - self.in_grid_volume_cc)

    def volume_outside_cc(self, outer: StructureMask) -> float:
        """Volume (cc, counted on the sub-samples like :attr:`rasterised_volume_cc`) of this
        ROI that lies outside ``outer`` — e.g. the part of an organ outside the External
        (body) contour. Both masks must come from one grid with the same supersampling and
        end cap. Sub-sample by sub-sample: identical contours give identical sub-samples,
        so a structure drawn to the body's edge has nothing outside."""
        if outer.supersampling != self.supersampling or outer.end_cap != self.end_cap:
            raise ValueError("both masks must share the supersampling and the end cap")
        s3 = self.supersampling**3
        # the outer ROI's counts over this ROI's box (0 where the outer box does not reach)
        theirs = np.zeros(self.counts.shape, dtype=np.uint8)
        mine_part, theirs_part = [], []
        for a in range(3):
            lo = max(self.slices[a].start, outer.slices[a].start)
            hi = min(self.slices[a].stop, outer.slices[a].stop)
            if hi <= lo:
                return self.rasterised_volume_cc
            mine_part.append(slice(lo - self.slices[a].start, hi - self.slices[a].start))
            theirs_part.append(slice(lo - outer.slices[a].start, hi - outer.slices[a].start))
        theirs[tuple(mine_part)] = outer.counts[tuple(theirs_part)]
        mine = self.counts.astype(np.int32)
        # sub-samples inside both: all of one side's where the other is wholly inside
        both = np.where(theirs == s3, mine, np.where(mine == s3, theirs, 0)).astype(np.int32)
        # voxels on both boundaries: their inside sub-samples, one by one
        k, iy, ix = self.boundary_box_index()
        partial = np.flatnonzero((theirs[k, iy, ix] > 0) & (theirs[k, iy, ix] < s3))
        if partial.size:
            oz, oy, ox = (self.slices[a].start - outer.slices[a].start for a in range(3))
            ony, onx = outer.counts.shape[1], outer.counts.shape[2]
            at = ((k[partial] + oz) * ony + iy[partial] + oy) * onx + ix[partial] + ox
            j = np.searchsorted(outer.boundary_voxels, at)
            shared = self.boundary_inside[partial] & outer.boundary_inside[j]
            both[k[partial], iy[partial], ix[partial]] = shared.reshape(partial.size, -1).sum(axis=1)
        return self._sub_sample_volume_cc(mine - both)

    def full_mask(self, grid_shape: tuple[int, int, int]) -> np.ndarray:
        """Occupancy on the whole grid (float32); allocates a grid-sized array."""
        out = np.zeros(grid_shape, dtype=np.float32)
        out[self.slices] = self.fraction
        return out

    @cached_property
    def voxel_sizes_alike(self) -> VoxelSizesAlike:
        """Whether the box's voxel sizes are alike along each axis: per-mask facts the
        sampling of every chunk asks for."""
        dy, dx, dz = self.dy_mm, self.dx_mm, self.dz_mm
        xy = bool(np.ptp(dy) < 1e-9 and np.ptp(dx) < 1e-9)
        xy_rel = all(d.size and np.ptp(d) <= 1e-12 * d[0] for d in (dy, dx))
        return VoxelSizesAlike(xy, bool(xy_rel), bool(dz.size and np.ptp(dz) == 0))

    def boundary_box_index(self, voxels: np.ndarray | None = None) -> BoxIndex:
        """Box layer, row and column of flat box indices ``voxels`` (default: the boundary
        voxels)."""
        ny, nx = self.counts.shape[1], self.counts.shape[2]
        k, rest = np.divmod(self.boundary_voxels if voxels is None else voxels, ny * nx)
        iy, ix = np.divmod(rest, nx)
        return BoxIndex(k, iy, ix)

    @property
    def points_index(self) -> np.ndarray:
        """(M, 3) fractional whole-grid indices (z, y, x) of the inside sub-samples of the
        boundary voxels, in the order of :meth:`dose_samples` (voxel, then z, y, x)."""
        s = self.supersampling
        k, iy, ix = self.boundary_box_index()
        b, jz, jy, jx = np.nonzero(self.boundary_inside)
        return np.stack(
            [
                self.sub_index_z[k[b] * s + jz],
                self.sub_index_y[iy[b] * s + jy],
                self.sub_index_x[ix[b] * s + jx],
            ],
            axis=1,
        )

    def dose_samples(
        self, dose_gy: np.ndarray, interpolate: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Dose samples (Gy) and the volume (cc) each stands for, inside the ROI.

        Interior voxels give one sample: the voxel's dose, with the voxel's volume (first,
        in C order over the box). Boundary voxels give, with ``interpolate``, one sample per
        inside sub-sample with the dose interpolated trilinearly at its position (clamped
        to the outermost voxel centres; order of :attr:`points_index`); without, one
        sample with the voxel's dose and its occupied volume.
        """
        d, v, _ = self.samples_by_layer(dose_gy, interpolate)
        return d, v

    def samples_by_layer(
        self,
        dose_gy: np.ndarray,
        interpolate: bool = True,
        layers: np.ndarray | None = None,
        fine_interior: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As :meth:`dose_samples`, also returning each sample's box layer (z index).

        ``layers`` (bool per box layer) restricts the samples to those layers. For
        ``fine_interior`` see :meth:`iter_samples`. One chunk, so that the order is that of
        :meth:`dose_samples` (all interior voxels, then the boundary sub-samples in the
        order of :attr:`points_index`); use :meth:`iter_samples` to bound memory.
        """
        parts = list(
            self.iter_samples(dose_gy, interpolate, fine_interior, max_voxels=self.counts.size + 1)
        )
        if not parts:
            return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.intp)
        d, v, k = (np.concatenate(x) for x in zip(*parts, strict=True))
        if layers is not None:
            keep = np.asarray(layers, dtype=bool)[k]
            d, v, k = d[keep], v[keep], k[keep]
        return d, v, k

    def uses_fine_interior(self, interpolate: bool = True) -> bool:
        """True when :meth:`iter_samples` with ``fine_interior`` supersamples interior voxels."""
        return uses_fine_interior(self, interpolate)

    def iter_samples(
        self,
        dose_gy: np.ndarray,
        interpolate: bool = True,
        fine_interior: bool = False,
        max_voxels: int = 1 << 22,
        layers: np.ndarray | None = None,
        as_parts: bool = False,
        ends: np.ndarray | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray] | SampleChunk]:
        """Yield (dose_gy, volume_cc, layer) samples chunk by chunk of box layers
        (:func:`rtcheck.dvhcalc.dose_samples.iter_chunks`).

        Memory is bounded by the chunk (about ``max_voxels`` voxels), not by the ROI. With
        ``fine_interior`` (and ``interpolate``), interior voxels too are sampled at their s³
        sub-sample points when the ROI has at most :data:`~rtcheck.dvhcalc.dose_samples.FINE_INTERIOR_MAX_VOXELS` of them
        (small ROIs, where one voxel is a visible step of the DVH). ``layers`` (bool per
        box layer) limits the work to those layers. With ``as_parts``, yields
        :class:`SampleChunk` objects (interior doses grouped by layer, without per-sample
        volume arrays: the cheap form for histograms), whose boundary samples in the box
        layers flagged by ``ends`` (bool per layer) are kept apart (``boundary_ends``).
        """
        for chunk in iter_chunks(
            self,
            dose_gy,
            interpolate=interpolate,
            fine_interior=fine_interior,
            max_voxels=max_voxels,
            layers=layers,
            as_parts=as_parts,
            ends=ends,
        ):
            yield chunk if as_parts else chunk.samples()

    @cached_property
    def weight_classes(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """(class per voxel, distinct weight tables) along z, y, x
        (:func:`rtcheck.dvhcalc.sampling.weight_classes_zyx`), computed once per mask
        rather than once per chunk (masks of one rasteriser share them: ``weight_tables``)."""
        if self.weight_tables is not None:
            return self.weight_tables
        return weight_classes_zyx(self.weights_z, self.weights_y, self.weights_x)

    @cached_property
    def interior_voxels(self) -> int:
        """Number of voxels entirely inside the ROI."""
        return int(np.count_nonzero(self.counts == self.supersampling**3))


def structure_mask(
    structure: Structure,
    grid: DoseGrid,
    supersampling: int = 3,
    end_cap: EndCap = "half_slice",
    slice_thickness_mm: float | None = None,
    *,
    rasteriser: Rasteriser | None = None,
    base: StructureMask | None = None,
) -> StructureMask:
    """Rasterise ``structure`` on ``grid`` (conventions: :mod:`rtcheck.dvhcalc.planes` and
    :mod:`rtcheck.dvhcalc.rasterise`).

    ``supersampling`` s (1–6) sub-samples per voxel along each axis. ``slice_thickness_mm``
    is used for single-plane ROIs (default: the dose grid's median plane spacing). Raises
    :class:`~rtcheck.errors.GeometryError` for ROIs that have no volume. ``rasteriser``: the ROI's
    :class:`~rtcheck.dvhcalc.rasterise.Rasteriser` at this supersampling, when already
    built (shared by a DVH's masks). ``base``: the mask of the same ROI with the other end
    cap (same rasteriser): only the layers whose sub-samples change plane are rasterised
    again, the others are taken from it.
    """
    s = int(supersampling)
    if not 1 <= s <= MAX_SUPERSAMPLING:
        raise ValueError(f"supersampling must be within 1–{MAX_SUPERSAMPLING}, got {supersampling}")
    if end_cap not in END_CAPS:
        raise ValueError(f"end_cap must be one of {END_CAPS}, got {end_cap!r}")
    r = rasteriser if rasteriser is not None else rasteriser_for(
        structure, grid, s, slice_thickness_mm
    )
    lo, hi = r.slabs(end_cap)
    volume_cc = float(np.dot(r.plane_areas, hi - lo)) / MM3_PER_CC
    in_grid_cc = (
        _in_grid_volume_cc(
            r.planes, lo, hi, r.x_edges, r.y_edges, r.z_edges, r.in_grid_areas, r.plane_bounds
        )
        if not r.empty
        else 0.0
    )
    counts, voxels, inside = _rasterised(r, end_cap, base)
    slices = (slice(*r.zb), slice(*r.yb), slice(*r.xb)) if not r.empty else (slice(0, 0),) * 3
    return StructureMask.on_axes(
        roi_number=structure.roi_number,
        name=structure.name,
        slices=slices,
        counts=counts,
        supersampling=s,
        end_cap=end_cap,
        boundary_voxels=voxels,
        boundary_inside=inside,
        axes=r.axes,
        structure_volume_cc=volume_cc,
        in_grid_volume_cc=in_grid_cc,
        weight_tables=None if r.empty else r.weight_tables,
    )


def _rasterised(r: Rasteriser, end_cap: EndCap, base: StructureMask | None) -> RasterLayers:
    """All box layers of ``r``'s ROI rasterised with ``end_cap``: the scanline fill of all
    planes of a chunk of layers at once (packed), the per-voxel block counts and one gather
    of the boundary voxels' sub-samples. With a ``base`` mask (the other end cap), only the
    layers whose sub-samples change plane are rasterised; the others are taken from it."""
    s = r.s
    nz, ny, nx = r.shape
    counts = np.zeros(r.shape, dtype=np.uint8)
    vox_list, sub_list = [], []
    if not r.empty:
        plane_idx = r.plane_of_subz(end_cap)
        if base is None:
            layers = np.arange(nz)
        else:
            base_idx = r.plane_of_subz(base.end_cap)  # type: ignore[arg-type]
            changed = (plane_idx != base_idx).reshape(nz, s).any(axis=1)
            layers = np.flatnonzero(changed)
            counts[...] = base.counts
            keep = ~changed[base.boundary_voxels // (ny * nx)]
            vox_list.append(base.boundary_voxels[keep])
            sub_list.append(base.boundary_inside[keep])
        for ks in r.layer_chunks(layers, plane_idx):
            chunk = r.layers(ks, plane_idx)
            counts[ks] = chunk.counts
            vox_list.append(chunk.boundary_voxels)
            sub_list.append(chunk.boundary_inside)
    if base is not None and len(vox_list) > 1:
        vox_list, sub_list = _spliced(vox_list[0], sub_list[0], vox_list[1:], sub_list[1:])
    voxels = np.concatenate(vox_list) if vox_list else np.zeros(0, dtype=np.intp)
    inside = np.concatenate(sub_list) if sub_list else np.zeros((0, s, s, s), dtype=bool)
    return RasterLayers(counts, voxels, inside)


def _spliced(
    kept_vox: np.ndarray,
    kept_sub: np.ndarray,
    new_vox: list[np.ndarray],
    new_sub: list[np.ndarray],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A variant's boundary voxels in order, as pieces to concatenate: the voxels kept from
    its base mask and the re-rasterised ones (lists of chunks) are each sorted and lie in
    different layers, so each run of new voxels goes between the kept ones where it
    belongs: the order a sort would give (flat indices are distinct), without sorting."""
    new_v = np.concatenate(new_vox)
    if not new_v.size:
        return [kept_vox], [kept_sub]
    new_s = np.concatenate(new_sub)
    at = np.searchsorted(kept_vox, new_v)  # where each new voxel goes among the kept ones
    cuts = (np.flatnonzero(np.diff(at)) + 1).tolist()
    vox, sub = [], []
    prev = 0
    for a, b in zip([0, *cuts], [*cuts, len(new_v)], strict=True):
        p = int(at[a])
        vox += [kept_vox[prev:p], new_v[a:b]]
        sub += [kept_sub[prev:p], new_s[a:b]]
        prev = p
    return vox + [kept_vox[prev:]], sub + [kept_sub[prev:]]


def _in_grid_volume_cc(
    planes: list[ContourPlane],
    lo: np.ndarray,
    hi: np.ndarray,
    x_edges: np.ndarray,
    y_edges: np.ndarray,
    z_edges: np.ndarray,
    areas: dict[int, float],
    bounds: PlaneBounds,
) -> float:
    """Contour volume (cc) inside the grid's extent: each slab's thickness inside the grid
    × its plane's area inside the grid's x/y extent (``areas``: a cache of those, by plane
    index, shared by the end-cap conventions; ``bounds``: :func:`~rtcheck.dvhcalc.polygons.plane_bounds`)."""
    xr, yr = (float(x_edges[0]), float(x_edges[-1])), (float(y_edges[0]), float(y_edges[-1]))
    thick = [max(0.0, min(b, z_edges[-1]) - max(a, z_edges[0])) for a, b in zip(lo, hi, strict=True)]
    to_clip = []
    for p, plane in enumerate(planes):
        if thick[p] <= 0 or p in areas:
            continue
        x0, x1 = float(bounds.x_min[p]), float(bounds.x_max[p])
        y0, y1 = float(bounds.y_min[p]), float(bounds.y_max[p])
        if x0 >= xr[0] and x1 <= xr[1] and y0 >= yr[0] and y1 <= yr[1]:
            areas[p] = plane.area_mm2
        else:
            to_clip.append(p)
    if to_clip:
        # every polygon of every plane that leaves the grid, clipped in one batch
        polys = [poly for p in to_clip for poly in planes[p].polygons]
        clipped = clipped_polygon_areas_mm2(polys, xr, yr)
        at = 0
        for p in to_clip:
            m = len(planes[p].polygons)
            signs = planes[p].nesting_signs if m > 1 else np.ones(1)
            areas[p] = float(sum(s * a for s, a in zip(signs, clipped[at : at + m], strict=True)))
            at += m
    total = 0.0
    for p, t in enumerate(thick):
        if t > 0:
            total += areas[p] * t
    return total / MM3_PER_CC
