"""Every command's output on the sample plans and the breast export, against the tracked
golden files (tests/golden/; regenerate with ``python -m tests.golden.regenerate`` only
for a deliberate, reviewed change of output)."""

from __future__ import annotations

import json

import pytest
from golden.cases import BREAST, CASES, GOLDEN, needs_breast, run

EXIT_CODES = json.loads((GOLDEN / "exit_codes.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_is_unchanged(name):
    args = CASES[name]
    if needs_breast(args) and not BREAST.exists():
        pytest.skip(f"the breast export is not at {BREAST}")
    code, out, err = run(args)
    expected = (GOLDEN / f"{name}.out").read_text(encoding="utf-8")
    assert out == expected, f"rtcheck {' '.join(args)}: output differs from tests/golden/{name}.out"
    errors = GOLDEN / f"{name}.err"
    assert err == (errors.read_text(encoding="utf-8") if errors.exists() else "")
    assert code == EXIT_CODES[name]
