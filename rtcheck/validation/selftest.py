"""Installation self-test: DVHs of analytic phantoms against their closed-form truth.

:func:`run_selftest` takes the phantoms of :mod:`rtcheck.validation.phantoms` (shapes in linear dose
gradients whose volume, Dmin, Dmean, Dmax and DVH are known in closed form), writes each as
an RTSTRUCT + RTDOSE pair with :mod:`rtcheck.dicom_io.write`, reads them back through the
normal reader (:mod:`rtcheck.dicom_io`) and computes DVHs with the default settings of
:mod:`rtcheck.dvhcalc` — the same path a clinical plan takes. It then compares every structure
with its truth against the accuracy targets of the README ("Accuracy"):

* structure volume within 1 % mean absolute error over the whole set, and within 3 % for
  every structure of at least 0.5 cc;
* Dmin, Dmean and Dmax within 1 % of the phantom's prescription-scale dose, or 0.1 Gy when
  that is larger, for every structure of at least 0.5 cc.

A few DVH points (the volume receiving at least the true D98%, D50% and D2%) are reported
too, as information. The report passes only when every tolerance holds. The scoring
functions (:func:`agreement`, :func:`summarise`) are also used by ``benchmarks/run.py`` to
score other DVH tools the same way.
"""

from __future__ import annotations

import datetime as _dt
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from rtcheck import __version__
from rtcheck.dicom_io import read_dose, read_structure_set
from rtcheck.dicom_io.write import DicomContext, derived_uid, write_dose, write_structure_set
from rtcheck.dvhcalc import compute as rtdvh
from rtcheck.dvhcalc.compute import DVHSettings
from rtcheck.errors import RtcheckError
from rtcheck.models import DVH, DoseGrid, StructureSet

from . import phantoms

#: Structures smaller than this (cc) are reported but not held to the per-structure targets.
SMALL_STRUCTURE_CC = 0.5
#: Volume percentages at which the true DVH is sampled for the reported DVH points.
DVH_POINT_PERCENTS = (98.0, 50.0, 2.0)


@dataclass(frozen=True)
class Tolerances:
    """The accuracy targets of issue 5 (and the README)."""

    volume_mae_pct: float = 1.0
    volume_each_pct: float = 3.0
    dose_pct_of_scale: float = 1.0
    dose_floor_gy: float = 0.1
    min_structure_cc: float = SMALL_STRUCTURE_CC

    def dose_tolerance_gy(self, dose_scale_gy: float) -> float:
        """The dose tolerance (Gy) for a phantom of dose scale ``dose_scale_gy`` (Gy): the
        percentage of the scale, or the floor when that is larger."""
        return max(self.dose_pct_of_scale / 100.0 * dose_scale_gy, self.dose_floor_gy)


DEFAULT_TOLERANCES = Tolerances()


@dataclass(frozen=True)
class Truth:
    """Closed-form values for one phantom structure (Gy, cc).

    ``dvh_points`` are (dose_gy, volume_cc): the true volume receiving at least that dose.
    """

    name: str
    volume_cc: float
    min_gy: float
    mean_gy: float
    max_gy: float
    dvh_points: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class PhantomCase:
    """One phantom: a structure set and dose grid, and the truth for each ROI number."""

    label: str
    structure_set: StructureSet
    dose: DoseGrid
    truth: dict[int, Truth]  # by ROI number
    dose_scale_gy: float
    description: str = ""


@dataclass(frozen=True)
class StructureAgreement:
    """One structure's computed values next to its truth (Gy, cc)."""

    phantom: str
    roi_number: int
    truth: Truth
    dose_tolerance_gy: float
    volume_cc: float | None = None
    min_gy: float | None = None
    mean_gy: float | None = None
    max_gy: float | None = None
    #: (dose_gy, true volume_cc, computed volume_cc) per DVH point
    dvh_points: tuple[tuple[float, float, float | None], ...] = ()
    error: str | None = None
    tolerances: Tolerances = DEFAULT_TOLERANCES

    @property
    def name(self) -> str:
        """The structure's name."""
        return self.truth.name

    @property
    def held_to_targets(self) -> bool:
        """Per-structure targets apply to structures of at least 0.5 cc."""
        return self.truth.volume_cc >= self.tolerances.min_structure_cc

    @property
    def volume_error_pct(self) -> float | None:
        """Computed minus true volume, in % of the true volume; None when unknown."""
        if self.volume_cc is None or self.truth.volume_cc <= 0:
            return None
        return 100.0 * (self.volume_cc - self.truth.volume_cc) / self.truth.volume_cc

    def dose_error_gy(self, metric: str) -> float | None:
        """Computed minus true dose (Gy) for ``metric`` "min", "mean" or "max"; None when
        the computed value is unknown."""
        value = getattr(self, f"{metric}_gy")
        return None if value is None else value - getattr(self.truth, f"{metric}_gy")

    @property
    def dvh_point_errors_pct(self) -> list[float | None]:
        """Computed minus true volume at each DVH point, in % of the true structure volume."""
        return [
            None if got is None else 100.0 * (got - true) / self.truth.volume_cc
            for _, true, got in self.dvh_points
        ]

    def failures(self) -> list[str]:
        """Per-structure tolerance violations (empty when it passes or is not held to them)."""
        if self.error is not None:
            return [f"{self.phantom}/{self.name}: no DVH ({self.error})"]
        if not self.held_to_targets:
            return []
        out = []
        verr = self.volume_error_pct
        if verr is None or abs(verr) > self.tolerances.volume_each_pct:
            out.append(f"{self.phantom}/{self.name}: volume error {_fmt(verr, '+.2f')} % "
                       f"(limit ±{self.tolerances.volume_each_pct:g} %)")
        for metric in ("min", "mean", "max"):
            err = self.dose_error_gy(metric)
            if err is None or abs(err) > self.dose_tolerance_gy + 1e-12:
                out.append(f"{self.phantom}/{self.name}: D{metric} error {_fmt(err, '+.4f')} Gy "
                           f"(limit ±{self.dose_tolerance_gy:.4f} Gy)")
        return out

    def to_dict(self) -> dict:
        """The row as plain data (JSON of ``rtcheck selftest --format json``)."""
        return {
            "phantom": self.phantom,
            "name": self.name,
            "roi_number": self.roi_number,
            "held_to_targets": self.held_to_targets,
            "error": self.error,
            "dose_tolerance_gy": self.dose_tolerance_gy,
            "truth": {
                "volume_cc": self.truth.volume_cc,
                "min_gy": self.truth.min_gy,
                "mean_gy": self.truth.mean_gy,
                "max_gy": self.truth.max_gy,
            },
            "computed": {
                "volume_cc": self.volume_cc,
                "min_gy": self.min_gy,
                "mean_gy": self.mean_gy,
                "max_gy": self.max_gy,
            },
            "volume_error_pct": self.volume_error_pct,
            "dose_error_gy": {m: self.dose_error_gy(m) for m in ("min", "mean", "max")},
            "dvh_points": [
                {"dose_gy": d, "true_volume_cc": t, "volume_cc": g} for d, t, g in self.dvh_points
            ],
            "passed": not self.failures(),
        }


def agreement(
    phantom: str,
    roi_number: int,
    truth: Truth,
    dose_scale_gy: float,
    *,
    volume_cc: float | None,
    min_gy: float | None,
    mean_gy: float | None,
    max_gy: float | None,
    volume_at_dose_cc: Callable[[float], float | None] | None = None,
    error: str | None = None,
    tolerances: Tolerances = DEFAULT_TOLERANCES,
) -> StructureAgreement:
    """Score one structure's computed values against its truth (any DVH tool)."""
    points = tuple(
        (dose, true_cc, None if volume_at_dose_cc is None else volume_at_dose_cc(dose))
        for dose, true_cc in truth.dvh_points
    )
    return StructureAgreement(
        phantom=phantom,
        roi_number=roi_number,
        truth=truth,
        dose_tolerance_gy=tolerances.dose_tolerance_gy(dose_scale_gy),
        volume_cc=volume_cc,
        min_gy=min_gy,
        mean_gy=mean_gy,
        max_gy=max_gy,
        dvh_points=points,
        error=error,
        tolerances=tolerances,
    )


@dataclass(frozen=True)
class Summary:
    """Set-level figures over a list of :class:`StructureAgreement`."""

    structures: int
    held_to_targets: int
    volume_mae_pct: float | None
    max_volume_error_pct: float | None  # over structures >= 0.5 cc
    max_dose_error_pct: dict  # metric -> max |error| in % of the dose scale (>= 0.5 cc)
    max_dose_error_gy: dict  # metric -> max |error| Gy (>= 0.5 cc)
    max_dvh_point_error_pct: float | None  # % of structure volume, all structures
    mean_dvh_point_error_pct: float | None
    failures: tuple[str, ...]

    def to_dict(self) -> dict:
        """The summary as plain data (JSON of ``rtcheck selftest --format json``)."""
        return {
            "structures": self.structures,
            "held_to_targets": self.held_to_targets,
            "volume_mae_pct": self.volume_mae_pct,
            "max_volume_error_pct": self.max_volume_error_pct,
            "max_dose_error_pct_of_scale": self.max_dose_error_pct,
            "max_dose_error_gy": self.max_dose_error_gy,
            "max_dvh_point_error_pct": self.max_dvh_point_error_pct,
            "mean_dvh_point_error_pct": self.mean_dvh_point_error_pct,
            "failures": list(self.failures),
        }


def summarise(
    rows: list[StructureAgreement],
    dose_scales_gy: dict[str, float],
    tolerances: Tolerances = DEFAULT_TOLERANCES,
) -> Summary:
    """Set-level figures and the list of every tolerance violation (set-level included)."""
    vol_errs = [abs(r.volume_error_pct) for r in rows if r.volume_error_pct is not None]
    mae = sum(vol_errs) / len(vol_errs) if vol_errs else None
    held = [r for r in rows if r.held_to_targets and r.error is None]
    held_vol = [abs(r.volume_error_pct) for r in held if r.volume_error_pct is not None]
    max_pct, max_gy = {}, {}
    for metric in ("min", "mean", "max"):
        errs = [(abs(e), r) for r in held if (e := r.dose_error_gy(metric)) is not None]
        max_gy[metric] = max((e for e, _ in errs), default=None)
        max_pct[metric] = max((100.0 * e / dose_scales_gy[r.phantom] for e, r in errs), default=None)
    point_errs = [abs(e) for r in rows for e in r.dvh_point_errors_pct if e is not None]
    failures = [f for r in rows for f in r.failures()]
    missing = sum(1 for r in rows if r.error is not None or r.volume_error_pct is None)
    if mae is None or mae > tolerances.volume_mae_pct or missing:
        failures.insert(0, f"volume mean absolute error {_fmt(mae, '.2f')} % over {len(vol_errs)} "
                           f"structures (limit {tolerances.volume_mae_pct:g} %)"
                        + (f"; {missing} structure(s) without a volume" if missing else ""))
    return Summary(
        structures=len(rows),
        held_to_targets=len(held),
        volume_mae_pct=mae,
        max_volume_error_pct=max(held_vol, default=None),
        max_dose_error_pct=max_pct,
        max_dose_error_gy=max_gy,
        max_dvh_point_error_pct=max(point_errs, default=None),
        mean_dvh_point_error_pct=sum(point_errs) / len(point_errs) if point_errs else None,
        failures=tuple(failures),
    )


# -- the phantoms ------------------------------------------------------------------------
#: The --quick subset: these volumes on these dose grids (all shapes).
QUICK_VOLUMES_CC = (0.5, 5.0, 100.0)
QUICK_GRIDS_MM = (2.0, 3.0)


def phantom_set(quick: bool = False, full: bool = False) -> list:
    """The phantoms of :mod:`rtcheck.validation.phantoms`: the standard set (every shape × volume ×
    dose grid, gradient axis cycling), its quick subset, or with ``full`` every gradient for
    every combination (four times the standard set; used by the benchmarks)."""
    return phantoms.standard_phantom_set(
        volumes_cc=QUICK_VOLUMES_CC if quick else phantoms.STANDARD_VOLUMES_CC,
        grids_mm=QUICK_GRIDS_MM if quick else (1.0, 2.0, 3.0),
        gradients=phantoms.GRADIENTS if full else None,
    )


def reference_values(phantom: phantoms.Phantom, end_cap: str = "half_slice") -> Truth:
    """The closed-form values of a phantom's ROI for the contours as drawn with ``end_cap``.

    A DVH computed from contours can only recover the contoured solid (each plane a slab), so
    that is the truth used; the smooth solid differs by the contouring itself. DVH points
    are the true volume at the true D98%, D50% and D2% (none for a uniform dose, where every
    point sits on the single dose level).
    """
    truth = phantom.truth(end_cap)
    points: tuple[tuple[float, float], ...] = ()
    if truth.max_gy - truth.min_gy > 1e-6 * max(1.0, truth.max_gy):
        points = tuple(
            (truth.dose_at_volume_cc(p / 100.0 * truth.volume_cc), p / 100.0 * truth.volume_cc)
            for p in DVH_POINT_PERCENTS
        )
    return Truth(phantom.structure.name, truth.volume_cc, truth.min_gy, truth.mean_gy,
                 truth.max_gy, points)


def phantom_label(phantom: phantoms.Phantom) -> str:
    """Short, file-name-safe label: shape, volume, slice and grid spacing, gradient axis."""
    axis = phantom.dose_model.axis or "uniform"
    volume = phantom.shape.ideal_volume_mm3 / 1000.0
    return (f"{phantom.shape.kind}_{volume:g}cc_s{phantom.slice_mm:g}_g{phantom.grid_mm:g}_"
            f"{axis if axis == 'uniform' else 'grad' + axis}")


def phantom_cases(quick: bool = False, full: bool = False,
                  end_cap: str = "half_slice") -> Iterator[PhantomCase]:
    """The analytic phantoms as :class:`PhantomCase` objects (truth for ``end_cap``).

    The dose scale of a phantom (for the 1 % dose tolerance) is its nominal dose at the
    shape's centre, the analogue of a prescription.
    """
    for phantom in phantom_set(quick=quick, full=full):
        yield PhantomCase(
            label=phantom_label(phantom),
            structure_set=phantom.structure_set,
            dose=phantom.dose,
            truth={phantom.structure.roi_number: reference_values(phantom, end_cap)},
            dose_scale_gy=float(phantom.dose_model.dose_gy),
            description=phantom.name,
        )


# -- the self-test -----------------------------------------------------------------------
@dataclass(frozen=True)
class SelftestReport:
    """Everything `rtcheck selftest` prints: per-structure rows, the summary, the verdict."""

    rows: tuple[StructureAgreement, ...]
    summary: Summary
    dose_scales_gy: dict
    settings: str
    elapsed_s: float
    quick: bool
    tolerances: Tolerances = DEFAULT_TOLERANCES
    rtcheck_version: str = __version__
    phantoms: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """True when every tolerance holds."""
        return not self.summary.failures

    def to_dict(self) -> dict:
        """The whole report as plain data (JSON of ``rtcheck selftest --format json``)."""
        t = self.tolerances
        return {
            "rtcheck_version": self.rtcheck_version,
            "passed": self.passed,
            "quick": self.quick,
            "settings": self.settings,
            "elapsed_s": round(self.elapsed_s, 3),
            "tolerances": {
                "volume_mae_pct": t.volume_mae_pct,
                "volume_each_pct": t.volume_each_pct,
                "dose_pct_of_scale": t.dose_pct_of_scale,
                "dose_floor_gy": t.dose_floor_gy,
                "min_structure_cc": t.min_structure_cc,
            },
            "phantoms": [{"label": p, "dose_scale_gy": self.dose_scales_gy[p]} for p in self.phantoms],
            "summary": self.summary.to_dict(),
            "structures": [r.to_dict() for r in self.rows],
        }


def _score_dvh(phantom: str, roi_number: int, truth: Truth, scale: float,
               result: DVH | RtcheckError, tolerances: Tolerances) -> StructureAgreement:
    """One structure's computed DVH (or the error that stopped it) scored against its
    truth; ``scale``: the phantom's dose scale (Gy)."""
    if isinstance(result, RtcheckError):
        return agreement(phantom, roi_number, truth, scale, volume_cc=None, min_gy=None,
                         mean_gy=None, max_gy=None, error=result.message, tolerances=tolerances)
    return agreement(
        phantom, roi_number, truth, scale,
        volume_cc=result.total_volume_cc,
        min_gy=result.min_gy(),
        mean_gy=result.mean_gy(),
        max_gy=result.max_gy(),
        volume_at_dose_cc=result.volume_at_dose,
        tolerances=tolerances,
    )


def run_selftest(
    quick: bool = False,
    workdir: str | Path | None = None,
    settings: DVHSettings | None = None,
    tolerances: Tolerances = DEFAULT_TOLERANCES,
) -> SelftestReport:
    """Write the phantoms as DICOM, read them back, compute DVHs, score against the truth.

    ``workdir`` (default: a temporary folder removed afterwards) receives the DICOM files.
    """
    settings = settings if settings is not None else rtdvh.DEFAULT
    start = time.perf_counter()
    rows: list[StructureAgreement] = []
    scales: dict[str, float] = {}
    labels: list[str] = []
    with tempfile.TemporaryDirectory(prefix="rtcheck-selftest-") as tmp:
        folder = Path(workdir) if workdir is not None else Path(tmp)
        for case in phantom_cases(quick=quick, end_cap=getattr(settings, "end_cap", "half_slice")):
            rtss, rtdose = write_dicom_pair(folder, case.label, case.structure_set, case.dose)
            read_ss = read_structure_set(rtss)
            read_grid = read_dose(rtdose)
            results = rtdvh.compute_dvhs(read_ss, read_grid, settings)
            scales[case.label] = case.dose_scale_gy
            labels.append(case.label)
            for structure, result in zip(read_ss.structures, results, strict=True):
                truth = case.truth.get(structure.roi_number)
                if truth is not None:
                    rows.append(_score_dvh(case.label, structure.roi_number, truth,
                                           case.dose_scale_gy, result, tolerances))
    summary = summarise(rows, scales, tolerances)
    return SelftestReport(
        rows=tuple(rows),
        summary=summary,
        dose_scales_gy=scales,
        settings=settings.describe() if hasattr(settings, "describe") else str(settings),
        elapsed_s=time.perf_counter() - start,
        quick=quick,
        tolerances=tolerances,
        phantoms=tuple(labels),
    )


def write_dicom_pair(
    folder: Path, label: str, structure_set: StructureSet, dose: DoseGrid, bits: int = 16
) -> tuple[Path, Path]:
    """Write a structure set and dose grid as ``<label>_rtss.dcm`` and ``<label>_rtdose.dcm``
    in ``folder`` (one synthetic patient, study and frame of reference per label)."""
    context = _context(label)
    ss = replace(structure_set, frame_of_reference_uid=context.frame_of_reference_uid)
    grid = replace(dose, frame_of_reference_uid=context.frame_of_reference_uid)
    rtss = write_structure_set(ss, Path(folder) / f"{label}_rtss.dcm", context=context)
    rtdose = write_dose(grid, Path(folder) / f"{label}_rtdose.dcm", context=context, bits=bits,
                        referenced_plan_uid=_uid(label, "plan"))
    return rtss, rtdose


def _uid(*parts: object) -> str:
    """A UID derived from ``parts`` in the self-test's namespace (the same on every run)."""
    return derived_uid("rtcheck-selftest", *parts)


def _context(label: str) -> DicomContext:
    """The synthetic patient, study and frame of reference of phantom ``label``."""
    return DicomContext(
        patient_name=f"SELFTEST^{label}"[:64],
        patient_id=f"SELFTEST-{label}"[:64],
        study_instance_uid=_uid(label, "study"),
        frame_of_reference_uid=_uid(label, "frame"),
        content_date=_dt.date(2026, 1, 1),
    )


# -- rendering ---------------------------------------------------------------------------
def _fmt(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``; a dash when unknown."""
    return "–" if value is None else format(value, spec)


def format_table(report: SelftestReport) -> str:
    """The plain-text report `rtcheck selftest` prints."""
    t = report.tolerances
    lines = [
        f"rtcheck {report.rtcheck_version} selftest — analytic phantoms written as DICOM, read "
        f"back and compared with closed-form truth",
        f"DVH settings: {report.settings}",
        f"Targets: volume MAE ≤ {t.volume_mae_pct:g} % over the set and ≤ {t.volume_each_pct:g} % "
        f"per structure ≥ {t.min_structure_cc:g} cc; Dmin/Dmean/Dmax within "
        f"{t.dose_pct_of_scale:g} % of the phantom dose scale or {t.dose_floor_gy:g} Gy "
        f"(structures ≥ {t.min_structure_cc:g} cc).",
        "",
    ]
    head = (f"{'phantom':<22} {'structure':<22} {'vol cc':>9} {'Δvol %':>7} "
            f"{'Dmin':>7} {'ΔDmin':>7} {'Dmean':>7} {'ΔDmean':>7} {'Dmax':>7} {'ΔDmax':>7} "
            f"{'tol Gy':>6} {'DVH pts ΔV %':>20}  result")
    lines += [head, "-" * len(head)]
    for r in report.rows:
        pts = " ".join(_fmt(e, "+.1f") for e in r.dvh_point_errors_pct) or "–"
        verdict = "FAIL" if r.failures() else ("ok" if r.held_to_targets else "ok (small)")
        lines.append(
            f"{r.phantom[:22]:<22} {r.name[:22]:<22} {r.truth.volume_cc:>9.3f} "
            f"{_fmt(r.volume_error_pct, '+.2f'):>7} "
            f"{r.truth.min_gy:>7.2f} {_fmt(r.dose_error_gy('min'), '+.3f'):>7} "
            f"{r.truth.mean_gy:>7.2f} {_fmt(r.dose_error_gy('mean'), '+.3f'):>7} "
            f"{r.truth.max_gy:>7.2f} {_fmt(r.dose_error_gy('max'), '+.3f'):>7} "
            f"{r.dose_tolerance_gy:>6.3f} {pts:>20}  {verdict}"
        )
    s = report.summary
    lines += [
        "",
        f"{s.structures} structures in {len(report.phantoms)} phantoms ({s.held_to_targets} of "
        f"≥ {t.min_structure_cc:g} cc held to the per-structure targets); "
        f"volume MAE {_fmt(s.volume_mae_pct, '.2f')} %, largest volume error "
        f"{_fmt(s.max_volume_error_pct, '.2f')} %, largest dose errors (% of dose scale) "
        + ", ".join(f"D{m} {_fmt(v, '.2f')}" for m, v in s.max_dose_error_pct.items())
        + f"; DVH points: largest {_fmt(s.max_dvh_point_error_pct, '.2f')} %, mean "
        f"{_fmt(s.mean_dvh_point_error_pct, '.2f')} % of structure volume.",
        f"Time: {report.elapsed_s:.1f} s.",
    ]
    if report.passed:
        lines.append("PASS: every tolerance holds.")
    else:
        lines.append(f"FAIL: {len(s.failures)} tolerance(s) not met:")
        lines += [f"  - {f}" for f in s.failures]
    return "\n".join(lines) + "\n"
