"""`rtcheck dvh`: DVHs and dose statistics of every structure of a plan (or of every plan in
a folder), as a table, JSON or CSV."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from ..fileio import refuse_output_in_inputs, write_bytes_atomic, write_text_atomic
from . import handle_errors, main
from .inputs import plan_inputs

# Library modules are imported inside the command: `rtcheck --help` and `--version` stay fast
# (numpy, pydicom and the tables load only when a command runs).

#: The output formats (the keys of rtcheck.report.dvh.RENDERERS; a test keeps them equal).
FORMATS = ("csv", "json", "table")


@main.command("dvh")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option(
    "--structures",
    type=click.Path(path_type=Path),
    help="RTSTRUCT file: skip discovery and use these files (needs --dose).",
)
@click.option(
    "--dose",
    "doses",
    multiple=True,
    type=click.Path(path_type=Path),
    help="RTDOSE file (repeat for per-beam doses, which are summed).",
)
@click.option(
    "--plan", type=click.Path(path_type=Path), help="RTPLAN file (fractions, prescription)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file (atomically) instead of standard output.",
)
@click.option(
    "--plot",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also draw the cumulative DVH of every structure in one figure: FILE.png or FILE.svg (written atomically).",
)
@handle_errors
def dvh(folder, structures, doses, plan, fmt, output, plot=None):
    """DVHs of all structures of the plan(s) in FOLDER (searched recursively).

    Plans, structure sets and doses are linked by UID; a folder with several plans gives one
    result per plan. When a folder holds several dose grids that cannot be told apart, name
    the files: `rtcheck dvh --structures RS.dcm --dose RD.dcm [--plan RP.dcm]`.

    Dose in Gy, volume in cc. Structures without a DVH (no contours, points or open
    contours, outside the dose grid) are listed with the reason. `--plot FILE.png|.svg`
    draws every structure's cumulative DVH (volume in % of the structure) in one figure.
    """
    from ..api import dvh as compute_dvh_report
    from ..report.plots import PLOT_FORMATS, dvh_figure, plan_curves

    if plot is not None and plot.suffix.lower() not in PLOT_FORMATS:
        raise UsageError(f"cannot draw a plot as {plot.name}", remedy="name the plot FILE.png or FILE.svg")
    inputs = plan_inputs(folder, structures, doses, plan)
    for path in (output, plot):
        if path is not None:
            refuse_output_in_inputs(path, inputs.files, folder)
    report = compute_dvh_report(inputs)
    if plot is not None:
        pairs = [(p.course, p.dvhs) for p in report.plans]
        title = ", ".join(p.course.label or "unnamed plan" for p in report.plans)
        figure = dvh_figure(plan_curves(pairs), PLOT_FORMATS[plot.suffix.lower()], title=title)
        write_bytes_atomic(plot, figure)
        click.echo(f"rtcheck: wrote {plot}", err=True)
    text = report.render(fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text_atomic(output, text)
        click.echo(f"rtcheck: wrote {output}", err=True)
