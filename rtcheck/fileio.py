"""Writing outputs atomically: every file rtcheck writes goes through :func:`write_text_atomic`.

A report is written to a temporary file in the destination folder, flushed to disk and then
renamed over the target, so a reader never sees half a report and an interrupted run leaves
the previous file intact. rtcheck never writes into its input folders.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import UsageError


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (temporary file + rename). Returns the path."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise _cannot_write(target, exc) from exc
        raise
    return target


def _cannot_write(target: Path, exc: OSError) -> UsageError:
    return UsageError(
        f"cannot write the output ({exc.strerror or exc})",
        path=target,
        remedy="choose an output file in a folder you can write to",
    )
