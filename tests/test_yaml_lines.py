"""The one YAML-with-line-numbers loader shared by tables, alias files and course files."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from rtcheck.constraints.yaml_lines import (
    YNode,
    load_yaml_with_lines,
    parse_yaml_with_lines,
    refuse_unknown_keys,
    require_mapping,
    require_number,
    require_text_list,
)
from rtcheck.errors import ConstraintTableError

DOCUMENT = """\
version: 1
current_date: 2026-11-20
prior_courses:
  - label: T-spine
    recovery:
      factor: 0.25
  - label: paper
    organs: [SpinalCord, Esophagus]
"""


def test_lines_of_keys_and_values(tmp_path):
    root = parse_yaml_with_lines(DOCUMENT, tmp_path / "c.yaml")
    assert root is not None and root.line == 1
    top = require_mapping(root, "a course file", tmp_path)
    assert root.key_line("prior_courses") == 3
    assert top["current_date"].value == dt.date(2026, 11, 20)
    first, second = top["prior_courses"].value
    assert first.line == 4 and first.key_line("recovery") == 5
    assert first.value["recovery"].line == 6  # a mapping starts at its first key
    assert require_text_list(second.value["organs"], "an organ", tmp_path) == [("SpinalCord", 8), ("Esophagus", 8)]
    plain = first.plain()
    assert plain == {"label": "T-spine", "recovery": {"factor": 0.25}}
    assert plain.line == 4 and plain["recovery"].line == 6 and plain.key_line("recovery") == 5


def test_empty_document_and_syntax_error(tmp_path):
    assert parse_yaml_with_lines("", tmp_path / "e.yaml") is None
    with pytest.raises(yaml.YAMLError):
        parse_yaml_with_lines("a: [1, 2\n", tmp_path / "e.yaml")
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\nb: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConstraintTableError, match="YAML syntax error") as info:
        load_yaml_with_lines(path)
    assert info.value.line is not None and info.value.path == path
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConstraintTableError, match="the file is empty"):
        load_yaml_with_lines(path)


def test_repeated_key_is_an_error_with_both_lines(tmp_path):
    with pytest.raises(ConstraintTableError, match=r"appears twice .*first on line 2") as info:
        parse_yaml_with_lines("x: 0\nfactor: 0.25\nfactor: 0.5\n", tmp_path / "d.yaml")
    assert info.value.line == 3


def test_validation_steps_name_the_line(tmp_path):
    node = parse_yaml_with_lines("a: 1\nb: -2\nzz: 3\n", tmp_path / "v.yaml")
    assert isinstance(node, YNode)
    with pytest.raises(ConstraintTableError, match="must be > 0") as info:
        require_number(node.value["b"], "b", tmp_path)
    assert info.value.line == 2
    with pytest.raises(ConstraintTableError, match="unknown field 'zz'") as info:
        refuse_unknown_keys(node, ("a", "b"), tmp_path)
    assert info.value.line == 3
