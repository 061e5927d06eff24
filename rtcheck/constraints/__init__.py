"""Constraint tables and structure names (being split into modules, issue #13)."""

from .names import NameTable, OrganAssignment, TG263Entry, assign_organ, load_tg263, normalize
from .tables import (
    ALIAS_FILE,
    ALPHA_BETA_FILE,
    NON_TABLE_FILES,
    Selection,
    TG263_FILE,
    YNode,
    load_alias_file,
    load_yaml_with_lines,
    names_with_site_aliases,
    parse_metric,
    parse_table,
    resolve_table,
    select_table,
    sha256_of,
    shipped_alpha_beta,
    shipped_dir,
    shipped_names,
    shipped_table,
    shipped_tables,
)
