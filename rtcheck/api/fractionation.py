"""The BED/EQD2 calculator of `rtcheck eqd2`: a fractionation's BED and EQD2 for several
α/β, and the inverse — the physical dose that reaches a BED or EQD2 in n fractions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import radiobiology as rb


def equivalent_doses(total_gy: float, fractions: int, alpha_betas_gy: Sequence[float]) -> list[dict[str, Any]]:
    """For each α/β (Gy): the BED and EQD2 (Gy) of ``total_gy`` in ``fractions`` fractions.

    Records with the keys of `rtcheck eqd2 --format json`: total_gy, fractions,
    dose_per_fraction_gy, alpha_beta_gy, bed_gy, eqd2_gy. Raises ValueError for a negative
    dose, a fraction count below 1 or a non-positive α/β.
    """
    return [
        {
            "total_gy": total_gy,
            "fractions": fractions,
            "dose_per_fraction_gy": total_gy / fractions,
            "alpha_beta_gy": ab,
            "bed_gy": rb.bed(total_gy, fractions, ab),
            "eqd2_gy": rb.eqd2(total_gy, fractions, ab),
        }
        for ab in alpha_betas_gy
    ]


def doses_reaching(
    target_gy: float, quantity: str, fractions: int, alpha_betas_gy: Sequence[float]
) -> list[dict[str, Any]]:
    """For each α/β (Gy): the dose per fraction and total dose (Gy) in ``fractions``
    fractions whose ``quantity`` ("BED" or "EQD2") is ``target_gy``.

    Records with the keys of `rtcheck eqd2 --target-… --format json`: target, target_gy,
    fractions, alpha_beta_gy, dose_per_fraction_gy, total_gy, bed_gy, eqd2_gy.
    """
    rows = []
    for ab in alpha_betas_gy:
        target_bed = target_gy if quantity == "BED" else rb.bed_from_eqd2(target_gy, ab)
        per_fraction = rb.dose_per_fraction_for_bed(target_bed, fractions, ab)
        rows.append(
            {
                "target": quantity,
                "target_gy": target_gy,
                "fractions": fractions,
                "alpha_beta_gy": ab,
                "dose_per_fraction_gy": per_fraction,
                "total_gy": per_fraction * fractions,
                "bed_gy": target_bed,
                "eqd2_gy": rb.eqd2_from_bed(target_bed, ab),
            }
        )
    return rows
