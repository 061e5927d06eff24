"""The surface of an ROI's slabs as the surface extremes need it: contour edges (the
slabs' walls) and the grid columns of the slabs' exposed faces.

:class:`SurfaceEdges` holds what depends on the contours and the dose grid alone (built
once per ROI by :func:`surface_edges`): the edges, each plane's box of bracketing dose
nodes, and every crossing of an edge with a grid row as the scanline fill finds it, so
that :func:`exposed_columns` lists the columns inside a plane's contours exactly as
:func:`rtcheck.dvhcalc.scanline.rasterise_plane` would fill them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtcheck.models import DoseGrid

from .planes import ContourPlane
from .polygons import next_points, plane_bounds, ragged_ranges, successor_index
from .sampling import bracketing_nodes


@dataclass(frozen=True)
class SurfaceEdges:
    """Every contour edge of an ROI (all planes laid end to end) and what depends on it and
    the dose grid alone."""

    a: np.ndarray  #: (E, 2) edge start points (x, y), plane by plane
    b: np.ndarray  #: (E, 2) edge end points
    nxt: np.ndarray  #: the next edge of each edge's contour (which starts at its end)
    first: np.ndarray  #: index of each plane's first edge
    count: np.ndarray  #: number of edges of each plane
    box: np.ndarray  #: (4, planes) rows r0, r1 and columns c0, c1 of the bracketing nodes
    #: every crossing of a contour edge with a grid row (y of a voxel centre), as the
    #: scanline fill finds them (:func:`rtcheck.dvhcalc.scanline.rasterise_plane`: the edges that are not
    #: horizontal, half-open in y), plane by plane, each plane's in order of row, then
    #: column: the row, the first column at or right of the crossing, whether the crossing
    #: lies on that column's x (a tie), and each plane's first crossing and their number
    cross_row: np.ndarray
    cross_col: np.ndarray
    cross_tie: np.ndarray
    cross_first: np.ndarray
    cross_count: np.ndarray


def surface_edges(planes: list[ContourPlane], dose: DoseGrid) -> SurfaceEdges:
    """Every contour edge of an ROI's ``planes`` with what depends on it and the dose grid
    alone (not on the end cap or the thresholds): computed once per ROI."""
    polys = [poly for plane in planes for poly in plane.polygons]
    sizes = np.array([len(poly) for poly in polys])
    a = np.concatenate(polys).astype(float, copy=False)
    nxt = successor_index(sizes)  # each polygon's last vertex joins its first
    b = next_points(a, sizes)  # a[nxt], by copies (cheaper than the gather)
    count = np.array([sum(len(poly) for poly in plane.polygons) for plane in planes])
    first = np.cumsum(count) - count
    plane = np.repeat(np.arange(count.size), count)
    g = dose
    xc, yc = g.x_mm, g.y_mm
    xs, ys = a[:, 0].copy(), a[:, 1].copy()
    bounds = plane_bounds(a, first)
    box = np.stack(
        (
            *bracketing_nodes(yc, bounds.y_min, bounds.y_max),
            *bracketing_nodes(xc, bounds.x_min, bounds.x_max),
        )
    )
    # the scanline fill's crossings (rtcheck.dvhcalc.scanline._crossings): the edges that are
    # not horizontal, from their lower end, cross the rows y1 <= y < y2 (one binary
    # search per vertex serves both ends; only the edges that cross a row are taken,
    # a horizontal edge crosses none)
    first_row = yc.searchsorted(ys, side="left")
    crossing = np.flatnonzero(first_row != first_row[nxt])
    succ = nxt[crossing]
    up = ys[crossing] < ys[succ]
    lower, upper = np.where(up, crossing, succ), np.where(up, succ, crossing)
    rlo = first_row[lower]
    rows = ragged_ranges(first_row[upper] - rlo)
    at = rows.group
    row = rlo[at] + rows.value
    lower, upper = lower[at], upper[at]
    x1, y1 = xs[lower], ys[lower]
    x_cross = x1 + (yc[row] - y1) * (xs[upper] - x1) / (ys[upper] - y1)
    col = xc.searchsorted(x_cross, side="left")
    tie = xc[np.minimum(col, xc.size - 1)] == x_cross
    # plane by plane, row by row, column by column (the crossings come edge by edge, each
    # edge's rows in order: runs the stable sort merges)
    plane = plane[lower]
    order = np.argsort(
        ((plane * yc.size + row) * (xc.size + 1) + col) * 2 + tie, kind="stable"
    )
    cross_count = np.bincount(plane, minlength=count.size)
    return SurfaceEdges(
        a=a,
        b=b,
        nxt=nxt,
        first=first,
        count=count,
        box=box,
        cross_row=row[order],
        cross_col=col[order],
        cross_tie=tie[order],
        cross_first=np.cumsum(cross_count) - cross_count,
        cross_count=cross_count,
    )


def exposed_columns(
    e: SurfaceEdges,
    source: np.ndarray,
    r0: np.ndarray,
    c0: np.ndarray,
    h: np.ndarray,
    w: np.ndarray,
    row0: np.ndarray,
    shape: tuple[int, int],
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The exposed faces' grid columns of n slabs (``e``: the ROI's :func:`surface_edges`): ``source`` = (planes, planes below,
    planes above) (3n; −1: none), each slab's window the grid rows r0..r0+h−1 and columns
    c0..c0+w−1 (of the first n entries; ``shape``: the largest window).

    For the bottom (top) face: the (slab, row, column) of every column of the window
    inside the contours of the slab's plane and not inside those of the plane below
    (above), row and column counted from the window's top left corner; each plane's
    inside exactly as :func:`rtcheck.dvhcalc.scanline.rasterise_plane` finds it with its rows'
    parity counted from row ``row0`` (the same crossings, its tie rule).

    The crossings in a row toggle the parity from their column on. Merged in order, the
    plane's crossings (bit 1) and the neighbour's (bit 2) toggle a two-bit state; the
    runs between crossings in state 1 are the exposed columns. Only those columns are
    listed — no masks of whole windows (the exposed ring between two similar contours
    is a small part of the window).
    """
    n = source.size // 3
    n_rows, n_cols = shape
    # every crossing of a source plane's edges with a row of the window
    crossing = ragged_ranges(np.where(source >= 0, e.cross_count[source], 0))
    own = crossing.group
    at = e.cross_first[source][own] + crossing.value
    row = e.cross_row[at]
    top = r0[own]
    inside = np.flatnonzero((row >= top) & (row < top + h[own]))
    own, at, row, top = own[inside], at[inside], row[inside], top[inside]
    col = e.cross_col[at] + (e.cross_tie[at] & (row - row0[own]))  # a tie on an odd row
    col = np.minimum(np.maximum(col - c0[own], 0), w[own])
    width = n_cols + 1  # column n_cols: toggles right of every column
    # the parts (0: the plane, 1: below, 2: above) come one after the other
    slab = (np.arange(3 * n) % n)[own]
    # position in the windows laid end to end, times 4, plus the crossing's state bit
    # (1: the plane's, 2: the neighbour's); every row has an even number of crossings of
    # each plane, so the state is 0 at every row's end and runs never carry over
    code = ((slab * n_rows + row - top) * width + col) * 4 + 1 + (own >= n)
    # each part's crossings come in order (slab by slab, each plane's crossings sorted
    # by row and column; the clamp and the tie shift keep the order), and a plane's and
    # its neighbour's are merged: the stable sort (timsort) merges the two runs in linear
    # time
    i1, i2 = own.searchsorted([n, 2 * n]).tolist()
    plane_code, below_code, above_code = code[:i1], code[i1:i2], code[i2:]
    faces = []
    for neighbour in (below_code, above_code):
        merged = np.sort(np.concatenate((plane_code, neighbour)), kind="stable")
        key, state = merged >> 2, np.bitwise_xor.accumulate(merged & 3)
        run = np.flatnonzero(state[:-1] == 1)
        start = key[run]
        columns = ragged_ranges(key[run + 1] - start)
        slab_of, in_window = np.divmod(start[columns.group] + columns.value, n_rows * width)
        faces.append((slab_of, *np.divmod(in_window, width)))
    return faces
