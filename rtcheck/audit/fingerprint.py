"""What decides whether a plan recorded in the ledger must be checked again.

A plan is skipped on a re-run when its :class:`Fingerprint` is unchanged: the SHA-256 of
each of its input files, the rtcheck version, and the SHA-256 of the constraint table that
would be chosen for it now. The table actually used is known only after checking; the one
that would be chosen is decided from the plan's header (fractions and prescription, the
same rule as :func:`rtcheck.api.table_for_course` without overrides), before checking. The
worker compares the two (:func:`selection_key`): when they ever differ, the key recorded can
never match a prediction, so that plan is checked again on every run rather than skipped on
a wrong assumption. A plan for which no table would be chosen (no table for its
fractionation, no plan) has no table hash: it is skipped while that stays so, and checked
again once a table appears for it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..constraints import select_table
from ..dicom_io.index import IndexedPlan
from ..errors import RtcheckError

#: Recorded as the table key of a plan whose table differed from the one predicted: it
#: matches no prediction, so the plan is never skipped.
UNPREDICTED = "unpredicted"

#: Bytes read at a time when hashing a file.
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class InputFile:
    """One input file of a plan: its role (``plan``, ``structures``, ``dose``), path and SHA-256."""

    role: str
    path: str
    sha256: str


@dataclass(frozen=True)
class Fingerprint:
    """The skip key of one plan: its inputs' combined hash, the rtcheck version and the
    SHA-256 of the table that would be chosen (None when none would be)."""

    inputs: tuple[InputFile, ...]
    inputs_sha256: str
    rtcheck_version: str
    table_sha256: str | None


def predicted_table_sha256(entry: IndexedPlan) -> str | None:
    """The SHA-256 of the shipped table that would be chosen for the plan from its header
    (None when no table would be: no plan, unknown fractions, no table for them)."""
    if entry.plan is None or entry.fractions is None:
        return None
    try:
        return select_table(fractions=entry.fractions, prescription_gy=entry.prescription_gy).table.sha256
    except RtcheckError:
        return None


def fingerprint(entry: IndexedPlan) -> Fingerprint:
    """The fingerprint of one plan, its files hashed now. A file that cannot be read any
    more is hashed as its error, so that the plan is recorded (with its error) again."""
    roles = [("plan", entry.plan), ("structures", entry.structures)] + [("dose", d) for d in entry.doses]
    inputs = []
    for role, path in roles:
        if path is None:
            continue
        try:
            sha = file_sha256(path)
        except OSError as exc:
            sha = f"unreadable: {exc}"
        inputs.append(InputFile(role=role, path=str(path), sha256=sha))
    combined = hashlib.sha256(entry.key.encode())
    for item in inputs:
        combined.update(f"\0{item.role}\0{item.sha256}".encode())
    return Fingerprint(
        inputs=tuple(inputs), inputs_sha256=combined.hexdigest(), rtcheck_version=__version__,
        table_sha256=predicted_table_sha256(entry),
    )


def selection_key(predicted: str | None, used: str | None, checked: bool) -> str | None:
    """The table key to record: the prediction when the check used that table (or did not
    get as far as a table), else :data:`UNPREDICTED`."""
    if checked and used != predicted:
        return UNPREDICTED
    return predicted
