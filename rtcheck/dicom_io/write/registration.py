"""Writing a rigid spatial registration (REG) between two frames of reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from .common import (
    SPATIAL_REGISTRATION_STORAGE,
    DicomContext,
    da,
    derived_uid,
    ds_general,
    new_dataset,
    save,
)


@dataclass(frozen=True)
class RigidRegistration:
    """A rigid registration: ``matrix`` (4×4) maps points of ``moving_frame_uid`` into the
    registered frame ``fixed_frame_uid`` (homogeneous column vectors, mm):
    ``p_fixed = matrix @ [x, y, z, 1]`` with ``[x, y, z]`` in the moving frame.
    """

    fixed_frame_uid: str
    moving_frame_uid: str
    matrix: np.ndarray = field(default_factory=lambda: np.eye(4))

    def __post_init__(self) -> None:
        m = np.asarray(self.matrix, dtype=float)
        if m.shape != (4, 4) or not np.allclose(m[3], [0, 0, 0, 1]):
            raise ValueError("a rigid registration matrix must be 4×4 with last row 0 0 0 1")
        rotation = m[:3, :3]
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6) or not np.isclose(
                np.linalg.det(rotation), 1.0, atol=1e-6):
            raise ValueError("the 3×3 part of a rigid registration must be a rotation")
        object.__setattr__(self, "matrix", m)


def write_registration(
    registration: RigidRegistration,
    path: str | Path,
    *,
    context: DicomContext,
    sop_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    description: str = "rigid registration",
) -> Path:
    """Write a Spatial Registration object (REG) with one rigid matrix.

    The object's own FrameOfReferenceUID is the fixed (registered) frame, which must be the
    context's frame. It holds two RegistrationSequence items: the fixed frame with the
    identity, and the moving frame with ``registration.matrix`` (moving → fixed).
    """
    if registration.fixed_frame_uid != context.frame_of_reference_uid:
        raise ValueError("the registration's fixed frame must be the context's frame of reference")
    sop_uid = sop_instance_uid or derived_uid(registration.fixed_frame_uid,
                                              registration.moving_frame_uid, "reg")
    series_uid = series_instance_uid or derived_uid(sop_uid, "series")
    ds = new_dataset(SPATIAL_REGISTRATION_STORAGE, sop_uid, "REG", context, series_uid,
                      description)
    ds.ContentDate = da(context.content_date)
    ds.ContentTime = context.content_time
    ds.InstanceNumber = 1
    ds.ContentLabel = "REGISTRATION"
    ds.ContentDescription = description[:64]
    ds.ContentCreatorName = ""
    ds.FrameOfReferenceUID = context.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.Laterality = ""

    items = []
    for frame_uid, matrix in ((registration.fixed_frame_uid, np.eye(4)),
                              (registration.moving_frame_uid, registration.matrix)):
        item = Dataset()
        item.FrameOfReferenceUID = frame_uid
        matrix_item = Dataset()
        matrix_item.FrameOfReferenceTransformationMatrixType = "RIGID"
        matrix_item.FrameOfReferenceTransformationMatrix = [ds_general(v) for v in
                                                            np.asarray(matrix).ravel()]
        matrix_reg = Dataset()
        matrix_reg.MatrixSequence = DicomSequence([matrix_item])
        category = Dataset()
        category.CodeValue = "125025"
        category.CodingSchemeDesignator = "DCM"
        category.CodeMeaning = "Visual Alignment"
        matrix_reg.RegistrationTypeCodeSequence = DicomSequence([category])
        item.MatrixRegistrationSequence = DicomSequence([matrix_reg])
        items.append(item)
    ds.RegistrationSequence = DicomSequence(items)
    return save(ds, path)
