"""`rtcheck constraints list|show|validate`: the constraint tables."""

from __future__ import annotations

from pathlib import Path

import click

from . import handle_errors, main

# Library modules are imported inside the command: `rtcheck --help` and `--version` stay fast
# (numpy, pydicom and the tables load only when a command runs).


@main.group("constraints")
def constraints() -> None:
    """List, show and validate constraint tables (YAML; format in constraints/README.md)."""


@constraints.command("list")
@handle_errors
def list_tables() -> None:
    """The shipped tables: name, arm, fractions, prescription, dose quantity, rows."""
    from ..constraints import shipped_tables
    from ..report import constraints as report

    click.echo(report.render_list(shipped_tables()), nl=False)


@constraints.command("show")
@click.argument("name")
@click.option("--aliases", "alias_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Site alias file(s) for organ names.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def show(name: str, alias_files, fmt: str) -> None:
    """Show a table (a shipped table NAME or a YAML file): header, rows, sources."""
    from ..api import tables
    from ..report import constraints as report

    table = tables.table(name, alias_files)
    click.echo(report.render_json(table) if fmt == "json" else report.render_description(table), nl=False)


@constraints.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--aliases", "alias_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Site alias file(s) the tables may use.")
@handle_errors
def validate(files, alias_files) -> None:
    """Validate table or alias FILES; errors give file:line and what is wrong (exit 3)."""
    from ..api import tables

    for path in files:
        click.echo(f"{path}: OK — {tables.validate_file(path, alias_files).summary}")
