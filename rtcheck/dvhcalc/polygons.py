"""Polygons laid end to end: areas, clipping, point-in-polygon tests and nesting.

The contours of an ROI are kept as (N, 2) arrays of (x, y) mm; to test many of them at
once their points are laid end to end (:func:`ragged_ranges`, :func:`next_points`), and
the numpy calls run over all polygons together. The even-odd rule throughout: a point is
inside a polygon set when an odd number of its polygons contain it (a contour inside
another is a hole), and a point exactly on an edge is decided as the scanline fill of
:mod:`rtcheck.dvhcalc.scanline` decides it (each edge taken from its lower end), so that
contours sharing an edge count such a point once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


def _next(points: np.ndarray) -> np.ndarray:
    """The polygon's vertices shifted by one (cheaper than np.roll for small arrays)."""
    return np.concatenate((points[1:], points[:1]))


class RaggedRanges(NamedTuple):
    """Ranges of integers laid end to end (see :func:`ragged_ranges`)."""

    #: for each element, the range (group) it belongs to
    group: np.ndarray
    #: for each element, its position in its range, plus the range's ``base`` when given
    value: np.ndarray
    #: for each range, the index of its first element
    first: np.ndarray


def ragged_ranges(counts: np.ndarray, base: np.ndarray | None = None) -> RaggedRanges:
    """Ranges of ``counts`` integers each laid end to end: each element's range and its
    position in it (plus its range's ``base``, when given: the offset is folded in per
    range, before the expansion, so ``value`` is ``base[g], base[g] + 1, …`` for range g),
    and each range's first element. The vectorised form of
    ``[(g, base[g] + i) for g in ranges for i in range(counts[g])]``."""
    counts = np.asarray(counts)
    starts = np.cumsum(counts) - counts
    owner = np.repeat(np.arange(counts.size), counts)
    shift = -starts if base is None else base - starts
    return RaggedRanges(owner, np.arange(owner.size) + np.repeat(shift, counts), starts)


def successor_index(sizes: np.ndarray | Sequence[int]) -> np.ndarray:
    """For polygons of ``sizes`` points laid end to end: the index of each point's
    successor in its polygon (each polygon's last point is followed by its first)."""
    sizes = np.asarray(sizes, dtype=np.intp)
    ends = np.cumsum(sizes)
    nxt = np.arange(1, int(ends[-1]) + 1) if ends.size else np.zeros(0, dtype=np.intp)
    nxt[ends[sizes > 0] - 1] = (ends - sizes)[sizes > 0]
    return nxt


def next_points(points: np.ndarray, sizes: np.ndarray | Sequence[int]) -> np.ndarray:
    """For polygons of ``sizes`` points laid end to end (``points``: the points, or any
    values per point): each point's successor in its polygon (each polygon's last point is
    followed by its first), i.e. ``points[successor_index(sizes)]`` by two copies
    instead of a gather."""
    sizes = np.asarray(sizes, dtype=np.intp)
    nxt = np.empty_like(points)
    if len(points):
        nxt[:-1] = points[1:]
        ends = np.cumsum(sizes)[sizes > 0]
        nxt[ends - 1] = points[ends - sizes[sizes > 0]]
    return nxt


class PlaneBounds(NamedTuple):
    """The extent (mm) of each plane's points: one array per bound, one entry per plane."""

    x_min: np.ndarray
    x_max: np.ndarray
    y_min: np.ndarray
    y_max: np.ndarray


def plane_bounds(points: np.ndarray, starts: np.ndarray) -> PlaneBounds:
    """x min, x max, y min, y max (mm) of the points of each plane, the planes' (x, y) points
    laid end to end from ``starts`` (each plane's first point; every plane has points)."""
    xs, ys = np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1])
    return PlaneBounds(
        np.minimum.reduceat(xs, starts),
        np.maximum.reduceat(xs, starts),
        np.minimum.reduceat(ys, starts),
        np.maximum.reduceat(ys, starts),
    )


def polygon_area_mm2(points: np.ndarray) -> float:
    """Signed shoelace area (mm²) of one polygon of (N, 2) points (x, y) in mm: positive
    when the points run counter-clockwise."""
    x, y = points[:, 0], points[:, 1]
    nxt = _next(points)
    return 0.5 * float(np.dot(x, nxt[:, 1]) - np.dot(y, nxt[:, 0]))


def polygon_areas_mm2(polygons: Sequence[np.ndarray]) -> np.ndarray:
    """Signed shoelace area (mm²) of each polygon (as :func:`polygon_area_mm2`), all at once."""
    sizes = np.array([len(p) for p in polygons], dtype=np.intp)
    pts = np.concatenate(polygons)
    nxt = next_points(pts, sizes)
    cross = pts[:, 0] * nxt[:, 1] - pts[:, 1] * nxt[:, 0]
    return 0.5 * np.add.reduceat(cross, np.cumsum(sizes) - sizes)


def _edge_hits(
    px: np.ndarray,
    py: np.ndarray,
    x1: np.ndarray,
    y1: np.ndarray,
    x2: np.ndarray,
    y2: np.ndarray,
) -> np.ndarray:
    """The crossing-number test of points (px, py) against edges (x1, y1)–(x2, y2) taken
    from their lower end (broadcast): the edge straddles the point's row (half-open) and
    crosses it right of the point."""
    straddle = (y1 <= py) != (y2 <= py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
    return straddle & (px < x_cross)


def _lower_first_edges(polygons: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The polygons' points laid end to end, and each edge's lower and upper end ((N, 2)
    each): every edge taken from its lower end, as in the fill, so that an edge shared by
    two contours gives the same test in both."""
    pts = np.concatenate(polygons)
    nxt = next_points(pts, [len(p) for p in polygons])
    up = (pts[:, 1] < nxt[:, 1])[:, None]
    return pts, np.where(up, pts, nxt), np.where(up, nxt, pts)


#: Most (point, edge) pairs :func:`_inside_each_polygon` tests at once (its memory is a
#: few tens of bytes per pair).
POINT_EDGE_PAIRS_PER_CHUNK = 1 << 21


def _inside_each_polygon(points: np.ndarray, polygons: Sequence[np.ndarray]) -> np.ndarray:
    """(M, P) booleans: point m inside polygon p, by the crossing-number test against every
    edge of every polygon at once, for as many points at a time as keep the (point, edge)
    pairs within :data:`POINT_EDGE_PAIRS_PER_CHUNK`. Each edge is taken from its lower end,
    as in the fill, so a point exactly on an edge shared by two contours is in one of them."""
    _, lo, hi = _lower_first_edges(polygons)
    starts = np.concatenate(([0], np.cumsum([len(p) for p in polygons])[:-1]))
    rows = max(1, POINT_EDGE_PAIRS_PER_CHUNK // max(len(lo), 1))
    parts = []
    for first in range(0, len(points), rows):
        px, py = points[first : first + rows, 0:1], points[first : first + rows, 1:2]
        hits = _edge_hits(px, py, lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]).astype(np.intp)
        parts.append(np.add.reduceat(hits, starts, axis=1) % 2 == 1)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros((0, len(polygons)), dtype=bool)


def nesting_signs(polygons: Sequence[np.ndarray]) -> np.ndarray:
    """(−1)^depth per contour, depth = number of other contours containing its first vertex
    (every first vertex against every edge of the plane at once)."""
    n = len(polygons)
    if n == 1:
        return np.ones(1)
    inside = _inside_each_polygon(np.array([p[0] for p in polygons]), polygons)
    np.fill_diagonal(inside, False)
    depth = inside.sum(axis=1)
    return np.where(depth % 2 == 0, 1.0, -1.0)


#: Most (first vertex, edge) pairs tested at once by :func:`nesting_signs_of_planes`.
_NESTING_BATCH_PAIRS = 1 << 18


def nesting_signs_of_planes(polygon_sets: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """:func:`nesting_signs` of several planes' polygon sets: the planes with several
    contours tested together, in batches of at most :data:`_NESTING_BATCH_PAIRS` vertex–edge
    pairs (a larger plane alone, by :func:`nesting_signs`), since a plane's own numpy calls
    cost more than its test (tens of planes with several contours in a body or a lung)."""
    signs: list[np.ndarray | None] = [None] * len(polygon_sets)
    batch: list[int] = []

    def test_batch() -> None:
        """Test the planes gathered in ``batch`` together, and start a new batch."""
        for j, sg in zip(batch, _nesting_batch([polygon_sets[j] for j in batch]), strict=True):
            signs[j] = sg
        batch.clear()

    pairs = 0
    for i, ps in enumerate(polygon_sets):
        size = len(ps) * sum(len(p) for p in ps)
        if len(ps) == 1 or size > _NESTING_BATCH_PAIRS:
            signs[i] = nesting_signs(ps)
            continue
        if batch and pairs + size > _NESTING_BATCH_PAIRS:
            test_batch()
            pairs = 0
        batch.append(i)
        pairs += size
    if batch:
        test_batch()
    return signs  # type: ignore[return-value]


def _nesting_batch(polygon_sets: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Nesting signs of planes with several contours each: every contour's first vertex
    against every edge of its plane (the crossing-number test of _inside_each_polygon, pair
    by pair), hits counted per (vertex, contour) in one bincount per batch."""
    m = np.array([len(ps) for ps in polygon_sets])  # contours per plane
    polys = [p for ps in polygon_sets for p in ps]
    sizes = np.array([len(p) for p in polys])
    pts, lo, hi = _lower_first_edges(polys)
    n_poly = len(polys)
    plane_of = np.repeat(np.arange(len(m)), m)  # each contour's plane
    g0 = np.cumsum(m) - m  # each plane's first contour
    edges = np.add.reduceat(sizes, g0)  # edges per plane
    # pairs: each contour's first vertex with every edge of its plane
    pairs = ragged_ranges(edges[plane_of], (np.cumsum(edges) - edges)[plane_of])
    vertex, edge = pairs.group, pairs.value
    first = pts[np.cumsum(sizes) - sizes]
    hits = np.flatnonzero(
        _edge_hits(
            first[vertex, 0], first[vertex, 1], lo[edge, 0], lo[edge, 1], hi[edge, 0], hi[edge, 1]
        )
    )
    # parity of the hits per (vertex, contour), in per-plane m × m blocks
    k, q = vertex[hits], np.repeat(np.arange(n_poly), sizes)[edge[hits]]
    blocks = m * m
    block_start = np.cumsum(blocks) - blocks
    pk = plane_of[k]
    key = block_start[pk] + (k - g0[pk]) * m[pk] + (q - g0[pk])
    inside = np.bincount(key, minlength=int(blocks.sum())) % 2 == 1
    # depth: the other contours of the plane that contain the vertex
    entry_plane = np.repeat(np.arange(len(m)), blocks)
    row, col = np.divmod(np.arange(int(blocks.sum())) - block_start[entry_plane], m[entry_plane])
    depth = np.bincount((g0[entry_plane] + row)[inside & (row != col)], minlength=n_poly)
    signs = np.where(depth % 2 == 0, 1.0, -1.0)
    return np.split(signs, np.cumsum(m)[:-1])


def points_in_polygons(
    points_xy: np.ndarray, polygons: tuple[np.ndarray, ...] | list[np.ndarray]
) -> np.ndarray:
    """Even-odd (crossing-number) test of (M, 2) points against a set of polygons (XOR).

    Vectorised over points and edges (memory M × edges); for rasterising whole planes
    :func:`rtcheck.dvhcalc.scanline.rasterise_plane` is much faster. Ties are half-open: a
    point exactly on an edge is inside the region at larger x (on a horizontal edge, at
    larger y) — the fill's rule in its even rows — so contours sharing an edge count such
    a point once.
    """
    pts = np.asarray(points_xy, dtype=float).reshape(-1, 2)
    if not len(polygons) or not len(pts):
        return np.zeros(len(pts), dtype=bool)
    # XOR over the polygons: an odd number of them contain the point
    return _inside_each_polygon(pts, polygons).sum(axis=1) % 2 == 1


def even_odd_area_mm2(polygons: tuple[np.ndarray, ...] | list[np.ndarray]) -> float:
    """Area (mm²) of a plane's contours combined by nesting: Σ (−1)^depth |area|.

    The depth of a contour is the number of other contours of the plane that contain it
    (tested at its first vertex). Exact for nested or disjoint contours (islands and holes);
    contours that cross each other are approximated.
    """
    areas = np.array([abs(polygon_area_mm2(p)) for p in polygons])
    return float(np.dot(nesting_signs(polygons), areas))


def clipped_polygon_areas_mm2(
    polygons: Sequence[np.ndarray], x_range: tuple[float, float], y_range: tuple[float, float]
) -> np.ndarray:
    """|area| (mm²) of each polygon clipped to an axis-aligned rectangle: the four
    Sutherland–Hodgman passes (keep x ≥ x0, x ≤ x1, y ≥ y0, y ≤ y1; each vertex kept when
    inside, plus the crossing point of each edge that crosses the bound) run on all
    polygons at once; a polygon reduced to fewer than 3 points has no area."""
    n_poly = len(polygons)
    pts = np.concatenate(polygons)
    pid = np.repeat(np.arange(n_poly), [len(p) for p in polygons])

    def wrap(pid: np.ndarray) -> np.ndarray:
        """The index of each point's successor within its polygon (``pid``: each point's
        polygon, the polygons' points laid end to end)."""
        return successor_index(np.unique(pid, return_counts=True)[1])

    for axis, (lo, hi) in ((0, x_range), (1, y_range)):
        for bound, keep_above in ((lo, True), (hi, False)):
            if len(pts) == 0:
                break
            nxt_i = wrap(pid)
            v = pts[:, axis]
            inside = v >= bound if keep_above else v <= bound
            nxt = pts[nxt_i]
            cross = inside != inside[nxt_i]
            with np.errstate(divide="ignore", invalid="ignore"):
                t = np.where(cross, (bound - v) / (nxt[:, axis] - v), 0.0)
            inter = pts + t[:, None] * (nxt - pts)
            flags = np.stack([inside, cross], axis=1)
            pts = np.stack([pts, inter], axis=1)[flags]
            pid = np.stack([pid, pid], axis=1)[flags]
    if len(pts) == 0:
        return np.zeros(n_poly)
    nxt = pts[wrap(pid)]
    cross_terms = pts[:, 0] * nxt[:, 1] - pts[:, 1] * nxt[:, 0]
    return np.abs(0.5 * np.bincount(pid, weights=cross_terms, minlength=n_poly))


def segment_line_crossings(
    p: np.ndarray, q: np.ndarray, lines: np.ndarray, axis: int
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) points (mm) where segments p→q ((N, 2) each) cross the lines
    coord[axis] = lines (sorted), and the segment of each (a segment along a line crosses
    none)."""
    a, b = p[:, axis], q[:, axis]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    i0 = np.searchsorted(lines, lo, side="left")  # lines with lo <= line <= hi
    i1 = np.searchsorted(lines, hi, side="right")
    counts = np.where(hi > lo, i1 - i0, 0)
    crossing = ragged_ranges(counts)
    seg = crossing.group
    at = lines[i0[seg] + crossing.value]
    t = (at - a[seg]) / (b[seg] - a[seg])
    return p[seg] + t[:, None] * (q[seg] - p[seg]), seg
