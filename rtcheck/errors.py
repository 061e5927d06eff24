"""The rtcheck exception hierarchy.

Every error a user can meet is an :class:`RtcheckError` that names the file involved (when
there is one) and a remedy. The command line maps each class to an exit code:

* :class:`InputError` (unreadable or inconsistent input) -> exit code 3
* :class:`ConstraintTableError` (a bad table or alias file) -> exit code 3
* :class:`UsageError` (a request that cannot be honoured, e.g. no table for 4 fractions) -> 2
"""

from __future__ import annotations

from pathlib import Path


class RtcheckError(Exception):
    """Base class: a message, the file it concerns (optional) and what to do about it."""

    exit_code = 3

    def __init__(self, message: str, *, path: str | Path | None = None, remedy: str | None = None):
        """``message`` says what is wrong, ``path`` in which file, ``remedy`` what to do."""
        self.message = message
        self.path = Path(path) if path is not None else None
        self.remedy = remedy
        super().__init__(str(self))

    def __str__(self) -> str:
        """``path: message — remedy`` (the one line the command line prints)."""
        text = f"{self.path}: {self.message}" if self.path is not None else self.message
        if self.remedy:
            text += f" — {self.remedy}"
        return text

    def __reduce__(self):
        """Pickle by keywords, so that an error raised in a worker process (audits) comes back
        with its file, remedy and any attribute set on it intact."""
        return (_rebuild, (type(self), self.message, self._keywords()), dict(self.__dict__))

    def _keywords(self) -> dict:
        """The constructor's keyword arguments, for unpickling."""
        return {"path": self.path, "remedy": self.remedy}

    def to_dict(self) -> dict:
        """Plain-data form, so that errors can travel inside results (audits, JSON reports)."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "path": str(self.path) if self.path is not None else None,
            "remedy": self.remedy,
        }


class InputError(RtcheckError):
    """A DICOM file or folder that is unreadable, incomplete or inconsistent (exit code 3)."""

    exit_code = 3


class GeometryError(InputError):
    """Contours or grids that cannot be turned into volumes (open, empty, oblique...)."""


class ConstraintTableError(RtcheckError):
    """A constraint table, alias table or course file that does not validate (exit code 3).

    ``line`` is the 1-based line in ``path`` where the problem is, when known.
    """

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        remedy: str | None = None,
    ):
        """As :class:`RtcheckError`, with the 1-based ``line`` of the problem in ``path``."""
        self.line = line
        super().__init__(message, path=path, remedy=remedy)

    def __str__(self) -> str:
        """``path:line: message — remedy``."""
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        text = where + self.message
        if self.remedy:
            text += f" — {self.remedy}"
        return text

    def _keywords(self) -> dict:
        """The constructor's keyword arguments, with the line."""
        return {**super()._keywords(), "line": self.line}

    def to_dict(self) -> dict:
        """Plain-data form, with the line."""
        data = super().to_dict()
        data["line"] = self.line
        return data


class RecoveryFactorError(InputError):
    """A tissue-recovery factor without its required documentation (exit code 3)."""


class UsageError(RtcheckError):
    """A request that rtcheck cannot honour as asked (exit code 2)."""

    exit_code = 2


class MissingDependencyError(UsageError):
    """An optional dependency that a requested feature needs is not installed (exit code 2)."""


def _rebuild(cls: type[RtcheckError], message: str, keywords: dict) -> RtcheckError:
    """Unpickle an error (see :meth:`RtcheckError.__reduce__`)."""
    return cls(message, **keywords)
