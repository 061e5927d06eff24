"""Tissue-recovery factors: the documentation a factor needs before it is applied.

A recovery factor ``f`` discounts a prior course's EQD2 in the composite,
``(1 − f) · EQD2_prior`` (:mod:`rtcheck.radiobiology.composite`). It is applied only with
its documentation — the factor (0–1), the approver (the local PI), the approval date, the
rationale (a reference or reasoning) and the elapsed time between the courses, from the
course dates when both are known (a stated interval must then agree with them), else as
stated. Anything missing or inconsistent raises
:class:`~rtcheck.errors.RecoveryFactorError` naming the course file and line; a factor above
the published range, or one given before 6 months have elapsed, is accepted with a warning.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from ..errors import RecoveryFactorError
from ..models.priors import DATE_REMEDY, DAYS_PER_MONTH, RecoveryFactor, as_date

#: A stated interval in months may differ from the dates by this much (rounding to months).
ELAPSED_MONTHS_TOLERANCE = 0.5
#: A stated interval in days may differ from the dates by this much.
ELAPSED_DAYS_TOLERANCE = 1

#: Largest published recovery discount in the shipped references (Price 2021: 50 % after
#: more than 12 months). Larger factors are accepted when documented, with a warning.
PUBLISHED_MAX_RECOVERY = 0.5

#: Published guidance gives no recovery before this interval (months; Price 2021, Nieder 2006).
MIN_RECOVERY_MONTHS = 6

RECOVERY_REQUIRED = ("factor", "approver", "approval_date", "rationale")
RECOVERY_OPTIONAL = ("elapsed_months", "elapsed_days", "organs", "note")

_REMEDY = (
    "document the factor with factor, approver (local PI), approval_date, rationale "
    "and the elapsed time (course dates or elapsed_months); an undocumented factor is never applied"
)


def _approval_date(value: object, path: str | Path | None, where: str) -> _dt.date:
    """The approval date of the documentation, else RecoveryFactorError."""
    date = as_date(value)
    if date is None:
        raise RecoveryFactorError(f"{where}: approval_date {value!r} is not a date", path=path, remedy=DATE_REMEDY)
    return date


class StatedInterval(NamedTuple):
    """The elapsed time a recovery factor's documentation states (at most one is given)."""

    months: float | None
    days: float | None


class Elapsed(NamedTuple):
    """The elapsed time between the courses, where it comes from, and any warning about it."""

    months: float
    source: str
    warnings: tuple[str, ...]


def _documented_factor(raw: object, path: str | Path | None, where: str) -> float:
    """The factor (0–1) of documentation ``raw`` whose fields are all present and known."""
    if not isinstance(raw, Mapping):
        raise RecoveryFactorError(f"{where} must be a mapping of its documentation fields", path=path)
    missing = [k for k in RECOVERY_REQUIRED if raw.get(k) in (None, "")]
    if missing:
        raise RecoveryFactorError(f"{where} is missing {', '.join(missing)}", path=path, remedy=_REMEDY)
    unknown = set(raw) - {*RECOVERY_REQUIRED, *RECOVERY_OPTIONAL}
    if unknown:
        raise RecoveryFactorError(f"{where} has unknown field(s) {', '.join(sorted(unknown))}", path=path, remedy=_REMEDY)
    try:
        factor = float(raw["factor"])
    except (TypeError, ValueError):
        raise RecoveryFactorError(f"{where}: factor {raw['factor']!r} is not a number", path=path) from None
    if not (0.0 <= factor <= 1.0) or math.isnan(factor):
        raise RecoveryFactorError(
            f"{where}: factor {factor:g} is outside 0–1",
            path=path,
            remedy="give the fraction of the prior BED discounted, e.g. 0.25 for 25 %",
        )
    for key in ("approver", "rationale"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise RecoveryFactorError(f"{where}: {key} must be a non-empty text", path=path, remedy=_REMEDY)
    return factor


def _stated_interval(raw: Mapping, path: str | Path | None, where: str) -> StatedInterval:
    """The stated ``elapsed_months`` or ``elapsed_days`` (numbers ≥ 0, not both), if any."""
    stated = StatedInterval(raw.get("elapsed_months"), raw.get("elapsed_days"))
    if stated.months is not None and stated.days is not None:
        raise RecoveryFactorError(f"{where}: give elapsed_months or elapsed_days, not both", path=path)
    for label, value in (("elapsed_months", stated.months), ("elapsed_days", stated.days)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise RecoveryFactorError(f"{where}: {label} {value!r} must be a number >= 0", path=path)
    return stated


def _elapsed_from_dates(
    prior_date: _dt.date, current_date: _dt.date, stated: StatedInterval, path: str | Path | None, where: str
) -> Elapsed:
    """The elapsed time from the course dates; a stated interval must agree with them."""
    days = (current_date - prior_date).days
    if days < 0:
        raise RecoveryFactorError(
            f"{where}: the prior course ({prior_date}) is dated after the current course ({current_date})",
            path=path,
            remedy="check the course dates",
        )
    elapsed = days / DAYS_PER_MONTH
    for given, actual, tolerance, unit in (
        (stated.months, elapsed, ELAPSED_MONTHS_TOLERANCE, "months"),
        (stated.days, days, ELAPSED_DAYS_TOLERANCE, "days"),
    ):
        if given is not None and abs(given - actual) > tolerance:
            raise RecoveryFactorError(
                f"{where}: stated elapsed time {given:g} {unit} does not match the course dates "
                f"({prior_date} → {current_date} = {actual:.1f} {unit})",
                path=path,
                remedy="correct the stated interval or the course date",
            )
    return Elapsed(elapsed, f"course dates {prior_date.isoformat()} → {current_date.isoformat()}", ())


def _elapsed(
    prior_date: _dt.date | None,
    current_date: _dt.date | None,
    stated: StatedInterval,
    path: str | Path | None,
    where: str,
) -> Elapsed:
    """The elapsed time between the courses: from their dates when both are known, else as
    stated (with a warning), else RecoveryFactorError."""
    if prior_date is not None and current_date is not None:
        return _elapsed_from_dates(prior_date, current_date, stated, path, where)
    unknown_dates = [n for n, d in (("prior", prior_date), ("current", current_date)) if d is None]
    if stated.months is None and stated.days is None:
        raise RecoveryFactorError(
            f"{where}: the elapsed time is unknown (no {' or '.join(unknown_dates)} course date) and not stated",
            path=path,
            remedy="give the course date(s) or elapsed_months",
        )
    elapsed = float(stated.months) if stated.months is not None else float(stated.days) / DAYS_PER_MONTH  # type: ignore[arg-type]
    return Elapsed(
        elapsed,
        f"stated ({' and '.join(unknown_dates)} course date unknown)",
        (f"elapsed time {elapsed:.1f} months is as stated; it could not be checked against course dates",),
    )


def _factor_warnings(factor: float, elapsed_months: float) -> list[str]:
    """Warnings on a factor above the published range or given too early."""
    warnings = []
    if factor > PUBLISHED_MAX_RECOVERY:
        warnings.append(
            f"recovery factor {factor:g} is above the largest discount in the shipped references "
            f"({PUBLISHED_MAX_RECOVERY:g}, Price 2021 for > 12 months)"
        )
    if factor > 0 and elapsed_months < MIN_RECOVERY_MONTHS:
        warnings.append(
            f"recovery factor {factor:g} with only {elapsed_months:.1f} months elapsed; published guidance "
            "gives no recovery before 6 months (Price 2021; Nieder 2006 interval >= 6 months)"
        )
    return warnings


def _organs(raw: Mapping, path: str | Path | None, where: str) -> tuple[str, ...]:
    """The organs a factor is limited to (one name or a list; none: every organ)."""
    organs = raw.get("organs") or ()
    if isinstance(organs, str):
        organs = (organs,)
    if not isinstance(organs, list | tuple) or not all(isinstance(o, str) and o.strip() for o in organs):
        raise RecoveryFactorError(f"{where}: organs must be a list of organ names", path=path)
    return tuple(o.strip() for o in organs)


def document_recovery(
    raw: Mapping,
    *,
    prior_date: _dt.date | None,
    current_date: _dt.date | None,
    path: str | Path | None = None,
    where: str = "recovery factor",
) -> RecoveryFactor:
    """Validate the documentation of a recovery factor; RecoveryFactorError if incomplete.

    ``raw`` holds ``factor``, ``approver`` (the local PI's name), ``approval_date``,
    ``rationale`` (reference or reasoning) and optionally ``elapsed_months`` or
    ``elapsed_days`` and ``organs``. The elapsed time is computed from the course dates when
    both are known; a stated interval must then agree with them. Without both dates a stated
    interval is required.
    """
    factor = _documented_factor(raw, path, where)
    approval_date = _approval_date(raw["approval_date"], path, where)
    elapsed = _elapsed(prior_date, current_date, _stated_interval(raw, path, where), path, where)
    if prior_date is not None and approval_date < prior_date:
        raise RecoveryFactorError(
            f"{where}: approval_date {approval_date} is before the prior course ({prior_date})",
            path=path,
        )
    warnings = [*elapsed.warnings, *_factor_warnings(factor, elapsed.months)]
    return RecoveryFactor(
        factor=factor,
        elapsed_months=elapsed.months,
        elapsed_source=elapsed.source,
        approver=raw["approver"].strip(),
        approval_date=approval_date,
        rationale=raw["rationale"].strip(),
        organs=_organs(raw, path, where),
        warnings=tuple(warnings),
    )


__all__ = [
    "ELAPSED_DAYS_TOLERANCE",
    "ELAPSED_MONTHS_TOLERANCE",
    "PUBLISHED_MAX_RECOVERY",
    "RECOVERY_REQUIRED",
    "document_recovery",
]
