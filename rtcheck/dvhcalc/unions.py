"""Unions of structures rasterised on one grid (a paired organ from its two sides).

A sub-sample is inside the union when it is inside any of the structures, so a region
where they overlap is counted once — never twice, as concatenating their DVHs would.
"""

from __future__ import annotations

import numpy as np

from rtcheck.models import DoseGrid

from .masks import StructureMask
from .planes import MM3_PER_CC
from .sampling import axis_weights, fractional_index, subsample_centres, voxel_edges


def union_mask(
    masks: list[StructureMask] | tuple[StructureMask, ...],
    grid: DoseGrid,
    name: str,
    roi_number: int = 0,
) -> StructureMask:
    """The union of ROIs rasterised on one grid: a sub-sample is inside the union when it is
    inside any of them, so a region where they overlap is counted once.

    All masks must come from ``grid`` with the same supersampling and end cap. The union's
    contour volume is Σ contour volumes − the overlap, the overlap being measured on the
    sub-samples (Σ rasterised volumes − rasterised union volume): exactly the sum for
    disjoint ROIs. ``in_grid_volume_cc`` likewise (the overlap lies inside the grid); a
    part outside the grid is counted once per ROI (its overlap is not known).
    """
    if not masks:
        raise ValueError("a union needs at least one mask")
    s = masks[0].supersampling
    end_cap = masks[0].end_cap
    if any(m.supersampling != s or m.end_cap != end_cap for m in masks):
        raise ValueError("masks of a union must share the supersampling and the end cap")
    s3 = s**3
    present = [m for m in masks if m.counts.size and m.counts.any()]
    x_edges, y_edges, z_edges = (
        voxel_edges(grid.x_mm),
        voxel_edges(grid.y_mm),
        voxel_edges(grid.z_mm),
    )
    if present:
        zb, yb, xb = (
            (min(m.slices[a].start for m in present), max(m.slices[a].stop for m in present))
            for a in range(3)
        )
    else:
        zb = yb = xb = (0, 0)
    shape = (zb[1] - zb[0], yb[1] - yb[0], xb[1] - xb[0])
    nyx = shape[1] * shape[2]
    counts = np.zeros(shape, dtype=np.uint8)
    full = np.zeros(shape, dtype=bool)
    placed = []
    for m in present:
        box = tuple(
            slice(m.slices[a].start - b[0], m.slices[a].stop - b[0])
            for a, b in enumerate((zb, yb, xb))
        )
        full[box] |= m.counts == s3
        k, iy, ix = m.boundary_box_index()
        flat = ((k + box[0].start) * shape[1] + iy + box[1].start) * shape[2] + ix + box[2].start
        placed.append((flat, m.boundary_inside))
    counts[full] = s3
    # boundary voxels of the union: sub-sample masks OR-ed over the ROIs, outside full voxels
    flat = np.concatenate([p[0] for p in placed]) if placed else np.zeros(0, dtype=np.intp)
    inside = (
        np.concatenate([p[1] for p in placed]) if placed else np.zeros((0, s, s, s), dtype=bool)
    )
    keep = ~full.ravel()[flat]
    flat, inside = flat[keep], inside[keep]
    order = np.argsort(flat, kind="stable")
    flat, inside = flat[order], inside[order]
    voxels, first = np.unique(flat, return_index=True)
    if voxels.size:
        inside = np.logical_or.reduceat(inside, first, axis=0)
    n_in = inside.reshape(len(voxels), s3).sum(axis=1).astype(np.uint8)
    counts.ravel()[voxels] = n_in
    boundary = n_in < s3  # OR-ing may fill a voxel: it is then interior
    voxels, inside = voxels[boundary], inside[boundary]
    dx, dy, dz = (
        np.diff(e[b[0] : b[1] + 1]) for e, b in ((x_edges, xb), (y_edges, yb), (z_edges, zb))
    )
    xs, ys, zsub = (
        subsample_centres(e[b[0] : b[1] + 1], s)
        for e, b in ((x_edges, xb), (y_edges, yb), (z_edges, zb))
    )
    sub_volume_mm3 = (dz[:, None, None] * dy[None, :, None] * dx[None, None, :]) / s3

    def sub_samples(c: np.ndarray) -> float:
        return float((c * sub_volume_mm3).sum()) / MM3_PER_CC

    overlap_cc = 0.0
    if present:
        union_cc = sub_samples(counts)
        parts_cc = 0.0
        for m in present:
            box = tuple(
                slice(m.slices[a].start - b[0], m.slices[a].stop - b[0])
                for a, b in enumerate((zb, yb, xb))
            )
            parts_cc += float((m.counts * sub_volume_mm3[box]).sum()) / MM3_PER_CC
        overlap_cc = max(0.0, parts_cc - union_cc)
        if np.isclose(overlap_cc, 0.0, rtol=0.0, atol=1e-9 * max(parts_cc, 1e-12)):
            overlap_cc = 0.0
    empty = shape[0] == 0 or nyx == 0
    return StructureMask(
        roi_number=roi_number,
        name=name,
        slices=(slice(*zb), slice(*yb), slice(*xb)) if not empty else (slice(0, 0),) * 3,
        counts=counts,
        supersampling=s,
        end_cap=end_cap,
        boundary_voxels=voxels.astype(np.intp),
        boundary_inside=inside,
        weights_z=axis_weights(grid.z_mm, zb, zsub, s),
        weights_y=axis_weights(grid.y_mm, yb, ys, s),
        weights_x=axis_weights(grid.x_mm, xb, xs, s),
        sub_index_z=fractional_index(grid.z_mm, zsub),
        sub_index_y=fractional_index(grid.y_mm, ys),
        sub_index_x=fractional_index(grid.x_mm, xs),
        dz_mm=dz,
        dy_mm=dy,
        dx_mm=dx,
        structure_volume_cc=sum(m.structure_volume_cc for m in masks) - overlap_cc,
        in_grid_volume_cc=sum(m.in_grid_volume_cc for m in masks) - overlap_cc,
    )
