"""Point dose extremes of a contoured structure on its boundary.

The DVH's sub-samples lie *inside* the structure (the outermost ones a third of a voxel
from the boundary at supersampling 3), so the extreme sample doses are biased toward the
interior: in a dose gradient the point maximum and minimum of the structure — which lie on
its boundary — were underestimated (resp. overestimated) by about half a sub-sample spacing
× the gradient. That error is not conservative for a maximum-dose constraint.

:class:`BoundaryExtremes` evaluates the dose (trilinear interpolation, as the DVH samples
are evaluated, clamped to the outermost voxel centres) at points of the structure's surface
as the DVH layer defines it (:mod:`rtcheck.geometry`: each contour plane a slab between
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

import numpy as np

from rtcheck.geometry import (
    ContourPlane,
    _fractional_index,
    _next,
    rasterise_plane,
    slab_bounds,
    trilinear,
    voxel_edges,
)
from rtcheck.models import DoseGrid

#: Slab limits closer than this are the same height (mm).
_SAME_HEIGHT_MM = 1e-6


def _line_crossings(p: np.ndarray, q: np.ndarray, lines: np.ndarray, axis: int) -> np.ndarray:
    """(x, y) points where segments p→q cross the lines coord[axis] = lines (sorted)."""
    a, b = p[:, axis], q[:, axis]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    i0 = np.searchsorted(lines, lo, side="left")  # lines with lo <= line <= hi
    i1 = np.searchsorted(lines, hi, side="right")
    counts = np.where(hi > lo, i1 - i0, 0)
    total = int(counts.sum())
    if total == 0:
        return np.zeros((0, 2))
    seg = np.repeat(np.arange(len(p)), counts)
    first = np.cumsum(counts) - counts
    at = lines[i0[seg] + (np.arange(total) - first[seg])]
    t = (at - a[seg]) / (b[seg] - a[seg])
    return p[seg] + t[:, None] * (q[seg] - p[seg])


class BoundaryExtremes:
    """Minimum and maximum interpolated dose on the boundary of one ROI (see module doc).

    Built once per ROI and dose grid; :meth:`extremes` for an end-cap convention reuses the
    per-plane work, so that the end-cap variant costs only its changed end slabs.
    """

    def __init__(
        self, planes: list[ContourPlane], dose: DoseGrid, slice_thickness_mm: float | None
    ):
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
        self._walls: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._boxes: dict[int, tuple[int, int, int, int]] = {}
        self._cache: dict[tuple, tuple[float, float]] = {}

    # -- per-plane geometry (independent of the end cap) ---------------------------------
    def _edges(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and end points (x, y) of every contour edge of plane p."""
        if p not in self._walls:
            polys = self.planes[p].polygons
            self._walls[p] = (
                np.concatenate(polys),
                np.concatenate([_next(poly) for poly in polys]),
            )
        return self._walls[p]

    def _in_grid_xy(self, pts: np.ndarray) -> np.ndarray:
        x, y = pts[:, 0], pts[:, 1]
        ok = (x >= self.x_edges[0]) & (x <= self.x_edges[-1])
        ok &= (y >= self.y_edges[0]) & (y <= self.y_edges[-1])
        return pts[ok]

    def _wall_points(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Edge start points and edge crossings with the grid lines, inside the grid."""
        xl, yl = self._x_lines, self._y_lines
        pts = np.concatenate((a, b, _line_crossings(a, b, xl, 0), _line_crossings(a, b, yl, 1)))
        return self._in_grid_xy(pts)

    # -- evaluation ------------------------------------------------------------------------
    def _plane_points(
        self,
        p: int,
        lo: float,
        hi: float,
        bottom_cover: int | None,
        top_cover: int | None,
        beyond: tuple[float, float],
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The surface points of plane p's slab [lo, hi] to evaluate, as (heights z, points
        xy) pairs, each meaning every (z, x, y) of z × xy (none: nothing to evaluate).

        ``bottom_cover``/``top_cover``: the neighbouring plane whose slab continues the
        structure across the bottom/top face (its columns are not exposed), or None. Only
        points whose dose cell reaches below ``beyond[0]`` (for the min) or above
        ``beyond[1]`` (for the max) are kept; the others cannot be extremes.
        """
        g = self.dose
        a, b = max(lo, self._z_lo), min(hi, self._z_hi)
        if a > b:
            return []
        # dose nodes that bound the interpolated dose over the slab and the plane's extent:
        # the grid planes bracketing [a, b] and the columns bracketing the contours
        zc, yc, xc = g.z_mm, g.y_mm, g.x_mm
        k0 = max(int(zc.searchsorted(a, side="right")) - 1, 0)
        k1 = min(int(zc.searchsorted(b, side="left")), zc.size - 1)
        r0, r1, c0, c1 = self._columns(p)
        box = g.dose_gy[k0 : k1 + 1, r0 : r1 + 1, c0 : c1 + 1]
        if box.size == 0:
            return []
        col_max, col_min = box.max(axis=0), box.min(axis=0)
        want_min, want_max = beyond
        if col_max.max() <= want_max and col_min.min() >= want_min:
            return []  # nothing on this slab's surface can be an extreme

        # dose cells that could hold an extreme (a corner node beyond the thresholds); the
        # cell of the last row/column is the node's own (edge padding)
        hot = (col_min < want_min) | (col_max > want_max)
        rows_or = hot.copy()
        rows_or[:-1] |= hot[1:]
        hot_cell = rows_or.copy()
        hot_cell[:, :-1] |= rows_or[:, 1:]
        table = np.zeros((hot.shape[0] + 1, hot.shape[1] + 1), dtype=np.intp)
        table[1:, 1:] = hot_cell.cumsum(axis=0).cumsum(axis=1)

        def cell_of(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            iy = np.minimum(np.maximum(yc.searchsorted(xy[:, 1], side="right") - 1, r0), r1)
            ix = np.minimum(np.maximum(xc.searchsorted(xy[:, 0], side="right") - 1, c0), c1)
            return iy - r0, ix - c0

        jobs: list[tuple[np.ndarray, np.ndarray]] = []
        # walls: only edges that pass through a hot cell (summed-area table of their cells)
        ea, eb = self._edges(p)
        ya, xa = cell_of(ea)
        yb, xb = cell_of(eb)
        y0, y1 = np.minimum(ya, yb), np.maximum(ya, yb) + 1
        x0, x1 = np.minimum(xa, xb), np.maximum(xa, xb) + 1
        relevant = (table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]) > 0
        if relevant.any():
            walls = self._wall_points(ea[relevant], eb[relevant])
            iy, ix = cell_of(walls)
            walls = walls[hot_cell[iy, ix]]
            if len(walls):
                heights: list = [a, b, zc[(zc > a) & (zc < b)]]
                if a <= self.zs[p] <= b:
                    heights.append(self.zs[p])
                jobs.append((np.unique(np.hstack(heights)), walls))
        # exposed faces: the hot grid columns inside the contours at the slab's ends
        if hot.any():
            rows, cols = np.nonzero(hot)
            wy0, wy1, wx0, wx1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            xs, ys = xc[c0 + wx0 : c0 + wx1], yc[r0 + wy0 : r0 + wy1]
            inside = rasterise_plane(self.planes[p].polygons, xs, ys) & hot[wy0:wy1, wx0:wx1]
            for height, cover, clipped in ((a, bottom_cover, a > lo), (b, top_cover, b < hi)):
                face = inside
                if cover is not None and not clipped and face.any():
                    face = face & ~rasterise_plane(self.planes[cover].polygons, xs, ys)
                jy, jx = np.nonzero(face)
                if jy.size:
                    xy = np.stack((xs[jx], ys[jy]), axis=1)
                    jobs.append((np.array([height]), xy))
        return jobs

    def _columns(self, p: int) -> tuple[int, int, int, int]:
        """Rows r0..r1 and columns c0..c1 of the dose nodes bracketing plane p's contours."""
        if p not in self._boxes:
            pts = self._edges(p)[0]
            xc, yc = self.dose.x_mm, self.dose.y_mm
            self._boxes[p] = (
                max(int(yc.searchsorted(pts[:, 1].min(), side="right")) - 1, 0),
                min(int(yc.searchsorted(pts[:, 1].max(), side="left")), yc.size - 1),
                max(int(xc.searchsorted(pts[:, 0].min(), side="right")) - 1, 0),
                min(int(xc.searchsorted(pts[:, 0].max(), side="left")), xc.size - 1),
            )
        return self._boxes[p]

    def _evaluate_jobs(self, jobs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """(min, max) dose of each (heights, points) job (rows), all in one interpolation."""
        g = self.dose
        zi = _fractional_index(g.z_mm, np.concatenate([z for z, _ in jobs]))
        xy = np.concatenate([pts for _, pts in jobs])
        yi = _fractional_index(g.y_mm, xy[:, 1])
        xi = _fractional_index(g.x_mm, xy[:, 0])
        sizes = [z.size * len(pts) for z, pts in jobs]
        idx = np.empty((sum(sizes), 3))
        at = zo = po = 0
        for (z, pts), size in zip(jobs, sizes, strict=True):
            block = idx[at : at + size].reshape(z.size, len(pts), 3)
            block[:, :, 0] = zi[zo : zo + z.size, None]
            block[:, :, 1] = yi[None, po : po + len(pts)]
            block[:, :, 2] = xi[None, po : po + len(pts)]
            at, zo, po = at + size, zo + z.size, po + len(pts)
        d = trilinear(g.dose_gy, idx)
        starts = np.cumsum([0, *sizes[:-1]])
        return np.stack((np.minimum.reduceat(d, starts), np.maximum.reduceat(d, starts)), axis=1)

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
        lo, hi = slab_bounds(self.zs, end_cap, self.slice_thickness_mm)  # type: ignore[arg-type]
        n = len(self.planes)
        # Hot path (cProfile, phantoms): per-plane Python/numpy-call overhead on tiny arrays,
        # so the points of every plane not yet cached are interpolated in one batch.
        found: list[tuple[float, float]] = []
        pending: list[tuple[tuple, list[tuple[np.ndarray, np.ndarray]]]] = []
        for p in range(n):
            below = p - 1 if p > 0 and abs(hi[p - 1] - lo[p]) < _SAME_HEIGHT_MM else None
            above = p + 1 if p < n - 1 and abs(lo[p + 1] - hi[p]) < _SAME_HEIGHT_MM else None
            key = (p, float(lo[p]), float(hi[p]), below, above, want)
            if key in self._cache:
                found.append(self._cache[key])
                continue
            jobs = self._plane_points(*key)
            if jobs:
                pending.append((key, jobs))
            else:
                self._cache[key] = (np.inf, -np.inf)
        if pending:
            ext = self._evaluate_jobs([job for _, jobs in pending for job in jobs]).tolist()
            at = 0
            for key, jobs in pending:
                lo_hi = ext[at : at + len(jobs)]
                at += len(jobs)
                self._cache[key] = result = (
                    min(mn for mn, _ in lo_hi),
                    max(mx for _, mx in lo_hi),
                )
                found.append(result)
        dmin = min((mn for mn, _ in found), default=np.inf)
        dmax = max((mx for _, mx in found), default=-np.inf)
        return (
            float(dmin) if dmin < want[0] else None,
            float(dmax) if dmax > want[1] else None,
        )
