"""Constraint tables: parse and validate table files, load the shipped ones, select one.

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

Tables are selected by :func:`select_table` only (arm, fraction count and prescription
come from the table headers, not from constants in the code), so a protocol object can own
the selection later.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConstraintTableError, UsageError
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
from .names import NameTable, load_tg263, normalize

#: Files of the constraints folder that are not constraint tables.
NON_TABLE_FILES = ("aliases.yaml", "alpha_beta.yaml")
TG263_FILE = "tg263_structures.csv"
ALIAS_FILE = "aliases.yaml"
ALPHA_BETA_FILE = "alpha_beta.yaml"


# -----------------------------------------------------------------------------------------
# YAML with line numbers
# -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class YNode:
    """A YAML value with the 1-based line where it starts.

    ``value`` is a Python scalar, a ``dict[str, YNode]`` or a ``list[YNode]``; ``key_lines``
    holds the line of each key of a mapping.
    """

    value: object
    line: int
    key_lines: tuple[tuple[str, int], ...] = ()

    def key_line(self, key: str) -> int:
        return dict(self.key_lines).get(key, self.line)


_SCALARS = yaml.constructor.SafeConstructor()


def _convert(node: yaml.Node, path: Path) -> YNode:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, YNode] = {}
        lines: list[tuple[str, int]] = []
        for key_node, value_node in node.value:
            key = _SCALARS.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
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
            out[key] = _convert(value_node, path)
            lines.append((key, key_line))
        return YNode(out, line, tuple(lines))
    if isinstance(node, yaml.SequenceNode):
        return YNode([_convert(item, path) for item in node.value], line)
    return YNode(_SCALARS.construct_object(node), line)


def load_yaml_with_lines(path: Path) -> YNode:
    """Read a YAML file into :class:`YNode` values (syntax errors carry their line)."""
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
    return _convert(node, path)


def _require_mapping(node: YNode, what: str, path: Path) -> dict[str, YNode]:
    if not isinstance(node.value, dict):
        raise ConstraintTableError(f"{what} must be a mapping (key: value lines)", path=path, line=node.line)
    return node.value  # type: ignore[return-value]


def _text(node: YNode, what: str, path: Path) -> str:
    if not isinstance(node.value, str | int | float) or isinstance(node.value, bool) or node.value == "":
        raise ConstraintTableError(f"{what} must be text", path=path, line=node.line)
    return str(node.value).strip()


def _number(node: YNode, what: str, path: Path, *, positive: bool = True) -> float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConstraintTableError(f"{what} must be a number, got {value!r}", path=path, line=node.line)
    if positive and not value > 0:
        raise ConstraintTableError(f"{what} must be > 0, got {value!r}", path=path, line=node.line)
    return float(value)


def _refuse_unknown_keys(node: YNode, known: tuple[str, ...], path: Path, what: str = "field") -> None:
    for key in node.value if isinstance(node.value, dict) else ():
        if key not in known:
            raise ConstraintTableError(
                f"unknown {what} '{key}' (expected one of {', '.join(known)})", path=path, line=node.key_line(key)
            )


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -----------------------------------------------------------------------------------------
# Where the shipped files are
# -----------------------------------------------------------------------------------------
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


# -----------------------------------------------------------------------------------------
# Aliases
# -----------------------------------------------------------------------------------------
def _text_list(node: YNode, what: str, path: Path) -> list[tuple[str, int]]:
    items = node.value if isinstance(node.value, list) else [node]
    return [(_text(item, what, path), item.line) for item in items]


def load_alias_file(path: Path, base: NameTable | None = None) -> NameTable:
    """Read an alias file (format in constraints/README.md) into a :class:`NameTable`.

    With ``base`` (the shipped table), the file's entries are validated against it and
    merged on top of it (a site's alias wins over a shipped one).
    """
    path = Path(path)
    tg263 = base.tg263 if base is not None else load_tg263(shipped_dir() / TG263_FILE)
    check = NameTable(tg263=tg263)
    root_node = load_yaml_with_lines(path)
    root = _require_mapping(root_node, "an alias file", path)
    _refuse_unknown_keys(root_node, ("name", "version", "description", "aliases", "lateral_stems", "evaluate_on", "compositions"), path)

    def canonical_name(text: str, line: int, allow_forms: bool = True) -> str:
        if check.is_tg263(text):
            return text
        if allow_forms:
            match = check.match(text)
            if match.canonical == text:
                return text
        raise ConstraintTableError(
            f"'{text}' is not a TG-263 name", path=path, line=line, remedy="use the TG-263 primary name (constraints/tg263_structures.csv)"
        )

    aliases: dict[str, str] = {}
    alias_lines: dict[str, int] = {}
    if "aliases" in root:
        for organ, node in _require_mapping(root["aliases"], "aliases", path).items():
            line = root["aliases"].key_line(organ)
            target = canonical_name(organ, line)
            for spelling, sline in _text_list(node, f"an alias of {organ}", path):
                key = normalize(spelling)
                clash = check._by_key.get(key)
                if clash is not None and clash.name != target:
                    raise ConstraintTableError(
                        f"alias '{spelling}' of {target} is itself the TG-263 name {clash.name}",
                        path=path,
                        line=sline,
                        remedy="remove it; a TG-263 name always means itself",
                    )
                if key in aliases and aliases[key] != target:
                    raise ConstraintTableError(
                        f"alias '{spelling}' maps to both {aliases[key]} (line {alias_lines[key]}) and {target}",
                        path=path,
                        line=sline,
                    )
                aliases[key] = target
                alias_lines[key] = sline
    stems: dict[str, str] = {}
    if "lateral_stems" in root:
        for stem, node in _require_mapping(root["lateral_stems"], "lateral_stems", path).items():
            line = root["lateral_stems"].key_line(stem)
            for side in ("L", "R"):
                if not check.is_tg263(f"{stem}_{side}"):
                    raise ConstraintTableError(
                        f"lateral stem '{stem}': {stem}_{side} is not a TG-263 name", path=path, line=line
                    )
            for spelling, _ in _text_list(node, f"a spelling of {stem}", path):
                stems[normalize(spelling)] = stem
            stems[normalize(stem)] = stem
    evaluate_on: dict[str, tuple[str, ...]] = {}
    if "evaluate_on" in root:
        for organ, node in _require_mapping(root["evaluate_on"], "evaluate_on", path).items():
            line = root["evaluate_on"].key_line(organ)
            canonical_name(organ, line)
            prefs = tuple(canonical_name(t, ln) for t, ln in _text_list(node, "a structure name", path))
            if not prefs:
                raise ConstraintTableError(f"evaluate_on {organ}: empty list", path=path, line=line)
            evaluate_on[organ] = prefs
    compositions: dict[str, tuple[str, ...]] = {}
    if "compositions" in root:
        for organ, node in _require_mapping(root["compositions"], "compositions", path).items():
            line = root["compositions"].key_line(organ)
            whole = canonical_name(organ, line, allow_forms=False)
            parts: list[str] = []
            for text, pline in _text_list(node, f"a part of {whole}", path):
                part = canonical_name(text, pline, allow_forms=False)
                if part == whole or part in parts:
                    raise ConstraintTableError(
                        f"compositions {whole}: '{part}' is listed twice or is the organ itself",
                        path=path,
                        line=pline,
                    )
                parts.append(part)
            if len(parts) < 2:
                raise ConstraintTableError(
                    f"compositions {whole}: a union needs at least two parts, got {len(parts)}",
                    path=path,
                    line=line,
                    remedy="list every side, e.g. Kidneys: [Kidney_L, Kidney_R]",
                )
            compositions[whole] = tuple(parts)
    table = NameTable(
        tg263=tg263,
        aliases=aliases,
        lateral_stems=stems,
        evaluate_on=evaluate_on,
        sources=(str(path),),
        compositions=compositions,
    )
    return base.merged(table) if base is not None else table


@functools.lru_cache(maxsize=1)
def shipped_names() -> NameTable:
    """TG-263 names plus the shipped alias table (cached)."""
    folder = shipped_dir()
    return load_alias_file(folder / ALIAS_FILE)


def names_with_site_aliases(alias_files: tuple[Path, ...] = ()) -> NameTable:
    """The shipped names, extended by each site alias file in turn."""
    names = shipped_names()
    for path in alias_files:
        names = load_alias_file(path, base=names)
    return names


# -----------------------------------------------------------------------------------------
# α/β defaults
# -----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def shipped_alpha_beta() -> tuple[tuple[str, float], ...]:
    """(organ or "default", α/β Gy) pairs from the shipped alpha_beta.yaml."""
    path = shipped_dir() / ALPHA_BETA_FILE
    return _parse_alpha_beta_file(path, shipped_names())


def _parse_alpha_beta_file(path: Path, names: NameTable) -> tuple[tuple[str, float], ...]:
    root = _require_mapping(load_yaml_with_lines(path), "the α/β file", path)
    if "values" not in root or not isinstance(root["values"].value, list):
        raise ConstraintTableError("missing 'values' list", path=path, line=1)
    sources = _parse_sources(root, path)
    out: dict[str, float] = {}
    for item in root["values"].value:
        fields = _require_mapping(item, "an α/β entry", path)
        for key in fields:
            if key not in ("organs", "alpha_beta_gy", "source", "note", "confidence"):
                raise ConstraintTableError(f"unknown field '{key}'", path=path, line=item.key_line(key))
        if "organs" not in fields or "alpha_beta_gy" not in fields or "source" not in fields:
            raise ConstraintTableError("an α/β entry needs organs, alpha_beta_gy and source", path=path, line=item.line)
        value = _number(fields["alpha_beta_gy"], "alpha_beta_gy", path)
        _check_source_keys(fields["source"], sources, path)
        for organ, line in _text_list(fields["organs"], "an organ", path):
            name = organ if organ == "default" else names.canonical_organ(organ)
            if name is None:
                raise ConstraintTableError(f"unknown organ '{organ}'", path=path, line=line)
            if name in out:
                raise ConstraintTableError(f"α/β for {name} given twice", path=path, line=line)
            out[name] = value
    if "default" not in out:
        raise ConstraintTableError("no 'default' α/β", path=path, line=root["values"].line)
    return tuple(out.items())


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
                return Metric(kind, None, False, text)
            value = float(m.group("x"))
            relative = relative_of[m.group("u").lower()]
            return Metric(kind, value, relative, text)
    return None


def _parse_unit(unit_text: str, metric: Metric) -> tuple[Unit, DoseQuantity | None] | str:
    """(unit, dose quantity) for a limit's unit text, or an error message."""
    key = re.sub(r"[\s_]+", "", unit_text).lower()
    if key in ("gy2", "gy₂", "gy2/2"):
        return (
            f"unit '{unit_text}' is ambiguous (the literature uses it for BED at α/β 2 and for EQD2): "
            "write 'Gy BED' or 'Gy EQD2'"
        )
    if metric.gives_dose:
        if key in _DOSE_UNITS:
            return Unit.GY, _DOSE_UNITS[key]
        if key == "%":
            return Unit.PERCENT, None
        return f"unit '{unit_text}' does not fit the dose metric {metric}: use Gy (or Gy EQD2, Gy BED, % of prescription)"
    if key == "cc":
        return Unit.CC, None
    if key == "%":
        return Unit.PERCENT, None
    return f"unit '{unit_text}' does not fit the volume metric {metric}: use cc or %"


def _check_source_keys(node: YNode, sources: dict[str, str], path: Path) -> str:
    keys = [k.strip() for k, _ in _text_list(node, "source", path) for k in k.split(",")]
    for key in keys:
        if key not in sources:
            raise ConstraintTableError(
                f"source '{key}' is not in the table's sources list",
                path=path,
                line=node.line,
                remedy="add it under 'sources:' with its full citation",
            )
    return ", ".join(keys)


def _parse_sources(root: dict[str, YNode], path: Path) -> dict[str, str]:
    if "sources" not in root:
        raise ConstraintTableError("missing 'sources' (key: full citation)", path=path, line=1)
    node = root["sources"]
    mapping = _require_mapping(node, "sources", path)
    if not mapping:
        raise ConstraintTableError("'sources' is empty", path=path, line=node.line)
    return {key: _text(value, f"citation of {key}", path) for key, value in mapping.items()}


def _parse_row(
    item: YNode,
    *,
    path: Path,
    names: NameTable,
    sources: dict[str, str],
    table_quantity: DoseQuantity,
    alpha_beta: dict[str, float],
) -> Constraint:
    fields = _require_mapping(item, "a constraint row ('Organ: metric < limit unit')", path)
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
    expression = _text(fields[written], f"the constraint of {written}", path)
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

    kind = LimitKind.HARD
    if "level" in fields:
        level_text = _text(fields["level"], "level", path).lower()
        try:
            kind = LimitKind(level_text)
        except ValueError:
            raise ConstraintTableError(
                f"level '{level_text}' must be 'hard' or 'goal'", path=path, line=fields["level"].line
            ) from None
    minor = None
    if "minor" in fields:
        node = fields["minor"]
        if kind is not LimitKind.HARD:
            raise ConstraintTableError("a minor-deviation band belongs to a hard limit", path=path, line=node.line)
        text = str(node.value)
        mm = re.match(r"^\s*(?P<v>\d+(?:\.\d*)?)\s*(?P<u>.*?)\s*$", text)
        band = _parse_unit(mm.group("u"), metric) if mm else "cannot read the band"
        if not mm or isinstance(band, str) or band[0] is not unit:
            raise ConstraintTableError(
                f"minor band '{text}' must be a number in the limit's unit ({unit.value})", path=path, line=node.line
            )
        minor = float(mm.group("v"))
        beyond = minor > limit if comparison.is_upper_limit else minor < limit
        if not beyond:
            raise ConstraintTableError(
                f"minor band edge {minor:g} must lie beyond the limit {limit:g} (on the failing side)",
                path=path,
                line=node.line,
            )
    if "source" not in fields:
        raise ConstraintTableError(f"row '{written}: {expression}' has no source", path=path, line=line)
    source = _check_source_keys(fields["source"], sources, path)
    confidence = Confidence.UNCERTAIN
    if "confidence" in fields:
        text = _text(fields["confidence"], "confidence", path).lower()
        if text not in _CONFIDENCE:
            raise ConstraintTableError(
                f"confidence '{text}' must be verified, secondary, uncertain or derived",
                path=path,
                line=fields["confidence"].line,
            )
        confidence = _CONFIDENCE[text]
    else:
        raise ConstraintTableError(f"row '{written}: {expression}' has no confidence flag", path=path, line=line)
    ab: float | None
    if "alpha_beta" in fields:
        ab = _number(fields["alpha_beta"], "alpha_beta (Gy)", path)
    else:
        ab = alpha_beta.get(organ, alpha_beta.get(organ.split("_PRV")[0].split("-")[0], alpha_beta.get("default")))
    min_interval = None
    if "min_interval_months" in fields:
        node = fields["min_interval_months"]
        if table_quantity is DoseQuantity.PHYSICAL:
            raise ConstraintTableError(
                "min_interval_months is a condition between courses: it belongs to a re-irradiation "
                "table (dose_quantity EQD2 or BED), not to a physical-dose table",
                path=path,
                line=node.line,
            )
        min_interval = _number(node, "min_interval_months (a number of months, e.g. 6)", path)
    note = str(fields["note"].value).strip() if "note" in fields and fields["note"].value is not None else ""
    return Constraint(
        organ=organ,
        metric=metric,
        comparison=comparison,
        limit=limit,
        limit_unit=unit,
        limit_quantity=quantity if unit is Unit.GY else None,
        kind=kind,
        minor_limit=minor,
        source=source,
        confidence=confidence,
        alpha_beta_gy=ab,
        note=note,
        line=line,
        min_interval_months=min_interval,
    )


def _row_key(c: Constraint) -> tuple:
    return (c.organ, c.metric.kind, c.metric.parameter, c.metric.relative, c.comparison.is_upper_limit, c.kind)


def parse_table(path: Path, names: NameTable | None = None) -> ConstraintTable:
    """Read and validate one table file (errors carry file:line)."""
    path = Path(path)
    names = names or shipped_names()
    root_node = load_yaml_with_lines(path)
    root = _require_mapping(root_node, "a constraint table", path)
    _refuse_unknown_keys(root_node, _HEADER_FIELDS, path, what="header field")
    for key in ("name", "version", "description", "sources", "constraints"):
        if key not in root:
            raise ConstraintTableError(f"missing header field '{key}'", path=path, line=1)
    name = _text(root["name"], "name", path)
    version = _text(root["version"], "version", path)
    description = " ".join(_text(root["description"], "description", path).split())
    arm = _text(root["arm"], "arm", path).lower() if "arm" in root and root["arm"].value is not None else None
    fractions = None
    if "fractions" in root and root["fractions"].value is not None:
        value = root["fractions"].value
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConstraintTableError("fractions must be a whole number >= 1", path=path, line=root["fractions"].line)
        fractions = value
    prescription = None
    if "prescription_gy" in root and root["prescription_gy"].value is not None:
        prescription = _number(root["prescription_gy"], "prescription_gy", path)
    quantity = DoseQuantity.PHYSICAL
    if "dose_quantity" in root:
        text = _text(root["dose_quantity"], "dose_quantity", path)
        try:
            quantity = DoseQuantity(text if text in ("EQD2", "BED") else text.lower())
        except ValueError:
            raise ConstraintTableError(
                f"dose_quantity '{text}' must be physical, EQD2 or BED", path=path, line=root["dose_quantity"].line
            ) from None
    sources = _parse_sources(root, path)
    alpha_beta = dict(shipped_alpha_beta()) if path.name != ALPHA_BETA_FILE else {}
    if "alpha_beta" in root:
        for organ, node in _require_mapping(root["alpha_beta"], "alpha_beta", path).items():
            canonical = organ if organ == "default" else names.canonical_organ(organ)
            if canonical is None:
                raise ConstraintTableError(
                    f"alpha_beta: unknown organ '{organ}'", path=path, line=root["alpha_beta"].key_line(organ)
                )
            alpha_beta[canonical] = _number(node, f"alpha_beta of {organ}", path)
    required: list[str] = []
    if "required_organs" in root:
        for organ, line in _text_list(root["required_organs"], "a required organ", path):
            canonical = names.canonical_organ(organ)
            if canonical is None:
                raise ConstraintTableError(f"required organ '{organ}' is not a TG-263 name nor an alias", path=path, line=line)
            required.append(canonical)
    rows_node = root["constraints"]
    if not isinstance(rows_node.value, list) or not rows_node.value:
        raise ConstraintTableError("'constraints' must be a non-empty list of rows", path=path, line=rows_node.line)
    constraints: list[Constraint] = []
    seen: dict[tuple, Constraint] = {}
    for item in rows_node.value:
        row = _parse_row(
            item, path=path, names=names, sources=sources, table_quantity=quantity, alpha_beta=alpha_beta
        )
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
    for organ in required:
        if organ not in {c.organ for c in constraints}:
            raise ConstraintTableError(
                f"required organ {organ} has no constraint row", path=path, line=root_node.key_line("required_organs")
            )
    return ConstraintTable(
        name=name,
        version=version,
        description=description,
        constraints=tuple(constraints),
        sources=tuple(sources.items()),
        arm=arm,
        fractions=fractions,
        prescription_gy=prescription,
        dose_quantity=quantity,
        required_organs=tuple(required),
        alpha_beta_gy=tuple(alpha_beta.items()),
        path=path,
        sha256=sha256_of(path),
    )


# -----------------------------------------------------------------------------------------
# Shipped tables and selection
# -----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def shipped_tables() -> tuple[ConstraintTable, ...]:
    """All shipped tables, parsed once (sorted by name)."""
    folder = shipped_dir()
    tables = [
        parse_table(p)
        for p in sorted(folder.glob("*.yaml"))
        if p.name not in NON_TABLE_FILES
    ]
    return tuple(sorted(tables, key=lambda t: t.name))


def shipped_table(name: str) -> ConstraintTable:
    for table in shipped_tables():
        if table.name == name or (table.path is not None and table.path.name in (name, f"{name}.yaml")):
            return table
    raise UsageError(
        f"no shipped table named '{name}'",
        remedy=f"shipped tables: {', '.join(t.name for t in shipped_tables())}; or give a table file",
    )


def resolve_table(spec: str | Path, names: NameTable | None = None) -> ConstraintTable:
    """A table from ``--table``: an existing file path, else a shipped table name."""
    path = Path(spec)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise UsageError(f"table file not found: {path}", remedy="give a table file or a shipped table name")
        return parse_table(path, names)
    if names is not None:
        table = shipped_table(str(spec))
        return parse_table(table.path, names) if table.path else table
    return shipped_table(str(spec))


@dataclass(frozen=True)
class Selection:
    """The table chosen for a plan and the reasons, in words."""

    table: ConstraintTable
    notes: tuple[str, ...]


def _same_dose(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-3 * max(abs(a), abs(b), 1.0)


def select_table(
    *,
    fractions: int | None,
    prescription_gy: float | None = None,
    arm: str | None = None,
    tables: tuple[ConstraintTable, ...] | None = None,
) -> Selection:
    """Choose the table for a plan from the tables' own headers (arm, fractions, prescription).

    A table that states a prescription (the control arm: 8 Gy in 1 fraction) matches only
    plans with that prescription; tables that state none match any prescription with their
    fraction count. With ``arm`` only tables of that arm are considered. Raises
    :class:`UsageError` (exit code 2, no verdict) when no table, or more than one equally
    specific table, fits.
    """
    tables = tables if tables is not None else shipped_tables()
    notes: list[str] = []
    if fractions is None:
        raise UsageError(
            "the number of fractions is unknown, so no table can be chosen", remedy="give --fractions N or --table"
        )
    candidates = [t for t in tables if t.fractions == fractions and t.dose_quantity is DoseQuantity.PHYSICAL]
    if arm is not None:
        candidates = [t for t in candidates if t.arm == arm.lower()]
    if prescription_gy is not None:
        specific = [
            t for t in candidates if t.prescription_gy is not None and _same_dose(t.prescription_gy, prescription_gy)
        ]
        chosen = specific or [t for t in candidates if t.prescription_gy is None]
    else:
        notes.append("prescription unknown (the plan states no TargetPrescriptionDose)")
        if arm is None and any(t.prescription_gy is not None for t in candidates):
            arms = sorted({t.arm or t.name for t in candidates})
            raise UsageError(
                f"the prescription is unknown and {fractions} fraction(s) fit several arms ({', '.join(arms)})",
                remedy="give --arm or --table",
            )
        chosen = candidates
    if not chosen:
        available = ", ".join(
            f"{t.name} ({t.arm}, {t.fractions} fx)" for t in tables if t.fractions is not None
        )
        what = f"{fractions} fraction(s)" + (f" in the {arm} arm" if arm else "")
        raise UsageError(
            f"no constraint table for {what}",
            remedy=f"available: {available}; give --table FILE for a site table",
        )
    if len(chosen) > 1:
        raise UsageError(
            f"several tables fit {fractions} fraction(s): {', '.join(t.name for t in chosen)}",
            remedy="give --arm or --table",
        )
    table = chosen[0]
    rx = f"{prescription_gy:g} Gy" if prescription_gy is not None else "unknown prescription"
    notes.append(f"table {table.name} selected for {fractions} fraction(s), {rx}" + (f", arm {arm}" if arm else ""))
    return Selection(table, tuple(notes))
