"""The α/β defaults: the shipped ``alpha_beta.yaml`` (organ → α/β in Gy, with sources).

A table row's α/β (used to convert its limit between BED and EQD2) is the row's own
``alpha_beta``, else the value for its organ, else for its base organ (the organ of a PRV or
of an organ-minus-target structure), else the ``default``; each of these is taken from the
table header's ``alpha_beta`` when the header gives it, and from this file otherwise.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..errors import ConstraintTableError
from .aliases import shipped_names
from .names import NameTable
from .shipped import ALPHA_BETA_FILE, shipped_dir
from .sources import check_source_keys, parse_sources
from .yaml_lines import load_yaml_with_lines, require_mapping, require_number, require_text_list

ALPHA_BETA_ENTRY_FIELDS = ("organs", "alpha_beta_gy", "source", "note", "confidence")


@functools.lru_cache(maxsize=1)
def shipped_alpha_beta() -> tuple[tuple[str, float], ...]:
    """(organ or "default", α/β Gy) pairs from the shipped alpha_beta.yaml."""
    path = shipped_dir() / ALPHA_BETA_FILE
    return parse_alpha_beta_file(path, shipped_names())


def parse_alpha_beta_file(path: Path, names: NameTable) -> tuple[tuple[str, float], ...]:
    """(TG-263 organ or "default", α/β Gy) pairs of an α/β file; organs are written as
    TG-263 names or aliases of ``names``, each given once, and a default is required."""
    root = require_mapping(load_yaml_with_lines(path), "the α/β file", path)
    if "values" not in root or not isinstance(root["values"].value, list):
        raise ConstraintTableError("missing 'values' list", path=path, line=1)
    sources = parse_sources(root, path)
    out: dict[str, float] = {}
    for item in root["values"].value:
        fields = require_mapping(item, "an α/β entry", path)
        for key in fields:
            if key not in ALPHA_BETA_ENTRY_FIELDS:
                raise ConstraintTableError(f"unknown field '{key}'", path=path, line=item.key_line(key))
        if "organs" not in fields or "alpha_beta_gy" not in fields or "source" not in fields:
            raise ConstraintTableError("an α/β entry needs organs, alpha_beta_gy and source", path=path, line=item.line)
        value = require_number(fields["alpha_beta_gy"], "alpha_beta_gy", path)
        check_source_keys(fields["source"], sources, path)
        for organ, line in require_text_list(fields["organs"], "an organ", path):
            name = organ if organ == "default" else names.canonical_organ(organ)
            if name is None:
                raise ConstraintTableError(f"unknown organ '{organ}'", path=path, line=line)
            if name in out:
                raise ConstraintTableError(f"α/β for {name} given twice", path=path, line=line)
            out[name] = value
    if "default" not in out:
        raise ConstraintTableError("no 'default' α/β", path=path, line=root["values"].line)
    return tuple(out.items())
