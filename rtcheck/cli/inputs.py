"""Options shared by the commands that read a plan: FOLDER or --structures/--dose/--plan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..api import PlanInputs


def plan_inputs(
    folder: Path | None,
    structures: Path | None,
    doses: tuple[Path, ...] | list[Path],
    plan: Path | str | None,
) -> PlanInputs:
    """The plans named on the command line: FOLDER, or --structures and --dose (with an
    optional --plan RTPLAN file). Giving both, or neither, is a usage error (exit code 2).
    With FOLDER, --plan selects a plan (see the check command) and is not read here."""
    from ..api import read_plans  # imported when a command runs (see rtcheck.cli.check)

    if folder is not None and structures is None and not doses:
        return read_plans(folder)
    if structures is not None or doses or plan is not None:
        if folder is not None:
            raise click.UsageError("give either FOLDER or --structures/--dose, not both")
        if structures is None or not doses:
            raise click.UsageError("--structures and --dose are needed together")
    elif folder is None:
        raise click.UsageError("give the export FOLDER, or --structures and --dose")
    return read_plans(folder, structures=structures, dose=tuple(doses), plan=Path(plan) if plan is not None else None)
