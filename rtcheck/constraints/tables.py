"""Constraint tables: parse and validate one table file (header and rows).

The file format is documented in ``constraints/README.md``. In short, a table is a YAML
mapping with a header (name, version, description, arm, fractions, sources…) and a list of
rows written in a compact syntax::

    constraints:
      - SpinalCord: D0.035cc < 14 Gy
        level: hard
        source: TG-101
        confidence: secondary

Every problem found while reading a table is a :class:`~rtcheck.errors.ConstraintTableError`
carrying the file and the 1-based line, e.g. ``sabr-5fx.yaml:42: unknown metric 'D5c'``.
A row is read in named steps (organ, limit expression, level, minor band, source,
confidence, α/β, interval), each checking what it reads, in the order the errors are
reported.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..errors import ConstraintTableError
from ..models import (
    Comparison,
    Confidence,
    Constraint,
    ConstraintTable,
    DoseQuantity,
    LimitKind,
    Metric,
    MetricKind,
    Unit,
)
from .aliases import shipped_names
from .alpha_beta import shipped_alpha_beta
from .names import NameTable
from .shipped import ALPHA_BETA_FILE
from .sources import check_source_keys, parse_sources
from .yaml_lines import (
    YNode,
    load_yaml_with_lines,
    refuse_unknown_keys,
    require_mapping,
    require_number,
    require_text,
    require_text_list,
)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (recorded with each table, so a report names the exact
    table file it was checked against)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -----------------------------------------------------------------------------------------
# Row syntax
# -----------------------------------------------------------------------------------------
_EXPRESSION = re.compile(
    r"^\s*(?P<metric>[A-Za-z][A-Za-z0-9.%]*)\s*(?P<op><=|>=|<|>|≤|≥)\s*"
    r"(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>.*?)\s*$"
)
_OPS = {"<": Comparison.LT, "<=": Comparison.LE, "≤": Comparison.LE, ">": Comparison.GT, ">=": Comparison.GE, "≥": Comparison.GE}
_NUMBER = r"(?P<x>\d+(?:\.\d*)?|\.\d+)"
_METRIC_PATTERNS = (
    (re.compile(r"^Dmax$", re.I), MetricKind.MAX, None),
    (re.compile(r"^Dmin$", re.I), MetricKind.MIN, None),
    (re.compile(r"^D(?:mean|avg)$", re.I), MetricKind.MEAN, None),
    (re.compile(rf"^D{_NUMBER}(?P<u>cc|%)$", re.I), MetricKind.DOSE_AT_VOLUME, {"cc": False, "%": True}),
    (re.compile(rf"^V{_NUMBER}(?P<u>Gy|%)$", re.I), MetricKind.VOLUME_AT_DOSE, {"gy": False, "%": True}),
    (re.compile(rf"^CV{_NUMBER}(?P<u>Gy|%)$", re.I), MetricKind.CRITICAL_VOLUME, {"gy": False, "%": True}),
)
_DOSE_UNITS = {
    "gy": None,  # the table's own dose quantity
    "gyeqd2": DoseQuantity.EQD2,
    "gybed": DoseQuantity.BED,
    "gyphysical": DoseQuantity.PHYSICAL,
}
_CONFIDENCE = {
    "verified": Confidence.VERIFIED,
    "verified-from-source-text": Confidence.VERIFIED,
    "v": Confidence.VERIFIED,
    "secondary": Confidence.SECONDARY,
    "from-secondary-source": Confidence.SECONDARY,
    "s": Confidence.SECONDARY,
    "uncertain": Confidence.UNCERTAIN,
    "u": Confidence.UNCERTAIN,
    "derived": Confidence.DERIVED,
    "d": Confidence.DERIVED,
}
_ROW_FIELDS = ("level", "minor", "source", "confidence", "alpha_beta", "min_interval_months", "note")
_HEADER_FIELDS = (
    "name",
    "version",
    "description",
    "arm",
    "fractions",
    "prescription_gy",
    "dose_quantity",
    "required_organs",
    "alpha_beta",
    "sources",
    "constraints",
)


def parse_metric(text: str) -> Metric | None:
    """The :class:`Metric` for ``D0.035cc``, ``V20Gy``, ``CV13.5Gy``, ``Dmean``…; None if unknown."""
    for pattern, kind, relative_of in _METRIC_PATTERNS:
        m = pattern.match(text)
        if m:
            if relative_of is None:
                return Metric(kind=kind, parameter=None, relative=False, text=text)
            value = float(m.group("x"))
            relative = relative_of[m.group("u").lower()]
            return Metric(kind=kind, parameter=value, relative=relative, text=text)
    return None


class LimitUnit(NamedTuple):
    """The unit of a limit and, for a dose in Gy, its quantity (None: the table's own)."""

    unit: Unit
    quantity: DoseQuantity | None


def _parse_unit(unit_text: str, metric: Metric) -> LimitUnit | str:
    """The :class:`LimitUnit` for a limit's unit text, or an error message."""
    key = re.sub(r"[\s_]+", "", unit_text).lower()
    if key in ("gy2", "gy₂", "gy2/2"):
        return (
            f"unit '{unit_text}' is ambiguous (the literature uses it for BED at α/β 2 and for EQD2): "
            "write 'Gy BED' or 'Gy EQD2'"
        )
    if metric.gives_dose:
        if key in _DOSE_UNITS:
            return LimitUnit(Unit.GY, _DOSE_UNITS[key])
        if key == "%":
            return LimitUnit(Unit.PERCENT, None)
        return f"unit '{unit_text}' does not fit the dose metric {metric}: use Gy (or Gy EQD2, Gy BED, % of prescription)"
    if key == "cc":
        return LimitUnit(Unit.CC, None)
    if key == "%":
        return LimitUnit(Unit.PERCENT, None)
    return f"unit '{unit_text}' does not fit the volume metric {metric}: use cc or %"


class RowOrgan(NamedTuple):
    """The organ of a row: as written, its TG-263 name, and the 1-based line of the row."""

    written: str
    organ: str
    line: int


class RowLimit(NamedTuple):
    """A row's limit expression, read: ``metric comparison limit unit``."""

    metric: Metric
    comparison: Comparison
    limit: float
    unit: Unit
    quantity: DoseQuantity | None


@dataclass(frozen=True)
class RowContext:
    """What reading a row needs from its table: the file, the organ names, the table's
    sources, its dose quantity, and α/β (Gy) per organ and ``default`` for rows that state
    none."""

    path: Path
    names: NameTable
    sources: dict[str, str]
    table_quantity: DoseQuantity
    alpha_beta: dict[str, float]


def _parse_row(item: YNode, context: RowContext) -> Constraint:
    """One row of a table (``Organ: metric < limit unit`` plus its fields), validated."""
    path = context.path
    fields = require_mapping(item, "a constraint row ('Organ: metric < limit unit')", path)
    written, organ, line = _row_organ(item, fields, context.names, path)
    expression = require_text(fields[written], f"the constraint of {written}", path)
    limit = _parse_limit(expression, line=line, path=path, table_quantity=context.table_quantity)
    kind = _row_level(fields, path)
    minor = _row_minor_band(fields, kind, limit, path)
    if "source" not in fields:
        raise ConstraintTableError(f"row '{written}: {expression}' has no source", path=path, line=line)
    source = check_source_keys(fields["source"], context.sources, path)
    if "confidence" not in fields:
        raise ConstraintTableError(f"row '{written}: {expression}' has no confidence flag", path=path, line=line)
    confidence = _row_confidence(fields["confidence"], path)
    if "alpha_beta" in fields:
        ab: float | None = require_number(fields["alpha_beta"], "alpha_beta (Gy)", path)
    else:
        defaults = context.alpha_beta
        ab = defaults.get(organ, defaults.get(organ.split("_PRV")[0].split("-")[0], defaults.get("default")))
    min_interval = _row_min_interval(fields, context.table_quantity, path)
    note = str(fields["note"].value).strip() if "note" in fields and fields["note"].value is not None else ""
    return Constraint(
        organ=organ,
        metric=limit.metric,
        comparison=limit.comparison,
        limit=limit.limit,
        limit_unit=limit.unit,
        limit_quantity=limit.quantity if limit.unit is Unit.GY else None,
        kind=kind,
        minor_limit=minor,
        source=source,
        confidence=confidence,
        alpha_beta_gy=ab,
        note=note,
        line=line,
        min_interval_months=min_interval,
    )


def _row_organ(item: YNode, fields: dict[str, YNode], names: NameTable, path: Path) -> RowOrgan:
    """The row's one organ key (every other key is a known row field), as a TG-263 name."""
    organ_keys = [k for k in fields if k not in _ROW_FIELDS]
    if not organ_keys:
        raise ConstraintTableError("the row names no organ ('Organ: metric < limit unit')", path=path, line=item.line)
    if len(organ_keys) > 1:
        key = organ_keys[1]
        raise ConstraintTableError(
            f"unknown field '{key}' (a row has one organ; fields are {', '.join(_ROW_FIELDS)})",
            path=path,
            line=item.key_line(key),
        )
    written = organ_keys[0]
    line = item.key_line(written)
    organ = names.canonical_organ(written)
    if organ is None:
        raise ConstraintTableError(
            f"organ '{written}' is neither a TG-263 name nor an alias",
            path=path,
            line=line,
            remedy="use the TG-263 name (constraints/tg263_structures.csv) or add an alias with --aliases",
        )
    return RowOrgan(written, organ, line)


def _parse_limit(expression: str, *, line: int, path: Path, table_quantity: DoseQuantity) -> RowLimit:
    """Read ``metric < limit unit`` and check that metric, unit and the table's dose
    quantity fit together and the limit is in range."""
    m = _EXPRESSION.match(expression)
    if not m:
        raise ConstraintTableError(
            f"cannot read '{expression}': expected 'metric < limit unit', e.g. 'D0.035cc < 14 Gy'",
            path=path,
            line=line,
        )
    metric = parse_metric(m.group("metric"))
    if metric is None:
        raise ConstraintTableError(
            f"unknown metric '{m.group('metric')}'",
            path=path,
            line=line,
            remedy="use Dmax, Dmin, Dmean, D<x>cc, D<x>%, V<x>Gy, V<x>%, CV<x>Gy or CV<x>%",
        )
    if (
        metric.kind is MetricKind.DOSE_AT_VOLUME
        and metric.relative
        and not (metric.parameter is not None and 0 < metric.parameter <= 100)
    ):
        raise ConstraintTableError(f"metric {metric}: percent must be within 0–100", path=path, line=line)
    comparison = _OPS[m.group("op")]
    limit = float(m.group("value"))
    parsed = _parse_unit(m.group("unit"), metric)
    if isinstance(parsed, str):
        raise ConstraintTableError(parsed, path=path, line=line)
    unit, quantity = parsed
    if unit is Unit.GY:
        quantity = quantity or table_quantity
        if quantity is not table_quantity and not (
            {quantity, table_quantity} <= {DoseQuantity.EQD2, DoseQuantity.BED}
        ):
            raise ConstraintTableError(
                f"limit in {quantity.value} Gy in a table of {table_quantity.value} doses",
                path=path,
                line=line,
                remedy="set dose_quantity in the header, or write the limit in the table's quantity",
            )
    if table_quantity is not DoseQuantity.PHYSICAL and (
        (unit is Unit.PERCENT and metric.gives_dose) or (metric.relative and not metric.gives_dose)
    ):
        raise ConstraintTableError(
            "a dose relative to the prescription is only meaningful in a physical-dose table",
            path=path,
            line=line,
        )
    if limit < 0 or (unit is Unit.PERCENT and not metric.gives_dose and limit > 100):
        raise ConstraintTableError(f"limit {limit:g} {unit.value} is out of range", path=path, line=line)
    return RowLimit(metric=metric, comparison=comparison, limit=limit, unit=unit, quantity=quantity)


def _row_level(fields: dict[str, YNode], path: Path) -> LimitKind:
    """The row's ``level`` (hard or goal; hard when absent)."""
    if "level" not in fields:
        return LimitKind.HARD
    level_text = require_text(fields["level"], "level", path).lower()
    try:
        return LimitKind(level_text)
    except ValueError:
        raise ConstraintTableError(
            f"level '{level_text}' must be 'hard' or 'goal'", path=path, line=fields["level"].line
        ) from None


def _row_minor_band(fields: dict[str, YNode], kind: LimitKind, limit: RowLimit, path: Path) -> float | None:
    """The edge of the row's minor-deviation band (``minor``), in the limit's unit, which
    lies beyond a hard limit on its failing side; None when the row has none."""
    if "minor" not in fields:
        return None
    node = fields["minor"]
    if kind is not LimitKind.HARD:
        raise ConstraintTableError("a minor-deviation band belongs to a hard limit", path=path, line=node.line)
    text = str(node.value)
    mm = re.match(r"^\s*(?P<v>\d+(?:\.\d*)?)\s*(?P<u>.*?)\s*$", text)
    band = _parse_unit(mm.group("u"), limit.metric) if mm else "cannot read the band"
    if not mm or isinstance(band, str) or band.unit is not limit.unit:
        raise ConstraintTableError(
            f"minor band '{text}' must be a number in the limit's unit ({limit.unit.value})", path=path, line=node.line
        )
    minor = float(mm.group("v"))
    beyond = minor > limit.limit if limit.comparison.is_upper_limit else minor < limit.limit
    if not beyond:
        raise ConstraintTableError(
            f"minor band edge {minor:g} must lie beyond the limit {limit.limit:g} (on the failing side)",
            path=path,
            line=node.line,
        )
    return minor


def _row_confidence(node: YNode, path: Path) -> Confidence:
    """The row's ``confidence`` flag (verified, secondary, uncertain or derived)."""
    text = require_text(node, "confidence", path).lower()
    if text not in _CONFIDENCE:
        raise ConstraintTableError(
            f"confidence '{text}' must be verified, secondary, uncertain or derived",
            path=path,
            line=node.line,
        )
    return _CONFIDENCE[text]


def _row_min_interval(fields: dict[str, YNode], table_quantity: DoseQuantity, path: Path) -> float | None:
    """The row's ``min_interval_months`` (months between courses), allowed only in a
    re-irradiation table (EQD2 or BED); None when absent."""
    if "min_interval_months" not in fields:
        return None
    node = fields["min_interval_months"]
    if table_quantity is DoseQuantity.PHYSICAL:
        raise ConstraintTableError(
            "min_interval_months is a condition between courses: it belongs to a re-irradiation "
            "table (dose_quantity EQD2 or BED), not to a physical-dose table",
            path=path,
            line=node.line,
        )
    return require_number(node, "min_interval_months (a number of months, e.g. 6)", path)


def _row_key(c: Constraint) -> tuple:
    """What makes two rows the same limit (one organ, metric, direction and level)."""
    return (c.organ, c.metric.kind, c.metric.parameter, c.metric.relative, c.comparison.is_upper_limit, c.kind)


class TableHeader(NamedTuple):
    """The scalar header fields of a table."""

    name: str
    version: str
    description: str
    arm: str | None
    fractions: int | None
    prescription_gy: float | None
    dose_quantity: DoseQuantity


def parse_table(path: Path, names: NameTable | None = None) -> ConstraintTable:
    """Read and validate one table file (errors carry file:line).

    Organ names are resolved with ``names`` (default: the shipped names and aliases).
    """
    path = Path(path)
    names = names or shipped_names()
    root_node = load_yaml_with_lines(path)
    root = require_mapping(root_node, "a constraint table", path)
    refuse_unknown_keys(root_node, _HEADER_FIELDS, path, what="header field")
    for key in ("name", "version", "description", "sources", "constraints"):
        if key not in root:
            raise ConstraintTableError(f"missing header field '{key}'", path=path, line=1)
    header = _parse_header(root, path)
    sources = parse_sources(root, path)
    alpha_beta = _table_alpha_beta(root, names, path)
    required = _required_organs(root, names, path)
    context = RowContext(
        path=path, names=names, sources=sources, table_quantity=header.dose_quantity, alpha_beta=alpha_beta
    )
    constraints = _parse_rows(root["constraints"], context)
    for organ in required:
        if organ not in {c.organ for c in constraints}:
            raise ConstraintTableError(
                f"required organ {organ} has no constraint row", path=path, line=root_node.key_line("required_organs")
            )
    return ConstraintTable(
        name=header.name,
        version=header.version,
        description=header.description,
        constraints=constraints,
        sources=tuple(sources.items()),
        arm=header.arm,
        fractions=header.fractions,
        prescription_gy=header.prescription_gy,
        dose_quantity=header.dose_quantity,
        required_organs=required,
        alpha_beta_gy=tuple(alpha_beta.items()),
        path=path,
        sha256=sha256_of(path),
    )


def _parse_header(root: dict[str, YNode], path: Path) -> TableHeader:
    """Name, version, description (whitespace folded), arm (lower case), fractions,
    prescription (Gy) and dose quantity (physical unless stated)."""
    name = require_text(root["name"], "name", path)
    version = require_text(root["version"], "version", path)
    description = " ".join(require_text(root["description"], "description", path).split())
    arm = require_text(root["arm"], "arm", path).lower() if "arm" in root and root["arm"].value is not None else None
    fractions = None
    if "fractions" in root and root["fractions"].value is not None:
        value = root["fractions"].value
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConstraintTableError("fractions must be a whole number >= 1", path=path, line=root["fractions"].line)
        fractions = value
    prescription = None
    if "prescription_gy" in root and root["prescription_gy"].value is not None:
        prescription = require_number(root["prescription_gy"], "prescription_gy", path)
    quantity = DoseQuantity.PHYSICAL
    if "dose_quantity" in root:
        text = require_text(root["dose_quantity"], "dose_quantity", path)
        try:
            quantity = DoseQuantity(text if text in ("EQD2", "BED") else text.lower())
        except ValueError:
            raise ConstraintTableError(
                f"dose_quantity '{text}' must be physical, EQD2 or BED", path=path, line=root["dose_quantity"].line
            ) from None
    return TableHeader(
        name=name,
        version=version,
        description=description,
        arm=arm,
        fractions=fractions,
        prescription_gy=prescription,
        dose_quantity=quantity,
    )


def _table_alpha_beta(root: dict[str, YNode], names: NameTable, path: Path) -> dict[str, float]:
    """α/β (Gy) per TG-263 organ and ``default``: the shipped values, overridden by the
    header's ``alpha_beta`` (the shipped α/β file itself starts from none)."""
    alpha_beta = dict(shipped_alpha_beta()) if path.name != ALPHA_BETA_FILE else {}
    if "alpha_beta" in root:
        section = root["alpha_beta"]
        for organ, node in require_mapping(section, "alpha_beta", path).items():
            canonical = organ if organ == "default" else names.canonical_organ(organ)
            if canonical is None:
                raise ConstraintTableError(f"alpha_beta: unknown organ '{organ}'", path=path, line=section.key_line(organ))
            alpha_beta[canonical] = require_number(node, f"alpha_beta of {organ}", path)
    return alpha_beta


def _required_organs(root: dict[str, YNode], names: NameTable, path: Path) -> tuple[str, ...]:
    """The header's ``required_organs``, as TG-263 names."""
    required: list[str] = []
    if "required_organs" in root:
        for organ, line in require_text_list(root["required_organs"], "a required organ", path):
            canonical = names.canonical_organ(organ)
            if canonical is None:
                raise ConstraintTableError(f"required organ '{organ}' is not a TG-263 name nor an alias", path=path, line=line)
            required.append(canonical)
    return tuple(required)


def _parse_rows(rows_node: YNode, context: RowContext) -> tuple[Constraint, ...]:
    """The ``constraints:`` rows, in file order; two rows limiting the same thing are an
    error."""
    path = context.path
    if not isinstance(rows_node.value, list) or not rows_node.value:
        raise ConstraintTableError("'constraints' must be a non-empty list of rows", path=path, line=rows_node.line)
    constraints: list[Constraint] = []
    seen: dict[tuple, Constraint] = {}
    for item in rows_node.value:
        row = _parse_row(item, context)
        row_key = _row_key(row)
        if row_key in seen:
            raise ConstraintTableError(
                f"duplicate row: {row.organ} {row.metric} ({row.kind.value}) is already limited on line {seen[row_key].line}",
                path=path,
                line=row.line,
                remedy="keep one row (the more conservative value) and record the other in its note",
            )
        seen[row_key] = row
        constraints.append(row)
    return tuple(constraints)
