"""DoseGrid.taking (the reader's path: the dose array taken over, not copied) against the
constructor."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rtcheck.models import DoseGrid


def _axes():
    return np.arange(3.0), np.arange(4.0) * 2.5, np.array([-5.0, -2.0, 0.0, 7.5, 9.0])


def _dose():
    return np.random.default_rng(3).uniform(0.0, 60.0, size=(5, 4, 3))


def test_taking_gives_the_same_grid_as_the_constructor():
    x, y, z = _axes()
    extra = dict(
        frame_of_reference_uid="1.2.3",
        sop_instance_uids=["4.5.6"],
        source_files=["rd.dcm"],
        referenced_plan_uid="7.8",
        dose_type="PHYSICAL",
        summation_type="PLAN",
    )
    made = DoseGrid(dose_gy=_dose(), x_mm=x, y_mm=y, z_mm=z, **extra)
    taken = DoseGrid.taking(dose_gy=_dose(), x_mm=x, y_mm=y, z_mm=z, **extra)
    for f in dataclasses.fields(DoseGrid):
        a, b = getattr(made, f.name), getattr(taken, f.name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
            assert not b.flags.writeable and b.flags.c_contiguous
        else:
            assert a == b and type(a) is type(b)
    assert taken.source_files == (Path("rd.dcm"),)
    defaults = DoseGrid.taking(dose_gy=_dose(), x_mm=x, y_mm=y, z_mm=z)
    assert defaults.dose_type == "PHYSICAL" and defaults.sop_instance_uids == ()


def test_taking_does_not_copy_an_owned_array_but_copies_a_view():
    x, y, z = _axes()
    dose = _dose()
    grid = DoseGrid.taking(dose_gy=dose, x_mm=x, y_mm=y, z_mm=z)
    assert grid.dose_gy is dose and not dose.flags.writeable
    big = np.zeros((10, 4, 3))
    view = big[:5]
    grid = DoseGrid.taking(dose_gy=view, x_mm=x, y_mm=y, z_mm=z)
    assert not np.shares_memory(grid.dose_gy, big) and view.flags.writeable
    made = DoseGrid(dose_gy=_dose(), x_mm=x, y_mm=y, z_mm=z)
    assert made.dose_gy.flags.owndata


def _with(dose, index, value):
    dose[index] = value
    return dose


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d, x: (_with(d, (0, 0, 0), np.nan), x), "non-finite"),
        (lambda d, x: (_with(d, (1, 2, 0), -np.inf), x), "non-finite"),
        (lambda d, x: (d, x[::-1].copy()), "strictly increasing"),
        (lambda d, x: (d[:, :, :2].copy(), x), "does not match coordinates"),
    ],
)
def test_taking_refuses_what_the_constructor_refuses(change, message):
    x, y, z = _axes()
    for build in (DoseGrid, DoseGrid.taking):
        dose, xs = change(_dose(), x)
        with pytest.raises(ValueError, match=message):
            build(dose_gy=dose, x_mm=xs, y_mm=y, z_mm=z)


def test_taking_refuses_unknown_fields():
    x, y, z = _axes()
    with pytest.raises(TypeError, match="colour"):
        DoseGrid.taking(dose_gy=_dose(), x_mm=x, y_mm=y, z_mm=z, colour="red")
