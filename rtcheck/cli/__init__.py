"""Command line interface: the only part of rtcheck that imports click.

Each command is a few lines that parse options, call the library and render the result.
Errors from the library are :class:`rtcheck.errors.RtcheckError`; :func:`handle_errors` maps
them to the documented exit codes:

* 0 — every evaluated constraint passes (and nothing required was left unevaluated)
* 1 — a constraint failed, deviated, is INDETERMINATE (margin within its numerical
  uncertainty), or could not be evaluated for a required organ or an organ that is present
* 2 — usage error (bad options, no table for the plan's fractionation)
* 3 — unreadable or inconsistent input (DICOM, constraint table, course file)
* 4 — internal error (a bug): no verdict was reached (``RTCHECK_DEBUG=1`` shows the traceback)
* 130 — interrupted (Ctrl-C): no verdict was reached
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

import click

from .. import __version__
from ..errors import RtcheckError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT


def handle_errors(func: Callable) -> Callable:
    """Decorator for commands: print an RtcheckError to stderr and exit with its code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        """The command, its errors turned into one line on stderr and an exit code."""
        try:
            return func(*args, **kwargs)
        except RtcheckError as exc:
            click.echo(f"rtcheck: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException:
            raise  # usage errors raised in a command: click reports them (exit 2)
        except KeyboardInterrupt:
            # click would print "Aborted!" and exit 1, which means "a constraint failed"
            click.echo("rtcheck: interrupted — no verdict was reached", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # a bug: never let it pass for a verdict (exit 1)
            if os.environ.get("RTCHECK_DEBUG"):
                raise
            click.echo(
                f"rtcheck: internal error: {type(exc).__name__}: {exc} — no verdict was reached; "
                "please report it with the input (RTCHECK_DEBUG=1 shows the traceback)",
                err=True,
            )
            sys.exit(EXIT_INTERNAL)

    return wrapper


class DefaultCommandGroup(click.Group):
    """A group where `rtcheck PATH ...` means `rtcheck check PATH ...`."""

    default_command = "check"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Insert the default command before a first argument that is not a command."""
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultCommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rtcheck")
def main() -> None:
    """Check radiotherapy plans (DICOM RT exports) against dose constraints.

    `rtcheck PLAN_FOLDER` is short for `rtcheck check PLAN_FOLDER`.

    Exit codes: 0 all evaluated constraints pass; 1 a constraint failed or a required one
    could not be evaluated; 2 usage error; 3 unreadable or inconsistent input; 4 internal
    error (no verdict).
    """


# Each command module registers its command (or command group) on `main` when imported. The
# import comes last because those modules import `main` and `handle_errors` from here.
from . import audit, check, constraints, dvh, eqd2, selftest  # noqa: E402, F401
