"""Constraint tables as data: metrics, limits, levels (parsed by :mod:`rtcheck.constraints`).

Plain data: every constraint converts to a dict (``to_dict``) for the JSON of results. Doses
in Gy (physical, EQD2 or BED, as :class:`DoseQuantity` says), volumes in cc or %.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class DoseQuantity(Enum):
    """What the dose numbers of a table or a DVH mean (values match radiobiology.Quantity)."""

    PHYSICAL = "physical"
    EQD2 = "EQD2"
    BED = "BED"


class MetricKind(Enum):
    """Kinds of DVH metric a constraint row can name (see constraints/README.md)."""

    DOSE_AT_VOLUME = "D"  # Dxcc / Dx%: dose received by the hottest x cc / x % (Gy)
    MAX = "Dmax"  # near-point maximum, D0.035cc (Gy)
    MIN = "Dmin"  # near-point minimum, D(volume − 0.035cc) (Gy)
    MEAN = "Dmean"  # mean dose (Gy)
    VOLUME_AT_DOSE = "V"  # VxGy / Vx%: volume receiving at least x (cc or % of the organ)
    CRITICAL_VOLUME = "CV"  # CVxGy: volume receiving less than x (cc or %) — volume spared


class Comparison(Enum):
    """How a metric's value compares with its limit."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    @property
    def is_upper_limit(self) -> bool:
        """True for ``<`` and ``<=``: the limit is a ceiling the value must stay under."""
        return self in (Comparison.LT, Comparison.LE)

    def holds(self, value: float, limit: float) -> bool:
        """True when ``value`` compared with ``limit`` (same unit) satisfies the comparison."""
        return {
            Comparison.LT: value < limit,
            Comparison.LE: value <= limit,
            Comparison.GT: value > limit,
            Comparison.GE: value >= limit,
        }[self]


class LimitKind(Enum):
    """Hard limit (exceeding it fails the plan) or optimal goal (missing it is minor)."""

    HARD = "hard"
    GOAL = "goal"


class Unit(Enum):
    """The unit of a limit (and of the metric's value it is compared with)."""

    GY = "Gy"
    CC = "cc"
    PERCENT = "%"  # of the organ volume (volume metrics) or of the prescription (dose metrics)


class Confidence(Enum):
    """How sure the table's compiler is of a value (constraints-sources.md flags)."""

    VERIFIED = "verified"  # read in the primary source text
    SECONDARY = "secondary"  # read in a secondary reproduction
    UNCERTAIN = "uncertain"  # recalled or unsourced: check the primary source
    DERIVED = "derived"  # computed from a sourced value (e.g. BED-equivalence), stated in the note


class Level(Enum):
    """Outcome of one constraint, ordered from best to worst by :attr:`severity`."""

    PASS = "PASS"
    NOT_EVALUATED = "NOT_EVALUATED"
    INDETERMINATE = "INDETERMINATE"  # margin inside the numerical uncertainty: review
    MINOR = "MINOR"  # goal missed, or hard limit exceeded within its minor-deviation band
    MAJOR = "MAJOR"  # hard limit exceeded beyond its minor-deviation band
    FAIL = "FAIL"  # hard limit (without a band) exceeded

    @property
    def severity(self) -> int:
        """Rank from 0 (PASS) to 5 (FAIL): the worst level of several is the highest."""
        return _LEVEL_SEVERITY[self]

    @staticmethod
    def worst(levels: Iterable[Level]) -> Level:
        """The most severe of ``levels`` (the first of equals); PASS when there are none."""
        out = Level.PASS
        for level in levels:
            if level.severity > out.severity:
                out = level
        return out


_LEVEL_SEVERITY = {
    Level.PASS: 0,
    Level.NOT_EVALUATED: 1,
    Level.INDETERMINATE: 2,
    Level.MINOR: 3,
    Level.MAJOR: 4,
    Level.FAIL: 5,
}


@dataclass(frozen=True)
class Metric:
    """A DVH metric as written in a table (``D0.035cc``, ``V20Gy``, ``Dmean``…).

    ``parameter`` is the volume (D metrics: cc, or % when ``relative``) or the dose
    threshold (V/CV metrics: Gy in the table's dose quantity, or % of the prescription when
    ``relative``); None for Dmax/Dmin/Dmean.
    """

    kind: MetricKind
    parameter: float | None = None
    relative: bool = False
    text: str = ""

    @property
    def gives_dose(self) -> bool:
        """True when the metric's value is a dose (D, Dmax, Dmin, Dmean), not a volume."""
        return self.kind in (MetricKind.DOSE_AT_VOLUME, MetricKind.MAX, MetricKind.MIN, MetricKind.MEAN)

    def __str__(self) -> str:
        """The metric as written in the table (``D0.035cc``), else its kind's name."""
        return self.text or self.kind.value


@dataclass(frozen=True)
class Constraint:
    """One row of a constraint table.

    ``limit`` is in ``limit_unit``; for a dose in Gy, ``limit_quantity`` says physical,
    EQD2 or BED. ``minor_limit`` (same unit) is the outer edge of the minor-deviation band
    of a hard limit, when the source gives one. ``alpha_beta_gy`` is the organ's α/β used
    for BED/EQD2 work. ``min_interval_months`` (re-irradiation tables only) is the minimum
    time between consecutive courses that the limit was derived for (None: no condition).
    ``line`` is the row's line in its table file.
    """

    organ: str
    metric: Metric
    comparison: Comparison
    limit: float
    limit_unit: Unit
    limit_quantity: DoseQuantity | None = None
    kind: LimitKind = LimitKind.HARD
    minor_limit: float | None = None
    source: str = ""
    confidence: Confidence = Confidence.UNCERTAIN
    alpha_beta_gy: float | None = None
    note: str = ""
    line: int | None = None
    min_interval_months: float | None = None

    @property
    def limit_text(self) -> str:
        """The limit as a report shows it, with its unit (``< 30 Gy EQD2``)."""
        unit = self.limit_unit.value
        if self.limit_unit is Unit.GY and self.limit_quantity not in (None, DoseQuantity.PHYSICAL):
            unit = f"Gy {self.limit_quantity.value}"
        elif self.limit_unit is Unit.PERCENT and self.metric.gives_dose:
            unit = "% of prescription"
        return f"{self.comparison.value} {self.limit:g} {unit}"

    @property
    def text(self) -> str:
        """The whole row in one line (``SpinalCord: D0.035cc < 30 Gy``)."""
        return f"{self.organ}: {self.metric} {self.limit_text}"

    def to_dict(self) -> dict:
        """The row as plain data (enum values as their strings), for the JSON of results."""
        return {
            "organ": self.organ,
            "metric": str(self.metric),
            "comparison": self.comparison.value,
            "limit": self.limit,
            "unit": self.limit_unit.value,
            "dose_quantity": self.limit_quantity.value if self.limit_quantity else None,
            "kind": self.kind.value,
            "minor_limit": self.minor_limit,
            "source": self.source,
            "confidence": self.confidence.value,
            "alpha_beta_gy": self.alpha_beta_gy,
            "note": self.note,
            "min_interval_months": self.min_interval_months,
            "line": self.line,
        }


@dataclass(frozen=True)
class ConstraintTable:
    """A validated constraint table (one arm and fractionation, or a cumulative table)."""

    name: str
    version: str
    description: str
    constraints: tuple[Constraint, ...]
    sources: tuple[tuple[str, str], ...]  # (key, full citation)
    arm: str | None = None
    fractions: int | None = None
    prescription_gy: float | None = None
    dose_quantity: DoseQuantity = DoseQuantity.PHYSICAL
    required_organs: tuple[str, ...] = ()
    alpha_beta_gy: tuple[tuple[str, float], ...] = ()  # (organ or "default", α/β)
    path: Path | None = None
    sha256: str | None = None

    def citation(self, key: str) -> str | None:
        """The full citation of source ``key``; None when the table does not list it."""
        return dict(self.sources).get(key)

    @property
    def organs(self) -> tuple[str, ...]:
        """The organs the table constrains, each once, in the order of their first row."""
        return tuple(dict.fromkeys(c.organ for c in self.constraints))

    def alpha_beta_for(self, organ: str) -> float | None:
        """The α/β (Gy) of ``organ`` in this table (its own entry, else the default)."""
        table = dict(self.alpha_beta_gy)
        return table.get(organ, table.get("default"))

    def summary_dict(self) -> dict:
        """What identifies the table in a result's JSON (name, version, arm, file, hash)."""
        return {
            "name": self.name,
            "version": self.version,
            "arm": self.arm,
            "fractions": self.fractions,
            "prescription_gy": self.prescription_gy,
            "dose_quantity": self.dose_quantity.value,
            "path": str(self.path) if self.path else None,
            "sha256": self.sha256,
        }
