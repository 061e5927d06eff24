"""DICOM Spatial Registration objects (modality REG): rigid matrices linking frames of reference.

Direction of the matrix (DICOM PS3.3 C.20.2 and C.20.2.1.1, PS3.17 Annex O/P): every item
of the RegistrationSequence names a *source* frame (its FrameOfReferenceUID) and, in
MatrixRegistrationSequence > MatrixSequence, a 4×4 matrix ``M`` (FrameOfReferenceTransformation
Matrix, row-major) that "registers the Source RCS to the Registered RCS": a point ``p_src``
(homogeneous, mm) in the item's frame maps to ``M @ p_src`` in the frame of the REG object
itself (its top-level FrameOfReferenceUID). The REG object's own frame therefore has the
identity matrix, whether or not an item says so.

To carry coordinates from frame A to frame B through one REG object:
``B_from_A = inv(M_B) @ M_A`` (PS3.3 Equation C.20.2-3).

Only what re-irradiation summation needs is supported: rigid matrices (type RIGID, checked
to be orthonormal with determinant +1), one matrix per item. Deformable registration, and
chains of several matrices in one MatrixSequence, are refused with an :class:`InputError`
rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from ..errors import InputError

SPATIAL_REGISTRATION_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.1"
DEFORMABLE_REGISTRATION_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.3"

#: Tolerance on RᵀR = I and det R = 1 for a matrix to count as rigid.
RIGID_TOLERANCE = 1e-4


@dataclass(frozen=True, eq=False)
class RigidRegistration:
    """The rigid matrices of one REG object.

    ``matrices[uid]`` maps homogeneous coordinates (mm) in frame ``uid`` to the registered
    frame ``frame_of_reference_uid`` (the REG object's own frame).
    """

    frame_of_reference_uid: str
    matrices: dict[str, np.ndarray] = field(default_factory=dict)
    sop_instance_uid: str | None = None
    source_file: Path | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        """Check every matrix is rigid and hold it read-only; the object's own frame maps
        by the identity."""
        checked = {}
        for uid, matrix in self.matrices.items():
            m = np.array(matrix, dtype=float).reshape(4, 4)
            check_rigid(m, self.source_file)
            m.setflags(write=False)
            checked[str(uid)] = m
        checked.setdefault(self.frame_of_reference_uid, _identity())
        object.__setattr__(self, "matrices", checked)

    @property
    def frames(self) -> frozenset[str]:
        """The frames of reference this registration places (its own included)."""
        return frozenset(self.matrices)

    def links(self, frame_a: str, frame_b: str) -> bool:
        """True when this registration carries coordinates between the two frames."""
        return frame_a in self.matrices and frame_b in self.matrices

    def transform(self, from_frame: str, to_frame: str) -> np.ndarray:
        """4×4 matrix carrying coordinates (mm) in ``from_frame`` to ``to_frame``."""
        for uid in (from_frame, to_frame):
            if uid not in self.matrices:
                raise InputError(
                    f"the spatial registration does not register frame of reference {uid} "
                    f"(it links {', '.join(sorted(self.matrices))})",
                    path=self.source_file,
                    remedy="export the registration between the prior and the current planning CT",
                )
        return np.linalg.inv(self.matrices[to_frame]) @ self.matrices[from_frame]


def _identity() -> np.ndarray:
    """A read-only 4×4 identity matrix."""
    m = np.eye(4)
    m.setflags(write=False)
    return m


def check_rigid(matrix: np.ndarray, path: Path | None = None) -> None:
    """Raise InputError unless ``matrix`` is a rigid 4×4 homogeneous transform."""
    m = np.asarray(matrix, dtype=float)
    problem = None
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        problem = "is not a finite 4×4 matrix"
    elif not np.allclose(m[3], [0, 0, 0, 1], atol=RIGID_TOLERANCE):
        problem = f"has last row {m[3].tolist()}, not (0, 0, 0, 1)"
    else:
        rot = m[:3, :3]
        if not np.allclose(rot.T @ rot, np.eye(3), atol=RIGID_TOLERANCE):
            problem = "has a rotation part that is not orthonormal (scaling or shear)"
        elif np.linalg.det(rot) < 0:
            problem = "is a reflection (determinant -1)"
    if problem:
        raise InputError(
            f"registration matrix {problem}; only rigid registrations are supported",
            path=path,
            remedy="export a rigid registration (type RIGID) between the planning CTs",
        )


def read_registration(path: str | Path) -> RigidRegistration:
    """Read a Spatial Registration (REG) file into a :class:`RigidRegistration`."""
    path = Path(path)
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError) as exc:
        raise InputError(f"cannot read DICOM file: {exc}", path=path) from exc
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class == DEFORMABLE_REGISTRATION_SOP_CLASS:
        raise InputError(
            "deformable registrations are not supported for dose summation",
            path=path,
            remedy="export a rigid registration, or sum the courses in the planning system",
        )
    if ds.get("Modality") != "REG" and sop_class != SPATIAL_REGISTRATION_SOP_CLASS:
        raise InputError(f"not a spatial registration object (Modality {ds.get('Modality')!r})", path=path)
    own_frame = ds.get("FrameOfReferenceUID")
    if not own_frame:
        raise InputError("REG object has no FrameOfReferenceUID (0020,0052)", path=path, remedy="re-export the registration")
    matrices: dict[str, np.ndarray] = {}
    comment = None
    for number, item in enumerate(ds.get("RegistrationSequence", []), start=1):
        frame = item.get("FrameOfReferenceUID")
        if not frame:
            raise InputError(
                f"RegistrationSequence item {number} names no FrameOfReferenceUID "
                "(registrations by image reference only are not supported)",
                path=path,
                remedy="export the registration with frame-of-reference UIDs",
            )
        mrs = item.get("MatrixRegistrationSequence", [])
        if len(mrs) != 1:
            raise InputError(f"RegistrationSequence item {number} has {len(mrs)} MatrixRegistrationSequence items, expected 1", path=path)
        comment = comment or mrs[0].get("FrameOfReferenceTransformationComment")
        matrix_items = mrs[0].get("MatrixSequence", [])
        if len(matrix_items) != 1:
            raise InputError(
                f"RegistrationSequence item {number} chains {len(matrix_items)} matrices; "
                "only a single rigid matrix per frame is supported",
                path=path,
                remedy="export the registration as one rigid matrix",
            )
        kind = matrix_items[0].get("FrameOfReferenceTransformationMatrixType", "RIGID")
        if kind != "RIGID":
            raise InputError(
                f"registration matrix type {kind} is not supported (only RIGID)",
                path=path,
                remedy="export a rigid registration",
            )
        values = matrix_items[0].get("FrameOfReferenceTransformationMatrix")
        if values is None or len(values) != 16:
            raise InputError(f"RegistrationSequence item {number} has no 16-value FrameOfReferenceTransformationMatrix", path=path)
        m = np.array([float(v) for v in values]).reshape(4, 4)
        check_rigid(m, path)
        if frame in matrices and not np.allclose(matrices[frame], m, atol=1e-6):
            raise InputError(f"frame {frame} is registered twice with different matrices", path=path)
        matrices[str(frame)] = m
    if not matrices:
        raise InputError("REG object has an empty RegistrationSequence", path=path, remedy="re-export the registration")
    return RigidRegistration(
        frame_of_reference_uid=str(own_frame),
        matrices=matrices,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")) or None,
        source_file=path,
        comment=str(comment) if comment else None,
    )


def find_registrations(folder: str | Path, *, unusable: list[InputError] | None = None) -> list[RigidRegistration]:
    """Every REG object under ``folder`` (recursively), in path order.

    Files that are not DICOM, or DICOM of another modality, are skipped. A REG file that
    cannot be used (deformable, chained, not rigid…) raises :class:`InputError` — or, when
    an ``unusable`` list is given, its error is appended there and the file skipped (a
    folder may hold registrations that have nothing to do with the frames needed).
    """
    found = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file():
            continue
        try:
            head = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality", "SOPClassUID"])
        except (InvalidDicomError, OSError, AttributeError, ValueError):
            continue
        if head.get("Modality") == "REG" or str(head.get("SOPClassUID", "")) in (
            SPATIAL_REGISTRATION_SOP_CLASS,
            DEFORMABLE_REGISTRATION_SOP_CLASS,
        ):
            try:
                found.append(read_registration(path))
            except InputError as exc:
                if unusable is None:
                    raise
                unusable.append(exc)
    return found
