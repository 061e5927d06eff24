"""YAML with line numbers: the one loader of rtcheck's data files, and their validation steps.

Constraint tables, alias files, the α/β file and prior-course files are YAML written by
hand. An error in one must name the file and the line (``sabr-5fx.yaml:42: unknown metric
'D5c'``), so these files are not read into plain dicts: :func:`load_yaml_with_lines`
composes the YAML node tree and turns it into :class:`YNode` values, each carrying the
1-based line where it starts and, for a mapping, the line of each key.

The reader is strict where plain YAML is lenient: a key that appears twice in one mapping
is an error (plain YAML keeps the last silently, so a row could lose its limit unseen), and
keys must be text (numbers are taken as their text).

The small helpers below are the validation steps every data file needs (a mapping, a text,
a number, a list of texts, no unknown keys). Each raises
:class:`~rtcheck.errors.ConstraintTableError` with the file and line of the offending value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import yaml

from ..errors import ConstraintTableError


@dataclass(frozen=True)
class YNode:
    """A YAML value with the 1-based line where it starts.

    ``value`` is a Python scalar (text, number, bool, None, ``datetime.date``…), a
    ``dict[str, YNode]`` or a ``list[YNode]``; ``key_lines`` holds the line of each key of
    a mapping, in the file's order.
    """

    value: object
    line: int
    key_lines: tuple[tuple[str, int], ...] = ()

    def key_line(self, key: str) -> int:
        """The 1-based line of ``key`` in this mapping (the mapping's own line if absent)."""
        return dict(self.key_lines).get(key, self.line)

    def plain(self) -> object:
        """The value as plain Python data: scalars, lists, and for each mapping a
        :class:`LinedDict` (a dict that keeps its line and its keys' lines), for code that
        reads a sub-tree as ordinary data and still names lines in its messages."""
        if isinstance(self.value, dict):
            return LinedDict({key: node.plain() for key, node in self.value.items()}, self.line, self.key_lines)
        if isinstance(self.value, list):
            return [node.plain() for node in self.value]
        return self.value


class LinedDict(dict):
    """A plain dict (equal to any dict with the same items) that remembers the 1-based
    ``line`` where its mapping starts and the line of each key (see :meth:`YNode.plain`)."""

    def __init__(self, items: dict[str, object], line: int, key_lines: tuple[tuple[str, int], ...] = ()) -> None:
        """``items`` as a dict, starting on ``line``, its keys on ``key_lines``."""
        super().__init__(items)
        self.line = line
        self.key_lines = key_lines

    def key_line(self, key: str) -> int:
        """The 1-based line of ``key`` (the mapping's own line if absent)."""
        return dict(self.key_lines).get(key, self.line)


class TextItem(NamedTuple):
    """One text of a list of texts, with the 1-based line where it is written."""

    text: str
    line: int


def _convert(node: yaml.Node, path: Path, scalars: yaml.constructor.SafeConstructor) -> YNode:
    """The :class:`YNode` tree of a composed YAML node (keys checked: text, no repeats)."""
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, YNode] = {}
        lines: list[tuple[str, int]] = []
        for key_node, value_node in node.value:
            key = _scalar(key_node, path, scalars) if isinstance(key_node, yaml.ScalarNode) else None
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, str | int | float) or isinstance(key, bool):
                raise ConstraintTableError("mapping keys must be plain text", path=path, line=key_line)
            key = str(key)
            if key in out:
                raise ConstraintTableError(
                    f"key '{key}' appears twice in the same mapping (first on line {dict(lines)[key]})",
                    path=path,
                    line=key_line,
                )
            out[key] = _convert(value_node, path, scalars)
            lines.append((key, key_line))
        return YNode(out, line, tuple(lines))
    if isinstance(node, yaml.SequenceNode):
        return YNode([_convert(item, path, scalars) for item in node.value], line)
    return YNode(_scalar(node, path, scalars), line)


def _scalar(node: yaml.Node, path: Path, scalars: yaml.constructor.SafeConstructor) -> object:
    """The value of a scalar node, or ConstraintTableError with its line when no safe
    constructor can build it (an unknown ``!tag``; a date-like value that is no date, such
    as 2025-13-01, which YAML's timestamp rule takes for one)."""
    try:
        return scalars.construct_object(node)
    except (yaml.constructor.ConstructorError, ValueError, OverflowError) as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConstraintTableError(
            f"the value {node.value!r} cannot be read: {problem}",
            path=path,
            line=node.start_mark.line + 1,
            remedy="write plain text, a number, or a real date as YYYY-MM-DD",
        ) from exc


def parse_yaml_with_lines(text: str, path: Path) -> YNode | None:
    """The :class:`YNode` tree of the YAML document ``text`` read from ``path``; None when
    the document is empty.

    A YAML syntax error propagates as :class:`yaml.YAMLError`, for the caller to word for
    its kind of file; a repeated or non-text key, or a scalar no safe constructor can build
    (an unknown tag, an impossible date), raises :class:`ConstraintTableError` with its line. Scalars are typed as
    :class:`yaml.SafeLoader` types them (dates become ``datetime.date``).
    """
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    return None if node is None else _nodes_with_lines(node, Path(path))


def _nodes_with_lines(node: yaml.Node, path: Path) -> YNode:
    """The :class:`YNode` tree of a composed document."""
    # a fresh constructor per document: SafeConstructor remembers every node it builds
    return _convert(node, path, yaml.constructor.SafeConstructor())


def load_yaml_with_lines(path: Path) -> YNode:
    """Read a YAML data file into :class:`YNode` values.

    Every failure is a :class:`ConstraintTableError` naming the file: unreadable, not
    UTF-8, a syntax error (with its line), an empty file, a repeated or non-text key, a
    scalar no safe constructor can build (``!foo``, a date like 2025-13-01).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConstraintTableError(f"cannot read the file ({exc.strerror})", path=path) from exc
    except UnicodeDecodeError as exc:
        raise ConstraintTableError("the file is not UTF-8 text", path=path) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConstraintTableError(
            f"YAML syntax error: {exc.problem or exc}", path=path, line=line, remedy="fix the YAML syntax"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConstraintTableError(f"YAML error: {exc}", path=path) from exc
    if node is None:
        raise ConstraintTableError("the file is empty", path=path, line=1)
    return _nodes_with_lines(node, path)


def require_mapping(node: YNode, what: str, path: Path) -> dict[str, YNode]:
    """The mapping held by ``node``; an error naming ``what`` when it is not a mapping."""
    if not isinstance(node.value, dict):
        raise ConstraintTableError(f"{what} must be a mapping (key: value lines)", path=path, line=node.line)
    return node.value


def require_text(node: YNode, what: str, path: Path) -> str:
    """The non-empty text held by ``node`` (a number is taken as its text), stripped."""
    if not isinstance(node.value, str | int | float) or isinstance(node.value, bool) or node.value == "":
        raise ConstraintTableError(f"{what} must be text", path=path, line=node.line)
    return str(node.value).strip()


def require_number(node: YNode, what: str, path: Path, *, positive: bool = True) -> float:
    """The number held by ``node`` as a float; with ``positive`` it must be > 0."""
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConstraintTableError(f"{what} must be a number, got {value!r}", path=path, line=node.line)
    if positive and not value > 0:
        raise ConstraintTableError(f"{what} must be > 0, got {value!r}", path=path, line=node.line)
    return float(value)


def require_text_list(node: YNode, what: str, path: Path) -> list[TextItem]:
    """The texts of a list, each with its line; a single text counts as a list of one."""
    items = node.value if isinstance(node.value, list) else [node]
    return [TextItem(require_text(item, what, path), item.line) for item in items]


def refuse_unknown_keys(node: YNode, known: tuple[str, ...], path: Path, what: str = "field") -> None:
    """An error at the first key of mapping ``node`` that is not in ``known``."""
    for key in node.value if isinstance(node.value, dict) else ():
        if key not in known:
            raise ConstraintTableError(
                f"unknown {what} '{key}' (expected one of {', '.join(known)})", path=path, line=node.key_line(key)
            )
