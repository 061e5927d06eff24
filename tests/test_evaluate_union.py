"""Paired organs evaluated on the union of their sides (alias file ``compositions``).

The DVHs are hand-built ramps (see tests/test_evaluate.py); the union's DVH comes from a
stand-in callback so that these tests check which structures are united and how the rows
are reported. The union geometry itself is tested in tests/test_union.py, and on the sample
plan in tests/test_cli_check.py.
"""

from __future__ import annotations

import pytest
from test_evaluate import ramp, row, table

from rtcheck.constraints import load_alias_file, shipped_names
from rtcheck.errors import ConstraintTableError, GeometryError
from rtcheck.evaluate import evaluate
from rtcheck.models import Level


class UnionStub:
    """Records the structure positions asked for; returns a ramp of the summed volume."""

    def __init__(self, pairs, result=None):
        self.pairs, self.calls, self.result = pairs, [], result

    def __call__(self, positions):
        self.calls.append(positions)
        if self.result is not None:
            return self.result
        volume = sum(self.pairs[i][1].total_volume_cc for i in positions)
        return ramp(" + ".join(self.pairs[i][0] for i in positions), volume_cc=volume)


def run(rows, pairs, result=None, required=()):
    stub = UnionStub(pairs, result)
    results, _, missing = evaluate(
        table(*rows, required=required), pairs, names=shipped_names(), union_dvh=stub
    )
    return results, stub, missing


KIDNEYS_CV = row("CV8.4Gy >= 100 cc", organ="Kidneys")


def test_both_sides_present_the_union_is_evaluated_and_named():
    pairs = [
        ("Cord", ramp("Cord")),
        ("Kidney Lt", ramp("Kidney Lt", volume_cc=150)),
        ("Kidney Rt", ramp("Kidney Rt", volume_cc=140)),
    ]
    results, stub, _ = run([KIDNEYS_CV], pairs)
    assert stub.calls == [(1, 2)]
    r = results[0]
    assert r.structure_name == "Kidney Lt + Kidney Rt"
    assert r.level is Level.PASS
    # ramp 0–20 Gy over 290 cc: 8.4/20 of it is below 8.4 Gy
    assert r.value == pytest.approx(290 * 8.4 / 20, rel=0.01)
    assert "Kidneys = union of Kidney Lt + Kidney Rt" in r.reason


def test_one_side_missing_is_not_evaluated_never_the_side_alone():
    pairs = [("Kidney Lt", ramp("Kidney Lt", volume_cc=150))]
    results, stub, _ = run([KIDNEYS_CV], pairs)
    assert stub.calls == []
    r = results[0]
    assert r.level is Level.NOT_EVALUATED and r.value is None and r.structure_name is None
    assert "Kidney_L (Kidney Lt)" in r.reason and "Kidney_R is missing" in r.reason


def test_a_whole_organ_structure_wins_over_the_union():
    pairs = [
        ("Kidney Lt", ramp("Kidney Lt")),
        ("Kidney Rt", ramp("Kidney Rt")),
        ("Kidneys", ramp("Kidneys", volume_cc=300)),
    ]
    results, stub, _ = run([KIDNEYS_CV], pairs)
    assert stub.calls == [] and results[0].structure_name == "Kidneys"


def test_sides_minus_target_are_preferred_as_lungs_minus_target():
    lungs = row("V20Gy < 10 %", organ="Lungs")
    pairs = [
        ("Lung Lt", ramp("Lung Lt")),
        ("Lung Rt", ramp("Lung Rt")),
        ("Lung Lt-GTV", ramp("Lung Lt-GTV")),
        ("Lung Rt-GTV", ramp("Lung Rt-GTV")),
    ]
    results, stub, _ = run([lungs], pairs)
    assert stub.calls == [(2, 3)]
    assert "evaluated on Lungs-GTV = union of Lung Lt-GTV + Lung Rt-GTV" in results[0].reason
    # one side minus target only: the sides are not mixed; the whole sides are used
    results, stub, _ = run([lungs], pairs[:3])
    assert stub.calls == [(0, 1)]
    assert "Lungs = union of Lung Lt + Lung Rt" in results[0].reason


def test_a_side_that_cannot_be_used_makes_the_row_not_evaluated_and_counted():
    pairs = [("Kidney Lt", ramp("Kidney Lt")), ("Kidney Rt", ramp("Kidney Rt"))]
    results, _, _ = run(
        [KIDNEYS_CV], pairs, result=GeometryError("ROI 'Kidney Rt': contours cross")
    )
    r = results[0]
    assert r.level is Level.NOT_EVALUATED and r.structure_name == "Kidney Lt + Kidney Rt"
    assert "contours cross" in r.reason


def test_two_structures_for_one_side_each_combination_is_checked():
    pairs = [
        ("Kidney Lt", ramp("Kidney Lt")),
        ("Kidney_R", ramp("Kidney_R")),
        ("Rt Kidney", ramp("Rt Kidney")),
    ]
    results, stub, _ = run([KIDNEYS_CV], pairs)
    assert sorted(stub.calls) == [(0, 1), (0, 2)]
    assert len(results) == 2 and all("2 combinations" in r.reason for r in results)


def test_required_organ_formed_by_a_union_is_not_missing():
    pairs = [("Kidney Lt", ramp("Kidney Lt")), ("Kidney Rt", ramp("Kidney Rt"))]
    _, _, missing = run([KIDNEYS_CV], pairs, required=("Kidneys",))
    assert missing == ()
    _, _, missing = run([KIDNEYS_CV], pairs[:1], required=("Kidneys",))
    assert missing == ("Kidneys",)


def test_without_a_union_calculator_the_row_says_how_to_check_it():
    pairs = {"Kidney Lt": ramp("Kidney Lt"), "Kidney Rt": ramp("Kidney Rt")}
    results, _, _ = evaluate(table(KIDNEYS_CV, required=()), pairs, names=shipped_names())
    assert results[0].level is Level.NOT_EVALUATED
    assert "create their union as Kidneys" in results[0].reason


def test_shipped_compositions():
    names = shipped_names()
    assert dict(names.compositions_for("Kidneys"))["Kidneys"] == ("Kidney_L", "Kidney_R")
    assert dict(names.compositions_for("Lungs"))["Lungs-GTV"] == ("Lung_L-GTV", "Lung_R-GTV")
    assert names.compositions_for("SpinalCord") == ()


@pytest.mark.parametrize(
    "body, line, words",
    [
        ("compositions:\n  Kidneys: [Kidney_L]\n", 3, "at least two parts"),
        ("compositions:\n  Kidneys: [Kidney_L, Kidney_L]\n", 3, "listed twice"),
        (
            "compositions:\n  Kidneys:\n    - Kidney_L\n    - Kidney_Left_Side\n",
            5,
            "not a TG-263 name",
        ),
        ("compositions:\n  Both_Kidneys_X: [Kidney_L, Kidney_R]\n", 3, "not a TG-263 name"),
    ],
)
def test_composition_errors_give_file_and_line(tmp_path, body, line, words):
    path = tmp_path / "site.yaml"
    path.write_text("name: site\n" + body, encoding="utf-8")
    with pytest.raises(ConstraintTableError) as err:
        load_alias_file(path, base=shipped_names())
    assert err.value.line == line and words in str(err.value)
    assert str(path) in str(err.value) or err.value.path == path


def test_site_composition_extends_the_shipped_ones(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(
        "name: site\ncompositions:\n  Hippocampi: [Hippocampus_L, Hippocampus_R]\n",
        encoding="utf-8",
    )
    names = load_alias_file(path, base=shipped_names())
    assert names.compositions["Hippocampi"] == ("Hippocampus_L", "Hippocampus_R")
    assert names.compositions["Kidneys"] == ("Kidney_L", "Kidney_R")
