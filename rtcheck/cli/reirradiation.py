"""Prior-course options of `rtcheck check` (`--prior`, `--courses`, `--cumulative-table`,
`--converted-limits`): the re-irradiation composite, computed by :func:`rtcheck.check`."""

from __future__ import annotations

from pathlib import Path

import click

#: The shipped cumulative table (rtcheck.api.checking.CUMULATIVE_TABLE; a test keeps them equal).
CUMULATIVE_TABLE = "reirradiation-cumulative"


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
