"""Course files and tables that YAML reads but rtcheck cannot: each is a clear error naming
the file and line (exit 3), never an internal error (exit 4)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import SAMPLE_DICOM

from rtcheck.cli import main

SPINE = SAMPLE_DICOM / "spine_8gy_1fx"
PRIOR = SAMPLE_DICOM / "prior_spine_20gy_5fx"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _course_file(tmp_path, body: str):
    path = tmp_path / "courses.yaml"
    path.write_text("version: 1\nprior_courses:\n" + body, encoding="utf-8")
    return path


SUMMARY_WITH_BAD_DATE = """\
  - label: Lumbar RT 2019
    summary:
      source_document: discharge letter
      date: 2025-13-01
      fractions: 10
      organs:
        - organ: SpinalCord
          max_dose_gy: 30.5
"""

RECOVERY_WITH_ORGANS_3 = f"""\
  - label: T10 20Gy5F
    dicom: {PRIOR}
    recovery:
      factor: 0.25
      approver: Dr A. Example
      approval_date: 2026-10-10
      rationale: Price 2021
      organs: 3
"""


def test_an_impossible_date_is_an_input_error_with_its_line(tmp_path):
    path = _course_file(tmp_path, SUMMARY_WITH_BAD_DATE)
    result = run("check", SPINE, "--courses", path)
    assert result.exit_code == 3, result.output
    assert f"{path}:6:" in result.stderr and "2025-13-01" in result.stderr
    assert "internal error" not in result.stderr


def test_organs_that_are_not_a_list_are_a_recovery_factor_error(tmp_path):
    result = run("check", SPINE, "--courses", _course_file(tmp_path, RECOVERY_WITH_ORGANS_3))
    assert result.exit_code == 3, result.output
    assert "organs must be a list of organ names" in result.stderr


def test_a_course_file_that_is_not_utf8_is_an_input_error(tmp_path):
    path = tmp_path / "courses.yaml"
    path.write_bytes(b"version: 1\nprior_courses: []\n# \xff\xfe latin-1 \xe9\n")
    result = run("check", SPINE, "--courses", path)
    assert result.exit_code == 3 and "not UTF-8" in result.stderr


@pytest.mark.parametrize("value", ["!foo a", "2025-02-30"])
def test_a_table_value_yaml_cannot_build_is_refused_with_its_line(tmp_path, value):
    from rtcheck.constraints import shipped_dir

    text = (shipped_dir() / "sabr-5fx.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text) if t.startswith("version:"))
    text[line] = f"version: {value}"
    table = tmp_path / "site.yaml"
    table.write_text("\n".join(text) + "\n", encoding="utf-8")
    result = run("constraints", "validate", table)
    assert result.exit_code == 3, result.output
    assert f"{table}:{line + 1}:" in result.stderr and "cannot be read" in result.stderr
