"""Dose-volume histograms of structures on a dose grid.

:func:`compute_dvh` rasterises one ROI (:func:`rtcheck.dvhcalc.masks.structure_mask`: bounding
box only, boundary voxels supersampled, slab/end-cap conventions documented there), samples
the dose (trilinear interpolation at the boundary sub-samples; for ROIs with at most
:data:`rtcheck.dvhcalc.dose_samples.FINE_INTERIOR_MAX_VOXELS` interior voxels at every sub-sample, so
that a small organ's DVH is not a staircase of whole voxels) and returns a
:class:`rtcheck.models.DVH`. The DVH's sample volumes are scaled so that they add up to the
ROI's *contour* volume inside the dose grid (polygon areas × slab thickness — exact for the
contours), i.e. the grid sampling decides the *shape* of the DVH, the contours its volume.

Defaults (``DEFAULT``: half-slice end caps, supersampling 3, dose interpolation on) were
chosen from the analytic phantoms of :mod:`rtcheck.validation.phantoms`; see the README section
"DVH computation" for the measurements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from rtcheck.errors import GeometryError
from rtcheck.models import DVH, DoseGrid, Structure, StructureSet

from .extremes import BoundaryExtremes
from .histogram import Accumulator, BinRange, accumulate_parts, merge_accumulators
from .masks import StructureMask, structure_mask
from .planes import END_CAPS, EndCap
from .rasterise import Rasteriser, rasteriser_for
from .sampling import MAX_SUPERSAMPLING
from .unions import union_mask


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
      uncertainty of each metric). For an odd supersampling s the coarse variant uses the
      8 corner sub-samples (0 and s−1 along each axis) of each boundary voxel: 2 per axis,
      at ±(s−1)/2s of a voxel, with no new rasterisation.
    """

    end_cap: EndCap = "half_slice"
    supersampling: int = 3
    interpolate_dose: bool = True
    variants: bool = True

    def __post_init__(self) -> None:
        """Refuse an unknown end cap or a supersampling outside 1–6."""
        if self.end_cap not in END_CAPS:
            raise ValueError(f"end_cap must be one of {END_CAPS}, got {self.end_cap!r}")
        if not 1 <= int(self.supersampling) <= MAX_SUPERSAMPLING:
            raise ValueError(f"supersampling must be within 1–{MAX_SUPERSAMPLING}")

    def describe(self) -> str:
        """The settings in one line, as a DVH records them."""
        interp = "on" if self.interpolate_dose else "off"
        return f"end_cap={self.end_cap} supersampling={self.supersampling} interpolation={interp}"

    def alternatives(self) -> tuple[DVHSettings, ...]:
        """The variant settings: the other end cap, and a coarser supersampling."""
        other: EndCap = "none" if self.end_cap == "half_slice" else "half_slice"
        alts = [replace(self, end_cap=other, variants=False)]
        s = self.supersampling
        # odd s: the 2-point-per-axis corner sub-lattice of s (computed without rasterising
        # again); even s: about half the supersampling
        coarse = 2 if s % 2 == 1 and s > 1 else max(1, (s + 1) // 2)
        if coarse != self.supersampling:
            alts.append(replace(self, supersampling=coarse, variants=False))
        return tuple(alts)


DEFAULT = DVHSettings()


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
        thickness = typical_slice_thickness_mm(
            StructureSet(sop_instance_uid="", frame_of_reference_uid=None, structures=structures)
        )
    out: list[DVH | GeometryError] = []
    for structure in structures:
        try:
            out.append(compute_dvh(structure, dose, settings, slice_thickness_mm=thickness))
        except GeometryError as err:
            out.append(err)
    return out


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
    """As :func:`compute_dvh`, also returning the :class:`StructureMask` for reuse.

    The contours are validated and rasterised once (one rasteriser for the DVH and its
    end-cap variant); the mask's samples are accumulated in parts, the layers that the
    other end cap changes kept apart, so that the variant's mask is rasterised and sampled
    again only in those layers; the coarse variant takes the corner sub-lattice of the same
    samples; each DVH is finished with the point extremes on its structure's surface.
    """
    s = settings.supersampling
    raster = rasteriser_for(structure, dose, s, slice_thickness_mm)
    slice_thickness_mm = raster.slice_thickness_mm
    mask = structure_mask(
        structure, dose, s, settings.end_cap, slice_thickness_mm, rasteriser=raster
    )
    alts = settings.alternatives() if settings.variants else ()
    split = _layers_the_other_cap_changes(raster, settings, alts, mask.shape[0])
    # every part binned together is sampled before the first merge fixes their bins
    bins = BinRange(mask, dose)
    parts = accumulate_parts(mask, dose, settings.interpolate_dose, bins, split)
    same_s = {}
    for alt in alts:
        if alt.supersampling == s:
            alt_mask = structure_mask(
                structure, dose, s, alt.end_cap, slice_thickness_mm, rasteriser=raster, base=mask
            )
            alt_parts = accumulate_parts(alt_mask, dose, alt.interpolate_dose, bins, layers=split)
            same_s[alt] = (alt_mask, alt_parts)
    main = merge_accumulators(parts.int_rest, parts.int_ends, parts.bnd_rest, parts.bnd_ends)
    drafts = [_draft(mask, main, settings, settings.end_cap)]
    # the point extremes on the structure's surface (no volume; see rtcheck.dvhcalc.extremes)
    surface = BoundaryExtremes(raster.planes, dose, raster.slice_thickness_mm)
    for alt in alts:
        cap = None if alt.end_cap == settings.end_cap else alt.end_cap
        if alt in same_s:
            alt_mask, alt_parts = same_s[alt]
            acc = merge_accumulators(
                parts.int_rest, parts.bnd_rest, alt_parts.int_rest, alt_parts.bnd_rest
            )
            drafts.append(_draft(alt_mask, acc, alt, cap))
        elif parts.coarse_bnd is not None and alt.supersampling == 2:
            # the corner sub-lattice of the odd supersampling: no new rasterisation
            acc = merge_accumulators(parts.int_rest, parts.int_ends, parts.coarse_bnd)
            drafts.append(_draft(mask, acc, alt, cap))
        else:
            alt_mask = structure_mask(
                structure, dose, alt.supersampling, alt.end_cap, slice_thickness_mm
            )
            drafts.append(_draft_of_mask(alt_mask, dose, alt, cap))
    return _finish(drafts, surface.extremes), mask


def _layers_the_other_cap_changes(
    raster: Rasteriser, settings: DVHSettings, alts: Sequence[DVHSettings], nz: int
) -> np.ndarray | None:
    """The box layers (bool per layer) whose sub-samples lie in another plane with the
    end-cap variant's cap (the layers near the end planes), or None without such a
    variant: their samples are kept apart, so that the variant needs only those layers
    rasterised and sampled again."""
    s = settings.supersampling
    if not any(a.supersampling == s for a in alts):
        return None
    other_cap = next(a.end_cap for a in alts if a.supersampling == s)
    return (
        (raster.plane_of_subz(settings.end_cap) != raster.plane_of_subz(other_cap))
        .reshape(nz, s)
        .any(axis=1)
    )


def compute_mask(
    structure: Structure,
    dose: DoseGrid,
    settings: DVHSettings = DEFAULT,
    *,
    slice_thickness_mm: float | None = None,
) -> StructureMask:
    """The :class:`StructureMask` that :func:`compute_dvh` samples (same planes, slab
    thickness, sampling and end cap), without computing the DVH, its variants or its surface
    extremes: for sampling other doses at the structure's points (re-irradiation
    composites). Raises :class:`GeometryError` when the structure cannot be used."""
    # structure_mask validates the contours once and gives a single-plane ROI without a
    # slice thickness the grid's plane spacing, as compute_dvh does
    return structure_mask(structure, dose, settings.supersampling, settings.end_cap, slice_thickness_mm)


def compute_union_dvh(
    structures: Sequence[Structure],
    dose: DoseGrid,
    settings: DVHSettings = DEFAULT,
    *,
    name: str | None = None,
    slice_thickness_mm: float | None = None,
) -> DVH:
    """DVH of the union of several structures (a paired organ from its sides).

    The structures are rasterised on the dose grid and united sub-sample by sub-sample
    (:func:`rtcheck.dvhcalc.unions.union_mask`): a region where they overlap is counted once,
    never twice as concatenating their DVHs would. Variants (the other end cap, the
    coarser sampling) are unions too. ``name`` defaults to the names joined by " + ".
    Raises :class:`GeometryError` when a structure cannot be used (as :func:`compute_dvh`).
    """
    structures, label = _union_parts(structures, name)
    s = settings.supersampling
    rasters = [rasteriser_for(st, dose, s, slice_thickness_mm) for st in structures]
    surfaces = [BoundaryExtremes(r.planes, dose, r.slice_thickness_mm) for r in rasters]
    main_masks = _masks_of(structures, rasters, dose, settings.end_cap)
    mask = union_mask(main_masks, dose, label)
    parts = accumulate_parts(mask, dose, settings.interpolate_dose, BinRange(mask, dose))
    main = merge_accumulators(parts.int_rest, parts.int_ends, parts.bnd_rest, parts.bnd_ends)
    drafts = [_draft(mask, main, settings, settings.end_cap)]
    alts = settings.alternatives() if settings.variants else ()
    for alt in alts:
        cap = None if alt.end_cap == settings.end_cap else alt.end_cap
        if alt.supersampling == s:
            alt_masks = _masks_of(structures, rasters, dose, alt.end_cap, base=main_masks)
            alt_mask = union_mask(alt_masks, dose, label)
        elif parts.coarse_bnd is not None and alt.supersampling == 2:
            # the corner sub-lattice of the union's own sub-samples
            acc = merge_accumulators(parts.int_rest, parts.int_ends, parts.coarse_bnd)
            drafts.append(_draft(mask, acc, alt, cap))
            continue
        else:
            alt_masks = [
                structure_mask(st, dose, alt.supersampling, alt.end_cap, r.slice_thickness_mm)
                for st, r in zip(structures, rasters, strict=True)
            ]
            alt_mask = union_mask(alt_masks, dose, label)
        drafts.append(_draft_of_mask(alt_mask, dose, alt, cap))
    # no ROI number of its own
    return _finish(drafts, _union_extremes(surfaces), roi_number=None)


def _masks_of(
    structures: Sequence[Structure],
    rasters: Sequence[Rasteriser],
    dose: DoseGrid,
    end_cap: EndCap,
    base: Sequence[StructureMask] | None = None,
) -> list[StructureMask]:
    """Each structure's mask with ``end_cap`` by its rasteriser (from its ``base`` mask of
    the other end cap, when given)."""
    return [
        structure_mask(
            st,
            dose,
            r.s,
            end_cap,
            r.slice_thickness_mm,
            rasteriser=r,
            base=None if base is None else base[i],
        )
        for i, (st, r) in enumerate(zip(structures, rasters, strict=True))
    ]


def compute_union_mask(
    structures: Sequence[Structure],
    dose: DoseGrid,
    settings: DVHSettings = DEFAULT,
    *,
    name: str | None = None,
    slice_thickness_mm: float | None = None,
) -> StructureMask:
    """The :class:`StructureMask` of the union of several structures with ``settings``'
    sampling and end cap: the same union :func:`compute_union_dvh` evaluates (a region where
    they overlap counted once), for sampling other doses at its points (re-irradiation
    composites). Raises :class:`GeometryError` when a structure cannot be used."""
    structures, label = _union_parts(structures, name)
    masks = [compute_mask(st, dose, settings, slice_thickness_mm=slice_thickness_mm) for st in structures]
    return union_mask(masks, dose, label)


def _union_parts(
    structures: Sequence[Structure], name: str | None
) -> tuple[tuple[Structure, ...], str]:
    """The structures of a union (at least one) and its name (default: theirs joined by
    " + ")."""
    structures = tuple(structures)
    if not structures:
        raise ValueError("a union needs at least one structure")
    return structures, name if name is not None else " + ".join(st.name for st in structures)


def _union_extremes(surfaces: Sequence[BoundaryExtremes]) -> Extremes:
    """Surface extremes of a union: over every ROI's surface (each in the union's closure)."""

    def extremes(
        end_cap: EndCap, beyond: tuple[float, float] | None
    ) -> tuple[float | None, float | None]:
        """The lowest minimum and highest maximum over the ROIs' surfaces."""
        found = [s.extremes(end_cap, beyond) for s in surfaces]
        mins = [f[0] for f in found if f[0] is not None]
        maxs = [f[1] for f in found if f[1] is not None]
        return (min(mins) if mins else None), (max(maxs) if maxs else None)

    return extremes


# -- the DVHs of one structure, from samples to DVH objects ----------------------------
#: Relative margin (× max(1 Gy, |dose|)) by which a surface extreme must lie beyond the DVH
#: samples' reach to be reported (:func:`_finish`): far below any clinical resolution, far
#: above the rounding of trilinear interpolation (~1e-15 relative).
_SURFACE_MARGIN = 1e-9


#: The surface extremes of a structure: (min, max) Gy beyond (low, high), see :func:`_finish`.
Extremes = Callable[[EndCap, "tuple[float, float] | None"], "tuple[float | None, float | None]"]


@dataclass(frozen=True, eq=False)
class _Draft:
    """A DVH's samples (volumes scaled to the contour volume in the grid) before its
    surface extremes are known: each DVH is then built once (:func:`_finish`)."""

    mask: StructureMask
    dose_gy: np.ndarray
    volume_cc: np.ndarray
    settings: DVHSettings
    #: the end cap of its own solid, or None: the same solid as the main DVH
    end_cap: EndCap | None

    def build(
        self,
        lo: float | None = None,
        hi: float | None = None,
        variants: tuple[DVH, ...] = (),
        roi_number: int | None = -1,
    ) -> DVH:
        """The DVH, with ``lo``/``hi`` its surface extremes (Gy, None: none beyond the
        samples) and ``variants``; ``roi_number`` −1: the mask's own."""
        m = self.mask
        return DVH(
            name=m.name,
            roi_number=m.roi_number if roi_number == -1 else roi_number,
            dose_gy=self.dose_gy,
            volume_cc=self.volume_cc,
            structure_volume_cc=m.structure_volume_cc,
            outside_grid_cc=m.outside_grid_cc,
            settings=self.settings.describe(),
            boundary_min_gy=lo,
            boundary_max_gy=hi,
            variants=variants,
        )


def _draft(
    mask: StructureMask, acc: Accumulator, settings: DVHSettings, end_cap: EndCap | None
) -> _Draft:
    """The draft of ``acc``'s samples, their volumes scaled so that they add up to the
    mask's contour volume inside the grid (the grid sampling decides the DVH's shape, the
    contours its volume)."""
    d, v = acc.samples()
    total = float(v.sum())
    if total > 0 and mask.in_grid_volume_cc > 0:
        v = v * (mask.in_grid_volume_cc / total)
    return _Draft(mask=mask, dose_gy=d, volume_cc=v, settings=settings, end_cap=end_cap)


def _draft_of_mask(
    mask: StructureMask, dose: DoseGrid, settings: DVHSettings, end_cap: EndCap | None
) -> _Draft:
    """The samples of a rasterised structure on its own (no parts shared with variants)."""
    parts = accumulate_parts(mask, dose, settings.interpolate_dose, BinRange(mask, dose))
    return _draft(mask, merge_accumulators(parts.int_rest, parts.bnd_rest), settings, end_cap)


def _finish(drafts: Sequence[_Draft], extremes: Extremes, roi_number: int | None = -1) -> DVH:
    """The DVH of ``drafts[0]`` with the others as its variants, each with the point
    extremes on its structure's surface (:class:`rtcheck.dvhcalc.extremes.BoundaryExtremes`); a
    draft of the main DVH's solid (``end_cap`` None: coarser sampling) gets the main
    DVH's surface extremes.

    The samples lie inside the structure; the surface extremes (no volume) correct the
    point max/min for the part of the structure between the outermost samples and the
    surface. Only surface points that could lie beyond what the samples of the DVHs with
    their own solid reach (by more than :data:`_SURFACE_MARGIN`) are evaluated.
    """
    reach = []
    for dr in drafts:
        if dr.end_cap is not None:
            d = dr.dose_gy[dr.volume_cc > 0]  # the samples the DVH keeps
            if d.size:
                reach.append((float(d.min()), float(d.max())))
    beyond = None
    if reach:
        low, high = max(r[0] for r in reach), min(r[1] for r in reach)
        # surface points within a rounding-level margin of what the samples reach change
        # no metric: not reported, and not evaluated (in a uniform dose the interpolated
        # samples sit an ulp below the nodes, and without a margin every surface point of
        # the structure passed the extremes' screen)
        margin = _SURFACE_MARGIN * max(1.0, abs(low), abs(high))
        beyond = (low - margin, high + margin)
    cap0 = drafts[0].end_cap
    main = extremes(cap0, beyond)  # type: ignore[arg-type]
    built = []
    for dr in drafts:
        lo, hi = main if dr.end_cap is None or dr.end_cap == cap0 else extremes(dr.end_cap, beyond)
        built.append((dr, lo, hi))
    variants = tuple(dr.build(lo, hi, roi_number=roi_number) for dr, lo, hi in built[1:])
    dr, lo, hi = built[0]
    return dr.build(lo, hi, variants, roi_number=roi_number)


def dvh_from_mask(mask: StructureMask, dose: DoseGrid, settings: DVHSettings = DEFAULT) -> DVH:
    """The DVH of a rasterised structure (no variants, no surface extremes)."""
    return _draft_of_mask(mask, dose, settings, settings.end_cap).build()
