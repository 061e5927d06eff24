"""Shared test fixtures: locations of the repository, the sample data and ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DICOM = REPO / "sample_dicom"


def _shared_dir() -> Path | None:
    env = os.environ.get("RTCHECK_SHARED")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared", REPO.parent.parent / "shared"]:
        if (candidate / "testdata").is_dir():
            return candidate
    return None


SHARED = _shared_dir()


@pytest.fixture
def breast_export() -> Path:
    """The real dicompyler-core breast export (RTPLAN, RTSTRUCT, RTDOSE with TPS DVHs)."""
    if SHARED is None:
        pytest.skip("../shared/testdata not found; set RTCHECK_SHARED to run real-export tests")
    return SHARED / "testdata" / "dicompyler-breast"
