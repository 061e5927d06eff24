"""Radiobiology: BED and EQD2, tissue-recovery factors, and composites of several courses.

* :mod:`~rtcheck.radiobiology.lq` — the linear-quadratic model: :func:`bed`, :func:`eqd2`,
  their inverses, and conversion of doses, DVHs and grids (:class:`Quantity`);
* :mod:`~rtcheck.radiobiology.recovery` — the documentation a recovery factor needs
  (:func:`document_recovery`);
* :mod:`~rtcheck.radiobiology.resample` — a prior dose at points of the current plan
  (registration matrix, then trilinear interpolation);
* :mod:`~rtcheck.radiobiology.composite` — the composite EQD2 of an organ over the current
  and prior courses.
"""

from .composite import OrganSamples, composite, composite_organ, organ_samples_from_mask
from .lq import (
    EQD2_REFERENCE_GY,
    Quantity,
    bed,
    bed_from_eqd2,
    convert,
    convert_dvh,
    convert_grid,
    dose_per_fraction_for_bed,
    dose_per_fraction_for_eqd2,
    eqd2,
    eqd2_from_bed,
    total_dose_for_bed,
    total_dose_for_eqd2,
)
from .recovery import document_recovery
from .resample import (
    PointDoses,
    ResampledDose,
    dose_at_points,
    prior_dose_at,
    resample_dose,
    transform_points,
)

__all__ = [
    "EQD2_REFERENCE_GY",
    "OrganSamples",
    "PointDoses",
    "Quantity",
    "ResampledDose",
    "bed",
    "bed_from_eqd2",
    "composite",
    "composite_organ",
    "convert",
    "convert_dvh",
    "convert_grid",
    "document_recovery",
    "dose_at_points",
    "dose_per_fraction_for_bed",
    "dose_per_fraction_for_eqd2",
    "eqd2",
    "eqd2_from_bed",
    "organ_samples_from_mask",
    "prior_dose_at",
    "resample_dose",
    "total_dose_for_bed",
    "total_dose_for_eqd2",
    "transform_points",
]
