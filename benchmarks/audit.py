"""`rtcheck audit` throughput on a generated archive (issue #14), every ratio from one run.

The archive (tests/test_audit_archive.py) holds ``--plans`` plans in nested folders: copies
of the sample plans made distinct (spine 8 Gy × 1: PASS; SABR 5 fractions: FAIL), a few
broken (7 fractions, no dose, a truncated dose) and ``--breast`` copies of the real breast
export planned in 5 fractions (a plan of clinical size: 194×129×98 dose grid, 10 MB), when
../shared/testdata is there. Measured, on the same archive in the same run:

* plans per minute with ``--jobs 1`` and ``--jobs 2`` (each into a fresh ledger), and the
  speed-up; the clinical-size plans alone with ``--jobs 2``;
* the re-run of the unchanged archive, as a fraction of the first run;
* the time per plan of the audit against one ``rtcheck FOLDER`` process per plan (on the
  first ``--compare`` plan folders).

    python benchmarks/audit.py [--plans 200] [--breast 20] [--compare 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from test_audit_archive import BREAST, make_archive  # noqa: E402

from rtcheck.audit import run_audit  # noqa: E402

#: Broken plans per archive, whatever its size.
BROKEN = ["seven_fractions", "no_dose", "truncated_dose", "seven_fractions", "no_dose"]


def archive_kinds(plans: int, breast: int) -> list[str]:
    """The kinds of the archive's plans: ``breast`` clinical-size plans, the broken ones,
    the rest alternating spine (PASS) and SABR (FAIL)."""
    breast = breast if (BREAST / "rtdose.dcm").exists() else 0
    rest = plans - breast - len(BROKEN)
    return ["pass" if n % 2 else "fail" for n in range(rest)] + BROKEN + ["breast"] * breast


def timed_audit(archive: Path, ledger: Path, jobs: int) -> tuple[float, object]:
    """Wall time (s) of one audit of ``archive`` into ``ledger``, and its outcome."""
    start = time.perf_counter()
    outcome = run_audit(archive, ledger, jobs=jobs)
    return time.perf_counter() - start, outcome


def per_process(folders: list[Path]) -> float:
    """Wall time (s) of checking each folder with its own `rtcheck FOLDER` process."""
    rtcheck = shutil.which("rtcheck") or sys.exit("rtcheck is not on PATH: pip install -e . first")
    start = time.perf_counter()
    for folder in folders:
        subprocess.run([rtcheck, str(folder)], capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> int:
    """Generate the archive, measure, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=200)
    parser.add_argument("--breast", type=int, default=20)
    parser.add_argument("--compare", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="build the archive here and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="rtcheck-audit-bench-"))
    kinds = archive_kinds(args.plans, args.breast)
    start = time.perf_counter()
    made = make_archive(work / "archive", kinds)
    print(f"archive: {len(kinds)} plans ({kinds.count('breast')} clinical-size breast, {len(BROKEN)} broken) "
          f"generated in {time.perf_counter() - start:.0f} s; {os.cpu_count()} cores")
    t1, first = timed_audit(work / "archive", work / "jobs1.sqlite", 1)
    t2, _ = timed_audit(work / "archive", work / "jobs2.sqlite", 2)
    rerun, again = timed_audit(work / "archive", work / "jobs2.sqlite", 2)
    assert again.skipped == len(kinds), again  # type: ignore[attr-defined]
    rows = [
        ("plans found / checked / not checked", f"{first.found} / {first.checked} / {first.not_checked}"),  # type: ignore[attr-defined]
        ("--jobs 1", f"{t1:.1f} s, {60 * len(kinds) / t1:.0f} plans/min"),
        ("--jobs 2", f"{t2:.1f} s, {60 * len(kinds) / t2:.0f} plans/min (speed-up {t1 / t2:.2f}×)"),
        ("re-run, unchanged archive (--jobs 2)", f"{rerun:.2f} s ({100 * rerun / t2:.1f} % of the first --jobs 2 run)"),
    ]
    breast_folders = [folder for kind, folder in made if kind == "breast"]
    if breast_folders:
        clinical = work / "clinical"
        for n, folder in enumerate(breast_folders):
            shutil.copytree(folder, clinical / f"plan{n}")
        tc, _ = timed_audit(clinical, work / "clinical.sqlite", 2)
        rows.append(("clinical-size plans alone (--jobs 2)",
                     f"{len(breast_folders)} in {tc:.1f} s, {60 * len(breast_folders) / tc:.0f} plans/min"))
    compared = [folder for kind, folder in made if kind in ("pass", "fail")][: args.compare]
    compare_root = work / "compare"
    for n, folder in enumerate(compared):
        shutil.copytree(folder, compare_root / f"plan{n}")
    tp = per_process(compared)
    ta, _ = timed_audit(compare_root, work / "compare.sqlite", 1)
    rows.append((f"{len(compared)} sample plans: one `rtcheck FOLDER` process each",
                 f"{tp:.1f} s, {tp / len(compared):.2f} s/plan"))
    rows.append((f"the same {len(compared)} plans: `rtcheck audit --jobs 1`",
                 f"{ta:.1f} s, {ta / len(compared):.2f} s/plan ({tp / ta:.2f}× faster per plan)"))
    print("\n| measured | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    if args.keep is None:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
