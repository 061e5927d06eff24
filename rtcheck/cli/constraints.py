"""`rtcheck constraints list|show|validate`: the constraint tables."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..constraints import (
    load_alias_file,
    load_yaml_with_lines,
    names_with_site_aliases,
    parse_table,
    resolve_table,
    shipped_names,
    shipped_tables,
)
from ..models import ConstraintTable
from . import handle_errors, main


@main.group("constraints")
def constraints() -> None:
    """List, show and validate constraint tables (YAML; format in constraints/README.md)."""


@constraints.command("list")
@handle_errors
def list_tables() -> None:
    """The shipped tables: name, arm, fractions, prescription, dose quantity, rows."""
    rows = [("name", "arm", "fx", "Rx (Gy)", "dose", "rows", "version", "sha256")]
    for t in shipped_tables():
        rows.append(
            (
                t.name,
                t.arm or "—",
                str(t.fractions) if t.fractions is not None else "—",
                f"{t.prescription_gy:g}" if t.prescription_gy is not None else "any",
                t.dose_quantity.value,
                str(len(t.constraints)),
                t.version,
                (t.sha256 or "")[:12],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _describe(table: ConstraintTable) -> str:
    lines = [
        f"{table.name} (version {table.version})",
        f"file:      {table.path}",
        f"sha256:    {table.sha256}",
        f"arm:       {table.arm or '—'}   fractions: {table.fractions or '—'}   "
        f"prescription: {f'{table.prescription_gy:g} Gy' if table.prescription_gy else 'any'}   "
        f"dose: {table.dose_quantity.value}",
        f"required:  {', '.join(table.required_organs) or '—'}",
        "",
        table.description,
        "",
    ]
    rows = [("organ", "constraint", "level", "α/β", "source", "confidence", "line")]
    for c in table.constraints:
        level = c.kind.value + (f" (minor to {c.minor_limit:g})" if c.minor_limit is not None else "")
        if c.min_interval_months is not None:
            level += f", >= {c.min_interval_months:g} months between courses"
        rows.append(
            (
                c.organ,
                f"{c.metric} {c.limit_text}",
                level,
                f"{c.alpha_beta_gy:g}" if c.alpha_beta_gy is not None else "—",
                c.source,
                c.confidence.value,
                str(c.line),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    lines.append("")
    lines.append("sources:")
    for key, citation in table.sources:
        lines.append(f"  {key}: {citation}")
    return "\n".join(lines) + "\n"


@constraints.command("show")
@click.argument("name")
@click.option("--aliases", "alias_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Site alias file(s) for organ names.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def show(name: str, alias_files, fmt: str) -> None:
    """Show a table (a shipped table NAME or a YAML file): header, rows, sources."""
    table = resolve_table(name, names_with_site_aliases(tuple(alias_files)) if alias_files else None)
    if fmt == "json":
        data = table.summary_dict() | {
            "description": table.description,
            "required_organs": list(table.required_organs),
            "sources": dict(table.sources),
            "constraints": [c.to_dict() for c in table.constraints],
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(_describe(table), nl=False)


@constraints.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--aliases", "alias_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Site alias file(s) the tables may use.")
@handle_errors
def validate(files, alias_files) -> None:
    """Validate table or alias FILES; errors give file:line and what is wrong (exit 3)."""
    names = names_with_site_aliases(tuple(alias_files))
    for path in files:
        root = load_yaml_with_lines(path).value
        if isinstance(root, dict) and "constraints" not in root and (
            "aliases" in root or "lateral_stems" in root or "evaluate_on" in root or "compositions" in root
        ):
            alias_table = load_alias_file(path, base=shipped_names())
            click.echo(f"{path}: OK — alias file ({len(alias_table.aliases)} spellings)")
            continue
        table = parse_table(path, names)
        click.echo(f"{path}: OK — {table.name}, {len(table.constraints)} rows, sha256 {table.sha256}")
