"""Constraint tables: every shipped table validates; each kind of error gives file:line."""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import pytest

from rtcheck.constraints import (
    NON_TABLE_FILES,
    parse_metric,
    parse_table,
    resolve_table,
    select_table,
    shipped_alpha_beta,
    shipped_dir,
    shipped_table,
    shipped_tables,
)
from rtcheck.errors import ConstraintTableError, UsageError
from rtcheck.models import Confidence, DoseQuantity, LimitKind, MetricKind, Unit

TABLE_FILES = sorted(p for p in shipped_dir().glob("*.yaml") if p.name not in NON_TABLE_FILES)


# -- shipped tables ------------------------------------------------------------------------
@pytest.mark.parametrize("path", TABLE_FILES, ids=lambda p: p.name)
def test_every_shipped_table_validates(path):
    table = parse_table(path)
    assert table.constraints
    assert table.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    for c in table.constraints:
        assert c.source and all(table.citation(k.strip()) for k in c.source.split(","))
        assert c.alpha_beta_gy is not None and c.alpha_beta_gy > 0
        assert c.line is not None
    assert "SpinalCord" in table.required_organs


@pytest.mark.parametrize("path", [p for p in TABLE_FILES if "reirradiation" not in p.name], ids=lambda p: p.name)
def test_shipped_trial_tables_say_they_are_not_appendix_1(path):
    table = parse_table(path)
    assert "NOT the STOP-2 Appendix 1" in table.description
    assert table.dose_quantity is DoseQuantity.PHYSICAL


def test_shipped_tables_cover_both_arms():
    keys = {(t.arm, t.fractions, t.prescription_gy) for t in shipped_tables()}
    assert {("control", 1, 8.0), ("sabr", 1, None), ("sabr", 3, None), ("sabr", 5, None), ("sabr", 8, None)} <= keys


def test_alpha_beta_defaults():
    ab = dict(shipped_alpha_beta())
    assert ab["SpinalCord"] == 2 and ab["default"] == 3 and ab["PTV"] == 10
    five = shipped_table("sabr-5fx")
    assert five.alpha_beta_for("SpinalCord") == 2 and five.alpha_beta_for("Esophagus") == 3


def _bed(total, n, ab):
    return total * (1 + total / n / ab)


def test_derived_8fx_limits_are_bed_equivalent_to_5fx_rounded_down():
    """Rows flagged 'derived' equal the 5-fx limit at equal BED (own formula), rounded down."""
    five = {(c.organ, str(c.metric), c.kind): c for c in shipped_table("sabr-5fx").constraints}
    checked = 0
    for c in shipped_table("sabr-8fx").constraints:
        if c.confidence is not Confidence.DERIVED or not c.metric.gives_dose:
            continue
        base = five[(c.organ, str(c.metric), c.kind)]
        target = _bed(base.limit, 5, c.alpha_beta_gy)
        # BED of the 8-fx limit must not exceed the 5-fx BED, and be within the 0.1 Gy rounding
        assert _bed(c.limit, 8, c.alpha_beta_gy) <= target + 1e-9
        assert _bed(c.limit + 0.1, 8, c.alpha_beta_gy) > target
        checked += 1
    assert checked >= 30


def test_derived_8fx_thresholds_are_bed_equivalent_to_5fx():
    """Derived V/CV rows: the dose threshold is converted, the volume limit kept."""
    five = shipped_table("sabr-5fx").constraints
    checked = 0
    for c in shipped_table("sabr-8fx").constraints:
        if c.confidence is not Confidence.DERIVED or c.metric.gives_dose:
            continue
        base = next(
            b for b in five
            if (b.organ, b.metric.kind, b.kind, b.limit, b.limit_unit) == (c.organ, c.metric.kind, c.kind, c.limit, c.limit_unit)
        )
        target = _bed(base.metric.parameter, 5, c.alpha_beta_gy)
        assert _bed(c.metric.parameter, 8, c.alpha_beta_gy) <= target + 1e-9
        assert _bed(c.metric.parameter + 0.1, 8, c.alpha_beta_gy) > target
        checked += 1
    assert checked >= 4


def test_8fx_cord_value_by_hand():
    # 25.3 Gy / 5 fx at α/β 2: BED = 25.3·(1 + 5.06/2) = 89.309 Gy; 8 fx: d = 3.830 Gy → 30.64 Gy
    cord = [c for c in shipped_table("sabr-8fx").constraints if c.organ == "SpinalCord" and str(c.metric) == "D0.035cc"]
    assert cord[0].limit == 30.6


def test_control_table_hard_limits_are_at_least_110_percent_of_8_gy():
    control = shipped_table("stop2-control-8gy-1fx")
    one = shipped_table("sabr-1fx")
    hard = [c for c in control.constraints if c.kind is LimitKind.HARD]
    assert hard and all(c.limit >= 8.8 for c in hard)
    for c in one.constraints:
        if c.kind is LimitKind.HARD and c.limit_unit is Unit.GY and c.metric.gives_dose and c.limit >= 8.8:
            assert any(
                (d.organ, str(d.metric), d.limit) == (c.organ, str(c.metric), c.limit) for d in hard
            ), c.text


def test_conservative_choice_recorded_for_cord_5fx():
    cord = next(c for c in shipped_table("sabr-5fx").constraints if c.organ == "SpinalCord" and c.kind is LimitKind.HARD)
    assert cord.limit == 25.3  # HyTEC, lower than TG-101 / NCCN 30 Gy
    assert "Conflict" in cord.note and "30" in cord.note


# -- metric syntax ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, kind, parameter, relative",
    [
        ("D0.035cc", MetricKind.DOSE_AT_VOLUME, 0.035, False),
        ("D2%", MetricKind.DOSE_AT_VOLUME, 2.0, True),
        ("Dmax", MetricKind.MAX, None, False),
        ("Dmean", MetricKind.MEAN, None, False),
        ("Dmin", MetricKind.MIN, None, False),
        ("V20Gy", MetricKind.VOLUME_AT_DOSE, 20.0, False),
        ("V100%", MetricKind.VOLUME_AT_DOSE, 100.0, True),
        ("CV21Gy", MetricKind.CRITICAL_VOLUME, 21.0, False),
        ("CV13.5Gy", MetricKind.CRITICAL_VOLUME, 13.5, False),
    ],
)
def test_metric_syntax(text, kind, parameter, relative):
    metric = parse_metric(text)
    assert (metric.kind, metric.parameter, metric.relative) == (kind, parameter, relative)


@pytest.mark.parametrize("text", ["D0.035c", "Dx", "V20", "CV", "D5ccc", "Vmax"])
def test_unknown_metrics(text):
    assert parse_metric(text) is None


# -- errors with file:line --------------------------------------------------------------------
ROW = "  - SpinalCord: D0.035cc < 25.3 Gy"


def _copy(tmp_path: Path) -> tuple[Path, list[str], int]:
    lines = (shipped_dir() / "sabr-5fx.yaml").read_text(encoding="utf-8").splitlines()
    index = lines.index(ROW)
    return tmp_path / "site-5fx.yaml", lines, index


def _field_line(lines: list[str], row: int, field: str) -> int:
    """Index of the row's ``field:`` line (the first one after the row's start)."""
    return next(j for j in range(row + 1, len(lines)) if lines[j].startswith(f"    {field}:"))


def _expect_error(path: Path, lines: list[str], line: int, *words: str) -> ConstraintTableError:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConstraintTableError) as info:
        parse_table(path)
    err = info.value
    assert err.line == line, str(err)
    assert str(err).startswith(f"{path}:{line}: "), str(err)
    for word in words:
        assert word in str(err)
    return err


def test_unknown_metric(tmp_path):
    path, lines, i = _copy(tmp_path)
    lines[i] = "  - SpinalCord: D0.035c < 25.3 Gy"
    _expect_error(path, lines, i + 1, "unknown metric 'D0.035c'")


def test_bad_unit(tmp_path):
    path, lines, i = _copy(tmp_path)
    lines[i] = "  - SpinalCord: D0.035cc < 25.3 cc"
    _expect_error(path, lines, i + 1, "unit 'cc' does not fit the dose metric")


def test_volume_metric_with_dose_unit(tmp_path):
    path, lines, i = _copy(tmp_path)
    lines[i] = "  - SpinalCord: V20Gy < 25.3 Gy"
    _expect_error(path, lines, i + 1, "does not fit the volume metric")


def test_ambiguous_gy2_refused(tmp_path):
    path, lines, i = _copy(tmp_path)
    lines[i] = "  - SpinalCord: D0.035cc < 25.3 Gy2"
    _expect_error(path, lines, i + 1, "ambiguous", "Gy BED", "Gy EQD2")


def test_eqd2_limit_in_physical_table(tmp_path):
    path, lines, i = _copy(tmp_path)
    lines[i] = "  - SpinalCord: D0.035cc < 25.3 Gy EQD2"
    _expect_error(path, lines, i + 1, "EQD2", "physical")


def test_unknown_organ(tmp_path):
    path, lines, i = _copy(tmp_path)
    lines[i] = "  - SpinalKord: D0.035cc < 25.3 Gy"
    _expect_error(path, lines, i + 1, "organ 'SpinalKord' is neither a TG-263 name nor an alias")


def test_alias_as_organ_is_accepted_and_canonicalised(tmp_path):
    path, lines, i = _copy(tmp_path)
    lines[i] = "  - Cord: D0.035cc < 25.3 Gy"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert parse_table(path).constraints[0].organ == "SpinalCord"


def test_duplicate_row(tmp_path):
    path, lines, i = _copy(tmp_path)
    end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("  - "))
    block = lines[i:end]
    block[0] = "  - SpinalCord: D0.035cc < 24 Gy"
    lines[end:end] = block
    _expect_error(path, lines, end + 1, "duplicate row", f"line {i + 1}")


def test_missing_source(tmp_path):
    path, lines, i = _copy(tmp_path)
    j = _field_line(lines, i, "source")
    del lines[j]
    _expect_error(path, lines, i + 1, "has no source")


def test_source_not_in_sources_list(tmp_path):
    path, lines, i = _copy(tmp_path)
    j = _field_line(lines, i, "source")
    lines[j] = "    source: Nobody-2020"
    _expect_error(path, lines, j + 1, "source 'Nobody-2020' is not in the table's sources list")


def test_unknown_row_field(tmp_path):
    path, lines, i = _copy(tmp_path)
    lines.insert(i + 1, "    levle: hard")
    _expect_error(path, lines, i + 2, "unknown field 'levle'")


def test_bad_level(tmp_path):
    path, lines, i = _copy(tmp_path)
    j = _field_line(lines, i, "level")
    lines[j] = "    level: mandatory"
    _expect_error(path, lines, j + 1, "level 'mandatory' must be 'hard' or 'goal'")


def test_missing_confidence(tmp_path):
    path, lines, i = _copy(tmp_path)
    j = _field_line(lines, i, "confidence")
    del lines[j]
    _expect_error(path, lines, i + 1, "no confidence flag")


def test_minor_band_on_the_passing_side(tmp_path):
    path, lines, i = _copy(tmp_path)
    lines.insert(i + 1, "    minor: 20 Gy")
    _expect_error(path, lines, i + 2, "must lie beyond the limit")


def test_minor_band_accepted(tmp_path):
    path, lines, i = _copy(tmp_path)
    lines.insert(i + 1, "    minor: 27 Gy")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    row = next(c for c in parse_table(path).constraints if c.line == i + 1)
    assert row.minor_limit == 27.0


# -- min_interval_months (re-irradiation tables) ------------------------------------------------
REIRR_ROW = "  - SpinalCord: D0.035cc < 135.5 Gy BED"


def _reirradiation_copy(tmp_path: Path) -> tuple[Path, list[str], int]:
    lines = (shipped_dir() / "reirradiation.yaml").read_text(encoding="utf-8").splitlines()
    index = lines.index(REIRR_ROW)
    return tmp_path / "site-reirr.yaml", lines, index


def _interval_line(lines: list[str], row: int) -> int:
    return next(j for j in range(row + 1, len(lines)) if lines[j].startswith("    min_interval_months:"))


def test_shipped_reirradiation_intervals_are_structured_fields():
    table = shipped_table("reirradiation-cumulative")
    months = {(c.organ, c.limit, c.kind): c.min_interval_months for c in table.constraints}
    # HyTEC 2021 (thecal sac, >= 5 months) and Nieder 2006 (cord 135.5 Gy BED, >= 6 months)
    assert months[("ThecalSac", 70.0, LimitKind.HARD)] == 5
    assert months[("SpinalCord", 135.5, LimitKind.HARD)] == 6
    assert months[("SpinalCord", 120.0, LimitKind.GOAL)] is None
    nieder = next(c for c in table.constraints if c.limit == 135.5)
    assert nieder.to_dict()["min_interval_months"] == 6


@pytest.mark.parametrize(
    "value, words",
    [
        ("six", ["min_interval_months", "must be a number", "'six'"]),
        ("6 months", ["min_interval_months", "must be a number"]),
        ("0", ["min_interval_months", "must be > 0"]),
        ("-3", ["min_interval_months", "must be > 0"]),
        ("true", ["min_interval_months", "must be a number"]),
    ],
)
def test_bad_min_interval_months(tmp_path, value, words):
    path, lines, i = _reirradiation_copy(tmp_path)
    j = _interval_line(lines, i)
    lines[j] = f"    min_interval_months: {value}"
    _expect_error(path, lines, j + 1, *words)


def test_min_interval_months_refused_in_a_physical_table(tmp_path):
    path, lines, i = _copy(tmp_path)
    lines.insert(i + 1, "    min_interval_months: 6")
    _expect_error(path, lines, i + 2, "min_interval_months", "re-irradiation", "physical")


def test_min_interval_months_accepted_as_a_decimal(tmp_path):
    path, lines, i = _reirradiation_copy(tmp_path)
    lines[_interval_line(lines, i)] = "    min_interval_months: 4.5"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    row = next(c for c in parse_table(path).constraints if c.line == i + 1)
    assert row.min_interval_months == 4.5


def test_unknown_header_field(tmp_path):
    path, lines, _ = _copy(tmp_path)
    j = next(j for j, text in enumerate(lines) if text.startswith("fractions:"))
    lines[j] = "fractoins: 5"
    _expect_error(path, lines, j + 1, "unknown header field 'fractoins'")


def test_duplicate_yaml_key(tmp_path):
    path, lines, _ = _copy(tmp_path)
    j = next(j for j, text in enumerate(lines) if text.startswith("name:"))
    lines.insert(j + 1, "name: again")
    _expect_error(path, lines, j + 2, "key 'name' appears twice")


def test_yaml_syntax_error(tmp_path):
    path, lines, i = _copy(tmp_path)
    lines[i] = "  - SpinalCord: [D0.035cc < 25.3 Gy"
    err = _expect_error(path, lines, i + 2, "YAML syntax error")
    assert err.remedy


def test_missing_required_header(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("name: x\nversion: '1'\nconstraints: []\n", encoding="utf-8")
    with pytest.raises(ConstraintTableError, match="missing header field 'description'"):
        parse_table(path)


def test_minimal_site_table_round_trip(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(
        "name: site-5fx\nversion: '1'\ndescription: site table\narm: sabr\nfractions: 5\n"
        "sources:\n  Site-2026: Local protocol v3\n"
        "constraints:\n"
        "  - Cord: D0.035cc < 24 Gy\n    source: Site-2026\n    confidence: verified\n"
        "  - Lungs: V20Gy < 10 %\n    level: goal\n    source: Site-2026\n    confidence: verified\n"
        "  - Liver: CV21Gy >= 700 cc\n    source: Site-2026\n    confidence: verified\n    alpha_beta: 2.5\n"
        "  - PTV: V100% >= 95 %\n    level: goal\n    source: Site-2026\n    confidence: verified\n",
        encoding="utf-8",
    )
    table = parse_table(path)
    cord, lungs, liver, ptv = table.constraints
    assert (cord.organ, cord.limit, cord.limit_unit, cord.kind) == ("SpinalCord", 24.0, Unit.GY, LimitKind.HARD)
    assert (lungs.metric.kind, lungs.limit_unit, lungs.kind) == (MetricKind.VOLUME_AT_DOSE, Unit.PERCENT, LimitKind.GOAL)
    assert liver.alpha_beta_gy == 2.5 and liver.comparison.value == ">="
    assert ptv.metric.relative and ptv.alpha_beta_gy == 10
    assert [c.line for c in table.constraints] == [9, 12, 16, 20]


# -- selection ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fractions, prescription, arm, expected",
    [
        (1, 8.0, None, "stop2-control-8gy-1fx"),
        (1, 20.0, None, "sabr-1fx"),
        (1, 8.0, "sabr", "sabr-1fx"),
        (1, None, "control", "stop2-control-8gy-1fx"),
        (1, None, "sabr", "sabr-1fx"),
        (3, 30.0, None, "sabr-3fx"),
        (5, 35.0, None, "sabr-5fx"),
        (5, None, None, "sabr-5fx"),
        (8, 60.0, None, "sabr-8fx"),
    ],
)
def test_select_table(fractions, prescription, arm, expected):
    selection = select_table(fractions=fractions, prescription_gy=prescription, arm=arm)
    assert selection.table.name == expected
    if prescription is None:
        assert any("prescription unknown" in n for n in selection.notes)


@pytest.mark.parametrize(
    "fractions, prescription, arm, words",
    [
        (4, 40.0, None, "no constraint table for 4 fraction(s)"),
        (2, None, None, "no constraint table for 2"),
        (5, 35.0, "control", "in the control arm"),
        (1, None, None, "fit several arms"),
        (None, 8.0, None, "fractions is unknown"),
    ],
)
def test_select_table_refusals_are_usage_errors(fractions, prescription, arm, words):
    with pytest.raises(UsageError) as info:
        select_table(fractions=fractions, prescription_gy=prescription, arm=arm)
    assert info.value.exit_code == 2
    assert words in str(info.value)


def test_resolve_table_by_name_and_file(tmp_path):
    assert resolve_table("sabr-3fx").name == "sabr-3fx"
    assert resolve_table(str(shipped_dir() / "sabr-3fx.yaml")).name == "sabr-3fx"
    with pytest.raises(UsageError):
        resolve_table("sabr-4fx")
    with pytest.raises(UsageError):
        resolve_table(str(tmp_path / "missing.yaml"))


def test_reirradiation_table_for_composites():
    table = shipped_table("reirradiation-cumulative")
    assert table.dose_quantity is DoseQuantity.EQD2 and table.fractions is None
    nieder = next(c for c in table.constraints if c.limit_quantity is DoseQuantity.BED and c.kind is LimitKind.HARD)
    assert (nieder.organ, nieder.limit, nieder.alpha_beta_gy) == ("SpinalCord", 135.5, 2.0)
    assert math.isclose(nieder.limit / (1 + 2 / nieder.alpha_beta_gy), 67.75)
    assert any(c.organ == "ThecalSac" and c.limit == 70 for c in table.constraints)


def test_readme_documents_every_row_field():
    readme = (shipped_dir() / "README.md").read_text(encoding="utf-8")
    for word in ("level", "minor", "source", "confidence", "alpha_beta", "min_interval_months", "note", "CV",
                 "Gy EQD2", "Gy BED", "evaluate_on"):
        assert re.search(re.escape(word), readme), word
