"""`rtcheck eqd2`: BED / EQD2 calculator and its inverse, for quick checks at the console."""

from __future__ import annotations

import json

import click

from .. import radiobiology as rb
from . import handle_errors, main


def _forward(total_gy: float, fractions: int, alpha_betas: tuple[float, ...]) -> list[dict]:
    return [
        {
            "total_gy": total_gy,
            "fractions": fractions,
            "dose_per_fraction_gy": total_gy / fractions,
            "alpha_beta_gy": ab,
            "bed_gy": rb.bed(total_gy, fractions, ab),
            "eqd2_gy": rb.eqd2(total_gy, fractions, ab),
        }
        for ab in alpha_betas
    ]


def _inverse(target: float, quantity: str, fractions: int, alpha_betas: tuple[float, ...]) -> list[dict]:
    rows = []
    for ab in alpha_betas:
        target_bed = target if quantity == "BED" else rb.bed_from_eqd2(target, ab)
        per_fraction = rb.dose_per_fraction_for_bed(target_bed, fractions, ab)
        rows.append(
            {
                "target": quantity,
                "target_gy": target,
                "fractions": fractions,
                "alpha_beta_gy": ab,
                "dose_per_fraction_gy": per_fraction,
                "total_gy": per_fraction * fractions,
                "bed_gy": target_bed,
                "eqd2_gy": rb.eqd2_from_bed(target_bed, ab),
            }
        )
    return rows


def _text(rows: list[dict], inverse: bool) -> str:
    lines = []
    for r in rows:
        fx = "fraction" if r["fractions"] == 1 else "fractions"
        if inverse:
            lines.append(
                f"{r['target']} {r['target_gy']:g} Gy at α/β {r['alpha_beta_gy']:g} Gy in {r['fractions']} {fx}:"
            )
            lines.append(f"  dose per fraction  {r['dose_per_fraction_gy']:.3f} Gy")
            lines.append(f"  total dose         {r['total_gy']:.3f} Gy")
            other = ("EQD2", r["eqd2_gy"]) if r["target"] == "BED" else ("BED", r["bed_gy"])
            lines.append(f"  ({other[0]} {other[1]:.2f} Gy)")
        else:
            lines.append(
                f"{r['total_gy']:g} Gy in {r['fractions']} {fx} ({r['dose_per_fraction_gy']:g} Gy per fraction), "
                f"α/β {r['alpha_beta_gy']:g} Gy:"
            )
            lines.append(f"  BED   {r['bed_gy']:.2f} Gy")
            lines.append(f"  EQD2  {r['eqd2_gy']:.2f} Gy")
    return "\n".join(lines)


@main.command("eqd2")
@click.option("--dose", "total_gy", type=float, help="Total physical dose (Gy).")
@click.option("--dose-per-fraction", "per_fraction_gy", type=float, help="Physical dose per fraction (Gy), instead of --dose.")
@click.option("--fractions", "-n", type=click.IntRange(min=1), required=True, help="Number of fractions.")
@click.option(
    "--alpha-beta", "-a", "alpha_betas", type=float, multiple=True, required=True,
    help="α/β of the tissue (Gy); repeat for several tissues.",
)
@click.option("--target-eqd2", type=float, help="Inverse: the EQD2 (Gy) to reach; prints the physical dose.")
@click.option("--target-bed", type=float, help="Inverse: the BED (Gy) to reach; prints the physical dose.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def eqd2_command(total_gy, per_fraction_gy, fractions, alpha_betas, target_eqd2, target_bed, fmt):
    """BED and EQD2 of a fractionation, or the dose that reaches a given BED/EQD2.

    \b
    rtcheck eqd2 --dose 8 --fractions 1 --alpha-beta 2
        8 Gy in 1 fraction: BED 40 Gy, EQD2 20 Gy
    rtcheck eqd2 --target-eqd2 20 --fractions 5 --alpha-beta 2
        the dose per fraction and total dose in 5 fractions with EQD2 20 Gy
    """
    given = [name for name, value in (("--dose", total_gy), ("--dose-per-fraction", per_fraction_gy),
                                      ("--target-eqd2", target_eqd2), ("--target-bed", target_bed)) if value is not None]
    if len(given) != 1:
        raise click.UsageError(
            "give exactly one of --dose, --dose-per-fraction, --target-eqd2, --target-bed"
            + (f" (got {', '.join(given)})" if given else "")
        )
    try:
        if target_eqd2 is not None or target_bed is not None:
            quantity, target = ("EQD2", target_eqd2) if target_eqd2 is not None else ("BED", target_bed)
            rows, inverse = _inverse(target, quantity, fractions, alpha_betas), True
        else:
            total = total_gy if total_gy is not None else per_fraction_gy * fractions
            rows, inverse = _forward(total, fractions, alpha_betas), False
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps({"results": rows}, indent=2))
    else:
        click.echo(_text(rows, inverse))
