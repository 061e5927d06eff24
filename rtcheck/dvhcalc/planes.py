"""Contours → contour planes and the slabs of tissue they stand for (end caps, gaps).

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
  slice spacing; :func:`rtcheck.dvhcalc.compute.compute_dvhs` infers it from all ROIs of the set; when it
  is not given it falls back to the dose grid's median plane spacing.

How these planes become voxels on a dose grid: :mod:`rtcheck.dvhcalc.rasterise`. Contours
that cross themselves or each other are refused here (:class:`rtcheck.errors.GeometryError`):
their inside is ambiguous.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal, NamedTuple

import numpy as np

from rtcheck.errors import GeometryError
from rtcheck.models import Contour, ContourType, Structure

from .polygons import (
    nesting_signs,
    nesting_signs_of_planes,
    next_points,
    polygon_area_mm2,
    polygon_areas_mm2,
    ragged_ranges,
)

#: The end-cap conventions (see the module docstring).
EndCap = Literal["none", "half_slice"]
END_CAPS: tuple[str, ...] = ("none", "half_slice")

#: Contours whose heights differ by less than this lie on the same plane (mm).
PLANE_TOLERANCE_MM = 0.01
#: Neighbouring planes further apart than this many typical spacings are a gap, not bridged.
GAP_FACTOR = 2.0
#: Contours with an area below this are degenerate (mm²).
MIN_CONTOUR_AREA_MM2 = 1e-6

MM3_PER_CC = 1000.0

#: Most contour vertices one ROI may have (all its contours together). A structure of
#: 2 × 10⁶ vertices needs a few hundred MB to check and rasterise; real contours have
#: hundreds to thousands per plane (a body of 200 planes × 2 000 vertices: 4 × 10⁵).
MAX_ROI_VERTICES = 2_000_000
#: Most (contour, edge) pairs of one plane tested for nesting (contours × vertices of the
#: plane): some 15 s of work; beyond it, tens of thousands of contours on one plane.
MAX_NESTING_PAIRS = 500_000_000

_SIMPLIFY = (
    "simplify the contours in the planning system (fewer vertices or pieces) and export the "
    "structure set again, or leave the structure out of the check"
)


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
        return nesting_signs(self.polygons)

    @cached_property
    def area_mm2(self) -> float:
        """Even-odd (XOR by nesting) area of the plane's contours (mm²)."""
        areas = self.polygon_areas
        if areas is None:
            areas = np.array([abs(polygon_area_mm2(p)) for p in self.polygons])
        if len(self.polygons) == 1:
            return float(areas[0])
        return float(np.dot(self.nesting_signs, areas))


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
    polygons, area_of = _checked_polygons(name, contours)
    by_plane: dict[int, list[int]] = {}
    for i, contour in enumerate(contours):
        by_plane.setdefault(int(round(contour.z_mm / PLANE_TOLERANCE_MM)), []).append(i)
    planes = [
        ContourPlane(
            z_mm=_mean_height([contours[i].z_mm for i in by_plane[k]]),
            polygons=tuple(polygons[i] for i in by_plane[k]),
            polygon_areas=area_of[by_plane[k]],
        )
        for k in sorted(by_plane)
    ]
    _refuse_duplicate_contours(name, planes)
    crossing = _first_crossing(planes, name)
    if crossing is not None:
        z, same = crossing
        what = "a self-crossing contour" if same else "contours that cross each other"
        raise GeometryError(
            f"{name} has {what} at z = {z:g} mm (inside and outside are ambiguous there)",
            remedy="correct the contour in the planning system (remove the loop or overlap) "
            "and export the structure set again",
        )
    several = [i for i, pl in enumerate(planes) if len(pl.polygons) > 1]
    _refuse_costly_nesting(name, [planes[i] for i in several])
    if several:
        # the nesting of all planes with several contours in one batched test
        signs = nesting_signs_of_planes([planes[i].polygons for i in several])
        for i, plane_signs in zip(several, signs, strict=True):
            planes[i] = replace(planes[i], polygon_signs=plane_signs)
    return planes


def _checked_polygons(name: str, contours: Sequence[Contour]) -> tuple[list[np.ndarray], np.ndarray]:
    """Each contour's (x, y) points (mm; an explicitly repeated first point dropped) and
    its |area| (mm²); an ROI of more than :data:`MAX_ROI_VERTICES` vertices, a contour of
    fewer than 3 distinct points or of (near-)zero area are refused (``name``: the ROI,
    for the message)."""
    vertices = sum(len(c.points_mm) for c in contours)
    if vertices > MAX_ROI_VERTICES:
        raise GeometryError(
            f"{name} has {vertices} contour vertices, more than rtcheck checks in one "
            f"structure ({MAX_ROI_VERTICES})",
            remedy=_SIMPLIFY,
        )
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
    # to end: a numpy call per contour would cost more than the rest of this loop)
    area_of = np.abs(polygon_areas_mm2(polygons))
    degenerate = np.flatnonzero(area_of < MIN_CONTOUR_AREA_MM2)
    if degenerate.size:
        i = int(degenerate[0])
        raise GeometryError(
            f"{name}: contour {i + 1} at z = {contours[i].z_mm:g} mm has zero area (degenerate)",
            remedy="remove or redraw the degenerate contour in the planning system",
        )
    return polygons, area_of


def _refuse_costly_nesting(name: str, planes: Sequence[ContourPlane]) -> None:
    """Refuse a plane whose nesting test (every contour against every edge of its plane)
    exceeds :data:`MAX_NESTING_PAIRS` pairs (``name``: the ROI, for the message)."""
    for plane in planes:
        pairs = len(plane.polygons) * sum(len(p) for p in plane.polygons)
        if pairs > MAX_NESTING_PAIRS:
            raise GeometryError(
                f"{name} has {len(plane.polygons)} contours at z = {plane.z_mm:g} mm, too many "
                f"to work out which are holes ({pairs:.3g} contour-edge pairs, more than "
                f"{MAX_NESTING_PAIRS:.3g})",
                remedy=_SIMPLIFY,
            )


#: Vertices of two contours closer than this (mm) are the same point for
#: :func:`_refuse_duplicate_contours` (far below DICOM's decimal-string precision).
DUPLICATE_VERTEX_TOLERANCE_MM = 1e-4


def _canonical_contour(polygon: np.ndarray) -> bytes:
    """The contour's vertices rounded to :data:`DUPLICATE_VERTEX_TOLERANCE_MM`, counter-clockwise
    from the lowest (x, y) vertex, as bytes: equal for two copies of one contour whatever
    their start vertex and direction."""
    pts = np.round(polygon / DUPLICATE_VERTEX_TOLERANCE_MM).astype(np.int64)
    if polygon_area_mm2(polygon) < 0:
        pts = pts[::-1]
    start = int(np.lexsort((pts[:, 1], pts[:, 0]))[0])
    return np.roll(pts, -start, axis=0).tobytes()


def _refuse_duplicate_contours(name: str, planes: list[ContourPlane]) -> None:
    """Refuse an ROI with two copies of one contour on one plane (:class:`GeometryError`).

    Two identical contours neither cross each other nor nest, so the even-odd rule would
    cancel them (no tissue) while their areas add (twice the volume): either way the
    structure's DVH would be wrong. An exact copy is an export artefact (a contour written
    twice); which copy is meant cannot be known, so the structure is refused rather than
    silently de-duplicated. Only contours of one plane with equal vertex counts are
    compared, vertex by vertex.
    """
    for plane in planes:
        if len(plane.polygons) < 2:
            continue
        seen: dict[int, list[int]] = {}
        for i, poly in enumerate(plane.polygons):
            seen.setdefault(len(poly), []).append(i)
        for group in seen.values():
            if len(group) < 2:
                continue
            keys: dict[bytes, int] = {}
            for i in group:
                key = _canonical_contour(plane.polygons[i])
                if key in keys:
                    raise GeometryError(
                        f"{name} has the same contour twice at z = {plane.z_mm:g} mm "
                        "(an exact duplicate: under the even-odd rule the copies cancel, "
                        "their areas add; the structure's volume and DVH would be wrong)",
                        remedy="delete the duplicate contour in the planning system and export "
                        "the structure set again, or leave the structure out of the check",
                    )
                keys[key] = i


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
#: Most candidate edge pairs :func:`_first_crossing` tests at once (bounds its memory to a
#: hundred MB however many vertices the contours have).
CROSSING_PAIRS_PER_CHUNK = 1 << 20
#: Most candidate edge pairs (edges of one plane whose y ranges overlap) of one ROI tested
#: for crossings: some 20 s of work. Ordinary contours have a few per edge whatever their
#: size (a circle of 10⁶ vertices: about 3 × 10⁶); a contour of tens of thousands of long
#: edges side by side (a star of 3 × 10⁴ spikes) is refused beyond it rather than checked
#: for minutes.
MAX_CROSSING_PAIRS = 100_000_000


class _Edges(NamedTuple):
    """The edges of all contours of an ROI's planes laid end to end: start points (px, py),
    end points (qx, qy), each edge's contour, each contour's size and plane, and the edges'
    order by their lowest y (planes stacked apart along y)."""

    px: np.ndarray
    py: np.ndarray
    qx: np.ndarray
    qy: np.ndarray
    contour: np.ndarray
    sizes: np.ndarray
    plane_of_poly: np.ndarray
    order: np.ndarray


def _edges(planes: list[ContourPlane]) -> tuple[_Edges, np.ndarray, np.ndarray]:
    """The edges of ``planes`` (:class:`_Edges`) and their low and high y (mm), planes
    shifted apart along y so that edges of different planes never overlap."""
    polys = [poly for plane in planes for poly in plane.polygons]
    sizes = np.array([len(poly) for poly in polys])
    p = np.concatenate(polys)
    q = next_points(p, sizes)  # each edge's end: its contour's next point
    px, py, qx, qy = p[:, 0], p[:, 1], q[:, 0], q[:, 1]
    span = float(py.max() - py.min()) + 1.0
    plane_of_poly = np.repeat(np.arange(len(planes)), [len(pl.polygons) for pl in planes])
    shift = np.repeat(plane_of_poly * span, sizes)  # planes never overlap in y
    ylo = np.minimum(py, qy) + shift
    yhi = np.maximum(py, qy) + shift
    order = np.argsort(ylo, kind="stable")
    contour = np.repeat(np.arange(len(polys)), sizes)
    edges = _Edges(px, py, qx, qy, contour, sizes, plane_of_poly, order)
    return edges, ylo[order], yhi[order]


def _first_crossing(planes: list[ContourPlane], name: str = "the ROI") -> tuple[float, bool] | None:
    """(z, same contour?) of a proper crossing between two edges on one plane, or None.

    All edges of all planes are tested at once: planes are stacked apart along y, edges
    sorted by their lowest y, and only pairs whose y and x ranges overlap are tested
    (orientation test; edges that merely touch, and neighbouring edges, do not count), in
    chunks of at most :data:`CROSSING_PAIRS_PER_CHUNK` pairs. The crossing reported is
    that of the first edge (in contour order) that has one, with its first partner in y
    order. More than :data:`MAX_CROSSING_PAIRS` candidate pairs are refused
    (:class:`GeometryError` naming ``name``).
    """
    edges, ylo_s, yhi_s = _edges(planes)
    n = len(ylo_s)
    # count[a] = #{b > a: ylo_s[b] <= yhi_s[a]} (ylo_s sorted: the first edges after a; the
    # candidate pairs of a are the contiguous run a + 1 … a + count[a], so gathers stay
    # local): up to _NEAR_EDGES by comparing shifted slices, binary search only for the
    # edges with more (most edges have two or three: cheaper than a search for every edge)
    count = np.zeros(n, dtype=np.intp)
    for d in range(1, min(_NEAR_EDGES, n - 1) + 1):
        count[:-d] += ylo_s[d:] <= yhi_s[:-d]
    more = np.flatnonzero(count == _NEAR_EDGES)
    if more.size:
        count[more] = np.searchsorted(ylo_s, yhi_s[more], side="right") - more - 1
    if not count.any():
        return None
    total = int(count.sum())
    if total > MAX_CROSSING_PAIRS:
        raise GeometryError(
            f"{name} has contours too complex to check for crossings ({total:.3g} pairs of "
            f"edges side by side, more than {MAX_CROSSING_PAIRS:.3g}; "
            f"{int(edges.sizes.max())} vertices in its largest contour)",
            remedy=_SIMPLIFY,
        )
    take = np.take
    order = edges.order
    xlo_s = take(np.minimum(edges.px, edges.qx), order)
    xhi_s = take(np.maximum(edges.px, edges.qx), order)
    best: tuple[int, int] | None = None  # (edge, its partner's rank in y order)
    for firsts, seconds in _x_overlapping_pairs(xlo_s, xhi_s, count, more):
        found = _first_proper_crossing(edges, take(order, firsts), take(order, seconds), seconds)
        if found is not None and (best is None or found < best):
            best = found
    if best is None:
        return None
    i, rank_j = best
    j = int(order[rank_j])
    ci = int(edges.contour[i])
    return planes[int(edges.plane_of_poly[ci])].z_mm, bool(ci == int(edges.contour[j]))


def _first_proper_crossing(
    edges: _Edges, i: np.ndarray, j: np.ndarray, rank_j: np.ndarray
) -> tuple[int, int] | None:
    """Of the candidate pairs of edges (i, j) (``rank_j``: j's place in y order), the
    first that cross properly, as (i, rank of j), smallest i first; None when none do."""
    # neighbouring edges of one contour share a vertex: not a crossing
    gap = np.abs(i - j)
    contour, sizes = edges.contour, edges.sizes
    ci = contour[i]
    apart = np.flatnonzero((ci != contour[j]) | ((gap != 1) & (gap != sizes[ci] - 1)))
    i, j, rank_j = i[apart], j[apart], rank_j[apart]
    if i.size == 0:
        return None
    orient = _orientation
    px, py, qx, qy = edges.px, edges.py, edges.qx, edges.qy
    pix, piy, qix, qiy = px[i], py[i], qx[i], qy[i]
    pjx, pjy, qjx, qjy = px[j], py[j], qx[j], qy[j]
    proper = (
        orient(pix, piy, qix, qiy, pjx, pjy) * orient(pix, piy, qix, qiy, qjx, qjy) < 0
    ) & (orient(pjx, pjy, qjx, qjy, pix, piy) * orient(pjx, pjy, qjx, qjy, qix, qiy) < 0)
    if not proper.any():
        return None
    i, rank_j = i[proper], rank_j[proper]
    first = int(np.lexsort((rank_j, i))[0])
    return int(i[first]), int(rank_j[first])


def _x_overlapping_pairs(
    xlo_s: np.ndarray, xhi_s: np.ndarray, count: np.ndarray, more: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The candidate pairs (a, b) of edges in y-sorted order, a < b <= a + count[a] (their
    y ranges overlap), whose x ranges [xlo_s, xhi_s] overlap too, in chunks of at most
    about :data:`CROSSING_PAIRS_PER_CHUNK` candidates; ``more``: the edges with more than
    :data:`_NEAR_EDGES` partners."""
    # the pairs (a, a + d) for d up to _NEAR_EDGES by shifted slices (no gathers), those
    # beyond for the edges with more (np.take and index lists: faster than fancy and
    # boolean indexing); most pairs fail the x test (edges across the contour). Their
    # order does not matter: _first_crossing chooses the crossing it reports by edge
    # order and rank.
    take = np.take
    n = len(xlo_s)
    firsts, seconds = [], []
    for d in range(1, min(_NEAR_EDGES, n - 1) + 1):
        near = np.flatnonzero(
            (count[:-d] >= d) & (xlo_s[:-d] <= xhi_s[d:]) & (xlo_s[d:] <= xhi_s[:-d])
        )
        firsts.append(near)
        seconds.append(near + d)
    yield np.concatenate(firsts), np.concatenate(seconds)
    extra = count[more] - _NEAR_EDGES  # partners beyond the first _NEAR_EDGES
    if not int(extra.sum()):
        return
    # chunks of consecutive edges of ``more`` whose partners add up to the chunk size
    bounds = np.searchsorted(
        np.cumsum(extra), np.arange(CROSSING_PAIRS_PER_CHUNK, int(extra.sum()), CROSSING_PAIRS_PER_CHUNK)
    )
    for part in np.split(np.arange(more.size), np.unique(bounds + 1)):
        if not part.size:
            continue
        chunk = take(more, part)
        beyond = ragged_ranges(take(extra, part), chunk + _NEAR_EDGES + 1)
        a, b = take(chunk, beyond.group), beyond.value
        keep = np.flatnonzero((take(xlo_s, a) <= take(xhi_s, b)) & (take(xlo_s, b) <= take(xhi_s, a)))
        yield take(a, keep), take(b, keep)


def _orientation(
    ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray, cx: np.ndarray, cy: np.ndarray
) -> np.ndarray:
    """Twice the signed area of triangles a, b, c (> 0: counter-clockwise)."""
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


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
