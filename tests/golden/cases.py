"""The golden cases: every command of rtcheck on the sample plans and the breast export.

Each case is a name and the command-line arguments (run from the repository root). The
expected standard output and exit code of each are tracked beside this file; they are
written only by an explicit command, and a change to them is reviewed in the diff::

    python -m tests.golden.regenerate          # rewrite tests/golden/*.out and exit_codes.json
    python -m pytest tests/test_golden.py      # compare the current code with them

The outputs are normalised in two ways only: the absolute folder of the shipped constraint
tables (which depends on where rtcheck is installed) reads ``<shipped>``, and the time of the
run (ISO 8601 UTC, ``YYYY-MM-DDTHH:MM:SSZ``) reads ``<time>``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent


def _breast() -> Path:
    """The breast export: under $RTCHECK_SHARED, else ../shared or ../../shared (as conftest.py)."""
    env = os.environ.get("RTCHECK_SHARED")
    for shared in ([Path(env)] if env else []) + [REPO.parent / "shared", REPO.parent.parent / "shared"]:
        if (shared / "testdata").is_dir():
            return shared / "testdata" / "dicompyler-breast"
    return REPO.parent / "shared" / "testdata" / "dicompyler-breast"


BREAST = _breast()

SAMPLES = ("spine_8gy_1fx", "sabr_3lesions_5fx", "prior_spine_20gy_5fx", "prior_spine_20gy_5fx_otherframe")
FORMATS = ("json", "table", "csv")


def _cases() -> dict[str, tuple[str, ...]]:
    cases: dict[str, tuple[str, ...]] = {}
    for sample in SAMPLES:
        folder = f"sample_dicom/{sample}"
        for fmt in FORMATS:
            cases[f"check-{sample}-{fmt}"] = ("check", folder, "--format", fmt, "--no-color")
            cases[f"dvh-{sample}-{fmt}"] = ("dvh", folder, "--format", fmt)
    for prior in ("prior_spine_20gy_5fx", "prior_spine_20gy_5fx_otherframe"):
        for fmt in FORMATS:
            cases[f"check-spine-with-{prior}-{fmt}"] = (
                "check", "sample_dicom/spine_8gy_1fx", "--prior", f"sample_dicom/{prior}", "--format", fmt, "--no-color",
            )
    cases["check-spine-with-prior-no-converted-json"] = (
        "check", "sample_dicom/spine_8gy_1fx", "--prior", "sample_dicom/prior_spine_20gy_5fx",
        "--no-converted-limits", "--format", "json",
    )
    cases["check-sabr-as-3fx-json"] = ("check", "sample_dicom/sabr_3lesions_5fx", "--fractions", "3", "--format", "json")
    cases["check-spine-sabr-arm-json"] = ("check", "sample_dicom/spine_8gy_1fx", "--arm", "sabr", "--format", "json")
    cases["check-spine-table-sabr-1fx-json"] = ("check", "sample_dicom/spine_8gy_1fx", "--table", "sabr-1fx", "--format", "json")
    # the HTML report (its SVG plots normalised: see normalise)
    cases["check-sabr_3lesions_5fx-html"] = ("check", "sample_dicom/sabr_3lesions_5fx", "--format", "html")
    cases["check-spine-with-prior-html"] = (
        "check", "sample_dicom/spine_8gy_1fx", "--prior", "sample_dicom/prior_spine_20gy_5fx", "--format", "html",
    )
    cases["check-all-samples-json"] = ("check", "sample_dicom", "--format", "json")
    cases["check-all-samples-table"] = ("check", "sample_dicom", "--no-color")
    cases["eqd2-forward-text"] = ("eqd2", "--dose", "8", "--fractions", "1", "-a", "2", "-a", "10")
    cases["eqd2-forward-json"] = ("eqd2", "--dose", "35", "--fractions", "5", "-a", "3", "--format", "json")
    cases["eqd2-inverse-text"] = ("eqd2", "--target-eqd2", "20", "--fractions", "5", "-a", "2")
    cases["constraints-list"] = ("constraints", "list")
    for table in ("sabr-5fx", "stop2-control-8gy-1fx", "reirradiation-cumulative"):
        cases[f"constraints-show-{table}"] = ("constraints", "show", table)
    cases["check-sabr_3lesions_5fx-junit"] = ("check", "sample_dicom/sabr_3lesions_5fx", "--format", "junit")
    cases["check-spine-with-prior-junit"] = (
        "check", "sample_dicom/spine_8gy_1fx", "--prior", "sample_dicom/prior_spine_20gy_5fx", "--format", "junit",
    )
    for fmt in FORMATS:
        cases[f"dvh-breast-{fmt}"] = ("dvh", str(BREAST), "--format", fmt)
    cases["check-breast-7fx"] = ("check", str(BREAST))
    cases["check-breast-as-sabr-8fx-json"] = ("check", str(BREAST), "--table", "sabr-8fx", "--fractions", "8", "--format", "json")
    return cases


CASES = _cases()


def needs_breast(args: tuple[str, ...]) -> bool:
    return str(BREAST) in args


_SHIPPED = re.compile(r"(?:/[^\s\"',]+)?/(?:constraints|shipped_constraints)/(?=[\w.-]+\.(?:yaml|csv))")


_RUN_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\b")


#: An inline SVG plot of the HTML report: its bytes depend on matplotlib's version (layout,
#: fonts), so the golden file keeps only that a plot is there; where its markers land is
#: tested in tests/test_html_report.py.
_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)


def normalise(text: str) -> str:
    """Output with the install-dependent folder of the shipped tables replaced by ``<shipped>/``,
    the breast export's folder by ``<breast>``, the run's time by ``<time>`` and each inline
    SVG plot by ``<svg>…</svg>``."""
    text = _SVG.sub("<svg>…</svg>", text.replace(str(BREAST), "<breast>"))
    return _RUN_TIME.sub("<time>", _SHIPPED.sub("<shipped>/", text))


def run(args: tuple[str, ...]) -> tuple[int, str, str]:
    """Exit code, normalised standard output and standard error of ``rtcheck ARGS`` run
    in-process from the repository root."""
    from click.testing import CliRunner

    from rtcheck.cli import main

    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(cwd)
    return result.exit_code, normalise(result.stdout), normalise(result.stderr)
