"""Options shared by the commands that read a plan: FOLDER or --structures/--dose/--plan,
and the guard that keeps reports out of the input folders."""

from __future__ import annotations

from pathlib import Path

import click

from ..dicom_io import discover, load_course
from ..errors import UsageError
from ..models import Course


def load_courses(
    folder: Path | None,
    structures: Path | None,
    doses: tuple[Path, ...] | list[Path],
    plan: Path | None,
) -> tuple[list[Course], list[Path]]:
    """The courses to work on, and the input files they came from.

    Either FOLDER (discovery: one course per plan) or explicit --structures and --dose
    (with an optional --plan); giving both, or neither, is a usage error (exit code 2).
    """
    explicit = structures is not None or bool(doses) or plan is not None
    if explicit:
        if folder is not None:
            raise click.UsageError("give either FOLDER or --structures/--dose, not both")
        if structures is None or not doses:
            raise click.UsageError("--structures and --dose are needed together")
        given = [structures, *doses, *([plan] if plan is not None else [])]
        for path in given:
            if not path.exists():
                raise UsageError("no such file", path=path, remedy="check the path of the DICOM file")
        courses = [load_course(structures, list(doses), plan)]
        return courses, given
    if folder is None:
        raise click.UsageError("give the export FOLDER, or --structures and --dose")
    if not folder.exists():
        raise UsageError("no such file or folder", path=folder, remedy="give the path of the export folder")
    courses = discover(folder)
    inputs = [p for c in courses for p in c.dose.source_files]
    inputs += [
        c.structure_set.source_file
        for c in courses
        if c.structure_set and c.structure_set.source_file
    ]
    inputs += [c.plan.source_file for c in courses if c.plan and c.plan.source_file]
    return courses, inputs


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def check_output(output: Path, inputs: list[Path], folder: Path | None) -> None:
    """rtcheck never writes into its input folder, nor over an input file (UsageError, exit 2)."""
    for given in inputs:
        if output.resolve() == Path(given).resolve():
            raise UsageError(
                f"the output {output} is one of the input files", remedy="choose another -o file"
            )
    if folder is not None and folder.is_dir() and _inside(output, folder):
        raise UsageError(
            f"the output {output} is inside the input folder {folder}",
            remedy="write reports outside the export folder (rtcheck never writes into its inputs)",
        )
    for given in inputs:  # files named with --structures/--dose/--plan: their folders are inputs
        parent = Path(given).resolve().parent
        if output.resolve().parent == parent:
            raise UsageError(
                f"the output {output} is in the input folder {parent}",
                remedy="write reports outside the export folder (rtcheck never writes into its inputs)",
            )
