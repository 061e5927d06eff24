"""Sample positions on the dose grid and dose interpolation there.

The dose grid is a lattice of voxel centres (``DoseGrid.x_mm``/``y_mm``/``z_mm``, any
spacing per axis); a voxel extends to the midpoints between centres (:func:`voxel_edges`),
and a voxel on the boundary of a structure is sampled at s × s × s sub-voxel centres
(:func:`subsample_centres`). Positions map to *fractional indices* along each axis
(:func:`fractional_index`), at which the dose is interpolated trilinearly
(:func:`trilinear`: the value of the outermost voxel centre in the grid's outer half voxel).
The masks precompute the same interpolation as per-axis weights of each voxel's neighbours
(:func:`axis_weights`), so that all s³ sub-samples of a voxel are one small matrix product.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Largest supersampling factor (sub-sample counts per voxel are held in uint8: s³ ≤ 255).
MAX_SUPERSAMPLING = 6


def voxel_edges(centres_mm: np.ndarray) -> np.ndarray:
    """Voxel boundaries (n + 1) for voxel centres: midpoints, outer voxels symmetric."""
    c = np.asarray(centres_mm, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])  # a single plane: 1 mm thick by convention
    mid = (c[:-1] + c[1:]) / 2.0
    return np.concatenate(([c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]))


def subsample_centres(edges: np.ndarray, s: int) -> np.ndarray:
    """Sub-voxel sample centres (n·s) of voxels with the given edges."""
    width = np.diff(edges)
    offs = (np.arange(s) + 0.5) / s
    return (edges[:-1, None] + width[:, None] * offs[None, :]).ravel()


def fractional_index(centres: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Fractional indices along one grid axis of positions on it.

    ``centres`` are the axis's voxel centres (mm, ascending; any spacing), ``positions``
    any array of coordinates (mm) on the same axis. Position ``centres[i]`` has index i;
    between two centres the index is linear in the position (so on a non-uniform axis a
    unit of index is the local spacing); beyond the outermost centres it goes on linearly
    with the outermost spacing (not clamped: :func:`trilinear` clamps, a caller may want
    to know how far outside a point lies). A single-centre axis gives index 0 everywhere.
    These are the indices :func:`trilinear` interpolates at.
    """
    n = centres.size
    if n == 1:
        return np.zeros(positions.shape)
    idx = np.interp(positions, centres, np.arange(n, dtype=float))
    idx = np.where(
        positions < centres[0], (positions - centres[0]) / (centres[1] - centres[0]), idx
    )
    last = (n - 1) + (positions - centres[-1]) / (centres[-1] - centres[-2])
    return np.where(positions > centres[-1], last, idx)


class AxisCells(NamedTuple):
    """The interpolation cell of fractional indices along one axis (see :func:`axis_cells`)."""

    #: index of the cell's lower node
    lower: np.ndarray
    #: weight of the upper node (0–1); the lower node's is 1 − upper_weight
    upper_weight: np.ndarray
    #: index of the cell's upper node (the lower one on an axis of one node)
    upper: np.ndarray


def axis_cells(index: np.ndarray, n: int) -> AxisCells:
    """Lower node, weight of the upper node and upper node of fractional indices along an
    axis of n nodes, clamped to [0, n − 1] (the arithmetic of :func:`trilinear`)."""
    p = np.minimum(np.maximum(index, 0.0), n - 1)
    i0 = np.minimum(np.floor(p).astype(np.intp), max(n - 2, 0))
    return AxisCells(i0, p - i0, np.minimum(i0 + 1, n - 1))


class NodeRange(NamedTuple):
    """The first and last grid node (indices along one axis) of a range of cells."""

    first: np.ndarray
    last: np.ndarray


def bracketing_nodes(
    centres: np.ndarray, lo: float | np.ndarray, hi: float | np.ndarray
) -> NodeRange:
    """First and last node (indices into ``centres``, mm, clamped to the grid) of the grid
    cells that an interval [lo, hi] (mm) along the axis touches: the nodes whose doses
    bound the interpolated dose over it (numbers or arrays of intervals)."""
    return NodeRange(
        np.maximum(centres.searchsorted(lo, side="right") - 1, 0),
        np.minimum(centres.searchsorted(hi, side="left"), centres.size - 1),
    )


def trilinear(array: np.ndarray, index_points: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of a 3-D array at (M, 3) fractional indices (clamped to range).

    Hand-written and vectorised (eight gathers); indices outside [0, n−1] are clamped, i.e.
    the value of the outermost voxel centre is used in the outer half voxel.
    """
    a = np.asarray(array)
    if len(index_points) == 0:
        return np.zeros(0)
    idx = index_points.astype(np.float64)
    z0, fz, z1 = axis_cells(idx[:, 0], a.shape[0])
    y0, fy, y1 = axis_cells(idx[:, 1], a.shape[1])
    x0, fx, x1 = axis_cells(idx[:, 2], a.shape[2])
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


def trilinear_columns(
    array: np.ndarray,
    z_index: np.ndarray,
    z_start: np.ndarray,
    z_count: np.ndarray,
    y_index: np.ndarray,
    x_index: np.ndarray,
    group: np.ndarray,
) -> np.ndarray:
    """:func:`trilinear` of ``array`` at every point (y_index[i],
    x_index[i]) at each of its group's heights z_index[z_start[g] : z_start[g] + z_count[g]]
    (g = group[i]), bit for bit: (points, most heights) values, row i at its heights in
    order, the last repeated to fill the row.

    The same arithmetic, factored: trilinear is (c00·gy + c01·fy)·(1 − fz) +
    (c10·gy + c11·fy)·fz, the bilinear values of the cell's lower and upper dose planes
    weighted along z; a column's bilinear value on each dose plane is computed once for
    all its heights (a point on a wall is evaluated at 3–5 heights).
    """
    nz, ny, nx = array.shape
    flat = array.reshape(-1)
    z0, fz, z1 = axis_cells(z_index, nz)
    y0, fy, y1 = axis_cells(y_index, ny)
    x0, fx, x1 = axis_cells(x_index, nx)
    # each column's bilinear value on the dose planes its group's heights touch (the
    # last repeated to fill the row); the upper node along an axis is the lower one's
    # successor (or itself on an axis of one node): its value is gathered at the same
    # index from the array shifted by that step
    k_lo = np.minimum.reduceat(z0, z_start)
    k_hi = np.maximum.reduceat(z1, z_start)
    planes = np.minimum(k_lo[:, None] + np.arange(int((k_hi - k_lo).max()) + 1), k_hi[:, None])
    node = (planes * (ny * nx))[group] + (y0 * nx + x0)[:, None]
    dy, dx = min(ny - 1, 1) * nx, min(nx - 1, 1)
    fxc, gxc = fx[:, None], (1 - fx)[:, None]
    c0 = flat[node] * gxc + flat[dx:][node] * fxc
    c1 = flat[dy:][node] * gxc + flat[dy + dx :][node] * fxc
    layer = c0 * (1 - fy)[:, None] + c1 * fy[:, None]
    # every point at each of its heights: its two planes' values weighted along z, computed
    # height by height ((heights, points), returned transposed: the reductions over each
    # point's heights are then elementwise along the points)
    h = z_start[group] + np.minimum(np.arange(int(z_count.max()))[:, None], z_count[group] - 1)
    at = np.arange(group.size) * layer.shape[1] + (z0[h] - k_lo[group])
    flat_layer = layer.reshape(-1)
    lower, upper = flat_layer[at], flat_layer[min(nz - 1, 1) :][at]
    fz_h = fz[h]
    return (lower * (1 - fz_h) + upper * fz_h).T


def axis_weights(centres: np.ndarray, box: tuple[int, int], sub: np.ndarray, s: int) -> np.ndarray:
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


class AxisSampling(NamedTuple):
    """The sub-samples of a range of voxels along one axis of the grid (see
    :func:`axis_sampling`)."""

    #: size (mm) of each voxel of the range
    voxel_mm: np.ndarray
    #: the s sub-sample centres (mm) of each voxel, voxel by voxel
    sub_mm: np.ndarray
    #: fractional whole-grid index of each sub-sample centre (:func:`fractional_index`)
    sub_index: np.ndarray
    #: (voxels, s, 3) trilinear weights of each voxel's neighbours at its sub-samples
    weights: np.ndarray


def axis_sampling(
    centres_mm: np.ndarray, edges_mm: np.ndarray, box: tuple[int, int], s: int
) -> AxisSampling:
    """The sub-samples of the voxels [box[0], box[1]) along an axis with voxel centres
    ``centres_mm`` and voxel edges ``edges_mm`` (:func:`voxel_edges`), at supersampling s:
    what a mask needs to sample the dose there."""
    edges = edges_mm[box[0] : box[1] + 1]
    sub = subsample_centres(edges, s)
    return AxisSampling(
        voxel_mm=np.diff(edges),
        sub_mm=sub,
        sub_index=fractional_index(centres_mm, sub),
        weights=axis_weights(centres_mm, box, sub, s),
    )


def weight_classes_zyx(
    wz: np.ndarray, wy: np.ndarray, wx: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The distinct trilinear weight tables along z, y and x (:func:`axis_weights` of each
    axis) and each voxel's class, per axis (see :func:`_weight_classes`): on a uniform grid
    nearly every voxel has one class, so its sub-samples share one interpolation matrix."""
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


#: Rows per BLAS call in :func:`_matmul_rows`.
_MATMUL_BLOCK_ROWS = 1024


def _matmul_rows(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``a @ w`` for a tall ``a`` (n, 27), in blocks of rows.

    Large products make OpenBLAS start its threads, which on a busy machine costs many
    times the arithmetic of these small products; blocks of 1024 rows stay below its
    threading threshold (docs/performance.md).
    """
    out = np.empty((a.shape[0], w.shape[1]), dtype=np.result_type(a, w))
    for r in range(0, a.shape[0], _MATMUL_BLOCK_ROWS):
        np.matmul(a[r : r + _MATMUL_BLOCK_ROWS], w, out=out[r : r + _MATMUL_BLOCK_ROWS])
    return out


def _kron_weights(
    cls: int, wz: np.ndarray, wy: np.ndarray, wx: np.ndarray, s: int
) -> np.ndarray:
    """The (27, s³) matrix that takes a voxel's 3 × 3 × 3 dose patch to its s³ sub-sample
    doses, for weight class ``cls`` (its z, y and x classes, row-major): the Kronecker
    product W[(i,j,l), (a,b,d)] = wz[a,i] · wy[b,j] · wx[d,l] of the per-axis weights."""
    iz_, rest = divmod(int(cls), len(wy) * len(wx))
    iy_, ix_ = divmod(rest, len(wx))
    return np.einsum("ai,bj,dl->ijlabd", wz[iz_], wy[iy_], wx[ix_]).reshape(27, s**3)


def interpolate_sub_samples(
    dose_gy: np.ndarray,
    box: tuple[slice, slice, slice],
    layer: np.ndarray,
    row: np.ndarray,
    column: np.ndarray,
    weight_classes: tuple[tuple[np.ndarray, np.ndarray], ...],
    s: int,
) -> np.ndarray:
    """Trilinear doses (Gy) at all s³ sub-samples of the voxels (``layer``, ``row``,
    ``column``: indices in the ``box`` of the grid ``dose_gy``): (voxels, s, s, s).

    By 3×3×3 patches: one gather of the 27 neighbours per voxel; all s³ sub-sample doses
    are then patch @ W, with W the Kronecker product of the per-axis trilinear weights
    (``weight_classes``: :func:`weight_classes_zyx` of the box). On a uniform grid all
    voxels away from the grid's edges share one W (one BLAS product); the few classes at
    the edges (and non-uniform z) get their own. Neighbours beyond the grid have weight
    exactly 0, so their clipped flat index is harmless. This is the DVH's hot path.
    """
    k, iy, ix = layer, row, column
    g0 = np.array([sl.start for sl in box])
    nzg, nyg, nxg = dose_gy.shape
    off = np.arange(-1, 2)
    offsets = ((off[:, None, None] * nyg + off[None, :, None]) * nxg + off[None, None, :]).ravel()
    base = ((g0[0] + k) * nyg + (g0[1] + iy)) * nxg + (g0[2] + ix)
    flat = base[:, None] + offsets[None, :]
    if len(k) and (base.min() + offsets[0] < 0 or base.max() + offsets[-1] >= dose_gy.size):
        np.clip(flat, 0, dose_gy.size - 1, out=flat)
    patch = np.take(dose_gy.reshape(-1), flat)  # (nb, 27); np.take: cheaper than indexing
    (cz, wz), (cy, wy), (cx, wx) = weight_classes
    cls = (cz[k] * len(wy) + cy[iy]) * len(wx) + cx[ix]
    if not len(cls) or (cls == cls[0]).all():  # usual: one class (no sorting)
        classes = members = cls[:1]
    else:
        classes, members = np.unique(cls, return_counts=True)
    main = classes[np.argmax(members)] if len(classes) else 0
    sub = _matmul_rows(patch, _kron_weights(main, wz, wy, wx, s))
    for c in classes:
        if c != main:
            rows = np.flatnonzero(cls == c)
            sub[rows] = _matmul_rows(patch[rows], _kron_weights(c, wz, wy, wx, s))
    return sub.reshape(len(k), s, s, s)
