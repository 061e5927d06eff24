"""Constraint data: YAML tables, aliases, structure names, α/β values — the loader and checks.

The data files ship in the top-level ``constraints/`` folder (installed as the package
``rtcheck.shipped_constraints``); this package reads them. Which module holds what:

* :mod:`~rtcheck.constraints.yaml_lines` — the one YAML-with-line-numbers loader of
  tables, alias files and course files (:class:`YNode`, :func:`load_yaml_with_lines`,
  :func:`parse_yaml_with_lines`, the plain-data view :class:`LinedDict`) and the validation
  steps every data file needs (``require_mapping``, ``require_text``, ``require_number``,
  ``require_text_list``, ``refuse_unknown_keys``), with file:line errors;
* :mod:`~rtcheck.constraints.shipped` — where the shipped files are (:func:`shipped_dir`)
  and their names;
* :mod:`~rtcheck.constraints.names` — TG-263 names and how a structure name is matched
  (:func:`normalize`, :class:`NameTable`, :func:`assign_organ`);
* :mod:`~rtcheck.constraints.aliases` — alias files (:func:`load_alias_file`,
  :func:`shipped_names`, :func:`names_with_site_aliases`);
* :mod:`~rtcheck.constraints.sources` — the ``sources:`` citations of a file;
* :mod:`~rtcheck.constraints.alpha_beta` — the shipped α/β defaults;
* :mod:`~rtcheck.constraints.tables` — a table file, header and rows (:func:`parse_table`,
  :func:`parse_metric`);
* :mod:`~rtcheck.constraints.selection` — the shipped tables and the choice of one
  (:func:`shipped_tables`, :func:`resolve_table`, :func:`select_table`).
"""

from .aliases import load_alias_file, names_with_site_aliases, shipped_names
from .alpha_beta import parse_alpha_beta_file, shipped_alpha_beta
from .names import NameTable, OrganAssignment, TG263Entry, assign_organ, load_tg263, normalize
from .selection import Selection, resolve_table, select_table, shipped_table, shipped_tables
from .shipped import ALIAS_FILE, ALPHA_BETA_FILE, NON_TABLE_FILES, TG263_FILE, shipped_dir
from .sources import check_source_keys, parse_sources
from .tables import parse_metric, parse_table, sha256_of
from .yaml_lines import (
    LinedDict,
    TextItem,
    YNode,
    load_yaml_with_lines,
    parse_yaml_with_lines,
    refuse_unknown_keys,
    require_mapping,
    require_number,
    require_text,
    require_text_list,
)

__all__ = [
    "ALIAS_FILE",
    "ALPHA_BETA_FILE",
    "NON_TABLE_FILES",
    "TG263_FILE",
    "NameTable",
    "OrganAssignment",
    "Selection",
    "TG263Entry",
    "LinedDict",
    "TextItem",
    "YNode",
    "assign_organ",
    "check_source_keys",
    "load_alias_file",
    "load_tg263",
    "load_yaml_with_lines",
    "names_with_site_aliases",
    "normalize",
    "parse_alpha_beta_file",
    "parse_metric",
    "parse_sources",
    "parse_table",
    "parse_yaml_with_lines",
    "refuse_unknown_keys",
    "require_mapping",
    "require_number",
    "require_text",
    "require_text_list",
    "resolve_table",
    "select_table",
    "sha256_of",
    "shipped_alpha_beta",
    "shipped_dir",
    "shipped_names",
    "shipped_table",
    "shipped_tables",
]
