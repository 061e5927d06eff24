"""A checked structure that reaches outside the body contour is reported (planning systems
usually leave that part out of its DVH; rtcheck keeps it), with its volume outside from
closed-form geometry."""

from __future__ import annotations

import numpy as np
import pytest

from rtcheck.constraints import select_table, shipped_names
from rtcheck.evaluate import check_course, external_position
from rtcheck.models import Contour, Course, DoseGrid, NameMatch, Structure, StructureSet

PLANES = np.arange(-4.5, 4.6, 1.0)  # slabs −5 … 5 mm with half-slice end caps: 10 mm


def box(x0, x1, y0, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)


def prism(number, name, polygon, interpreted=None):
    return Structure(number, name, tuple(Contour(float(z), polygon) for z in PLANES), interpreted)


def course_with(*structures):
    c = -19.5 + np.arange(40.0)  # 1 mm voxels, edges on whole mm
    dose = DoseGrid(np.full((40, 40, 40), 2.0), c, c, c)
    return Course(dose, fractions=1, structure_set=StructureSet("1.2.3", None, structures))


def table_8gy():
    return select_table(fractions=1, prescription_gy=8.0).table


def test_part_of_a_checked_organ_outside_the_body_is_reported_with_its_volume():
    body = prism(1, "Outline", box(-10, 10, -10, 10), "EXTERNAL")
    # x 6 … 12 mm: 2 × 6 × 10 mm = 0.12 cc of its 0.36 cc beyond the body's x = 10 mm
    cord = prism(2, "SpinalCord", box(6, 12, -3, 3))
    esophagus = prism(3, "Esophagus", box(-5, 0, -3, 3))  # inside
    result = check_course(course_with(body, cord, esophagus), table_8gy(), shipped_names())
    notes = [n for n in result.notes if "outside the body contour" in n]
    assert len(notes) == 1
    assert notes[0].startswith("SpinalCord: 0.12 cc (33.3 %) lies outside the body contour 'Outline'")


def test_organs_inside_the_body_or_drawn_to_its_edge_give_no_note():
    body = prism(1, "BODY", box(-10, 10, -10, 10))  # found by its name (TG-263 Body)
    cord = prism(2, "SpinalCord", box(4, 10, -3, 3))  # its edge is the body's edge
    result = check_course(course_with(body, cord), table_8gy(), shipped_names())
    assert not [n for n in result.notes if "outside the body contour" in n]


def test_without_a_body_contour_nothing_is_looked_for():
    cord = prism(2, "SpinalCord", box(6, 12, -3, 3))
    result = check_course(course_with(cord), table_8gy(), shipped_names())
    assert not [n for n in result.notes if "outside" in n]


def test_the_body_is_found_by_interpreted_type_first_then_by_name():
    from rtcheck.models import MatchKind

    a, b = prism(1, "BODY", box(0, 1, 0, 1)), prism(2, "Skin_Outline_CT", box(0, 1, 0, 1), "external")
    matches = [NameMatch("BODY", "Body", MatchKind.ORGAN, "")]
    assert external_position([a, b], matches) == 1
    assert external_position([a], matches) == 0
    assert external_position([prism(3, "Heart", box(0, 1, 0, 1))], []) is None


@pytest.mark.parametrize("fraction, noted", [(0.03, True), (0.035, False)])
def test_the_threshold_is_a_share_of_the_volume(fraction, noted, monkeypatch):
    import rtcheck.evaluate.organs as organs

    body = prism(1, "Outline", box(-10, 10, -10, 10), "EXTERNAL")
    # x 0 … 10⅓ mm: one column of sub-samples (at 10⅙ mm, ⅓ mm apart) beyond the body's
    # x = 10 mm, i.e. ⅓ × 20 × 10 mm³ of (10⅓) × 20 × 10 mm³ = 3.2 %
    cord = prism(2, "SpinalCord", box(0, 10 + 1 / 3, -10, 10))
    monkeypatch.setattr(organs, "OUTSIDE_EXTERNAL_MIN_FRACTION", fraction)
    result = check_course(course_with(body, cord), table_8gy(), shipped_names())
    notes = [n for n in result.notes if "outside the body contour" in n]
    assert bool(notes) is noted
    if noted:
        assert notes[0].startswith("SpinalCord: 0.0667 cc (3.2 %)")


def test_composite_checks_note_organs_outside_the_body_too(tmp_path):
    import dataclasses

    from test_reirradiation import CURRENT_DATE, PRIOR_DATE, synthetic_plan, tables, uniform_course

    from rtcheck.evaluate.reirradiation import check_reirradiation
    from rtcheck.models.priors import PriorCourse

    current = synthetic_plan(24.0, 3, CURRENT_DATE)  # 'Cord': x −18 … −2, y −8 … 8, z −9 … 9 mm
    # the body starts at x = −15 mm (between sub-samples of the 2 mm grid): 3 × 16 × 18 mm³
    # of the cord (0.864 cc of 4.608 cc) lies outside it
    body = Structure(
        9, "BODY", tuple(Contour(float(z), box(-15, 30, -30, 30)) for z in np.arange(-8.0, 8.1, 2.0)), "EXTERNAL"
    )
    ss = current.structure_set
    current = dataclasses.replace(current, structure_set=dataclasses.replace(ss, structures=(*ss.structures, body)))
    cumulative, _ = tables(tmp_path)
    prior = PriorCourse("RT 2025", 10, PRIOR_DATE, "test", course=uniform_course(30, 10))
    result = check_reirradiation(current, [prior], names=shipped_names(), cumulative=cumulative)
    notes = [w for w in result.warnings if "outside the body contour 'BODY'" in w]
    assert len(notes) == 1 and notes[0].startswith("Cord: ")
    volume = float(notes[0].split(": ")[1].split(" cc")[0])
    assert volume == pytest.approx(0.864, rel=0.02)  # ties on the cord's own edges split evenly


def test_sides_of_a_paired_organ_are_looked_at_one_by_one():
    # 8 Gy table: Kidneys (a union of the sides, no Kidneys structure) and each side's own
    # rows; the left side reaches 2 mm beyond the body's x = −10 mm: 2 × 6 × 10 mm³ of 0.36 cc
    body = prism(1, "BODY", box(-10, 10, -10, 10), "EXTERNAL")
    left = prism(2, "Kidney_L", box(-12, -6, -3, 3))
    right = prism(3, "Kidney_R", box(4, 10, -3, 3))
    result = check_course(course_with(body, left, right), table_8gy(), shipped_names())
    assert any(r.structure_name == "Kidney_L + Kidney_R" for r in result.results)
    notes = [n for n in result.notes if "outside the body contour" in n]
    assert len(notes) == 1 and notes[0].startswith("Kidney_L: 0.12 cc (33.3 %)")


def test_a_body_contour_that_cannot_be_used_is_said_not_skipped_silently():
    body = Structure(1, "BODY", (), "EXTERNAL")  # declared, no contours
    cord = prism(2, "SpinalCord", box(6, 12, -3, 3))
    result = check_course(course_with(body, cord), table_8gy(), shipped_names())
    assert [n for n in result.notes if "body contour" in n] == [
        "the body contour 'BODY' cannot be rasterised (ROI 1 'BODY' has no contours): structures "
        "reaching outside the patient were not looked for"
    ]
