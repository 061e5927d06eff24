"""Static checks as tests: ruff over the repository, mypy over the library, and no internal
work-assignment labels (an "H" and a digit) in code, tests or docs.

mypy runs with ``--follow-imports=silent`` on every module except those listed in
``MYPY_PENDING`` (modules with known findings still to be fixed; remove a module from the
list once ``mypy`` is clean on it).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest
from conftest import REPO

MYPY_PENDING: set[str] = set()


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False)


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_ruff_is_clean():
    result = _run("ruff", "check", "--output-format", "concise", "rtcheck", "tests", "benchmarks", "sample_dicom")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_is_clean_on_the_library(tmp_path):
    modules = sorted(
        str(p.relative_to(REPO)) for p in (REPO / "rtcheck").rglob("*.py") if str(p.relative_to(REPO)) not in MYPY_PENDING
    )
    assert len(modules) > 20
    result = _run("mypy", "--follow-imports=silent", "--cache-dir", str(tmp_path / "mypy-cache"), *modules)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_internal_work_labels_in_the_repository():
    """Code, tests and docs describe modules, not which work assignment wrote them."""
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    suffixes = {".py", ".md", ".yaml", ".yml", ".cfg", ".toml", ".txt"}
    label = re.compile(r"\bH[1-9]\b")
    found = [
        f"{name}:{number}: {line.strip()}"
        for name in listed.stdout.splitlines()
        if (REPO / name).suffix in suffixes and (REPO / name).is_file()
        for number, line in enumerate((REPO / name).read_text(encoding="utf-8").splitlines(), start=1)
        if label.search(line)
    ]
    assert found == []
