"""How an export folder is walked: which entries are files to read and which are folders
to walk, symbolic links included.

Symbolic links are followed, to files and to folders (an archive of linked plan folders is
read like the folders themselves); each real folder is walked once, so links that loop
back or reach a folder twice add nothing. Refused (:class:`~rtcheck.errors.InputError`
naming the link): a link that leads nowhere (dangling) or round in a loop — it stands for
a file or folder the export should hold — and a link to a folder that holds the walk's
root itself, which would walk the export again (or the whole disk). Both the discovery of
one export (:mod:`~rtcheck.dicom_io.discovery`) and the archive index
(:mod:`~rtcheck.dicom_io.index`) walk by these rules, each with an explicit stack (no
recursion, whatever the depth).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from ..errors import InputError


class FolderEntries(NamedTuple):
    """A folder's entries to walk further (``folders``) and to read (``files``), in the
    order listed."""

    folders: list[Path]
    files: list[Path]


def link_target(link: Path) -> Path:
    """The real path a symbolic link leads to; a link that leads nowhere or round in a loop
    is refused."""
    try:
        return link.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop, before Python 3.13
        looping = isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP
        what = "leads round in a loop" if looping else "leads to nothing"
        raise InputError(
            f"this symbolic link {what} ({os.readlink(link) if link.is_symlink() else exc})",
            path=link,
            remedy="replace the link by the file or folder it stood for, or remove it from "
            "the export folder",
        ) from exc


def _holds(folder: str, path: str) -> bool:
    """Whether the real path ``path`` is ``folder`` or lies below it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def sort_entries(entries: Iterable[os.DirEntry[str]], root: str, walked: set[str]) -> FolderEntries:
    """Split a folder's listed ``entries`` into folders to walk and files to read, links
    followed by the module's rules. ``root``: the real path of the walk's root;
    ``walked``: the real paths of the folders already taken (updated here, so each real
    folder is walked once)."""
    folders: list[Path] = []
    files: list[Path] = []
    for entry in entries:
        path = Path(entry.path)
        linked = entry.is_symlink()
        target = link_target(path) if linked else path
        if target.is_dir():
            real = os.path.realpath(target)
            if linked and _holds(real, root):
                raise InputError(
                    f"this symbolic link leads to {real}, a folder that holds the export "
                    "folder itself (a loop)",
                    path=path,
                    remedy="remove the link from the export folder",
                )
            if real not in walked:
                walked.add(real)
                folders.append(path)
        elif target.is_file():
            files.append(path)
    return FolderEntries(folders, files)
