"""Writing a structure set as an RT Structure Set (contours on planes, ROI observations)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from rtcheck.models import ContourType, StructureSet

from .common import (
    DEFAULT_COLOURS,
    RT_STRUCTURE_SET_STORAGE,
    DicomContext,
    da,
    derived_uid,
    ds_str,
    new_dataset,
    save,
)


def write_structure_set(
    ss: StructureSet,
    path: str | Path,
    *,
    context: DicomContext,
    series_instance_uid: str | None = None,
    label: str | None = None,
    colours: dict[int, tuple[int, int, int]] | None = None,
    generation_algorithm: str = "MANUAL",
) -> Path:
    """Write ``ss`` as an RT Structure Set to ``path`` and return the path.

    Contour points are written in mm, rounded to 0.001 mm. No CT is referenced (the sample
    exports carry no images); every ROI refers to ``context.frame_of_reference_uid``.
    Interpreted types come from each :class:`~rtcheck.models.Structure` (default ORGAN).
    """
    if ss.frame_of_reference_uid not in (None, context.frame_of_reference_uid):
        raise ValueError("structure set and context have different frames of reference")
    series_uid = series_instance_uid or derived_uid(ss.sop_instance_uid, "series")
    ds = new_dataset(RT_STRUCTURE_SET_STORAGE, ss.sop_instance_uid, "RTSTRUCT", context,
                      series_uid, "RT structures")
    ds.InstanceNumber = 1
    ds.StructureSetLabel = (label or ss.label or "RTSTRUCT")[:16]
    ds.StructureSetName = (label or ss.label or "RTSTRUCT")[:64]
    ds.StructureSetDate = da(context.content_date)
    ds.StructureSetTime = context.content_time
    ds.FrameOfReferenceUID = context.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""

    frame = Dataset()
    frame.FrameOfReferenceUID = context.frame_of_reference_uid
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([frame])

    roi_items, contour_items, observation_items = [], [], []
    colours = colours or {}
    for index, structure in enumerate(ss.structures):
        roi = Dataset()
        roi.ROINumber = structure.roi_number
        roi.ReferencedFrameOfReferenceUID = context.frame_of_reference_uid
        roi.ROIName = structure.name
        roi.ROIGenerationAlgorithm = generation_algorithm
        roi_items.append(roi)

        roi_contour = Dataset()
        colour = colours.get(structure.roi_number) or structure.color_rgb or DEFAULT_COLOURS[
            index % len(DEFAULT_COLOURS)]
        roi_contour.ROIDisplayColor = [int(c) for c in colour]
        roi_contour.ReferencedROINumber = structure.roi_number
        items = []
        for number, contour in enumerate(structure.contours, start=1):
            item = Dataset()
            item.ContourNumber = number
            item.ContourGeometricType = contour.geometric_type.value
            points = contour.points_mm
            if contour.geometric_type is ContourType.CLOSED_PLANAR and len(points) > 1 and np.allclose(
                    points[0], points[-1]):
                points = points[:-1]  # DICOM closes the polygon implicitly
            item.NumberOfContourPoints = len(points)
            xyz = np.column_stack([points, np.full(len(points), contour.z_mm)])
            item.ContourData = [ds_str(v) for v in xyz.ravel()]
            items.append(item)
        if items:
            roi_contour.ContourSequence = DicomSequence(items)
        contour_items.append(roi_contour)

        observation = Dataset()
        observation.ObservationNumber = structure.roi_number
        observation.ReferencedROINumber = structure.roi_number
        observation.RTROIInterpretedType = structure.interpreted_type or "ORGAN"
        observation.ROIInterpreter = ""
        observation_items.append(observation)

    ds.StructureSetROISequence = DicomSequence(roi_items)
    ds.ROIContourSequence = DicomSequence(contour_items)
    ds.RTROIObservationsSequence = DicomSequence(observation_items)
    ds.ApprovalStatus = "UNAPPROVED"
    return save(ds, path)


# -- RTDOSE ---------------------------------------------------------------------------------

