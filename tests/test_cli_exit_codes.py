"""Exit codes that mean "no verdict" must never look like a verdict (0 pass, 1 fail)."""

from __future__ import annotations

from click.testing import CliRunner
from conftest import SAMPLE_DICOM

import rtcheck.cli.check as check_cli
from rtcheck.cli import EXIT_INTERNAL, EXIT_INTERRUPTED, main


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _crash(*args, **kwargs):
    raise ZeroDivisionError("simulated bug")


def test_ctrl_c_exits_130_not_1(monkeypatch):
    monkeypatch.setattr(check_cli, "plan_inputs", _interrupt)
    result = CliRunner().invoke(main, ["check", str(SAMPLE_DICOM / "spine_8gy_1fx")])
    assert result.exit_code == EXIT_INTERRUPTED == 130
    assert "no verdict" in result.stderr


def test_unexpected_exception_exits_4(monkeypatch):
    monkeypatch.delenv("RTCHECK_DEBUG", raising=False)
    monkeypatch.setattr(check_cli, "plan_inputs", _crash)
    result = CliRunner().invoke(main, ["check", str(SAMPLE_DICOM / "spine_8gy_1fx")])
    assert result.exit_code == EXIT_INTERNAL == 4
    assert "internal error" in result.stderr and "ZeroDivisionError" in result.stderr
