"""Composite (re-irradiation) EQD2 of one organ over the current and prior courses.

A re-irradiation check sums, organ by organ, the EQD2 of every course at the same points of
the organ (the sample points of the current plan's DVH, :class:`OrganSamples`):

    composite(x) = EQD2_current(x) + Σ_prior (1 − f_prior,organ) · EQD2_prior(x)

where each course's physical dose at ``x`` is converted with the organ's α/β and *that
course's own* number of fractions, and ``f`` is a documented tissue-recovery factor (the
fraction of the prior BED discounted; 0 when none is given,
:mod:`rtcheck.radiobiology.recovery`). The composite is computed both with and without the
factors so that a report can say whether a verdict depends on them.

Prior courses (:class:`rtcheck.models.priors.PriorCourse`) come as

* a DICOM export (RTPLAN + RTDOSE): a dose on the current plan's frame of reference is
  sampled (trilinear) at the organ's points; a dose on another frame is carried through a
  rigid DICOM Spatial Registration (REG) linking the frames
  (:func:`rtcheck.radiobiology.resample.prior_dose_at`), else
  :class:`~rtcheck.errors.InputError`. Outside the prior dose grid the prior dose is taken
  as 0 — usually true, because dose grids cover the irradiated region, but an assumption:
  the volume where it was made is reported as a warning;
* a paper-record summary (organ, maximum physical dose, fractions, date, source document):
  its maximum EQD2 is added to *every* point of the organ (max-to-max). Every metric of the
  composite is then an upper bound, and the result says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..models import DVH, NEAR_MAX_VOLUME_CC, Course, DoseGrid
from ..models.priors import PriorCourse, RecoveryFactor, Registration
from ..models.reirradiation import Contribution, OrganComposite
from . import lq
from .resample import PointDoses, dose_at_points, prior_dose_at

if TYPE_CHECKING:
    from ..dvhcalc.masks import StructureMask


@dataclass(frozen=True, eq=False)
class OrganSamples:
    """The sample points of one organ's DVH on the current plan.

    ``points_mm`` (N, 3) are x, y, z in the current plan's frame; ``volume_cc`` (N,) the
    volume each stands for (the DVH's partial-volume weights). ``current_dose_gy`` (N,),
    when given, is the current plan's physical dose at the points as the DVH computed it;
    otherwise it is sampled trilinearly from the current dose grid.
    """

    name: str
    points_mm: np.ndarray
    volume_cc: np.ndarray
    roi_number: int | None = None
    structure_volume_cc: float | None = None
    outside_grid_cc: float = 0.0
    current_dose_gy: np.ndarray | None = None

    def __post_init__(self) -> None:
        """Points as (N, 3) floats, volumes and doses as (N,) floats; refuse other lengths."""
        pts = np.asarray(self.points_mm, dtype=float).reshape(-1, 3)
        vol = np.asarray(self.volume_cc, dtype=float).ravel()
        if pts.shape[0] != vol.shape[0]:
            raise ValueError("points_mm and volume_cc must have the same length")
        object.__setattr__(self, "points_mm", pts)
        object.__setattr__(self, "volume_cc", vol)
        if self.current_dose_gy is not None:
            dose = np.asarray(self.current_dose_gy, dtype=float).ravel()
            if dose.shape != vol.shape:
                raise ValueError("current_dose_gy must have one value per point")
            object.__setattr__(self, "current_dose_gy", dose)


def _index_to_mm(coords: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Positions (mm) of fractional indices along one axis, extrapolated beyond the ends
    with the outermost spacing (the inverse of :func:`rtcheck.dvhcalc.sampling.fractional_index`).

    Sub-samples of boundary voxels may lie in the outer half voxel, beyond the outermost
    voxel centre: their true position matters when a prior dose is sampled there.
    """
    if coords.size == 1:
        return np.full(index.shape, coords[0])
    inner = np.interp(index, np.arange(coords.size), coords)
    first, last = coords[1] - coords[0], coords[-1] - coords[-2]
    inner = np.where(index < 0, coords[0] + index * first, inner)
    return np.where(index > coords.size - 1, coords[-1] + (index - (coords.size - 1)) * last, inner)


def organ_samples_from_mask(
    mask: StructureMask, grid: DoseGrid, *, interpolate: bool = True, name: str | None = None
) -> OrganSamples:
    """The sample points of a :class:`rtcheck.dvhcalc.masks.StructureMask` on the current grid.

    Points and volumes are those of ``mask.dose_samples`` (interior voxels at their
    centres, then boundary sub-samples — or, without ``interpolate``, partial voxels at
    their centres), scaled like :func:`rtcheck.dvhcalc.compute.dvh_from_mask` so that they add up to
    the structure's volume inside the grid. The current dose is taken from
    ``mask.dose_samples`` itself. For small ROIs :mod:`rtcheck.dvhcalc` also supersamples
    interior voxels ("fine interior"); the composite keeps one sample per interior voxel, so
    its current-course part can differ from the plan's DVH by that sampling difference
    (on the sample spine cord: < 0.02 Gy EQD2 at D0.035cc).
    """
    s3 = mask.supersampling**3
    zs, ys, xs = mask.slices
    box_z, box_y, box_x = grid.z_mm[zs], grid.y_mm[ys], grid.x_mm[xs]
    interior = mask.counts == s3
    kz, ky, kx = np.nonzero(interior)
    parts = [np.column_stack([box_x[kx], box_y[ky], box_z[kz]])]
    if interpolate:
        idx = np.asarray(mask.points_index, dtype=float).reshape(-1, 3)
        parts.append(
            np.column_stack([_index_to_mm(grid.x_mm, idx[:, 2]), _index_to_mm(grid.y_mm, idx[:, 1]),
                             _index_to_mm(grid.z_mm, idx[:, 0])])
        )
    else:
        pz, py, px = np.nonzero((mask.counts > 0) & ~interior)
        parts.append(np.column_stack([box_x[px], box_y[py], box_z[pz]]))
    points = np.concatenate(parts)
    dose, volume = mask.dose_samples(grid.dose_gy, interpolate)
    total = float(volume.sum())
    if total > 0 and mask.in_grid_volume_cc > 0:
        volume = volume * (mask.in_grid_volume_cc / total)
    return OrganSamples(
        name=name or mask.name,
        points_mm=points,
        volume_cc=volume,
        roi_number=mask.roi_number,
        structure_volume_cc=mask.structure_volume_cc,
        outside_grid_cc=mask.outside_grid_cc,
        current_dose_gy=dose,
    )



class ContributionMetrics(NamedTuple):
    """Maximum, near-maximum (:data:`rtcheck.models.NEAR_MAX_VOLUME_CC`) and mean of one
    course's EQD2 at an organ (Gy); all None for an organ without samples."""

    max_eqd2_gy: float | None
    near_max_eqd2_gy: float | None
    mean_eqd2_gy: float | None


def _contribution_metrics(eqd2_gy: np.ndarray, volume_cc: np.ndarray, name: str) -> ContributionMetrics:
    """The metrics of one course's EQD2 (Gy) at the organ's samples (volumes in cc)."""
    if eqd2_gy.size == 0:
        return ContributionMetrics(None, None, None)
    dvh = DVH(name, None, eqd2_gy, volume_cc)
    return ContributionMetrics(dvh.max_gy(), dvh.near_max_gy(NEAR_MAX_VOLUME_CC), dvh.mean_gy())


def _course_dvh(organ: OrganSamples, eqd2_gy: np.ndarray, course: str, upper_bound: bool = False) -> DVH:
    """One course's EQD2 DVH of the organ (for per-course limits)."""
    note = f"EQD2 of {course}" + (" (upper bound: max-to-max)" if upper_bound else "")
    return DVH(organ.name, organ.roi_number, eqd2_gy, organ.volume_cc, structure_volume_cc=organ.structure_volume_cc,
               outside_grid_cc=organ.outside_grid_cc, settings=note)


@dataclass
class _Sum:
    """The composite of one organ while the courses are added, course by course.

    ``with_factor`` and ``without_factor`` are the EQD2 sums (Gy) at the organ's samples,
    with and without the recovery factors; ``not_evaluated`` says why the composite cannot
    be formed, once a course's dose to the organ is found unknown.
    """

    with_factor: np.ndarray
    without_factor: np.ndarray
    contributions: list[Contribution]
    warnings: list[str] = dataclasses.field(default_factory=list)
    upper_bound: bool = False
    not_evaluated: str | None = None

    def add(self, eqd2_gy: np.ndarray | float, recovery: RecoveryFactor | None) -> None:
        """Add one prior course's EQD2 (Gy), discounted by its recovery factor on one side."""
        keep = 1.0 - (recovery.factor if recovery else 0.0)
        self.with_factor += keep * eqd2_gy
        self.without_factor += eqd2_gy


def _current_sum(current: Course, organ: OrganSamples, alpha_beta_gy: float) -> _Sum:
    """The composite started with the current course's EQD2 at the organ's samples."""
    if organ.current_dose_gy is not None:
        current_phys = organ.current_dose_gy
    else:
        current_phys, inside = dose_at_points(current.dose, organ.points_mm)
        if not np.all(inside):
            raise ValueError("organ sample points must lie inside the current dose grid")
    current_eqd2 = np.asarray(lq.eqd2(current_phys, current.fractions, alpha_beta_gy), dtype=float)
    metrics = _contribution_metrics(current_eqd2, organ.volume_cc, organ.name)
    first = Contribution(
        course=current.label or (current.plan.label if current.plan else None) or "current plan",
        kind="current",
        fractions=current.fractions,
        date=current.date,
        alpha_beta_gy=alpha_beta_gy,
        max_eqd2_gy=metrics.max_eqd2_gy,
        near_max_eqd2_gy=metrics.near_max_eqd2_gy,
        mean_eqd2_gy=metrics.mean_eqd2_gy,
        dvh=_course_dvh(organ, current_eqd2, "current course"),
    )
    return _Sum(current_eqd2.copy(), current_eqd2.copy(), [first])


def _add_summary(
    total: _Sum,
    prior: PriorCourse,
    organ: OrganSamples,
    alpha_beta_gy: float,
    recovery: RecoveryFactor | None,
    same: Callable[[str, str], bool],
) -> None:
    """Add a paper-record course: its maximum EQD2 at every sample (max-to-max, an upper
    bound); a course without a record of the organ makes the composite not evaluable."""
    record = prior.record_for(organ.name, same)
    if record is None:
        total.not_evaluated = (
            f"prior course {prior.label!r} ({prior.source}) has no record for {organ.name}: "
            "its dose to this organ is unknown"
        )
        total.contributions.append(
            _summary_contribution(prior, alpha_beta_gy, recovery, None, note="no record for this organ")
        )
        return
    max_eqd2 = float(lq.eqd2(record.max_dose_gy, prior.fractions, alpha_beta_gy))
    total.upper_bound = True
    total.add(max_eqd2, recovery)
    total.contributions.append(
        _summary_contribution(
            prior,
            alpha_beta_gy,
            recovery,
            max_eqd2,
            note=f"max {record.max_dose_gy:g} Gy physical in {prior.fractions} fx, "
            "added to every point (max-to-max, upper bound)",
            dvh=_course_dvh(organ, np.full(organ.volume_cc.shape, max_eqd2), prior.label, upper_bound=True),
        )
    )


def _summary_contribution(
    prior: PriorCourse,
    alpha_beta_gy: float,
    recovery: RecoveryFactor | None,
    max_eqd2_gy: float | None,
    *,
    note: str,
    dvh: DVH | None = None,
) -> Contribution:
    """A paper-record course's contribution: its maximum EQD2 (Gy) stands for every metric
    (an upper bound); None when the record has no such organ."""
    return Contribution(
        course=prior.label,
        kind="summary",
        fractions=prior.fractions,
        date=prior.date,
        alpha_beta_gy=alpha_beta_gy,
        max_eqd2_gy=max_eqd2_gy,
        near_max_eqd2_gy=max_eqd2_gy,
        mean_eqd2_gy=max_eqd2_gy,
        recovery=recovery,
        upper_bound=max_eqd2_gy is not None,
        note=note,
        dvh=dvh,
    )


def _add_dicom(
    total: _Sum,
    prior: PriorCourse,
    organ: OrganSamples,
    alpha_beta_gy: float,
    recovery: RecoveryFactor | None,
    physical: PointDoses,
) -> None:
    """Add a DICOM course from its physical dose at the samples (0 Gy outside its grid,
    with a warning giving the volume where that is assumed)."""
    vol = organ.volume_cc
    eqd2_prior = np.asarray(lq.eqd2(physical.dose_gy, prior.fractions, alpha_beta_gy), dtype=float)
    outside_cc = float(vol[~physical.inside].sum())
    if outside_cc > 0:
        total.warnings.append(
            f"{outside_cc:.2f} cc of {organ.name} lie outside the dose grid of prior course "
            f"{prior.label!r}; its dose there is assumed to be 0 Gy"
        )
    total.add(eqd2_prior, recovery)
    metrics = _contribution_metrics(eqd2_prior, vol, organ.name)
    total.contributions.append(
        Contribution(
            course=prior.label,
            kind="dicom",
            fractions=prior.fractions,
            date=prior.date,
            alpha_beta_gy=alpha_beta_gy,
            max_eqd2_gy=metrics.max_eqd2_gy,
            near_max_eqd2_gy=metrics.near_max_eqd2_gy,
            mean_eqd2_gy=metrics.mean_eqd2_gy,
            recovery=recovery,
            outside_prior_grid_cc=outside_cc,
            dvh=_course_dvh(organ, eqd2_prior, prior.label),
        )
    )


def _organ_composite(total: _Sum, organ: OrganSamples, alpha_beta_gy: float) -> OrganComposite:
    """The finished composite of one organ: its two EQD2 DVHs, or why there are none."""
    if total.not_evaluated:
        return OrganComposite(
            organ=organ.name,
            alpha_beta_gy=alpha_beta_gy,
            contributions=tuple(total.contributions),
            with_factor=None,
            without_factor=None,
            upper_bound=total.upper_bound,
            warnings=tuple(total.warnings),
            not_evaluated=total.not_evaluated,
        )
    settings = f"composite EQD2 (α/β {alpha_beta_gy:g} Gy)" + (", upper bound" if total.upper_bound else "")

    def make(dose: np.ndarray, suffix: str) -> DVH:
        """The composite DVH of these EQD2 doses (Gy) at the organ's samples."""
        return DVH(organ.name, organ.roi_number, dose, organ.volume_cc, structure_volume_cc=organ.structure_volume_cc,
                   outside_grid_cc=organ.outside_grid_cc, settings=settings + suffix)

    return OrganComposite(
        organ=organ.name,
        alpha_beta_gy=alpha_beta_gy,
        contributions=tuple(total.contributions),
        with_factor=make(total.with_factor, ", with recovery factors"),
        without_factor=make(total.without_factor, ", without recovery factors"),
        upper_bound=total.upper_bound,
        warnings=tuple(total.warnings),
    )


def composite_organ(
    current: Course,
    organ: OrganSamples,
    alpha_beta_gy: float,
    priors: Sequence[PriorCourse],
    *,
    same: Callable[[str, str], bool],
    registrations: Iterable[Registration] = (),
    prior_doses: Mapping[int, PointDoses] | None = None,
) -> OrganComposite:
    """Composite EQD2 of one organ (α/β ``alpha_beta_gy``, Gy) over the current and prior courses.

    ``same`` tells whether two organ names mean one organ (a recovery factor's or a paper
    record's organ and this one; :func:`rtcheck.evaluate.reirradiation.names_same` through
    the name table's aliases).

    ``prior_doses`` may carry precomputed physical doses per prior (index → doses at the
    organ's samples) so that several α/β of the same organ reuse one resampling.
    """
    total = _current_sum(current, organ, alpha_beta_gy)
    for index, prior in enumerate(priors):
        recovery = prior.recovery_for(organ.name, same)
        if prior.is_summary:
            _add_summary(total, prior, organ, alpha_beta_gy, recovery, same)
            continue
        if prior_doses is not None and index in prior_doses:
            physical = prior_doses[index]
        else:
            physical = prior_dose_at(prior, organ.points_mm, current.dose.frame_of_reference_uid, registrations)
        _add_dicom(total, prior, organ, alpha_beta_gy, recovery, physical)
    return _organ_composite(total, organ, alpha_beta_gy)


def prior_doses_at(
    current: Course,
    points_mm: np.ndarray,
    priors: Sequence[PriorCourse],
    registrations: Iterable[Registration] = (),
) -> dict[int, PointDoses]:
    """The physical dose of every DICOM prior course (by its index in ``priors``) at points
    (mm) of the current plan's frame: one resampling, shared by every α/β of an organ."""
    return {
        i: prior_dose_at(p, points_mm, current.dose.frame_of_reference_uid, registrations)
        for i, p in enumerate(priors)
        if not p.is_summary
    }


def composite(
    current: Course,
    organs: Iterable[tuple[OrganSamples, Iterable[float]]],
    priors: Sequence[PriorCourse],
    *,
    same: Callable[[str, str], bool],
    registrations: Iterable[Registration] = (),
) -> list[OrganComposite]:
    """Composites for several organs, each at each of its α/β values (Gy; one resampling each);
    ``same`` compares organ names (see :func:`composite_organ`)."""
    results = []
    for organ, alpha_betas in organs:
        doses = prior_doses_at(current, organ.points_mm, priors, registrations)
        for ab in dict.fromkeys(float(a) for a in alpha_betas):
            results.append(composite_organ(current, organ, ab, priors, registrations=registrations, same=same,
                                           prior_doses=doses))
    return results


__all__ = [
    "ContributionMetrics",
    "OrganSamples",
    "composite",
    "composite_organ",
    "organ_samples_from_mask",
    "prior_doses_at",
]
