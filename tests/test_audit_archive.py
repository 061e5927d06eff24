"""Generated archives for the audit tests and benchmarks/audit.py: copies of the sample plans
under nested folders, made distinct plans by new UIDs, patient IDs and labels, and broken on
purpose where asked.

The verdict each variant gives is known from the sample it copies (sample_dicom/expected.yaml:
spine_8gy_1fx passes, sabr_3lesions_5fx fails on the oesophagus), not from rtcheck:

* ``pass`` / ``fail`` — a renamed copy of the spine / SABR plan: PASS / FAIL;
* ``seven_fractions`` — the spine plan planned in 7 fractions: no table, not checked (exit 2);
* ``no_dose`` — the spine plan and structures without their RTDOSE: not checked (exit 3);
* ``truncated_dose`` — the spine plan with its RTDOSE cut inside the pixel data (the header
  still reads): not checked (exit 3);
* ``breast`` — the real breast export (../shared/testdata) planned in 5 fractions: a plan of
  clinical size (benchmarks only).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_dicom"
SPINE = SAMPLES / "spine_8gy_1fx"
SABR = SAMPLES / "sabr_3lesions_5fx"
BREAST = REPO.parent / "shared" / "testdata" / "dicompyler-breast"

#: What each kind of variant gives: (verdict, exit code).
EXPECTED = {
    "pass": ("PASS", 0),
    "fail": ("FAIL", 1),
    "seven_fractions": ("NOT_CHECKED", 2),
    "no_dose": ("NOT_CHECKED", 3),
    "truncated_dose": ("NOT_CHECKED", 3),
    "breast": (None, None),  # a real plan: its verdict is whatever it is, the same on every run
}


def _rt_files(folder: Path) -> list[Path]:
    """The RT objects of a sample or export folder (no CT: an audit does not need it)."""
    files = []
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if str(ds.get("Modality", "")) in ("RTPLAN", "RTSTRUCT", "RTDOSE"):
            files.append(path)
    return files


def _rename(ds: Dataset, uids: dict[str, str]) -> None:
    """Replace every UID of ``uids`` anywhere in ``ds`` (links stay consistent)."""

    def visit(dataset: Dataset, elem) -> None:
        if elem.VR == "UI" and isinstance(elem.value, str) and elem.value in uids:
            elem.value = uids[elem.value]

    ds.walk(visit)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and str(meta.get("MediaStorageSOPInstanceUID", "")) in uids:
        meta.MediaStorageSOPInstanceUID = uids[str(meta.MediaStorageSOPInstanceUID)]


def write_variant(source: Path, folder: Path, tag: str, *, edit: Callable[[Dataset], None] | None = None,
                  skip_modality: str | None = None) -> dict[str, Path]:
    """A copy of the plan in ``source`` under ``folder``, its objects given new
    SOPInstanceUIDs derived from ``tag`` and the patient ID and plan label suffixed with
    it; ``edit`` changes the RTPLAN; ``skip_modality`` leaves one object out. Returns the
    files written by modality."""
    folder.mkdir(parents=True, exist_ok=True)
    datasets = {path: pydicom.dcmread(path) for path in _rt_files(source)}
    uids = {str(ds.SOPInstanceUID): generate_uid(entropy_srcs=[str(ds.SOPInstanceUID), tag]) for ds in datasets.values()}
    written = {}
    for path, ds in datasets.items():
        if ds.Modality == skip_modality:
            continue
        _rename(ds, uids)
        ds.PatientID = f"{ds.get('PatientID', 'P')}-{tag}"[:64]
        if ds.Modality == "RTPLAN":
            ds.RTPlanLabel = f"{ds.get('RTPlanLabel', '')} {tag}"[-16:]
            if edit is not None:
                edit(ds)
        target = folder / path.name
        ds.save_as(target)
        written[str(ds.Modality)] = target
    return written


def _fractions(count: int) -> Callable[[Dataset], None]:
    """An RTPLAN edit: plan ``count`` fractions."""

    def edit(ds: Dataset) -> None:
        ds.FractionGroupSequence[0].NumberOfFractionsPlanned = count

    return edit


def make_variant(kind: str, folder: Path, tag: str) -> None:
    """Write one variant of ``kind`` (a key of :data:`EXPECTED`) into ``folder``."""
    if kind == "pass":
        write_variant(SPINE, folder, tag)
    elif kind == "fail":
        write_variant(SABR, folder, tag)
    elif kind == "seven_fractions":
        write_variant(SPINE, folder, tag, edit=_fractions(7))
    elif kind == "no_dose":
        write_variant(SPINE, folder, tag, skip_modality="RTDOSE")
    elif kind == "truncated_dose":
        dose = write_variant(SPINE, folder, tag)["RTDOSE"]
        data = dose.read_bytes()
        dose.write_bytes(data[: int(len(data) * 0.7)])
    elif kind == "breast":
        write_variant(BREAST, folder, tag, edit=_fractions(5))
    else:
        raise ValueError(f"unknown variant {kind!r}")


def make_archive(root: Path, kinds: list[str]) -> list[tuple[str, Path]]:
    """An archive under ``root``: one variant per item of ``kinds``, in nested folders
    (patient/course/export), some two levels deeper. Returns (kind, folder) per variant."""
    made = []
    for n, kind in enumerate(kinds):
        folder = root / f"patient{n % 7:02d}" / f"course{n:04d}" / ("export" if n % 3 else "a/b/export")
        make_variant(kind, folder, f"{kind[:2]}{n}")
        made.append((kind, folder))
    return made


def copy_plain(source: Path, target: Path) -> None:
    """A plain copy of a folder (the same plan twice: a duplicated export)."""
    shutil.copytree(source, target)


def test_a_variant_is_a_distinct_plan_with_consistent_links(tmp_path):
    files = write_variant(SPINE, tmp_path / "v", "t1")
    plan, structures, dose = (pydicom.dcmread(files[m], stop_before_pixels=True) for m in ("RTPLAN", "RTSTRUCT", "RTDOSE"))
    original = pydicom.dcmread(next(SPINE.glob("RP.*")), stop_before_pixels=True)
    assert plan.SOPInstanceUID != original.SOPInstanceUID and len(plan.SOPInstanceUID) <= 64
    assert dose.ReferencedRTPlanSequence[0].ReferencedSOPInstanceUID == plan.SOPInstanceUID
    assert plan.ReferencedStructureSetSequence[0].ReferencedSOPInstanceUID == structures.SOPInstanceUID
    assert plan.file_meta.MediaStorageSOPInstanceUID == plan.SOPInstanceUID
    assert plan.PatientID == dose.PatientID == structures.PatientID == "RTC-SPINE-001-t1"
