"""Where the shipped data files are, and their names.

The top-level ``constraints/`` folder of the repository (data, not code: tables, aliases,
α/β values, the TG-263 list) ships inside the wheel as the package
``rtcheck.shipped_constraints`` (see ``setup.cfg``). It is distinct from this code package,
``rtcheck.constraints``. Each kind of file is parsed, once and cached, by the module that
reads that kind: :func:`~rtcheck.constraints.aliases.shipped_names`,
:func:`~rtcheck.constraints.alpha_beta.shipped_alpha_beta`,
:func:`~rtcheck.constraints.selection.shipped_tables`.
"""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

from ..errors import ConstraintTableError

TG263_FILE = "tg263_structures.csv"
ALIAS_FILE = "aliases.yaml"
ALPHA_BETA_FILE = "alpha_beta.yaml"
#: Files of the constraints folder that are not constraint tables.
NON_TABLE_FILES = (ALIAS_FILE, ALPHA_BETA_FILE)


@functools.lru_cache(maxsize=1)
def shipped_dir() -> Path:
    """Folder of the shipped constraint files.

    From an installed wheel this is the package ``rtcheck.shipped_constraints``; from a
    source checkout where that package cannot be imported, the repository's
    ``constraints/`` folder.
    """
    try:
        folder = Path(str(importlib.resources.files("rtcheck.shipped_constraints")))
        if (folder / TG263_FILE).is_file():
            return folder
    except (ModuleNotFoundError, TypeError):
        pass
    folder = Path(__file__).resolve().parents[2] / "constraints"
    if (folder / TG263_FILE).is_file():
        return folder
    raise ConstraintTableError(
        "the shipped constraint tables were not found",
        path=folder,
        remedy="reinstall rtcheck (pip install .) so that rtcheck.shipped_constraints is present",
    )
