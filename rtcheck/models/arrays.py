"""Read-only arrays: what every model holds, so that a model can be shared between
computations without being changed behind anyone's back."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike


def readonly_array(array: np.ndarray, dtype: DTypeLike | None = None) -> np.ndarray:
    """A read-only copy of ``array`` (converted to ``dtype`` when given).

    Always a copy: the caller may keep and change its own array without changing the model.
    """
    out = np.array(array, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out
