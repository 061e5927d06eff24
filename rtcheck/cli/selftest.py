"""`rtcheck selftest`: show that this installation computes DVHs correctly.

Analytic phantoms are written as DICOM, read back through the normal reader and compared
with their closed-form truth (see :mod:`rtcheck.validation.selftest`). Exit 0 only if every tolerance
holds, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..fileio import write_text_atomic
from . import EXIT_FAILED, EXIT_OK, handle_errors, main

# Library modules are imported inside the command: `rtcheck --help` and `--version` stay fast
# (numpy, pydicom and the tables load only when a command runs).


@main.command("selftest")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Report format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report to FILE (atomically) instead of standard output.")
@click.option("--quick", is_flag=True,
              help="A smaller phantom set (3 volumes on 2 and 3 mm grids, every shape).")
@handle_errors
def selftest(fmt: str, output: Path | None, quick: bool) -> None:
    """Compute DVHs of analytic phantoms and compare them with closed-form truth.

    Spheres, cylinders, boxes and cones from 0.1 to 500 cc in uniform and linear-gradient
    doses on 1–3 mm grids are written as RTSTRUCT + RTDOSE, read back and computed with the
    default DVH settings. Targets: volume within 1 % mean absolute error over the set and
    3 % per structure ≥ 0.5 cc; Dmin, Dmean, Dmax within 1 % of the phantom's dose scale
    (or 0.1 Gy) for structures ≥ 0.5 cc. Exit code 0 only when every target holds.
    """
    from ..validation.selftest import format_table, run_selftest

    report = run_selftest(quick=quick)
    text = json.dumps(report.to_dict(), indent=2) + "\n" if fmt == "json" else format_table(report)
    if output is not None:
        write_text_atomic(output, text)
        click.echo(f"selftest {'PASS' if report.passed else 'FAIL'}: report written to {output}",
                   err=True)
    else:
        click.echo(text, nl=False)
    sys.exit(EXIT_OK if report.passed else EXIT_FAILED)
