"""Analytic phantoms with closed-form DVH truth, built in memory (deterministic).

In the manner of Nelms et al., Med Phys 42(8) 2015 (doi 10.1118/1.4923175): spheres,
cylinders (axis along z and along x), boxes and cones from 0.1 cc to 500 cc, contoured on
1–3 mm planes, in dose grids of 1–3 mm with a uniform dose or a linear gradient along x, y
or z. Each :class:`Phantom` holds a :class:`rtcheck.models.StructureSet` (one ROI, number 1)
and a :class:`rtcheck.models.DoseGrid`, with :class:`Truth` for

* ``"ideal"`` — the smooth solid (sphere, cylinder, ...);
* ``"half_slice"`` and ``"none"`` — the *contoured* solid: each contour plane stands for a
  slab (midpoints between planes; end slabs half a spacing beyond the end planes with
  ``"half_slice"``, ending at the end planes with ``"none"``), so e.g. a contoured sphere is
  a stack of cylinders. This is the truth a DVH computed from the contours should match.

Circles are contoured as regular polygons with :data:`CIRCLE_VERTICES` vertices whose radius
is scaled so that the polygon has exactly the circle's area; the truth treats each contour
as the exact circle (the difference in extent is < 0.02 % of the radius).

Truth is computed here independently of :mod:`rtcheck.dvhcalc` (its own slab convention
code, closed-form circular segments and rectangles; the ideal solid by a fine midpoint
quadrature over z of the closed-form cross-sections).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rtcheck.models import Contour, DoseGrid, Structure, StructureSet

CIRCLE_VERTICES = 256
SHAPES = ("sphere", "cylinder_z", "cylinder_x", "box", "cone")
GRADIENTS = ("none", "x", "y", "z")
STANDARD_VOLUMES_CC = (0.1, 0.5, 1.0, 5.0, 30.0, 100.0, 500.0)
_AXIS = {"x": 0, "y": 1, "z": 2}


# --------------------------------------------------------------------------------------
# Cross-sections
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Section:
    """A planar cross-section: a disk (centre u, v; radius) or a rectangle (x, y ranges)."""

    kind: str  # "disk" | "rect"
    cx: float
    cy: float
    a: float  # disk: radius; rect: half width along x
    b: float = 0.0  # rect: half width along y

    @property
    def area(self) -> float:
        """Area of the section (mm²)."""
        return np.pi * self.a**2 if self.kind == "disk" else 4.0 * self.a * self.b

    def extent(self, axis: int) -> tuple[float, float]:
        """Lowest and highest coordinate (mm) of the section along ``axis`` (0: x, 1: y)."""
        c = self.cx if axis == 0 else self.cy
        half = self.a if (self.kind == "disk" or axis == 0) else self.b
        return c - half, c + half

    def area_at_least(self, axis: int, t: np.ndarray) -> np.ndarray:
        """Area of the part with coordinate (x for axis 0, y for 1) ≥ t (vectorised in t)."""
        lo, hi = self.extent(axis)
        t = np.asarray(t, dtype=float)
        if self.kind == "rect":
            other = 2.0 * (self.b if axis == 0 else self.a)
            return other * np.clip(hi - t, 0.0, hi - lo)
        r = self.a
        h = np.clip((t - (lo + r)) / r, -1.0, 1.0) if r > 0 else np.ones_like(t)
        return r * r * (np.arccos(h) - h * np.sqrt(1.0 - h * h))

    def polygon(self) -> np.ndarray:
        """The section's outline as an (N, 2) array of (x, y) in mm."""
        if self.kind == "rect":
            return np.array(
                [
                    [self.cx - self.a, self.cy - self.b],
                    [self.cx + self.a, self.cy - self.b],
                    [self.cx + self.a, self.cy + self.b],
                    [self.cx - self.a, self.cy + self.b],
                ]
            )
        n = CIRCLE_VERTICES
        scale = np.sqrt(2.0 * np.pi / (n * np.sin(2.0 * np.pi / n)))  # equal-area polygon
        ang = 2.0 * np.pi * np.arange(n) / n
        r = self.a * scale
        return np.stack([self.cx + r * np.cos(ang), self.cy + r * np.sin(ang)], axis=1)


@dataclass(frozen=True)
class Shape:
    """An analytic solid. ``size_mm``: sphere (R,), cylinders (R, length), box (sx, sy, sz),
    cone (base radius R, height h; base at the bottom, apex up)."""

    kind: str
    center_mm: tuple[float, float, float]
    size_mm: tuple[float, ...]

    def z_range(self) -> tuple[float, float]:
        """Lowest and highest z (mm) of the shape."""
        cz = self.center_mm[2]
        if self.kind == "sphere":
            half = self.size_mm[0]
        elif self.kind == "cylinder_z":
            half = self.size_mm[1] / 2
        elif self.kind == "cylinder_x":
            half = self.size_mm[0]
        elif self.kind == "box":
            half = self.size_mm[2] / 2
        elif self.kind == "cone":
            half = self.size_mm[1] / 2
        else:
            raise ValueError(self.kind)
        return cz - half, cz + half

    def half_extent_mm(self) -> np.ndarray:
        """Half extents (x, y, z) of the bounding box."""
        z0, z1 = self.z_range()
        k, s = self.kind, self.size_mm
        if k in ("sphere", "cylinder_z", "cone"):
            return np.array([s[0], s[0], (z1 - z0) / 2])
        if k == "cylinder_x":
            return np.array([s[1] / 2, s[0], s[0]])
        return np.array([s[0] / 2, s[1] / 2, s[2] / 2])

    def section(self, z: float) -> _Section | None:
        """The shape's cross-section at height ``z`` (mm); None outside the shape."""
        cx, cy, cz = self.center_mm
        k, s = self.kind, self.size_mm
        z0, z1 = self.z_range()
        if not z0 <= z <= z1:
            return None
        if k == "sphere":
            r2 = s[0] ** 2 - (z - cz) ** 2
            return _Section("disk", cx, cy, float(np.sqrt(r2))) if r2 > 0 else None
        if k == "cylinder_z":
            return _Section("disk", cx, cy, s[0])
        if k == "cylinder_x":
            w2 = s[0] ** 2 - (z - cz) ** 2
            return _Section("rect", cx, cy, s[1] / 2, float(np.sqrt(w2))) if w2 > 0 else None
        if k == "box":
            return _Section("rect", cx, cy, s[0] / 2, s[1] / 2)
        if k == "cone":
            r = s[0] * (z1 - z) / s[1]
            return _Section("disk", cx, cy, r) if r > 0 else None
        raise ValueError(k)

    @property
    def ideal_volume_mm3(self) -> float:
        """Volume (mm³) of the smooth shape (not of its contoured slabs)."""
        k, s = self.kind, self.size_mm
        if k == "sphere":
            return 4.0 / 3.0 * np.pi * s[0] ** 3
        if k in ("cylinder_z", "cylinder_x"):
            return np.pi * s[0] ** 2 * s[1]
        if k == "box":
            return s[0] * s[1] * s[2]
        return np.pi * s[0] ** 2 * s[1] / 3.0


def shape_for_volume(
    kind: str, volume_cc: float, center_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> Shape:
    """A shape of the given ideal volume: cylinders and cones as tall as they are wide
    (length = 2R), boxes with sides a × 1.25a × 0.8a."""
    v = volume_cc * 1000.0
    if kind == "sphere":
        size: tuple[float, ...] = ((3 * v / (4 * np.pi)) ** (1 / 3),)
    elif kind in ("cylinder_z", "cylinder_x"):
        r = (v / (2 * np.pi)) ** (1 / 3)
        size = (r, 2 * r)
    elif kind == "box":
        a = v ** (1 / 3)
        size = (a, 1.25 * a, 0.8 * a)
    elif kind == "cone":
        r = (3 * v / (2 * np.pi)) ** (1 / 3)
        size = (r, 2 * r)
    else:
        raise ValueError(f"unknown shape {kind!r}; choose from {SHAPES}")
    cx, cy, cz = (float(c) for c in center_mm)
    return Shape(kind, (cx, cy, cz), tuple(float(x) for x in size))


# --------------------------------------------------------------------------------------
# Truth
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Truth:
    """Closed-form truth for one solid in one dose: volume (cc), doses (Gy), cumulative DVH."""

    volume_cc: float
    min_gy: float
    max_gy: float
    mean_gy: float
    _cumulative: Callable[[np.ndarray], np.ndarray] = field(repr=False)

    def cumulative_cc(self, dose_gy: float | np.ndarray) -> np.ndarray:
        """Volume (cc) receiving at least ``dose_gy`` (vectorised)."""
        return self._cumulative(np.atleast_1d(np.asarray(dose_gy, dtype=float)))

    def dose_at_volume_cc(self, volume_cc: float, tol_gy: float = 1e-7) -> float:
        """Dose (Gy) received by at least ``volume_cc`` (bisection on the cumulative DVH)."""
        lo, hi = self.min_gy, self.max_gy
        if hi - lo < tol_gy:
            return hi
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if self.cumulative_cc(mid)[0] >= volume_cc:
                lo = mid
            else:
                hi = mid
            if hi - lo < tol_gy:
                break
        return 0.5 * (lo + hi)


@dataclass(frozen=True)
class LinearDose:
    """D(p) = dose_gy + gradient_gy_per_mm · (p[axis] − ref_mm[axis]) (uniform if axis None)."""

    dose_gy: float
    ref_mm: tuple[float, float, float]
    axis: str | None = None
    gradient_gy_per_mm: float = 0.0

    def at(self, coord: np.ndarray) -> np.ndarray:
        """Dose at coordinates along the gradient axis."""
        return self.dose_gy + self.gradient_gy_per_mm * (coord - self.ref_mm[_AXIS[self.axis]])  # type: ignore[index]

    def coordinate_of(self, dose_gy: np.ndarray) -> np.ndarray:
        """Coordinate (mm) along the gradient axis where the dose equals ``dose_gy`` (Gy)."""
        return self.ref_mm[_AXIS[self.axis]] + (dose_gy - self.dose_gy) / self.gradient_gy_per_mm  # type: ignore[index]


def _slabs_truth(slabs: Sequence[tuple[float, float, _Section]], dose: LinearDose) -> Truth:
    """Truth for a stack of slabs (z_lo, z_hi, constant cross-section)."""
    lo = np.array([s[0] for s in slabs])
    hi = np.array([s[1] for s in slabs])
    sections = [s[2] for s in slabs]
    areas = np.array([s.area for s in sections])
    vols = areas * (hi - lo)
    volume = float(vols.sum())
    vol_cc = volume / 1000.0
    if dose.axis is None or dose.gradient_gy_per_mm == 0:
        d = dose.dose_gy
        return Truth(vol_cc, d, d, d, lambda q: np.where(q <= d, vol_cc, 0.0))
    g = dose.gradient_gy_per_mm
    ax = _AXIS[dose.axis]
    if ax == 2:
        u_lo, u_hi = lo, hi
        centroid = float(np.dot(vols, (lo + hi) / 2) / volume)

        def cumulative(q: np.ndarray) -> np.ndarray:
            """Volume (cc) receiving at least each dose of ``q`` (Gy)."""
            t = dose.coordinate_of(q)[:, None]  # dose >= q  <=>  z >= t (g > 0) or z <= t
            if g > 0:
                length = np.clip(hi[None, :] - np.maximum(t, lo[None, :]), 0.0, None)
            else:
                length = np.clip(np.minimum(t, hi[None, :]) - lo[None, :], 0.0, None)
            return (length * areas[None, :]).sum(axis=1) / 1000.0

    else:
        ext = np.array([s.extent(ax) for s in sections])
        u_lo, u_hi = ext[:, 0], ext[:, 1]
        centroid = float(np.dot(vols, (u_lo + u_hi) / 2) / volume)
        thick = hi - lo

        def cumulative(q: np.ndarray) -> np.ndarray:
            """Volume (cc) receiving at least each dose of ``q`` (Gy)."""
            t = dose.coordinate_of(q)
            out = np.zeros(q.shape)
            for th, sec in zip(thick, sections, strict=True):
                if g > 0:
                    out += th * sec.area_at_least(ax, t)
                else:  # dose >= q  <=>  u <= t: mirror
                    out += th * (sec.area - sec.area_at_least(ax, t))
            return out / 1000.0

    d_lo, d_hi = float(dose.at(np.min(u_lo))), float(dose.at(np.max(u_hi)))
    return Truth(
        vol_cc, min(d_lo, d_hi), max(d_lo, d_hi), float(dose.at(np.array(centroid))), cumulative
    )


def contoured_slabs(
    shape: Shape, planes_z: np.ndarray, end_cap: str, slice_mm: float
) -> list[tuple[float, float, _Section]]:
    """The slabs a contoured solid stands for (uniform plane spacing ``slice_mm``; a single
    plane stands for a slab of ``slice_mm`` centred on it under both conventions)."""
    z = np.asarray(planes_z, dtype=float)
    h = float(slice_mm)
    slabs = []
    for i, zi in enumerate(z):
        sec = shape.section(float(zi))
        assert sec is not None
        lo, hi = zi - h / 2, zi + h / 2
        if end_cap == "none" and z.size > 1:
            lo = zi if i == 0 else lo
            hi = zi if i == z.size - 1 else hi
        slabs.append((lo, hi, sec))
    return slabs


def ideal_slabs(shape: Shape, n: int = 4000) -> list[tuple[float, float, _Section]]:
    """The smooth solid as ``n`` thin slabs (midpoint rule)."""
    z0, z1 = shape.z_range()
    edges = np.linspace(z0, z1, n + 1)
    mids = (edges[:-1] + edges[1:]) / 2
    out = []
    for a, b, m in zip(edges[:-1], edges[1:], mids, strict=True):
        sec = shape.section(float(m))
        if sec is not None:
            out.append((float(a), float(b), sec))
    return out


# --------------------------------------------------------------------------------------
# Phantoms
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Phantom:
    """A structure set (ROI 1: the solid) and a dose grid, with truth per convention."""

    name: str
    structure_set: StructureSet
    dose: DoseGrid
    shape: Shape
    dose_model: LinearDose
    slice_mm: float
    grid_mm: float
    truths: dict[str, Truth]

    @property
    def structure(self) -> Structure:
        """The phantom's only structure."""
        return self.structure_set.structures[0]

    def truth(self, end_cap: str = "half_slice") -> Truth:
        """Truth for the contoured solid with ``end_cap``, or ``"ideal"`` for the smooth one."""
        return self.truths[end_cap]


def contour_planes_z(shape: Shape, slice_mm: float, plane_offset_mm: float = 0.0) -> np.ndarray:
    """Contour plane heights z0 + k·slice_mm (z0 = plane_offset_mm) cutting the solid."""
    z0, z1 = shape.z_range()
    k0 = int(np.ceil((z0 - plane_offset_mm) / slice_mm))
    k1 = int(np.floor((z1 - plane_offset_mm) / slice_mm))
    zs = plane_offset_mm + slice_mm * np.arange(k0, k1 + 1)
    keep = [shape.section(float(z)) is not None and shape.section(float(z)).area > 1e-6 for z in zs]  # type: ignore[union-attr]
    return zs[np.array(keep, dtype=bool)] if zs.size else zs


def make_phantom(
    shape: Shape,
    *,
    slice_mm: float = 2.0,
    grid_mm: float = 2.0,
    gradient: str = "none",
    dose_gy: float = 50.0,
    gradient_percent_per_mm: float = 1.0,
    plane_offset_mm: float = 0.0,
    grid_offset_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    margin_mm: float = 6.0,
    name: str | None = None,
) -> Phantom:
    """One phantom: ``shape`` contoured on planes z = plane_offset_mm + k·slice_mm, in a dose
    grid of ``grid_mm`` voxels (voxel centres at grid_offset_mm + k·grid_mm) covering the
    solid with ``margin_mm`` to spare; dose ``dose_gy`` at the shape's centre, with a linear
    gradient of ``gradient_percent_per_mm`` % of ``dose_gy`` per mm along ``gradient``.
    """
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {GRADIENTS}")
    planes = contour_planes_z(shape, slice_mm, plane_offset_mm)
    if planes.size == 0:
        raise ValueError("the shape is thinner than the slice spacing: no contour plane cuts it")
    contours = []
    for z in planes:
        sec = shape.section(float(z))
        assert sec is not None
        contours.append(Contour(float(z), sec.polygon()))
    structure = Structure(
        1, f"{shape.kind}_{shape.ideal_volume_mm3 / 1000:g}cc", tuple(contours), "ORGAN"
    )
    label = (
        name
        or f"{shape.kind} {shape.ideal_volume_mm3 / 1000:g} cc, {slice_mm:g} mm slices, {grid_mm:g} mm grid, gradient {gradient}"
    )
    ss = StructureSet(
        f"2.25.{int(hashlib.sha1(label.encode()).hexdigest()[:16], 16)}",
        "2.25.1",
        (structure,),
        label="phantom",
    )

    centre = np.array(shape.center_mm)
    half = shape.half_extent_mm() + margin_mm + grid_mm
    axes = []
    for i in range(3):
        k0 = int(np.floor((centre[i] - half[i] - grid_offset_mm[i]) / grid_mm))
        k1 = int(np.ceil((centre[i] + half[i] - grid_offset_mm[i]) / grid_mm))
        axes.append(grid_offset_mm[i] + grid_mm * np.arange(k0, k1 + 1))
    x, y, z = axes
    axis = None if gradient == "none" else gradient
    g = dose_gy * gradient_percent_per_mm / 100.0 if axis else 0.0
    model = LinearDose(dose_gy, tuple(shape.center_mm), axis, g)  # type: ignore[arg-type]
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    if axis is None:
        values = np.full(zz.shape, dose_gy)
    else:
        values = model.at({"x": xx, "y": yy, "z": zz}[axis])
    grid = DoseGrid(values, x, y, z, frame_of_reference_uid="2.25.1")
    truths = {
        "ideal": _slabs_truth(ideal_slabs(shape), model),
        "half_slice": _slabs_truth(contoured_slabs(shape, planes, "half_slice", slice_mm), model),
        "none": _slabs_truth(contoured_slabs(shape, planes, "none", slice_mm), model),
    }
    return Phantom(label, ss, grid, shape, model, slice_mm, grid_mm, truths)


def standard_phantom_set(
    shapes: Sequence[str] = SHAPES,
    volumes_cc: Sequence[float] = STANDARD_VOLUMES_CC,
    grids_mm: Sequence[float] = (1.0, 2.0, 3.0),
    gradients: Sequence[str] | None = None,
) -> list[Phantom]:
    """The standard set: every shape × volume × dose grid, deterministic.

    The slice spacing (1, 2, 3 mm), the gradient axis (none, x, y, z when ``gradients`` is
    None; else every listed gradient), the position of the contour planes relative to the
    dose planes (on voxel centres, on voxel boundaries, in between) and a sub-voxel shift of
    the shape's centre cycle deterministically with the phantom's index, so the set covers
    all combinations without being their full product. Where the cycled slice spacing would
    cut a solid on a single plane, 1 mm slices are used instead (every ROI of the set has at
    least two contour planes, so its slab thickness is known from its own contours).
    """
    out = []
    i = 0
    for kind in shapes:
        for vol in volumes_cc:
            for grid in grids_mm:
                grads = GRADIENTS if gradients is None else tuple(gradients)
                choose = [grads[i % len(grads)]] if gradients is None else list(grads)
                for grad in choose:
                    slice_mm = (1.0, 2.0, 3.0)[(i // 2) % 3]
                    centre = (0.31 * (i % 5), -0.23 * (i % 7), 0.17 * (i % 3))
                    plane_offset = (0.0, grid / 2, grid / 3)[(i // 3) % 3]
                    shape = shape_for_volume(kind, vol, centre)
                    if contour_planes_z(shape, slice_mm, plane_offset).size < 2:
                        # a single-plane ROI's slab thickness is not in its structure set
                        # (a reader must guess it): keep the standard set unambiguous
                        slice_mm = 1.0
                    out.append(
                        make_phantom(
                            shape,
                            slice_mm=slice_mm,
                            grid_mm=grid,
                            gradient=grad,
                            plane_offset_mm=plane_offset,
                        )
                    )
                    i += 1
    return out
