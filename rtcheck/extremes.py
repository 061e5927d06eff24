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
        self._walls: dict[int, tuple[np.ndarray, np.ndarray]] = {}
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
        xl = np.concatenate(([self.x_edges[0]], self.dose.x_mm, [self.x_edges[-1]]))
        yl = np.concatenate(([self.y_edges[0]], self.dose.y_mm, [self.y_edges[-1]]))
        pts = np.concatenate((a, b, _line_crossings(a, b, xl, 0), _line_crossings(a, b, yl, 1)))
        return self._in_grid_xy(pts)

    # -- evaluation ------------------------------------------------------------------------
    def _dose_at(self, z: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """Interpolated dose at every (z, x, y) of heights z × in-plane points xy."""
        if z.size == 0 or len(xy) == 0:
            return np.zeros(0)
        g = self.dose
        zi = _fractional_index(g.z_mm, z)
        yi = _fractional_index(g.y_mm, xy[:, 1])
        xi = _fractional_index(g.x_mm, xy[:, 0])
        idx = np.empty((z.size, len(xy), 3))
        idx[:, :, 0] = zi[:, None]
        idx[:, :, 1] = yi[None, :]
        idx[:, :, 2] = xi[None, :]
        return trilinear(g.dose_gy, idx.reshape(-1, 3))

    def _plane_extremes(
        self,
        p: int,
        lo: float,
        hi: float,
        bottom_cover: int | None,
        top_cover: int | None,
        beyond: tuple[float, float],
    ) -> tuple[float, float]:
        """(min, max) dose on the surface of plane p's slab [lo, hi] (inf, −inf if none).

        ``bottom_cover``/``top_cover``: the neighbouring plane whose slab continues the
        structure across the bottom/top face (its columns are not exposed), or None. Only
        points whose dose cell reaches below ``beyond[0]`` (for the min) or above
        ``beyond[1]`` (for the max) are evaluated; the others cannot be extremes.
        """
        key = (p, lo, hi, bottom_cover, top_cover, beyond)
        if key in self._cache:
            return self._cache[key]
        self._cache[key] = result = self._evaluate_plane(p, lo, hi, bottom_cover, top_cover, beyond)
        return result

    def _evaluate_plane(self, p, lo, hi, bottom_cover, top_cover, beyond) -> tuple[float, float]:
        none = (np.inf, -np.inf)
        g = self.dose
        a, b = max(lo, float(self.z_edges[0])), min(hi, float(self.z_edges[-1]))
        if a > b:
            return none
        # dose nodes that bound the interpolated dose over the slab and the plane's extent:
        # the grid planes bracketing [a, b] and the columns bracketing the contours
        zc, yc, xc = g.z_mm, g.y_mm, g.x_mm
        k0 = max(int(np.searchsorted(zc, a, side="right")) - 1, 0)
        k1 = min(int(np.searchsorted(zc, b, side="left")), zc.size - 1)
        pts = np.concatenate(self.planes[p].polygons)
        c0 = max(int(np.searchsorted(xc, pts[:, 0].min(), side="right")) - 1, 0)
        c1 = min(int(np.searchsorted(xc, pts[:, 0].max(), side="left")), xc.size - 1)
        r0 = max(int(np.searchsorted(yc, pts[:, 1].min(), side="right")) - 1, 0)
        r1 = min(int(np.searchsorted(yc, pts[:, 1].max(), side="left")), yc.size - 1)
        box = g.dose_gy[k0 : k1 + 1, r0 : r1 + 1, c0 : c1 + 1]
        if box.size == 0:
            return none
        col_max, col_min = box.max(axis=0), box.min(axis=0)
        want_min, want_max = beyond
        if col_max.max() <= want_max and col_min.min() >= want_min:
            return none  # nothing on this slab's surface can be an extreme

        # dose cells that could hold an extreme (a corner node beyond the thresholds)
        hot = (col_min < want_min) | (col_max > want_max)
        pad = np.pad(hot, ((0, 1), (0, 1)), mode="edge")
        hot_cell = pad[:-1, :-1] | pad[1:, :-1] | pad[:-1, 1:] | pad[1:, 1:]
        table = np.zeros((hot.shape[0] + 1, hot.shape[1] + 1), dtype=np.intp)
        table[1:, 1:] = hot_cell.cumsum(axis=0).cumsum(axis=1)

        def cell_of(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            iy = np.clip(np.searchsorted(yc, xy[:, 1], side="right") - 1, r0, r1) - r0
            ix = np.clip(np.searchsorted(xc, xy[:, 0], side="right") - 1, c0, c1) - c0
            return iy, ix

        dmin, dmax = none
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
            heights = [a, b, zc[(zc > a) & (zc < b)]]
            if a <= self.zs[p] <= b:
                heights.append(self.zs[p])
            d = self._dose_at(np.unique(np.hstack(heights)), walls)
            if d.size:
                dmin, dmax = float(d.min()), float(d.max())
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
                    d = self._dose_at(np.array([height]), xy)
                    dmin, dmax = min(dmin, float(d.min())), max(dmax, float(d.max()))
        return dmin, dmax

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
        dmin, dmax = np.inf, -np.inf
        for p in range(n):
            below = p - 1 if p > 0 and abs(hi[p - 1] - lo[p]) < _SAME_HEIGHT_MM else None
            above = p + 1 if p < n - 1 and abs(lo[p + 1] - hi[p]) < _SAME_HEIGHT_MM else None
            a, b = self._plane_extremes(p, float(lo[p]), float(hi[p]), below, above, want)
            dmin, dmax = min(dmin, a), max(dmax, b)
        return (
            float(dmin) if dmin < want[0] else None,
            float(dmax) if dmax > want[1] else None,
        )
