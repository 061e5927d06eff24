"""The HTML report and its DVH plots: self-contained, the banner's verdict is the report's,
one plot per checked organ with the constraints drawn at their limits, text escaped; and
`rtcheck dvh --plot`."""

from __future__ import annotations

import dataclasses
import pickle
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import rtcheck
from rtcheck.cli import main
from rtcheck.models import DVHCurve, Level, MetricKind, Unit
from rtcheck.report.html import render_html
from rtcheck.report.plots import LimitMarker, OrganPlot, limit_marker, organ_plots, organ_svg

REPO = Path(__file__).resolve().parents[1]
SABR = REPO / "sample_dicom" / "sabr_3lesions_5fx"
SPINE = REPO / "sample_dicom" / "spine_8gy_1fx"
PRIOR = REPO / "sample_dicom" / "prior_spine_20gy_5fx"
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


@pytest.fixture(scope="module")
def sabr():
    """The failing SABR sample's report, its checks with curves, and its HTML."""
    report = rtcheck.check(SABR)
    results = report.results
    html = render_html(results, report.composites, report.summaries(), run_utc="2026-01-02T03:04:05Z")
    return report, results, html


def test_the_html_is_self_contained(sabr):
    _, _, html = sabr
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, re.IGNORECASE)
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", html)
    assert "@media print" in html


def test_the_banner_says_the_reports_verdict(sabr):
    report, _, html = sabr
    banner = re.search(r'<header class="banner level-(\w+)" id="verdict" data-verdict="(\w+)">\s*<h1>Verdict: (\w+)', html)
    assert banner is not None
    assert report.verdict is Level.FAIL
    assert banner.group(1) == banner.group(2) == banner.group(3) == report.verdict.value


def test_the_failures_come_first_with_value_unit_limit_and_margin(sabr):
    _, _, html = sabr
    failures = html[html.index('id="failures"'):html.index("</div>", html.index('id="failures"'))]
    assert html.index('id="failures"') < html.index("All constraints")
    rows = re.findall(r"<tr>(<td.*?)</tr>", failures)
    assert len(rows) == 2 and all("Esophagus" in r and "FAIL" in r for r in rows)
    assert "37.85 ± 0.82 Gy" in failures and "&lt; 35 Gy" in failures and "-2.85 Gy" in failures


def test_one_plot_per_checked_organ(sabr):
    _, results, html = sabr
    check = results[0]
    organs = list(dict.fromkeys(
        r.constraint.organ for r in check.results if r.structure_name is not None and check.curve_of(r.structure_name)
    ))
    figures = re.findall(r'<figure class="dvh" id="[^"]+" data-organ="([^"]+)">\s*<svg', html)
    assert figures == organs
    assert "Esophagus" in figures and len(figures) == html.count("<svg")


def _marker_positions(svg: str, prefix: str) -> dict[int, tuple[float, float]]:
    """The (x, y) of each limit marker (``<g id="PREFIX-limit-i">`` holding one ``<use>``)."""
    root = ET.fromstring(svg)
    found = {}
    for group in root.iter(f"{SVG}g"):
        match = re.fullmatch(rf"{re.escape(prefix)}-limit-(\d+)", group.get("id", ""))
        uses = list(group.iter(f"{SVG}use"))
        if match and uses:
            found[int(match.group(1))] = (float(uses[0].get("x")), float(uses[0].get("y")))
    return found


def test_markers_sit_at_the_limits_in_the_svg(sabr):
    _, results, _ = sabr
    plots = {p.organ: p for p in organ_plots(results[0])}
    esophagus = plots["Esophagus"]
    expected = {"D0.035cc": (35.0, 0.035), "D5cc": (19.5, 5.0)}
    assert {m.label.split()[0]: (m.dose_gy, m.volume) for m in esophagus.markers} == expected
    for plot in plots.values():
        rendered = organ_svg(plot, id_prefix="t")
        positions = _marker_positions(rendered.svg, "t")
        left, top, right, bottom = rendered.axes_box
        (x0, x1), (y0, y1) = rendered.x_range, rendered.y_range
        for i, marker in enumerate(plot.markers):
            if marker.volume is None:
                continue
            x, y = positions[i]
            assert (x, y) == pytest.approx(rendered.marker_points[i], abs=0.01)
            # back from SVG points to data: the marker is at the limit
            assert x0 + (x - left) / (right - left) * (x1 - x0) == pytest.approx(marker.dose_gy, abs=0.01 * x1)
            assert y0 + (bottom - y) / (bottom - top) * (y1 - y0) == pytest.approx(marker.volume, abs=0.01 * y1)


def _curve(name: str = "Cord", total_cc: float = 20.0) -> DVHCurve:
    dose = np.linspace(0, 30, 31)
    return DVHCurve(name, dose, total_cc * (1 - dose / 30), total_cc)


@pytest.mark.parametrize(
    ("kind", "comparison", "limit", "unit", "parameter", "relative", "expected"),
    [
        (MetricKind.MAX, "<", 25.0, Unit.GY, None, False, (25.0, 0.035, True)),
        (MetricKind.DOSE_AT_VOLUME, "<", 20.0, Unit.GY, 10.0, True, (20.0, 2.0, True)),  # D10% of 20 cc
        (MetricKind.VOLUME_AT_DOSE, "<", 15.0, Unit.PERCENT, 20.0, False, (20.0, 3.0, True)),  # V20Gy < 15 %
        (MetricKind.VOLUME_AT_DOSE, "<", 4.0, Unit.CC, 50.0, True, (20.0, 4.0, True)),  # V50% of 40 Gy Rx
        (MetricKind.CRITICAL_VOLUME, ">=", 15.0, Unit.CC, 12.0, False, (12.0, 5.0, True)),  # spared 15 of 20 cc
        (MetricKind.DOSE_AT_VOLUME, "<", 50.0, Unit.PERCENT, 1.0, False, (20.0, 1.0, True)),  # D1cc < 50 % Rx
        (MetricKind.MEAN, "<", 8.0, Unit.GY, None, False, (8.0, None, True)),
    ],
)
def test_each_kind_of_limit_is_placed_where_the_docstring_says(kind, comparison, limit, unit, parameter, relative, expected):
    from rtcheck.models import Comparison, Constraint, ConstraintResult, Metric

    metric = Metric(kind, parameter, relative, text=f"{kind.value}{parameter or ''}")
    row = ConstraintResult(Constraint("Cord", metric, Comparison(comparison), limit, unit), Level.PASS, "Cord")
    marker = limit_marker(row, _curve(), Unit.CC, prescription_gy=40.0, dose_quantity="physical")
    assert marker is not None
    assert (marker.dose_gy, marker.volume, marker.upper) == pytest.approx(expected)


def test_a_limit_relative_to_an_unknown_prescription_has_no_marker():
    from rtcheck.models import Comparison, Constraint, ConstraintResult, Metric

    metric = Metric(MetricKind.DOSE_AT_VOLUME, 1.0, text="D1cc")
    row = ConstraintResult(Constraint("Cord", metric, Comparison.LT, 50.0, Unit.PERCENT), Level.PASS, "Cord")
    assert limit_marker(row, _curve(), Unit.CC, prescription_gy=None, dose_quantity="physical") is None


def test_names_are_escaped(sabr):
    report, results, _ = sabr
    check = results[0]
    odd = 'Eso<phagus> & "co"'
    rows = tuple(dataclasses.replace(r, structure_name=odd) if r.structure_name == "Esophagus" else r
                 for r in check.results)
    curves = tuple(dataclasses.replace(c, structure_name=odd) if c.structure_name == "Esophagus" else c
                   for c in check.dvh_curves)
    odd_check = dataclasses.replace(check, results=rows, dvh_curves=curves, plan_label="<b>plan</b>")
    html = render_html([odd_check], None, report.summaries())
    assert odd not in html and "<b>plan</b>" not in html
    assert "Eso&lt;phagus&gt; &amp; &quot;co&quot;" in html and "&lt;b&gt;plan&lt;/b&gt;" in html
    ET.fromstring(re.search(r"<svg.*?</svg>", html, re.S).group(0))  # the SVGs stay well-formed


def test_the_html_is_deterministic_apart_from_the_time(sabr):
    report, results, html = sabr
    again = render_html(results, report.composites, report.summaries(), run_utc="2026-01-02T03:04:05Z")
    assert again == html
    assert "dc:date" not in html and "Matplotlib v" not in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # unique over all the SVGs of the page


def test_a_check_keeps_the_curve_of_each_structure_and_union_its_rows_used():
    check = rtcheck.check(SPINE).results[0]
    used = list(dict.fromkeys(r.structure_name for r in check.results if r.value is not None))
    assert [c.structure_name for c in check.dvh_curves] == used
    assert "Kidney Lt + Kidney Rt" in used  # the paired organ's union, as its rows name it
    cord = check.curve_of("Cord")
    assert cord is not None and cord.dose_gy[0] == 0 and np.all(np.diff(cord.volume_cc) <= 0)
    assert cord.volume_cc[0] == pytest.approx(cord.total_volume_cc, rel=0.01)


def test_curves_stay_out_of_the_json_and_survive_pickling(sabr):
    _, results, _ = sabr
    check = results[0]
    assert check.dvh_curves
    assert "dvh_curves" not in check.to_dict()
    back = pickle.loads(pickle.dumps(check))
    assert [c.structure_name for c in back.dvh_curves] == [c.structure_name for c in check.dvh_curves]
    assert np.array_equal(back.dvh_curves[0].volume_cc, check.dvh_curves[0].volume_cc)
    assert not back.dvh_curves[0].dose_gy.flags.writeable


def test_the_reirradiation_breakdown_is_shown_per_course_with_and_without_factor():
    report = rtcheck.check(SPINE, priors=[PRIOR])
    html = render_html(report.results, report.composites, report.summaries())
    assert "Re-irradiation composite (EQD2)" in html
    assert "With factor" in html and "Without factor" in html
    for course in report.composites[0].priors:
        assert course.label in html


def test_an_organ_plot_without_markers_still_draws():
    plot = OrganPlot("Cord", Unit.PERCENT, "physical", (_curve(),), ())
    rendered = organ_svg(plot, id_prefix="p")
    assert rendered.svg.startswith("<svg") and rendered.marker_points == ()


def test_check_format_html_writes_the_report(tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["check", str(SABR), "--format", "html", "-o", str(out)])
    assert result.exit_code == 1, result.output
    html = out.read_text(encoding="utf-8")
    assert 'data-verdict="FAIL"' in html and "Esophagus" in html


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_dvh_plot_writes_one_figure(tmp_path, suffix):
    out = tmp_path / f"dvh{suffix}"
    result = CliRunner().invoke(main, ["dvh", str(SPINE), "--plot", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        root = ET.fromstring(data)
        assert root.tag == f"{SVG}svg"
        assert b">Cord<" in data and b">Esophagus<" in data  # the legend names each structure


def test_dvh_plot_refuses_the_input_folder_and_other_formats(tmp_path):
    inside = CliRunner().invoke(main, ["dvh", str(SPINE), "--plot", str(SPINE / "dvh.png")])
    assert inside.exit_code == 2 and not (SPINE / "dvh.png").exists()
    pdf = CliRunner().invoke(main, ["dvh", str(SPINE), "--plot", str(tmp_path / "dvh.pdf")])
    assert pdf.exit_code == 2 and "FILE.png or FILE.svg" in pdf.output


def test_a_marker_is_plain_data():
    marker = LimitMarker("Cord", "Dmax < 25 Gy", 25.0, 0.035, True, Level.FAIL)
    assert pickle.loads(pickle.dumps(marker)) == marker


def test_a_plan_that_could_not_be_checked_has_its_section_and_makes_the_verdict(sabr):
    from rtcheck.errors import InputError
    from rtcheck.report.summary import PlanSummary

    report, results, _ = sabr
    broken = PlanSummary(
        patient_id="P2", plan_label="Broken <plan>", plan_uid="1.2.3", fractions=5, table=None,
        verdict=Level.NOT_EVALUATED, error=InputError("RTDOSE has no DoseGridScaling", remedy="re-export the dose"),
    )
    html = render_html(results, None, (*report.summaries(), broken))
    assert 'data-verdict="FAIL"' in html and "2 plans, 1 of them could not be checked" in html
    assert '<section class="plan not-checked" id="plan-2">' in html
    assert "Broken &lt;plan&gt;: not checked: RTDOSE has no DoseGridScaling" in html
    assert "SABR 35Gy5F: Esophagus D0.035cc: FAIL" in html  # several plans: each named in the banner


def test_drawing_leaves_the_callers_matplotlib_settings_alone():
    import matplotlib

    before = (matplotlib.get_backend(), dict(matplotlib.rcParams))
    organ_svg(OrganPlot("Cord", Unit.CC, "physical", (_curve(),), ()), id_prefix="q")
    assert (matplotlib.get_backend(), dict(matplotlib.rcParams)) == before
