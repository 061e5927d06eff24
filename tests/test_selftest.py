"""`rtcheck selftest`: passes on a sound installation, and can fail.

The expected values here are the closed-form truths of rtcheck.validation.phantoms and hand-computed
tolerances; the "broken engine" tests prove that the self-test detects a DVH engine that is
off by a few percent in volume or dose.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from rtcheck.cli import main
from rtcheck.dvhcalc import compute as rtdvh
from rtcheck.models import DVH
from rtcheck.validation.selftest import Truth, agreement, summarise


@pytest.fixture(scope="module")
def quick_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("selftest") / "report.json"
    result = CliRunner().invoke(main, ["selftest", "--quick", "--format", "json", "-o", str(out)])
    return result, out


def test_selftest_quick_passes_and_reports_every_phantom():
    result = CliRunner().invoke(main, ["selftest", "--quick"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "PASS: every tolerance holds." in text
    for shape in ("sphere", "cylinder_z", "cylinder_x", "box", "cone"):
        assert f"{shape}_5cc" in text
    assert "volume MAE" in text and "Dmean" in text


def test_selftest_json_report(quick_json):
    result, out = quick_json
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output  # the one-line note on stderr
    data = json.loads(out.read_text())
    assert data["passed"] is True
    assert data["quick"] is True
    assert data["tolerances"]["volume_each_pct"] == 3.0
    assert data["summary"]["failures"] == []
    assert len(data["structures"]) == len(data["phantoms"]) == 30
    row = data["structures"][0]
    assert set(row["truth"]) == {"volume_cc", "min_gy", "mean_gy", "max_gy"}
    assert row["computed"]["volume_cc"] == pytest.approx(row["truth"]["volume_cc"], rel=0.03)


def _scaled_dvhs(volume_factor: float = 1.0, dose_factor: float = 1.0):
    real = rtdvh.compute_dvhs

    def broken(structure_set, dose, settings=rtdvh.DEFAULT):
        out = []
        for res in real(structure_set, dose, settings):
            if isinstance(res, DVH):
                res = dataclasses.replace(
                    res,
                    dose_gy=res.dose_gy * dose_factor,
                    volume_cc=res.volume_cc * volume_factor,
                    structure_volume_cc=(None if res.structure_volume_cc is None
                                         else res.structure_volume_cc * volume_factor),
                    variants=(),
                )
            out.append(res)
        return out

    return broken


def test_selftest_fails_when_volumes_are_5_percent_too_large(monkeypatch):
    monkeypatch.setattr(rtdvh, "compute_dvhs", _scaled_dvhs(volume_factor=1.05))
    result = CliRunner().invoke(main, ["selftest", "--quick"])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output
    assert "volume mean absolute error 5.00 %" in result.output
    assert "volume error +5.00 %" in result.output


def test_selftest_fails_when_doses_are_2_percent_high(monkeypatch):
    # 2 % of ~50 Gy is ~1 Gy, twice the 0.5 Gy (1 % of 50 Gy) tolerance
    monkeypatch.setattr(rtdvh, "compute_dvhs", _scaled_dvhs(dose_factor=1.02))
    result = CliRunner().invoke(main, ["selftest", "--quick"])
    assert result.exit_code == 1, result.output
    assert "Dmean error +1.0000 Gy (limit ±0.5000 Gy)" in result.output


def test_scoring_against_hand_computed_limits():
    truth = Truth("box", volume_cc=10.0, min_gy=40.0, mean_gy=50.0, max_gy=60.0,
                  dvh_points=((45.0, 7.5),))
    # 50 Gy dose scale -> 0.5 Gy dose tolerance; 2.9 % volume error is inside 3 %
    good = agreement("p", 1, truth, 50.0, volume_cc=10.29, min_gy=40.4, mean_gy=49.6,
                     max_gy=60.5, volume_at_dose_cc=lambda d: 7.0)
    assert good.failures() == []
    assert good.dose_tolerance_gy == pytest.approx(0.5)
    assert good.dvh_point_errors_pct == [pytest.approx(-5.0)]
    bad = dataclasses.replace(good, volume_cc=10.31, max_gy=60.6)
    assert len(bad.failures()) == 2
    # a 0.4 cc structure is reported but not held to the per-structure targets
    small = agreement("p", 2, dataclasses.replace(truth, volume_cc=0.4), 50.0, volume_cc=0.5,
                      min_gy=30.0, mean_gy=50.0, max_gy=60.0)
    assert small.failures() == []
    # ...but it does count in the set's mean absolute volume error: (2.9 + 25) / 2 > 1 %
    summary = summarise([good, small], {"p": 50.0})
    assert summary.volume_mae_pct == pytest.approx((2.9 + 25.0) / 2)
    assert summary.failures and "mean absolute error" in summary.failures[0]
    # a low dose scale falls back to the 0.1 Gy floor
    low = agreement("q", 1, truth, 2.0, volume_cc=10.0, min_gy=40.0, mean_gy=50.0, max_gy=60.0)
    assert low.dose_tolerance_gy == pytest.approx(0.1)
