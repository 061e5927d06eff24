"""Rewrite the golden outputs: ``python -m tests.golden.regenerate`` from the repository root.

Run it only for a deliberate change of rtcheck's output, and review the diff of
tests/golden/ before committing it.
"""

from __future__ import annotations

import json
import sys

from .cases import BREAST, CASES, GOLDEN, needs_breast, run


def main() -> int:
    codes = {}
    for name, args in CASES.items():
        if needs_breast(args) and not BREAST.exists():
            print(f"skip {name}: {BREAST} not found", file=sys.stderr)
            continue
        code, out, err = run(args)
        (GOLDEN / f"{name}.out").write_text(out, encoding="utf-8")
        (GOLDEN / f"{name}.err").unlink(missing_ok=True)
        if err:
            (GOLDEN / f"{name}.err").write_text(err, encoding="utf-8")
        codes[name] = code
        print(f"{name}: exit {code}, {len(out)} characters")
    old = GOLDEN / "exit_codes.json"
    if old.exists():  # keep the breast cases' codes when the export is not here
        previous = json.loads(old.read_text(encoding="utf-8"))
        codes = {**{k: v for k, v in previous.items() if k in CASES}, **codes}
    old.write_text(json.dumps(dict(sorted(codes.items())), indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
