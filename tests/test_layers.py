"""The layering of ../shared/STYLE.md, checked on the source with ast (no imports executed).

    files ─► dicom_io ─► models ─► dvhcalc ─► radiobiology ─► evaluate ─► report ─► api ─► cli
                                                    constraints ──┘

Every module of rtcheck belongs to a layer (its first package under rtcheck) and may import
only the layers listed for it in :data:`MAY_IMPORT` — imports inside functions included, so
an upward import cannot hide there. Besides:

* pydicom is imported only under rtcheck/dicom_io, click only under rtcheck/cli;
* no module imports a private name (``_helper``) of another rtcheck module: a helper two
  modules need is public and named for what it does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rtcheck"

BASE = {"errors"}
#: For each layer, the other layers it may import (the package root ``rtcheck`` itself only
#: for ``__version__``, checked separately).
MAY_IMPORT: dict[str, set[str]] = {
    "errors": set(),
    "models": BASE,
    "fileio": BASE,
    "dicom_io": BASE | {"models"},
    "dvhcalc": BASE | {"models"},
    "constraints": BASE | {"models"},
    "radiobiology": BASE | {"models", "dvhcalc"},
    "evaluate": BASE | {"models", "dvhcalc", "radiobiology", "constraints"},
    "validation": BASE | {"models", "dvhcalc", "dicom_io", "fileio"},
    "report": BASE | {"models"},
    "api": BASE | {"models", "dicom_io", "dvhcalc", "radiobiology", "constraints", "evaluate", "report", "fileio"},
    "audit": BASE | {"models", "dicom_io", "constraints", "report", "api"},
    "cli": BASE | {"models", "dicom_io", "dvhcalc", "radiobiology", "constraints", "evaluate", "validation",
                   "report", "api", "audit", "fileio"},
    "__init__": BASE | {"api", "models", "radiobiology"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(name: str) -> str:
    """The layer of a module: its first package under rtcheck (``__init__`` for the root)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """Each import of a module file (see :func:`imports_in`)."""
    return imports_in(path.read_text(encoding="utf-8"), module_name(path), is_package=path.name == "__init__.py")


def imports_in(source: str, name: str, *, is_package: bool = False) -> list[tuple[str, tuple[str, ...]]]:
    """Each import of module ``name`` as (absolute module, names taken from it), relative
    imports resolved; every import statement counts, at any depth."""
    tree = ast.parse(source)
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.append((base, tuple(alias.name for alias in node.names)))
    return found


def imported_modules(path: Path) -> set[str]:
    """Absolute names of everything a module imports (for ``from X import a`` both X and X.a,
    since ``a`` may be a submodule)."""
    out: set[str] = set()
    for module, names in imports_of(path):
        out.add(module)
        out.update(f"{module}.{n}" for n in names)
    return out


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "shipped_constraints" not in p.parts)


def test_modules_found():
    names = {module_name(p) for p in MODULES}
    assert {"rtcheck", "rtcheck.models", "rtcheck.errors", "rtcheck.cli", "rtcheck.api"} <= names


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_every_module_has_a_layer(path):
    assert layer_of(module_name(path)) in MAY_IMPORT, f"{module_name(path)}: add its package to MAY_IMPORT"


def layering_problems(name: str, imports: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """What is wrong with the imports of module ``name`` (empty when nothing)."""
    layer = layer_of(name)
    allowed = MAY_IMPORT.get(layer, set()) | {layer}
    problems = []
    for module, names in imports:
        top = module.split(".")[0]
        if top == "pydicom" and layer != "dicom_io":
            problems.append(f"{name} imports pydicom: it belongs in rtcheck.dicom_io only")
        if top == "click" and layer != "cli":
            problems.append(f"{name} imports click: it belongs in rtcheck.cli only")
        if top != "rtcheck":
            continue
        if module == "rtcheck":
            # the root: only its version (a layer importing rtcheck's API would be circular)
            targets = [f"rtcheck.{n}" for n in names if n != "__version__"] if layer != "__init__" else []
        else:
            targets = [module]
        for target in targets:
            if layer_of(target) not in allowed:
                problems.append(f"{name} imports {target}: {layer} may import only {sorted(allowed)}")
    return problems


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_layering(path):
    problems = layering_problems(module_name(path), imports_of(path))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_no_private_name_is_imported_from_another_module(path):
    name = module_name(path)
    bad = [
        f"{module}.{n}"
        for module, names in imports_of(path)
        if module.startswith("rtcheck") and module != name
        for n in names
        if n.startswith("_") and not n.startswith("__")
    ]
    assert not bad, f"{name} imports private names {bad}: make the helper public, named for what it does"


def test_the_checker_sees_relative_and_nested_imports():
    """The checker itself: relative imports are resolved, imports inside functions count,
    and an upward one is reported."""
    resolved = imported_modules(PACKAGE / "cli" / "dvh.py")
    assert "rtcheck.cli" in resolved  # from . import main
    assert "rtcheck.api" in imported_modules(PACKAGE / "cli" / "check.py")  # inside the command
    source = "import numpy\n\ndef f():\n    from ..evaluate import check_course\n    return check_course\n"
    imports = imports_in(source, "rtcheck.models.probe")
    assert ("rtcheck.evaluate", ("check_course",)) in imports
    assert layering_problems("rtcheck.models.probe", imports) == [
        "rtcheck.models.probe imports rtcheck.evaluate: models may import only ['errors', 'models']"
    ]
    assert layering_problems("rtcheck.report.probe", imports_in("import click\n", "rtcheck.report.probe"))
