"""`rtcheck check` (also `rtcheck FOLDER`): check each plan against its constraint table."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..constraints import names_with_site_aliases, resolve_table, select_table
from ..errors import InputError, UsageError
from ..evaluate import check_course
from ..fileio import write_text_atomic
from ..models import CheckResult, ConstraintTable, Course, Level
from ..names import NameTable
from ..report.check import RENDERERS, worst
from . import EXIT_FAILED, EXIT_OK, handle_errors, main
from .inputs import check_output, load_courses
from .reirradiation import append_report, combined_verdict, prior_options, run_reirradiation


def table_for_course(
    course: Course,
    *,
    table_spec: str | None,
    arm: str | None,
    fractions: int | None,
    names: NameTable,
) -> tuple[ConstraintTable, int | None, list[str]]:
    """The table for one course, the fraction count used, and notes on how they were chosen."""
    notes: list[str] = []
    plan = course.plan
    plan_fractions = plan.fractions if plan is not None else None
    if plan is None:
        notes.append("no RTPLAN: fractions and prescription unknown from the files")
    used = fractions if fractions is not None else plan_fractions
    if fractions is not None and plan_fractions is not None and fractions != plan_fractions:
        notes.append(f"fractions {fractions} from --fractions (the plan says {plan_fractions})")
    prescription = plan.prescription_gy if plan is not None else None
    if table_spec is not None:
        table = resolve_table(table_spec, names)
        if table.fractions is not None and used is not None and table.fractions != used:
            raise UsageError(
                f"table {table.name} is for {table.fractions} fraction(s) but the plan has {used}",
                remedy="give the table for this fractionation (or --fractions if the plan's count is wrong)",
            )
        if arm is not None and table.arm is not None and table.arm != arm:
            raise UsageError(f"table {table.name} is for the {table.arm} arm, not {arm}")
        notes.append(f"table {table.name} given with --table")
        if prescription is None:
            notes.append("prescription unknown (the plan states no TargetPrescriptionDose)")
        return table, used, notes
    if used is None and plan is not None:
        # a required tag missing from the export: an input problem (exit 3), with the way on
        raise InputError(
            "the plan states no single number of fractions (NumberOfFractionsPlanned missing, or "
            "several fraction groups), so no table can be chosen",
            path=plan.source_file,
            remedy="give --fractions N or --table",
        )
    selection = select_table(fractions=used, prescription_gy=prescription, arm=arm)
    return selection.table, used, notes + list(selection.notes)


def run_check(
    courses: list[Course],
    *,
    table_spec: str | None,
    arm: str | None,
    fractions: int | None,
    alias_files: tuple[Path, ...],
) -> list[CheckResult]:
    names = names_with_site_aliases(tuple(alias_files))
    results = []
    for course in courses:
        table, used, notes = table_for_course(course, table_spec=table_spec, arm=arm, fractions=fractions, names=names)
        results.append(check_course(course, table, names, fractions=used, notes=notes))
    return results


@main.command("check")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option("--structures", type=click.Path(path_type=Path), help="RTSTRUCT file: skip discovery (needs --dose).")
@click.option("--dose", "doses", multiple=True, type=click.Path(path_type=Path), help="RTDOSE file (repeat for per-beam doses).")
@click.option("--plan", type=click.Path(path_type=Path), help="RTPLAN file (fractions, prescription).")
@click.option("--table", "table_spec", help="Constraint table: a YAML file, or a shipped table name (see `rtcheck constraints list`).")
@click.option("--arm", type=click.Choice(["control", "sabr"]), help="Trial arm, overriding the choice from the prescription.")
@click.option("--fractions", type=click.IntRange(min=1), help="Number of fractions, overriding the plan's.")
@click.option("--aliases", "alias_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Site alias file (YAML, same format as the shipped one); repeatable.")
@click.option("--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="table", show_default=True, help="Output format.")
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

    Exit codes: 0 every evaluated constraint passes and every required organ was evaluated;
    1 otherwise; 2 usage (e.g. no table for the fractionation); 3 bad input.
    """
    courses, inputs = load_courses(folder, structures, doses, plan)
    if output is not None:
        check_output(output, inputs, folder)
    results = run_check(courses, table_spec=table_spec, arm=arm, fractions=fractions, alias_files=alias_files)
    composites = run_reirradiation(  # --prior / --courses: re-irradiation composite
        courses, prior_folders=prior_folders, course_file=course_file, folder=folder, tables=[r.table for r in results],
        alias_files=alias_files, cumulative_spec=cumulative_spec, fractions=fractions, converted_limits=converted_limits,
    )
    use_color = False
    if fmt == "table":
        use_color = color if color is not None else (output is None and sys.stdout.isatty())
        text = RENDERERS["table"](results, color=use_color)
    else:
        text = RENDERERS[fmt](results)
    text = append_report(text, fmt, composites)
    verdict = combined_verdict(worst(results), composites)
    if output is None:
        # color=True: click would otherwise strip the escape codes when not on a terminal
        click.echo(text, nl=False, color=use_color or None)
    else:
        write_text_atomic(output, text)
        click.echo(f"rtcheck: wrote {output} — verdict {verdict.value}", err=True)
    sys.exit(EXIT_OK if verdict is Level.PASS else EXIT_FAILED)
