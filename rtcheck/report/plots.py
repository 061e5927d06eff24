"""DVH plots: each checked organ's cumulative DVH with its constraints drawn at their limits,
and one figure of every structure's DVH (``rtcheck dvh --plot``).

Two steps, so that what is drawn can be checked without reading pictures:

* :func:`organ_plots` turns a :class:`~rtcheck.models.CheckResult` into plain data — per
  organ, the curves of the structures its rows used (kept by the check, nothing is computed
  here) and one :class:`LimitMarker` per row at its limit;
* :func:`organ_svg` and :func:`dvh_figure` draw that data with matplotlib.

Where a constraint sits on the cumulative DVH (dose on x in Gy, volume on y in cc or % of
the structure):

* a dose limit at a volume, D\\ *x* < *L*: the point (*L* Gy, *x*); Dmax (D0.035cc) at
  0.035 cc, Dmin at the structure's volume less 0.035 cc; a limit in % of the prescription
  is drawn at that many Gy;
* a volume limit at a dose, V\\ *x* < *L*: the point (*x* Gy, *L*);
* a spared-volume limit, CV\\ *x* > *L* (volume *below* x Gy): the point (*x* Gy, volume
  − *L*), where the cumulative DVH must stay at or under;
* a mean-dose limit has no point on the curve: a vertical line at *L* Gy.

An upper limit (<, <=) is a downward triangle, a lower limit an upward one; the marker has
the colour of the row's level. The SVG is deterministic: matplotlib is imported inside the
drawing functions (``rtcheck --help`` does not load it), on an Agg canvas without pyplot
(the caller's backend and settings are left alone), with a fixed ``svg.hashsalt`` and no
date in the metadata, and element ids are prefixed so that several
plots share one HTML page.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from ..models import (
    DVH,
    NEAR_MAX_VOLUME_CC,
    CheckResult,
    ConstraintResult,
    Course,
    DVHCurve,
    Level,
    MetricKind,
    Unit,
)

#: Colours of the levels, shared by the plots and the HTML report.
LEVEL_COLOURS = {
    Level.PASS: "#2e7d32",
    Level.NOT_EVALUATED: "#6a1b9a",
    Level.INDETERMINATE: "#b26a00",
    Level.MINOR: "#e65100",
    Level.MAJOR: "#c62828",
    Level.FAIL: "#8e0000",
}

#: Size of an organ's plot (inches at 72 points each: the SVG's width and height in points).
ORGAN_FIGSIZE = (6.4, 3.8)
#: Size of the figure of every structure (``rtcheck dvh --plot``), inches; PNG at 150 dpi.
ALL_FIGSIZE = (9.0, 6.0)
PNG_DPI = 150


@dataclass(frozen=True)
class LimitMarker:
    """One constraint row drawn at its limit on an organ's DVH plot.

    ``dose_gy`` is the x position (Gy); ``volume`` the y position in the plot's volume unit
    (cc or %), None for a vertical line (a mean-dose limit). ``upper`` is True for a limit
    the curve must stay under or left of (<, <=).
    """

    structure_name: str
    label: str
    dose_gy: float
    volume: float | None
    upper: bool
    level: Level


@dataclass(frozen=True)
class OrganPlot:
    """One organ's plot: the curves of the structures its rows used, and its limit markers.

    ``volume_unit`` is the y axis (:attr:`Unit.CC` or :attr:`Unit.PERCENT` of each
    structure's volume); ``dose_quantity`` names the x axis's dose (physical, EQD2, BED).
    """

    organ: str
    volume_unit: Unit
    dose_quantity: str
    curves: tuple[DVHCurve, ...]
    markers: tuple[LimitMarker, ...]


class RenderedPlot(NamedTuple):
    """An organ's plot as inline SVG text, with where its markers and axes landed.

    ``marker_points`` are the (x, y) SVG user-space positions (points, y downward) of the
    markers that are points, in :attr:`OrganPlot.markers` order (a vertical line has none:
    None). ``axes_box`` is the plotting area (left, top, right, bottom) in the same space;
    ``x_range`` (Gy) and ``y_range`` (the plot's volume unit) are its data limits.
    """

    svg: str
    marker_points: tuple[tuple[float, float] | None, ...]
    axes_box: tuple[float, float, float, float]
    x_range: tuple[float, float]
    y_range: tuple[float, float]


def _volume_unit(rows: Sequence[ConstraintResult]) -> Unit:
    """% when every volume that the organ's rows name is a percentage, else cc."""
    percent_only = True
    any_volume = False
    for r in rows:
        metric = r.constraint.metric
        if metric.kind is MetricKind.DOSE_AT_VOLUME:
            any_volume = True
            percent_only &= metric.relative
        elif metric.kind in (MetricKind.VOLUME_AT_DOSE, MetricKind.CRITICAL_VOLUME):
            any_volume = True
            percent_only &= r.constraint.limit_unit is Unit.PERCENT
    return Unit.PERCENT if any_volume and percent_only else Unit.CC


def _in_unit(volume_cc: float, curve: DVHCurve, unit: Unit) -> float | None:
    """A volume (cc) in the plot's unit (None in % for a structure without volume)."""
    if unit is Unit.CC:
        return volume_cc
    return 100.0 * volume_cc / curve.total_volume_cc if curve.total_volume_cc > 0 else None


def _dose_gy(value: float, relative: bool, prescription_gy: float | None) -> float | None:
    """A dose in Gy from a value in Gy, or in % of the prescription (None when it is unknown)."""
    if not relative:
        return value
    return None if prescription_gy is None else value * prescription_gy / 100.0


def _volume_for(row: ConstraintResult, curve: DVHCurve, unit: Unit) -> float | None:
    """The y of a dose limit's marker: the volume the metric reads the dose at."""
    c = row.constraint
    metric = c.metric
    if metric.kind is MetricKind.MAX:
        return _in_unit(NEAR_MAX_VOLUME_CC, curve, unit)
    if metric.kind is MetricKind.MIN:
        return _in_unit(max(curve.total_volume_cc - NEAR_MAX_VOLUME_CC, 0.0), curve, unit)
    assert metric.parameter is not None
    if metric.relative:  # x % of the structure
        cc = metric.parameter / 100.0 * curve.total_volume_cc
        return metric.parameter if unit is Unit.PERCENT else cc
    return _in_unit(metric.parameter, curve, unit)


def _limit_volume(row: ConstraintResult, curve: DVHCurve, unit: Unit) -> float | None:
    """The y of a volume limit's marker: the limit, or for a spared volume the volume minus it."""
    c = row.constraint
    cc = c.limit if c.limit_unit is Unit.CC else c.limit / 100.0 * curve.total_volume_cc
    if c.metric.kind is MetricKind.CRITICAL_VOLUME:
        cc = curve.total_volume_cc - cc
    if c.limit_unit is Unit.PERCENT and unit is Unit.PERCENT:
        return c.limit if c.metric.kind is MetricKind.VOLUME_AT_DOSE else 100.0 - c.limit
    return _in_unit(cc, curve, unit)


def limit_marker(
    row: ConstraintResult, curve: DVHCurve, unit: Unit, prescription_gy: float | None, dose_quantity: str
) -> LimitMarker | None:
    """Where ``row``'s limit sits on ``curve``'s plot (see the module's docstring), in the
    plot's volume ``unit``; None when it cannot be placed: a limit relative to an unknown
    prescription, or a dose limit in another quantity than the plot's ``dose_quantity``."""
    c = row.constraint
    metric = c.metric
    label = f"{metric} {c.comparison.value} {c.limit:g} {'% Rx' if c.limit_unit is Unit.PERCENT and metric.gives_dose else c.limit_unit.value}"
    if metric.gives_dose:
        if c.limit_unit is Unit.GY and c.limit_quantity is not None and c.limit_quantity.value != dose_quantity:
            return None
        dose = _dose_gy(c.limit, c.limit_unit is Unit.PERCENT, prescription_gy)
        volume = None if metric.kind is MetricKind.MEAN else _volume_for(row, curve, unit)
        if dose is None or (volume is None and metric.kind is not MetricKind.MEAN):
            return None
    else:
        assert metric.parameter is not None
        dose = _dose_gy(metric.parameter, metric.relative, prescription_gy)
        volume = _limit_volume(row, curve, unit)
        if dose is None or volume is None:
            return None
    upper = c.comparison.is_upper_limit != (metric.kind is MetricKind.CRITICAL_VOLUME)
    return LimitMarker(
        structure_name=curve.structure_name, label=label, dose_gy=dose, volume=volume, upper=upper, level=row.level
    )


def organ_plots(check: CheckResult) -> list[OrganPlot]:
    """One plot per organ of ``check`` whose rows used a structure with a kept DVH curve, in
    table order, with a marker for each row that can be placed."""
    by_organ: dict[str, list[ConstraintResult]] = {}
    for r in check.results:
        if r.structure_name is not None and check.curve_of(r.structure_name) is not None:
            by_organ.setdefault(r.constraint.organ, []).append(r)
    plots = []
    for organ, rows in by_organ.items():
        unit = _volume_unit(rows)
        curves: dict[str, DVHCurve] = {}
        markers = []
        for r in rows:
            assert r.structure_name is not None
            curve = check.curve_of(r.structure_name)
            assert curve is not None
            curves.setdefault(r.structure_name, curve)
            marker = limit_marker(r, curve, unit, check.prescription_gy, check.dose_quantity.value)
            if marker is not None:
                markers.append(marker)
        plots.append(OrganPlot(organ=organ, volume_unit=unit, dose_quantity=check.dose_quantity.value,
                               curves=tuple(curves.values()), markers=tuple(markers)))
    return plots


#: matplotlib settings of every rtcheck plot; ``svg.hashsalt`` fixes the SVG's element ids.
PLOT_RC = {
    "svg.hashsalt": "rtcheck",
    "svg.fonttype": "none",  # text as <text>: small, selectable, printable
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


@contextlib.contextmanager
def _figure(figsize: tuple[float, float], dpi: float) -> Iterator[tuple[Any, Any]]:
    """A matplotlib figure with one axes, drawn on an Agg canvas under :data:`PLOT_RC`.

    matplotlib is imported here, not at the top of the module: it is needed only when a plot
    is drawn, and ``rtcheck --help`` stays light. No pyplot: neither the caller's backend nor
    its rcParams change (a notebook that renders a report keeps its own), and nothing global
    is left open.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context(cast(Any, PLOT_RC)):  # its stubs want literal keys
        fig = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(fig)
        yield fig, fig.subplots()


#: The SVG metadata written: no date, no creator (the same plot gives the same bytes).
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def _axis_label(dose_quantity: str) -> str:
    """The dose axis's label for a dose quantity (physical, EQD2 or BED)."""
    return "Dose (Gy)" if dose_quantity == "physical" else f"Dose (Gy {dose_quantity})"


def _draw_markers(ax: Any, markers: Sequence[LimitMarker], x_top: float) -> None:
    """Each marker on ``ax``: a triangle, or a vertical line for a mean (SVG id ``limit-i``),
    labelled with its row; a label in the right third of the axes reads leftward, and labels
    step upward in turn, so that neighbours and the frame do not cut them."""
    for i, m in enumerate(markers):
        colour = LEVEL_COLOURS[m.level]
        leftward = m.dose_gy > 0.66 * x_top
        dx, align = (-5, "right") if leftward else (5, "left")
        if m.volume is None:
            ax.axvline(m.dose_gy, color=colour, linestyle="--", linewidth=1.2, gid=f"limit-{i}")
            ax.annotate(m.label, (m.dose_gy, 1.0), xycoords=("data", "axes fraction"), xytext=(dx, -10 - 9 * (i % 3)),
                        textcoords="offset points", fontsize=7, color=colour, ha=align)
        else:
            ax.plot([m.dose_gy], [m.volume], linestyle="none", marker="v" if m.upper else "^", markersize=8,
                    color=colour, markeredgecolor="black", markeredgewidth=0.5, gid=f"limit-{i}", zorder=5)
            ax.annotate(m.label, (m.dose_gy, m.volume), xytext=(dx, 6 + 9 * (i % 3)), textcoords="offset points",
                        fontsize=7, color=colour, ha=align)


def _data_ranges(plot: OrganPlot) -> tuple[tuple[float, float], tuple[float, float]]:
    """The x (Gy) and y limits that show every curve and marker, with a margin (5 % in
    dose, 12 % in volume for the markers' labels)."""
    x_top = max([float(c.dose_gy[-1]) for c in plot.curves] + [m.dose_gy for m in plot.markers] + [1e-3])
    ys = [m.volume for m in plot.markers if m.volume is not None]
    for c in plot.curves:
        values = c.volume_cc if plot.volume_unit is Unit.CC else c.volume_percent()
        ys.append(float(values.max()) if values.size else 0.0)
    y_top = max(ys + [1e-3])
    return (0.0, 1.05 * x_top), (0.0, 1.12 * y_top)


def organ_svg(plot: OrganPlot, *, id_prefix: str = "dvh") -> RenderedPlot:
    """Draw ``plot`` as an inline SVG element (no XML prolog; element ids start with
    ``id_prefix``), with the positions of its markers (see :class:`RenderedPlot`)."""
    with _figure(ORGAN_FIGSIZE, 72) as (fig, ax):
        for curve in plot.curves:
            y = curve.volume_cc if plot.volume_unit is Unit.CC else curve.volume_percent()
            ax.plot(curve.dose_gy, y, linewidth=1.5, label=curve.structure_name)
        x_range, y_range = _data_ranges(plot)
        _draw_markers(ax, plot.markers, x_range[1])
        ax.set_xlim(*x_range)
        ax.set_ylim(*y_range)
        ax.set_xlabel(_axis_label(plot.dose_quantity))
        ax.set_ylabel("Volume (cc)" if plot.volume_unit is Unit.CC else "Volume (% of structure)")
        ax.set_title(plot.organ, fontsize=10)
        if len(plot.curves) > 1:
            ax.legend(fontsize=7, loc="upper right")
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata=_SVG_METADATA)
        height = fig.get_figheight() * 72.0
        points = tuple(
            None if m.volume is None else _svg_point(ax, (m.dose_gy, m.volume), height)
            for m in plot.markers
        )
        box = ax.get_window_extent()
        axes_box = (box.x0, height - box.y1, box.x1, height - box.y0)
    return RenderedPlot(svg=inline_svg(buffer.getvalue(), id_prefix), marker_points=points, axes_box=axes_box,
                        x_range=x_range, y_range=y_range)


def _svg_point(ax: Any, xy: tuple[float, float], height: float) -> tuple[float, float]:
    """Data coordinates on ``ax`` as SVG user-space coordinates (points, y downward) of a
    figure ``height`` points tall drawn at 72 dpi."""
    x, y = ax.transData.transform(xy)
    return float(x), float(height - y)


_ID = re.compile(r'\bid="([^"]+)"')


def inline_svg(svg: str, id_prefix: str) -> str:
    """A standalone SVG document made fit to sit inside HTML: the XML prolog and doctype
    dropped, and every element id (and each reference to one) prefixed with ``id_prefix``
    so that several SVGs on one page keep their ids unique."""
    start = svg.find("<svg")
    body = svg[start:] if start >= 0 else svg
    ids = set(_ID.findall(body))

    def prefixed(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}{id_prefix}-{name}" if name in ids else match.group(0)

    body = re.sub(r'(\bid=")([^"]+)(?=")', prefixed, body)
    body = re.sub(r'(href="#)([^"]+)(?=")', prefixed, body)
    body = re.sub(r"(url\(#)([^)]+)(?=\))", prefixed, body)
    return body.strip() + "\n"


def plan_curves(plans: Sequence[tuple[Course, Sequence[DVH | BaseException]]]) -> list[DVHCurve]:
    """The curve of every structure with a DVH of every plan (``rtcheck dvh``'s results:
    per plan its course and, per structure, a DVH or the error why it has none), named
    "plan: structure" when there are several plans."""
    curves = []
    for n, (course, dvhs) in enumerate(plans, start=1):
        prefix = f"{course.label or f'plan {n}'}: " if len(plans) > 1 else ""
        curves += [DVHCurve.from_dvh(prefix + d.name, d) for d in dvhs if isinstance(d, DVH) and not d.is_empty]
    return curves


#: Dash patterns of the curves of :func:`dvh_figure`, one per ten curves (matplotlib's ten colours).
LINE_STYLES = ("-", "--", ":", "-.")

#: The picture formats of :func:`dvh_figure`, by file suffix.
PLOT_FORMATS = {".png": "png", ".svg": "svg"}


def dvh_figure(curves: Sequence[DVHCurve], fmt: str, *, title: str = "") -> bytes:
    """One figure of every curve (cumulative DVH, volume in % of each structure), as PNG or
    SVG bytes (``fmt`` "png" or "svg"; ValueError otherwise)."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"unknown plot format {fmt!r}; expected png or svg")
    with _figure(ALL_FIGSIZE, PNG_DPI if fmt == "png" else 72) as (fig, ax):
        for i, curve in enumerate(curves):  # the 10 colours again with another dash, and so on
            ax.plot(curve.dose_gy, curve.volume_percent(), linewidth=1.3, label=curve.structure_name,
                    linestyle=LINE_STYLES[i // 10 % len(LINE_STYLES)])
        ax.set_xlim(left=0.0)
        ax.set_ylim(0.0, 105.0)
        ax.set_xlabel(_axis_label("physical"))
        ax.set_ylabel("Volume (% of structure)")
        if title:
            ax.set_title(title, fontsize=10)
        if curves:
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        fig.tight_layout()
        buffer = io.BytesIO()
        metadata = _SVG_METADATA if fmt == "svg" else {"Software": None}
        fig.savefig(buffer, format=fmt, metadata=metadata, dpi=PNG_DPI if fmt == "png" else 72, bbox_inches="tight")
    return buffer.getvalue()

