"""The layering of ../shared/STYLE.md, checked on the source with ast (no imports executed).

    files ─► dicom_io ─► models ─► dvhcalc ─► radiobiology ─► evaluate ─► report ─► cli

* pydicom is imported only under rtcheck/dicom_io/, click only under rtcheck/cli/;
* errors imports nothing from rtcheck; models and fileio only errors;
* the computing layers (dvhcalc, phantoms, radiobiology, constraints, names, evaluate)
  never import dicom_io, report or cli: they work on models, not on files or output;
* report never imports dicom_io or cli; dicom_io never imports report or cli;
* nothing outside rtcheck/cli imports rtcheck.cli.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rtcheck"

COMPUTING = ("dvhcalc", "phantoms", "radiobiology", "constraints", "names", "evaluate")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute names of everything a module imports (relative imports resolved; for
    ``from X import a`` both X and X.a, since ``a`` may be a submodule)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "shipped_constraints" not in p.parts)


def _hits(imports: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(i for i in imports if any(i == p or i.startswith(p + ".") for p in prefixes))


def test_modules_found():
    names = {module_name(p) for p in MODULES}
    assert {"rtcheck.models", "rtcheck.errors", "rtcheck.dicom_io.read", "rtcheck.cli"} <= names


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_layering(path):
    name = module_name(path)
    imports = imported_modules(path)
    own = {i for i in imports if i == "rtcheck" or i.startswith("rtcheck.")}
    problems = []

    def forbid(prefixes: tuple[str, ...], why: str) -> None:
        bad = _hits(imports, prefixes)
        if bad:
            problems.append(f"{name} imports {', '.join(bad)}: {why}")

    if not name.startswith("rtcheck.dicom_io"):
        forbid(("pydicom",), "pydicom belongs in rtcheck.dicom_io only")
    if not name.startswith("rtcheck.cli"):
        forbid(("click",), "click belongs in rtcheck.cli only")
        forbid(("rtcheck.cli",), "only the command line imports the command line")
    top = name.split(".")[1] if "." in name else ""
    if top == "errors":
        bad = sorted(own - {"rtcheck"})
        if bad:
            problems.append(f"{name} imports {bad}: errors is the bottom layer")
    if top in ("models", "fileio"):
        bad = sorted(
            i
            for i in own
            if not (i in ("rtcheck", "rtcheck.errors") or i.startswith("rtcheck.errors."))
            and not i.startswith(f"rtcheck.{top}.")
        )
        bad = [b for b in bad if not b.startswith("rtcheck.__")]
        if bad:
            problems.append(f"{name} imports {bad}: {top} may import only rtcheck.errors")
    if top in COMPUTING:
        forbid(
            ("rtcheck.dicom_io", "rtcheck.report", "rtcheck.cli"),
            "computation works on models, never on files or output",
        )
    if top == "report":
        forbid(("rtcheck.dicom_io", "rtcheck.cli"), "renderers take results, not files")
    if top == "dicom_io":
        forbid(("rtcheck.report", "rtcheck.cli", "rtcheck.evaluate"), "readers return models only")
    assert not problems, "\n".join(problems)


def test_the_checker_sees_relative_imports():
    """The resolver itself: relative imports are resolved to absolute module names."""
    assert "rtcheck.cli" in imported_modules(PACKAGE / "cli" / "dvh.py")  # from . import main
    assert "rtcheck.report.dvh" in imported_modules(PACKAGE / "cli" / "dvh.py")  # from ..report.dvh
    resolved = imported_modules(PACKAGE / "dicom_io" / "read.py")
    assert "rtcheck.models" in resolved and "pydicom" in resolved
