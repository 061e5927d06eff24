"""Unions of structures rasterised on one grid (a paired organ from its two sides).

A sub-sample is inside the union when it is inside any of the structures, so a region
where they overlap is counted once — never twice, as concatenating their DVHs would.
"""

from __future__ import annotations

import numpy as np

from rtcheck.models import DoseGrid

from .masks import StructureMask
from .planes import MM3_PER_CC
from .sampling import axis_sampling, voxel_edges


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
    present = [m for m in masks if m.counts.size and m.counts.any()]
    if present:
        box = tuple(
            (min(m.slices[a].start for m in present), max(m.slices[a].stop for m in present))
            for a in range(3)
        )
    else:
        box = ((0, 0),) * 3
    zb, yb, xb = box
    counts, voxels, inside = _united_sub_samples(present, box, s)
    z, y, x = (
        axis_sampling(centres, voxel_edges(centres), b, s)
        for centres, b in ((grid.z_mm, zb), (grid.y_mm, yb), (grid.x_mm, xb))
    )
    sub_volume_mm3 = (
        z.voxel_mm[:, None, None] * y.voxel_mm[None, :, None] * x.voxel_mm[None, None, :]
    ) / s**3
    overlap_cc = _overlap_cc(present, box, counts, sub_volume_mm3) if present else 0.0
    empty = counts.shape[0] == 0 or counts.shape[1] * counts.shape[2] == 0
    return StructureMask.on_axes(
        roi_number=roi_number,
        name=name,
        slices=(slice(*zb), slice(*yb), slice(*xb)) if not empty else (slice(0, 0),) * 3,
        counts=counts,
        supersampling=s,
        end_cap=end_cap,
        boundary_voxels=voxels.astype(np.intp),
        boundary_inside=inside,
        axes=(z, y, x),
        structure_volume_cc=sum(m.structure_volume_cc for m in masks) - overlap_cc,
        in_grid_volume_cc=sum(m.in_grid_volume_cc for m in masks) - overlap_cc,
    )


#: (start, stop) voxel ranges of a box along z, y and x.
Box = tuple[tuple[int, int], ...]


def _in_box(mask: StructureMask, box: Box) -> tuple[slice, slice, slice]:
    """Where ``mask``'s own box lies in ``box`` (slices along z, y, x)."""
    return tuple(  # type: ignore[return-value]
        slice(mask.slices[a].start - b[0], mask.slices[a].stop - b[0]) for a, b in enumerate(box)
    )


def _united_sub_samples(
    present: list[StructureMask], box: Box, s: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The union's sub-sample counts over ``box`` (uint8 per voxel), and its boundary
    voxels (flat box indices, sorted) with their inside sub-samples: a voxel wholly inside
    any ROI is interior; the others' sub-sample masks are OR-ed over the ROIs (which may
    fill a voxel: it is then interior too)."""
    s3 = s**3
    shape = tuple(b[1] - b[0] for b in box)
    counts = np.zeros(shape, dtype=np.uint8)
    full = np.zeros(shape, dtype=bool)
    placed = []
    for m in present:
        at = _in_box(m, box)
        full[at] |= m.counts == s3
        k, iy, ix = m.boundary_box_index()
        flat = ((k + at[0].start) * shape[1] + iy + at[1].start) * shape[2] + ix + at[2].start
        placed.append((flat, m.boundary_inside))
    counts[full] = s3
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
    boundary = n_in < s3
    return counts, voxels[boundary], inside[boundary]


def _overlap_cc(
    present: list[StructureMask], box: Box, counts: np.ndarray, sub_volume_mm3: np.ndarray
) -> float:
    """The ROIs' overlap (cc) measured on the sub-samples: Σ rasterised volumes − the
    rasterised union volume (``counts`` over ``box``; ``sub_volume_mm3``: a sub-sample's
    volume per voxel of the box); a rounding-level overlap of disjoint ROIs is 0."""
    union_cc = float((counts * sub_volume_mm3).sum()) / MM3_PER_CC
    parts_cc = 0.0
    for m in present:
        parts_cc += float((m.counts * sub_volume_mm3[_in_box(m, box)]).sum()) / MM3_PER_CC
    overlap_cc = max(0.0, parts_cc - union_cc)
    if np.isclose(overlap_cc, 0.0, rtol=0.0, atol=1e-9 * max(parts_cc, 1e-12)):
        overlap_cc = 0.0
    return overlap_cc
