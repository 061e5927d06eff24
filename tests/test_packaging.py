"""The top-level constraints/ folder is data shipped inside the wheel: after a plain,
non-editable install, run from another directory, rtcheck finds every shipped table."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO

CONSTRAINT_FILES = sorted(p.name for p in (REPO / "constraints").iterdir() if p.is_file())


def test_wheel_carries_constraints_and_they_load_from_another_directory(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", "venv", "build", "*.egg-info", "__pycache__", ".hypothesis", "sample_dicom", "benchmarks"),
    )
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("rtcheck-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    for name in CONSTRAINT_FILES:
        assert f"rtcheck/shipped_constraints/{name}" in names, name

    # run from an unrelated directory with only the unpacked wheel on the path
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import rtcheck, rtcheck.constraints as c; from pathlib import Path;"
        "print(Path(rtcheck.__file__).parent); print(c.shipped_dir());"
        "print(sorted(p.name for p in c.shipped_dir().iterdir()))"
    )
    run = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); {probe}"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    package_dir, tables_dir, listed = run.stdout.splitlines()
    assert Path(package_dir).is_relative_to(tmp_path / "site")
    assert Path(tables_dir).is_relative_to(tmp_path / "site")
    for name in CONSTRAINT_FILES:
        assert name in listed, name
