"""rtcheck.dicom_io.index: the plans of an archive from the headers, one broken plan never
hiding the others, and trees of any depth."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_audit_archive import SABR, SPINE, make_variant, write_variant

from rtcheck.dicom_io.index import index_plans, walk_files
from rtcheck.errors import InputError


def test_the_sample_plans_are_indexed_one_entry_per_plan(tmp_path):
    shutil.copytree(SPINE, tmp_path / "x" / "spine")
    shutil.copytree(SABR, tmp_path / "y" / "z" / "sabr")
    (tmp_path / "notes.txt").write_text("not DICOM")
    index = index_plans(tmp_path)
    assert index.files_searched == 7
    spine, sabr = sorted(index.plans, key=lambda p: p.fractions or 0)
    assert (spine.plan_label, spine.patient_id, spine.fractions, spine.prescription_gy) == ("T10 8Gy1F", "RTC-SPINE-001", 1, 8.0)
    assert spine.plan.name.startswith("RP.") and spine.structures.name.startswith("RS.")
    assert [d.name for d in spine.doses] == ["RD.spine_8gy_1fx.dcm"] and spine.complete
    assert sabr.fractions == 5 and sabr.plan_uid == sabr.key and sabr.error is None


def test_broken_plans_carry_their_error_and_the_others_are_indexed(tmp_path):
    make_variant("pass", tmp_path / "good", "g")
    make_variant("no_dose", tmp_path / "nodose", "n")
    files = write_variant(SPINE, tmp_path / "noplan", "p")
    files["RTPLAN"].unlink()  # the dose references a plan the archive does not hold
    bad = tmp_path / "bad" / "RP.cut.dcm"
    bad.parent.mkdir()
    bad.write_bytes(next(SPINE.glob("RP.*")).read_bytes()[:400])  # cut inside the header
    by_error = {(p.error.message.split(" (")[0] if p.error else None): p for p in index_plans(tmp_path).plans}
    assert by_error[None].patient_id == "RTC-SPINE-001-g"
    assert by_error["no RTDOSE in the archive belongs to this plan"].plan.parent.name == "nodose"
    missing = next(p for m, p in by_error.items() if m and m.startswith("the dose references plan"))
    assert missing.plan is None and missing.doses and missing.plan_uid in missing.error.message
    unreadable = next(p for m, p in by_error.items() if m and "cannot be read completely" in m)
    assert unreadable.key == f"file:{bad}" and unreadable.error.path == bad
    assert len(by_error) == 4


def test_a_plan_whose_structure_set_is_missing_says_so(tmp_path):
    write_variant(SPINE, tmp_path / "a", "s", skip_modality="RTSTRUCT")
    (plan,) = index_plans(tmp_path).plans
    assert isinstance(plan.error, InputError) and "structure set it references" in plan.error.message
    assert plan.plan is not None and plan.doses


def test_a_copied_export_is_one_plan_and_a_different_copy_is_refused(tmp_path):
    shutil.copytree(SPINE, tmp_path / "a")
    shutil.copytree(SPINE, tmp_path / "b")
    (plan,) = index_plans(tmp_path).plans
    assert plan.error is None and plan.plan.parent.name == "a"
    copy = next((tmp_path / "b").glob("RD.*"))
    copy.write_bytes(copy.read_bytes()[:-2] + b"\x01\x02")
    (plan,) = index_plans(tmp_path).plans
    assert "same SOPInstanceUID" in plan.error.message


def test_a_tree_thousands_of_levels_deep_is_walked_without_recursion(tmp_path):
    depth = 1500  # beyond Python's recursion limit (1000)
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        for _ in range(depth):  # relative to a directory descriptor: no path length limit on the way
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        deep = Path(f"/proc/self/fd/{fd}").resolve()
        shutil.copytree(SPINE, deep / "plan")
    finally:
        os.close(fd)
    try:
        files = list(walk_files(tmp_path))
        assert len(files) == 3 and all(len(f.relative_to(tmp_path).parts) == depth + 2 for f in files)
        (plan,) = index_plans(tmp_path).plans
        assert plan.error is None and plan.fractions == 1
    finally:
        remove_deep_tree(tmp_path / "d")


def remove_deep_tree(top: Path) -> None:
    """Remove the chain of folders ``top/d/d/…`` bottom up: shutil.rmtree recurses (before
    Python 3.12) and pytest's clean-up of old temporary folders would meet a RecursionError."""
    chain = [top]
    while (chain[-1] / "d").is_dir():
        chain.append(chain[-1] / "d")
    shutil.rmtree(chain[-1])  # the bottom folder holds the plan: shallow
    for folder in reversed(chain[:-1]):
        folder.rmdir()


def test_not_a_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        index_plans(tmp_path / "missing")
