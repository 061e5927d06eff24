"""Which structures stand for an organ: its own structures, the union of its sides, the
body contour, and the notes on structures reaching outside the body.

A row of a table names an organ (TG-263); the name table
(:class:`rtcheck.constraints.names.NameTable`) says which structure names mean it. Two structures mapping to one organ are both checked
(:func:`structures_for_organ`); a paired organ contoured only as its sides (``Kidneys`` from
``Kidney_L`` and ``Kidney_R``) is evaluated on their union (:func:`union_for`), never on one
side alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..constraints.names import NameTable, OrganAssignment, assign_organ
from ..dvhcalc.compute import DVHSettings, compute_mask
from ..errors import GeometryError
from ..models import ConstraintResult, Course, Level, MatchKind, NameMatch, Structure

if TYPE_CHECKING:
    from ..dvhcalc.masks import StructureMask

def structures_for_organ(assignment: OrganAssignment, matches: Sequence[NameMatch]) -> list[int]:
    """Positions of every structure that stands for the assigned organ, the preferred first.

    Two structures mapping to one organ ("SpinalCord" and "Cord", or two spellings that are
    both aliases) are both checked: the one not preferred may be the one that is overdosed.
    """
    if assignment.canonical is None:
        return []
    hits = [i for i, m in enumerate(matches) if m.canonical == assignment.canonical]
    first = [i for i in hits if matches[i].structure_name == assignment.structure_name][:1]
    return first + [i for i in hits if i not in first]


@dataclasses.dataclass(frozen=True)
class OrganUnion:
    """A paired organ formed from its sides: ``candidate`` (``Kidneys``, ``Lungs-GTV``) is the
    union of ``canonical_parts``; ``parts`` holds, per part, the positions of every structure
    that matches it (the preferred spelling first)."""

    candidate: str
    canonical_parts: tuple[str, ...]
    parts: tuple[tuple[int, ...], ...]


def union_for(names: NameTable, organ: str, matches: Sequence[NameMatch]) -> OrganUnion | str | None:
    """The first union (in ``evaluate_on`` order) whose parts are all present; else, when
    some parts of a union are present, why it cannot be formed; else None."""
    partial = None
    for candidate, canonical_parts in names.compositions_for(organ):
        parts = tuple(
            tuple(structures_for_organ(assign_organ(names, part, matches), matches)) for part in canonical_parts
        )
        if all(parts):
            return OrganUnion(candidate, canonical_parts, parts)
        if partial is None and any(parts):
            present = ", ".join(
                f"{part} ({', '.join(matches[i].structure_name for i in found)})"
                for part, found in zip(canonical_parts, parts, strict=True)
                if found
            )
            absent = ", ".join(part for part, found in zip(canonical_parts, parts, strict=True) if not found)
            partial = (
                f"only {present} of {candidate} is present, {absent} is missing: one side is not "
                f"the whole organ (contour {absent}, or {organ})"
            )
    return partial


def union_note(names: NameTable, organ: str, union: OrganUnion, label: str, combinations: int = 1) -> str:
    """The note of a row evaluated on a union of sides (``label``: the structures joined by " + ")."""
    note = f"{union.candidate} = union of {label}"
    if union.candidate != organ:
        note = f"evaluated on {note}"
    note += f" (no {' or '.join(names.candidates_for(organ))} structure)"
    if combinations > 1:
        note += f"; {combinations} combinations of the sides' structures: each is checked"
    return note



#: A checked structure with at least this share of its volume outside the External (body)
#: contour is reported by :func:`outside_external_notes`.
OUTSIDE_EXTERNAL_MIN_FRACTION = 0.005

#: TG-263 names of the body contour (besides DICOM's RTROIInterpretedType EXTERNAL).
EXTERNAL_NAMES = ("External", "Body")


def external_position(structures: Sequence[Structure], matches: Sequence[NameMatch]) -> int | None:
    """Position of the body contour: the structure whose RTROIInterpretedType is EXTERNAL,
    else the first named External or Body (TG-263, through the alias table); None if none."""
    for i, st in enumerate(structures):
        if (st.interpreted_type or "").strip().upper() == "EXTERNAL":
            return i
    canonical = {m.structure_name: m.canonical for m in matches}
    for i, st in enumerate(structures):
        if canonical.get(st.name) in EXTERNAL_NAMES:
            return i
    return None


def outside_external_notes(
    course: Course,
    body: int | None,
    checked: Sequence[tuple[str, StructureMask]],
    settings: DVHSettings,
    thickness: float | None,
) -> list[str]:
    """Notes on the ``checked`` structures ((label, mask) of each, as their DVHs sampled
    them) that reach outside the body contour (the structure at position ``body``, see
    :func:`external_position`) by at least :data:`OUTSIDE_EXTERNAL_MIN_FRACTION` of their
    volume, counted on the sub-samples.

    Planning systems compute dose only inside the body and usually leave such a part out of
    the structure's DVH (a scar or a target drawn on the skin, a structure not cropped);
    rtcheck keeps it, at the (near-zero) dose the grid holds there, which lowers mean doses
    and the structure's relative volumes: the note says so, the verdicts are not changed.
    """
    if body is None or course.structure_set is None:
        return []
    outline = course.structure_set.structures[body]
    checked = [(label, mask) for label, mask in checked if label != outline.name]
    if not checked:
        return []
    try:
        outer = compute_mask(outline, course.dose, settings, slice_thickness_mm=thickness)
    except GeometryError as err:
        return [f"the body contour '{outline.name}' cannot be rasterised ({err.message}): structures "
                "reaching outside the patient were not looked for"]
    notes = []
    for label, mask in checked:
        total = mask.rasterised_volume_cc
        out = mask.volume_outside_cc(outer)
        if total > 0 and out >= OUTSIDE_EXTERNAL_MIN_FRACTION * total:
            notes.append(
                f"{label}: {out:.3g} cc ({100 * out / total:.1f} %) lies outside the body contour "
                f"'{outline.name}'; planning systems usually leave that part out of the DVH, rtcheck "
                "keeps it (it lowers the mean dose and relative volumes): review the contour or crop "
                "it to the body"
            )
    return notes


def organs_away_from_targets_notes(
    course: Course, results: Sequence[ConstraintResult], matches: Sequence[NameMatch]
) -> list[str]:
    """Notes on the required organs (the spinal cord…) evaluated on contours that lie wholly
    above or below the targets' extent (the z range, mm, of every structure named as a
    target): an organ contoured only away from the treated level shows almost no dose and
    would pass unseen. The verdicts are not changed; without targets there is no note."""
    if course.structure_set is None:
        return []
    by_name = {s.name: s for s in course.structure_set.structures if s.contours}
    target_z = [
        c.z_mm
        for m in matches
        if m.kind is MatchKind.TARGET and m.structure_name in by_name
        for c in by_name[m.structure_name].contours
    ]
    if not target_z:
        return []
    low, high = min(target_z), max(target_z)
    notes: list[str] = []
    for row in results:
        name = row.structure_name
        if not row.required or row.level is Level.NOT_EVALUATED or name not in by_name:
            continue
        organ_z = [c.z_mm for c in by_name[name].contours]
        if (min(organ_z) > high or max(organ_z) < low) and not any(f"'{name}'" in n for n in notes):
            notes.append(
                f"the required organ '{name}' is contoured only from z = {min(organ_z):g} to "
                f"{max(organ_z):g} mm, away from the targets (z = {low:g} to {high:g} mm): its "
                "dose at the treated level is not seen — contour it over the targets' extent"
            )
    return notes


__all__ = [
    "EXTERNAL_NAMES",
    "OUTSIDE_EXTERNAL_MIN_FRACTION",
    "OrganUnion",
    "external_position",
    "organs_away_from_targets_notes",
    "outside_external_notes",
    "structures_for_organ",
    "union_for",
    "union_note",
]
