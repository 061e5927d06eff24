"""Make dicompyler-core 0.5.6 (the newest on PyPI) importable under pydicom 3.

dicompyler-core 0.5.6 was released for pydicom 2; its ``dicomparser`` module does::

    from pydicom.dicomio import read_file                 # removed in pydicom 3.0
    from pydicom.dataset import Dataset, validate_file_meta
    from pydicom.pixel_data_handlers.util import pixel_dtype   # deprecated, removed in 4.0

and falls back to the pre-1.0 ``dicom`` package when the first import fails, so under
pydicom 3 ``import dicompylercore.dicomparser`` dies with ``No module named 'dicom'``.
Upstream fixed this on its main branch (dicompyler/dicompyler-core issues #380/#385,
PR #384) but had not released the fix when this was written.

It also calls ``Dataset.fix_meta_info()`` (removed in pydicom 3) when a file's meta
information does not validate. Files from planning systems and from rtcheck's writer
carry valid meta, so this path is rarely taken; a minimal replacement is provided anyway.

Nothing else is needed for ``dvhcalc.get_dvh`` (default and interpolating modes). The shim
only adds missing names; it changes no behaviour of pydicom or dicompyler-core. It lives in
benchmarks/ because rtcheck itself does not use dicompyler-core.

Usage: ``from dicompyler_shim import dvhcalc, dicomparser`` (or call :func:`install` before
importing dicompylercore).
"""

from __future__ import annotations

import warnings

import pydicom
import pydicom.dataset
import pydicom.dicomio
import pydicom.uid


def _fix_meta_info(self, enforce_standard: bool = True) -> None:
    """Minimal stand-in for pydicom 2's ``Dataset.fix_meta_info``."""
    meta = getattr(self, "file_meta", None)
    if meta is None:
        meta = pydicom.dataset.FileMetaDataset()
        self.file_meta = meta
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    if "SOPClassUID" in self:
        meta.MediaStorageSOPClassUID = self.SOPClassUID
    if "SOPInstanceUID" in self:
        meta.MediaStorageSOPInstanceUID = self.SOPInstanceUID
    if enforce_standard:
        pydicom.dataset.validate_file_meta(meta, enforce_standard=True)


def install() -> None:
    """Add the names dicompyler-core 0.5.6 expects to pydicom 3 (idempotent)."""
    if not hasattr(pydicom.dicomio, "read_file"):
        pydicom.dicomio.read_file = pydicom.dcmread
    if not hasattr(pydicom.dataset.Dataset, "fix_meta_info"):
        pydicom.dataset.Dataset.fix_meta_info = _fix_meta_info
    # dicomparser imports pixel_dtype from the deprecated location; keep that quiet.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pydicom\..*")
    warnings.filterwarnings("ignore", message=r".*pixel_data_handlers.*", category=DeprecationWarning)


install()

from dicompylercore import dicomparser, dvhcalc  # noqa: E402  (after install())

__all__ = ["dicomparser", "dvhcalc", "install"]
