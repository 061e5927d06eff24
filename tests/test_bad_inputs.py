"""Adversarial inputs: broken or misleading exports must never give a PASS.

Each test builds its input in ``tmp_path`` — a copy of ``sample_dicom/spine_8gy_1fx`` (8 Gy
in 1 fraction, AP/PA pair; passes as exported) mutated with pydicom, or a small export from
tests/rt_synth.py — and runs the command line as a user would. Bad input must end with
exit code 3 and a one-line message naming the file, without a traceback and without
touching the input folder; a plan whose constraints cannot all be evaluated must not exit 0.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pydicom
import pytest
from click.testing import CliRunner
from conftest import SAMPLE_DICOM

from rtcheck.cli import main

SPINE = SAMPLE_DICOM / "spine_8gy_1fx"


def run(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def tree_digest(folder: Path) -> str:
    """Names, modification times and contents of every file under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(str(path.stat().st_mtime_ns).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def spine(tmp_path) -> Path:
    """A private copy of the palliative spine export (RP, RS, RD) to mutate."""
    folder = tmp_path / "spine"
    shutil.copytree(SPINE, folder)
    return folder


def edit(folder: Path, prefix: str, change) -> Path:
    """Apply ``change(dataset)`` to the file of ``folder`` whose name starts with ``prefix``."""
    path = next(p for p in folder.iterdir() if p.name.startswith(prefix))
    ds = pydicom.dcmread(path)
    change(ds)
    ds.save_as(path)
    return path


def assert_input_error(folder: Path, named: Path, *words: str, commands=(("dvh",), ("check",), ())):
    """Every command exits 3 with one line naming ``named``, and leaves ``folder`` alone."""
    before = tree_digest(folder)
    for command in commands:
        result = run(*command, folder)
        assert result.exit_code == 3, (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr
        assert str(named) in lines[0], (command, lines[0])
        for word in words:
            assert word in lines[0], (command, word, lines[0])
    assert tree_digest(folder) == before


def test_unmodified_copy_passes(spine):
    """The baseline the other tests mutate: the plan as exported passes (exit 0)."""
    assert run("check", spine).exit_code == 0


# --- doses that cannot be the plan's total dose --------------------------------------------


def test_all_zero_dose_grid_is_refused(spine):
    import numpy as np

    def zero(ds):
        ds.PixelData = np.zeros_like(ds.pixel_array).tobytes()

    rd = edit(spine, "RD", zero)
    assert_input_error(spine, rd, "zero")


@pytest.mark.parametrize("factor", [0.01, 0.5])
def test_dose_far_below_the_prescription_is_refused(spine, factor):
    """cGy values labelled Gy (×0.01), or one of two fractions/beams (×0.5): the grid's
    maximum is far below the 8 Gy prescription, so every organ would wrongly pass."""

    def scale(ds):
        ds.DoseGridScaling = f"{float(ds.DoseGridScaling) * factor:.8g}"

    rd = edit(spine, "RD", scale)
    assert_input_error(spine, rd, "prescription", commands=(("check",), ()))


def test_single_beam_dose_of_a_two_beam_plan_is_refused(spine):
    """An RTDOSE of DoseSummationType BEAM that does not say which beam it is, for a plan
    with two treatment beams: the other beam's dose is missing."""

    def one_beam(ds):
        ds.DoseSummationType = "BEAM"

    edit(spine, "RD", one_beam)
    rp = next(spine.glob("RP*"))
    assert_input_error(spine, rp, "beam")


# --- constraints that could not be evaluated must not end in a PASS -------------------------


def _rename(folder: Path, renames: dict[str, str]) -> Path:
    def change(ds):
        for roi in ds.StructureSetROISequence:
            if roi.ROIName in renames:
                roi.ROIName = renames[roi.ROIName]

    return edit(folder, "RS", change)


def test_every_structure_mapping_to_the_cord_is_checked(spine):
    """'SpinalCord' (the TG-263 spelling) and 'Cord' (an alias) both present: the one not
    chosen must not be ignored. Here 'Cord' is drawn where the dose is 9.1 Gy, above the
    8.8 Gy cord goal, while 'SpinalCord' gets 8.14 Gy."""
    _rename(spine, {"Cord": "SpinalCord", "External": "Cord"})
    result = run("check", spine, "--format", "json")
    assert result.exit_code == 1, result.output
    rows = [
        r
        for plan in json.loads(result.stdout)["plans"]
        for r in plan["results"]
        if r["organ"] == "SpinalCord" and r["metric"] == "D0.035cc"
    ]
    assert {r["structure"] for r in rows} == {"SpinalCord", "Cord"}
    assert any(r["structure"] == "Cord" and r["level"] != "PASS" for r in rows)


def test_organ_partly_outside_the_dose_grid_is_not_a_pass(spine):
    """Crop the dose grid at y = 12 mm: two thirds of the oesophagus (y 0–16 mm) lie outside,
    so its limits cannot be known; the cord (y 57–67 mm) is still fully covered."""

    def crop(ds):
        keep = 30  # rows 0..29 (y = -108 ... 8 mm) are dropped
        pixels = ds.pixel_array[:, keep:, :]
        ds.PixelData = pixels.tobytes()
        ds.Rows = pixels.shape[1]
        ipp = [float(v) for v in ds.ImagePositionPatient]
        ds.ImagePositionPatient = [ipp[0], ipp[1] + keep * float(ds.PixelSpacing[0]), ipp[2]]

    edit(spine, "RD", crop)
    result = run("check", spine)
    assert result.exit_code == 1, result.output
    assert "Esophagus" in result.output and "outside the dose grid" in result.output
    assert "Verdict:       PASS" not in result.output


def test_organ_smaller_than_the_metric_volume_is_not_a_pass(spine):
    """An oesophagus contoured as one 1 mm × 1 mm square (0.003 cc): D0.035cc and the D_cc
    limits are undefined, so the plan cannot pass."""
    from pydicom.sequence import Sequence as DicomSequence

    def tiny(ds):
        number = next(r.ROINumber for r in ds.StructureSetROISequence if r.ROIName == "Esophagus")
        item = next(i for i in ds.ROIContourSequence if i.ReferencedROINumber == number)
        contour = item.ContourSequence[0]
        z = -60.0
        contour.ContourData = [-2.5, 7.5, z, -1.5, 7.5, z, -1.5, 8.5, z, -2.5, 8.5, z]
        contour.NumberOfContourPoints = 4
        item.ContourSequence = DicomSequence([contour])

    edit(spine, "RS", tiny)
    result = run("check", spine)
    assert result.exit_code == 1, result.output
    assert "undefined" in result.output


# --- structure sets that lose contours silently ----------------------------------------------


def _cord_number(ds) -> int:
    return next(r.ROINumber for r in ds.StructureSetROISequence if r.ROIName == "Cord")


def test_contours_without_contour_data_are_refused(spine):
    """The cord's contours inside the field (z −100…−20 mm) have no ContourData: dropping
    them left two cold cord pieces (D0.035cc 3.5 Gy instead of 8.1 Gy) and a PASS."""

    def strip(ds):
        number = _cord_number(ds)
        item = next(i for i in ds.ROIContourSequence if i.ReferencedROINumber == number)
        for contour in item.ContourSequence:
            if -100 < float(contour.ContourData[2]) < -20:
                del contour.ContourData

    rs = edit(spine, "RS", strip)
    assert_input_error(spine, rs, "Cord", "ContourData")


def test_two_contour_items_for_one_roi_are_refused(spine):
    """Two ROIContourSequence items for the cord's ROI number: one of them was dropped."""
    import copy

    def duplicate(ds):
        number = _cord_number(ds)
        item = next(i for i in ds.ROIContourSequence if i.ReferencedROINumber == number)
        extra = copy.deepcopy(item)
        extra.ContourSequence = extra.ContourSequence[40:]
        item.ContourSequence = item.ContourSequence[:40]
        ds.ROIContourSequence.append(extra)

    rs = edit(spine, "RS", duplicate)
    assert_input_error(spine, rs, "ROIContourSequence")


# --- usage errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("dvh",), ("check",), ()])
def test_non_existent_path_is_a_usage_error(tmp_path, command):
    missing = tmp_path / "no-such-export"
    result = run(*command, missing)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0], result.stderr
    assert not missing.exists()


def test_non_existent_explicit_file_is_a_usage_error(tmp_path):
    missing = tmp_path / "RS.missing.dcm"
    result = run("dvh", "--structures", missing, "--dose", next(SPINE.glob("RD*")))
    assert result.exit_code == 2, result.output
    assert str(missing) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unreadable_subfolder_is_an_error_not_skipped(spine, monkeypatch):
    """A subfolder that cannot be listed may hold the plan's real dose: never skip it.
    (Simulated: the tests may run as root, for whom chmod 000 changes nothing.)"""
    import os

    hidden = spine / "beams"
    hidden.mkdir()
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == hidden:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert_input_error(spine, hidden, "cannot read")


# --- outputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["dvh", "check"])
def test_output_next_to_explicitly_named_inputs_is_refused(spine, command):
    """--structures/--dose/--plan: the folder holding them is an input folder too."""
    files = ["--structures", next(spine.glob("RS*")), "--dose", next(spine.glob("RD*"))]
    if command == "check":
        files += ["--plan", next(spine.glob("RP*"))]
    before = tree_digest(spine)
    result = run(command, *files, "-o", spine / "report.txt")
    assert result.exit_code == 2, result.output
    assert "input folder" in result.stderr
    assert tree_digest(spine) == before


def test_output_is_written_whole_and_leaves_no_temporary_file(spine, tmp_path):
    out_dir = tmp_path / "reports"
    out_dir.mkdir()  # rtcheck creates no folders (issue 20)
    result = run("check", spine, "--format", "json", "-o", out_dir / "check.json")
    assert result.exit_code == 0, result.output
    assert [p.name for p in out_dir.iterdir()] == ["check.json"]
    assert json.loads((out_dir / "check.json").read_text())["plans"]


def test_prior_course_dose_far_below_its_prescription_is_refused(spine, tmp_path):
    """A prior 20 Gy/5 course whose dose is half what it should be (one of two beams, or
    cGy confusion) made the cumulative cord dose pass where the real composite fails."""
    prior = tmp_path / "prior"
    shutil.copytree(SAMPLE_DICOM / "prior_spine_20gy_5fx", prior)

    def halve(ds):
        ds.DoseGridScaling = f"{float(ds.DoseGridScaling) * 0.5:.8g}"

    rd = edit(prior, "RD", halve)
    before = tree_digest(prior)
    result = run("check", spine, "--prior", prior)
    assert result.exit_code == 3, result.output
    assert str(rd) in result.stderr and "prescription" in result.stderr
    assert tree_digest(prior) == before


def test_reirradiation_sums_every_structure_that_maps_to_the_cord(spine):
    """'SpinalCord' and 'Cord' both present: the composite must be summed and checked on
    both. 'Cord' is drawn where the current dose is 9.1 Gy and the prior 22.7 Gy/5: about
    62 Gy EQD2₂, above the 60 Gy cumulative cord goal, while 'SpinalCord' gets 51.5 Gy."""
    _rename(spine, {"Cord": "SpinalCord", "External": "Cord"})
    prior = SAMPLE_DICOM / "prior_spine_20gy_5fx"
    result = run("check", spine, "--prior", prior, "--no-converted-limits")
    assert result.exit_code == 1, result.output
    composite = result.output[result.output.index("re-irradiation composite") :]
    cord_rows = [line for line in composite.splitlines() if line.lstrip().startswith("SpinalCord") and " Cord " in line]
    assert cord_rows, composite
    assert composite.rstrip().splitlines()[-1] != "Verdict:       PASS (no recovery factor applied)"


def test_dose_without_plan_reference_is_noted_when_taken_for_the_only_plan(spine):
    """An RTDOSE without ReferencedRTPlanSequence is attributed to the folder's only plan;
    the report must say that this link was assumed, not read."""
    edit(spine, "RD", lambda ds: delattr(ds, "ReferencedRTPlanSequence"))
    result = run("check", spine)
    assert "references no plan" in result.output, result.output


def test_nan_in_contour_data_names_the_roi_and_a_remedy(spine):
    def nan(ds):
        number = _cord_number(ds)
        item = next(i for i in ds.ROIContourSequence if i.ReferencedROINumber == number)
        values = list(item.ContourSequence[5].ContourData)
        values[0] = "NaN"
        item.ContourSequence[5].ContourData = values

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns that NaN is not a valid DS
        rs = edit(spine, "RS", nan)
    assert_input_error(spine, rs, "Cord", "non-finite", "export the structure set again")


def test_unreadable_file_names_it_and_a_remedy(spine, monkeypatch):
    """(Simulated permission error: the tests may run as root.)"""
    import builtins

    rd = next(spine.glob("RD*"))
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):
        if Path(str(file)) == rd:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    assert_input_error(spine, rd, "Permission denied", "permissions")


def test_plan_without_fraction_count_names_the_plan(spine):
    """No NumberOfFractionsPlanned: a missing tag, so an input error (exit 3) and no table is
    chosen; the message names the plan file and says how to go on (--fractions)."""

    def drop(ds):
        for group in ds.FractionGroupSequence:
            del group.NumberOfFractionsPlanned

    rp = edit(spine, "RP", drop)
    result = run("check", spine)
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(rp) in lines[0] and "--fractions" in lines[0], result.stderr


def test_plan_with_two_fraction_groups_has_no_single_fractionation(spine):
    """Two fraction groups (e.g. 8 Gy x 1 then a second phase): the first group's count must
    not be used for the summed dose; no table is chosen (exit 3) unless --fractions is given."""
    import copy

    def add_group(ds):
        second = copy.deepcopy(ds.FractionGroupSequence[0])
        second.FractionGroupNumber = 2
        second.NumberOfFractionsPlanned = 5
        ds.FractionGroupSequence.append(second)

    rp = edit(spine, "RP", add_group)
    result = run("check", spine)
    assert result.exit_code == 3, result.output
    assert str(rp) in result.stderr and "fraction groups" in result.stderr, result.stderr


# --- the catalogue of broken exports: exit 3, one line naming the file, input untouched -------


def _drop(keyword):
    return lambda ds: delattr(ds, keyword)


def _set(keyword, value):
    return lambda ds: setattr(ds, keyword, value)


def _short_pixels(ds):
    ds.PixelData = ds.PixelData[: len(ds.PixelData) - 2 * ds.Columns * ds.Rows]


def _other_frame(ds):
    ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.999"
    for roi in ds.StructureSetROISequence:
        roi.ReferencedFrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.999"


def _duplicate_roi_number(ds):
    ds.StructureSetROISequence[1].ROINumber = ds.StructureSetROISequence[0].ROINumber


def _other_plan(ds):
    ds.ReferencedRTPlanSequence[0].ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.998"


EDITS = {
    "no DoseGridScaling": ("RD", _drop("DoseGridScaling"), "DoseGridScaling"),
    "no PixelSpacing": ("RD", _drop("PixelSpacing"), "PixelSpacing"),
    "no GridFrameOffsetVector": ("RD", _drop("GridFrameOffsetVector"), "GridFrameOffsetVector"),
    "oblique dose grid": ("RD", _set("ImageOrientationPatient", [0.9848, 0.1736, 0, -0.1736, 0.9848, 0]), "oblique"),
    "pixel data too short": ("RD", _short_pixels, "pixel data"),
    "dose in another frame": ("RD", _set("FrameOfReferenceUID", "1.2.826.0.1.3680043.8.498.999"), "frame of reference"),
    "structures in another frame": ("RS", _other_frame, "frame"),
    "duplicate ROI number": ("RS", _duplicate_roi_number, "ROI number"),
    "dose of another plan": ("RD", _other_plan, "plan"),
    "relative dose": ("RD", _set("DoseUnits", "RELATIVE"), "RELATIVE"),
    "per-fraction dose": ("RD", _set("DoseSummationType", "FRACTION"), "FRACTION"),
}


@pytest.mark.parametrize("what", sorted(EDITS))
def test_broken_export_is_a_clear_input_error(spine, what):
    prefix, change, word = EDITS[what]
    path = edit(spine, prefix, change)
    # the error names the edited file, or (plan-level problems) the plan it concerns
    named = path if what not in ("per-fraction dose",) else next(spine.glob("RP*"))
    assert_input_error(spine, named, word)


@pytest.mark.parametrize("damage", ["truncated", "zero bytes", "garbage"])
@pytest.mark.parametrize("prefix", ["RD", "RS", "RP"])
def test_damaged_file_is_a_clear_input_error(spine, prefix, damage):
    path = next(spine.glob(f"{prefix}*"))
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "zero bytes":
        path.write_bytes(b"")
    else:
        path.write_bytes(data[:132] + bytes(range(256)) * 8)
    assert_input_error(spine, path, commands=(("check",),))


def test_empty_folder_is_an_input_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_input_error(empty, empty, "no RTDOSE")


def test_non_dicom_junk_is_ignored(spine):
    (spine / "notes.txt").write_text("plan approved\n")
    (spine / "screenshot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (spine / "sub").mkdir()
    (spine / "sub" / "data.bin").write_bytes(bytes(range(256)))
    before = tree_digest(spine)
    assert run("check", spine).exit_code == 0
    assert tree_digest(spine) == before


def test_negative_doses_are_refused(spine, tmp_path):
    """PixelRepresentation 1 on unsigned dose values turns the hot spots negative. With the
    files named explicitly and no plan (no prescription to compare with) every organ passed."""
    rd = edit(spine, "RD", _set("PixelRepresentation", 1))
    rs = next(spine.glob("RS*"))
    before = tree_digest(spine)
    result = run("check", "--structures", rs, "--dose", rd, "--table", "stop2-control-8gy-1fx")
    assert result.exit_code == 3, result.output
    assert str(rd) in result.stderr and "negative" in result.stderr
    assert tree_digest(spine) == before


def test_cord_with_a_gap_in_its_contours_is_not_a_pass(spine):
    """The cord's contours are missing across the field (z −100…−20 mm, an 84 mm gap between
    contoured planes 3 mm apart): what is left is cold (3.5 Gy) and passed. A spinal cord is
    continuous; a gap is a contouring error that must be reported, not evaluated around."""
    from pydicom.sequence import Sequence as DicomSequence

    def gap(ds):
        number = _cord_number(ds)
        item = next(i for i in ds.ROIContourSequence if i.ReferencedROINumber == number)
        kept = [c for c in item.ContourSequence if not -100 < float(c.ContourData[2]) < -20]
        item.ContourSequence = DicomSequence(kept)

    edit(spine, "RS", gap)
    result = run("check", spine)
    assert result.exit_code == 1, result.output
    assert "gap" in result.output


@pytest.mark.parametrize(
    ("prefix", "tag_bytes", "vr"),
    [
        ("RP", b"\x08\x00\x60\x00", b"CS"),  # Modality
        ("RP", b"\x08\x00\x18\x00", b"UI"),  # SOPInstanceUID
        ("RP", b"\x0a\x30\x02\x00", b"SH"),  # RTPlanLabel
        ("RS", b"\x06\x30\x42\x00", b"CS"),  # ContourGeometricType (inside ROIContourSequence)
    ],
)
def test_unknown_value_representation_is_an_input_error(spine, prefix, tag_bytes, vr):
    """A corrupted VR (found by fuzzing): pydicom decodes elements lazily and raised
    NotImplementedError from deep inside rtcheck — a traceback and exit 1."""
    path = next(spine.glob(f"{prefix}*"))
    data = path.read_bytes()
    at = data.index(tag_bytes + vr)
    path.write_bytes(data[: at + 4] + b"QQ" + data[at + 6 :])
    assert_input_error(spine, path, commands=(("check",),))


@pytest.mark.parametrize("command", ["dvh", "check"])
def test_unwritable_output_is_a_usage_error_without_traceback(spine, tmp_path, command):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the -o folder should be\n")
    result = run(command, spine, "-o", blocker / "report.txt")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "report.txt" in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_interrupted_output_keeps_the_previous_file_and_leaves_no_temporary(spine, tmp_path, monkeypatch):
    import os

    out = tmp_path / "reports" / "check.txt"
    out.parent.mkdir()
    out.write_text("previous report\n")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    result = run("check", spine, "-o", out)
    assert result.exit_code != 0  # click reports the interruption as 'Aborted!'
    assert out.read_text() == "previous report\n"
    assert [p.name for p in out.parent.iterdir()] == ["check.txt"]


def test_unexpected_error_is_not_exit_1_and_not_a_traceback(spine, monkeypatch):
    """Exit 1 means "a constraint failed": a crash must not look like a verdict."""

    def crash(*args, **kwargs):
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr("rtcheck.api.check_plans", crash)
    monkeypatch.delenv("RTCHECK_DEBUG", raising=False)
    result = run("check", spine)
    assert result.exit_code == 4, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error" in lines[0] and "RuntimeError" in lines[0]


@pytest.mark.parametrize("prefix", ["RS", "RD"])
def test_files_of_different_patients_are_refused(spine, prefix):
    """The same frame of reference but another PatientID: one of the files is not this
    patient's (a mixed-up export), and checking it would be checking the wrong anatomy."""
    path = edit(spine, prefix, _set("PatientID", "SOMEONE-ELSE"))
    assert_input_error(spine, path, "SOMEONE-ELSE", "RTC-SPINE-001")


def test_prior_course_of_another_patient_is_refused(spine, tmp_path):
    """--prior pointing at another patient's export (consistent in itself) must not be summed."""
    prior = tmp_path / "prior"
    shutil.copytree(SAMPLE_DICOM / "prior_spine_20gy_5fx", prior)
    for prefix in ("RP", "RS", "RD"):
        edit(prior, prefix, _set("PatientID", "SOMEONE-ELSE"))
    result = run("check", spine, "--prior", prior)
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SOMEONE-ELSE" in lines[0] and str(prior) in lines[0], result.stderr


def test_two_different_files_with_one_sop_instance_uid_are_refused(spine):
    """Two files carrying the same RTDOSE UID but different doses (a stale copy next to a
    recalculated one): silently taking the first one could check the wrong dose."""
    rd = next(spine.glob("RD*"))
    copy_path = spine / "older" / "RD.copy.dcm"
    copy_path.parent.mkdir()
    shutil.copy2(rd, copy_path)
    edit(spine, "RD", lambda ds: setattr(ds, "DoseGridScaling", f"{float(ds.DoseGridScaling) * 1.6:.8g}"))
    assert_input_error(spine, copy_path, "SOPInstanceUID")


def test_identical_copies_of_a_file_are_accepted(spine):
    rd = next(spine.glob("RD*"))
    (spine / "copy").mkdir()
    shutil.copy2(rd, spine / "copy" / rd.name)
    assert run("check", spine).exit_code == 0


def test_the_same_beam_dose_given_twice_is_refused(spine):
    """--dose RD --dose RD of a per-beam dose (beam number not stated, plan of two beams):
    the count matched the plan's beams, and one beam was summed twice, the other never."""
    rd = edit(spine, "RD", _set("DoseSummationType", "BEAM"))
    files = ["--structures", next(spine.glob("RS*")), "--plan", next(spine.glob("RP*"))]
    result = run("check", *files, "--dose", rd, "--dose", rd)
    assert result.exit_code == 3, result.output
    assert "twice" in result.stderr and str(rd) in result.stderr
