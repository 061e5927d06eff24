"""Writing outputs atomically: every file rtcheck writes goes through :func:`write_text_atomic`
or :func:`write_bytes_atomic`.

A report is written to a temporary file in the destination folder, flushed to disk and then
renamed over the target, so a reader never sees half a report and an interrupted run leaves
the previous file intact. rtcheck never writes into its input folders.

The destination folder must exist: a mistyped ``-o /nonexistent/dir/report.txt`` is refused
(:class:`~rtcheck.errors.UsageError`, exit 2) rather than creating folders. The report gets
the permissions a plain write would give it: an existing file keeps its mode, a new one gets
0666 less the process's umask (the temporary file's private 0600 is not kept).
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
    if not target.parent.is_dir():
        raise UsageError(
            f"cannot write the output: the folder {target.parent} does not exist",
            path=target,
            remedy="create the folder first, or choose an output file in an existing folder",
        )
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    try:
        os.fchmod(fd, _mode_for(target))
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


def _mode_for(target: Path) -> int:
    """The permission bits a plain write of ``target`` would leave: an existing file's own,
    else 0666 less the umask (read here: os.umask can only be read by setting it)."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


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
