"""Rendering DVH results (`rtcheck dvh`) as JSON, CSV and a terminal table.

Pure functions: they take the courses with their per-structure results (a
:class:`~rtcheck.models.DVH`, or the error explaining why a structure has none) and return
strings. Writing files and printing is the command line's business.

The JSON shape is a published interface (outside tools read it); keys are only ever added:

    {"rtcheck_version": str, "schema_version": str,
     "plans": [{"plan_uid": str|null, "dose_files": [str], "structure_file": str,
                "structures": [{"name": str, "roi_number": int, "volume_cc": float,
                                "min_gy": float, "mean_gy": float, "max_gy": float,
                                "d0035cc_gy": float|null,
                                "dvh": {"dose_gy": [float], "volume_cc": [float]}, ...}],
                "skipped": [{"name": str, "roi_number": int, "reason": str}], ...}]}

``dvh`` is the cumulative DVH (volume receiving at least that dose) from 0 Gy in steps of
1 % of the structure's maximum dose; its first volume is the volume with known dose (equal
to ``volume_cc`` unless part of the structure lies outside the dose grid, which
``outside_grid_cc`` then states). Structures without a DVH (no contours, not volumetric,
outside the grid) are listed under ``skipped`` with the reason, never dropped silently.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .. import __version__
from ..models import DVH, NEAR_MAX_VOLUME_CC, SCHEMA_VERSION, Course

#: Decimal places kept in the JSON and CSV outputs (Gy and cc): 1e-6 is far below any
#: clinically or numerically meaningful difference.
DECIMALS = 6

#: Part of a structure outside the dose grid (fraction of its volume) worth a note.
OUTSIDE_NOTE_FRACTION = 0.005


@dataclass(frozen=True)
class StructureRow:
    """One structure's line in a report: metrics (None when undefined) or a reason."""

    name: str
    roi_number: int | None
    volume_cc: float | None = None
    min_gy: float | None = None
    mean_gy: float | None = None
    max_gy: float | None = None
    d0035cc_gy: float | None = None
    outside_grid_cc: float = 0.0
    reason: str | None = None
    dvh: DVH | None = None

    @property
    def skipped(self) -> bool:
        """Whether the structure has no DVH (its reason says why)."""
        return self.dvh is None


def _reason(error: BaseException) -> str:
    return str(getattr(error, "message", None) or error)


def structure_rows(course: Course, results: Sequence[DVH | BaseException]) -> list[StructureRow]:
    """Rows for a course's structures (in structure-set order), DVHs and failures alike."""
    structures = course.structure_set.structures if course.structure_set else ()
    rows = []
    for i, result in enumerate(results):
        structure = structures[i] if i < len(structures) else None
        name = structure.name if structure else getattr(result, "name", "?")
        number = structure.roi_number if structure else getattr(result, "roi_number", None)
        if isinstance(result, DVH) and result.is_empty:
            rows.append(
                StructureRow(name, number, reason="the structure lies outside the dose grid")
            )
        elif isinstance(result, DVH):
            rows.append(
                StructureRow(
                    name=name,
                    roi_number=number,
                    volume_cc=result.total_volume_cc,
                    min_gy=result.min_gy(),
                    mean_gy=result.mean_gy(),
                    max_gy=result.max_gy(),
                    d0035cc_gy=result.near_max_gy(NEAR_MAX_VOLUME_CC),
                    outside_grid_cc=result.outside_grid_cc,
                    dvh=result,
                )
            )
        else:
            rows.append(StructureRow(name, number, reason=_reason(result)))
    return rows


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), DECIMALS)


def _uncertainty(dvh: DVH) -> dict[str, float | None]:
    return {
        "volume_cc": _num(dvh.uncertainty(lambda d: d.total_volume_cc)),
        "mean_gy": _num(dvh.uncertainty(DVH.mean_gy)),
        "max_gy": _num(dvh.uncertainty(DVH.max_gy)),
        "d0035cc_gy": _num(dvh.uncertainty(lambda d: d.near_max_gy(NEAR_MAX_VOLUME_CC))),
    }


def _plan_dict(course: Course, results: Sequence[DVH | BaseException]) -> dict:
    plan = course.plan
    structure_file = course.structure_set.source_file if course.structure_set else None
    structures, skipped = [], []
    for row in structure_rows(course, results):
        if row.dvh is None:
            skipped.append({"name": row.name, "roi_number": row.roi_number, "reason": row.reason})
            continue
        dose, volume = row.dvh.cumulative()
        structures.append(
            {
                "name": row.name,
                "roi_number": row.roi_number,
                "volume_cc": _num(row.volume_cc),
                "min_gy": _num(row.min_gy),
                "mean_gy": _num(row.mean_gy),
                "max_gy": _num(row.max_gy),
                "d0035cc_gy": _num(row.d0035cc_gy),
                "dvh": {
                    "dose_gy": [_num(v) for v in dose],
                    "volume_cc": [_num(v) for v in volume],
                },
                "outside_grid_cc": _num(row.outside_grid_cc),
                "uncertainty": _uncertainty(row.dvh),
                "settings": row.dvh.settings,
            }
        )
    return {
        "plan_uid": plan.sop_instance_uid if plan else None,
        "dose_files": [str(p) for p in course.dose.source_files],
        "structure_file": str(structure_file) if structure_file is not None else None,
        "structures": structures,
        "skipped": skipped,
        "plan_label": course.label,
        "fractions": course.fractions,
        "prescription_gy": plan.prescription_gy if plan else None,
        "date": course.date.isoformat() if course.date else None,
        "frame_of_reference_uid": course.dose.frame_of_reference_uid,
        "notes": list(course.notes),
    }


def to_dict(plans: Sequence[tuple[Course, Sequence[DVH | BaseException]]]) -> dict:
    """The plain-data form of DVH results (the JSON document, before serialisation)."""
    return {
        "rtcheck_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "plans": [_plan_dict(course, results) for course, results in plans],
    }


def render_json(plans: Sequence[tuple[Course, Sequence[DVH | BaseException]]]) -> str:
    """DVH results as JSON text (the published shape above), ending with a newline."""
    return json.dumps(to_dict(plans), indent=2, allow_nan=False) + "\n"


CSV_COLUMNS = (
    "plan_uid",
    "plan_label",
    "structure_file",
    "roi_number",
    "name",
    "volume_cc",
    "min_gy",
    "mean_gy",
    "max_gy",
    "d0035cc_gy",
    "outside_grid_cc",
    "status",
    "reason",
)


def render_csv(plans: Sequence[tuple[Course, Sequence[DVH | BaseException]]]) -> str:
    """One row per structure and plan: metrics, or status ``skipped`` with the reason.

    Undefined metrics (e.g. D0.035cc of a structure smaller than 0.035 cc) are empty cells.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for course, results in plans:
        structure_file = course.structure_set.source_file if course.structure_set else None
        for row in structure_rows(course, results):
            values = [
                _num(v)
                for v in (row.volume_cc, row.min_gy, row.mean_gy, row.max_gy, row.d0035cc_gy)
            ]
            writer.writerow(
                [
                    course.plan.sop_instance_uid if course.plan else "",
                    course.label or "",
                    str(structure_file) if structure_file else "",
                    row.roi_number if row.roi_number is not None else "",
                    row.name,
                    *["" if v is None else v for v in values],
                    "" if row.skipped else _num(row.outside_grid_cc),
                    "skipped" if row.skipped else "ok",
                    row.reason or "",
                ]
            )
    return buffer.getvalue()


def records(plans: Sequence[tuple[Course, Sequence[DVH | BaseException]]]) -> list[dict]:
    """One record per structure and plan with the CSV's columns, numbers as numbers (None
    when undefined or for a skipped structure)."""
    out = []
    for course, results in plans:
        structure_file = course.structure_set.source_file if course.structure_set else None
        for row in structure_rows(course, results):
            out.append(
                {
                    "plan_uid": course.plan.sop_instance_uid if course.plan else None,
                    "plan_label": course.label,
                    "structure_file": str(structure_file) if structure_file else None,
                    "roi_number": row.roi_number,
                    "name": row.name,
                    "volume_cc": _num(row.volume_cc),
                    "min_gy": _num(row.min_gy),
                    "mean_gy": _num(row.mean_gy),
                    "max_gy": _num(row.max_gy),
                    "d0035cc_gy": _num(row.d0035cc_gy),
                    "outside_grid_cc": None if row.skipped else _num(row.outside_grid_cc),
                    "status": "skipped" if row.skipped else "ok",
                    "reason": row.reason,
                }
            )
    return out


def _fmt(value: float | None, places: int) -> str:
    return "—" if value is None else f"{value:.{places}f}"


def _course_heading(course: Course) -> list[str]:
    plan = course.plan
    title = f"Plan {course.label or '(no label)'}"
    if plan is not None:
        title += f"  [{plan.sop_instance_uid}]"
    facts = [f"{course.fractions} fraction{'s' if course.fractions != 1 else ''}"]
    if plan is not None and plan.prescription_gy is not None:
        facts.append(f"prescription {plan.prescription_gy:g} Gy")
    elif plan is not None:
        facts.append("prescription not stated in the plan")
    if course.date:
        facts.append(f"date {course.date.isoformat()}")
    lines = [title, "  " + ", ".join(facts)]
    for path in course.dose.source_files:
        lines.append(f"  dose:       {path}")
    if course.structure_set and course.structure_set.source_file:
        lines.append(f"  structures: {course.structure_set.source_file}")
    return lines


def render_table(plans: Sequence[tuple[Course, Sequence[DVH | BaseException]]]) -> str:
    """A readable table per plan: ROI, name, volume (cc), min/mean/max and D0.035cc (Gy)."""
    out: list[str] = []
    headers = ("ROI", "Name", "Volume cc", "Min Gy", "Mean Gy", "Max Gy", "D0.035cc Gy", "Note")
    for index, (course, results) in enumerate(plans):
        if index:
            out.append("")
        out.extend(_course_heading(course))
        out.append("")
        cells = []
        for row in structure_rows(course, results):
            note = row.reason or ""
            if (
                not row.skipped
                and row.volume_cc
                and row.outside_grid_cc > OUTSIDE_NOTE_FRACTION * row.volume_cc
            ):
                note = f"{row.outside_grid_cc:.2f} cc outside the dose grid"
            if not row.skipped and row.d0035cc_gy is None:
                note = note or "smaller than 0.035 cc: D0.035cc undefined"
            cells.append(
                (
                    "" if row.roi_number is None else str(row.roi_number),
                    row.name,
                    _fmt(row.volume_cc, 2),
                    _fmt(row.min_gy, 3),
                    _fmt(row.mean_gy, 3),
                    _fmt(row.max_gy, 3),
                    _fmt(row.d0035cc_gy, 3),
                    note,
                )
            )
        widths = [
            max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
            for i, h in enumerate(headers)
        ]
        left = {1, 7}

        def line(values: Sequence[str], widths: list[int] = widths, left: set[int] = left) -> str:
            """One row: names and notes left-aligned, numbers right-aligned."""
            parts = [
                v.ljust(w) if i in left else v.rjust(w)
                for i, (v, w) in enumerate(zip(values, widths, strict=True))
            ]
            return "  " + "  ".join(parts).rstrip()

        out.append(line(headers))
        out.append(line(["-" * w for w in widths]))
        out.extend(line(c) for c in cells)
        if not cells:
            out.append("  (the structure set has no ROIs)")
        for note in course.notes:
            out.append(f"  note: {note}")
    return "\n".join(out) + "\n"


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv}
