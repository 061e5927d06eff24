"""Alias files: clinical spellings of TG-263 names, lateral stems, evaluate-on preferences
and paired-organ compositions (format in ``constraints/README.md``).

The shipped alias file is read once (:func:`shipped_names`); a site's alias files extend it
(:func:`names_with_site_aliases`), each validated against the TG-263 list so that an alias
can never redefine a TG-263 name.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..errors import ConstraintTableError
from .names import NameTable, load_tg263, normalize
from .shipped import ALIAS_FILE, TG263_FILE, shipped_dir
from .yaml_lines import (
    YNode,
    load_yaml_with_lines,
    refuse_unknown_keys,
    require_mapping,
    require_text_list,
)

ALIAS_FILE_FIELDS = ("name", "version", "description", "aliases", "lateral_stems", "evaluate_on", "compositions")


def load_alias_file(path: Path, base: NameTable | None = None) -> NameTable:
    """Read an alias file (format in constraints/README.md) into a :class:`NameTable`.

    With ``base`` (the shipped table), the file's entries are validated against it and
    merged on top of it (a site's alias wins over a shipped one).
    """
    path = Path(path)
    tg263 = base.tg263 if base is not None else load_tg263(shipped_dir() / TG263_FILE)
    check = NameTable(tg263=tg263)
    root_node = load_yaml_with_lines(path)
    root = require_mapping(root_node, "an alias file", path)
    refuse_unknown_keys(root_node, ALIAS_FILE_FIELDS, path)
    table = NameTable(
        tg263=tg263,
        aliases=_parse_aliases(root["aliases"], check, path) if "aliases" in root else {},
        lateral_stems=_parse_lateral_stems(root["lateral_stems"], check, path) if "lateral_stems" in root else {},
        evaluate_on=_parse_evaluate_on(root["evaluate_on"], check, path) if "evaluate_on" in root else {},
        sources=(str(path),),
        compositions=_parse_compositions(root["compositions"], check, path) if "compositions" in root else {},
    )
    return base.merged(table) if base is not None else table


def _tg263_name(check: NameTable, text: str, line: int, path: Path, *, allow_forms: bool = True) -> str:
    """``text`` itself when it is a TG-263 name (or, with ``allow_forms``, a PRV or
    organ-minus-target form of one spelled canonically); an error at ``line`` otherwise."""
    if check.is_tg263(text):
        return text
    if allow_forms:
        match = check.match(text)
        if match.canonical == text:
            return text
    raise ConstraintTableError(
        f"'{text}' is not a TG-263 name", path=path, line=line, remedy="use the TG-263 primary name (constraints/tg263_structures.csv)"
    )


def _parse_aliases(section: YNode, check: NameTable, path: Path) -> dict[str, str]:
    """``aliases:`` — normalized spelling → TG-263 name; an alias may not be another
    TG-263 name, nor map to two organs."""
    aliases: dict[str, str] = {}
    alias_lines: dict[str, int] = {}
    for organ, node in require_mapping(section, "aliases", path).items():
        target = _tg263_name(check, organ, section.key_line(organ), path)
        for spelling, sline in require_text_list(node, f"an alias of {organ}", path):
            key = normalize(spelling)
            clash = check.tg263_entry(spelling)
            if clash is not None and clash.name != target:
                raise ConstraintTableError(
                    f"alias '{spelling}' of {target} is itself the TG-263 name {clash.name}",
                    path=path,
                    line=sline,
                    remedy="remove it; a TG-263 name always means itself",
                )
            if key in aliases and aliases[key] != target:
                raise ConstraintTableError(
                    f"alias '{spelling}' maps to both {aliases[key]} (line {alias_lines[key]}) and {target}",
                    path=path,
                    line=sline,
                )
            aliases[key] = target
            alias_lines[key] = sline
    return aliases


def _parse_lateral_stems(section: YNode, check: NameTable, path: Path) -> dict[str, str]:
    """``lateral_stems:`` — normalized spelling → a stem whose ``_L`` and ``_R`` forms are
    both TG-263 names."""
    stems: dict[str, str] = {}
    for stem, node in require_mapping(section, "lateral_stems", path).items():
        line = section.key_line(stem)
        for side in ("L", "R"):
            if not check.is_tg263(f"{stem}_{side}"):
                raise ConstraintTableError(
                    f"lateral stem '{stem}': {stem}_{side} is not a TG-263 name", path=path, line=line
                )
        for spelling, _ in require_text_list(node, f"a spelling of {stem}", path):
            stems[normalize(spelling)] = stem
        stems[normalize(stem)] = stem
    return stems


def _parse_evaluate_on(section: YNode, check: NameTable, path: Path) -> dict[str, tuple[str, ...]]:
    """``evaluate_on:`` — organ → the structures for its rows, in order of preference."""
    evaluate_on: dict[str, tuple[str, ...]] = {}
    for organ, node in require_mapping(section, "evaluate_on", path).items():
        line = section.key_line(organ)
        _tg263_name(check, organ, line, path)
        prefs = tuple(_tg263_name(check, t, ln, path) for t, ln in require_text_list(node, "a structure name", path))
        if not prefs:
            raise ConstraintTableError(f"evaluate_on {organ}: empty list", path=path, line=line)
        evaluate_on[organ] = prefs
    return evaluate_on


def _parse_compositions(section: YNode, check: NameTable, path: Path) -> dict[str, tuple[str, ...]]:
    """``compositions:`` — paired organ → its two or more distinct parts (TG-263 names)."""
    compositions: dict[str, tuple[str, ...]] = {}
    for organ, node in require_mapping(section, "compositions", path).items():
        line = section.key_line(organ)
        whole = _tg263_name(check, organ, line, path, allow_forms=False)
        parts: list[str] = []
        for text, pline in require_text_list(node, f"a part of {whole}", path):
            part = _tg263_name(check, text, pline, path, allow_forms=False)
            if part == whole or part in parts:
                raise ConstraintTableError(
                    f"compositions {whole}: '{part}' is listed twice or is the organ itself",
                    path=path,
                    line=pline,
                )
            parts.append(part)
        if len(parts) < 2:
            raise ConstraintTableError(
                f"compositions {whole}: a union needs at least two parts, got {len(parts)}",
                path=path,
                line=line,
                remedy="list every side, e.g. Kidneys: [Kidney_L, Kidney_R]",
            )
        compositions[whole] = tuple(parts)
    return compositions


@functools.lru_cache(maxsize=1)
def shipped_names() -> NameTable:
    """TG-263 names plus the shipped alias table (cached)."""
    return load_alias_file(shipped_dir() / ALIAS_FILE)


def names_with_site_aliases(alias_files: tuple[Path, ...] = ()) -> NameTable:
    """The shipped names, extended by each site alias file in turn."""
    names = shipped_names()
    for path in alias_files:
        names = load_alias_file(path, base=names)
    return names
