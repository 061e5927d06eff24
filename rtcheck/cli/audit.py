"""`rtcheck audit` (check an archive into a SQLite ledger) and `rtcheck audit-report`
(sum a ledger up)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from . import handle_errors, main

# Library modules are imported inside the commands: `rtcheck --help` and `--version` stay fast.

#: The summary formats (rtcheck.report.audit.FORMATS; a test keeps the two equal).
FORMATS = ("text", "csv", "json", "html")

#: Characters of the progress bar on a terminal.
BAR_WIDTH = 30
#: Seconds between two plain progress lines when standard error is not a terminal.
PLAIN_INTERVAL_S = 10.0


class ProgressPrinter:
    """Progress on standard error: a bar redrawn in place on a terminal; otherwise plain
    lines, one every 5 % of the plans (or every :data:`PLAIN_INTERVAL_S` seconds), and the last."""

    def __init__(self, *, terminal: bool) -> None:
        """``terminal``: standard error is a terminal (draw the bar in place)."""
        self.terminal = terminal
        self.last_line_s = 0.0
        self.last_done = -1

    def __call__(self, progress) -> None:
        """Show ``progress`` (an :class:`~rtcheck.report.audit.AuditProgress`; called after
        each plan is recorded)."""
        from ..report.audit import render_progress

        if self.terminal:
            click.echo("\r" + render_progress(progress, bar_width=BAR_WIDTH) + "\x1b[K", nl=False, err=True)
            return
        step = max(1, progress.to_check // 20)
        now = time.monotonic()
        finished = progress.done == progress.to_check
        if finished or progress.done - self.last_done >= step or now - self.last_line_s >= PLAIN_INTERVAL_S:
            click.echo("rtcheck audit: " + render_progress(progress), err=True)
            self.last_line_s, self.last_done = now, progress.done

    def close(self) -> None:
        """End the bar's line."""
        if self.terminal:
            click.echo("", err=True)


@main.command("audit")
@click.argument("archive", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--ledger", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="SQLite ledger to record into (created if missing; a re-run skips unchanged plans).")
@click.option("--jobs", type=click.IntRange(min=1), help="Worker processes (default: all cores; 1: in this process).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run the checks on an existing Dask distributed cluster (tcp://HOST:PORT; needs rtcheck[dask]).")
@handle_errors
def audit(archive, ledger, jobs, scheduler):
    """Check every plan under ARCHIVE (nested export folders) into the SQLite LEDGER.

    Files are grouped into plans by their UID links; each plan is checked against the table
    chosen from its fractionation and prescription, in parallel, and recorded as soon as it
    is done. A plan that cannot be checked is recorded with its error; the others go on.
    Run it again to resume: plans whose files, table and rtcheck version are unchanged are
    skipped. `rtcheck audit-report LEDGER` sums the ledger up.

    Exit codes (over every plan of the archive, recorded now or before): 0 every plan
    passed; 1 some plan did not pass; 2 some plan could not be checked for a usage reason
    (no table for its fractionation) or bad options; 3 some plan could not be checked
    (unreadable or inconsistent files); 4 an internal error; the worst wins (3 > 2 > 1 > 0).
    """
    from ..audit import run_audit

    printer = ProgressPrinter(terminal=sys.stderr.isatty())
    try:
        outcome = run_audit(archive, ledger, jobs=jobs, scheduler=scheduler, on_progress=printer)
    finally:
        printer.close()
    click.echo(
        f"rtcheck audit: {outcome.found} plans found, {outcome.skipped} unchanged, {outcome.checked} checked, "
        f"{outcome.not_checked} not checked in {outcome.seconds:.1f} s — ledger {outcome.ledger} (exit {outcome.exit_code})",
        err=True,
    )
    sys.exit(outcome.exit_code)


@main.command("audit-report")
@click.argument("ledger", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format.")
@handle_errors
def audit_report(ledger, fmt):
    """Sum up an audit LEDGER: plans by verdict, the most frequent deviations per organ and
    metric, and the plans needing review with their reasons."""
    from ..audit import read_summary
    from ..report.audit import render

    click.echo(render(fmt, read_summary(ledger)), nl=False)
