"""`rtcheck eqd2`: the console calculator and its inverse."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rtcheck.cli import main


def run(*args):
    return CliRunner().invoke(main, ["eqd2", *args])


def test_forward_prints_bed_and_eqd2():
    result = run("--dose", "8", "--fractions", "1", "--alpha-beta", "2")
    assert result.exit_code == 0, result.output
    assert "BED   40.00 Gy" in result.output
    assert "EQD2  20.00 Gy" in result.output


def test_dose_per_fraction_and_json():
    result = run("--dose-per-fraction", "4", "-n", "5", "-a", "2", "-a", "10", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["results"]
    # 20 Gy / 5 fx: BED2 = 20 * (1 + 4/2) = 60; BED10 = 20 * 1.4 = 28; EQD2 = 30 and 28/1.2
    assert [r["alpha_beta_gy"] for r in rows] == [2.0, 10.0]
    assert rows[0]["bed_gy"] == pytest.approx(60.0) and rows[0]["eqd2_gy"] == pytest.approx(30.0)
    assert rows[1]["bed_gy"] == pytest.approx(28.0) and rows[1]["eqd2_gy"] == pytest.approx(28 / 1.2)


def test_inverse_eqd2():
    # EQD2 20 Gy in 1 fraction at α/β 2 is 8 Gy
    result = run("--target-eqd2", "20", "--fractions", "1", "--alpha-beta", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)["results"][0]
    assert row["dose_per_fraction_gy"] == pytest.approx(8.0)
    assert row["total_gy"] == pytest.approx(8.0)


def test_inverse_bed_text():
    # BED 60 Gy2 in 5 fractions: 4 Gy per fraction, 20 Gy total
    result = run("--target-bed", "60", "-n", "5", "-a", "2")
    assert result.exit_code == 0, result.output
    assert "dose per fraction  4.000 Gy" in result.output
    assert "total dose         20.000 Gy" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("-n", "1", "-a", "2"),  # no dose
        ("--dose", "8", "--target-eqd2", "20", "-n", "1", "-a", "2"),  # two at once
        ("--dose", "8", "-n", "0", "-a", "2"),
        ("--dose", "8", "-n", "1", "-a", "0"),
        ("--dose", "-8", "-n", "1", "-a", "2"),
    ],
)
def test_usage_errors_exit_2(args):
    result = run(*args)
    assert result.exit_code == 2, result.output


def test_help():
    assert run("--help").exit_code == 0
