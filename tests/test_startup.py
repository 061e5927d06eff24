"""The command line starts without the heavy libraries: `rtcheck --help` and `--version`
import neither numpy nor pydicom nor the constraint tables (the start-up time itself is
measured by benchmarks/startup.py, not here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("numpy", "pydicom", "yaml", "matplotlib", "rtcheck.api", "rtcheck.models", "rtcheck.constraints")


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["check", "--help"], ["audit", "--help"]])
def test_help_and_version_load_no_heavy_module(args):
    code = (
        "from click.testing import CliRunner\n"
        "from rtcheck.cli import main\n"
        f"result = CliRunner().invoke(main, {args!r})\n"
        "assert result.exit_code in (0, 2), result.output\n"
    )
    loaded = _modules_after(code)
    assert not [m for m in HEAVY if m in loaded]


def test_import_rtcheck_is_light_and_the_api_loads_on_use():
    loaded = _modules_after("import rtcheck\nassert 'check' in dir(rtcheck)")
    assert "numpy" not in loaded and "rtcheck.api" not in loaded
    loaded = _modules_after("import rtcheck\nrtcheck.check")
    assert "rtcheck.api" in loaded


def test_constants_of_the_command_line_match_the_library():
    from rtcheck.api.checking import CUMULATIVE_TABLE
    from rtcheck.cli import check, dvh, reirradiation
    from rtcheck.report import check as check_report
    from rtcheck.report import dvh as dvh_report

    assert check.FORMATS == check_report.FORMATS
    assert sorted(dvh.FORMATS) == sorted(dvh_report.RENDERERS)
    assert reirradiation.CUMULATIVE_TABLE == CUMULATIVE_TABLE


def test_the_report_modules_load_matplotlib_only_to_draw():
    loaded = _modules_after("import rtcheck.report.check, rtcheck.report.html, rtcheck.report.plots")
    assert "matplotlib" not in loaded
