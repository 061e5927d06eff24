"""The pieces every HTML renderer of rtcheck builds its page from: escaped text, table cells
coloured by level, and tables. Every text that comes from the inputs goes through
:func:`esc` (a structure named ``Cord<PRV & 5mm`` stays text, never markup)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ..models import Level


def esc(value: object) -> str:
    """Text made safe for HTML content and attribute values (quotes included); '—' for None."""
    return "—" if value is None else escape(str(value), quote=True)


def level_words(level: Level) -> str:
    """A level as words (NOT EVALUATED, not NOT_EVALUATED)."""
    return level.value.replace("_", " ")


def level_cell(level: Level, extra: str = "") -> str:
    """A table cell with a level's word in its colour (CSS class ``lvl-LEVEL``), ``extra``
    (escaped) after it."""
    return f'<td class="lvl lvl-{level.value}">{level_words(level)}{esc(extra) if extra else ""}</td>'


def cell(text: object, *, num: bool = False) -> str:
    """A ``<td>`` with escaped text (right-aligned, tabular digits for numbers)."""
    return f'<td class="num">{esc(text)}</td>' if num else f"<td>{esc(text)}</td>"


def table_html(header: Sequence[str], rows: Sequence[Sequence[str]], *, css_class: str = "") -> str:
    """A table from header texts (escaped here) and rows of ready ``<td>`` cells."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    cls = f' class="{css_class}"' if css_class else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>"
