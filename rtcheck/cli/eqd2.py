"""`rtcheck eqd2`: BED / EQD2 calculator and its inverse, for quick checks at the console."""

from __future__ import annotations

import click

from . import handle_errors, main

# Library modules are imported inside the command: `rtcheck --help` and `--version` stay fast
# (numpy, pydicom and the tables load only when a command runs).


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
    from ..api.fractionation import doses_reaching, equivalent_doses
    from ..report import eqd2 as report

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
            rows, inverse = doses_reaching(target, quantity, fractions, alpha_betas), True
        else:
            total = total_gy if total_gy is not None else per_fraction_gy * fractions
            rows, inverse = equivalent_doses(total, fractions, alpha_betas), False
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(report.render_json(rows) if fmt == "json" else report.render_text(rows, inverse=inverse))
