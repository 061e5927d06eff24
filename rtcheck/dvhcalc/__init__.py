"""Contours → masks → DVHs: everything between a structure set on a dose grid and its DVHs.

Named ``dvhcalc``, not ``dvh``, because ``rtcheck.dvh(...)`` is a function of the public
API: a subpackage of that name would shadow it.

A DVH computation reads top to bottom through the modules, each one concern:

* :mod:`~rtcheck.dvhcalc.compute` — :func:`compute_dvh`, :func:`compute_dvhs`,
  :func:`compute_union_dvh` and their settings (:class:`DVHSettings`): the flow of one DVH;
* :mod:`~rtcheck.dvhcalc.planes` — contours grouped into planes and validated, the slabs
  they stand for (end caps, gaps): the conventions, stated once;
* :mod:`~rtcheck.dvhcalc.polygons` — polygons laid end to end: areas, nesting, clipping,
  point-in-polygon tests;
* :mod:`~rtcheck.dvhcalc.scanline` — the even-odd scanline fill of a plane's polygons
  (half-open rows, the tie rule);
* :mod:`~rtcheck.dvhcalc.rasterise` — an ROI's planes → sub-sample masks on the dose grid;
* :mod:`~rtcheck.dvhcalc.masks` — :class:`StructureMask`, the reusable mask of an ROI;
* :mod:`~rtcheck.dvhcalc.unions` — the union of several masks (a paired organ);
* :mod:`~rtcheck.dvhcalc.sampling` — positions on the grid and trilinear interpolation;
* :mod:`~rtcheck.dvhcalc.dose_samples` — a mask's dose samples, chunk by chunk;
* :mod:`~rtcheck.dvhcalc.histogram` — samples binned for the DVH;
* :mod:`~rtcheck.dvhcalc.extremes` — point dose extremes on the structure's surface,
  whose edges and exposed faces :mod:`~rtcheck.dvhcalc.surface` lays out.
"""

from .compute import (
    DEFAULT,
    DVHSettings,
    compute_dvh,
    compute_dvh_and_mask,
    compute_dvhs,
    compute_mask,
    compute_union_dvh,
    compute_union_mask,
    dvh_from_mask,
    typical_slice_thickness_mm,
)
from .dose_samples import FINE_INTERIOR_MAX_VOXELS, SampleChunk
from .extremes import BoundaryExtremes
from .masks import StructureMask, structure_mask
from .planes import END_CAPS, ContourPlane, EndCap, contour_planes, slab_bounds, structure_volume_cc
from .polygons import even_odd_area_mm2, points_in_polygons
from .sampling import MAX_SUPERSAMPLING, fractional_index, trilinear, voxel_edges
from .scanline import rasterise_plane, rasterise_planes, rasterise_planes_packed
from .unions import union_mask

__all__ = [
    "DEFAULT",
    "END_CAPS",
    "FINE_INTERIOR_MAX_VOXELS",
    "MAX_SUPERSAMPLING",
    "BoundaryExtremes",
    "ContourPlane",
    "DVHSettings",
    "EndCap",
    "SampleChunk",
    "StructureMask",
    "compute_dvh",
    "compute_dvh_and_mask",
    "compute_dvhs",
    "compute_mask",
    "compute_union_dvh",
    "compute_union_mask",
    "contour_planes",
    "dvh_from_mask",
    "even_odd_area_mm2",
    "fractional_index",
    "points_in_polygons",
    "rasterise_plane",
    "rasterise_planes",
    "rasterise_planes_packed",
    "slab_bounds",
    "structure_mask",
    "structure_volume_cc",
    "trilinear",
    "typical_slice_thickness_mm",
    "union_mask",
    "voxel_edges",
]
