"""The house a newcomer can find their way in (issue #13), checked on the source with ast:
modules of a size one can hold in mind, functions of a size one can read, and a docstring
on everything a module offers.

* no module over :data:`MAX_MODULE_LINES` lines: a concern that grows past it becomes a
  subpackage;
* no function over :data:`MAX_FUNCTION_LINES` lines unless its docstring says why
  (a sentence starting "Long because");
* every public function and class of a module (not nested in a function) has a docstring.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rtcheck"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "shipped_constraints" not in p.parts)
MAX_MODULE_LINES = 650
MAX_FUNCTION_LINES = 80


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_size(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_name(path)} has {lines} lines: split it by concern"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_long_functions_say_why(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
        and "Long because" not in (ast.get_docstring(node) or "")
    ]
    assert not long, f"{_name(path)}: split into named steps, or say why in the docstring: {long}"


def _public_definitions(tree: ast.Module):
    """Module-level functions and classes, and the methods of module-level classes."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node
            if isinstance(node, ast.ClassDef):
                yield from (n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_public_definitions_have_docstrings(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    missing = [
        f"{node.name} (line {node.lineno})"
        for node in _public_definitions(tree)
        if not node.name.startswith("_") and ast.get_docstring(node) is None
    ]
    assert not missing, f"{_name(path)}: public definitions without a docstring: {missing}"
