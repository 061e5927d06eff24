"""Data sets for benchmarks/run.py: each a folder with one RTSTRUCT and one RTDOSE file.

* the real breast export (../shared/testdata/dicompyler-breast), read in place;
* the analytic phantom set of :mod:`rtcheck.validation.phantoms`, written as DICOM with
  :mod:`rtcheck.dicom_io.write` (one RTSTRUCT/RTDOSE pair per phantom, with closed-form truth);
* a synthetic 512×512×300 dose grid (1 mm voxels, 32-bit pixels, ≈300 MB of pixel data) with
  60 ROIs contoured on 2 mm planes, for peak memory and for timing at clinical scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtcheck.models import Contour, DoseGrid, Structure, StructureSet

HERE = Path(__file__).resolve().parent
BREAST = HERE.parent.parent / "shared" / "testdata" / "dicompyler-breast"


@dataclass
class Pair:
    """One structure-set/dose pair on disk, with closed-form truth per ROI when known."""

    label: str
    structure_file: Path
    dose_file: Path
    truth: dict = field(default_factory=dict)  # roi_number -> rtcheck.validation.selftest.Truth
    dose_scale_gy: float | None = None  # prescription-scale dose of the pair (Gy)


@dataclass
class Case:
    name: str
    pairs: list[Pair]
    note: str = ""


def write_pair(folder: Path, label: str, structure_set: StructureSet, dose: DoseGrid,
               bits: int = 16) -> tuple[Path, Path]:
    """Write a structure set and dose grid as RTSTRUCT + RTDOSE; returns both paths."""
    from rtcheck.validation.selftest import write_dicom_pair

    folder.mkdir(parents=True, exist_ok=True)
    return write_dicom_pair(folder, label, structure_set, dose, bits=bits)


def breast_case() -> Case:
    return Case("breast export", [Pair("breast", BREAST / "rtss.dcm", BREAST / "rtdose.dcm")],
                "real Eclipse export, 194×129×98 dose at 2.5×2.5×3 mm, 10 ROIs")


def phantom_case(folder: Path, quick: bool = False, full: bool = False) -> Case:
    """The analytic phantom set (rtcheck.validation.selftest's phantom cases), written to ``folder``."""
    from rtcheck.validation.selftest import phantom_cases

    pairs = []
    for pc in phantom_cases(quick=quick, full=full):
        rtss, rtdose = write_pair(folder, pc.label, pc.structure_set, pc.dose)
        pairs.append(Pair(pc.label, rtss, rtdose, dict(pc.truth), pc.dose_scale_gy))
    return Case("analytic phantoms", pairs, f"{len(pairs)} RTSTRUCT/RTDOSE pairs, one ROI each")


# -- synthetic clinical-scale case ---------------------------------------------------------
SYNTH_SHAPE = (300, 512, 512)  # (z, y, x)
SYNTH_SPACING_MM = 1.0
SYNTH_CONTOUR_SPACING_MM = 2.0
SYNTH_ROIS = 60


def _ellipse(cx: float, cy: float, ax: float, ay: float, n: int = 96) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.column_stack([cx + ax * np.cos(t), cy + ay * np.sin(t)])


def synthetic_models(seed: int = 5) -> tuple[StructureSet, DoseGrid]:
    """A body plus 59 ellipsoids of 5–60 mm semi-axes in a smooth dose, deterministic."""
    nz, ny, nx = SYNTH_SHAPE
    h = SYNTH_SPACING_MM
    x = (np.arange(nx) - (nx - 1) / 2) * h
    y = (np.arange(ny) - (ny - 1) / 2) * h
    z = np.arange(nz) * h
    rng = np.random.default_rng(seed)

    structures = []
    # body: elliptic cylinder over most of the grid
    zc = np.arange(z[0] + 10, z[-1] - 10 + 1e-6, SYNTH_CONTOUR_SPACING_MM)
    body = _ellipse(0.0, 0.0, 230.0, 160.0, 180)
    structures.append(Structure(1, "BODY", tuple(Contour(zz, body) for zz in zc), "EXTERNAL"))
    for number in range(2, SYNTH_ROIS + 1):
        a = rng.uniform(5.0, 60.0, size=3)
        c = np.array([rng.uniform(-150, 150), rng.uniform(-90, 90), rng.uniform(70, 230)])
        contours = []
        for zz in np.arange(c[2] - a[2], c[2] + a[2] + 1e-6, SYNTH_CONTOUR_SPACING_MM):
            zz = round(float(zz) / SYNTH_CONTOUR_SPACING_MM) * SYNTH_CONTOUR_SPACING_MM
            u = 1.0 - ((zz - c[2]) / a[2]) ** 2
            if u <= 0.02:
                continue
            r = np.sqrt(u)
            contours.append(Contour(zz, _ellipse(c[0], c[1], a[0] * r, a[1] * r)))
        structures.append(Structure(number, f"ROI_{number:02d}", tuple(contours), "ORGAN"))
    ss = StructureSet("2.25.1", None, tuple(structures), label="SYNTH60")

    # smooth dose: a 60 Gy Gaussian "target" plus a weak lateral gradient, plane by plane
    dose = np.empty(SYNTH_SHAPE, dtype=np.float64)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    r2_xy = (xx - 20.0) ** 2 + (yy + 10.0) ** 2
    for k, zz in enumerate(z):
        dose[k] = 60.0 * np.exp(-(r2_xy + (zz - 150.0) ** 2) / (2 * 70.0**2)) + 0.01 * (xx + 256.0)
    grid = DoseGrid(dose, x, y, z)
    return ss, grid


def synthetic_case(folder: Path) -> Case:
    ss, grid = synthetic_models()
    rtss, rtdose = write_pair(folder, "synth60", ss, grid, bits=32)
    del ss, grid
    nz, ny, nx = SYNTH_SHAPE
    return Case("synthetic 512×512×300, 60 ROIs", [Pair("synth60", rtss, rtdose)],
                f"{nx}×{ny}×{nz} dose at {SYNTH_SPACING_MM:g} mm, 32-bit, {SYNTH_ROIS} ROIs on "
                f"{SYNTH_CONTOUR_SPACING_MM:g} mm planes")
