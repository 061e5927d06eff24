"""`rtcheck check` (also `rtcheck FOLDER`): check each plan against its constraint table."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..fileio import refuse_output_in_inputs, write_text_atomic
from . import handle_errors, main
from .inputs import plan_inputs
from .reirradiation import prior_options

# Library modules are imported inside the command: `rtcheck --help` and `--version` stay fast
# (numpy, pydicom and the tables load only when a command runs).

#: The output formats (rtcheck.report.check.FORMATS; a test keeps the two equal).
FORMATS = ("csv", "html", "json", "junit", "table")


@main.command("check")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option("--structures", type=click.Path(path_type=Path), help="RTSTRUCT file: skip discovery (needs --dose).")
@click.option("--dose", "doses", multiple=True, type=click.Path(path_type=Path), help="RTDOSE file (repeat for per-beam doses).")
@click.option("--plan", help="With FOLDER: check only the plan with this SOPInstanceUID or label. With --structures/--dose: the RTPLAN file (fractions, prescription).")
@click.option("--table", "table_spec", help="Constraint table: a YAML file, or a shipped table name (see `rtcheck constraints list`).")
@click.option("--arm", type=click.Choice(["control", "sabr"]), help="Trial arm, overriding the choice from the prescription.")
@click.option("--fractions", type=click.IntRange(min=1), help="Number of fractions, overriding the plan's.")
@click.option("--aliases", "alias_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Site alias file (YAML, same format as the shipped one); repeatable.")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="table", show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write to this file (atomically) instead of standard output.")
@click.option("--color/--no-color", default=None, help="Colour the table (default: when standard output is a terminal).")
@prior_options
@handle_errors
def check(folder, structures, doses, plan, table_spec, arm, fractions, alias_files, fmt, output, color,
          prior_folders=(), course_file=None, cumulative_spec="reirradiation-cumulative", converted_limits=True):
    """Check the plan(s) in FOLDER against the protocol's constraint table.

    The table is chosen from the plan: 8 Gy in 1 fraction → the control-arm table, otherwise
    the SABR table for its number of fractions (`--arm`, `--fractions` or `--table`
    override). Every constraint is PASS, INDETERMINATE (within the numerical uncertainty:
    review), MINOR, MAJOR, FAIL, or NOT EVALUATED (never shown as a pass).

    Each plan is checked on its own; a plan that cannot be checked is reported with its
    error and the others are still checked. `--table`, `--arm` and `--fractions` apply to
    one plan: with several, select one with `--plan UID|LABEL`.

    Exit codes: 0 every evaluated constraint passes and every required organ was evaluated;
    1 otherwise; 2 usage (e.g. no table for the fractionation); 3 bad input. With several
    plans, the worst over the plans in the order 3, 2, 1, 0.
    """
    from .. import api

    started = api.utc_now()
    inputs = plan_inputs(folder, structures, doses, plan)
    if output is not None:
        refuse_output_in_inputs(output, inputs.files, folder)
    use_color = fmt == "table" and (color if color is not None else (output is None and sys.stdout.isatty()))
    select = plan if folder is not None else None
    # one plan in the run: its error is the run's (one line, its exit code), not a report block
    single = len(api.select_plans(inputs.courses, select)) + (0 if select else len(inputs.unreadable)) == 1
    plans = api.check_plans(
        inputs, select=select, table=table_spec, arm=arm, fractions=fractions,
        priors=prior_folders, courses=course_file, aliases=alias_files, cumulative_table=cumulative_spec,
        converted_limits=converted_limits,
    )
    stream = fmt == "table" and output is None  # each plan's report as soon as it is ready
    done = []
    for n, plan_check in enumerate(plans):
        done.append(plan_check)
        if stream and not (plan_check.error is not None and single):
            # color=True: click would otherwise strip the escape codes when not on a terminal
            click.echo(("\n" if n else "") + plan_check.render(color=use_color, run_utc=started), nl=False, color=use_color or None)
    report = api.CheckReport(plans=tuple(done), input_files=inputs.files, run_utc=started)
    if single and report.plans[0].error is not None:
        raise report.plans[0].error
    if stream:
        if len(report.plans) > 1:
            click.echo("\n" + report.render_summary(), nl=False)
    elif output is None:
        click.echo(report.render(fmt, color=use_color), nl=False, color=use_color or None)
    else:
        write_text_atomic(output, report.render(fmt, color=use_color))
        click.echo(f"rtcheck: wrote {output} — verdict {report.verdict.value}", err=True)
    sys.exit(report.exit_code)
