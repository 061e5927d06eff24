"""Structure names: the AAPM TG-263 list, clinical aliases, and how a structure is matched.

Clinical exports spell organs in many ways (``Cord``, ``spinal cord``, ``Kidney Lt``,
``Lung_Total-GTV``). A constraint table names organs by their TG-263 name; this module
decides, by explicit rules and never by loose fuzzy matching, which TG-263 name a structure
stands for. The rules, applied in this order (the first that applies wins):

1. **TG-263 name or alias** — compared case-insensitively with spaces, ``_``, ``-`` and
   ``.`` ignored (``spinal-cord`` == ``Spinal_Cord`` == ``SPINALCORD``). TG-263
   reverse-order names (``L_Kidney``) count as TG-263 names.
2. **PRV** — ``<organ>_PRV``, ``<organ> PRV5``, ``<organ>_PRV05mm``, ``PRV_<organ>``,
   ``<organ>+5mm``: a planning-risk volume *around* the organ. It is matched to
   ``<organ>_PRV`` and **never** to the organ itself (a PRV is larger than the organ; its
   dose is not the organ's dose).
3. **Organ minus target** — ``<organ>-GTV``, ``<organ> - ITV``, ``<organ> minus PTV``
   (a hyphen or the word *minus*; an underscore is not read as "minus"): the organ with the
   target removed, matched to ``<organ>-GTV`` etc. (TG-263 "Derived" names). Lung and
   liver constraints are conventionally evaluated on these (see ``evaluate_on``).
4. **Laterality** — a leading or trailing token ``L``/``Lt``/``Left``/``R``/``Rt``/
   ``Right`` on a stem listed in the alias file's ``lateral_stems`` (``Kidney Lt``,
   ``Left Lung``, ``R Femoral Head``) → ``<stem>_L``/``<stem>_R``.
5. **Target** — a name starting with PTV, GTV, CTV, ITV or IGTV followed by a non-letter
   (``PTV_35Gy``, ``GTV1``) is a target of that type.

Anything else is *unmatched* and is listed in the report (never silently dropped).

**Paired organs from their sides.** ``compositions`` (alias file) says which structures make
up a paired organ (``Kidneys`` = ``Kidney_L`` + ``Kidney_R``). When no structure stands for
the organ, its rows are evaluated on the union of its sides, and only when every side is
present (:meth:`NameTable.compositions_for`); one kidney is never taken for both.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..models import MatchKind, NameMatch

_TG263_TYPE_TO_KIND = {
    "anatomic": MatchKind.ORGAN,
    "prv": MatchKind.PRV,
    "derived": MatchKind.DERIVED,
    "target": MatchKind.TARGET,
}

_SEPARATORS = re.compile(r"[\s_\-.]+")
_LEFT = {"l", "lt", "left", "lft"}
_RIGHT = {"r", "rt", "right", "rgt"}
_TARGET_TYPES = ("IGTV", "GTV", "CTV", "ITV", "PTV")

_PRV_PATTERNS = (
    re.compile(r"^(?P<base>.+?)[\s_\-.]*prv[\s_\-.]*(?P<mm>\d+(?:\.\d+)?)?\s*(?:mm)?$", re.IGNORECASE),
    re.compile(r"^prv[\s_\-.]*(?P<mm>\d+(?:\.\d+)?)?(?:mm)?[\s_\-.]+(?P<base>.+)$", re.IGNORECASE),
    re.compile(r"^(?P<base>.+?)\s*\+\s*(?P<mm>\d+(?:\.\d+)?)\s*mm$", re.IGNORECASE),
)
_MINUS_PATTERN = re.compile(
    r"^(?P<base>.+?)\s*(?:-|\bminus\b|_minus_)\s*(?P<target>igtv|gtv|ctv|itv|ptv)[\s_\-.]*\w*$",
    re.IGNORECASE,
)
_TARGET_PATTERN = re.compile(r"^(?P<target>igtv|gtv|ctv|itv|ptv)(?![a-z])", re.IGNORECASE)


def normalize(name: str) -> str:
    """Comparison key of a name: lower case, spaces, ``_``, ``-`` and ``.`` removed."""
    return _SEPARATORS.sub("", name.strip().lower())


@dataclass(frozen=True)
class TG263Entry:
    """One structure of the TG-263 list: primary and reverse-order name, its Target Type
    (Anatomic, PRV, Derived, Target…) and description."""

    name: str
    reverse_name: str
    target_type: str
    description: str


@functools.lru_cache(maxsize=4)
def load_tg263(path: Path) -> tuple[TG263Entry, ...]:
    """The TG-263 structure list from its CSV (names stripped of stray spaces)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return tuple(
            TG263Entry(
                name=row["TG263-Primary Name"].strip(),
                reverse_name=row["TG-263-Reverse Order Name"].strip(),
                target_type=row["Target Type"].strip(),
                description=" ".join(row["Description"].split()),
            )
            for row in csv.DictReader(fh)
            if row["TG263-Primary Name"].strip()
        )


@dataclass(frozen=True)
class NameTable:
    """TG-263 names plus an alias table; maps structure names to TG-263 names.

    ``aliases`` maps a normalized spelling to its TG-263 name; ``lateral_stems`` maps a
    normalized stem (``kidney``) to the TG-263 stem (``Kidney``) that takes ``_L``/``_R``;
    ``evaluate_on`` gives, per organ, the structures to use for its constraints in order of
    preference (``Lungs`` → ``Lungs-GTV``, ``Lungs-ITV``, …, ``Lungs``); ``compositions``
    maps a paired organ to the structures whose union it is (``Kidneys`` → ``Kidney_L``,
    ``Kidney_R``).
    """

    tg263: tuple[TG263Entry, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)
    lateral_stems: Mapping[str, str] = field(default_factory=dict)
    evaluate_on: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    compositions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    # -- look-ups ------------------------------------------------------------------------
    @functools.cached_property
    def _by_key(self) -> dict[str, TG263Entry | None]:
        """TG-263 entry per normalized spelling (primary and reverse-order names); None for
        a key that two entries share."""
        keys: dict[str, TG263Entry | None] = {}
        for entry in self.tg263:
            for spelling in (entry.name, entry.reverse_name):
                if not spelling:
                    continue
                key = normalize(spelling)
                if key not in keys:
                    keys[key] = entry
                elif keys[key] is not entry:
                    # two TG-263 names share one key (VB_S / VBs): only the exact spelling counts
                    keys[key] = None
        return keys

    @functools.cached_property
    def names(self) -> frozenset[str]:
        """The TG-263 primary names."""
        return frozenset(e.name for e in self.tg263)

    @functools.cached_property
    def _entry_by_name(self) -> dict[str, TG263Entry]:
        """TG-263 entry per primary name."""
        return {e.name: e for e in self.tg263}

    def is_tg263(self, name: str) -> bool:
        """Whether ``name`` is a TG-263 primary name, spelled exactly."""
        return name in self.names

    def tg263_entry(self, spelling: str) -> TG263Entry | None:
        """The TG-263 entry whose primary or reverse-order name is ``spelling`` (case and
        separators ignored); None when none is, or when two entries share the spelling."""
        return self._by_key.get(normalize(spelling))

    def kind_of(self, canonical: str) -> MatchKind:
        """The kind of a canonical name (from the TG-263 Target Type, or its form)."""
        entry = self._entry_by_name.get(canonical)
        if entry is not None:
            return _TG263_TYPE_TO_KIND.get(entry.target_type.lower().replace("-", "_"), MatchKind.ORGAN)
        if canonical.endswith("_PRV"):
            return MatchKind.PRV
        if any(canonical.endswith("-" + t) for t in _TARGET_TYPES):
            return MatchKind.DERIVED
        return MatchKind.ORGAN

    def _exact(self, name: str) -> tuple[str, str] | None:
        """(canonical, rule) for a TG-263 name or an alias, else None."""
        if name.strip() in self.names:
            return name.strip(), "TG-263 name"
        key = normalize(name)
        if key in self.aliases:
            return self.aliases[key], f"alias '{name.strip()}'"
        entry = self._by_key.get(key)
        if entry is not None:
            if normalize(entry.name) == key:
                return entry.name, "TG-263 name (case/separators ignored)"
            return entry.name, "TG-263 reverse-order name"
        return None

    def canonical_organ(self, name: str) -> str | None:
        """TG-263 name for a name written in a constraint table (TG-263 name or alias)."""
        found = self._exact(name)
        if found is not None:
            return found[0]
        match = self.match(name)
        if match.kind in (MatchKind.PRV, MatchKind.DERIVED) and match.canonical:
            return match.canonical
        return None

    def _lateral(self, name: str) -> tuple[str, str] | None:
        """(canonical, rule) for a side token on a lateral stem (``Kidney Lt``), else None."""
        tokens = [t for t in _SEPARATORS.split(name.strip()) if t]
        if len(tokens) < 2:
            return None
        for side_token, stem_tokens in ((tokens[0], tokens[1:]), (tokens[-1], tokens[:-1])):
            low = side_token.lower()
            side = "L" if low in _LEFT else "R" if low in _RIGHT else None
            if side is None:
                continue
            stem = self.lateral_stems.get(normalize("".join(stem_tokens)))
            if stem is not None:
                return f"{stem}_{side}", f"laterality '{side_token}' on '{' '.join(stem_tokens)}'"
        return None

    def _organ(self, name: str) -> tuple[str, str] | None:
        """(canonical, rule) for an organ by rules 1 and 4 (exact, lateral), else None."""
        return self._exact(name) or self._lateral(name)

    def match(self, structure_name: str) -> NameMatch:
        """Understand one structure name (rules in the module docstring, first wins)."""
        name = structure_name.strip()
        found = self._organ(name)
        if found is not None:
            return NameMatch(structure_name, found[0], self.kind_of(found[0]), found[1])
        return (
            self._prv_match(structure_name, name)
            or self._minus_match(structure_name, name)
            or _target_match(structure_name, name)
            or NameMatch(structure_name, None, MatchKind.UNMATCHED, "no TG-263 name or alias")
        )

    def _prv_match(self, structure_name: str, name: str) -> NameMatch | None:
        """Rule 2: a PRV around an organ (``Cord_PRV5``, ``PRV_Cord``, ``Cord+5mm``)."""
        for pattern in _PRV_PATTERNS:
            m = pattern.match(name)
            if m:
                base = self._organ(m.group("base"))
                if base is not None:
                    mm = m.groupdict().get("mm")
                    margin = f" ({mm} mm)" if mm else ""
                    return NameMatch(
                        structure_name,
                        f"{base[0]}_PRV",
                        MatchKind.PRV,
                        f"PRV of {base[0]}{margin}; not the organ itself",
                    )
        return None

    def _minus_match(self, structure_name: str, name: str) -> NameMatch | None:
        """Rule 3: an organ minus a target (``Lungs-GTV``, ``Liver minus PTV``)."""
        m = _MINUS_PATTERN.match(name)
        if m:
            base = self._organ(m.group("base"))
            if base is not None:
                target = m.group("target").upper()
                return NameMatch(
                    structure_name,
                    f"{base[0]}-{target}",
                    MatchKind.DERIVED,
                    f"{base[0]} minus {target}",
                )
        return None

    def candidates_for(self, organ: str) -> tuple[str, ...]:
        """Canonical names whose structures may be used for ``organ``'s constraints."""
        return self.evaluate_on.get(organ, (organ,))

    def compositions_for(self, organ: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(candidate, parts) for the unions that may stand for ``organ``, in the order of
        :meth:`candidates_for`: a candidate listed in ``compositions``, or an organ-minus-
        target candidate whose organ is (``Lungs-GTV`` → ``Lung_L-GTV``, ``Lung_R-GTV``: the
        sides minus the same target, never a mix of sides with and without it)."""
        out = []
        for candidate in self.candidates_for(organ):
            parts = self.compositions.get(candidate)
            if parts is None and "-" in candidate:
                base, _, target = candidate.rpartition("-")
                if target in _TARGET_TYPES and base in self.compositions:
                    parts = tuple(f"{p}-{target}" for p in self.compositions[base])
            if parts:
                out.append((candidate, parts))
        return tuple(out)

    def merged(self, other: NameTable) -> NameTable:
        """This table with ``other``'s aliases, stems and preferences added (``other`` wins)."""
        return NameTable(
            tg263=self.tg263,
            aliases={**self.aliases, **other.aliases},
            lateral_stems={**self.lateral_stems, **other.lateral_stems},
            evaluate_on={**self.evaluate_on, **other.evaluate_on},
            sources=self.sources + other.sources,
            compositions={**self.compositions, **other.compositions},
        )


def _target_match(structure_name: str, name: str) -> NameMatch | None:
    """Rule 5: a target (``PTV_35Gy``, ``GTV1``)."""
    m = _TARGET_PATTERN.match(name)
    if m:
        target = m.group("target").upper()
        return NameMatch(structure_name, target, MatchKind.TARGET, f"target ({target})")
    return None


@dataclass(frozen=True)
class OrganAssignment:
    """Which structure (if any) is used for one organ of a table.

    ``structure_name`` is None when no structure matches; ``ambiguous`` lists the candidate
    structures when more than one matches equally well (then none is used).
    """

    organ: str
    structure_name: str | None
    canonical: str | None = None
    ambiguous: tuple[str, ...] = ()
    note: str = ""


def assign_organ(table: NameTable, organ: str, matches: Iterable[NameMatch]) -> OrganAssignment:
    """Choose the structure for ``organ`` among matched structures.

    The organ's ``evaluate_on`` preferences are tried in order; within one canonical name a
    structure spelled exactly as the canonical name wins, else a single match is used, else
    the assignment is ambiguous (and the organ is not evaluated: rename a structure or add a
    site alias).
    """
    matches = list(matches)
    preferences = table.candidates_for(organ)
    for rank, canonical in enumerate(preferences):
        hits = [m for m in matches if m.canonical == canonical]
        if not hits:
            continue
        exact = [m for m in hits if m.structure_name.strip() == canonical]
        chosen = exact if len(exact) == 1 else hits
        if len(chosen) > 1:
            return OrganAssignment(
                organ=organ,
                structure_name=None,
                canonical=canonical,
                ambiguous=tuple(m.structure_name for m in chosen),
                note=f"several structures match {canonical}",
            )
        note = ""
        if canonical != organ:
            note = f"evaluated on {canonical} ({chosen[0].structure_name})"
        elif rank > 0:
            note = f"no {', '.join(preferences[:rank])} structure; whole {organ} used"
        return OrganAssignment(organ=organ, structure_name=chosen[0].structure_name, canonical=canonical, note=note)
    return OrganAssignment(organ=organ, structure_name=None, canonical=None, note="no structure matches")
