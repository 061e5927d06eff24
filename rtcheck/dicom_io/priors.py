"""Reading prior courses: their plans and doses, and the registrations exported with them.

A prior course of a re-irradiation check is a DICOM export (RTPLAN + RTDOSE; an RTSTRUCT is
not needed: the organs are those of the current plan, mapped onto the prior dose). Its
registrations (DICOM REG objects linking its frame of reference to the current plan's) are
read only when first needed — when the frames differ — through the lazy iterables
:class:`FolderRegistrations` and :class:`PriorRegistrations`; a REG object that cannot be
used (deformable, not rigid…) becomes an :class:`rtcheck.models.priors.UnusableRegistration`,
whose error explains a refusal when no usable one links the frames.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..models import Course
from ..models.priors import Registration, UnusableRegistration
from .discovery import discover
from .registration import find_registrations, read_registration


@functools.lru_cache(maxsize=32)
def registrations_in(folder: Path) -> tuple[Registration, ...]:
    """The REG objects of a folder (recursively, in path order), the unusable ones as
    :class:`UnusableRegistration`; read once per folder."""
    unusable: list[InputError] = []
    found = find_registrations(folder, unusable=unusable)
    return tuple(found) + tuple(UnusableRegistration(e) for e in unusable)


class FolderRegistrations:
    """The REG objects of a folder, read only when first needed (frames differ)."""

    def __init__(self, folder: str | Path) -> None:
        """Registrations of ``folder`` (none when it is not a folder)."""
        self.folder = Path(folder)

    def __iter__(self) -> Iterator[Registration]:
        """Read the folder's registrations (once) and iterate over them."""
        return iter(registrations_in(self.folder) if self.folder.is_dir() else ())


class PriorRegistrations:
    """The registrations exported with a prior course, read only when first needed: an
    explicit REG file first (an unusable one is refused), then those of its folder."""

    def __init__(self, registration_file: Path | None, folder: str | Path | None) -> None:
        """Registrations of ``registration_file`` and ``folder`` (either may be None)."""
        self.registration_file = registration_file
        self.folder = Path(folder) if folder is not None else None

    def __iter__(self) -> Iterator[Registration]:
        """Read the registrations and iterate over them, the explicit file first."""
        regs: list[Registration] = []
        if self.registration_file is not None:
            regs.append(read_registration(self.registration_file))
        if self.folder is not None and self.folder.is_dir():
            regs += registrations_in(self.folder)
        return iter(regs)


def read_prior_plans(folder: str | Path) -> list[Course]:
    """The plans with a dose in a prior course's export folder (structure sets optional).

    InputError when the folder is missing or holds no plan with a dose.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("prior course folder not found", path=folder, remedy="check the --prior path")
    courses = discover(folder, require_structures=False)  # a prior course contributes dose only
    if not courses:
        raise InputError("no plan with a dose found in the prior course folder", path=folder,
                         remedy="export the prior RTPLAN and RTDOSE into this folder")
    return courses


__all__ = ["FolderRegistrations", "PriorRegistrations", "read_prior_plans", "registrations_in"]
