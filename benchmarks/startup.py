"""Start-up time of the command line: `rtcheck --help` and `rtcheck --version` against a bare
`python -c pass`, best of N in one run (issue #14's target: <= 0.15 s on this 2-core VM).

    python benchmarks/startup.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time


def best_of(command: list[str], repeat: int) -> float:
    """The shortest wall-clock time (s) of ``repeat`` runs of ``command``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rtcheck = shutil.which("rtcheck") or sys.exit("rtcheck is not on PATH: pip install -e . first")
    baseline = best_of([sys.executable, "-c", "pass"], args.repeat)
    print(f"python -c pass      {baseline:.3f} s")
    for flag in ("--version", "--help"):
        t = best_of([rtcheck, flag], args.repeat)
        print(f"rtcheck {flag:<10}  {t:.3f} s   ({t / baseline:.1f}× the bare interpreter; target <= 0.15 s)")
    t = best_of([sys.executable, "-c", "import rtcheck.api"], max(3, args.repeat // 4))
    print(f"import rtcheck.api  {t:.3f} s   (what a command that works pays)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
