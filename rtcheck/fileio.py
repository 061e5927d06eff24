"""Writing outputs atomically: every file rtcheck writes goes through :func:`write_text_atomic`
or :func:`write_bytes_atomic`.

A report is written to a temporary file in the destination folder, flushed to disk and then
renamed over the target, so a reader never sees half a report and an interrupted run leaves
the previous file intact. rtcheck never writes into its input folders.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .errors import UsageError


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (temporary file + rename). Returns the path."""
    return write_bytes_atomic(path, text.encode(encoding))


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file + rename; a picture, or text
    already encoded). Returns the path."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
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


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` lies in ``folder`` (or under it), symbolic links resolved."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def refuse_output_in_inputs(output: Path, inputs: Sequence[Path], folder: Path | None) -> None:
    """Raise :class:`UsageError` (exit 2) when ``output`` is an input file, or lies in the
    input ``folder`` or in the folder of a named input file: rtcheck never writes into its
    inputs."""
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


def _cannot_write(target: Path, exc: OSError) -> UsageError:
    """The usage error for an output that cannot be written, with the system's reason."""
    return UsageError(
        f"cannot write the output ({exc.strerror or exc})",
        path=target,
        remedy="choose an output file in a folder you can write to",
    )
