"""The JSON document of a check (`rtcheck check --format json`): schema ``rtcheck-check``.

The document is described by a JSON Schema shipped with the package
(``rtcheck/report/schemas/rtcheck-check.schema.json``, :func:`schema`); the tests validate
every document rtcheck writes against it. Within a major version keys are only ever added.
Version 1.1 added ``verdict``, ``exit_code``, ``run_utc`` and each plan's ``verdict``.

``verdict`` is the one answer a script should read: the worst plan verdict — a plan's verdict
being the worst of its check and its re-irradiation composite — and it is PASS exactly when
``exit_code`` is 0. ``overall`` (the plan tables only) and ``overall_including_reirradiation``
are kept for version-1.0 readers. Numbers carry their unit in the key (``_gy``, ``_cc``,
``_months``) or beside them in the row's ``unit`` (``value``, ``uncertainty``, ``margin`` and
``limit`` share it: Gy, cc or %, a % on a dose metric being % of the prescription); ``margin``
is positive on the passing side. Floats are rounded to 6 decimals.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from .. import __version__
from ..models import SCHEMA_VERSION, CheckResult, Level, ReirradiationResult
from . import reirradiation
from .common import json_ready
from .summary import PlanSummary

SCHEMA_NAME = "rtcheck-check"


def check_document(
    results: Sequence[CheckResult],
    composites: Sequence[ReirradiationResult] | None,
    summaries: Sequence[PlanSummary],
    *,
    exit_code: int,
    run_utc: str | None = None,
) -> dict[str, Any]:
    """The JSON document of a run as plain data (floats rounded, see :func:`json_ready`).

    ``summaries`` has one item per plan (checked or not), ``results`` and ``composites`` one
    per checked plan. Plans that could not be checked are listed under ``errors``.
    """
    plan_verdicts = [s.verdict for s in summaries if s.error is None]
    document: dict[str, Any] = {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "rtcheck_version": __version__,
        "run_utc": run_utc,
        "verdict": Level.worst(s.verdict for s in summaries).value,
        "exit_code": exit_code,
        "overall": Level.worst(r.overall for r in results).value,
        "plans": [
            {**json_ready(r.to_dict()), "verdict": verdict.value}
            for r, verdict in zip(results, plan_verdicts, strict=True)
        ],
    }
    if composites:
        document["reirradiation"] = [reirradiation.to_dict(r) for r in composites]
        combined = Level.worst([*(r.overall for r in results), *(r.overall for r in composites)])
        document["overall_including_reirradiation"] = combined.value
    errors = [summary.error_dict() for summary in summaries if summary.error is not None]
    if errors:
        document["errors"] = errors
    return document


def render_json(document: dict[str, Any]) -> str:
    """A document as JSON text (UTF-8 characters kept), ending with a newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@functools.cache
def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the check document, as shipped with the package."""
    text = resources.files("rtcheck.report").joinpath("schemas", f"{SCHEMA_NAME}.schema.json").read_text("utf-8")
    return json.loads(text)


def verdict_agrees(document: dict[str, Any]) -> bool:
    """Whether a document's ``verdict`` is PASS exactly when its ``exit_code`` is 0."""
    return (document["verdict"] == Level.PASS.value) == (document["exit_code"] == 0)
