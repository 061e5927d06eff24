"""Structure names: real-world spellings → TG-263 names, by explicit rules only."""

from __future__ import annotations

import hashlib

import pytest
from conftest import SHARED

from rtcheck.constraints import load_alias_file, shipped_dir, shipped_names
from rtcheck.constraints.names import assign_organ, load_tg263, normalize
from rtcheck.errors import ConstraintTableError
from rtcheck.models import MatchKind


@pytest.mark.parametrize(
    "spelling, canonical, kind",
    [
        # spinal cord
        ("SpinalCord", "SpinalCord", MatchKind.ORGAN),
        ("Cord", "SpinalCord", MatchKind.ORGAN),
        ("spinal cord", "SpinalCord", MatchKind.ORGAN),
        ("SPINAL_CORD", "SpinalCord", MatchKind.ORGAN),
        ("SC", "SpinalCord", MatchKind.ORGAN),
        ("Spinal-Cord", "SpinalCord", MatchKind.ORGAN),
        ("  Cord ", "SpinalCord", MatchKind.ORGAN),
        # PRVs are never the organ
        ("SpinalCord_PRV", "SpinalCord_PRV", MatchKind.PRV),
        ("SpinalCord_PRV5", "SpinalCord_PRV", MatchKind.PRV),
        ("SpinalCord_PRV05", "SpinalCord_PRV", MatchKind.PRV),
        ("Cord PRV 5mm", "SpinalCord_PRV", MatchKind.PRV),
        ("Cord+5mm", "SpinalCord_PRV", MatchKind.PRV),
        ("PRV_Cord", "SpinalCord_PRV", MatchKind.PRV),
        ("Esophagus_PRV", "Esophagus_PRV", MatchKind.PRV),
        # lungs
        ("Lungs", "Lungs", MatchKind.ORGAN),
        ("Lung_Both", "Lungs", MatchKind.ORGAN),
        ("Lung Total", "Lungs", MatchKind.ORGAN),
        ("Total Lung", "Lungs", MatchKind.ORGAN),
        ("Lungs-GTV", "Lungs-GTV", MatchKind.DERIVED),
        ("Lung_Total-GTV", "Lungs-GTV", MatchKind.DERIVED),
        ("Lung Total - GTV", "Lungs-GTV", MatchKind.DERIVED),
        ("Lungs minus ITV", "Lungs-ITV", MatchKind.DERIVED),
        ("Lung-IGTV", "Lungs-ITV", MatchKind.DERIVED),
        ("Lung_L", "Lung_L", MatchKind.ORGAN),
        ("Left Lung", "Lung_L", MatchKind.ORGAN),
        ("Lung Rt", "Lung_R", MatchKind.ORGAN),
        # kidneys and laterality
        ("Kidney Lt", "Kidney_L", MatchKind.ORGAN),
        ("L Kidney", "Kidney_L", MatchKind.ORGAN),
        ("Lt Kidney", "Kidney_L", MatchKind.ORGAN),
        ("Kidney_Left", "Kidney_L", MatchKind.ORGAN),
        ("kidney r", "Kidney_R", MatchKind.ORGAN),
        ("Right Kidney", "Kidney_R", MatchKind.ORGAN),
        ("Kidneys", "Kidneys", MatchKind.ORGAN),
        ("Kidney_Both", "Kidneys", MatchKind.ORGAN),
        ("Brachial Plexus L", "BrachialPlex_L", MatchKind.ORGAN),
        ("Femoral Head Rt", "Femur_Head_R", MatchKind.ORGAN),
        # gut
        ("Esophagus", "Esophagus", MatchKind.ORGAN),
        ("Oesophagus", "Esophagus", MatchKind.ORGAN),
        ("Eso", "Esophagus", MatchKind.ORGAN),
        ("SmallBowel", "Bowel_Small", MatchKind.ORGAN),
        ("Small Bowel", "Bowel_Small", MatchKind.ORGAN),
        ("Bowel", "Bowel", MatchKind.ORGAN),  # TG-263's own name: whole bowel, not small bowel
        ("Great Vessels", "GreatVes", MatchKind.ORGAN),
        ("Ribs", "Rib", MatchKind.ORGAN),
        ("Chest Wall", "Chestwall", MatchKind.ORGAN),
        # targets
        ("PTV", "PTV", MatchKind.TARGET),
        ("PTV_35Gy", "PTV", MatchKind.TARGET),
        ("GTV1", "GTV", MatchKind.TARGET),
        ("ITV", "ITV", MatchKind.TARGET),
    ],
)
def test_real_world_spellings(spelling, canonical, kind):
    match = shipped_names().match(spelling)
    assert (match.canonical, match.kind) == (canonical, kind), match.rule


@pytest.mark.parametrize("spelling", ["z_opt_ring", "Couch", "Cordelia", "PTVeval_ring", "Lungo", "Kidneyish L"])
def test_unknown_names_stay_unmatched(spelling):
    match = shipped_names().match(spelling)
    assert match.kind is MatchKind.UNMATCHED and match.canonical is None


def test_normalize_ignores_case_and_separators_only():
    assert normalize(" Spinal_Cord ") == normalize("spinal-cord") == normalize("SPINAL.CORD") == "spinalcord"
    assert normalize("Lungs-GTV") != normalize("Lungs")


def test_tg263_copy_is_the_reference_file():
    path = shipped_dir() / "tg263_structures.csv"
    entries = load_tg263(path)
    assert len(entries) == 717
    names = {e.name for e in entries}
    for organ in ("SpinalCord", "Lungs", "Kidney_L", "Bowel_Small", "Esophagus", "Lungs-GTV", "SpinalCord_PRV"):
        assert organ in names
    if SHARED is not None:
        reference = SHARED / "reference" / "tg263" / "tg263_structures.csv"
        if reference.is_file():
            assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(reference.read_bytes()).digest()


def test_assignment_prefers_listed_surrogates_in_order():
    names = shipped_names()
    matches = [names.match(n) for n in ("Bowel", "PTV")]
    a = assign_organ(names, "Bowel_Small", matches)
    assert a.structure_name == "Bowel" and "evaluated on Bowel" in a.note


def test_site_alias_file_extends_and_wins(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("name: site\naliases:\n  SpinalCord: [Medulla_X, Myelon_Site]\n", encoding="utf-8")
    names = load_alias_file(site, base=shipped_names())
    assert names.match("Medulla_X").canonical == "SpinalCord"
    assert names.match("Cord").canonical == "SpinalCord"  # shipped aliases kept


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("aliases:\n  SpinalCordd: [Cord2]\n", 2, "not a TG-263 name"),
        ("aliases:\n  Bowel_Small:\n    - Bowel\n", 3, "itself the TG-263 name Bowel"),
        ("aliases:\n  SpinalCord: [Foo]\n  Esophagus: [foo]\n", 3, "maps to both"),
        ("aliasses:\n  SpinalCord: [Foo]\n", 1, "unknown field"),
        ("lateral_stems:\n  Heart: [Hrt]\n", 2, "Heart_L is not a TG-263 name"),
        ("aliases:\n  SpinalCord: [Foo\n", 3, "YAML syntax error"),
    ],
)
def test_alias_file_errors_have_file_and_line(tmp_path, text, line, words):
    path = tmp_path / "bad_aliases.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConstraintTableError) as info:
        load_alias_file(path, base=shipped_names())
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert words in str(info.value)
