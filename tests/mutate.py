"""Helpers for tests that mutate copies of the sample exports (sample_dicom/) and run the
command line on them as a user would."""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pydicom
from click.testing import CliRunner, Result
from conftest import SAMPLE_DICOM
from pydicom.dataset import Dataset

from rtcheck.cli import main


def run(*args: object) -> Result:
    """The command line's result for ``args`` (paths converted to text)."""
    return CliRunner().invoke(main, [str(a) for a in args])


def sample_copy(name: str, destination: Path) -> Path:
    """A private copy of the sample export ``sample_dicom/<name>`` under ``destination``."""
    folder = destination / name
    shutil.copytree(SAMPLE_DICOM / name, folder)
    return folder


def edit(folder: Path, prefix: str, change: Callable[[Dataset], object]) -> Path:
    """Apply ``change(dataset)`` to the file of ``folder`` whose name starts with ``prefix``."""
    path = next(p for p in folder.iterdir() if p.name.startswith(prefix))
    ds = pydicom.dcmread(path)
    change(ds)
    ds.save_as(path)
    return path


def roi_number(ds: Dataset, name: str) -> int:
    """The ROI number of the structure called ``name`` in an RTSTRUCT data set."""
    return next(int(r.ROINumber) for r in ds.StructureSetROISequence if r.ROIName == name)


def contour_sequence(ds: Dataset, name: str) -> list[Dataset]:
    """The ContourSequence items of the ROI called ``name``."""
    number = roi_number(ds, name)
    item = next(i for i in ds.ROIContourSequence if int(i.ReferencedROINumber) == number)
    return list(item.ContourSequence)


def set_contours(ds: Dataset, name: str, contours: list[Dataset]) -> None:
    """Replace the contours of the ROI called ``name``."""
    number = roi_number(ds, name)
    item = next(i for i in ds.ROIContourSequence if int(i.ReferencedROINumber) == number)
    item.ContourSequence = contours


def duplicate_contours(name: str) -> Callable[[Dataset], None]:
    """A change writing every contour of the ROI ``name`` twice (the copy after the original)."""

    def change(ds: Dataset) -> None:
        contours = contour_sequence(ds, name)
        set_contours(ds, name, contours + [copy.deepcopy(c) for c in contours])

    return change


def one_line_error(result: Result, code: int = 3) -> str:
    """The single stderr line of a command that ended with ``code`` and no traceback."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def remove_tree(top: Path) -> None:
    """Remove a folder tree without recursion (shutil.rmtree and os.walk recurse, and fail
    on a tree a thousand levels deep, which would break pytest's clean-up of tmp_path)."""
    stack = [(str(top), False)]
    while stack:
        path, emptied = stack.pop()
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
        elif emptied:
            os.rmdir(path)
        else:
            stack.append((path, True))
            with os.scandir(path) as entries:
                stack.extend((entry.path, False) for entry in entries)
