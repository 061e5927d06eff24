"""Attribute values of a data set, decoded the same way by every reader: text, dates and
referenced UIDs, each ``None`` (or empty) when absent rather than an exception."""

from __future__ import annotations

import datetime as _dt

from pydicom.dataset import Dataset


def text_value(ds: Dataset, keyword: str) -> str | None:
    """The attribute ``keyword`` as stripped text; None when absent or blank."""
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _parse_date(value: object) -> _dt.date | None:
    """A DICOM date (DA, ``YYYYMMDD``, anything after the 8 digits ignored); None when it
    is not one."""
    text = str(value or "").strip()
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        return _dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def first_date(ds: Dataset, *keywords: str) -> _dt.date | None:
    """The first of the date attributes ``keywords`` that holds a valid date; None if none."""
    for keyword in keywords:
        date = _parse_date(ds.get(keyword))
        if date is not None:
            return date
    return None


def referenced_uids(ds: Dataset, sequence: str) -> list[str]:
    """The ReferencedSOPInstanceUIDs of the items of ``sequence``, in order (items without
    one left out)."""
    return [
        str(item.ReferencedSOPInstanceUID)
        for item in ds.get(sequence) or []
        if item.get("ReferencedSOPInstanceUID")
    ]
