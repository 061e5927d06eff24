"""Linear-quadratic (LQ) radiobiology: BED and EQD2, their inverses, and dose conversion.

For ``n`` fractions of ``d`` Gy (total ``D = n·d``) and a tissue's α/β (Gy):

* biologically effective dose  ``BED = D · (1 + d / (α/β))``            (Gy, "Gy_{α/β}")
* equivalent dose in 2 Gy fractions ``EQD2 = BED / (1 + 2 / (α/β))``     (Gy)

Example: 8 Gy in 1 fraction at α/β = 2 Gy gives BED = 8·(1 + 8/2) = 40 Gy₂ and
EQD2 = 40 / 2 = 20 Gy.

The inverses solve the LQ quadratic exactly: the dose per fraction ``d`` that reaches a BED
``B`` in ``n`` fractions is the positive root of ``(n/(α/β))·d² + n·d − B = 0``,

    d = 2·(B/n) / (1 + sqrt(1 + 4·B / (n·α/β)))

(the rationalised form of ``(α/β/2)·(sqrt(1 + 4B/(n·α/β)) − 1)``, which avoids cancellation
for small doses).

Every function accepts scalars or numpy arrays (broadcast against each other) and returns a
float for scalar input, an array otherwise. Inputs are validated: α/β > 0, fractions a whole
number ≥ 1, doses ≥ 0, all finite; a violation raises :class:`ValueError` naming the
argument.

Doses of a voxel or a DVH sample must be converted with the *organ's* α/β and the *course's*
own fraction count (:func:`convert_dvh`); physical doses of different fractionations must
never be summed. Because two organs may overlap and have different α/β, conversion is done
per organ on that organ's samples, not once on a whole grid (:func:`convert_grid` exists for
single-α/β uses such as display).
"""

from __future__ import annotations

import dataclasses
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike

from ..models import DVH, DoseGrid

#: Reference dose per fraction of EQD2 (Gy).
EQD2_REFERENCE_GY = 2.0


class Quantity(Enum):
    """A radiobiological dose quantity a physical dose can be converted to."""

    PHYSICAL = "physical"
    BED = "BED"
    EQD2 = "EQD2"


# -- validation ---------------------------------------------------------------------------
def _as_array(value: object, name: str) -> np.ndarray:
    """``value`` as a float array; ValueError naming ``name`` unless numeric and finite."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _check_dose(value: object, name: str) -> np.ndarray:
    """A dose (Gy) or doses as a float array; ValueError unless finite and >= 0."""
    arr = _as_array(value, name)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 Gy, got {value!r}")
    return arr


def _check_fractions(value: object) -> np.ndarray:
    """Fraction counts as a float array; ValueError unless whole numbers >= 1."""
    arr = _as_array(value, "fractions")
    if np.any(arr < 1) or np.any(arr != np.round(arr)):
        raise ValueError(f"fractions must be a whole number >= 1, got {value!r}")
    return arr


def _check_alpha_beta(value: object) -> np.ndarray:
    """α/β (Gy) as a float array; ValueError unless finite and > 0."""
    arr = _as_array(value, "alpha_beta_gy")
    if np.any(arr <= 0):
        raise ValueError(f"alpha_beta_gy (α/β) must be > 0 Gy, got {value!r}")
    return arr


def _out(result: np.ndarray, *inputs: ArrayLike) -> float | np.ndarray:
    """A float when every input was a scalar, else the array."""
    if all(np.ndim(x) == 0 for x in inputs):
        return float(result)
    return result


# -- forward ------------------------------------------------------------------------------
def bed(total_gy: ArrayLike, fractions: ArrayLike, alpha_beta_gy: ArrayLike) -> float | np.ndarray:
    """Biologically effective dose (Gy) of ``total_gy`` given in ``fractions`` equal fractions."""
    total = _check_dose(total_gy, "total_gy")
    n = _check_fractions(fractions)
    ab = _check_alpha_beta(alpha_beta_gy)
    return _out(total * (1.0 + (total / n) / ab), total_gy, fractions, alpha_beta_gy)


def eqd2(total_gy: ArrayLike, fractions: ArrayLike, alpha_beta_gy: ArrayLike) -> float | np.ndarray:
    """Equivalent dose in 2 Gy fractions (Gy) of ``total_gy`` in ``fractions`` fractions."""
    ab = _check_alpha_beta(alpha_beta_gy)
    b = np.asarray(bed(total_gy, fractions, alpha_beta_gy), dtype=float)
    return _out(b / (1.0 + EQD2_REFERENCE_GY / ab), total_gy, fractions, alpha_beta_gy)


def eqd2_from_bed(bed_gy: ArrayLike, alpha_beta_gy: ArrayLike) -> float | np.ndarray:
    """EQD2 (Gy) equivalent to a BED (Gy) at the given α/β."""
    b = _check_dose(bed_gy, "bed_gy")
    ab = _check_alpha_beta(alpha_beta_gy)
    return _out(b / (1.0 + EQD2_REFERENCE_GY / ab), bed_gy, alpha_beta_gy)


def bed_from_eqd2(eqd2_gy: ArrayLike, alpha_beta_gy: ArrayLike) -> float | np.ndarray:
    """BED (Gy) equivalent to an EQD2 (Gy) at the given α/β."""
    e = _check_dose(eqd2_gy, "eqd2_gy")
    ab = _check_alpha_beta(alpha_beta_gy)
    return _out(e * (1.0 + EQD2_REFERENCE_GY / ab), eqd2_gy, alpha_beta_gy)


# -- inverses -----------------------------------------------------------------------------
def dose_per_fraction_for_bed(bed_gy: ArrayLike, fractions: ArrayLike, alpha_beta_gy: ArrayLike) -> float | np.ndarray:
    """Dose per fraction (Gy) that reaches ``bed_gy`` in ``fractions`` fractions (exact root)."""
    b = _check_dose(bed_gy, "bed_gy")
    n = _check_fractions(fractions)
    ab = _check_alpha_beta(alpha_beta_gy)
    per_fraction_bed = b / n
    d = 2.0 * per_fraction_bed / (1.0 + np.sqrt(1.0 + 4.0 * per_fraction_bed / ab))
    return _out(d, bed_gy, fractions, alpha_beta_gy)


def total_dose_for_bed(bed_gy: ArrayLike, fractions: ArrayLike, alpha_beta_gy: ArrayLike) -> float | np.ndarray:
    """Total physical dose (Gy) in ``fractions`` fractions that reaches ``bed_gy``."""
    d = np.asarray(dose_per_fraction_for_bed(bed_gy, fractions, alpha_beta_gy), dtype=float)
    return _out(d * _check_fractions(fractions), bed_gy, fractions, alpha_beta_gy)


def dose_per_fraction_for_eqd2(eqd2_gy: ArrayLike, fractions: ArrayLike, alpha_beta_gy: ArrayLike) -> float | np.ndarray:
    """Dose per fraction (Gy) that reaches ``eqd2_gy`` in ``fractions`` fractions."""
    b = bed_from_eqd2(eqd2_gy, alpha_beta_gy)
    d = np.asarray(dose_per_fraction_for_bed(b, fractions, alpha_beta_gy), dtype=float)
    return _out(d, eqd2_gy, fractions, alpha_beta_gy)


def total_dose_for_eqd2(eqd2_gy: ArrayLike, fractions: ArrayLike, alpha_beta_gy: ArrayLike) -> float | np.ndarray:
    """Total physical dose (Gy) in ``fractions`` fractions that reaches ``eqd2_gy``."""
    d = np.asarray(dose_per_fraction_for_eqd2(eqd2_gy, fractions, alpha_beta_gy), dtype=float)
    return _out(d * _check_fractions(fractions), eqd2_gy, fractions, alpha_beta_gy)


# -- conversion of dose distributions -----------------------------------------------------
def convert(total_gy: ArrayLike, fractions: ArrayLike, alpha_beta_gy: ArrayLike, quantity: Quantity) -> float | np.ndarray:
    """Physical total dose (Gy) of a course of ``fractions`` fractions → ``quantity`` (Gy)."""
    if quantity is Quantity.PHYSICAL:
        return _out(_check_dose(total_gy, "total_gy"), total_gy)
    if quantity is Quantity.BED:
        return bed(total_gy, fractions, alpha_beta_gy)
    if quantity is Quantity.EQD2:
        return eqd2(total_gy, fractions, alpha_beta_gy)
    raise ValueError(f"unknown quantity {quantity!r}")


def convert_dvh(dvh: DVH, fractions: int, alpha_beta_gy: float, quantity: Quantity = Quantity.EQD2) -> DVH:
    """The DVH of one organ with each dose sample converted (same volumes, same order).

    ``dvh.dose_gy`` are the physical total doses of a course of ``fractions`` fractions;
    the result's ``dose_gy`` are BED or EQD2 values (Gy) with the organ's α/β. The mapping
    is monotonic, so every dose-volume metric of the result is the converted metric —
    except the mean, which must be read on the result (the LQ conversion is not linear).
    Variants are converted too; ``settings`` records the conversion.
    """
    converted = np.asarray(convert(dvh.dose_gy, fractions, alpha_beta_gy, quantity), dtype=float)
    note = f"{quantity.value} (α/β {alpha_beta_gy:g} Gy, {fractions} fx)"
    def point(b: float | None) -> float | None:
        """A point extreme on the surface (Gy), converted like the samples (monotonic mapping)."""
        return None if b is None else float(convert(max(b, 0.0), fractions, alpha_beta_gy, quantity))

    return dataclasses.replace(
        dvh,
        dose_gy=converted,
        boundary_min_gy=point(dvh.boundary_min_gy),
        boundary_max_gy=point(dvh.boundary_max_gy),
        settings=f"{dvh.settings}; {note}" if dvh.settings else note,
        variants=tuple(convert_dvh(v, fractions, alpha_beta_gy, quantity) for v in dvh.variants),
    )


def convert_grid(grid: DoseGrid, fractions: int, alpha_beta_gy: float, quantity: Quantity = Quantity.EQD2) -> DoseGrid:
    """A whole dose grid converted voxel-wise with one α/β.

    Only meaningful for a single tissue: where organs with different α/β overlap, convert
    each organ's own samples instead (:func:`convert_dvh`, :mod:`rtcheck.radiobiology.composite`).
    """
    if grid.dose_type != "PHYSICAL":
        raise ValueError(f"only a PHYSICAL dose grid can be converted, this one is {grid.dose_type}")
    converted = np.asarray(convert(grid.dose_gy, fractions, alpha_beta_gy, quantity), dtype=float)
    return dataclasses.replace(grid, dose_gy=converted, dose_type="EFFECTIVE")
