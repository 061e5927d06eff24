"""Point dose extremes of a contoured structure on its boundary.

The DVH's sub-samples lie *inside* the structure (the outermost ones a third of a voxel
from the boundary at supersampling 3), so the extreme sample doses are biased toward the
interior: in a dose gradient the point maximum and minimum of the structure — which lie on
its boundary — were underestimated (resp. overestimated) by about half a sub-sample spacing
× the gradient. That error is not conservative for a maximum-dose constraint.

:class:`BoundaryExtremes` evaluates the dose (trilinear interpolation, as the DVH samples
are evaluated, clamped to the outermost voxel centres) at points of the structure's surface
as the DVH layer defines it (:mod:`rtcheck.dvhcalc.planes`: each contour plane a slab between
``slab_bounds`` limits, with the end-cap convention in use), clipped to the dose grid's
extent (voxel edges; points outside the grid are not counted):

* *walls* (contour edges extruded over their slab): every contour vertex, and every point
  where a contour edge crosses a dose-grid line (x or y of a voxel centre, or the grid's
  outer edge), at the slab's bottom and top, at the contour's own plane, and at every
  dose-grid plane inside the slab;
* *exposed faces* (top and bottom of a slab, where the neighbouring slab does not continue
  the structure, or where the grid cuts it): the dose-grid columns inside the contours at
  that height.

Why these points: the interpolated dose is multilinear in every dose cell, hence harmonic
there, so its extremes over the structure lie on the structure's boundary, on a cell
boundary or at a grid node. On a cell face or edge inside the structure it is bilinear or
linear: its extremes are at grid nodes (the DVH samples them: at odd supersampling every
voxel centre inside is a sub-sample) or where grid lines meet the surface (the points
above). On a wall the dose is linear in z between grid planes, and along a contour edge
within one cell it is a quadratic whose curvature is the dose's mixed second derivative:
the edge's vertices and grid-line crossings bound it exactly for any dose linear in x or y
along the edge (in particular any linear gradient), within the second-order interpolation
error otherwise. These points carry no volume: they change only ``DVH.max_gy``/``min_gy``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rtcheck.models import DoseGrid

from .planes import END_CAPS, ContourPlane, slab_bounds
from .polygons import ragged_ranges, segment_line_crossings
from .sampling import (
    axis_cells,
    bracketing_nodes,
    fractional_index,
    trilinear_columns,
    voxel_edges,
)
from .surface import SurfaceEdges, exposed_columns, surface_edges

#: Slab limits closer than this are the same height (mm).
_SAME_HEIGHT_MM = 1e-6


#: Boxes of dose columns up to this size are gathered for all planes at once (above, the
#: contiguous slices of each plane are cheaper than the gathers' index arithmetic).
_GATHER_CELLS = 1024


#: Large boxes' nodes are compared with the thresholds by chunks of this many dose planes.
_CHUNK_PLANES = 8


class _Slabs(NamedTuple):
    """A batch of slabs: each one's plane, its extent clipped to the grid [a, b] and its
    own [lo, hi] (mm), the neighbouring planes that continue it below and above (−1: none),
    and its plane's box of bracketing dose nodes: rows r0…r1, columns c0…c1."""

    plane: np.ndarray
    a: np.ndarray
    b: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    below: np.ndarray
    above: np.ndarray
    r0: np.ndarray
    r1: np.ndarray
    c0: np.ndarray
    c1: np.ndarray

    def take(self, kept: np.ndarray) -> _Slabs:
        """The slabs ``kept`` (indices) of the batch."""
        return _Slabs(*(field[kept] for field in self))


def _hot_columns(
    dose_gy: np.ndarray,
    slabs: _Slabs,
    k0: np.ndarray,
    k1: np.ndarray,
    beyond: tuple[float, float],
) -> np.ndarray:
    """(slabs, rows, columns) booleans of each slab's box of dose columns (padded to the
    batch's largest box): a node of the column over the slab's dose planes k0…k1 lies
    below ``beyond[0]`` or above ``beyond[1]`` (Gy). From the nodes beyond them in the
    block that spans the batch (one comparison each)."""
    r0, r1, c0, c1 = slabs.r0, slabs.r1, slabs.c0, slabs.c1
    n_rows, n_cols = int((r1 - r0).max()) + 1, int((c1 - c0).max()) + 1
    z_lo, z_hi = int(k0.min()), int(k1.max())
    y_lo, y_hi, x_lo, x_hi = int(r0.min()), int(r1.max()), int(c0.min()), int(c1.max())
    block = dose_gy[z_lo : z_hi + 1, y_lo : y_hi + 1, x_lo : x_hi + 1]
    want_min, want_max = beyond
    if n_rows * n_cols <= _GATHER_CELLS:  # small boxes: gathers for all planes at once
        node_beyond = (block < want_min) | (block > want_max)
        ih, iw = np.arange(n_rows), np.arange(n_cols)
        bw, bp = x_hi - x_lo + 1, (y_hi - y_lo + 1) * (x_hi - x_lo + 1)
        rows = np.minimum(r0[:, None] + ih, r1[:, None]) - y_lo
        cols = np.minimum(c0[:, None] + iw, c1[:, None]) - x_lo
        node = (rows * bw)[:, :, None] + cols[:, None, :]
        flat_beyond = node_beyond.reshape(-1)
        hot = flat_beyond[((k0 - z_lo) * bp)[:, None, None] + node]
        for dk in range(1, int((k1 - k0).max()) + 1):
            hot |= flat_beyond[((np.minimum(k0 + dk, k1) - z_lo) * bp)[:, None, None] + node]
        hot &= (ih[None, :] <= (r1 - r0)[:, None])[:, :, None]  # each plane's own box
        hot &= (iw[None, :] <= (c1 - c0)[:, None])[:, None, :]
        return hot
    # large boxes: contiguous slices, plane by plane
    node_beyond = _nodes_beyond_by_chunks(block, (z_lo, y_lo, x_lo), slabs, k0, k1, beyond)
    hot = np.zeros((slabs.plane.size, n_rows, n_cols), dtype=bool)
    any_of = np.logical_or.reduce  # np.any without its Python wrapper
    for i, (za, zb, ra, rb, ca, cb) in enumerate(
        zip((k0 - z_lo).tolist(), (k1 - z_lo).tolist(), (r0 - y_lo).tolist(),
            (r1 - y_lo).tolist(), (c0 - x_lo).tolist(), (c1 - x_lo).tolist(), strict=True)
    ):
        any_of(
            node_beyond[za : zb + 1, ra : rb + 1, ca : cb + 1],
            axis=0,
            out=hot[i, : rb - ra + 1, : cb - ca + 1],
        )
    return hot


def _nodes_beyond_by_chunks(
    block: np.ndarray,
    origin: tuple[int, int, int],
    slabs: _Slabs,
    k0: np.ndarray,
    k1: np.ndarray,
    beyond: tuple[float, float],
) -> np.ndarray:
    """The nodes of ``block`` (the dose grid from ``origin``) beyond the thresholds, by
    chunks of :data:`_CHUNK_PLANES` dose planes, each compared within the box of the
    planes whose slabs reach it (a chunk's comparisons stay in the cache): the rest of the
    block is never read, and is left True (conservative: a column would only be
    evaluated in vain)."""
    z_lo, y_lo, x_lo = origin
    y_hi, x_hi = y_lo + block.shape[1] - 1, x_lo + block.shape[2] - 1
    want_min, want_max = beyond
    node_beyond = np.ones(block.shape, dtype=bool)
    j0, j1 = (k0 - z_lo) // _CHUNK_PLANES, (k1 - z_lo) // _CHUNK_PLANES
    reach = ragged_ranges(j1 - j0 + 1)  # every chunk each plane's slab reaches
    slab, chunk = reach.group, j0[reach.group] + reach.value
    n_chunks = int(j1.max()) + 1
    top, bottom = np.full(n_chunks, y_hi + 1), np.full(n_chunks, y_lo - 1)
    left, right = np.full(n_chunks, x_hi + 1), np.full(n_chunks, x_lo - 1)
    np.minimum.at(top, chunk, slabs.r0[slab])
    np.maximum.at(bottom, chunk, slabs.r1[slab])
    np.minimum.at(left, chunk, slabs.c0[slab])
    np.maximum.at(right, chunk, slabs.c1[slab])
    for j, (ya, yb, xa, xb) in enumerate(
        zip((top - y_lo).tolist(), (bottom - y_lo).tolist(), (left - x_lo).tolist(),
            (right - x_lo).tolist(), strict=True)
    ):
        if yb >= ya:  # (no slab reaches the dose planes of a gap)
            za = j * _CHUNK_PLANES
            sub = block[za : za + _CHUNK_PLANES, ya : yb + 1, xa : xb + 1]
            out = node_beyond[za : za + _CHUNK_PLANES, ya : yb + 1, xa : xb + 1]
            np.less(sub, want_min, out=out)
            out |= sub > want_max
    return node_beyond


def _hot_cells(hot: np.ndarray) -> np.ndarray:
    """Dose cells that could hold an extreme: a corner node's column is hot (the cell of
    the last row/column is the node's own: edge padding)."""
    hot_cell = hot.copy()
    hot_cell[:, :-1] |= hot[:, 1:]
    hot_cell[:, :, :-1] |= hot_cell[:, :, 1:]
    return hot_cell


def _cell_of(
    xy: np.ndarray, k: np.ndarray, yc: np.ndarray, xc: np.ndarray, slabs: _Slabs
) -> tuple[np.ndarray, np.ndarray]:
    """Cell (row, column) of (x, y) points ``xy`` (mm) of slab k in its box (``yc``, ``xc``:
    the grid's voxel centres, mm)."""
    r0, r1, c0, c1 = slabs.r0[k], slabs.r1[k], slabs.c0[k], slabs.c1[k]
    iy = np.minimum(np.maximum(yc.searchsorted(xy[:, 1], side="right") - 1, r0), r1)
    ix = np.minimum(np.maximum(xc.searchsorted(xy[:, 0], side="right") - 1, c0), c1)
    return iy - r0, ix - c0


class _CellBoxes(NamedTuple):
    """Boxes of cells in a slab's box: rows y0 ≤ row < y1, columns x0 ≤ column < x1."""

    y0: np.ndarray
    y1: np.ndarray
    x0: np.ndarray
    x1: np.ndarray


def _hot_cells_in_boxes(hot_cell: np.ndarray, slab: np.ndarray, boxes: _CellBoxes) -> np.ndarray:
    """The number of hot cells in each box of cells of its ``slab``: cell by cell while the
    boxes hold no more cells than the slabs' boxes, else (long edges across many cells) by
    summed-area tables of the hot cells."""
    n_slabs, n_rows, n_cols = hot_cell.shape
    y0, y1, x0, x1 = boxes
    area = (y1 - y0) * (x1 - x0)
    if int(area.sum()) <= hot_cell.size:
        cells = ragged_ranges(area)
        rect = cells.group
        dy, dx = np.divmod(cells.value, (x1 - x0)[rect])
        at = (slab[rect] * n_rows + y0[rect] + dy) * n_cols + x0[rect] + dx
        return np.bincount(rect[hot_cell.reshape(-1)[at]], minlength=slab.size)
    tables = np.zeros((n_slabs, n_rows + 1, n_cols + 1), dtype=np.int32)
    tables[:, 1:, 1:] = hot_cell.cumsum(axis=1, dtype=np.int32).cumsum(axis=2)
    table = tables.reshape(-1)
    tk, tw = slab * ((n_rows + 1) * (n_cols + 1)), n_cols + 1
    return (
        table[tk + y1 * tw + x1]
        - table[tk + y0 * tw + x1]
        - table[tk + y1 * tw + x0]
        + table[tk + y0 * tw + x0]
    )


def _extremes_by_slab(
    slab: np.ndarray, low: np.ndarray, high: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each of ``n`` slabs' lowest ``low`` and highest ``high`` dose (Gy) over its points
    (±inf: none). The points come in runs of one slab (each kind of point is in slab
    order): each run is reduced at once, then the runs' extremes by slab."""
    mins, maxs = np.full(n, np.inf), np.full(n, -np.inf)
    if slab.size:
        run = np.flatnonzero(np.concatenate(([True], slab[1:] != slab[:-1])))
        np.minimum.at(mins, slab[run], np.minimum.reduceat(low, run))
        np.maximum.at(maxs, slab[run], np.maximum.reduceat(high, run))
    return mins, maxs


class BoundaryExtremes:
    """Minimum and maximum interpolated dose on the boundary of one ROI (see module doc).

    Built once per ROI and dose grid; :meth:`extremes` evaluates the other end cap's
    changed slabs (ends and gaps) with the first call and keeps each cap's result by its
    thresholds, so that the end-cap variant's call with the same thresholds is a look-up.
    """

    def __init__(
        self, planes: list[ContourPlane], dose: DoseGrid, slice_thickness_mm: float | None
    ):
        """``planes``: the ROI's validated contour planes; ``slice_thickness_mm``: the slab
        of single-plane pieces (mm), as for its masks."""
        self.planes = planes
        self.dose = dose
        self.slice_thickness_mm = slice_thickness_mm
        self.zs = np.array([p.z_mm for p in planes])
        self.x_edges, self.y_edges, self.z_edges = (
            voxel_edges(dose.x_mm),
            voxel_edges(dose.y_mm),
            voxel_edges(dose.z_mm),
        )
        self._z_lo, self._z_hi = float(self.z_edges[0]), float(self.z_edges[-1])
        #: the grid lines a wall point may lie on: x (y) of the voxel centres and outer edges
        self._x_lines = np.concatenate(([self.x_edges[0]], dose.x_mm, [self.x_edges[-1]]))
        self._y_lines = np.concatenate(([self.y_edges[0]], dose.y_mm, [self.y_edges[-1]]))
        self._edge_data: SurfaceEdges | None = None
        #: (min, max) of the surface with each end cap, by the cap and the thresholds
        self._found: dict[tuple[str, tuple[float, float]], tuple[float, float]] = {}
        #: the slabs of each end cap (:meth:`_slabs`)
        self._slab_data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    # -- per-ROI geometry (independent of the end cap) -----------------------------------
    def _edges(self) -> SurfaceEdges:
        """The ROI's :func:`~rtcheck.dvhcalc.surface.surface_edges`, built at the first use."""
        if self._edge_data is None:
            self._edge_data = surface_edges(self.planes, self.dose)
        return self._edge_data


    # -- evaluation ------------------------------------------------------------------------
    def _slab_extremes(
        self,
        q: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        below: np.ndarray,
        above: np.ndarray,
        beyond: tuple[float, float],
    ) -> tuple[np.ndarray, np.ndarray]:
        """(min, max) dose on the surface of the slabs [lo, hi] of planes q (±inf: no point).

        ``below``/``above``: the neighbouring plane whose slab continues the structure
        across the bottom/top face (its columns are not exposed), or −1. Only points whose
        dose cell reaches below ``beyond[0]`` (for the min) or above ``beyond[1]`` (for
        the max) are evaluated; the others cannot be extremes.
        """
        out_min, out_max = np.full(q.size, np.inf), np.full(q.size, -np.inf)
        a, b = np.maximum(lo, self._z_lo), np.minimum(hi, self._z_hi)
        live = np.flatnonzero(a <= b)
        if live.size == 0:
            return out_min, out_max
        # batches of planes of similar box sizes (each batch padded to its largest box)
        r0, r1, c0, c1 = self._edges().box[:, q[live]]
        h, w = r1 - r0 + 1, c1 - c0 + 1
        area = h * w
        if int(h.max()) * int(w.max()) * live.size <= 2 * int(area.sum()) + 4096:
            # one batch: no prefix of the planes by decreasing area would split below (the
            # average area of a prefix is at least the average of all)
            batches = [live]
        else:
            order = np.argsort(-area, kind="stable")
            batches, start = [], 0
            h_max = w_max = total = 0
            sizes = zip(h[order].tolist(), w[order].tolist(), strict=True)
            for i, (rows, cols) in enumerate(sizes):
                hb, wb = max(h_max, rows), max(w_max, cols)
                if i > start and hb * wb * (i + 1 - start) > 2 * (total + rows * cols) + 4096:
                    # padding would more than double the work
                    batches.append(live[np.sort(order[start:i])])
                    start, hb, wb, total = i, rows, cols, 0
                h_max, w_max, total = hb, wb, total + rows * cols
            batches.append(live[np.sort(order[start:])])
        for at in batches:
            mins, maxs = self._batch_extremes(
                q[at], a[at], b[at], lo[at], hi[at], below[at], above[at], beyond
            )
            out_min[at], out_max[at] = mins, maxs
        return out_min, out_max

    def _batch_extremes(
        self,
        plane: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        below: np.ndarray,
        above: np.ndarray,
        beyond: tuple[float, float],
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_slab_extremes` of slabs [lo, hi] (mm) clipped to the grid's [a, b] (a <= b).

        A fixed number of numpy calls for all the planes at once, on arrays (planes, rows,
        columns) of every plane's box of dose columns padded to the batch's largest, in
        steps: the *hot* columns (a dose node over the slab beyond the thresholds), the
        slabs without one dropped; the wall points in hot cells and their doses; the
        exposed faces' hot columns and theirs; each slab's extremes. Reductions along a
        short last axis are avoided (np.any over a row, min over a point's heights: tens
        of times slower than the same reduction across rows).
        """
        g = self.dose
        out_min, out_max = np.full(plane.size, np.inf), np.full(plane.size, -np.inf)
        # dose nodes that bound the interpolated dose over the slab and the plane's extent:
        # the grid planes bracketing [a, b] and the columns bracketing the contours
        k0, k1 = bracketing_nodes(g.z_mm, a, b)
        r0, r1, c0, c1 = self._edges().box[:, plane]
        slabs = _Slabs(plane, a, b, lo, hi, below, above, r0, r1, c0, c1)
        hot = _hot_columns(g.dose_gy, slabs, k0, k1, beyond)
        # each plane's first hot column in row-major order (one long reduction per plane:
        # np.any over the short rows is slower) and its row, the first hot row
        flat_hot = hot.reshape(plane.size, -1)
        first_hot = flat_hot.argmax(axis=1)
        kept = np.flatnonzero(flat_hot[np.arange(plane.size), first_hot])
        if kept.size == 0:
            return out_min, out_max  # nothing on these slabs' surfaces can be an extreme
        if kept.size < plane.size:
            hot, first_hot = hot[kept], first_hot[kept]
            slabs = slabs.take(kept)
        walls, wall_slab = self._wall_points(slabs, _hot_cells(hot))
        wall_low, wall_high = self._wall_doses(slabs, walls, wall_slab)
        face_doses, face_slabs = self._face_doses(slabs, hot, first_hot)
        mins, maxs = _extremes_by_slab(
            np.concatenate((wall_slab, *face_slabs)),
            np.concatenate((wall_low, *face_doses)),
            np.concatenate((wall_high, *face_doses)),
            kept.size,
        )
        out_min[kept], out_max[kept] = mins, maxs
        return out_min, out_max

    def _wall_points(
        self, slabs: _Slabs, hot_cell: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The (x, y) wall points (mm) of the slabs that lie in a hot cell and inside the
        grid, and the slab of each: the start and end of every edge through a hot cell (an
        end only where the next edge, which starts there, is not such an edge) and its
        crossings with the grid lines."""
        e = self._edges()
        n_slabs, n_rows, n_cols = hot_cell.shape
        yc, xc = self.dose.y_mm, self.dose.x_mm
        # only edges that pass through a hot cell (any in the box of their cells)
        edges = ragged_ranges(e.count[slabs.plane])
        edge_slab = edges.group
        edge = e.first[slabs.plane][edge_slab] + edges.value
        ea = e.a[edge]
        ya, xa = _cell_of(ea, edge_slab, yc, xc, slabs)
        # an edge ends where the next edge of its contour (in the same plane) starts
        succ = np.arange(edge.size) + (e.nxt[edge] - edge)
        yb, xb = ya[succ], xa[succ]
        cells = _CellBoxes(
            np.minimum(ya, yb), np.maximum(ya, yb) + 1, np.minimum(xa, xb), np.maximum(xa, xb) + 1
        )
        relevant = np.flatnonzero(_hot_cells_in_boxes(hot_cell, edge_slab, cells) > 0)
        ea, edge_slab, edge = ea[relevant], edge_slab[relevant], edge[relevant]
        eb = e.b[edge]
        is_relevant = np.zeros(e.nxt.size, dtype=bool)
        is_relevant[edge] = True
        ends = np.flatnonzero(~is_relevant[e.nxt[edge]])
        xp, xs = segment_line_crossings(ea, eb, self._x_lines, 0)
        yp, ys = segment_line_crossings(ea, eb, self._y_lines, 1)
        walls = np.concatenate((ea, eb[ends], xp, yp))
        wall_slab = np.concatenate((edge_slab, edge_slab[ends], edge_slab[xs], edge_slab[ys]))
        x, y = walls[:, 0], walls[:, 1]
        ok = (x >= self.x_edges[0]) & (x <= self.x_edges[-1])
        ok &= (y >= self.y_edges[0]) & (y <= self.y_edges[-1])
        walls, wall_slab = walls[ok], wall_slab[ok]
        iy, ix = _cell_of(walls, wall_slab, yc, xc, slabs)
        ok = hot_cell.reshape(-1)[(wall_slab * n_rows + iy) * n_cols + ix]
        return walls[ok], wall_slab[ok]

    def _wall_doses(
        self, slabs: _Slabs, walls: np.ndarray, wall_slab: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The lowest and highest dose (Gy) of each wall point over its slab's heights: the
        slab's ends, the grid planes inside it and the contour's own plane (each height
        once); the dose is linear in z between them."""
        zc, a, b = self.dose.z_mm, slabs.a, slabs.b
        z_own = self.zs[slabs.plane]
        inner0 = zc.searchsorted(a, side="right")
        inner = np.maximum(zc.searchsorted(b, side="left") - inner0, 0)
        on_grid = zc[np.minimum(zc.searchsorted(z_own), zc.size - 1)] == z_own
        own = (a < z_own) & (z_own < b) & ~on_grid
        top = b > a
        n_heights = 1 + top + own + inner
        at = ragged_ranges(n_heights)  # each slab's heights: bottom, top, own, inner planes
        slab, nth = at.group, at.value
        j = nth - 1 - top[slab] - own[slab]
        heights = np.where(
            nth == 0,
            a[slab],
            np.where(
                top[slab] & (nth == 1),
                b[slab],
                np.where(j < 0, z_own[slab], zc[np.minimum(inner0[slab] + j, zc.size - 1)]),
            ),
        )
        d_walls = trilinear_columns(
            self.dose.dose_gy,
            fractional_index(zc, heights),
            at.first,
            n_heights,
            fractional_index(self.dose.y_mm, walls[:, 1]),
            fractional_index(self.dose.x_mm, walls[:, 0]),
            wall_slab,
        )
        return d_walls.min(axis=1), d_walls.max(axis=1)

    def _face_doses(
        self, slabs: _Slabs, hot: np.ndarray, first_hot: np.ndarray
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Doses (Gy) at the hot grid columns of the exposed faces (bottom at a, top at b)
        and the slab of each: the columns inside the contours at the slab's ends not
        covered by the neighbouring slab (the scanline fill of the window of the plane's
        hot columns: its row parity counts from the window's first row)."""
        g = self.dose
        zc, ny, nx = g.z_mm, g.y_mm.size, g.x_mm.size
        n_kept, n_rows, n_cols = hot.shape
        r0, r1, c0, c1 = slabs.r0, slabs.r1, slabs.c0, slabs.c1
        apply_b = (slabs.below >= 0) & ~(slabs.a > slabs.lo)
        apply_t = (slabs.above >= 0) & ~(slabs.b < slabs.hi)
        sources = np.concatenate(
            (slabs.plane, np.where(apply_b, slabs.below, -1), np.where(apply_t, slabs.above, -1))
        )
        three = np.arange(3 * n_kept) % n_kept
        h, w = r1 - r0 + 1, c1 - c0 + 1
        row0 = r0 + first_hot // n_cols
        exposed = exposed_columns(
            self._edges(),
            sources, r0[three], c0[three], h[three], w[three], row0[three], (n_rows, n_cols)
        )
        # A face point is a grid column (integer y and x indices): trilinear's bilinear
        # part there is the node's own value exactly (weights 1 and 0, finite doses), so
        # its dose is the two dose planes' values weighted along z — trilinear's
        # arithmetic bit for bit, with 2 gathers instead of 8.
        flat = g.dose_gy.reshape(-1)
        corner = r0 * nx + c0
        z0, fz, _ = axis_cells(fractional_index(zc, np.concatenate((slabs.a, slabs.b))), zc.size)
        layer0, gz = z0 * (ny * nx), 1 - fz
        upper = flat[min(zc.size - 1, 1) * (ny * nx) :]  # the next plane's node (if any)
        doses, slab_of = [], []
        for end, (fk, fr, fc) in enumerate(exposed):  # bottom (at a), top (at b)
            hot_face = hot.reshape(-1)[(fk * n_rows + fr) * n_cols + fc]
            k = fk[hot_face]
            at = k + end * n_kept
            node = layer0[at] + corner[k] + fr[hot_face] * nx + fc[hot_face]
            doses.append(flat[node] * gz[at] + upper[node] * fz[at])
            slab_of.append(k)
        return doses, slab_of

    def extremes(
        self, end_cap: str, beyond: tuple[float, float] | None = None
    ) -> tuple[float | None, float | None]:
        """(min, max) dose (Gy) on the ROI's surface with ``end_cap``.

        With ``beyond`` = (low, high) (the doses the DVH samples already reach), the min is
        reported only when it is below low and the max only when above high (else None),
        and only the points that could be are evaluated; without, both whenever a surface
        point lies inside the dose grid. Points outside the dose grid are not counted.
        """
        want = (np.inf, -np.inf) if beyond is None else (float(beyond[0]), float(beyond[1]))
        found = self._found.get((end_cap, want))
        if found is None:
            caps = (end_cap, *(c for c in END_CAPS if c != end_cap))
            slabs = [self._slabs(cap) for cap in caps]
            n = len(self.planes)
            if n == 0:
                return None, None
            if self._nothing_beyond(slabs, want):
                for cap in caps:
                    self._found[cap, want] = (np.inf, -np.inf)
                return None, None
            # The DVH asks for both end caps with the same ``beyond`` (its main DVH and the
            # end-cap variant), and the caps differ only in the slabs at the ends and gaps:
            # the other cap's changed slabs are evaluated in the same batch (each batch
            # costs some 150 numpy calls besides its data), so that its call is a look-up.
            # Evaluated: the first cap's slabs, then each other cap's that differ from the
            # same plane's slab with every cap before it; ``at``: each cap's slabs among them.
            planes, at = [np.arange(n)], [np.arange(n)]
            for i, (lo, hi, below, above) in enumerate(slabs[1:], start=1):
                where = np.full(n, -1)
                for j in range(i):
                    lo_j, hi_j, below_j, above_j = slabs[j]
                    same = (lo == lo_j) & (hi == hi_j) & (below == below_j) & (above == above_j)
                    where = np.where((where < 0) & same, at[j], where)
                new = np.flatnonzero(where < 0)
                where[new] = sum(p.size for p in planes) + np.arange(new.size)
                planes.append(new)
                at.append(where)
            lo, hi, below, above = (
                np.concatenate([field[p] for field, p in zip(cap_fields, planes, strict=True)])
                for cap_fields in zip(*slabs, strict=True)
            )
            mins, maxs = self._slab_extremes(np.concatenate(planes), lo, hi, below, above, want)
            for cap, where in zip(caps, at, strict=True):
                self._found[cap, want] = (float(mins[where].min()), float(maxs[where].max()))
            found = self._found[end_cap, want]
        dmin, dmax = found
        return (dmin if dmin < want[0] else None, dmax if dmax > want[1] else None)

    def _nothing_beyond(
        self,
        slabs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
        want: tuple[float, float],
    ) -> bool:
        """True when no dose node of the grid planes that any of the ``slabs`` reach lies
        beyond ``want``: the interpolated dose on the surface (between those nodes) cannot
        either, and nothing needs evaluating (a body contour: its samples reach the whole
        grid's dose range)."""
        if not (np.isfinite(want[0]) and np.isfinite(want[1])):
            return False
        z_lo = min(float(lo.min()) for lo, *_ in slabs)
        z_hi = max(float(hi.max()) for _, hi, *_ in slabs)
        k0, k1 = (int(k) for k in bracketing_nodes(self.dose.z_mm, z_lo, z_hi))
        if k1 < k0:
            return False
        plane_min, plane_max = self.dose.plane_dose_range
        return bool(
            want[0] <= plane_min[k0 : k1 + 1].min() and plane_max[k0 : k1 + 1].max() <= want[1]
        )

    def _slabs(self, end_cap: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(lo, hi, below, above) of the slab of every plane with ``end_cap`` (see
        :meth:`_slab_extremes`): what a slab's surface extremes depend on besides its plane
        and the thresholds."""
        slabs = self._slab_data.get(end_cap)
        if slabs is None:
            lo, hi = slab_bounds(self.zs, end_cap, self.slice_thickness_mm)  # type: ignore[arg-type]
            n = len(self.planes)
            below, above = np.full(n, -1), np.full(n, -1)
            touch = np.abs(hi[:-1] - lo[1:]) < _SAME_HEIGHT_MM
            below[1:] = np.where(touch, np.arange(n - 1), -1)
            above[:-1] = np.where(touch, np.arange(1, n), -1)
            slabs = self._slab_data[end_cap] = (lo, hi, below, above)
        return slabs
