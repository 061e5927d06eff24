"""Contours → volumes on a dose grid: planes, slabs, end caps, partial-volume masks.

Conventions (the same for volumes and for rasterisation, so the two always agree):

* **Planes.** Contours of one ROI whose ``z_mm`` agree within :data:`PLANE_TOLERANCE_MM`
  form one contour plane. Within a plane, all contours combine by the even-odd rule (XOR):
  a contour inside another is a hole, a contour inside a hole is an island, and so on.
* **Slabs.** Each contour plane stands for a slab of tissue. Between two neighbouring planes
  of the ROI the boundary is their midpoint, so every height belongs to exactly one plane:
  a contour is never lost (even when it falls between dose planes) nor counted twice.
* **End caps** (the first and last plane of the ROI, and the planes next to a gap):

  - ``"half_slice"`` (default; what most planning systems do): the end slab extends half the
    local plane spacing *beyond* the end plane, so the slab is centred on its plane;
  - ``"none"``: the structure ends exactly at its end planes; the end slab extends half a
    spacing *inward* only.

  With ``"half_slice"`` a sphere contoured on slices is a stack of cylinders; with
  ``"none"`` it is the same stack with its two end cylinders halved.
* **Gaps.** Neighbouring planes further apart than :data:`GAP_FACTOR` × the ROI's typical
  plane spacing (its median spacing, or ``slice_thickness_mm`` when the ROI has fewer than
  three planes) are *not* bridged: each side gets end caps as above, with half the typical
  spacing. (Two lesions in one ROI stay two lesions.)
* **Single-plane ROIs** (or single-plane pieces between gaps) get a slab of thickness
  ``slice_thickness_mm`` centred on the plane under *both* conventions (with ``"none"`` they
  would otherwise have no volume). ``slice_thickness_mm`` is the structure set's typical
  slice spacing; :func:`rtcheck.dvh.compute_dvhs` infers it from all ROIs of the set; when it
  is not given it falls back to the dose grid's median plane spacing.

Rasterisation (:func:`structure_mask`) supersamples every dose voxel of the ROI's bounding
box ``s`` times along x, y and z (sub-voxel centres). A sub-sample at height z takes the
in-plane polygon set of the contour plane whose slab contains z; in-plane membership is the
even-odd crossing-number test done as a vectorised scanline fill. A sub-sample exactly on an
edge belongs to exactly one side, so sampling partitions space — contours sharing an edge,
and a contour and its hole, count it once: rows are half-open ([y_low, y_high), the region
above a horizontal edge), and along x the tie goes right in even and left in odd sub-sample
rows of the grid, so that an edge on a column of sub-samples gives half to each side. Voxels whose sub-samples are all inside
are *interior* (one sample at the voxel centre); voxels partly inside are *boundary* voxels
whose inside sub-samples are kept as points (for dose interpolation). A contour plane whose
polygons enclose no sub-sample at all (smaller than a sub-sample cell: the tip of a cone or
an organ) is given the sub-sample nearest its centre, so that no contour is lost. Contours
that cross themselves or each other are refused (:class:`rtcheck.errors.GeometryError`):
their inside is ambiguous.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache, cached_property
from typing import Literal

import numpy as np

from rtcheck.errors import GeometryError
from rtcheck.models import ContourType, DoseGrid, Structure

EndCap = Literal["none", "half_slice"]
END_CAPS: tuple[str, ...] = ("none", "half_slice")

#: Contours whose heights differ by less than this lie on the same plane (mm).
PLANE_TOLERANCE_MM = 0.01
#: Neighbouring planes further apart than this many typical spacings are a gap, not bridged.
GAP_FACTOR = 2.0
#: Contours with an area below this are degenerate (mm²).
MIN_CONTOUR_AREA_MM2 = 1e-6
#: ROIs with at most this many interior voxels have them supersampled too in DVHs (with
#: dose interpolation): below it one voxel is a visible step of the DVH (> 1/20000 of the
#: volume), above it the cost (s³ samples per voxel) buys nothing visible.
FINE_INTERIOR_MAX_VOXELS = 20000
#: Largest supersampling factor (sub-sample counts per voxel are held in uint8: s³ ≤ 255).
MAX_SUPERSAMPLING = 6

MM3_PER_CC = 1000.0


# --------------------------------------------------------------------------------------
# Contour planes and slabs
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ContourPlane:
    """The contours of one ROI on one plane: ``polygons`` are (N, 2) arrays of (x, y) mm."""

    z_mm: float
    polygons: tuple[np.ndarray, ...]
    #: |area| (mm²) of each polygon, when already known (contour_planes computes them)
    polygon_areas: np.ndarray | None = None
    #: nesting sign of each polygon, when already known (contour_planes computes them for
    #: all planes with several contours in one batch)
    polygon_signs: np.ndarray | None = None

    @cached_property
    def nesting_signs(self) -> np.ndarray:
        """+1 for contours at even nesting depth (islands), −1 at odd depth (holes)."""
        if self.polygon_signs is not None:
            return self.polygon_signs
        return _nesting_signs(self.polygons)

    @cached_property
    def area_mm2(self) -> float:
        """Even-odd (XOR by nesting) area of the plane's contours (mm²)."""
        areas = self.polygon_areas
        if areas is None:
            areas = np.array([abs(_polygon_area(p)) for p in self.polygons])
        if len(self.polygons) == 1:
            return float(areas[0])
        return float(np.dot(self.nesting_signs, areas))


def _next(points: np.ndarray) -> np.ndarray:
    """The polygon's vertices shifted by one (cheaper than np.roll for small arrays)."""
    return np.concatenate((points[1:], points[:1]))


def _ragged(
    counts: np.ndarray, base: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups of the given sizes laid end to end: each element's group and position in it
    (plus its group's ``base``, when given: the offset is folded in per group, before the
    expansion), and each group's first element."""
    counts = np.asarray(counts)
    starts = np.cumsum(counts) - counts
    owner = np.repeat(np.arange(counts.size), counts)
    shift = -starts if base is None else base - starts
    return owner, np.arange(owner.size) + np.repeat(shift, counts), starts


def _successor_index(sizes: np.ndarray | Sequence[int]) -> np.ndarray:
    """For polygons of ``sizes`` points laid end to end: the index of each point's
    successor in its polygon (each polygon's last point is followed by its first)."""
    sizes = np.asarray(sizes, dtype=np.intp)
    ends = np.cumsum(sizes)
    nxt = np.arange(1, int(ends[-1]) + 1) if ends.size else np.zeros(0, dtype=np.intp)
    nxt[ends[sizes > 0] - 1] = (ends - sizes)[sizes > 0]
    return nxt


def _next_points(points: np.ndarray, sizes: np.ndarray | Sequence[int]) -> np.ndarray:
    """For polygons of ``sizes`` points laid end to end (``points``: the points, or any
    values per point): each point's successor in its polygon (each polygon's last point is
    followed by its first), i.e. ``points[_successor_index(sizes)]`` by two copies
    instead of a gather."""
    sizes = np.asarray(sizes, dtype=np.intp)
    nxt = np.empty_like(points)
    if len(points):
        nxt[:-1] = points[1:]
        ends = np.cumsum(sizes)[sizes > 0]
        nxt[ends - 1] = points[ends - sizes[sizes > 0]]
    return nxt


def _plane_bounds(points: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(planes, 4) x min, x max, y min, y max of the points of each plane, the planes' points
    laid end to end from ``starts``."""
    xs, ys = np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1])
    return np.stack(
        [
            np.minimum.reduceat(xs, starts),
            np.maximum.reduceat(xs, starts),
            np.minimum.reduceat(ys, starts),
            np.maximum.reduceat(ys, starts),
        ],
        axis=1,
    )


def _axis_cells(index: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower node, weight of the upper node and upper node of fractional indices along an
    axis of n nodes, clamped to [0, n − 1] (the arithmetic of :func:`trilinear`)."""
    p = np.minimum(np.maximum(index, 0.0), n - 1)
    i0 = np.minimum(np.floor(p).astype(np.intp), max(n - 2, 0))
    return i0, p - i0, np.minimum(i0 + 1, n - 1)


def _polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    nxt = _next(points)
    return 0.5 * float(np.dot(x, nxt[:, 1]) - np.dot(y, nxt[:, 0]))


def _polygon_areas(polygons: Sequence[np.ndarray]) -> np.ndarray:
    """Signed shoelace area (mm²) of each polygon (as :func:`_polygon_area`), all at once."""
    sizes = np.array([len(p) for p in polygons], dtype=np.intp)
    pts = np.concatenate(polygons)
    nxt = _next_points(pts, sizes)
    cross = pts[:, 0] * nxt[:, 1] - pts[:, 1] * nxt[:, 0]
    return 0.5 * np.add.reduceat(cross, np.cumsum(sizes) - sizes)


def _edge_hits(px, py, x1, y1, x2, y2) -> np.ndarray:
    """The crossing-number test of points (px, py) against edges (x1, y1)–(x2, y2) taken
    from their lower end (broadcast): the edge straddles the point's row (half-open) and
    crosses it right of the point."""
    straddle = (y1 <= py) != (y2 <= py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
    return straddle & (px < x_cross)


def _lower_first_edges(polygons) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The polygons' points laid end to end, and each edge's lower and upper end ((N, 2)
    each): every edge taken from its lower end, as in the fill, so that an edge shared by
    two contours gives the same test in both."""
    pts = np.concatenate(polygons)
    nxt = _next_points(pts, [len(p) for p in polygons])
    up = (pts[:, 1] < nxt[:, 1])[:, None]
    return pts, np.where(up, pts, nxt), np.where(up, nxt, pts)


def _inside_each_polygon(points: np.ndarray, polygons) -> np.ndarray:
    """(M, P) booleans: point m inside polygon p, by the crossing-number test against every
    edge of every polygon at once (memory M × edges). Each edge is taken from its lower end,
    as in the fill, so a point exactly on an edge shared by two contours is in one of them."""
    _, lo, hi = _lower_first_edges(polygons)
    px, py = points[:, 0:1], points[:, 1:2]
    hits = _edge_hits(px, py, lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]).astype(np.intp)
    starts = np.concatenate(([0], np.cumsum([len(p) for p in polygons])[:-1]))
    return np.add.reduceat(hits, starts, axis=1) % 2 == 1


def _nesting_signs(polygons) -> np.ndarray:
    """(−1)^depth per contour, depth = number of other contours containing its first vertex
    (every first vertex against every edge of the plane at once)."""
    n = len(polygons)
    if n == 1:
        return np.ones(1)
    inside = _inside_each_polygon(np.array([p[0] for p in polygons]), polygons)
    np.fill_diagonal(inside, False)
    depth = inside.sum(axis=1)
    return np.where(depth % 2 == 0, 1.0, -1.0)


#: Most (first vertex, edge) pairs tested at once by :func:`_nesting_signs_of_planes`.
_NESTING_BATCH_PAIRS = 1 << 18


def _nesting_signs_of_planes(polygon_sets) -> list[np.ndarray]:
    """:func:`_nesting_signs` of several planes' polygon sets: the planes with several
    contours tested together, in batches of at most :data:`_NESTING_BATCH_PAIRS` vertex–edge
    pairs (a larger plane alone, by :func:`_nesting_signs`), since a plane's own numpy calls
    cost more than its test (tens of planes with several contours in a body or a lung)."""
    signs: list[np.ndarray | None] = [None] * len(polygon_sets)
    batch: list[int] = []

    def test_batch() -> None:
        for j, sg in zip(batch, _nesting_batch([polygon_sets[j] for j in batch]), strict=True):
            signs[j] = sg
        batch.clear()

    pairs = 0
    for i, ps in enumerate(polygon_sets):
        size = len(ps) * sum(len(p) for p in ps)
        if len(ps) == 1 or size > _NESTING_BATCH_PAIRS:
            signs[i] = _nesting_signs(ps)
            continue
        if batch and pairs + size > _NESTING_BATCH_PAIRS:
            test_batch()
            pairs = 0
        batch.append(i)
        pairs += size
    if batch:
        test_batch()
    return signs  # type: ignore[return-value]


def _nesting_batch(polygon_sets) -> list[np.ndarray]:
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
    vertex, edge, _ = _ragged(edges[plane_of], (np.cumsum(edges) - edges)[plane_of])
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


def contour_planes(structure: Structure) -> list[ContourPlane]:
    """Group a volumetric ROI's contours into planes (sorted by z), validating them.

    Raises :class:`GeometryError` (naming the ROI, with a remedy) for an ROI without
    contours, with non-CLOSED_PLANAR contours, with a contour of fewer than 3 distinct
    points or of (near-)zero area, or with a self-crossing contour or two contours of one
    plane crossing each other (nesting is then ambiguous).
    """
    name = f"ROI {structure.roi_number} '{structure.name}'"
    if structure.is_empty:
        raise GeometryError(
            f"{name} has no contours",
            remedy="contour the structure in the planning system, or leave it out of the check",
        )
    types = structure.geometric_types
    if types != {ContourType.CLOSED_PLANAR}:
        kinds = ", ".join(sorted(t.value for t in types))
        raise GeometryError(
            f"{name} is not volumetric (contour types: {kinds})",
            remedy="only CLOSED_PLANAR contours make a volume; points and open lines have no DVH",
        )
    contours = structure.contours
    polygons = []
    for i, contour in enumerate(contours):
        pts = np.asarray(contour.points_mm, dtype=float)
        if len(pts) > 1 and abs(pts[0, 0] - pts[-1, 0]) + abs(pts[0, 1] - pts[-1, 1]) < 1e-9:
            pts = pts[:-1]  # explicitly closed contour: drop the repeated first point
        if len(pts) < 3:
            raise GeometryError(
                f"{name}: contour {i + 1} at z = {contour.z_mm:g} mm has fewer than 3 distinct points",
                remedy="remove or redraw the degenerate contour in the planning system",
            )
        polygons.append(pts)
    # every contour's area at once (one shoelace sum per contour over the points laid end
    # to end; a call per contour cost ≈ 1.5 µs each, most of this loop on the breast)
    area_of = np.abs(_polygon_areas(polygons))
    degenerate = np.flatnonzero(area_of < MIN_CONTOUR_AREA_MM2)
    if degenerate.size:
        i = int(degenerate[0])
        raise GeometryError(
            f"{name}: contour {i + 1} at z = {contours[i].z_mm:g} mm has zero area (degenerate)",
            remedy="remove or redraw the degenerate contour in the planning system",
        )
    by_plane: dict[int, list[int]] = {}
    for i, contour in enumerate(contours):
        by_plane.setdefault(int(round(contour.z_mm / PLANE_TOLERANCE_MM)), []).append(i)
    planes = [
        ContourPlane(
            _mean_height([contours[i].z_mm for i in by_plane[k]]),
            tuple(polygons[i] for i in by_plane[k]),
            area_of[by_plane[k]],
        )
        for k in sorted(by_plane)
    ]
    crossing = _first_crossing(planes)
    if crossing is not None:
        z, same = crossing
        what = "a self-crossing contour" if same else "contours that cross each other"
        raise GeometryError(
            f"{name} has {what} at z = {z:g} mm (inside and outside are ambiguous there)",
            remedy="correct the contour in the planning system (remove the loop or overlap) "
            "and export the structure set again",
        )
    several = [i for i, pl in enumerate(planes) if len(pl.polygons) > 1]
    if several:
        # the nesting of all planes with several contours in one batched test
        signs = _nesting_signs_of_planes([planes[i].polygons for i in several])
        for i, plane_signs in zip(several, signs, strict=True):
            planes[i] = replace(planes[i], polygon_signs=plane_signs)
    return planes


def _mean_height(heights: list[float]) -> float:
    """Mean of a plane's contour heights: as np.mean (the same sequential sum below eight
    values), without its overhead for the usual one or two."""
    if len(heights) == 1:
        return float(heights[0])
    if len(heights) < 8:
        return float(sum(heights) / len(heights))
    return float(np.mean(heights))


#: Candidate partners per edge counted by comparisons in :func:`_first_crossing` before a
#: binary search.
_NEAR_EDGES = 4


def _first_crossing(planes: list[ContourPlane]) -> tuple[float, bool] | None:
    """(z, same contour?) of a proper crossing between two edges on one plane, or None.

    All edges of all planes are tested at once: planes are stacked apart along y, edges
    sorted by their lowest y, and only pairs whose y and x ranges overlap are tested
    (orientation test; edges that merely touch, and neighbouring edges, do not count).
    The crossing reported is that of the first edge (in contour order) that has one.
    """
    polys = [poly for plane in planes for poly in plane.polygons]
    sizes = np.array([len(poly) for poly in polys])
    p = np.concatenate(polys)
    n = len(p)
    q = _next_points(p, sizes)  # each edge's end: its contour's next point
    px, py, qx, qy = p[:, 0], p[:, 1], q[:, 0], q[:, 1]
    span = float(py.max() - py.min()) + 1.0
    plane_of_poly = np.repeat(np.arange(len(planes)), [len(pl.polygons) for pl in planes])
    shift = np.repeat(plane_of_poly * span, sizes)  # planes never overlap in y
    ylo = np.minimum(py, qy) + shift
    yhi = np.maximum(py, qy) + shift
    # candidate pairs in y-sorted order: edge a and the edges after it that start at or
    # below its top (contiguous runs a + 1 … a + count[a], so the gathers stay local)
    order = np.argsort(ylo, kind="stable")
    ylo_s, yhi_s = ylo[order], yhi[order]
    # count[a] = #{b > a: ylo_s[b] <= yhi_s[a]} (ylo_s sorted: the first edges after a):
    # up to _NEAR_EDGES by comparing shifted slices, binary search only for the edges with
    # more (most edges have two or three; a search for every edge cost twice as much)
    count = np.zeros(n, dtype=np.intp)
    for d in range(1, min(_NEAR_EDGES, n - 1) + 1):
        count[:-d] += ylo_s[d:] <= yhi_s[:-d]
    more = np.flatnonzero(count == _NEAR_EDGES)
    if more.size:
        count[more] = np.searchsorted(ylo_s, yhi_s[more], side="right") - more - 1
    if not count.any():
        return None
    # the candidate pairs (a, b), a < b <= a + count[a], whose x ranges overlap too (most
    # pairs fail here: edges across the contour): the pairs (a, a + d) for d up to
    # _NEAR_EDGES by shifted slices (no gathers), those beyond for the edges with more
    # (np.take and index lists: faster than fancy and boolean indexing). Their order does
    # not matter: the crossing reported is chosen by edge order and rank below.
    take = np.take
    xlo_s, xhi_s = take(np.minimum(px, qx), order), take(np.maximum(px, qx), order)
    firsts, seconds = [], []
    for d in range(1, min(_NEAR_EDGES, n - 1) + 1):
        near = np.flatnonzero(
            (count[:-d] >= d) & (xlo_s[:-d] <= xhi_s[d:]) & (xlo_s[d:] <= xhi_s[:-d])
        )
        firsts.append(near)
        seconds.append(near + d)
    extra = count[more] - _NEAR_EDGES  # partners beyond the first _NEAR_EDGES
    total = int(extra.sum())
    if total:
        owner, b, _ = _ragged(extra, more + _NEAR_EDGES + 1)
        a = take(more, owner)
        keep = np.flatnonzero((take(xlo_s, a) <= take(xhi_s, b)) & (take(xlo_s, b) <= take(xhi_s, a)))
        firsts.append(take(a, keep))
        seconds.append(take(b, keep))
    i, j = take(order, np.concatenate(firsts)), take(order, np.concatenate(seconds))
    # neighbouring edges of one contour share a vertex: not a crossing
    gap = np.abs(i - j)
    contour = np.repeat(np.arange(len(polys)), sizes)
    ci = contour[i]
    apart = np.flatnonzero((ci != contour[j]) | ((gap != 1) & (gap != sizes[ci] - 1)))
    i, j = i[apart], j[apart]
    if i.size == 0:
        return None

    def orient(ax, ay, bx, by, cx, cy):
        return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)

    pix, piy, qix, qiy = px[i], py[i], qx[i], qy[i]
    pjx, pjy, qjx, qjy = px[j], py[j], qx[j], qy[j]
    proper = (
        orient(pix, piy, qix, qiy, pjx, pjy) * orient(pix, piy, qix, qiy, qjx, qjy) < 0
    ) & (orient(pjx, pjy, qjx, qjy, pix, piy) * orient(pjx, pjy, qjx, qjy, qix, qiy) < 0)
    if not proper.any():
        return None
    # the first edge in contour order with a crossing, and its first partner in y order
    i, j = i[proper], j[proper]
    rank = np.empty(n, dtype=np.intp)
    rank[order] = np.arange(n)
    first = int(np.lexsort((rank[j], i))[0])
    return (
        planes[int(plane_of_poly[contour[i[first]]])].z_mm,
        bool(contour[i[first]] == contour[j[first]]),
    )


def slab_bounds(
    z_mm: np.ndarray,
    end_cap: EndCap,
    slice_thickness_mm: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper z (mm) of the slab each contour plane stands for (see module doc).

    ``z_mm`` must be sorted and distinct. Slabs never overlap; between gaps they tile.
    """
    if end_cap not in END_CAPS:
        raise ValueError(f"end_cap must be one of {END_CAPS}, got {end_cap!r}")
    z = np.asarray(z_mm, dtype=float)
    n = z.size
    if n == 0:
        return np.zeros(0), np.zeros(0)
    # Called several times per ROI (rasteriser, masks, surface extremes): kept to a few
    # small numpy calls (np.median and np.where cost more than the arithmetic here).
    diffs = z[1:] - z[:-1]
    if n >= 3:
        ordered = np.sort(diffs)
        mid = (n - 1) // 2
        # the median (as np.median: the mean of the two middle values for an even count)
        typical = float(ordered[mid]) if (n - 1) % 2 else (float(ordered[mid - 1]) + float(ordered[mid])) / 2.0
    elif slice_thickness_mm is not None:
        typical = float(slice_thickness_mm)
    elif n == 2:
        typical = float(diffs[0])
    else:
        raise ValueError("a single-plane ROI needs slice_thickness_mm")
    if not typical > 0:
        raise ValueError("slice thickness must be > 0 mm")
    half = typical / 2.0
    gap = diffs > GAP_FACTOR * typical + 1e-6
    # half spacing below / above each plane; at ends and gaps: half the typical spacing
    inner = diffs / 2.0
    below = np.empty(n)
    above = np.empty(n)
    below[0] = above[-1] = half
    below[1:] = inner
    above[:-1] = inner
    if not gap.any() and n > 1:  # usual: one piece, no single planes
        if end_cap == "none":
            below[0] = above[-1] = 0.0
        return z - below, z + above
    below[1:][gap] = half
    above[:-1][gap] = half
    starts = np.ones(n, dtype=bool)
    starts[1:] = gap  # first plane of a piece
    ends = np.ones(n, dtype=bool)
    ends[:-1] = gap  # last plane of a piece
    single = starts & ends
    if single.any():
        thickness = float(slice_thickness_mm) if slice_thickness_mm is not None else typical
        below[single] = above[single] = thickness / 2.0
    if end_cap == "none":
        below[starts & ~single] = 0.0
        above[ends & ~single] = 0.0
    return z - below, z + above


# --------------------------------------------------------------------------------------
# Polygon helpers
# --------------------------------------------------------------------------------------
def points_in_polygons(
    points_xy: np.ndarray, polygons: tuple[np.ndarray, ...] | list[np.ndarray]
) -> np.ndarray:
    """Even-odd (crossing-number) test of (M, 2) points against a set of polygons (XOR).

    Vectorised over points and edges (memory M × edges); for rasterising whole planes
    :func:`rasterise_plane` is much faster. Ties are half-open: a point exactly on an
    edge is inside the region at larger x (on a horizontal edge, at larger y) — the fill's
    rule in its even rows — so contours sharing an edge count such a point once.
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
    areas = np.array([abs(_polygon_area(p)) for p in polygons])
    return float(np.dot(_nesting_signs(polygons), areas))


def rasterise_plane(polygons, x_mm: np.ndarray, y_mm: np.ndarray, row0: int = 0) -> np.ndarray:
    """Boolean mask (len(y_mm), len(x_mm)) of sample points inside the polygons (even-odd).

    ``x_mm`` and ``y_mm`` are sorted sample coordinates (any spacing). A scanline fill: each
    polygon edge is intersected with the sample rows it spans (half-open in y, so vertices
    are counted once); along each row the crossings, in x order, open and close inside runs
    (:func:`_run_keys`), and the runs and gaps between them, laid end to end, fill the
    mask. Cost is O(edges + crossings + samples) — no test of every point against every
    edge. Several polygons combine by XOR (holes and islands) for free.

    Ties (a sample exactly on an edge) are split by row parity: in rows whose global index
    ``row0 + i`` is even the sample belongs to the region on its right, in odd rows to the
    region on its left. Each sample still belongs to exactly one side of any edge, so
    sampling partitions the plane (neighbours sharing an edge, a contour and its hole), and
    an edge lying on a column of samples gives half of them to each side, as its area
    share would — a structure whose edges sit on round-mm samples is not shifted.
    """
    x_mm = np.asarray(x_mm, dtype=float)
    y_mm = np.asarray(y_mm, dtype=float)
    nrows, ncols = len(y_mm), len(x_mm)
    keys = _run_keys(polygons, x_mm, y_mm, row0)
    if keys.size == 0:
        return np.zeros((nrows, ncols), dtype=bool)
    # The keys are sorted (_run_keys), so the mask is the gaps and runs laid end to end: one
    # np.repeat, one write per sample (4× faster than toggles, a cumsum and the parity).
    row, col = np.divmod(keys, ncols + 1)
    flat = row * ncols + col  # column ncols (end of a row) is the next row's column 0
    lengths = np.empty(flat.size + 1, dtype=flat.dtype)  # np.diff(prepend, append), cheaper
    lengths[0] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=lengths[1:-1])
    lengths[-1] = nrows * ncols - flat[-1]
    parity = np.zeros(lengths.size, dtype=bool)
    parity[1::2] = True
    return np.repeat(parity, lengths).reshape(nrows, ncols)


def _run_keys(polygons, x_mm: np.ndarray, y_mm: np.ndarray, row0: int = 0) -> np.ndarray:
    """Sorted run boundaries row·(len(x_mm)+1) + column: runs [a, b) alternate with gaps.

    Each edge is intersected with the sample rows it spans, half-open in y (ylo <= y < yhi)
    so that a vertex is counted once: every row gets an even number of crossings, and in
    x order they open and close the inside runs (even-odd). A sample exactly on a crossing
    is decided per row, the same way for every crossing and every contour: as if it sat an
    infinitesimal step right of the edge in rows of even global index (row0 + row), left of
    it in odd rows. So sampling partitions the plane — two contours sharing an edge, or a
    contour and its hole, count a sample on that edge exactly once (ties are common:
    contour vertices and sub-samples both sit on round mm values) — and an edge along a
    column of samples gives half of them to each side, so ties do not shift a structure.
    """
    empty = np.zeros(0, dtype=np.intp)
    if not polygons or len(y_mm) == 0 or len(x_mm) == 0:
        return empty
    rows, x_cross = _crossings(polygons, x_mm, y_mm)
    if rows.size == 0:
        return empty
    order = np.lexsort((x_cross, rows))
    rows, x_cross = rows[order], x_cross[order]
    cols = np.searchsorted(x_mm, x_cross, side="left")  # first sample >= crossing
    # a sample on the crossing goes left (stays on the run's outside of an opening, inside
    # of a closing) in odd rows: one rule per row keeps the keys sorted, also for crossings
    # that coincide
    tie = x_mm[np.minimum(cols, len(x_mm) - 1)] == x_cross
    cols += tie & ((rows + row0) % 2 == 1)
    return rows * (len(x_mm) + 1) + cols


def _crossings(polygons, x_mm: np.ndarray, y_mm: np.ndarray, edge_label: np.ndarray | None = None):
    """(row, x) of every crossing of a polygon edge with a sample row (half-open in y).

    With ``edge_label`` (one integer per edge of the concatenated polygons), also returns
    the label of each crossing's edge: (row, x, label).
    """
    empty = np.zeros(0, dtype=np.intp)
    pts = np.concatenate(polygons)
    sizes = [len(p) for p in polygons]
    nxt = _next_points(pts, sizes)
    x1, y1, x2, y2 = pts[:, 0], pts[:, 1], nxt[:, 0], nxt[:, 1]
    # each edge from its lower end, so that an edge shared by two contours (traversed in
    # opposite directions) gives bit-identical crossings and the partition stays exact;
    # a horizontal edge (ylo == yhi) spans no row, so it needs no filtering out
    up = y1 < y2
    x1, x2 = np.where(up, x1, x2), np.where(up, x2, x1)
    ylo, yhi = np.where(up, y1, y2), np.where(up, y2, y1)
    # rows with ylo <= y < yhi: each vertex searched once (it ends two edges)
    row_at = np.searchsorted(y_mm, y1, side="left")
    row_next = _next_points(row_at, sizes)
    r0, r1 = np.where(up, row_at, row_next), np.where(up, row_next, row_at)
    counts = r1 - r0
    total = int(counts.sum())
    if total == 0:
        return (empty, np.zeros(0)) if edge_label is None else (empty, np.zeros(0), empty)
    # crossing m of edge e is on row r0[e] + (m − first crossing of e)
    edge, rows, _ = _ragged(counts, r0)
    take = np.take
    ey1 = take(ylo, edge)
    x_cross = take(x1, edge) + (take(y_mm, rows) - ey1) * take(x2 - x1, edge) / take(yhi - ylo, edge)
    if edge_label is not None:
        return rows, x_cross, take(edge_label, edge)
    return rows, x_cross


def rasterise_planes(
    polygon_sets, x_mm: np.ndarray, y_mm: np.ndarray, row0: int = 0
) -> np.ndarray:
    """Masks (P, len(y_mm), len(x_mm)) of P planes' polygon sets, in one vectorised pass.

    Plane p's mask is exactly ``rasterise_plane(polygon_sets[p], x_mm, y_mm, row0)`` (same
    even-odd fill, same half-open rows and tie rule); doing all planes at once removes the
    per-plane cost of some thirty small numpy calls, which dominated rasterisation (ROIs
    have tens to hundreds of planes). A plane without polygons is empty. (The packed form
    with one sample a byte: see :func:`rasterise_planes_packed`.)
    """
    return rasterise_planes_packed(polygon_sets, x_mm, y_mm, 1, row0).view(bool)


def rasterise_planes_packed(
    polygon_sets, x_mm: np.ndarray, y_mm: np.ndarray, s: int, row0: int = 0
) -> np.ndarray:
    """Sample masks of P planes' polygon sets in one vectorised pass, packed: uint8
    (P, len(y_mm), len(x_mm) // s) whose bit a of element [p, r, v] is sample [p, r, v·s + a]
    (``len(x_mm)`` a multiple of s ≤ 8); the sample masks are exactly those of
    :func:`rasterise_plane` for each plane (the same crossings, half-open rows and tie rule).

    All planes at once: per-plane numpy calls dominated rasterisation before (ROIs have tens
    to hundreds of planes). The run boundaries are laid out at 1/s of the samples: the state
    at each group's first sample by the np.repeat parity layout of the boundaries' groups (a
    boundary at column c changes the groups from ⌈c/s⌉ on), and the boundaries inside a
    group as XOR-ed bit masks (a boundary at offset o flips bits o…s−1).
    """
    x_mm = np.asarray(x_mm, dtype=float)
    y_mm = np.asarray(y_mm, dtype=float)
    n_planes, nrows, ncols = len(polygon_sets), len(y_mm), len(x_mm)
    if ncols % s or not 1 <= s <= 8:
        raise ValueError("len(x_mm) must be a multiple of s, and 1 <= s <= 8")
    ngroups = ncols // s
    out_shape = (n_planes, nrows, ngroups)
    polys = [poly for ps in polygon_sets for poly in ps]
    if not polys or nrows == 0 or ncols == 0:
        return np.zeros(out_shape, dtype=np.uint8)
    sizes = [len(poly) for ps in polygon_sets for poly in ps]
    plane_of_poly = np.repeat(np.arange(n_planes), [len(ps) for ps in polygon_sets])
    rows, x_cross, plane = _crossings(polys, x_mm, y_mm, np.repeat(plane_of_poly, sizes))
    if rows.size == 0:
        return np.zeros(out_shape, dtype=np.uint8)
    # the boundary columns of rasterise_plane (the tie rule does not depend on the order)
    cols = np.searchsorted(x_mm, x_cross, side="left")
    tie = np.take(x_mm, cols, mode="clip") == x_cross
    cols += tie & ((rows + row0) % 2 == 1)
    # group of each boundary and its offset in it; a boundary at column c changes the
    # groups from ⌈c/s⌉ on
    group, offset = np.divmod(cols, s)
    at = (plane * nrows + rows) * ngroups + group
    inner = np.flatnonzero(offset)
    # state at each group's first sample: parity of the boundaries at columns <= v·s
    flat = at + (offset != 0)  # ⌈c/s⌉ = ngroups: the next row's start
    flat.sort(kind="stable")  # runs of ascending keys (along each edge): timsort's case
    lengths = np.empty(flat.size + 1, dtype=flat.dtype)
    lengths[0] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=lengths[1:-1])
    lengths[-1] = n_planes * nrows * ngroups - flat[-1]
    parity = np.zeros(lengths.size, dtype=np.uint8)
    parity[1::2] = (1 << s) - 1
    packed = np.repeat(parity, lengths)
    # boundaries inside a group flip the samples from their offset on
    if inner.size:
        off = offset[inner].astype(np.uint8)
        flips = (np.uint8((1 << s) - 1) >> off) << off
        np.bitwise_xor.at(packed, at[inner], flips)
    return packed.reshape(out_shape)


def _bit_rows(s: int) -> np.ndarray:
    """Each byte's low s bits as s booleans (bit a at index a), one s-byte item per byte
    value (read-only): np.take of these items unpacks packed masks into contiguous booleans
    in one gather, 4× faster than indexing a (256, 8) boolean table."""
    bits = (np.arange(256)[:, None] >> np.arange(s)[None, :]) & 1
    rows = np.ascontiguousarray(bits.astype(bool)).view(f"V{s}").ravel()
    rows.setflags(write=False)
    return rows


#: :func:`_bit_rows` of supersampling s at index s − 1 (s = 1 … MAX_SUPERSAMPLING).
_BIT_ROWS = tuple(_bit_rows(s) for s in range(1, MAX_SUPERSAMPLING + 1))


# --------------------------------------------------------------------------------------
# Volumes from contours
# --------------------------------------------------------------------------------------
def voxel_edges(centres_mm: np.ndarray) -> np.ndarray:
    """Voxel boundaries (n + 1) for voxel centres: midpoints, outer voxels symmetric."""
    c = np.asarray(centres_mm, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])  # a single plane: 1 mm thick by convention
    mid = (c[:-1] + c[1:]) / 2.0
    return np.concatenate(([c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]))


def structure_volume_cc(
    structure: Structure,
    end_cap: EndCap = "half_slice",
    slice_thickness_mm: float | None = None,
) -> float:
    """ROI volume (cc) from its contours: Σ plane area (even-odd) × slab thickness."""
    planes = contour_planes(structure)
    zs = np.array([p.z_mm for p in planes])
    lo, hi = slab_bounds(zs, end_cap, slice_thickness_mm)
    areas = np.array([p.area_mm2 for p in planes])
    return float(np.dot(areas, hi - lo)) / MM3_PER_CC


def _grid_slice_thickness(grid: DoseGrid) -> float:
    return float(np.median(np.diff(grid.z_mm))) if grid.z_mm.size > 1 else 1.0


def _rasteriser_for(
    structure: Structure, grid: DoseGrid, s: int, slice_thickness_mm: float | None
) -> _Rasteriser:
    """The rasteriser of ``structure``'s validated contour planes (:func:`contour_planes`:
    raises GeometryError) on ``grid`` at supersampling ``s``. A single-plane ROI without a
    ``slice_thickness_mm`` takes the grid's median plane spacing as its slab."""
    planes = contour_planes(structure)
    if len(planes) == 1 and slice_thickness_mm is None:
        slice_thickness_mm = _grid_slice_thickness(grid)
    return _Rasteriser(planes, grid, s, slice_thickness_mm)


# --------------------------------------------------------------------------------------
# The reusable mask
# --------------------------------------------------------------------------------------
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

    @property
    def shape(self) -> tuple[int, int, int]:
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
        k, iy, ix = self._boundary_box_index()
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
    def _voxel_sizes_alike(self) -> tuple[bool, bool, bool]:
        """(x and y voxel sizes equal within 1e-9 mm; x and y sizes each equal within
        1e-12 relative; z sizes exactly equal): per-mask facts the sampling of every chunk
        asks for."""
        dy, dx, dz = self.dy_mm, self.dx_mm, self.dz_mm
        xy = bool(np.ptp(dy) < 1e-9 and np.ptp(dx) < 1e-9)
        xy_rel = all(d.size and np.ptp(d) <= 1e-12 * d[0] for d in (dy, dx))
        return xy, bool(xy_rel), bool(dz.size and np.ptp(dz) == 0)

    def _boundary_box_index(self, voxels=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ny, nx = self.counts.shape[1], self.counts.shape[2]
        k, rest = np.divmod(self.boundary_voxels if voxels is None else voxels, ny * nx)
        iy, ix = np.divmod(rest, nx)
        return k, iy, ix

    @property
    def points_index(self) -> np.ndarray:
        """(M, 3) fractional whole-grid indices (z, y, x) of the inside sub-samples of the
        boundary voxels, in the order of :meth:`dose_samples` (voxel, then z, y, x)."""
        s = self.supersampling
        k, iy, ix = self._boundary_box_index()
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
        s = self.supersampling
        return interpolate and s > 1 and self.interior_voxels <= FINE_INTERIOR_MAX_VOXELS

    def iter_samples(
        self,
        dose_gy: np.ndarray,
        interpolate: bool = True,
        fine_interior: bool = False,
        max_voxels: int = 1 << 22,
        layers: np.ndarray | None = None,
        as_parts: bool = False,
        ends: np.ndarray | None = None,
    ):
        """Yield (dose_gy, volume_cc, layer) samples chunk by chunk of box layers.

        Memory is bounded by the chunk (about ``max_voxels`` voxels), not by the ROI. With
        ``fine_interior`` (and ``interpolate``), interior voxels too are sampled at their s³
        sub-sample points when the ROI has at most :data:`FINE_INTERIOR_MAX_VOXELS` of them
        (small ROIs, where one voxel is a visible step of the DVH). ``layers`` (bool per
        box layer) limits the work to those layers. With ``as_parts``, yields
        :class:`SampleChunk` objects (interior doses grouped by layer, without per-sample
        volume arrays: the cheap form for histograms), whose boundary samples in the box
        layers flagged by ``ends`` (bool per layer) are kept apart (``boundary_ends``).
        """
        nz, ny, nx = self.counts.shape
        nyx = ny * nx
        if nz == 0 or nyx == 0:
            return
        fine = fine_interior and self.uses_fine_interior(interpolate)
        step = nz if fine else max(1, max_voxels // nyx)
        dose_gy = np.asarray(dose_gy)
        if layers is None:
            starts = list(range(0, nz, step))
            chunks = [(k0, min(nz, k0 + step)) for k0 in starts]
        else:
            chunks = [
                (k0, min(b, k0 + step))
                for a, b in _true_runs(np.asarray(layers, dtype=bool))
                for k0 in range(a, b, step)
            ]
        for k0, k1 in chunks:
            lo, hi = np.searchsorted(self.boundary_voxels, [k0 * nyx, k1 * nyx])
            parts = self._chunk_parts(
                dose_gy,
                interpolate,
                k0,
                k1,
                self.boundary_voxels[lo:hi],
                self.boundary_inside[lo:hi],
                fine,
                as_parts,
                ends,
            )
            if as_parts:
                yield parts
            else:
                yield parts.samples()

    @cached_property
    def _weight_tables(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """(class per voxel, distinct weight tables) along z, y, x (see _weight_classes),
        computed once per mask rather than once per chunk (masks of one rasteriser share
        them: ``weight_tables``)."""
        if self.weight_tables is not None:
            return self.weight_tables
        return _weight_tables(self.weights_z, self.weights_y, self.weights_x)

    @cached_property
    def interior_voxels(self) -> int:
        """Number of voxels entirely inside the ROI."""
        return int(np.count_nonzero(self.counts == self.supersampling**3))

    def _chunk_parts(
        self, dose_gy, interpolate, k0, k1, boundary_voxels, boundary_inside, fine,
        as_parts=False, ends=None,
    ):
        s = self.supersampling
        s3 = s**3
        nyx = self.counts.shape[1] * self.counts.shape[2]
        counts = self.counts[k0:k1]
        zs, ys, xs = self.slices
        box = dose_gy[zs.start + k0 : zs.start + k1, ys, xs]
        interior = counts == s3
        if fine:
            # every occupied voxel goes through the sub-sample path (full masks inside)
            occupied = np.flatnonzero(counts.ravel() > 0) + k0 * nyx
            full = np.ones((occupied.size, s, s, s), dtype=bool)
            full[np.searchsorted(occupied, boundary_voxels)] = boundary_inside
            boundary_voxels, boundary_inside = occupied, full
            interior = np.zeros_like(interior)
        per_layer = np.count_nonzero(interior.reshape(len(interior), -1), axis=1)
        d_int = box[interior]
        xy_alike, xy_one_volume, z_constant = self._voxel_sizes_alike
        if xy_alike:  # usual: x, y uniform
            v_int = self.dz_mm[k0:k1] * float(self.dy_mm[0] * self.dx_mm[0]) / MM3_PER_CC
            per_voxel = False
        else:
            kk, jj, ii = np.nonzero(interior)
            v_int = self.dz_mm[kk + k0] * self.dy_mm[jj] * self.dx_mm[ii] / MM3_PER_CC
            per_voxel = True
        k, iy, ix = self._boundary_box_index(boundary_voxels)
        inside = boundary_inside
        vol_b = self.dz_mm[k] * self.dy_mm[iy] * self.dx_mm[ix] / MM3_PER_CC
        # parts: one voxel volume for the whole chunk (a number, no per-sample array) when
        # the box's voxels are all alike, as on a uniform grid
        dz = self.dz_mm[k0:k1]
        one_volume = (
            as_parts and xy_one_volume and (z_constant or bool(np.ptp(dz) <= 1e-12 * dz[0]))
        )
        vol_1 = float(vol_b[0]) if one_volume and len(vol_b) else None
        # the "corner" sub-lattice (indices 0 and s−1 per axis: 8 of the s³ sub-samples, at
        # ±(s−1)/2s of a voxel) is a coarser sampling that comes for free (DVH variant)
        coarse = None
        corner = _corner_mask(s) if s % 2 == 1 and s > 1 else None
        if not interpolate:
            c = self.counts[k, iy, ix]
            d_b = box[k - k0, iy, ix]
            v_b = vol_b * (c / s3)
            layer_b = k
            if corner is not None:
                cc = (inside & corner).reshape(len(k), s3).sum(axis=1)
                coarse = (d_b, vol_b * (cc / 8.0))
            if as_parts and ends is not None and ends[k].any():
                e = ends[k]
                return SampleChunk(
                    k0, k1, d_int, per_layer, v_int, per_voxel, d_b[~e], v_b[~e], None,
                    coarse, (d_b[e], v_b[e]),
                )
        else:
            # Hot path. Interpolation by 3×3×3 patches: one gather of the 27 neighbours
            # per boundary voxel; all s³ sub-sample doses are then patch @ W, with W the
            # Kronecker product of the per-axis trilinear weights. On a uniform grid all
            # voxels away from the grid's edges share one W (one BLAS matmul); the few
            # classes at the edges (and non-uniform z) get their own. Neighbours beyond
            # the grid have weight exactly 0, so their clipped flat index is harmless.
            g0 = np.array([sl.start for sl in self.slices])
            nzg, nyg, nxg = dose_gy.shape
            off = np.arange(-1, 2)
            offsets = (
                (off[:, None, None] * nyg + off[None, :, None]) * nxg + off[None, None, :]
            ).ravel()
            base = ((g0[0] + k) * nyg + (g0[1] + iy)) * nxg + (g0[2] + ix)
            flat = base[:, None] + offsets[None, :]
            if len(k) and (base.min() + offsets[0] < 0 or base.max() + offsets[-1] >= dose_gy.size):
                np.clip(flat, 0, dose_gy.size - 1, out=flat)
            patch = np.take(dose_gy.reshape(-1), flat)  # (nb, 27); np.take: ≈ 10 % faster
            (cz, wz), (cy, wy), (cx, wx) = self._weight_tables
            cls = (cz[k] * len(wy) + cy[iy]) * len(wx) + cx[ix]
            if not len(cls) or (cls == cls[0]).all():  # usual: one class (no sorting)
                classes = members = cls[:1]
            else:
                classes, members = np.unique(cls, return_counts=True)

            def kron_weights(c: int) -> np.ndarray:
                iz_, rest = divmod(int(c), len(wy) * len(wx))
                iy_, ix_ = divmod(rest, len(wx))
                # W[(i,j,l), (a,b,d)] = wz[a,i] · wy[b,j] · wx[d,l]
                return np.einsum("ai,bj,dl->ijlabd", wz[iz_], wy[iy_], wx[ix_]).reshape(27, s3)

            main = classes[np.argmax(members)] if len(classes) else 0
            sub = _matmul_rows(patch, kron_weights(main))
            for c in classes:
                if c != main:
                    rows = np.flatnonzero(cls == c)
                    sub[rows] = _matmul_rows(patch[rows], kron_weights(c))
            sub = sub.reshape(len(k), s, s, s)
            if as_parts:
                if corner is not None:
                    # the 8 corner columns first, then their inside ones (same order as
                    # selecting inside & corner over all s³ columns, a third of the work)
                    at = _corner_columns(s)
                    inside_c = inside.reshape(len(k), s3)[:, at]
                    sub_c = sub.reshape(len(k), s3)[:, at][inside_c]
                    if vol_1 is not None:
                        coarse = (sub_c, vol_1 / 8.0)
                    else:
                        coarse = (sub_c, np.repeat(vol_b / 8.0, inside_c.sum(axis=1)))
                groups = []
                at_end = None if ends is None else ends[k]
                for sel in (None,) if at_end is None or not at_end.any() else (~at_end, at_end):
                    # the voxels are sorted by layer: a selection is a few runs of them
                    runs = [(0, len(k))] if sel is None else _true_runs(sel)
                    runs = runs or [(0, 0)]
                    if len(runs) == 1:
                        d_g = sub[runs[0][0] : runs[0][1]][inside[runs[0][0] : runs[0][1]]]
                    else:
                        d_g = np.concatenate([sub[a:b][inside[a:b]] for a, b in runs])
                    if vol_1 is not None:
                        groups.append((d_g, vol_1 / s3))
                    else:
                        nin = np.concatenate(
                            [inside[a:b].reshape(b - a, s3).sum(axis=1) for a, b in runs]
                        )
                        vol = np.concatenate([vol_b[a:b] for a, b in runs])
                        groups.append((d_g, np.repeat(vol / s3, nin)))
                d_b, v_b = groups[0]
                return SampleChunk(
                    k0, k1, d_int, per_layer, v_int, per_voxel, d_b, v_b, None, coarse,
                    groups[1] if len(groups) > 1 else None,
                )
            d_b = sub[inside]
            nin = inside.reshape(len(k), s3).sum(axis=1)
            v_b = np.repeat(vol_b / s3, nin)
            layer_b = np.repeat(k, nin)
        return SampleChunk(k0, k1, d_int, per_layer, v_int, per_voxel, d_b, v_b, layer_b, coarse)


@dataclass(frozen=True, eq=False)
class SampleChunk:
    """Dose samples of box layers [k0, k1) of a :class:`StructureMask`.

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


def _true_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in a boolean vector."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


#: Rows per BLAS call in :func:`_matmul_rows`.
_MATMUL_BLOCK_ROWS = 1024


def _matmul_rows(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``a @ w`` for a tall ``a`` (n, 27), in blocks of rows.

    Large products made OpenBLAS start its threads, which on a busy 2-core machine cost
    10–20× the arithmetic (6 ms for a 3000 × 27 @ 27 × 27 product that takes 0.03 ms in one
    thread); blocks of 1024 rows stay below its threading threshold.
    """
    out = np.empty((a.shape[0], w.shape[1]), dtype=np.result_type(a, w))
    for r in range(0, a.shape[0], _MATMUL_BLOCK_ROWS):
        np.matmul(a[r : r + _MATMUL_BLOCK_ROWS], w, out=out[r : r + _MATMUL_BLOCK_ROWS])
    return out


def _weight_tables(wz: np.ndarray, wy: np.ndarray, wx: np.ndarray):
    """_weight_classes along z, y and x."""
    return tuple(_weight_classes(w) for w in (wz, wy, wx))


def _weight_classes(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct per-voxel weight tables (classes) and the class of each voxel."""
    flat = np.round(weights.reshape(len(weights), -1), 12)
    s = weights.shape[1]
    # rows keyed by a linear projection (np.unique(axis=0) sorts void rows: slow), checked
    # exactly afterwards; the general unique only if two different rows shared a key
    key = (flat * np.linspace(1.0, 2.0, flat.shape[1])).sum(axis=1)  # not BLAS (threads)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    uniq = flat[first]
    if not np.array_equal(uniq[inverse.ravel()], flat):
        uniq, inverse = np.unique(flat, axis=0, return_inverse=True)
    return inverse.ravel(), uniq.reshape(len(uniq), s, 3)


def _axis_weights(centres: np.ndarray, box: tuple[int, int], sub: np.ndarray, s: int) -> np.ndarray:
    """Trilinear weights (n_box, s, 3) of neighbours (−1, 0, +1) at the sub-sample positions."""
    n = centres.size
    g = np.repeat(np.arange(box[0], box[1]), s)
    c = centres[g]
    w = np.zeros((g.size, 3))
    below = sub < c
    has_lo = g > 0
    has_hi = g < n - 1
    lo_c = centres[np.maximum(g - 1, 0)]
    hi_c = centres[np.minimum(g + 1, n - 1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        f_lo = np.where(below & has_lo, (c - sub) / (c - lo_c), 0.0)
        f_hi = np.where(~below & has_hi, (sub - c) / (hi_c - c), 0.0)
    w[:, 0], w[:, 2] = f_lo, f_hi
    w[:, 1] = 1.0 - f_lo - f_hi
    return w.reshape(box[1] - box[0], s, 3)


def trilinear(array: np.ndarray, index_points: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of a 3-D array at (M, 3) fractional indices (clamped to range).

    Hand-written and vectorised (eight gathers); indices outside [0, n−1] are clamped, i.e.
    the value of the outermost voxel centre is used in the outer half voxel.
    """
    a = np.asarray(array)
    if len(index_points) == 0:
        return np.zeros(0)
    idx = index_points.astype(np.float64)
    z0, fz, z1 = _axis_cells(idx[:, 0], a.shape[0])
    y0, fy, y1 = _axis_cells(idx[:, 1], a.shape[1])
    x0, fx, x1 = _axis_cells(idx[:, 2], a.shape[2])
    flat = a.reshape(-1)
    sy, sx = a.shape[1] * a.shape[2], a.shape[2]
    z0, y0, z1, y1 = z0 * sy, y0 * sx, z1 * sy, y1 * sx
    gx, gy = 1 - fx, 1 - fy
    r00, r01, r10, r11 = z0 + y0, z0 + y1, z1 + y0, z1 + y1  # rows of the 4 x-pairs
    c00 = flat[r00 + x0] * gx + flat[r00 + x1] * fx
    c01 = flat[r01 + x0] * gx + flat[r01 + x1] * fx
    c10 = flat[r10 + x0] * gx + flat[r10 + x1] * fx
    c11 = flat[r11 + x0] * gx + flat[r11 + x1] * fx
    return (c00 * gy + c01 * fy) * (1 - fz) + (c10 * gy + c11 * fy) * fz


def _fractional_index(centres: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Fractional indices of positions along an axis (linear beyond the outermost centres)."""
    n = centres.size
    if n == 1:
        return np.zeros(positions.shape)
    idx = np.interp(positions, centres, np.arange(n, dtype=float))
    idx = np.where(
        positions < centres[0], (positions - centres[0]) / (centres[1] - centres[0]), idx
    )
    last = (n - 1) + (positions - centres[-1]) / (centres[-1] - centres[-2])
    return np.where(positions > centres[-1], last, idx)


def _nearest_corner(sub_centres: np.ndarray, value: float, s: int) -> int:
    """Index of the sub-sample nearest ``value`` among those of the coarse corner lattice
    (positions 0 and s−1 within each voxel), so that both samplings see it."""
    corner = np.flatnonzero(np.isin(np.arange(sub_centres.size) % s, [0, s - 1]))
    return int(corner[np.argmin(np.abs(sub_centres[corner] - value))])


def _subsample_centres(edges: np.ndarray, s: int) -> np.ndarray:
    """Sub-voxel sample centres (n·s) of voxels with the given edges."""
    width = np.diff(edges)
    offs = (np.arange(s) + 0.5) / s
    return (edges[:-1, None] + width[:, None] * offs[None, :]).ravel()


def _box_range(edges: np.ndarray, lo: float, hi: float) -> tuple[int, int]:
    """Voxel index range [i0, i1) of voxels whose extent overlaps [lo, hi]."""
    i0 = int(np.searchsorted(edges, lo, side="right")) - 1
    i1 = int(np.searchsorted(edges, hi, side="left"))
    return max(i0, 0), min(i1, len(edges) - 1)


def _in_grid_volume_cc(planes, lo, hi, x_edges, y_edges, z_edges, areas, bounds) -> float:
    """Contour volume (cc) inside the grid's extent: each slab's thickness inside the grid
    × its plane's area inside the grid's x/y extent (``areas``: a cache of those, by plane
    index, shared by the end-cap conventions; ``bounds``: :func:`_plane_bounds`)."""
    xr, yr = (float(x_edges[0]), float(x_edges[-1])), (float(y_edges[0]), float(y_edges[-1]))
    thick = [max(0.0, min(b, z_edges[-1]) - max(a, z_edges[0])) for a, b in zip(lo, hi, strict=True)]
    to_clip = []
    for p, plane in enumerate(planes):
        if thick[p] <= 0 or p in areas:
            continue
        x0, x1, y0, y1 = bounds[p].tolist()
        if x0 >= xr[0] and x1 <= xr[1] and y0 >= yr[0] and y1 <= yr[1]:
            areas[p] = plane.area_mm2
        else:
            to_clip.append(p)
    if to_clip:
        # every polygon of every plane that leaves the grid, clipped in one batch
        polys = [poly for p in to_clip for poly in planes[p].polygons]
        clipped = _clipped_polygon_areas(polys, xr, yr)
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


def _clipped_polygon_areas(polygons, x_range, y_range) -> np.ndarray:
    """|area| (mm²) of each polygon clipped to an axis-aligned rectangle: the four
    Sutherland–Hodgman passes (keep x ≥ x0, x ≤ x1, y ≥ y0, y ≤ y1; each vertex kept when
    inside, plus the crossing point of each edge that crosses the bound) run on all
    polygons at once; a polygon reduced to fewer than 3 points has no area."""
    n_poly = len(polygons)
    pts = np.concatenate(polygons)
    pid = np.repeat(np.arange(n_poly), [len(p) for p in polygons])

    def wrap(pid):  # index of each point's successor within its polygon
        return _successor_index(np.unique(pid, return_counts=True)[1])

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


class _Rasteriser:
    """Per-layer rasterisation of one ROI in its bounding box (packed plane masks of at most
    :data:`_RASTER_CHUNK_BYTES` at once; kept for all the ROI's masks when all planes
    fit)."""

    def __init__(self, planes, grid: DoseGrid, s: int, slice_thickness_mm: float | None):
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
        self.plane_bounds = _plane_bounds(pts, starts)
        b = self.plane_bounds
        self.xb = _box_range(self.x_edges, b[:, 0].min(), b[:, 1].max())
        self.yb = _box_range(self.y_edges, b[:, 2].min(), b[:, 3].max())
        self.zb = _box_range(self.z_edges, float(lo.min()), float(hi.max()))
        self.empty = (
            self.xb[0] >= self.xb[1] or self.yb[0] >= self.yb[1] or self.zb[0] >= self.zb[1]
        )
        nx, ny, nz = (b[1] - b[0] for b in (self.xb, self.yb, self.zb))
        self.shape = (max(nz, 0), max(ny, 0), max(nx, 0))
        xe = self.x_edges[self.xb[0] : self.xb[1] + 1]
        ye = self.y_edges[self.yb[0] : self.yb[1] + 1]
        ze = self.z_edges[self.zb[0] : self.zb[1] + 1]
        self.xs, self.ys, self.zsub = (
            _subsample_centres(xe, s),
            _subsample_centres(ye, s),
            _subsample_centres(ze, s),
        )
        self.dx, self.dy, self.dz = np.diff(xe), np.diff(ye), np.diff(ze)
        # fractional whole-grid indices of the sub-sample centres (extrapolated beyond the
        # outermost centres), and the trilinear weights used for dose interpolation
        self.xi = _fractional_index(grid.x_mm, self.xs)
        self.yi = _fractional_index(grid.y_mm, self.ys)
        self.zi = _fractional_index(grid.z_mm, self.zsub)
        self.wx = _axis_weights(grid.x_mm, self.xb, self.xs, s)
        self.wy = _axis_weights(grid.y_mm, self.yb, self.ys, s)
        self.wz = _axis_weights(grid.z_mm, self.zb, self.zsub, s)

    @cached_property
    def _plane_of_subz(self) -> dict[str, np.ndarray]:
        return {}

    @cached_property
    def _slabs(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
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
    def weight_tables(self):
        """Weight classes of the trilinear weights (shared by every mask of this ROI)."""
        return _weight_tables(self.wz, self.wy, self.wx)

    def plane_of_subz(self, end_cap: EndCap) -> np.ndarray:
        """Contour-plane index for each sub-sample height (−1: outside every slab).

        A slab thinner than the sub-sample spacing may contain no sub-sample height; when
        the nearest height (of the coarse corner lattice, see
        :meth:`StructureMask.iter_samples`) within one sub-sample spacing is free, it
        takes that plane, so that a thin isolated structure is never lost.
        """
        cached = self._plane_of_subz.get(end_cap)
        if cached is not None:
            return cached
        lo, hi = self.slabs(end_cap)
        idx = np.searchsorted(lo, self.zsub, side="right") - 1
        ok = (idx >= 0) & (self.zsub < hi[np.maximum(idx, 0)])
        idx = np.where(ok, idx, -1)
        seen = np.zeros(len(self.zs) + 1, dtype=bool)
        seen[idx] = True  # idx −1 marks the extra last entry
        missing = np.flatnonzero(~seen[:-1])  # planes without a sub-sample height
        if missing.size and self.zsub.size:
            offset = np.arange(self.zsub.size) % self.s  # (not np.isin: 10× the cost here)
            corner = (offset == 0) | (offset == self.s - 1)
            reach = np.repeat(self.dz, self.s) / self.s  # sub-sample spacing at each height
            for p in missing:
                dist = np.abs(self.zsub - self.zs[p])
                free = (idx < 0) & corner & (dist <= reach)
                if free.any():
                    idx[np.flatnonzero(free)[np.argmin(dist[free])]] = p
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
        empty = ~packed[:-1].reshape(len(planes), -1).any(axis=1)
        for j in np.flatnonzero(empty):
            # a contour smaller than a sub-sample cell (the tip of a cone or an organ) is
            # represented by the sub-sample nearest its centre, so it is never lost
            polys = planes[j].polygons
            pts = np.concatenate(polys) if len(polys) > 1 else polys[0]
            cx, cy = pts.mean(axis=0)
            if self.xs[0] - 1 <= cx <= self.xs[-1] + 1 and self.ys[0] - 1 <= cy <= self.ys[-1] + 1:
                col = _nearest_corner(self.xs, cx, s)
                packed[j, _nearest_corner(self.ys, cy, s), col // s] |= np.uint8(1 << (col % s))
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

    def layers(self, ks: np.ndarray, plane_idx: np.ndarray):
        """Counts (len(ks), ny, nx) of the box layers ``ks`` (ascending), and their boundary
        voxels: flat box indices (sorted) and inside sub-samples (nb, s_z, s_y, s_x)."""
        s, ny, nx = self.s, self.shape[1], self.shape[2]
        pid = plane_idx.reshape(-1, s)[ks]
        whole = self._all_plane_masks
        if whole is not None:
            p0, n = 0, len(self.planes)
            masks, plane_counts = whole
        else:
            used = pid[pid >= 0]
            if used.size == 0:
                return (
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
        # inside sub-samples of the boundary voxels, gathered from the plane masks: the s
        # packed rows of each voxel at each sub-sample height (heights in no slab read the
        # empty plane), unpacked to (nb, s heights, s rows, s columns) booleans; in a chunk
        # of single layers, the s × s block of the first height stands for all of them.
        # The byte indices are laid out rows first (long inner loops: the broadcast add
        # over a last axis of s is 3× slower), the unpacking reads them in voxel order.
        rows = (iy * s) * nx + ix
        rows_off = np.arange(s) * nx
        flat_masks = masks.reshape(-1)
        bits = _BIT_ROWS[s - 1]
        if all_single:
            start = local[kk, 0] * (ny * s * nx) + rows
            block = np.take(flat_masks, start + rows_off[:, None])  # (s rows, nb)
            sub = np.empty((len(kk), s, s, s), dtype=bool)
            sub[:] = np.take(bits, block.T).view(bool).reshape(len(kk), 1, s, s)
        else:
            start = local[kk] * (ny * s * nx) + rows[:, None]  # (nb, s heights)
            block = np.take(flat_masks, start + rows_off[:, None, None])  # (s rows, nb, s)
            sub = np.take(bits, block.transpose(1, 2, 0)).view(bool)
            sub = sub.reshape(len(kk), s, s, s)
        return count, ks[kk] * (ny * nx) + rest, sub

    def layer_chunks(self, layers: np.ndarray, plane_idx: np.ndarray) -> list[np.ndarray]:
        """The box ``layers`` (ascending) in chunks to rasterise at once: all of them when
        the planes' masks are kept (:attr:`_all_plane_masks`), else runs of consecutive
        layers whose planes' sub-sample masks together stay within
        :data:`_RASTER_CHUNK_BYTES` packed (memory bound; at least one layer)."""
        layers = np.asarray(layers, dtype=np.intp)
        if self._all_plane_masks is not None:
            return [layers] if layers.size else []
        s = self.s
        per_plane = self.shape[1] * s * self.shape[2]  # packed bytes: s sub-samples each
        pid = plane_idx.reshape(-1, s)
        big = len(self.planes)
        lows = np.where(pid >= 0, pid, big).min(axis=1).tolist()  # big: no plane
        highs = pid.max(axis=1).tolist()  # −1: no plane
        chunks: list[np.ndarray] = []
        k0 = prev = -2
        p_lo, p_hi = big, -1
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


#: Most bytes of packed plane masks (s sub-samples per byte, see rasterise_planes_packed)
#: held at once while rasterising: those of one chunk of layers, or of all the planes of
#: an ROI that fits, kept by its rasteriser for both end caps (counted in bytes: counted
#: in sub-samples the breast's BODY, 7 MB packed, did not fit and filled its end planes
#: twice).
_RASTER_CHUNK_BYTES = 1 << 24


def structure_mask(
    structure: Structure,
    grid: DoseGrid,
    supersampling: int = 3,
    end_cap: EndCap = "half_slice",
    slice_thickness_mm: float | None = None,
    *,
    _rasteriser: _Rasteriser | None = None,
    _base: StructureMask | None = None,
) -> StructureMask:
    """Rasterise ``structure`` on ``grid`` (see the module docstring for the conventions).

    ``supersampling`` s (1–6) sub-samples per voxel along each axis. ``slice_thickness_mm``
    is used for single-plane ROIs (default: the dose grid's median plane spacing). Raises
    :class:`GeometryError` for ROIs that have no volume.
    """
    s = int(supersampling)
    if not 1 <= s <= MAX_SUPERSAMPLING:
        raise ValueError(f"supersampling must be within 1–{MAX_SUPERSAMPLING}, got {supersampling}")
    if end_cap not in END_CAPS:
        raise ValueError(f"end_cap must be one of {END_CAPS}, got {end_cap!r}")
    r = _rasteriser if _rasteriser is not None else _rasteriser_for(
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
    nz, ny, nx = r.shape
    counts = np.zeros(r.shape, dtype=np.uint8)
    vox_list, sub_list = [], []
    if not r.empty:
        plane_idx = r.plane_of_subz(end_cap)
        if _base is None:
            layers = np.arange(nz)
        else:
            # variant: only layers whose sub-samples change plane are recomputed
            base_idx = r.plane_of_subz(_base.end_cap)  # type: ignore[arg-type]
            changed = (plane_idx != base_idx).reshape(nz, s).any(axis=1)
            layers = np.flatnonzero(changed)
            counts[...] = _base.counts
            keep = ~changed[_base.boundary_voxels // (ny * nx)]
            vox_list.append(_base.boundary_voxels[keep])
            sub_list.append(_base.boundary_inside[keep])
        # Hot path: the scanline fill of all planes of a chunk at once (packed),
        # the per-voxel block counts and one gather of the boundary voxels' sub-samples.
        for ks in r.layer_chunks(layers, plane_idx):
            count, vox, sub = r.layers(ks, plane_idx)
            counts[ks] = count
            vox_list.append(vox)
            sub_list.append(sub)
    if _base is not None and len(vox_list) > 1:
        vox_list, sub_list = _spliced(vox_list[0], sub_list[0], vox_list[1:], sub_list[1:])
    voxels = np.concatenate(vox_list) if vox_list else np.zeros(0, dtype=np.intp)
    inside = np.concatenate(sub_list) if sub_list else np.zeros((0, s, s, s), dtype=bool)
    slices = (slice(*r.zb), slice(*r.yb), slice(*r.xb)) if not r.empty else (slice(0, 0),) * 3
    return StructureMask(
        roi_number=structure.roi_number,
        name=structure.name,
        slices=slices,
        counts=counts,
        supersampling=s,
        end_cap=end_cap,
        boundary_voxels=voxels,
        boundary_inside=inside,
        weights_z=r.wz,
        weights_y=r.wy,
        weights_x=r.wx,
        sub_index_z=r.zi,
        sub_index_y=r.yi,
        sub_index_x=r.xi,
        dz_mm=r.dz,
        dy_mm=r.dy,
        dx_mm=r.dx,
        structure_volume_cc=volume_cc,
        in_grid_volume_cc=in_grid_cc,
        weight_tables=None if r.empty else r.weight_tables,
    )


def _spliced(kept_vox, kept_sub, new_vox, new_sub) -> tuple[list, list]:
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


# --------------------------------------------------------------------------------------
# Unions of structures (a paired organ from its two sides)
# --------------------------------------------------------------------------------------
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
        k, iy, ix = m._boundary_box_index()
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
        _subsample_centres(e[b[0] : b[1] + 1], s)
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
        weights_z=_axis_weights(grid.z_mm, zb, zsub, s),
        weights_y=_axis_weights(grid.y_mm, yb, ys, s),
        weights_x=_axis_weights(grid.x_mm, xb, xs, s),
        sub_index_z=_fractional_index(grid.z_mm, zsub),
        sub_index_y=_fractional_index(grid.y_mm, ys),
        sub_index_x=_fractional_index(grid.x_mm, xs),
        dz_mm=dz,
        dy_mm=dy,
        dx_mm=dx,
        structure_volume_cc=sum(m.structure_volume_cc for m in masks) - overlap_cc,
        in_grid_volume_cc=sum(m.in_grid_volume_cc for m in masks) - overlap_cc,
    )
