"""Constraint and alias files as the commands see them: find a table, validate a file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..constraints import (
    load_alias_file,
    load_yaml_with_lines,
    names_with_site_aliases,
    parse_table,
    resolve_table,
    shipped_names,
)
from ..models import ConstraintTable

#: Top-level keys that only an alias file has (a table always has ``constraints``).
ALIAS_FILE_KEYS = ("aliases", "lateral_stems", "evaluate_on", "compositions")


def table(spec: str, aliases: Sequence[str | Path] = ()) -> ConstraintTable:
    """A constraint table: a YAML file or a shipped table name, organ names resolved with
    the shipped aliases and the site ``aliases`` files."""
    names = names_with_site_aliases(tuple(Path(a) for a in aliases)) if aliases else None
    return resolve_table(spec, names)


@dataclass(frozen=True)
class ValidatedFile:
    """A table or alias file that validated: what it is, and a one-line summary."""

    path: Path
    kind: str  # "table" or "alias"
    summary: str


def validate_file(path: str | Path, aliases: Sequence[str | Path] = ()) -> ValidatedFile:
    """Validate a constraint table or an alias file (told apart by their keys).

    Raises :class:`~rtcheck.errors.ConstraintTableError` with file:line and what is wrong.
    """
    path = Path(path)
    root = load_yaml_with_lines(path).value
    if isinstance(root, dict) and "constraints" not in root and any(k in root for k in ALIAS_FILE_KEYS):
        alias_table = load_alias_file(path, base=shipped_names())
        return ValidatedFile(path, "alias", f"alias file ({len(alias_table.aliases)} spellings)")
    parsed = parse_table(path, names_with_site_aliases(tuple(Path(a) for a in aliases)))
    return ValidatedFile(path, "table", f"{parsed.name}, {len(parsed.constraints)} rows, sha256 {parsed.sha256}")
