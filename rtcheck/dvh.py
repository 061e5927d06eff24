"""Dose-volume histograms of structures on a dose grid.

:func:`compute_dvh` rasterises one ROI (:func:`rtcheck.geometry.structure_mask`: bounding
box only, boundary voxels supersampled, slab/end-cap conventions documented there), samples
the dose (trilinear interpolation at the boundary sub-samples) and returns a
:class:`rtcheck.models.DVH`. The DVH's sample volumes are scaled so that they add up to the
ROI's *contour* volume inside the dose grid (polygon areas × slab thickness — exact for the
contours), i.e. the grid sampling decides the *shape* of the DVH, the contours its volume.

Defaults (``DEFAULT``: half-slice end caps, supersampling 3, dose interpolation on) were
chosen from the analytic phantoms of :mod:`rtcheck.phantoms`; see the README section
"DVH computation" for the measurements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from rtcheck.errors import GeometryError
from rtcheck.geometry import (
    END_CAPS,
    MAX_SUPERSAMPLING,
    EndCap,
    StructureMask,
    _grid_slice_thickness,
    _Rasteriser,
    contour_planes,
    structure_mask,
)
from rtcheck.models import DVH, DoseGrid, Structure, StructureSet

#: Number of dose bins samples are merged into before the DVH is built (see _compress).
_DOSE_BINS = 1 << 16


@dataclass(frozen=True)
class DVHSettings:
    """How DVHs are computed.

    * ``end_cap`` — ``"half_slice"`` (end slabs extend half a plane spacing beyond the first
      and last contour, as most planning systems do) or ``"none"`` (the structure ends at its
      end contours);
    * ``supersampling`` — sub-samples per voxel along each axis (1–6) for voxels on the
      structure boundary; interior voxels are one sample each;
    * ``interpolate_dose`` — trilinear dose interpolation at the boundary sub-samples (off:
      every sub-sample takes its voxel's dose);
    * ``variants`` — also compute the DVH with the other end-cap convention and with a
      coarser supersampling (attached as ``DVH.variants``, their spread is the numerical
      uncertainty of each metric).
    """

    end_cap: EndCap = "half_slice"
    supersampling: int = 3
    interpolate_dose: bool = True
    variants: bool = True

    def __post_init__(self) -> None:
        if self.end_cap not in END_CAPS:
            raise ValueError(f"end_cap must be one of {END_CAPS}, got {self.end_cap!r}")
        if not 1 <= int(self.supersampling) <= MAX_SUPERSAMPLING:
            raise ValueError(f"supersampling must be within 1–{MAX_SUPERSAMPLING}")

    def describe(self) -> str:
        interp = "on" if self.interpolate_dose else "off"
        return f"end_cap={self.end_cap} supersampling={self.supersampling} interpolation={interp}"

    def alternatives(self) -> tuple[DVHSettings, ...]:
        """The variant settings: the other end cap, and a coarser supersampling."""
        other = "none" if self.end_cap == "half_slice" else "half_slice"
        alts = [replace(self, end_cap=other, variants=False)]
        coarse = max(1, (self.supersampling + 1) // 2)
        if coarse != self.supersampling:
            alts.append(replace(self, supersampling=coarse, variants=False))
        return tuple(alts)


DEFAULT = DVHSettings()


def _compress(dose_gy: np.ndarray, volume_cc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge samples into at most ``_DOSE_BINS`` dose bins, keeping each bin's mean dose.

    O(n) instead of sorting millions of samples: the DVH then sorts ≤ 65 536 samples. The
    volume-weighted mean dose of each bin is kept, so Dmean is unchanged; any dose moves by
    less than (dose range)/65 536, and the extreme samples keep their exact doses.
    """
    n = dose_gy.size
    if n <= _DOSE_BINS:
        return dose_gy, volume_cc
    lo, hi = float(dose_gy.min()), float(dose_gy.max())
    if hi <= lo:
        return np.array([lo]), np.array([float(volume_cc.sum())])
    scale = (_DOSE_BINS - 1) / (hi - lo)
    idx = ((dose_gy - lo) * scale).astype(np.intp)
    vol = np.bincount(idx, weights=volume_cc, minlength=_DOSE_BINS)
    dv = np.bincount(idx, weights=dose_gy * volume_cc, minlength=_DOSE_BINS)
    used = vol > 0
    dose = dv[used] / vol[used]
    dose[0], dose[-1] = lo, hi  # extreme samples exactly (bins 0 and last hold them)
    return dose, vol[used]


def dvh_from_mask(mask: StructureMask, dose: DoseGrid, settings: DVHSettings = DEFAULT) -> DVH:
    """The DVH of a rasterised structure (no variants)."""
    d, v, _ = mask.samples_by_layer(dose.dose_gy, settings.interpolate_dose, fine_interior=True)
    return _dvh_from_samples(mask, d, v, settings)


def _dvh_from_samples(
    mask: StructureMask, d: np.ndarray, v: np.ndarray, settings: DVHSettings
) -> DVH:
    total = float(v.sum())
    if total > 0 and mask.in_grid_volume_cc > 0:
        v = v * (mask.in_grid_volume_cc / total)
    d, v = _compress(d, v)
    return DVH(
        name=mask.name,
        roi_number=mask.roi_number,
        dose_gy=d,
        volume_cc=v,
        structure_volume_cc=mask.structure_volume_cc,
        outside_grid_cc=mask.outside_grid_cc,
        settings=settings.describe(),
    )


def compute_dvh(
    structure: Structure,
    dose: DoseGrid,
    settings: DVHSettings = DEFAULT,
    *,
    slice_thickness_mm: float | None = None,
) -> DVH:
    """DVH of one structure on a dose grid.

    ``slice_thickness_mm`` is the slab thickness of single-plane ROIs (default: the dose
    grid's median plane spacing; :func:`compute_dvhs` passes the structure set's typical
    contour spacing). Raises :class:`GeometryError` for empty or non-volumetric ROIs and for
    degenerate contours.
    """
    dvh, _ = compute_dvh_and_mask(structure, dose, settings, slice_thickness_mm=slice_thickness_mm)
    return dvh


def compute_dvh_and_mask(
    structure: Structure,
    dose: DoseGrid,
    settings: DVHSettings = DEFAULT,
    *,
    slice_thickness_mm: float | None = None,
) -> tuple[DVH, StructureMask]:
    """As :func:`compute_dvh`, also returning the :class:`StructureMask` for reuse."""
    planes = contour_planes(structure)
    if len(planes) == 1 and slice_thickness_mm is None:
        slice_thickness_mm = _grid_slice_thickness(dose)
    s = settings.supersampling
    # Hot path (cProfile on the breast export, BODY dominates): per-plane scanline fills
    # (rasterise_plane: bincount + uint8 cumsum over the supersampled box), the per-layer
    # gather of boundary sub-samples, and the trilinear gathers; sorting is avoided by
    # _compress.
    raster = _Rasteriser(planes, dose, s, slice_thickness_mm)
    mask = structure_mask(
        structure, dose, s, settings.end_cap, slice_thickness_mm, _rasteriser=raster
    )
    d, v, layer = mask.samples_by_layer(dose.dose_gy, settings.interpolate_dose, fine_interior=True)
    dvh = _dvh_from_samples(mask, d, v, settings)
    if not settings.variants:
        return dvh, mask
    variants = []
    for alt in settings.alternatives():
        if alt.supersampling == s:
            # same sampling, other end cap: only the layers near the end planes change, so
            # only they are rasterised and sampled again
            alt_mask = structure_mask(
                structure, dose, s, alt.end_cap, slice_thickness_mm, _rasteriser=raster, _base=mask
            )
            nz = mask.shape[0]
            changed = (
                (raster.plane_of_subz(settings.end_cap) != raster.plane_of_subz(alt.end_cap))
                .reshape(nz, s)
                .any(axis=1)
            )
            a_d, a_v, _ = alt_mask.samples_by_layer(
                dose.dose_gy, alt.interpolate_dose, layers=changed, fine_interior=True
            )
            keep_base = ~changed[layer]
            a_d = np.concatenate([d[keep_base], a_d])
            a_v = np.concatenate([v[keep_base], a_v])
            variants.append(_dvh_from_samples(alt_mask, a_d, a_v, alt))
        else:
            alt_mask = structure_mask(
                structure, dose, alt.supersampling, alt.end_cap, slice_thickness_mm
            )
            variants.append(dvh_from_mask(alt_mask, dose, alt))
    return replace(dvh, variants=tuple(variants)), mask


def typical_slice_thickness_mm(structure_set: StructureSet) -> float | None:
    """Median spacing (mm) between neighbouring contour planes over all ROIs of a set."""
    diffs = []
    for s in structure_set.structures:
        zs = np.unique(np.round([c.z_mm for c in s.contours], 2))
        if zs.size > 1:
            diffs.append(np.diff(zs))
    if not diffs:
        return None
    return float(np.median(np.concatenate(diffs)))


def compute_dvhs(
    structure_set: StructureSet | Sequence[Structure],
    dose: DoseGrid,
    settings: DVHSettings = DEFAULT,
    *,
    slice_thickness_mm: float | None = None,
) -> list[DVH | GeometryError]:
    """DVHs of every structure, in order: a :class:`DVH` or the :class:`GeometryError`
    explaining why that structure has none (empty, not volumetric, degenerate contours).

    Structures are processed one at a time (memory: the dose grid plus one bounding box).
    Single-plane ROIs get ``slice_thickness_mm`` as slab thickness, by default the set's
    typical contour spacing (:func:`typical_slice_thickness_mm`; when no ROI has two planes,
    the dose grid's plane spacing).
    """
    if isinstance(structure_set, StructureSet):
        structures = structure_set.structures
    else:
        structures = tuple(structure_set)
    thickness = slice_thickness_mm
    if thickness is None:
        thickness = typical_slice_thickness_mm(StructureSet("", None, structures))
    out: list[DVH | GeometryError] = []
    for structure in structures:
        try:
            out.append(compute_dvh(structure, dose, settings, slice_thickness_mm=thickness))
        except GeometryError as err:
            out.append(err)
    return out
