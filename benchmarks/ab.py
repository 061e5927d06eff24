"""A/B timing of rtcheck's DVHs against an earlier revision, in one run.

    python benchmarks/ab.py --baseline 470c4c4 [--rounds 7]

The baseline revision is checked out into a temporary git worktree; each round runs, in
fresh processes taking turns (so a slow spell of a shared machine falls on both), the DVHs
of every ROI of the breast export (../shared/testdata/dicompyler-breast) and of the quick
analytic phantom set, once with the baseline and once with this tree. Prints the best time
of each and their ratio (this tree / baseline: below 1 is faster).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BREAST = REPO.parent / "shared" / "testdata" / "dicompyler-breast"

# Runs inside a fresh interpreter whose sys.path starts with the tree to time; imports by the
# old or the new module layout, whichever the tree has. Prints the seconds of the DVHs only.
PROBE = r"""
import sys, time, tempfile
from pathlib import Path
tree, breast = sys.argv[1], Path(sys.argv[2])
sys.path.insert(0, tree)
try:
    from rtcheck.dvhcalc.compute import compute_dvhs
except ImportError:
    from rtcheck.dvh import compute_dvhs
from rtcheck.dicom_io import load_course
try:
    from rtcheck.validation.selftest import phantom_cases, write_dicom_pair
except ImportError:
    from rtcheck.selftest import phantom_cases, write_dicom_pair
courses = []
if breast.exists():
    courses.append(load_course(breast / "rtss.dcm", [breast / "rtdose.dcm"]))
folder = Path(tempfile.mkdtemp())
for n, case in enumerate(phantom_cases(quick=True)):
    rs, rd = write_dicom_pair(folder / str(n), case.label, case.structure_set, case.dose)
    courses.append(load_course(rs, [rd]))
start = time.perf_counter()
for course in courses:
    compute_dvhs(course.structure_set, course.dose)
print(time.perf_counter() - start)
"""


def time_tree(tree: Path) -> float:
    """Seconds of the DVHs in a fresh process running ``tree``'s rtcheck."""
    out = subprocess.run([sys.executable, "-c", PROBE, str(tree), str(BREAST)], check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base), args.baseline],
                       check=True, capture_output=True)
        try:
            times: dict[str, list[float]] = {"baseline": [], "this tree": []}
            for _ in range(args.rounds):
                times["baseline"].append(time_tree(base))
                times["this tree"].append(time_tree(REPO))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], capture_output=True)
    best = {k: min(v) for k, v in times.items()}
    data = "breast export + quick phantom set" if BREAST.exists() else "quick phantom set (breast export not found)"
    print(f"DVHs of every ROI, {data}; best of {args.rounds} rounds, processes taking turns")
    for name, value in best.items():
        print(f"  {name:<10} {value:.3f} s   (all: {', '.join(f'{t:.3f}' for t in times[name])})")
    print(f"  ratio this tree / baseline {args.baseline}: {best['this tree'] / best['baseline']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
