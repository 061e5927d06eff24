"""rtcheck: check radiotherapy plans (DICOM RT) against dose constraints.

The package is a library first; :mod:`rtcheck.cli` is a thin command line on top.
Units inside rtcheck: dose in Gy, volume in cc (cm³), positions in mm.
"""

__version__ = "0.1.0"
