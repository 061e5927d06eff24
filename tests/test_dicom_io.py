"""Reading DICOM-RT: synthetic objects built in the tests (tests/rt_synth.py) with known content."""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread as pydicom_read
from rt_synth import (
    FRAME,
    dose_dataset,
    linear_dose,
    plan_dataset,
    save,
    simple_export,
    square,
    structure_dataset,
    voxel_positions,
)

from rtcheck.dicom_io import (
    discover,
    load_course,
    read_dose,
    read_plan,
    read_structure_set,
    read_tps_dvhs,
)
from rtcheck.errors import GeometryError, InputError
from rtcheck.models import ContourType

SCALING = 1e-4  # Gy per stored unit: quantisation of the synthetic doses


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------------------
# Dose geometry
# --------------------------------------------------------------------------------------


def _all_axis_aligned_orientations() -> dict[str, tuple[int, ...]]:
    """All 24 axis-aligned ImageOrientationPatient values (row and column along ± x/y/z)."""
    out = {}
    for row_axis in range(3):
        for col_axis in range(3):
            if row_axis == col_axis:
                continue
            for row_sign in (1, -1):
                for col_sign in (1, -1):
                    iop = [0] * 6
                    iop[row_axis] = row_sign
                    iop[3 + col_axis] = col_sign
                    row = f"{'+' if row_sign > 0 else '-'}{'xyz'[row_axis]}"
                    col = f"{'+' if col_sign > 0 else '-'}{'xyz'[col_axis]}"
                    out[f"row{row} col{col}"] = tuple(iop)
    return out


# e.g. "row+x col+y" head-first supine, "row-x col+y" feet-first supine,
# "row-x col-y" head-first prone, "row+x col-y" feet-first prone, "row+y col-z" sagittal
ORIENTATIONS = _all_axis_aligned_orientations()


@pytest.mark.parametrize(
    "offsets", [(0.0, 2.5, 5.0), (0.0, -3.0, -6.0, -9.0), (0.0, 1.0, 3.0, 7.0)]
)
@pytest.mark.parametrize("name", sorted(ORIENTATIONS))
def test_axis_aligned_orientations_give_the_canonical_grid(tmp_path, name, offsets):
    iop = ORIENTATIONS[name]
    ipp, spacing, rows, cols = (-10.0, -20.0, -30.0), (2.0, 3.0), 4, 5
    path = save(
        dose_dataset(iop=iop, ipp=ipp, spacing=spacing, rows=rows, cols=cols, offsets=offsets),
        tmp_path / "d.dcm",
    )
    uneven = len(set(np.diff(offsets))) > 1
    frames_along_z = 2 not in (np.flatnonzero(iop[:3])[0], np.flatnonzero(iop[3:])[0])
    if uneven and not frames_along_z:
        # a canonical grid may be uneven only along z: refused, never misread
        with pytest.raises(InputError, match="unevenly spaced"):
            read_dose(path)
        return
    grid = read_dose(path)

    # expected voxel centres: the set of positions by the DICOM definition, sorted per axis
    pos = voxel_positions(iop, ipp, spacing, rows, cols, offsets).reshape(-1, 3)
    expected_axes = [np.unique(np.round(pos[:, k], 6)) for k in range(3)]
    np.testing.assert_allclose(grid.x_mm, expected_axes[0], atol=1e-6)
    np.testing.assert_allclose(grid.y_mm, expected_axes[1], atol=1e-6)
    np.testing.assert_allclose(grid.z_mm, expected_axes[2], atol=1e-6)
    assert grid.dose_gy.size == rows * cols * len(offsets)

    zz, yy, xx = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    expected = linear_dose(np.stack([xx, yy, zz], axis=-1))
    np.testing.assert_allclose(grid.dose_gy, expected, atol=SCALING)


def test_head_first_supine_coordinates_explicitly(tmp_path):
    path = save(dose_dataset(offsets=(0.0, 2.0, 5.0, 9.0)), tmp_path / "d.dcm")
    grid = read_dose(path)
    np.testing.assert_allclose(grid.x_mm, [-10, -7, -4, -1, 2])  # columns, 3 mm
    np.testing.assert_allclose(grid.y_mm, [-20, -18, -16, -14])  # rows, 2 mm
    np.testing.assert_allclose(grid.z_mm, [-30, -28, -25, -21])  # non-uniform planes
    assert grid.dose_gy[1, 2, 3] == pytest.approx(
        5.0 + 0.01 * -1 + 0.02 * -16 + 0.04 * -28, abs=SCALING
    )
    assert grid.frame_of_reference_uid == FRAME
    assert grid.source_files == (path,)


def test_feet_first_puts_the_first_frame_at_the_top(tmp_path):
    path = save(dose_dataset(iop=(-1, 0, 0, 0, 1, 0), offsets=(0.0, 3.0, 6.0)), tmp_path / "d.dcm")
    grid = read_dose(path)
    # normal = row × col = (-1,0,0) × (0,1,0) = (0,0,-1): frames go inferior from z = -30
    np.testing.assert_allclose(grid.z_mm, [-36, -33, -30])
    np.testing.assert_allclose(grid.x_mm, [-22, -19, -16, -13, -10])


def test_absolute_grid_frame_offsets(tmp_path):
    relative = read_dose(save(dose_dataset(offsets=(0.0, 3.0, 6.0)), tmp_path / "rel.dcm"))
    absolute = read_dose(
        save(
            dose_dataset(offsets=(0.0, 3.0, 6.0), stored_offsets=(-30.0, -27.0, -24.0)),
            tmp_path / "abs.dcm",
        )
    )
    np.testing.assert_allclose(absolute.z_mm, [-30, -27, -24])
    assert absolute.same_geometry(relative)
    np.testing.assert_array_equal(absolute.dose_gy, relative.dose_gy)


def test_offsets_neither_relative_nor_absolute_are_refused(tmp_path):
    path = save(
        dose_dataset(offsets=(0.0, 3.0, 6.0), stored_offsets=(5.0, 8.0, 11.0)), tmp_path / "d.dcm"
    )
    with pytest.raises(InputError, match="GridFrameOffsetVector") as info:
        read_dose(path)
    assert info.value.path == path


def test_single_frame_dose(tmp_path):
    grid = read_dose(save(dose_dataset(offsets=(0.0,)), tmp_path / "d.dcm"))
    assert grid.shape == (1, 4, 5)
    np.testing.assert_allclose(grid.z_mm, [-30.0])


def test_oblique_dose_is_refused(tmp_path):
    a = np.deg2rad(10)
    iop = (np.cos(a), np.sin(a), 0, -np.sin(a), np.cos(a), 0)
    path = save(dose_dataset(iop=iop), tmp_path / "oblique.dcm")
    with pytest.raises(InputError, match="oblique") as info:
        read_dose(path)
    assert info.value.path == path
    assert info.value.remedy


def test_relative_dose_is_refused(tmp_path):
    path = save(dose_dataset(units="RELATIVE"), tmp_path / "d.dcm")
    with pytest.raises(InputError, match="RELATIVE") as info:
        read_dose(path)
    assert info.value.path == path
    assert "Gy" in info.value.remedy or "GY" in info.value.remedy


def test_missing_dose_grid_scaling(tmp_path):
    path = save(dose_dataset(scaling=None), tmp_path / "d.dcm")
    with pytest.raises(InputError, match="DoseGridScaling") as info:
        read_dose(path)
    assert "re-export" in info.value.remedy


def test_centigray_units_are_converted(tmp_path):
    # DICOM only defines GY and RELATIVE; a "CGY" label is unambiguous, so it is honoured
    gy = read_dose(save(dose_dataset(), tmp_path / "gy.dcm"))
    cgy = read_dose(
        save(
            dose_dataset(units="CGY", func=lambda p: 100 * linear_dose(p), scaling=1e-2),
            tmp_path / "c.dcm",
        )
    )
    np.testing.assert_allclose(cgy.dose_gy, gy.dose_gy, atol=SCALING)


def test_per_fraction_dose_is_refused(tmp_path):
    path = save(dose_dataset(summation="FRACTION"), tmp_path / "d.dcm")
    with pytest.raises(InputError, match="FRACTION"):
        read_dose(path)


def test_beam_doses_are_summed(tmp_path):
    def half(pos):
        return linear_dose(pos) / 2

    a = save(
        dose_dataset(func=half, summation="BEAM", plan_uid="1.2.3", beam_number=1),
        tmp_path / "b1.dcm",
    )
    b = save(
        dose_dataset(func=half, summation="BEAM", plan_uid="1.2.3", beam_number=2),
        tmp_path / "b2.dcm",
    )
    total = read_dose([a, b])
    single = read_dose(save(dose_dataset(), tmp_path / "plan.dcm"))
    np.testing.assert_allclose(total.dose_gy, single.dose_gy, atol=2 * SCALING)
    assert total.source_files == (a, b)
    assert total.summation_type == "BEAM_SUM"


def test_beam_doses_on_different_grids_are_refused(tmp_path):
    a = save(dose_dataset(summation="BEAM", plan_uid="1.2.3"), tmp_path / "b1.dcm")
    b = save(
        dose_dataset(summation="BEAM", plan_uid="1.2.3", ipp=(-9.0, -20.0, -30.0)),
        tmp_path / "b2.dcm",
    )
    with pytest.raises(InputError, match="different grids"):
        read_dose([a, b])


def test_two_plan_doses_are_not_summed(tmp_path):
    a = save(dose_dataset(), tmp_path / "p1.dcm")
    b = save(dose_dataset(), tmp_path / "p2.dcm")
    with pytest.raises(InputError, match="BEAM"):
        read_dose([a, b])


def test_truncated_dose_names_the_file(tmp_path):
    good = save(dose_dataset(rows=20, cols=20), tmp_path / "full.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(good.read_bytes()[:-500])
    with pytest.raises(InputError) as info:
        read_dose(cut)
    assert info.value.path == cut
    assert "truncated" in str(info.value) or "cut short" in str(info.value)


def test_not_a_dose(tmp_path):
    ss = save(structure_dataset([]), tmp_path / "rs.dcm")
    with pytest.raises(InputError, match="RTDOSE"):
        read_dose(ss)


_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_BE = "1.2.840.10008.1.2.2"


@pytest.mark.parametrize(
    "syntax, bits, stored, signed, extra_bytes",
    [
        (_EXPLICIT_LE, 32, 32, False, 0),
        (_EXPLICIT_LE, 16, 16, False, 0),
        (_EXPLICIT_LE, 16, 16, True, 0),
        (_EXPLICIT_LE, 32, 32, True, 0),
        (_IMPLICIT_LE, 16, 16, False, 0),
        (_EXPLICIT_LE, 16, 12, False, 0),  # high bits set above BitsStored: kept as stored
        (_EXPLICIT_LE, 8, 8, False, 0),
        (_EXPLICIT_LE, 16, 16, False, 2),  # excess padding after the pixels
        (_EXPLICIT_BE, 16, 16, False, 0),
    ],
)
def test_dose_pixels_are_the_values_pydicom_decodes(
    tmp_path, syntax, bits, stored, signed, extra_bytes
):
    """Whatever the layout of PixelData, the dose is pydicom's decoded pixel_array × scaling
    (the reader reads the plain layouts from the bytes itself, and leaves the rest to pydicom)."""
    ds = dose_dataset()
    shape = (ds.NumberOfFrames, ds.Rows, ds.Columns)
    rng = np.random.default_rng(bits + stored)
    top = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
    values = rng.integers(1, top, size=shape)
    values.flat[0] = top  # the largest value the layout holds
    kind = "i" if signed else "u"
    order = ">" if syntax == _EXPLICIT_BE else "<"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, stored, stored - 1
    ds.PixelRepresentation = int(signed)
    if bits == 32:  # the largest 32-bit value at 1e-4 Gy would exceed any plausible dose
        ds.DoseGridScaling = 1e-6
    ds.PixelData = values.astype(f"{order}{kind}{bits // 8}").tobytes() + bytes(extra_bytes)
    ds.file_meta.TransferSyntaxUID = syntax
    path = save(ds, tmp_path / "d.dcm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom: excess padding, retired transfer syntax
        expected = pydicom_read(path).pixel_array.astype(np.float64) * float(ds.DoseGridScaling)
        grid = read_dose(path)
    assert grid.shape == shape
    np.testing.assert_array_equal(grid.dose_gy, expected)


def test_dose_pixel_data_too_short_is_refused(tmp_path):
    ds = dose_dataset()
    ds.PixelData = ds.PixelData[: -4 * ds.Columns]
    path = save(ds, tmp_path / "d.dcm")
    with pytest.raises(InputError, match="cannot be decoded") as info:
        read_dose(path)
    assert info.value.path == path


# --------------------------------------------------------------------------------------
# Structures
# --------------------------------------------------------------------------------------


def test_structure_set_contents(tmp_path):
    ss = structure_dataset(
        [
            {
                "number": 3,
                "name": "PTV",
                "contours": [square(0.0), square(2.5, half=5)],
                "interpreted": "PTV",
            },
            {
                "number": 1,
                "name": "Marker",
                "contours": [np.array([[1.0, 2.0, 3.0]])],
                "type": "POINT",
                "interpreted": "MARKER",
            },
            {
                "number": 7,
                "name": "Line",
                "contours": [np.array([[0.0, 0, 1], [5, 5, 1]])],
                "type": "OPEN_PLANAR",
            },
            {"number": 5, "name": "Declared only", "no_contour_sequence": True},
            {"number": 6, "name": "No contours", "contours": []},
        ]
    )
    path = save(ss, tmp_path / "rs.dcm")
    result = read_structure_set(path)
    assert [s.roi_number for s in result.structures] == [3, 1, 7, 5, 6]
    ptv = result.by_number(3)
    assert ptv.name == "PTV" and ptv.interpreted_type == "PTV"
    assert [c.z_mm for c in ptv.contours] == [0.0, 2.5]
    assert ptv.contours[1].signed_area_mm2 == pytest.approx(100.0)
    np.testing.assert_allclose(ptv.contours[0].points_mm, square(0.0)[:, :2])
    assert ptv.is_volumetric
    marker = result.by_number(1)
    assert marker.geometric_types == {ContourType.POINT} and not marker.is_volumetric
    assert result.by_number(7).geometric_types == {ContourType.OPEN_PLANAR}
    assert result.by_number(5).is_empty and result.by_number(6).is_empty
    assert result.frame_of_reference_uid == FRAME
    assert result.source_file == path
    assert result.patient_id == "SYNTH01"


def test_non_axial_contour_is_a_geometry_error(tmp_path):
    tilted = square(0.0)
    tilted[:, 2] = [0.0, 0.0, 4.0, 4.0]
    path = save(
        structure_dataset([{"number": 1, "name": "Sagittal thing", "contours": [tilted]}]),
        tmp_path / "rs.dcm",
    )
    with pytest.raises(GeometryError, match="Sagittal thing") as info:
        read_structure_set(path)
    assert info.value.path == path


def _two_contour_roi(tmp_path, first_type, tilt_second):
    second = square(2.0)
    if tilt_second:
        second[:, 2] = [2.0, 2.0, 6.0, 6.0]
    ss = structure_dataset([{"number": 1, "name": "Mixed", "contours": [square(0.0), second]}])
    ss.ROIContourSequence[0].ContourSequence[0].ContourGeometricType = first_type
    return save(ss, tmp_path / "rs.dcm")


def test_the_first_bad_contour_of_an_roi_decides_the_error(tmp_path):
    """Contours are checked in file order, whichever check fails: an unknown type in the
    first contour is reported before a non-axial second contour, and a non-axial first
    contour before an unknown type in the second."""
    path = _two_contour_roi(tmp_path, "CURVED", tilt_second=True)
    with pytest.raises(InputError, match="unknown ContourGeometricType 'CURVED'"):
        read_structure_set(path)
    tilted = square(0.0)
    tilted[:, 2] = [0.0, 0.0, 4.0, 4.0]
    ss = structure_dataset([{"number": 1, "name": "Mixed", "contours": [tilted, square(2.0)]}])
    ss.ROIContourSequence[0].ContourSequence[1].ContourGeometricType = "CURVED"
    path = save(ss, tmp_path / "rs2.dcm")
    with pytest.raises(GeometryError, match=r"z from 0.00 to 4.00 mm"):
        read_structure_set(path)


def test_nonplanar_contour_height_is_its_median_z(tmp_path):
    path = _two_contour_roi(tmp_path, "CLOSED_PLANAR", tilt_second=True)
    ss = pydicom_read(path)
    ss.ROIContourSequence[0].ContourSequence[1].ContourGeometricType = "OPEN_NONPLANAR"
    ss.save_as(path)
    contours = read_structure_set(path).structures[0].contours
    assert [c.z_mm for c in contours] == [0.0, 4.0]
    assert [c.geometric_type for c in contours] == [
        ContourType.CLOSED_PLANAR,
        ContourType.OPEN_NONPLANAR,
    ]


def test_truncated_structure_set_names_the_file(tmp_path):
    ss = structure_dataset(
        [{"number": 1, "name": "A", "contours": [square(z) for z in np.arange(40.0)]}]
    )
    good = save(ss, tmp_path / "rs.dcm")
    cut = tmp_path / "rs_cut.dcm"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    with pytest.raises(InputError) as info:
        read_structure_set(cut)
    assert info.value.path == cut


# --------------------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------------------


def test_plan_fractions_prescription_and_date(tmp_path):
    plan = plan_dataset(
        structure_set_uid="1.2.3.4",
        fractions=(5,),
        references=[
            ("TARGET", "SITE", 35.0),
            ("TARGET", "SITE", 40.0),
            ("TARGET", "COORDINATES", 42.0),
            ("ORGAN_AT_RISK", "SITE", 50.0),
        ],
    )
    p = read_plan(save(plan, tmp_path / "rp.dcm"))
    assert p.fractions == 5
    assert p.prescription_gy == 40.0  # the largest SITE target; calculation points ignored
    assert p.plan_date == dt.date(2024, 1, 5)
    assert p.label == "PLAN1"
    assert p.referenced_structure_set_uid == "1.2.3.4"
    assert p.dose_per_fraction_gy == 8.0


def test_plan_without_prescription(tmp_path):
    plan = plan_dataset(
        structure_set_uid=None, references=[("TARGET", "COORDINATES", 10.0)], plan_date=None
    )
    p = read_plan(save(plan, tmp_path / "rp.dcm"))
    assert p.prescription_gy is None
    assert p.plan_date == dt.date(2024, 1, 2)  # StudyDate when RTPlanDate is absent


def test_several_fraction_groups_are_noted(tmp_path):
    ss = structure_dataset([{"number": 1, "name": "Box", "contours": [square(-27.5, half=2)]}])
    plan = plan_dataset(structure_set_uid=ss.SOPInstanceUID, fractions=(25, 5))
    rs, rp = save(ss, tmp_path / "rs.dcm"), save(plan, tmp_path / "rp.dcm")
    rd = save(dose_dataset(plan_uid=plan.SOPInstanceUID), tmp_path / "rd.dcm")
    # no single fractionation: never one group's count for the summed dose
    assert read_plan(rp).fractions is None
    course = load_course(rs, [rd], rp)
    assert course.plan is not None and course.plan.fractions is None
    assert any("2 fraction groups" in n for n in course.notes)


# --------------------------------------------------------------------------------------
# Discovery and linking
# --------------------------------------------------------------------------------------


def test_discover_links_plan_dose_and_structures(tmp_path):
    export = simple_export(tmp_path / "export" / "nested")
    (tmp_path / "export" / "README.txt").write_text("not dicom")
    (tmp_path / "export" / "notes.bin").write_bytes(b"\x00\x01garbage" * 50)
    before = folder_digest(tmp_path)
    courses = discover(tmp_path / "export")
    assert folder_digest(tmp_path) == before  # inputs untouched
    assert len(courses) == 1
    course = courses[0]
    assert course.fractions == 5
    assert course.plan is not None and course.plan.prescription_gy == 40.0
    assert course.date == dt.date(2024, 1, 5)
    assert course.dose.source_files == (export["dose"],)
    assert (
        course.structure_set is not None
        and course.structure_set.source_file == export["structures"]
    )
    assert [s.name for s in course.structure_set.structures] == ["Box", "Empty"]


def test_several_plans_give_several_courses(tmp_path):
    simple_export(tmp_path / "a")
    simple_export(tmp_path / "b")
    courses = discover(tmp_path)
    assert len(courses) == 2
    assert {c.dose.source_files[0].parent.name for c in courses} == {"a", "b"}


def test_folder_without_dose(tmp_path):
    export = simple_export(tmp_path)
    export["dose"].unlink()
    with pytest.raises(InputError, match="RTDOSE") as info:
        discover(tmp_path)
    assert info.value.path == tmp_path
    assert "export" in info.value.remedy


def test_folder_without_structures(tmp_path):
    export = simple_export(tmp_path)
    export["structures"].unlink()
    with pytest.raises(InputError, match="RTSTRUCT"):
        discover(tmp_path)


def test_folder_without_structures_is_a_dose_only_course_when_structures_are_optional(tmp_path):
    export = simple_export(tmp_path)
    export["structures"].unlink()  # RTPLAN + RTDOSE only, as a prior course may be exported
    (course,) = discover(tmp_path, require_structures=False)
    assert course.structure_set is None and course.ct_series_uids == ()
    assert course.fractions == 5 and course.date == dt.date(2024, 1, 5)
    assert course.dose.source_files == (export["dose"],)
    assert any("no structure set" in note for note in course.notes)


def test_optional_structures_are_still_linked_and_frame_checked(tmp_path):
    export = simple_export(tmp_path / "ok")
    (course,) = discover(tmp_path / "ok", require_structures=False)
    assert course.structure_set is not None and course.structure_set.source_file == export["structures"]
    assert not any("no structure set" in note for note in course.notes)
    simple_export(tmp_path / "bad", frame_struct="1.2.826.0.1.3680043.8.498.999")
    with pytest.raises(InputError, match="frame"):
        discover(tmp_path / "bad", require_structures=False)


def test_referenced_plan_missing(tmp_path):
    export = simple_export(tmp_path)
    export["plan"].unlink()
    with pytest.raises(InputError, match="not in") as info:
        discover(tmp_path)
    assert info.value.path == export["dose"]


def test_mismatched_frames_of_reference(tmp_path):
    export = simple_export(tmp_path, frame_struct="1.2.826.0.1.3680043.8.498.999")
    with pytest.raises(InputError, match="frame") as info:
        discover(tmp_path)
    assert info.value.path == export["structures"]
    with pytest.raises(InputError, match="frame"):
        load_course(export["structures"], [export["dose"]], export["plan"])


def test_non_dicom_files_are_ignored_but_broken_dcm_files_are_not(tmp_path):
    simple_export(tmp_path)
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(100))
    (tmp_path / "._RD.dose.dcm").write_bytes(b"\x00\x05\x16\x07" + bytes(200))  # macOS AppleDouble
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4 " + bytes(300))
    assert len(discover(tmp_path)) == 1
    broken = tmp_path / "RD.other.dcm"
    broken.write_bytes(b"this is not what it says it is" * 10)
    with pytest.raises(InputError) as info:
        discover(tmp_path)
    assert info.value.path == broken


def test_files_without_preamble_or_suffix_are_found(tmp_path):
    """Older exports: a bare implicit-VR data set, no 128-byte preamble, no file suffix."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    export = simple_export(tmp_path)
    plan = pydicom_read(export["plan"])
    del plan.file_meta
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, True
    write_dataset(buffer, plan)
    export["plan"].unlink()
    bare = tmp_path / "RP1"
    bare.write_bytes(buffer.getvalue())
    (course,) = discover(tmp_path)
    assert course.plan is not None and course.plan.source_file == bare


def test_truncated_file_in_folder_is_named(tmp_path):
    export = simple_export(tmp_path)
    data = export["structures"].read_bytes()
    export["structures"].write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as info:
        discover(tmp_path)
    assert info.value.path == export["structures"]


def test_corrupt_file_with_dicom_marker_is_named(tmp_path):
    simple_export(tmp_path)
    bad = tmp_path / "broken"
    bad.write_bytes(b"\x00" * 128 + b"DICM" + b"\xff\xfe\x01" * 7)
    with pytest.raises(InputError) as info:
        discover(tmp_path)
    assert info.value.path == bad


def test_two_plan_doses_for_one_plan_ask_for_explicit_files(tmp_path):
    export = simple_export(tmp_path)
    plan_uid = read_plan(export["plan"]).sop_instance_uid
    save(dose_dataset(plan_uid=plan_uid), tmp_path / "RD.second.dcm")
    with pytest.raises(InputError) as info:
        discover(tmp_path)
    assert "--dose" in info.value.remedy and "--structures" in info.value.remedy


def test_discover_sums_beam_doses_and_checks_all_beams(tmp_path):
    ss = structure_dataset([{"number": 1, "name": "Box", "contours": [square(-27.5, half=2)]}])
    plan = plan_dataset(structure_set_uid=ss.SOPInstanceUID, beams=(1, 2))
    save(ss, tmp_path / "rs.dcm")
    save(plan, tmp_path / "rp.dcm")

    def half(pos):
        return linear_dose(pos) / 2

    save(
        dose_dataset(func=half, summation="BEAM", plan_uid=plan.SOPInstanceUID, beam_number=1),
        tmp_path / "rd1.dcm",
    )
    with pytest.raises(InputError, match=r"beam\(s\) \[2\]"):
        discover(tmp_path)
    save(
        dose_dataset(func=half, summation="BEAM", plan_uid=plan.SOPInstanceUID, beam_number=2),
        tmp_path / "rd2.dcm",
    )
    (course,) = discover(tmp_path)
    expected = read_dose(save(dose_dataset(), tmp_path / "ref" / "plan_dose.dcm"))
    np.testing.assert_allclose(course.dose.dose_gy, expected.dose_gy, atol=2 * SCALING)
    assert len(course.dose.source_files) == 2
    assert course.notes == ()  # every beam accounted for

    # without the plan the completeness cannot be checked: said in the notes
    doses = [tmp_path / "rd1.dcm", tmp_path / "rd2.dcm"]
    planless = load_course(tmp_path / "rs.dcm", doses)
    assert any("every beam" in n for n in planless.notes)
    assert load_course(tmp_path / "rs.dcm", doses, tmp_path / "rp.dcm").notes == ()


def test_load_course_without_plan_says_fractions_are_assumed(tmp_path):
    export = simple_export(tmp_path)
    before = folder_digest(tmp_path)
    course = load_course(export["structures"], [export["dose"]])
    assert folder_digest(tmp_path) == before
    assert course.plan is None and course.fractions == 1
    assert any("fractions" in n for n in course.notes)


def test_load_course_with_plan(tmp_path):
    export = simple_export(tmp_path)
    course = load_course(export["structures"], export["dose"], export["plan"])
    assert course.fractions == 5 and course.plan.label == "PLAN1"


def test_plan_and_dose_in_different_frames(tmp_path):
    export = simple_export(tmp_path)
    plan = read_plan(export["plan"])
    other = plan_dataset(
        structure_set_uid=plan.referenced_structure_set_uid,
        frame="1.2.3.999",
        uid=plan.sop_instance_uid,
    )
    save(other, export["plan"])
    with pytest.raises(InputError, match="frame of reference") as info:
        discover(tmp_path)
    assert info.value.path == export["dose"]


def test_load_course_refuses_a_dose_of_another_plan(tmp_path):
    export = simple_export(tmp_path)
    other = save(plan_dataset(structure_set_uid=None), tmp_path / "other_plan.dcm")
    with pytest.raises(InputError, match="computed for plan"):
        load_course(export["structures"], [export["dose"]], other)


def test_missing_explicit_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_course(tmp_path / "nope.dcm", [tmp_path / "nope2.dcm"])


# --------------------------------------------------------------------------------------
# TPS DVHs
# --------------------------------------------------------------------------------------


def _with_dvhs(ds, items):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence as DicomSequence

    seq = []
    for roi, kind, data in items:
        item = Dataset()
        ref = Dataset()
        ref.ReferencedROINumber = roi
        ref.DVHROIContributionType = "INCLUDED"
        item.DVHReferencedROISequence = DicomSequence([ref])
        item.DVHType = kind
        item.DoseUnits = "GY"
        item.DoseType = "PHYSICAL"
        item.DVHDoseScaling = 0.5
        item.DVHVolumeUnits = "CM3"
        item.DVHNumberOfBins = len(data) // 2
        item.DVHData = list(data)
        item.DVHMaximumDose = 123.0  # percent-like nonsense that must not be used
        seq.append(item)
    ds.DVHSequence = DicomSequence(seq)
    return ds


def test_tps_dvhs_cumulative_and_differential(tmp_path):
    ds = _with_dvhs(
        dose_dataset(),
        [
            (1, "CUMULATIVE", [2, 10, 2, 6, 2, 1]),  # widths 2 × 0.5 Gy = 1 Gy
            (2, "DIFFERENTIAL", [2, 4, 2, 5, 2, 1]),
        ],
    )
    dvhs = read_tps_dvhs(save(ds, tmp_path / "d.dcm"))
    d1, v1 = dvhs[1]
    np.testing.assert_allclose(d1, [0, 1, 2])
    np.testing.assert_allclose(v1, [10, 6, 1])
    d2, v2 = dvhs[2]
    np.testing.assert_allclose(d2, [0, 1, 2, 3])
    np.testing.assert_allclose(v2, [10, 6, 1, 0])
