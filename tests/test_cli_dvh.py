"""`rtcheck dvh` through click's CliRunner, on small synthetic exports (tests/rt_synth.py)."""

from __future__ import annotations

import csv
import io
import json

import click
import numpy as np
import pytest
from click.testing import CliRunner
from rt_synth import dose_dataset, plan_dataset, save, simple_export

from rtcheck.cli import main
from rtcheck.dvhcalc.compute import DEFAULT

# The synthetic box ROI: 20 mm × 20 mm squares on 3 planes 2.5 mm apart, centred at
# x = y = 0, z = -22.5 mm, in the dose 5 + 0.01 x + 0.02 y + 0.04 z (Gy, mm).
BOX_AREA_MM2 = 400.0
BOX_MEAN_GY = 5.0 + 0.04 * -22.5  # a linear dose averages to its value at the centroid


def box_volume_cc() -> float:
    slabs_mm = 3 * 2.5 if DEFAULT.end_cap == "half_slice" else 2 * 2.5
    return BOX_AREA_MM2 * slabs_mm / 1000.0


def run(*args):
    result = CliRunner().invoke(main, list(map(str, args)))
    return result


def all_commands(group: click.Group, prefix=()):
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


def test_help_of_every_command():
    commands = list(all_commands(main))
    assert ("dvh",) in commands
    assert run("--help").exit_code == 0
    for path in commands:
        result = run(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output


def test_json_shape(tmp_path):
    export = simple_export(tmp_path / "export")
    result = run("dvh", tmp_path / "export", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert isinstance(doc["rtcheck_version"], str)
    assert isinstance(doc["plans"], list) and len(doc["plans"]) == 1
    plan = doc["plans"][0]
    assert isinstance(plan["plan_uid"], str)
    assert plan["dose_files"] == [str(export["dose"])]
    assert plan["structure_file"] == str(export["structures"])
    (box,) = plan["structures"]
    required = {
        "name": str,
        "roi_number": int,
        "volume_cc": float,
        "min_gy": float,
        "mean_gy": float,
        "max_gy": float,
        "d0035cc_gy": float,
        "dvh": dict,
    }
    for key, kind in required.items():
        assert isinstance(box[key], kind), key
    assert set(box["dvh"]) >= {"dose_gy", "volume_cc"}
    dose, volume = box["dvh"]["dose_gy"], box["dvh"]["volume_cc"]
    assert all(isinstance(v, float) for v in dose + volume)
    assert len(dose) == len(volume)
    assert dose[0] == 0.0 and volume[0] == pytest.approx(box["volume_cc"], rel=1e-6)
    assert all(b - a <= 0.01 * box["max_gy"] + 1e-9 for a, b in zip(dose, dose[1:], strict=False))
    assert all(b <= a + 1e-9 for a, b in zip(volume, volume[1:], strict=False))
    assert volume[-1] == 0.0 and dose[-1] >= box["max_gy"]

    assert box["name"] == "Box" and box["roi_number"] == 1
    assert box["volume_cc"] == pytest.approx(box_volume_cc(), rel=1e-6)
    assert box["mean_gy"] == pytest.approx(BOX_MEAN_GY, abs=0.01)
    assert box["min_gy"] <= box["mean_gy"] <= box["d0035cc_gy"] <= box["max_gy"]
    # the empty ROI is not dropped: listed with its reason
    assert plan["skipped"] == [
        {"name": "Empty", "roi_number": 2, "reason": plan["skipped"][0]["reason"]}
    ]
    assert "contour" in plan["skipped"][0]["reason"]


def test_json_to_file_equals_stdout(tmp_path):
    simple_export(tmp_path / "export")
    out = tmp_path / "reports" / "dvh.json"
    out.parent.mkdir()  # rtcheck creates no folders (issue 20)
    result = run("dvh", tmp_path / "export", "--format", "json", "-o", out)
    assert result.exit_code == 0, result.output
    printed = run("dvh", tmp_path / "export", "--format", "json").stdout
    assert out.read_text() == printed
    assert not list(out.parent.glob(".*tmp"))  # no temporary file left behind


def test_csv(tmp_path):
    simple_export(tmp_path / "export")
    result = run("dvh", tmp_path / "export", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["name"] for r in rows] == ["Box", "Empty"]
    assert rows[0]["status"] == "ok" and float(rows[0]["volume_cc"]) == pytest.approx(
        box_volume_cc()
    )
    assert rows[1]["status"] == "skipped" and rows[1]["reason"] and rows[1]["mean_gy"] == ""


def test_table(tmp_path):
    simple_export(tmp_path / "export")
    result = run("dvh", tmp_path / "export")
    assert result.exit_code == 0, result.output
    assert "Box" in result.stdout and "Empty" in result.stdout
    assert "5 fractions" in result.stdout and "prescription 40 Gy" in result.stdout


def test_explicit_files(tmp_path):
    export = simple_export(tmp_path / "export")
    result = run(
        "dvh", "--structures", export["structures"], "--dose", export["dose"], "--plan", export["plan"],
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plans"][0]
    assert plan["fractions"] == 5 and plan["structures"][0]["name"] == "Box"


def test_several_plans(tmp_path):
    simple_export(tmp_path / "archive" / "a")
    simple_export(tmp_path / "archive" / "b")
    result = run("dvh", tmp_path / "archive", "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["plans"]) == 2


# ---------------------------------------------------------------------------------------
# Errors: exit code 3 and the file named
# ---------------------------------------------------------------------------------------


def test_folder_without_dose(tmp_path):
    export = simple_export(tmp_path / "export")
    export["dose"].unlink()
    result = run("dvh", tmp_path / "export")
    assert result.exit_code == 3
    assert "RTDOSE" in result.stderr and str(tmp_path / "export") in result.stderr


def test_mismatched_frames_of_reference(tmp_path):
    export = simple_export(tmp_path / "export", frame_struct="1.2.826.0.1.3680043.8.498.77")
    result = run("dvh", tmp_path / "export")
    assert result.exit_code == 3
    assert "frame" in result.stderr and str(export["structures"]) in result.stderr


def test_truncated_file(tmp_path):
    export = simple_export(tmp_path / "export")
    data = export["dose"].read_bytes()
    export["dose"].write_bytes(data[: len(data) - 100])
    result = run("dvh", tmp_path / "export")
    assert result.exit_code == 3
    assert str(export["dose"]) in result.stderr and "truncated" in result.stderr


def test_relative_dose(tmp_path):
    export = simple_export(tmp_path / "export")
    plan_uid = plan_dataset(structure_set_uid=None).SOPInstanceUID
    save(dose_dataset(units="RELATIVE", plan_uid=plan_uid), tmp_path / "rel.dcm")
    result = run("dvh", "--structures", export["structures"], "--dose", tmp_path / "rel.dcm")
    assert result.exit_code == 3
    assert "RELATIVE" in result.stderr and "rel.dcm" in result.stderr


def test_missing_explicit_file(tmp_path):
    export = simple_export(tmp_path / "export")
    result = run("dvh", "--structures", export["structures"], "--dose", tmp_path / "nope.dcm")
    assert result.exit_code == 2  # a path that does not exist is a usage error
    assert "nope.dcm" in result.stderr


def test_output_inside_the_input_folder_is_refused(tmp_path):
    export = simple_export(tmp_path / "export")
    before = sorted(p.name for p in (tmp_path / "export").iterdir())
    result = run("dvh", tmp_path / "export", "-o", tmp_path / "export" / "dvh.json")
    assert result.exit_code == 2
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == before
    assert export["dose"].exists()


def test_usage_errors(tmp_path):
    assert run("dvh").exit_code == 2
    assert run("dvh", "--structures", tmp_path / "rs.dcm").exit_code == 2
    assert (
        run(
            "dvh", tmp_path, "--dose", tmp_path / "rd.dcm", "--structures", tmp_path / "rs.dcm"
        ).exit_code
        == 2
    )


def _odd_rois_export(folder, extra_rois=()):
    from rt_synth import square, structure_dataset

    rois = [
        {"number": 1, "name": "Box", "contours": [square(z) for z in (-25.0, -22.5, -20.0)]},
        {
            "number": 2,
            "name": "Marker",
            "contours": [np.array([[1.0, 2.0, -22.5]])],
            "type": "POINT",
        },
        {
            "number": 3,
            "name": "Line",
            "contours": [np.array([[1.0, 2, -22.5], [3, 4, -22.5]])],
            "type": "OPEN_PLANAR",
        },
        # 20 mm squares at x 5..25 mm on a grid whose voxels end at x = 20.5 mm
        {"number": 4, "name": "Edge", "contours": [square(z, cx=15) for z in (-25.0, -22.5)]},
        {
            "number": 5,
            "name": "Tiny",
            "contours": [square(-22.5, half=1)],
        },  # 2 mm square: < 0.035 cc
        *extra_rois,
    ]
    ss = structure_dataset(rois)
    plan = plan_dataset(structure_set_uid=ss.SOPInstanceUID)
    save(ss, folder / "rs.dcm")
    save(plan, folder / "rp.dcm")
    grid = {
        "ipp": (-20.0, -20.0, -30.0),
        "rows": 21,
        "cols": 14,
        "offsets": tuple(np.arange(7) * 2.5),
    }
    save(dose_dataset(plan_uid=plan.SOPInstanceUID, **grid), folder / "rd.dcm")


def test_rois_without_a_dvh_are_reported_with_the_reason(tmp_path):
    _odd_rois_export(tmp_path / "export")
    result = run("dvh", tmp_path / "export", "--format", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plans"][0]
    skipped = {s["name"]: s for s in plan["skipped"]}
    assert set(skipped) == {"Marker", "Line"}
    assert skipped["Marker"]["roi_number"] == 2 and "volumetric" in skipped["Marker"]["reason"]
    by_name = {s["name"]: s for s in plan["structures"]}
    assert by_name["Tiny"]["d0035cc_gy"] is None  # undefined, never 0
    assert by_name["Tiny"]["volume_cc"] == pytest.approx(0.01)  # 2 mm × 2 mm × one 2.5 mm slab
    edge = by_name["Edge"]
    # the grid covers its voxels (to x = 19 + 1.5 mm): 4.5 mm of the 20 mm width lies beyond
    assert edge["outside_grid_cc"] == pytest.approx(edge["volume_cc"] * 4.5 / 20, abs=0.01)

    table = run("dvh", tmp_path / "export").stdout
    assert "Marker" in table and "not volumetric" in table and "D0.035cc undefined" in table
    rows = {
        r["name"]: r
        for r in csv.DictReader(
            io.StringIO(run("dvh", tmp_path / "export", "--format", "csv").stdout)
        )
    }
    assert rows["Line"]["status"] == "skipped" and rows["Tiny"]["d0035cc_gy"] == ""


def test_roi_outside_the_dose_grid_is_reported(tmp_path):
    from rt_synth import square

    far = {"number": 6, "name": "Far", "contours": [square(z, cx=500) for z in (-25.0, -22.5)]}
    _odd_rois_export(tmp_path / "export", [far])
    result = CliRunner().invoke(
        main, ["dvh", str(tmp_path / "export"), "--format", "json"], catch_exceptions=False
    )
    assert result.exit_code == 0
    plan = json.loads(result.stdout)["plans"][0]
    assert "Far" in {s["name"] for s in plan["skipped"]}
