"""Mapping a prior course's dose onto the points of the current plan.

A prior dose is sampled at points of the current plan's frame of reference in two steps,
each one function of points: the points are carried into the prior dose's frame
(:func:`transform_points`, a 4×4 rigid matrix from a DICOM Spatial Registration, or none
when both courses share a FrameOfReferenceUID), then the prior dose is interpolated there
(:func:`dose_at_points`, trilinear, as the DVH code interpolates the current dose). A
deformable registration would replace the first step by another points → points mapping.

Outside the prior dose grid the prior dose is taken as 0 Gy: usually true, because dose
grids cover the irradiated region, but an assumption, so the points where it is made are
returned (``inside`` False) for the caller to report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..dvhcalc.sampling import fractional_index, trilinear
from ..errors import InputError
from ..models import DoseGrid
from ..models.priors import PriorCourse, Registration, UnusableRegistration


class PointDoses(NamedTuple):
    """Doses at points and which points lie inside the grid (see :func:`dose_at_points`)."""

    #: dose at each point (Gy); 0 Gy outside the grid
    dose_gy: np.ndarray
    #: whether each point lies inside the grid's voxel-centre box
    inside: np.ndarray


def transform_points(matrix: np.ndarray | None, points_mm: np.ndarray) -> np.ndarray:
    """Apply a 4×4 homogeneous matrix to (N, 3) points (x, y, z in mm); None: unchanged."""
    pts = np.asarray(points_mm, dtype=float).reshape(-1, 3)
    if matrix is None:
        return pts
    m = np.asarray(matrix, dtype=float)
    return pts @ m[:3, :3].T + m[:3, 3]


def _within_axis(centres_mm: np.ndarray, positions_mm: np.ndarray, tol_mm: float) -> np.ndarray:
    """Whether positions (mm) lie between an axis's outermost voxel centres (± ``tol_mm``)."""
    return (positions_mm >= centres_mm[0] - tol_mm) & (positions_mm <= centres_mm[-1] + tol_mm)


def dose_at_points(grid: DoseGrid, points_mm: np.ndarray, *, tol_mm: float = 1e-3) -> PointDoses:
    """Trilinear dose (Gy) of ``grid`` at (N, 3) points (x, y, z mm), vectorised.

    Points outside the grid's voxel-centre box (beyond ``tol_mm``) get 0 Gy and ``inside``
    False — the caller decides what that means. Non-uniform plane spacing is handled:
    positions map to fractional indices per axis
    (:func:`rtcheck.dvhcalc.sampling.fractional_index`), at which
    :func:`rtcheck.dvhcalc.sampling.trilinear` interpolates, as the DVH code does; within
    ``tol_mm`` outside the box that is the value at the outermost centres.
    """
    pts = np.asarray(points_mm, dtype=float).reshape(-1, 3)
    axes = ((grid.x_mm, pts[:, 0]), (grid.y_mm, pts[:, 1]), (grid.z_mm, pts[:, 2]))
    inside = np.ones(pts.shape[0], dtype=bool)
    for centres, positions in axes:
        inside &= _within_axis(centres, positions, tol_mm)
    if pts.shape[0]:
        fx, fy, fz = (fractional_index(centres, positions) for centres, positions in axes)
        dose = trilinear(grid.dose_gy, np.column_stack([fz, fy, fx]))
    else:
        dose = np.zeros(0)
    return PointDoses(np.where(inside, dose, 0.0), inside)


@dataclass(frozen=True, eq=False)
class ResampledDose:
    """A prior dose resampled onto another grid; ``outside`` marks voxels it did not cover."""

    grid: DoseGrid
    outside: np.ndarray

    @property
    def outside_fraction(self) -> float:
        """Share (0–1) of the target grid's voxels outside the prior grid."""
        return float(self.outside.mean()) if self.outside.size else 0.0


def resample_dose(prior: DoseGrid, onto: DoseGrid, prior_from_target: np.ndarray | None = None) -> ResampledDose:
    """Resample ``prior`` (trilinear) at the voxel centres of ``onto``.

    ``prior_from_target`` is the 4×4 matrix carrying coordinates of ``onto``'s frame into
    ``prior``'s frame (identity when both share a FrameOfReferenceUID). Voxels outside the
    prior grid get 0 Gy and are flagged in ``outside``.
    """
    if prior_from_target is None and prior.frame_of_reference_uid != onto.frame_of_reference_uid:
        raise InputError(
            f"prior dose is on frame of reference {prior.frame_of_reference_uid}, the target grid "
            f"on {onto.frame_of_reference_uid}; a registration matrix is needed",
            path=prior.source_files[0] if prior.source_files else None,
            remedy="export a rigid spatial registration (REG) linking the two planning CTs",
        )
    z, y, x = np.meshgrid(onto.z_mm, onto.y_mm, onto.x_mm, indexing="ij")
    points = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
    dose, inside = dose_at_points(prior, transform_points(prior_from_target, points))
    grid = dataclasses.replace(
        onto,
        dose_gy=dose.reshape(onto.shape),
        sop_instance_uids=prior.sop_instance_uids,
        source_files=prior.source_files,
        referenced_plan_uid=prior.referenced_plan_uid,
        dose_type=prior.dose_type,
        summation_type=prior.summation_type,
    )
    outside = (~inside).reshape(onto.shape)
    outside.setflags(write=False)
    return ResampledDose(grid, outside)


def frame_transform(registrations: Sequence[Registration], from_frame: str, to_frame: str) -> np.ndarray:
    """The 4×4 matrix carrying coordinates from ``from_frame`` to ``to_frame``: identity for
    one frame, else that of the first registration linking the two.

    InputError when none links them — the doses of the two frames cannot then be summed
    voxel by voxel.
    """
    if from_frame == to_frame:
        return np.eye(4)
    reg = linking_registration(registrations, from_frame, to_frame)
    if reg is not None:
        return reg.transform(from_frame, to_frame)
    raise InputError(
        f"the prior course is on frame of reference {from_frame} and the current plan on "
        f"{to_frame}, and no spatial registration (REG) links them",
        remedy="export the rigid registration of the two planning CTs (DICOM REG) into the "
        "prior or current folder, or give it with --registration",
    )


def linking_registration(
    registrations: Iterable[Registration], from_frame: str, to_frame: str
) -> Registration | None:
    """The first registration that links the two frames (the one :func:`frame_transform`
    uses), or None."""
    return next((reg for reg in registrations if reg.links(from_frame, to_frame)), None)


def prior_dose_at(
    prior: PriorCourse,
    points_mm: np.ndarray,
    current_frame: str | None,
    registrations: Iterable[Registration] = (),
) -> PointDoses:
    """Physical dose (Gy) of a DICOM prior course at points of the current frame.

    Frames that differ need a registration linking them: the course's own
    (``prior.registrations``: an explicit file, then those exported with it) are tried
    before the caller's (e.g. found in the current plan's folder).
    """
    assert prior.course is not None
    prior_frame = prior.course.dose.frame_of_reference_uid
    matrix = None
    if prior_frame and current_frame and prior_frame != current_frame:
        regs = [*prior.registrations, *registrations]
        try:
            matrix = frame_transform(regs, current_frame, prior_frame)
        except InputError as exc:
            skipped = [str(r.error) for r in regs if isinstance(r, UnusableRegistration)]
            also = f" (registrations found but not usable: {'; '.join(skipped)})" if skipped else ""
            raise InputError(f"prior course {prior.label!r}: {exc.message}{also}", path=prior.source,
                             remedy=exc.remedy) from None
    elif not prior_frame or not current_frame:
        # Without UIDs alignment cannot be told; summing would silently assume it.
        raise InputError(
            f"prior course {prior.label!r}: a FrameOfReferenceUID is missing, so alignment with the current plan is unknown",
            path=prior.source,
            remedy="export the doses with their frame of reference (and a REG object if the CTs differ)",
        )
    return dose_at_points(prior.course.dose, transform_points(matrix, points_mm))


__all__ = [
    "PointDoses",
    "ResampledDose",
    "dose_at_points",
    "frame_transform",
    "linking_registration",
    "prior_dose_at",
    "resample_dose",
    "transform_points",
]
