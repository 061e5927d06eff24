"""Generate the synthetic sample exports in sample_dicom/ (deterministic).

    python sample_dicom/generate.py            # rewrite the committed files in place
    python sample_dicom/generate.py --out DIR  # write a fresh copy elsewhere (tests do this)

Anatomy and doses are closed-form functions of position (mm, DICOM patient coordinates: x to
the patient's left, y posterior, z superior). Organs are constructive solid geometry of
ellipsoids and cylinders; their contours are the zero level set of a signed distance on each
CT slice plane. Doses are analytic functions sampled on the dose grid. The expected values in
expected.yaml are computed here from the analytic dose over the organs as contoured (each
slice's cross-section extruded ±half a slice), independently of rtcheck's DVH code.

See README.md in this folder for what each plan is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml
from scipy.interpolate import RegularGridInterpolator
from scipy.special import erf
from skimage.measure import approximate_polygon, find_contours, points_in_poly

from rtcheck.dicom_io.write import (
    Beam,
    DicomContext,
    DoseReference,
    RigidRegistration,
    derived_uid,
    write_dose,
    write_plan,
    write_registration,
    write_structure_set,
)
from rtcheck.models import Contour, DoseGrid, Plan, Structure, StructureSet

HERE = Path(__file__).resolve().parent
SEED = "rtcheck-sample-dicom-v1"
#: Written into every file (SoftwareVersions, ImplementationVersionName) instead of the rtcheck
#: version, so that a version bump does not change the committed samples. Bump "v1" when the
#: generator's output changes on purpose.
GENERATOR_SOFTWARE_VERSIONS = "rtcheck sample generator v1"
GENERATOR_IMPLEMENTATION_VERSION = "RTCHECK_SAMPLE_1"

#: CT slice planes (mm): contours lie on these.
SLICE_MM = 3.0
SLICE_Z = np.round(np.arange(-210.0, 150.0 + 1e-6, SLICE_MM), 3)

#: Contour polygon simplification tolerance (mm) and level-set raster step (mm).
POLYGON_TOLERANCE_MM = 0.3
SMALL_POLYGON_TOLERANCE_MM = 0.05
RASTER_MM = 1.0


# -- shapes (signed distances in mm, negative inside) --------------------------------------

@dataclass(frozen=True)
class Shape:
    """A solid: ``sdf(x, y, z)`` (≈ signed distance in mm, < 0 inside) and a bounding box."""

    sdf: object  # callable (x, y, z) -> array
    lo: tuple[float, float, float]
    hi: tuple[float, float, float]

    def __call__(self, x, y, z):
        return self.sdf(x, y, z)

    def minus(self, other: Shape) -> Shape:
        return Shape(lambda x, y, z: np.maximum(self(x, y, z), -other(x, y, z)), self.lo, self.hi)

    def intersect(self, other: Shape) -> Shape:
        lo = tuple(max(a, b) for a, b in zip(self.lo, other.lo, strict=True))
        hi = tuple(min(a, b) for a, b in zip(self.hi, other.hi, strict=True))
        return Shape(lambda x, y, z: np.maximum(self(x, y, z), other(x, y, z)), lo, hi)

    def union(self, other: Shape) -> Shape:
        lo = tuple(min(a, b) for a, b in zip(self.lo, other.lo, strict=True))
        hi = tuple(max(a, b) for a, b in zip(self.hi, other.hi, strict=True))
        return Shape(lambda x, y, z: np.minimum(self(x, y, z), other(x, y, z)), lo, hi)


def ellipsoid(centre, semi) -> Shape:
    cx, cy, cz = centre
    a, b, c = semi
    scale = min(semi)

    def sdf(x, y, z):
        q = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 + ((z - cz) / c) ** 2
        return (np.sqrt(q) - 1.0) * scale

    return Shape(sdf, (cx - a, cy - b, cz - c), (cx + a, cy + b, cz + c))


def cylinder(centre_xy, semi_xy, z_range) -> Shape:
    """Elliptic cylinder along z between z_range (inclusive)."""
    cx, cy = centre_xy
    a, b = semi_xy
    z0, z1 = z_range
    scale = min(semi_xy)

    def sdf(x, y, z):
        q = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2
        radial = (np.sqrt(q) - 1.0) * scale
        return np.maximum(radial, np.maximum(z0 - z, z - z1))

    return Shape(sdf, (cx - a, cy - b, z0), (cx + a, cy + b, z1))


def z_bands(shape: Shape, bands: list[tuple[float, float]]) -> Shape:
    """``shape`` restricted to the union of z intervals ``bands``."""

    def sdf(x, y, z):
        inside_band = np.zeros(np.broadcast(x, y, z).shape, dtype=bool)
        for z0, z1 in bands:
            inside_band |= (z >= z0) & (z <= z1)
        return np.where(inside_band, shape(x, y, z), np.maximum(shape(x, y, z), 1.0))

    return Shape(sdf, shape.lo, shape.hi)


# -- anatomy (one synthetic adult thorax-abdomen, shared by all scenarios) ---------------------

# z ranges reach half a millimetre past the end planes, so the end slices are contoured too.
BODY = cylinder((0.0, 0.0), (155.0, 105.0), (-210.5, 150.5))
VERTEBRAL_BODY_XY = (0.0, 40.0)
CORD = cylinder((0.0, 62.0), (5.0, 5.0), (-210.5, 150.5))
ESOPHAGUS_CENTRE_XY = (-2.0, 8.0)
ESOPHAGUS_RADIUS_MM = 8.0
ESOPHAGUS = cylinder(ESOPHAGUS_CENTRE_XY, (ESOPHAGUS_RADIUS_MM,) * 2, (-60.0, 144.0))
HEART = ellipsoid((25.0, -40.0, -10.0), (45.0, 38.0, 42.0))
LIVER_SOLID = ellipsoid((-60.0, 0.0, -110.0), (85.0, 80.0, 75.0))
KIDNEY_L = ellipsoid((70.0, 45.0, -150.0), (28.0, 25.0, 52.0))
KIDNEY_R = ellipsoid((-70.0, 45.0, -145.0), (28.0, 25.0, 52.0))
DUODENUM = cylinder((-30.0, 5.0), (12.0, 12.0), (-185.0, -135.0))
STOMACH = ellipsoid((65.0, -25.0, -95.0), (40.0, 35.0, 50.0))
BOWEL_SMALL = ellipsoid((10.0, -45.0, -180.0), (70.0, 40.0, 24.0))
LIVER = LIVER_SOLID.minus(KIDNEY_R).minus(DUODENUM).minus(STOMACH).intersect(BODY)
LUNG_R = ellipsoid((-80.0, 5.0, 40.0), (62.0, 75.0, 104.0))
LUNG_L = ellipsoid((80.0, 5.0, 40.0), (62.0, 75.0, 104.0))
LUNGS = LUNG_R.union(LUNG_L).minus(HEART).minus(LIVER_SOLID).minus(STOMACH).intersect(BODY)
KIDNEYS = KIDNEY_L.union(KIDNEY_R).intersect(BODY)
KIDNEY_L_IN_BODY = KIDNEY_L.intersect(BODY)
KIDNEY_R_IN_BODY = KIDNEY_R.intersect(BODY)
# Ribs: a 7 mm thick elliptical shell under the skin, in 9 mm bands every 24 mm (contoured as
# an outer contour with an inner hole on each slice of a band).
RIB_BANDS = [(-96.0 + 24.0 * j - 4.5, -96.0 + 24.0 * j + 4.5) for j in range(10)]
RIBS = z_bands(cylinder((0.0, 0.0), (152.0, 102.0), (-100.0, 130.0)).minus(
    cylinder((0.0, 0.0), (145.0, 95.0), (-300.0, 300.0))), RIB_BANDS)

# Palliative spine target: the T10 vertebra (body and posterior elements) with margin.
SPINE_PTV = cylinder((0.0, 50.0), (30.0, 38.0), (-78.0, -42.0))


# -- dose models (Gy) ---------------------------------------------------------------------

def _field_profile(u, half_width_mm, penumbra_sigma_mm=3.5, tail_fraction=0.04, tail_sigma_mm=25.0):
    """Relative open-field profile (1 on axis) across a field of given half width (mm)."""
    def box(sigma):
        s = math.sqrt(2.0) * sigma
        return 0.5 * (erf((u + half_width_mm) / s) - erf((u - half_width_mm) / s))
    return (box(penumbra_sigma_mm) + tail_fraction * box(tail_sigma_mm)) / (1.0 + tail_fraction)


@dataclass(frozen=True)
class ApPaDose:
    """AP/PA-like slab normalised so that the PTV receives at least ``prescription_gy``.

    D = D_axis · Px(x) · Pz(z − z_c) · (1 + depth_coeff · ((y − y_ref)/105)²), zero outside
    BODY. Px, Pz are field profiles (erf penumbra σ 3.5 mm + 4 % low-dose tail, 1 on the
    axis); D_axis = prescription / (Px(PTV half width) · Pz(PTV half length)), so the PTV's
    coldest point (its corner at depth y_ref) gets exactly the prescription.
    """

    prescription_gy: float
    x_half_mm: float
    z_range: tuple[float, float]
    ptv_x_half_mm: float
    ptv_z_range: tuple[float, float]
    y_ref_mm: float = 45.0
    depth_coeff: float = 0.06

    @property
    def _zc(self) -> float:
        return 0.5 * (self.z_range[0] + self.z_range[1])

    def _px(self, u):
        return _field_profile(u, self.x_half_mm) / _field_profile(0.0, self.x_half_mm)

    def _pz(self, u):
        zh = 0.5 * (self.z_range[1] - self.z_range[0])
        return _field_profile(u, zh) / _field_profile(0.0, zh)

    @property
    def axis_gy(self) -> float:
        """Dose on the beam axis at depth y_ref (Gy)."""
        edge_z = max(abs(self.ptv_z_range[0] - self._zc), abs(self.ptv_z_range[1] - self._zc))
        return self.prescription_gy / float(self._px(self.ptv_x_half_mm) * self._pz(edge_z))

    def __call__(self, x, y, z):
        depth = 1.0 + self.depth_coeff * ((y - self.y_ref_mm) / 105.0) ** 2
        dose = self.axis_gy * self._px(x) * self._pz(z - self._zc) * depth
        return np.where(BODY(x, y, z) <= 0, dose, 0.0)


@dataclass(frozen=True)
class Lesion:
    """Spherical SABR dose around a PTV of radius ``radius_mm``.

    D(r) = peak_gy / (1 + (r / r50)³), r the distance to ``centre``; r50 chosen so that
    D(radius) = surface_gy (PTV surface), and D(r50) = peak/2.
    """

    name: str
    centre: tuple[float, float, float]
    radius_mm: float
    peak_gy: float = 43.75
    surface_gy: float = 36.0

    @property
    def r50_mm(self) -> float:
        return self.radius_mm / (self.peak_gy / self.surface_gy - 1.0) ** (1.0 / 3.0)

    def dose(self, x, y, z):
        cx, cy, cz = self.centre
        r = np.sqrt((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2)
        return self.peak_gy / (1.0 + (r / self.r50_mm) ** 3)

    def at_distance(self, r_mm: float) -> float:
        return self.peak_gy / (1.0 + (r_mm / self.r50_mm) ** 3)

    @property
    def shape(self) -> Shape:
        return ellipsoid(self.centre, (self.radius_mm,) * 3)


LESIONS = (
    # Central right lower-lobe lesion whose PTV was not cropped from the oesophagus: the
    # oesophagus wall comes within 12.22 mm of the lesion centre (the deliberate error).
    Lesion("PTV_Lung", (-22.0, 5.0, 42.0), 15.0),
    Lesion("PTV_Liver", (-70.0, -25.0, -100.0), 18.0),
    Lesion("PTV_Spine", (0.0, 32.0, -129.0), 10.0),
)


def sabr_dose(x, y, z):
    dose = sum(lesion.dose(x, y, z) for lesion in LESIONS)
    return np.where(BODY(x, y, z) <= 0, dose, 0.0)


# -- contours and grids ---------------------------------------------------------------------

_CONTOUR_CACHE: dict[tuple[int, bytes], tuple[Contour, ...]] = {}


def contours_of(shape: Shape, slices=SLICE_Z) -> tuple[Contour, ...]:
    """Closed planar contours of ``shape`` on each slice plane (islands and holes)."""
    key = (id(shape), np.asarray(slices, dtype=float).tobytes())
    if key not in _CONTOUR_CACHE:
        _CONTOUR_CACHE[key] = _contours_of(shape, slices)
    return _CONTOUR_CACHE[key]


def _contours_of(shape: Shape, slices) -> tuple[Contour, ...]:
    out = []
    # The level set is interpolated linearly between raster points, so a coarse raster is
    # accurate for large, smooth organs; small ones get a finer raster.
    small = min(shape.hi[0] - shape.lo[0], shape.hi[1] - shape.lo[1]) < 60.0
    step = RASTER_MM if small else 2.0 * RASTER_MM
    x0, y0 = math.floor(shape.lo[0]) - 3.0 * step, math.floor(shape.lo[1]) - 3.0 * step
    x1, y1 = math.ceil(shape.hi[0]) + 3.0 * step, math.ceil(shape.hi[1]) + 3.0 * step
    xs = np.arange(x0, x1 + step / 2, step)
    ys = np.arange(y0, y1 + step / 2, step)
    gx, gy = np.meshgrid(xs, ys)  # rows = y, columns = x
    for z in slices:
        if z < shape.lo[2] - 1e-9 or z > shape.hi[2] + 1e-9:
            continue
        field = shape(gx, gy, np.full_like(gx, z))
        if not np.any(field < 0):
            continue
        field[0, :] = field[-1, :] = field[:, 0] = field[:, -1] = 1.0
        for path in find_contours(field, 0.0):
            tolerance_mm = POLYGON_TOLERANCE_MM if not small else SMALL_POLYGON_TOLERANCE_MM
            path = approximate_polygon(path, tolerance_mm / step)
            if len(path) > 1 and np.allclose(path[0], path[-1]):
                path = path[:-1]
            if len(path) < 3:
                continue
            pts = np.column_stack([x0 + path[:, 1] * step, y0 + path[:, 0] * step])
            out.append(Contour(float(z), np.round(pts, 2)))
    return tuple(out)


def make_grid(spacing_mm: float, origin=(-156.0, -108.0, -213.0), extent=(312.0, 216.0, 366.0)):
    axes = [np.round(o + np.arange(int(round(e / spacing_mm)) + 1) * spacing_mm, 3)
            for o, e in zip(origin, extent, strict=True)]
    return axes  # x, y, z


def dose_on_grid(dose_fn, axes, frame_uid, plan_uid, sop_uid) -> DoseGrid:
    x, y, z = axes
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    return DoseGrid(dose_fn(xx, yy, zz), x, y, z, frame_of_reference_uid=frame_uid,
                    sop_instance_uids=(sop_uid,), referenced_plan_uid=plan_uid)


# -- expected values from the analytic dose -------------------------------------------------

def organ_samples(structure: Structure, dose_fn, step_mm: float, sub_planes: int):
    """Dose samples (Gy, sorted descending) over ``structure`` as contoured, and the volume
    (cc) each sample stands for.

    Each slice's polygons (islands and holes, combined by XOR) are taken as constant over
    ±half a slice around their plane (the "half slice" end-capping convention); sampling is
    a regular grid of ``step_mm`` in-plane and ``sub_planes`` planes per slice. Point in
    polygon is skimage's, not rtcheck's.
    """
    by_z: dict[float, list[np.ndarray]] = {}
    for contour in structure.contours:
        by_z.setdefault(contour.z_mm, []).append(contour.points_mm)
    offsets = (np.arange(sub_planes) + 0.5) / sub_planes * SLICE_MM - SLICE_MM / 2
    doses, weight = [], step_mm**2 * SLICE_MM / sub_planes / 1000.0
    for z, polygons in sorted(by_z.items()):
        lo = np.min([p.min(axis=0) for p in polygons], axis=0)
        hi = np.max([p.max(axis=0) for p in polygons], axis=0)
        xs = np.arange(math.floor(lo[0]) - 1, math.ceil(hi[0]) + 1, step_mm) + step_mm / 2
        ys = np.arange(math.floor(lo[1]) - 1, math.ceil(hi[1]) + 1, step_mm) + step_mm / 2
        gx, gy = np.meshgrid(xs, ys)
        points = np.column_stack([gx.ravel(), gy.ravel()])
        inside = np.zeros(len(points), dtype=bool)
        for polygon in polygons:
            inside ^= points_in_poly(points, polygon)
        px, py = points[inside, 0], points[inside, 1]
        for dz in offsets:
            doses.append(dose_fn(px, py, np.full_like(px, z + dz)))
    dose = np.sort(np.concatenate(doses))[::-1]
    return dose, weight


def metrics(dose_desc: np.ndarray, voxel_cc: float, d_cc=(), v_gy=(), cv_gy=()) -> dict:
    volume = dose_desc.size * voxel_cc

    def d_at(cc):
        n = cc / voxel_cc
        if n > dose_desc.size:
            return None
        return float(np.interp(n - 0.5, np.arange(dose_desc.size), dose_desc))

    out = {
        "volume_cc": round(volume, 2),
        "max_gy": round(float(dose_desc[0]), 3),
        "mean_gy": round(float(dose_desc.mean()), 3),
        "D0.035cc_gy": _r(d_at(0.035)),
    }
    for cc in d_cc:
        out[f"D{cc:g}cc_gy"] = _r(d_at(cc))
    for gy in v_gy:
        out[f"V{gy:g}Gy_percent"] = round(100.0 * float(np.mean(dose_desc >= gy)), 2)
    for gy in cv_gy:
        out[f"volume_below_{gy:g}Gy_cc"] = round(float(np.sum(dose_desc < gy)) * voxel_cc, 1)
    return out


def _plain(value):
    """Plain Python types for YAML (UIDs are str subclasses, numbers may be numpy)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bool, type(None))):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    return float(value)


def _r(value):
    return None if value is None else round(value, 3)


def grid_interpolated_max(grid: DoseGrid, structure: Structure, step_mm=0.5, sub_planes=6):
    """D0.035cc and max of the *stored* (quantised, 3-mm) dose, trilinearly interpolated.

    Shows how far sampling the analytic dose on the grid moves the value (not rtcheck code).
    """
    interp = RegularGridInterpolator((grid.z_mm, grid.y_mm, grid.x_mm), grid.dose_gy)

    def fn(x, y, z):
        return interp(np.column_stack([z, y, x]))

    dose, voxel_cc = organ_samples(structure, fn, step_mm, sub_planes)
    return metrics(dose, voxel_cc)


# -- writing one scenario -------------------------------------------------------------------

@dataclass(frozen=True)
class Organ:
    roi_number: int
    name: str
    shape: Shape
    interpreted_type: str = "ORGAN"
    tg263: str | None = None


def build_structure_set(uid, frame_uid, organs, label, patient_id) -> StructureSet:
    structures = [Structure(o.roi_number, o.name, contours_of(o.shape), o.interpreted_type,
                            frame_uid) for o in organs]
    return StructureSet(uid, frame_uid, tuple(structures), label=label, patient_id=patient_id)


def expected_for(organs, structure_set: StructureSet, dose_fn, extra: dict[str, dict]) -> dict:
    result = {}
    for organ in organs:
        if organ.interpreted_type == "EXTERNAL":
            continue
        small = (np.prod(np.subtract(organ.shape.hi, organ.shape.lo)) < 400_000)
        structure = structure_set.by_number(organ.roi_number)
        dose, voxel_cc = organ_samples(structure, dose_fn, 0.5 if small else 1.0, 6 if small else 3)
        entry = {"tg263": organ.tg263 or organ.name, "roi_number": organ.roi_number}
        entry.update(metrics(dose, voxel_cc, **extra.get(organ.tg263 or organ.name, {})))
        result[organ.name] = entry
    return result


SABR_METRICS = {
    "SpinalCord": {"d_cc": (0.35, 1.2)},
    "Esophagus": {"d_cc": (5,)},
    "Heart": {"d_cc": (15,)},
    "Ribs": {"d_cc": (1,)},
    "Stomach": {"d_cc": (10,)},
    "Duodenum": {"d_cc": (5, 10)},
    "Bowel_Small": {"d_cc": (5,)},
    "Lungs": {"cv_gy": (12.5, 13.5), "v_gy": (20,)},
    "Liver": {"cv_gy": (21,)},
    "Kidneys": {"cv_gy": (17.5,)},
    "PTV": {"v_gy": (35,)},
}
PALLIATIVE_METRICS = {
    "SpinalCord": {"d_cc": (0.35, 1.2)},
    "Esophagus": {"d_cc": (5,)},
    "Lungs": {"cv_gy": (7, 7.4), "v_gy": (5, 6)},
    "Kidney_L": {"v_gy": (6,)},
    "Kidney_R": {"v_gy": (6,)},
    "PTV": {"v_gy": (8,)},
}


def generate(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    expected: dict = {
        "about": ("Expected values computed by sample_dicom/generate.py from the analytic dose "
                  "functions over the organs as contoured (cross-sections extruded +-1.5 mm, "
                  "sampled at 0.5 mm for small organs, 1 mm for large ones); not from rtcheck. "
                  "Doses Gy (total physical), volumes cc."),
        "plans": {},
    }
    expected["plans"]["spine_8gy_1fx"], spine_ctx, spine_ss = _spine_8gy(out / "spine_8gy_1fx")
    expected["plans"]["sabr_3lesions_5fx"] = _sabr(out / "sabr_3lesions_5fx")
    expected["plans"]["prior_spine_20gy_5fx"] = _prior_course(
        out / "prior_spine_20gy_5fx", spine_ctx, other_frame=False)
    expected["plans"]["prior_spine_20gy_5fx_otherframe"] = _prior_course(
        out / "prior_spine_20gy_5fx_otherframe", spine_ctx, other_frame=True)
    expected["composite_spine_8gy_1fx_with_prior_spine_20gy_5fx"] = _composite(spine_ss)
    text = yaml.safe_dump(_plain(expected), sort_keys=False, allow_unicode=True, width=100)
    (out / "expected.yaml").write_text("# Generated by sample_dicom/generate.py — do not edit.\n" + text,
                                       encoding="utf-8")
    return expected


# Patient, dates and frames.
SPINE_PATIENT = "RTC-SPINE-001"
SABR_PATIENT = "RTC-SABR-002"
SPINE_PLAN_DATE = dt.date(2026, 10, 15)
PRIOR_PLAN_DATE = dt.date(2025, 11, 20)
SABR_PLAN_DATE = dt.date(2026, 9, 8)
#: The prior CT's frame (scenario d) sees the same anatomy shifted by this vector (mm):
#: p_prior_ct = p_current_ct + OTHER_FRAME_SHIFT_MM.
OTHER_FRAME_SHIFT_MM = (12.0, -8.0, 45.0)


def _spine_organs(names: dict[str, str], target: Shape) -> list[Organ]:
    spec = [
        ("BODY", BODY, "EXTERNAL"),
        ("PTV", target, "PTV"),
        ("SpinalCord", CORD, "ORGAN"),
        ("Esophagus", ESOPHAGUS, "ORGAN"),
        ("Lungs", LUNGS, "ORGAN"),
        ("Kidney_L", KIDNEY_L_IN_BODY, "ORGAN"),
        ("Kidney_R", KIDNEY_R_IN_BODY, "ORGAN"),
    ]
    return [Organ(i, names[key], shape, kind, key) for i, (key, shape, kind) in enumerate(spec, start=1)]


SPINE_DOSE = ApPaDose(8.0, 40.0, (-100.0, -20.0), 30.0, (-78.0, -42.0))
PRIOR_TARGET = cylinder((0.0, 50.0), (32.0, 40.0), (-84.0, -36.0))
PRIOR_DOSE = ApPaDose(20.0, 45.0, (-105.0, -15.0), 32.0, (-84.0, -36.0))


def _write_course(folder: Path, stem: str, ctx: DicomContext, ss: StructureSet, plan: Plan,
                  beams: list[Beam], grid: DoseGrid, target_roi: int, target_name: str,
                  description: str, **plan_options) -> None:
    write_structure_set(ss, folder / f"RS.{stem}.dcm", context=ctx)
    write_plan(plan, folder / f"RP.{stem}.dcm", context=ctx, beams=beams, description=description,
               dose_references=[DoseReference(target_roi, plan.prescription_gy, target_name)],
               **plan_options)
    write_dose(grid, folder / f"RD.{stem}.dcm", context=ctx)


def _course_info(folder: Path, plan: Plan, ss: StructureSet, grid_mm: float, **extra) -> dict:
    return {
        "folder": folder.name, "patient_id": plan.patient_id, "plan_label": plan.label,
        "plan_uid": plan.sop_instance_uid, "structure_set_uid": ss.sop_instance_uid,
        "frame_of_reference_uid": ss.frame_of_reference_uid, "plan_date": plan.plan_date.isoformat(),
        "fractions": plan.fractions, "prescription_gy": plan.prescription_gy, "dose_grid_mm": grid_mm,
        **extra,
    }


def _ap_pa_beams(iso, half_field_mm: float, mu: tuple[float, float], dose_gy: tuple[float, float]):
    jaws = (-half_field_mm, half_field_mm, -half_field_mm, half_field_mm)
    return [Beam("AP", 0.0, mu[0], iso, jaws, 6.0, dose_gy[0]),
            Beam("PA", 180.0, mu[1], iso, jaws, 6.0, dose_gy[1])]


def _spine_8gy(folder: Path):
    frame = derived_uid(SEED, SPINE_PATIENT, "frame")
    ctx = DicomContext(
        patient_name="RTCHECK^SAMPLE", patient_id=SPINE_PATIENT,
        study_instance_uid=derived_uid(SEED, SPINE_PATIENT, "study"), frame_of_reference_uid=frame,
        content_date=SPINE_PLAN_DATE, content_time="141500", study_date=PRIOR_PLAN_DATE - dt.timedelta(days=6),
        study_description="CT THORAX ABDOMEN RT PLANNING", study_id="SP1", patient_sex="M",
        patient_birth_date=dt.date(1958, 3, 14), accession_number="RTC0001", series_number=11,
        software_versions=GENERATOR_SOFTWARE_VERSIONS, implementation_version_name=GENERATOR_IMPLEMENTATION_VERSION)
    names = {"BODY": "External", "PTV": "PTV_T10", "SpinalCord": "Cord", "Esophagus": "Esophagus",
             "Lungs": "Lung_Both", "Kidney_L": "Kidney Lt", "Kidney_R": "Kidney Rt"}
    organs = _spine_organs(names, SPINE_PTV)
    ss = build_structure_set(derived_uid(SEED, SPINE_PATIENT, "rtstruct", "spine8"), frame, organs,
                             "SPINE T10", SPINE_PATIENT)
    plan = Plan(derived_uid(SEED, SPINE_PATIENT, "rtplan", "spine8"), fractions=1, prescription_gy=8.0,
                label="T10 8Gy1F", name="T10 palliative 8 Gy single fraction", patient_id=SPINE_PATIENT,
                plan_date=SPINE_PLAN_DATE, referenced_structure_set_uid=ss.sop_instance_uid,
                frame_of_reference_uid=frame)
    beams = _ap_pa_beams((0.0, 45.0, -60.0), 40.0, (118.0, 142.0), (3.6, 4.4))
    grid = dose_on_grid(SPINE_DOSE, make_grid(4.0, origin=(-156.0, -108.0, -214.0), extent=(312.0, 216.0, 368.0)),
                        frame, plan.sop_instance_uid, derived_uid(SEED, SPINE_PATIENT, "rtdose", "spine8"))
    _write_course(folder, "spine_8gy_1fx", ctx, ss, plan, beams, grid, 2, "PTV_T10 8 Gy",
                  "Palliative spine T10")
    info = _course_info(folder, plan, ss, 4.0, expected_verdict="pass",
                        structures=expected_for(organs, ss, SPINE_DOSE, PALLIATIVE_METRICS))
    return info, ctx, ss


def eqd2_gy(dose_gy, fractions: int, alpha_beta_gy: float):
    """EQD2 (Gy) of ``dose_gy`` given in ``fractions`` equal fractions (LQ model)."""
    return dose_gy * (dose_gy / fractions + alpha_beta_gy) / (2.0 + alpha_beta_gy)


def _composite(spine_ss: StructureSet) -> dict:
    """Voxel-wise EQD2 sum of plan (a) (1 fx) and prior course (c) (5 fx), no recovery factor,
    over plan (a)'s cord and oesophagus — from the analytic doses, not from rtcheck."""
    out = {
        "about": ("EQD2 summed point by point: EQD2(D_a, 1 fx) + EQD2(D_c, 5 fx), no recovery "
                  "factor, over the structures of spine_8gy_1fx; same sampling as the plans. "
                  "The same numbers hold for the other-frame prior once registered."),
        "elapsed_days": (SPINE_PLAN_DATE - PRIOR_PLAN_DATE).days,
        "structures": {},
    }
    for roi_number, alpha_beta in ((3, 2.0), (4, 3.0)):
        structure = spine_ss.by_number(roi_number)

        def fn(x, y, z, ab=alpha_beta):
            return eqd2_gy(SPINE_DOSE(x, y, z), 1, ab) + eqd2_gy(PRIOR_DOSE(x, y, z), 5, ab)

        dose, voxel_cc = organ_samples(structure, fn, 0.5, 6)
        summary = metrics(dose, voxel_cc, d_cc=(1.2, 5) if roi_number == 4 else (0.35, 1.2))
        entry = {"alpha_beta_gy": alpha_beta,
                 "eqd2_max_gy": summary["max_gy"], "eqd2_D0.035cc_gy": summary["D0.035cc_gy"]}
        entry.update({f"eqd2_{k}": v for k, v in summary.items() if k.startswith("D") and k != "D0.035cc_gy"})
        entry["bed_D0.035cc_gy"] = round(summary["D0.035cc_gy"] * (1.0 + 2.0 / alpha_beta), 3)
        out["structures"][structure.name] = entry
    return out


def _shifted(shape: Shape, shift) -> Shape:
    sx, sy, sz = shift
    return Shape(lambda x, y, z: shape(x - sx, y - sy, z - sz),
                 tuple(a + s for a, s in zip(shape.lo, shift, strict=True)),
                 tuple(a + s for a, s in zip(shape.hi, shift, strict=True)))


def _prior_course(folder: Path, spine_ctx: DicomContext, *, other_frame: bool) -> dict:
    """The prior course 20 Gy/5 of patient RTC-SPINE-001.

    ``other_frame=False``: planned on the same CT as plan (a) (same study and frame), with its
    own structure set. ``other_frame=True``: the same treatment exported from its own planning
    CT, where the anatomy sits at p + OTHER_FRAME_SHIFT_MM, plus a REG object.
    """
    shift = OTHER_FRAME_SHIFT_MM if other_frame else (0.0, 0.0, 0.0)
    tag = "prior-ct" if other_frame else "prior"
    ctx = replace(spine_ctx, content_date=PRIOR_PLAN_DATE, content_time="103000", series_number=5)
    if other_frame:
        ctx = replace(ctx, frame_of_reference_uid=derived_uid(SEED, SPINE_PATIENT, "frame", "prior-ct"),
                      study_instance_uid=derived_uid(SEED, SPINE_PATIENT, "study", "prior-ct"),
                      study_date=PRIOR_PLAN_DATE - dt.timedelta(days=7), study_id="SP0",
                      accession_number="RTC0000")
    frame = ctx.frame_of_reference_uid
    names = {"BODY": "BODY", "PTV": "PTV_20Gy", "SpinalCord": "SpinalCord", "Esophagus": "Oesophagus",
             "Lungs": "Lungs", "Kidney_L": "Kidney_L", "Kidney_R": "Kidney_R"}
    organs = _spine_organs(names, PRIOR_TARGET)
    ss_uid = derived_uid(SEED, SPINE_PATIENT, "rtstruct", tag)
    if other_frame:
        slices = np.round(SLICE_Z + shift[2], 3)
        structures = [Structure(o.roi_number, o.name, contours_of(_shifted(o.shape, shift), slices),
                                o.interpreted_type, frame) for o in organs]
        ss = StructureSet(ss_uid, frame, tuple(structures), label="SPINE PRIOR", patient_id=SPINE_PATIENT)
    else:
        ss = build_structure_set(ss_uid, frame, organs, "SPINE PRIOR", SPINE_PATIENT)
    plan = Plan(derived_uid(SEED, SPINE_PATIENT, "rtplan", tag), fractions=5, prescription_gy=20.0,
                label="T10 20Gy5F", name="T9-T11 palliative 20 Gy in 5", patient_id=SPINE_PATIENT,
                plan_date=PRIOR_PLAN_DATE, referenced_structure_set_uid=ss.sop_instance_uid,
                frame_of_reference_uid=frame)
    iso = (0.0 + shift[0], 45.0 + shift[1], -60.0 + shift[2])
    beams = _ap_pa_beams(iso, 45.0, (59.0, 71.0), (1.8, 2.2))

    def dose_fn(x, y, z):
        return PRIOR_DOSE(x - shift[0], y - shift[1], z - shift[2])

    origin = (-146.0, -118.0, -170.0) if other_frame else (-158.0, -110.0, -216.0)
    grid = dose_on_grid(dose_fn, make_grid(4.0, origin=origin, extent=(316.0, 220.0, 372.0)),
                        frame, plan.sop_instance_uid, derived_uid(SEED, SPINE_PATIENT, "rtdose", tag))
    stem = "prior_spine_otherframe" if other_frame else "prior_spine_20gy_5fx"
    _write_course(folder, stem, ctx, ss, plan, beams, grid, 2, "PTV_20Gy", "Palliative spine T9-T11")
    if not other_frame:
        return _course_info(folder, plan, ss, 4.0,
                            days_before_spine_8gy_1fx=(SPINE_PLAN_DATE - PRIOR_PLAN_DATE).days,
                            structures=expected_for(organs, ss, PRIOR_DOSE, PALLIATIVE_METRICS))
    # REG in the new plan's frame: maps prior-CT coordinates onto the current CT.
    matrix = np.eye(4)
    matrix[:3, 3] = [-s for s in shift]
    reg_ctx = replace(spine_ctx, content_date=SPINE_PLAN_DATE, content_time="133000", series_number=20)
    write_registration(RigidRegistration(spine_ctx.frame_of_reference_uid, frame, matrix),
                       folder / "REG.prior_ct_to_current_ct.dcm", context=reg_ctx,
                       description="prior planning CT to current planning CT (rigid)")
    return _course_info(folder, plan, ss, 4.0, registration={
        "file": "REG.prior_ct_to_current_ct.dcm",
        "fixed_frame_of_reference_uid": spine_ctx.frame_of_reference_uid,
        "moving_frame_of_reference_uid": frame,
        "matrix_moving_to_fixed": matrix.tolist(),
        "note": "p_current = M @ p_prior; the prior CT sees the anatomy shifted by "
                f"{list(shift)} mm. Same treatment as prior_spine_20gy_5fx: use one or the other.",
    })


def _sabr(folder: Path) -> dict:
    frame = derived_uid(SEED, SABR_PATIENT, "frame")
    ctx = DicomContext(
        patient_name="RTCHECK^SAMPLE", patient_id=SABR_PATIENT,
        study_instance_uid=derived_uid(SEED, SABR_PATIENT, "study"), frame_of_reference_uid=frame,
        content_date=SABR_PLAN_DATE, content_time="161000", study_date=SABR_PLAN_DATE - dt.timedelta(days=8),
        study_description="CT 4D THORAX ABDOMEN SABR", study_id="SB1", patient_sex="F",
        patient_birth_date=dt.date(1961, 7, 2), accession_number="RTC0002", series_number=12,
        software_versions=GENERATOR_SOFTWARE_VERSIONS, implementation_version_name=GENERATOR_IMPLEMENTATION_VERSION)
    lung, liver, spine = LESIONS
    spec = [
        ("BODY", BODY, "EXTERNAL", "BODY"),
        ("PTV_Lung", lung.shape, "PTV", "PTV"),
        ("PTV_Liver", liver.shape.intersect(LIVER_SOLID), "PTV", "PTV"),
        ("PTV_Spine", spine.shape, "PTV", "PTV"),
        ("SpinalCord", CORD, "ORGAN", None),
        ("Esophagus", ESOPHAGUS, "ORGAN", None),
        ("Lungs", LUNGS, "ORGAN", None),
        ("Liver", LIVER, "ORGAN", None),
        ("Kidneys", KIDNEYS, "ORGAN", None),
        ("Stomach", STOMACH.intersect(BODY), "ORGAN", None),
        ("Duodenum", DUODENUM, "ORGAN", None),
        ("Bowel_Small", BOWEL_SMALL.minus(DUODENUM).intersect(BODY), "ORGAN", None),
        ("Heart", HEART, "ORGAN", None),
        ("Ribs", RIBS, "ORGAN", None),
    ]
    organs = [Organ(i, name, shape, kind, tg or name) for i, (name, shape, kind, tg) in enumerate(spec, start=1)]
    ss = build_structure_set(derived_uid(SEED, SABR_PATIENT, "rtstruct"), frame, organs, "SABR 3 LES",
                             SABR_PATIENT)
    plan = Plan(derived_uid(SEED, SABR_PATIENT, "rtplan"), fractions=5, prescription_gy=35.0,
                label="SABR 35Gy5F", name="SABR lung RLL + liver + T12, 35 Gy in 5", patient_id=SABR_PATIENT,
                plan_date=SABR_PLAN_DATE, referenced_structure_set_uid=ss.sop_instance_uid,
                frame_of_reference_uid=frame)
    # No BeamDose: with three targets, per-beam doses at different points do not add up to
    # a prescription, and a reader must not be tempted to sum them.
    beams = []
    for lesion in LESIONS:
        for gantry in (30.0, 150.0, 210.0, 330.0):
            side = lesion.radius_mm + 5.0
            beams.append(Beam(f"{lesion.name[4:]}_G{int(gantry):03d}", gantry, 410.0, lesion.centre,
                              (-side, side, -side, side), 6.0))
    grid = dose_on_grid(sabr_dose, make_grid(3.0), frame, plan.sop_instance_uid,
                        derived_uid(SEED, SABR_PATIENT, "rtdose"))
    write_structure_set(ss, folder / "RS.sabr_3lesions_5fx.dcm", context=ctx)
    write_plan(plan, folder / "RP.sabr_3lesions_5fx.dcm", context=ctx, beams=beams, plan_intent="CURATIVE",
               dose_references=[DoseReference(o.roi_number, 35.0, o.name) for o in organs[1:4]],
               description="SABR three lesions")
    write_dose(grid, folder / "RD.sabr_3lesions_5fx.dcm", context=ctx)

    structures = expected_for(organs, ss, sabr_dose, SABR_METRICS)
    # The deliberate overdose, by hand: the oesophagus wall comes nearest the lung lesion
    # centre in the lesion's own plane, at d0 = |c_lesion - c_oesophagus| - r_oesophagus.
    centre_distance = math.dist(lung.centre[:2], ESOPHAGUS_CENTRE_XY)
    d0 = centre_distance - ESOPHAGUS_RADIUS_MM
    direction = (np.subtract(lung.centre[:2], ESOPHAGUS_CENTRE_XY)) / centre_distance
    hot_point = (*(np.array(ESOPHAGUS_CENTRE_XY) + ESOPHAGUS_RADIUS_MM * direction), lung.centre[2])
    others = sum(le.dose(*[np.array(v) for v in hot_point]) for le in LESIONS[1:])
    hand_dmax = lung.at_distance(d0) + float(others)
    grid_check = grid_interpolated_max(grid, ss.by_number(6))
    overdose = {
        "organ": "Esophagus",
        "roi_name": "Esophagus",
        "cause": "PTV_Lung not cropped from the oesophagus: the oesophagus enters the lung lesion's PTV",
        "limit": {"metric": "D0.035cc", "limit_gy": 35.0,
                  "source": "AAPM TG-101 (Benedict 2010) Table III, 5 fx, oesophagus point max 35 Gy"},
        "also_exceeded": {"metric": "D5cc", "limit_gy": 19.5, "source": "AAPM TG-101 Table III, 5 fx"},
        "hand_calculation": {
            "formula": "D(r) = 43.75 / (1 + (r / r50)^3) Gy, r50 = R / (43.75/36 - 1)^(1/3), R = 15 mm",
            "r50_mm": round(lung.r50_mm, 3),
            "closest_distance_mm": round(d0, 3),
            "hot_point_mm": [round(float(v), 3) for v in hot_point],
            "lung_lesion_dose_gy": round(lung.at_distance(d0), 3),
            "other_lesions_dose_gy": round(float(others), 3),
            "dmax_gy": round(hand_dmax, 3),
        },
        "expected_D0.035cc_gy": structures["Esophagus"]["D0.035cc_gy"],
        "expected_D5cc_gy": structures["Esophagus"]["D5cc_gy"],
        "stored_grid_check": {
            "note": "same sampling on the stored 3 mm grid (trilinear, 16-bit); the difference "
                    "from the analytic value is the discretisation a DVH tool inherits",
            "D0.035cc_gy": grid_check["D0.035cc_gy"], "max_gy": grid_check["max_gy"]},
        # The hot spot sits in a ~1 Gy/mm gradient: a 3 mm grid and a DVH tool's sampling move
        # D0.035cc by a few tenths of a Gy (stored_grid_check shows the grid's share).
        "suggested_tolerance_gy": 1.0,
    }
    return _course_info(
        folder, plan, ss, 3.0, expected_verdict="fail",
        overdosed=overdose,
        lesions=[{"ptv": le.name, "centre_mm": list(le.centre), "radius_mm": le.radius_mm,
                  "peak_gy": le.peak_gy, "surface_gy": le.surface_gy, "r50_mm": round(le.r50_mm, 3)}
                 for le in LESIONS],
        structures=structures,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: this folder)")
    args = parser.parse_args(argv)
    generate(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
