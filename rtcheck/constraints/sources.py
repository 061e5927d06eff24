"""Citations: the ``sources:`` mapping of a table or α/β file, and the source keys of its rows.

Every limit and every α/β value names its source by a short key; the key must be listed,
with its full citation, in the file's own ``sources:`` mapping, so that no number enters
a table without a reference a reader can look up.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConstraintTableError
from .yaml_lines import YNode, require_mapping, require_text, require_text_list


def parse_sources(root: dict[str, YNode], path: Path) -> dict[str, str]:
    """The file's ``sources:`` mapping, short key → full citation (non-empty)."""
    if "sources" not in root:
        raise ConstraintTableError("missing 'sources' (key: full citation)", path=path, line=1)
    node = root["sources"]
    mapping = require_mapping(node, "sources", path)
    if not mapping:
        raise ConstraintTableError("'sources' is empty", path=path, line=node.line)
    return {key: require_text(value, f"citation of {key}", path) for key, value in mapping.items()}


def check_source_keys(node: YNode, sources: dict[str, str], path: Path) -> str:
    """The source keys of one entry (a text, comma-separated texts or a list), each checked
    against ``sources``, joined as ``"key1, key2"``."""
    keys = [k.strip() for k, _ in require_text_list(node, "source", path) for k in k.split(",")]
    for key in keys:
        if key not in sources:
            raise ConstraintTableError(
                f"source '{key}' is not in the table's sources list",
                path=path,
                line=node.line,
                remedy="add it under 'sources:' with its full citation",
            )
    return ", ".join(keys)
