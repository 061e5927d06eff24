"""Hostile inputs (issue 20): mutated copies of the sample exports must never give a wrong
PASS, an internal error, a hang or a memory blow-up.

Every expected value here comes from the mutation or from geometry worked out by hand,
never from rtcheck's own output.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLE_DICOM
from hypothesis import given, settings
from hypothesis import strategies as st
from mutate import (
    contour_sequence,
    duplicate_contours,
    edit,
    one_line_error,
    remove_tree,
    run,
    sample_copy,
    set_contours,
)

from rtcheck.dvhcalc import compute_dvh, structure_volume_cc
from rtcheck.errors import GeometryError
from rtcheck.models import Contour, DoseGrid, Structure

SAMPLE = SAMPLE_DICOM / "spine_8gy_1fx"

# --- duplicated contours ---------------------------------------------------------------------


def test_cord_written_twice_is_not_evaluated_not_passed(tmp_path):
    """Every cord contour twice: the cord doubled in volume (56.5 for 28.25 cc) and passed
    with a lower D0.035cc; it is refused, and the required cord makes the verdict NOT
    EVALUATED (exit 1)."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)
    edit(folder, "RS", duplicate_contours("Cord"))
    result = run("check", folder)
    assert result.exit_code == 1, result.output
    assert "same contour twice" in result.output
    assert "Verdict:       NOT EVALUATED" in result.output
    dvh = run("dvh", folder)
    cord = next(line for line in dvh.output.splitlines() if " Cord " in line)
    assert "same contour twice" in cord  # skipped with the reason, not 56.5 cc


def test_failing_organ_written_twice_does_not_pass(tmp_path):
    """The SABR sample FAILs on its oesophagus; duplicating that organ's contours once
    lowered its D0.035cc from 37.85 to 28.90 Gy. It must never become a PASS."""
    folder = sample_copy("sabr_3lesions_5fx", tmp_path)
    edit(folder, "RS", duplicate_contours("Esophagus"))
    result = run("check", folder)
    assert result.exit_code == 1, result.output
    assert "PASS —" not in result.output
    assert "'Esophagus' has the same contour twice" in result.output


def test_all_contours_stacked_on_one_plane_is_refused(tmp_path):
    """All 121 cord contours moved onto one plane were read as the whole cord (28.25 cc)."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)

    def stack(ds):
        contours = contour_sequence(ds, "Cord")
        z = float(contours[60].ContourData[2])
        for c in contours:
            data = [float(v) for v in c.ContourData]
            data[2::3] = [z] * (len(data) // 3)
            c.ContourData = data

    edit(folder, "RS", stack)
    result = run("check", folder)
    assert result.exit_code == 1, result.output
    assert "same contour twice" in result.output


def _square(z: float, half: float, cx: float = 0.0, start: int = 0, reverse: bool = False) -> Contour:
    """A square contour of side 2 × ``half`` mm centred at (cx, 0), from vertex ``start``."""
    pts = np.array([[-half, -half], [half, -half], [half, half], [-half, half]]) + [cx, 0.0]
    if reverse:
        pts = pts[::-1]
    return Contour(z_mm=z, points_mm=np.roll(pts, -start, axis=0))


def test_duplicate_in_another_start_vertex_and_direction_is_refused():
    """A copy of a contour starting elsewhere and running the other way is still a copy."""
    planes = [_square(z, 10.0) for z in (0.0, 2.0, 4.0)]
    twin = _square(2.0, 10.0, start=2, reverse=True)
    structure = Structure(roi_number=7, name="Cord", contours=tuple(planes) + (twin,))
    with pytest.raises(GeometryError, match=r"ROI 7 'Cord' has the same contour twice at z = 2 mm"):
        structure_volume_cc(structure)


def test_nested_and_disjoint_contours_are_not_duplicates():
    """A hole (smaller square inside) and an island beside it keep the even-odd volume:
    (20² − 10² + 20²) mm² × 3 planes × 2 mm = 4.2 cc."""
    contours = []
    for z in (0.0, 2.0, 4.0):
        contours += [_square(z, 10.0), _square(z, 5.0), _square(z, 10.0, cx=50.0)]
    structure = Structure(roi_number=1, name="Ring", contours=tuple(contours))
    assert structure_volume_cc(structure) == pytest.approx((400 - 100 + 400) * 3 * 2 / 1000)


def _gradient_dose() -> DoseGrid:
    """Dose rising 1 Gy/mm along x over a grid of 2 mm voxels from -30 to 30 mm."""
    axis = np.arange(-30.0, 30.1, 2.0)
    dose = np.broadcast_to(axis + 40.0, (axis.size, axis.size, axis.size)).copy()
    return DoseGrid(dose_gy=dose, x_mm=axis, y_mm=axis, z_mm=axis)


@settings(max_examples=25, deadline=None)
@given(
    copies=st.lists(st.integers(0, 5), min_size=1, max_size=6),
    start=st.integers(0, 3),
    reverse=st.booleans(),
)
def test_duplicating_contours_never_lowers_the_maximum(copies, start, reverse):
    """Property: writing some of a structure's contours again (any start vertex, either
    direction) never lowers its reported maximum: the structure is refused instead."""
    zs = [-10.0 + 2.0 * k for k in range(6)]
    original = Structure(roi_number=3, name="Cord", contours=tuple(_square(z, 6.0) for z in zs))
    dose = _gradient_dose()
    base_max = compute_dvh(original, dose).max_gy()
    extra = tuple(_square(zs[k], 6.0, start=start, reverse=reverse) for k in copies)
    mutated = Structure(roi_number=3, name="Cord", contours=original.contours + extra)
    try:
        mutated_max = compute_dvh(mutated, dose).max_gy()
    except GeometryError as exc:
        assert "same contour twice" in str(exc)
    else:  # pragma: no cover - the duplicate is always refused
        assert mutated_max >= base_max


# --- dose planes in absurd places ------------------------------------------------------------


def _offsets(change):
    """A change of the RTDOSE's GridFrameOffsetVector (a list of floats) by ``change``."""

    def apply(ds):
        values = [float(v) for v in ds.GridFrameOffsetVector]
        ds.GridFrameOffsetVector = change(values)

    return apply


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda v: v[:-1] + [1e30], "mm apart"),  # the last plane 10^30 mm away
        (lambda v: v[:60] + [x + 1e6 for x in v[60:]], "mm apart"),  # planes 60 on 1 km up
        (lambda v: v[:-1] + [v[-2] + 60.0], "mm apart"),  # a step beyond 50 mm
        (lambda v: v[:-1] + [float("inf")], "not a finite number"),
        (lambda v: v[:-1] + [float("nan")], "not a finite number"),
    ],
    ids=["last-1e30", "upper-1km", "step-60mm", "inf", "nan"],
)
def test_dose_planes_in_absurd_places_are_refused(tmp_path, change, words):
    """The cord read 0.00 Gy and passed with a plane 10^30 mm away or planes moved 1 km;
    an infinite offset was an internal error. Each is an input error naming the RTDOSE."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)
    dose = edit(folder, "RD", _offsets(change))
    for command in (("check",), ("dvh",)):
        line = one_line_error(run(*command, folder))
        assert str(dose) in line and "GridFrameOffsetVector" in line and words in line


def test_uneven_plane_steps_within_the_bound_are_read(tmp_path):
    """Planes 2 mm apart followed by 6 mm steps (all ≤ 50 mm) are still read."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)
    edit(folder, "RD", _offsets(lambda v: [0.0, 2.0] + [2.0 + 4.0 * k for k in range(1, len(v) - 1)]))
    assert run("dvh", folder).exit_code == 0


@pytest.mark.parametrize(
    "keyword, value, words",
    [
        ("ImagePositionPatient", [float("nan"), -108.0, -214.0], "not a finite number"),
        ("PixelSpacing", [1e30, 1e30], "at most 50 mm"),
        ("ImagePositionPatient", [-156.0, -108.0, 1e9], "from the origin"),
        ("DoseGridScaling", 1e30, "no plan's total dose"),
    ],
    ids=["ipp-nan", "spacing-1e30", "ipp-1e9", "scaling-1e30"],
)
def test_absurd_grid_geometry_and_scaling_are_refused(tmp_path, keyword, value, words):
    """NaN positions and 10^30 mm spacing were called 'unevenly spaced'; a scaling of 10^30
    gave a FAIL at 5.9·10^37 Gy instead of a refusal."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)
    dose = edit(folder, "RD", lambda ds: setattr(ds, keyword, value))
    line = one_line_error(run("check", folder))
    assert str(dose) in line and words in line
    assert "unevenly spaced" not in line


# --- frames of reference ---------------------------------------------------------------------


def _drop_structure_frames(ds):
    """Remove every frame of reference an RTSTRUCT names."""
    for keyword in ("FrameOfReferenceUID", "ReferencedFrameOfReferenceSequence"):
        if keyword in ds:
            delattr(ds, keyword)
    for roi in ds.StructureSetROISequence:
        if "ReferencedFrameOfReferenceUID" in roi:
            del roi.ReferencedFrameOfReferenceUID


@pytest.mark.parametrize(
    "prefix, change, words",
    [
        ("RD", lambda ds: delattr(ds, "FrameOfReferenceUID"), "the dose has no FrameOfReferenceUID"),
        ("RS", _drop_structure_frames, "no frame of reference"),
    ],
    ids=["dose", "structures"],
)
def test_missing_frame_of_reference_is_refused(tmp_path, prefix, change, words):
    """Without both frames nothing confirms the structures lie in the dose's anatomy."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)
    named = edit(folder, prefix, change)
    for command in (("check",), ("dvh",)):
        line = one_line_error(run(*command, folder))
        assert str(named) in line and words in line


def test_structure_frame_from_the_referenced_sequence_is_enough(tmp_path):
    """An RTSTRUCT carries its frame in ReferencedFrameOfReferenceSequence (the top-level
    FrameOfReferenceUID is not part of its IOD): without the latter it is still read."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)
    edit(folder, "RS", lambda ds: delattr(ds, "FrameOfReferenceUID"))
    assert run("check", folder).exit_code == 0


# --- folder trees and symbolic links ---------------------------------------------------------


def test_folder_tree_1100_levels_deep_beside_a_plan_is_walked(tmp_path):
    """An empty branch 1,100 folders deep beside a good plan was a RecursionError (exit 4)."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)
    deep = folder
    try:
        for _ in range(1100):  # one level at a time (Path.mkdir(parents=True) recurses)
            deep = deep / "d"
            deep.mkdir()
        assert run("check", folder).exit_code == 0
    finally:
        remove_tree(folder / "d")


def test_symlinked_plan_folders_are_read(tmp_path):
    """An archive of linked plan folders once gave '0 files searched': links are followed,
    and a folder linked twice is read once."""
    plan = sample_copy("spine_8gy_1fx", tmp_path / "store")
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "plan").symlink_to(plan, target_is_directory=True)
    (archive / "same-plan").symlink_to(plan, target_is_directory=True)
    result = run("check", archive)
    assert result.exit_code == 0, result.output
    assert result.output.count("Verdict:") == 1


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda f: (f / "RD.extra.dcm").symlink_to(f / "missing.dcm"), "leads to nothing"),
        (lambda f: (f / "loop.dcm").symlink_to(f / "loop.dcm"), "loop"),
        (lambda f: (f / "up").symlink_to(f.parent, target_is_directory=True), "holds the export folder"),
    ],
    ids=["dangling", "looping", "ancestor"],
)
def test_broken_or_looping_links_are_input_errors(tmp_path, make, words):
    """The README says an unreadable .dcm is an error, not skipped: a link that leads
    nowhere or loops names itself (exit 3); a link to a folder above the export would walk
    it again (or the whole disk) and is refused too."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)
    make(folder)
    link = next(p for p in folder.iterdir() if p.is_symlink())
    line = one_line_error(run("check", folder))
    assert str(link) in line and words in line


# --- huge and self-crossing contours: bounded memory -----------------------------------------


def _star(n: int, z: float, step: int = 1) -> Contour:
    """A star of n vertices alternating between radii 50 and 5 mm, or (``step`` > 1) the
    star polygon visiting every step-th vertex of a circle (it crosses itself)."""
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    radius = np.where(np.arange(n) % 2 == 0, 50.0, 5.0) if step == 1 else np.full(n, 50.0)
    order = (np.arange(n) * step) % n
    return Contour(z_mm=z, points_mm=np.c_[radius * np.cos(t[order]), radius * np.sin(t[order])])


def _peak_mb(work) -> float:
    """Peak memory (MB, traced allocations: numpy's included) of ``work()``."""
    import tracemalloc

    tracemalloc.start()
    try:
        work()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 1e6


def test_many_vertex_star_is_checked_in_bounded_memory():
    """A valid 6 000-vertex star: every edge's y range overlaps most others (18 × 10⁶
    candidate pairs), which took 1.1 GB in one batch."""
    from rtcheck.dvhcalc import contour_planes

    structure = Structure(roi_number=1, name="Star", contours=(_star(6000, 0.0), _star(6000, 2.0)))
    assert _peak_mb(lambda: contour_planes(structure)) < 300


def test_self_crossing_contour_is_refused_in_bounded_memory():
    """A 3 000-vertex star polygon crossing itself everywhere."""
    from rtcheck.dvhcalc import contour_planes

    structure = Structure(roi_number=1, name="Knot", contours=(_star(3001, 0.0, step=1000),))

    def work():
        with pytest.raises(GeometryError, match="self-crossing contour at z = 0 mm"):
            contour_planes(structure)

    assert _peak_mb(work) < 300


def test_contours_too_complex_to_check_are_refused_quickly():
    """A star of 30 000 spikes: 2 × 10⁸ candidate edge pairs, over the bound."""
    from rtcheck.dvhcalc import contour_planes

    structure = Structure(roi_number=4, name="Star", contours=(_star(30000, 0.0),))
    with pytest.raises(GeometryError, match="ROI 4 'Star' has contours too complex to check"):
        contour_planes(structure)


def test_structure_with_too_many_vertices_is_refused():
    """3 × 10⁶ vertices (over MAX_ROI_VERTICES) are refused before any work."""
    from rtcheck.dvhcalc import contour_planes
    from rtcheck.dvhcalc.planes import MAX_ROI_VERTICES

    t = np.linspace(0.0, 2.0 * np.pi, MAX_ROI_VERTICES // 2 + 1, endpoint=False)
    ring = np.c_[40.0 * np.cos(t), 40.0 * np.sin(t)]
    structure = Structure(roi_number=2, name="Body", contours=(Contour(0.0, ring), Contour(2.0, ring)))
    with pytest.raises(GeometryError, match=f"ROI 2 'Body' has {2 * len(ring)} contour vertices"):
        contour_planes(structure)


def test_plane_with_too_many_contours_to_nest_is_refused(monkeypatch):
    """The nesting test costs contours × edges of a plane: bounded (a small bound here)."""
    from rtcheck.dvhcalc import contour_planes, planes

    monkeypatch.setattr(planes, "MAX_NESTING_PAIRS", 20)
    structure = Structure(roi_number=5, name="Dots", contours=tuple(_square(0.0, 1.0, cx=5.0 * k) for k in range(3)))
    with pytest.raises(GeometryError, match="ROI 5 'Dots' has 3 contours at z = 0 mm, too many"):
        contour_planes(structure)


# --- pydicom's warnings and unclear messages -------------------------------------------------


def _dose_change(kind):
    """Mutations of the RTDOSE's frame count and pixel data that make pydicom warn."""

    def change(ds):
        frame_bytes = len(ds.PixelData) // int(ds.NumberOfFrames)
        if kind == "excess-frames":
            ds.PixelData = ds.PixelData + ds.PixelData[: 2 * frame_bytes]
        elif kind == "frames-0":
            ds.NumberOfFrames = 0
        elif kind == "frames-missing":
            del ds.NumberOfFrames

    return change


@pytest.mark.parametrize("kind", ["excess-frames", "frames-0", "frames-missing"])
def test_pydicom_warnings_are_folded_into_the_one_line_error(tmp_path, kind):
    """pydicom's 'UserWarning … warn_and_log(' lines were printed before the error."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)
    dose = edit(folder, "RD", _dose_change(kind))
    line = one_line_error(run("check", folder))  # one line: no warning printed before it
    assert str(dose) in line and "pydicom warned:" in line and "Number of Frames" in line


def test_pydicom_warning_on_an_accepted_dose_is_a_note(tmp_path):
    """Two bytes of padding after the pixels: pydicom trims them with a warning; the dose
    is read, and the warning is a note of the report, not a line on the terminal."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)
    edit(folder, "RD", lambda ds: setattr(ds, "PixelData", ds.PixelData + b"\0\0"))
    result = run("check", folder)
    assert result.exit_code == 0 and result.stderr == ""
    assert "pydicom warned: The pixel data is" in result.output and "excess padding" in result.output


def test_empty_pixel_data_says_so(tmp_path):
    """Empty PixelData said "object of type 'NoneType' has no len()"."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)
    dose = edit(folder, "RD", lambda ds: setattr(ds, "PixelData", b""))
    line = one_line_error(run("check", folder))
    assert str(dose) in line and "empty pixel data" in line and "NoneType" not in line


# --- outputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("check",), ("dvh",)])
def test_output_into_a_missing_folder_is_refused_not_created(tmp_path, command):
    """`-o /nonexistent/dir/report.txt` silently created the folders."""
    missing = tmp_path / "no" / "such" / "dir"
    line = one_line_error(run(*command, SAMPLE, "-o", missing / "report.txt"), code=2)
    assert "does not exist" in line and str(missing) in line
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_report_gets_the_usual_permissions(tmp_path, umask, mode):
    """Reports were written 0600 (the temporary file's mode) whatever the umask."""
    import os

    old = os.umask(umask)
    try:
        result = run("check", SAMPLE, "-o", tmp_path / "report.txt")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.txt").stat().st_mode & 0o777 == mode


def test_rewritten_report_keeps_its_mode(tmp_path):
    """An existing report keeps the permissions its owner gave it."""
    report = tmp_path / "report.txt"
    report.write_text("old")
    report.chmod(0o640)
    assert run("check", SAMPLE, "-o", report).exit_code == 0
    assert report.stat().st_mode & 0o777 == 0o640 and report.read_text() != "old"


# --- a required organ contoured away from the targets ----------------------------------------


def test_cord_contoured_only_away_from_the_target_gets_a_note(tmp_path):
    """A cord kept only 20 mm and more below the PTV passed at 0.01 Gy without a word; the
    report now says the organ's contours do not reach the targets' extent."""
    folder = sample_copy("spine_8gy_1fx", tmp_path)

    def keep_far_below(ds):
        ptv_low = min(float(c.ContourData[2]) for c in contour_sequence(ds, "PTV_T10"))
        kept = [c for c in contour_sequence(ds, "Cord") if float(c.ContourData[2]) < ptv_low - 20.0]
        assert kept
        set_contours(ds, "Cord", kept)

    edit(folder, "RS", keep_far_below)
    result = run("check", folder)
    assert "the required organ 'Cord' is contoured only from" in result.output
    assert "away from the targets" in result.output


# --- a bounded mutation fuzzer ---------------------------------------------------------------

_NUMBERS = st.sampled_from([0.0, -1.0, 1e-30, 1e4, 1e6, 1e30, float("inf"), float("-inf"), float("nan")])


def _mutation(kind: str, value: float, cut: float):
    """A change of the copied spine export for the fuzzer: (file prefix, change)."""

    def set_last_offset(ds):
        values = [float(v) for v in ds.GridFrameOffsetVector]
        ds.GridFrameOffsetVector = values[:-1] + [value]

    changes = {
        "offset": ("RD", set_last_offset),
        "spacing": ("RD", lambda ds: setattr(ds, "PixelSpacing", [value, 4.0])),
        "position": ("RD", lambda ds: setattr(ds, "ImagePositionPatient", [-156.0, value, -214.0])),
        "scaling": ("RD", lambda ds: setattr(ds, "DoseGridScaling", value)),
        "pixels": ("RD", lambda ds: setattr(ds, "PixelData", ds.PixelData[: int(len(ds.PixelData) * cut)])),
        "duplicate": ("RS", duplicate_contours("Cord")),
    }
    return changes[kind]


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    kind=st.sampled_from(["offset", "spacing", "position", "scaling", "pixels", "duplicate"]),
    value=_NUMBERS,
    cut=st.floats(0.0, 1.0),
)
def test_mutated_exports_never_give_an_internal_error(tmp_path_factory, kind, value, cut):
    """Random hostile values in the sample's dose geometry, scaling, pixels and contours:
    every run ends with a documented exit code (never 4), without a traceback, a bad input
    with one line naming the file. Bounded to 30 examples (a few seconds) for CI; run with
    ``--hypothesis-seed`` and a larger ``max_examples`` for longer."""
    folder = sample_copy("spine_8gy_1fx", tmp_path_factory.mktemp("fuzz"))
    prefix, change = _mutation(kind, value, cut)
    edit(folder, prefix, change)
    result = run("check", folder)
    assert result.exit_code in (0, 1, 3), (kind, value, cut, result.output)
    assert "Traceback" not in result.output + result.stderr
    if result.exit_code == 3:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    if kind in ("offset", "spacing", "scaling") and not 0 < value <= 50:
        assert result.exit_code == 3, (kind, value, result.output)
    if kind == "duplicate":
        assert result.exit_code == 1
