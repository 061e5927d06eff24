"""Prior-course options of `rtcheck check` (`--prior`, `--courses`): the re-irradiation composite.

The check command is in :mod:`rtcheck.cli.check`; this module adds the options
(:func:`prior_options`), runs the composite for each checked plan (:func:`run_reirradiation`),
appends its report to the check's output (:func:`append_report`) and combines the verdicts
(:func:`combined_verdict`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from collections.abc import Sequence
from pathlib import Path

import click

from ..constraints import names_with_site_aliases, resolve_table, shipped_table
from ..courses import load_course_file, prior_courses_from_folder
from ..dicom_io.priors import FolderRegistrations
from ..evaluate.reirradiation import check_reirradiation
from ..models import Course, Level
from ..priors import PriorCourse
from ..reirradiation_results import ReirradiationResult
from ..report import reirradiation as report

CUMULATIVE_TABLE = "reirradiation-cumulative"
PER_COURSE_TABLE = "reirradiation-per-course"


def prior_options(command):
    """Decorator: the prior-course options (added to `rtcheck check`)."""
    options = [
        click.option(
            "--prior", "prior_folders", multiple=True,
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="Folder of a prior course's DICOM export (RTPLAN + RTDOSE + RTSTRUCT; a REG object if "
            "planned on another CT). Repeatable. Adds a re-irradiation composite (EQD2) to the report.",
        ),
        click.option(
            "--courses", "course_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Course file (YAML) listing prior courses (DICOM folders or paper-record summaries) and "
            "documented recovery factors; format in docs/courses.md.",
        ),
        click.option(
            "--cumulative-table", "cumulative_spec", default=CUMULATIVE_TABLE, show_default=True,
            help="Cumulative re-irradiation table (EQD2/BED): a file or a shipped table name.",
        ),
        click.option(
            "--converted-limits/--no-converted-limits", "converted_limits", default=True, show_default=True,
            help="Also evaluate the composite of organs without a cumulative limit against the plan table's "
            "limits converted to EQD2 (at the table's fractionation and the organ's α/β).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def load_priors(
    prior_folders: Sequence[Path], course_file: Path | None, current_date: _dt.date | None
) -> tuple[list[PriorCourse], _dt.date | None]:
    """The prior courses, and the current course's date (a course file's ``current_date`` wins)."""
    from_file: list[PriorCourse] = []
    if course_file is not None:
        parsed = load_course_file(course_file, current_date=current_date)
        current_date = parsed.current_date
        from_file = list(parsed.priors)
    priors = [p for folder in prior_folders for p in prior_courses_from_folder(folder, current_date=current_date)]
    return priors + from_file, current_date


def run_reirradiation(
    courses: Sequence[Course],
    *,
    prior_folders: Sequence[Path],
    course_file: Path | None,
    folder: Path | None,
    tables: Sequence,
    alias_files: Sequence[Path] = (),
    cumulative_spec: str = CUMULATIVE_TABLE,
    fractions: int | None = None,
    converted_limits: bool = True,
) -> list[ReirradiationResult] | None:
    """The composite of each checked plan with the prior courses (None without priors).

    ``tables`` are the physical tables used for each course's own check (their rows are
    converted to EQD2 for organs that have no cumulative limit).
    """
    if not prior_folders and course_file is None:
        return None
    names = names_with_site_aliases(tuple(alias_files))
    cumulative = resolve_table(cumulative_spec, names)
    per_course = shipped_table(PER_COURSE_TABLE) if cumulative_spec == CUMULATIVE_TABLE else None
    registrations = FolderRegistrations(folder) if folder is not None else ()  # read only if frames differ
    results = []
    for course, table in zip(courses, tables, strict=True):
        if fractions is not None and fractions != course.fractions:
            course = dataclasses.replace(course, fractions=fractions)  # --fractions overrides the plan
        priors, current_date = load_priors(prior_folders, course_file, course.date)
        results.append(
            check_reirradiation(
                course, priors, names=names, cumulative=cumulative, per_course=per_course,
                current_table=table if converted_limits else None, current_date=current_date,
                registrations=registrations,
            )
        )
    return results


def append_report(text: str, fmt: str, results: Sequence[ReirradiationResult] | None) -> str:
    """The check's output with the re-irradiation report(s) added in the same format."""
    if not results:
        return text
    if fmt == "json":
        document = json.loads(text)
        document["reirradiation"] = [report.to_dict(r) for r in results]
        check_level = Level(document["overall"]) if "overall" in document else Level.PASS
        document["overall_including_reirradiation"] = combined_verdict(check_level, results).value
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return text + "\n" + "".join(report.render_csv(r) for r in results)
    return text + "\n" + "\n".join(report.render_text(r) for r in results)


def combined_verdict(check_level: Level, results: Sequence[ReirradiationResult] | None) -> Level:
    """Worst of the plan check and the composite verdicts (with the documented factors)."""
    level = check_level
    for r in results or ():
        if r.overall.severity > level.severity:
            level = r.overall
    return level
