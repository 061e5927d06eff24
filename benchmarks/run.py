"""Benchmark rtcheck against dicompyler-core and the read-and-decode floor, in one run.

    pip install -e '.[bench]'          # dicompyler-core, matplotlib, pyinstrument
    python benchmarks/run.py           # full run (several minutes); --quick for a smoke run

On the same data, for each tool:

* wall time (best of ``--repeat`` runs; a tool whose single run exceeds ``--budget``
  seconds is run once) of (a) rtcheck DVHs for all ROIs with default settings, from the
  files; (b) dicompyler-core 0.5.6 ``dvhcalc.get_dvh`` for all ROIs, default and with
  interpolation (``interpolation_resolution`` = pixel spacing / 4,
  ``interpolation_segments_between_planes`` = 2); (c) the floor — pydicom reading the
  RTSTRUCT and RTDOSE, decoding every contour's points and the dose to Gy;
* ratios rtcheck/dicompyler and rtcheck/floor;
* accuracy of every tool against the closed-form truth of the analytic phantoms (the same
  scoring as `rtcheck selftest`);
* peak memory (max RSS of a fresh subprocess per tool, minus its RSS after imports) on a
  synthetic 512×512×300 dose grid with 60 ROIs.

Data: the real breast export (../shared/testdata/dicompyler-breast), the analytic phantom
set of rtcheck.validation.phantoms with every gradient axis for every shape × volume × grid
(``--phantoms full``, 420 phantoms; ``standard``: 105), written as DICOM to a temporary
folder, and the synthetic grid. The Markdown report is printed and written to
benchmarks/results/<date>.md (gitignored); README "Performance" and "Accuracy" quote it.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases  # noqa: E402
import tools  # noqa: E402

TOOLS = ("floor", "rtcheck", "dicompyler", "dicompyler_interp")
LABELS = {
    "floor": "floor: read + decode (pydicom)",  # contours and dose
    "rtcheck": "rtcheck (default settings)",
    "dicompyler": "dicompyler-core default",
    "dicompyler_interp": "dicompyler-core interpolated",
}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy
    import pydicom

    try:
        import dicompylercore

        dpc = dicompylercore.__version__
    except Exception:  # noqa: BLE001
        dpc = "not installed"
    import rtcheck

    return (f"{platform.machine()}, {os.cpu_count()} CPUs ({cpu}), Python "
            f"{platform.python_version()}, numpy {numpy.__version__}, pydicom {pydicom.__version__}, "
            f"rtcheck {rtcheck.__version__}, dicompyler-core {dpc}")


# -- running a tool over a case ----------------------------------------------------------
def run_tool(tool: str, case: cases.Case) -> dict[str, list[tools.RoiResult]] | float:
    """Run ``tool`` over every pair of ``case``; per-pair ROI results (floor: a number)."""
    if tool == "floor":
        return sum(tools.run_floor(p.structure_file, [p.dose_file]) for p in case.pairs)
    out = {}
    for p in case.pairs:
        if tool == "rtcheck":
            out[p.label] = tools.run_rtcheck(p.structure_file, [p.dose_file])
        else:
            out[p.label] = tools.run_dicompyler(p.structure_file, p.dose_file,
                                                interpolate=tool == "dicompyler_interp")
    return out


def best_times(tool_list: list[str], case: cases.Case, repeat: int, budget_s: float):
    """Each tool's best time over ``repeat`` rounds in which the tools take turns (a slow
    spell of a shared machine then falls on every tool rather than on one tool's runs); a
    tool stops repeating once its runs took ``budget_s`` in total. Returns {tool: (best, runs)}
    and each tool's last result."""
    times: dict[str, list[float]] = {tool: [] for tool in tool_list}
    results: dict[str, object] = {}
    for _ in range(repeat):
        for tool in tool_list:
            if times[tool] and sum(times[tool]) > budget_s:
                continue
            gc.collect()
            seconds, results[tool] = tools.timed(run_tool, tool, case)
            times[tool].append(seconds)
    return {tool: (min(t), len(t)) for tool, t in times.items()}, results


# -- accuracy ----------------------------------------------------------------------------
def score(case: cases.Case, results: dict[str, list[tools.RoiResult]]):
    from rtcheck.validation.selftest import agreement, summarise

    rows, scales = [], {}
    for p in case.pairs:
        scales[p.label] = p.dose_scale_gy
        by_number = {r.roi_number: r for r in results[p.label]}
        for number, truth in p.truth.items():
            r = by_number.get(number)
            if r is None or r.error is not None:
                rows.append(agreement(p.label, number, truth, p.dose_scale_gy, volume_cc=None,
                                      min_gy=None, mean_gy=None, max_gy=None,
                                      error=r.error if r else "ROI missing"))
                continue
            rows.append(agreement(p.label, number, truth, p.dose_scale_gy, volume_cc=r.volume_cc,
                                  min_gy=r.min_gy, mean_gy=r.mean_gy, max_gy=r.max_gy,
                                  volume_at_dose_cc=r.volume_at_dose_cc))
    return summarise(rows, scales), rows


# -- memory (one fresh subprocess per tool) ----------------------------------------------
def _maxrss_mb() -> float:
    """Peak resident set size of this process (MB).

    VmHWM from /proc/self/status, which starts afresh at exec; getrusage's ru_maxrss would
    carry over the parent's peak through fork + exec (the parent holds the synthetic grid).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def child(tool: str, structure_file: str, dose_file: str) -> None:
    """Entry point of the memory subprocess: import, note RSS, run once, report JSON."""
    import numpy  # noqa: F401
    import pydicom  # noqa: F401

    if tool == "rtcheck":
        import rtcheck.dicom_io  # noqa: F401
        import rtcheck.dvhcalc  # noqa: F401
    elif tool.startswith("dicompyler"):
        import dicompyler_shim  # noqa: F401
    baseline = _maxrss_mb()
    pair = cases.Pair("child", Path(structure_file), Path(dose_file))
    seconds, _ = tools.timed(run_tool, tool, cases.Case("child", [pair]))
    print(json.dumps({"tool": tool, "baseline_mb": baseline, "peak_mb": _maxrss_mb(),
                      "seconds": seconds}))


def measure_memory(tool: str, pair: cases.Pair) -> dict:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", tool, str(pair.structure_file),
         str(pair.dose_file)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        return {"tool": tool, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- report ------------------------------------------------------------------------------
def _f(v, spec=".2f", unit=""):
    return "–" if v is None else f"{format(v, spec)}{unit}"


def timing_table(timings: dict) -> str:
    lines = [
        "| data | floor: read + decode | rtcheck | dicompyler-core default | dicompyler-core "
        "interpolated | rtcheck / floor | dicompyler default / rtcheck | dicompyler interp / rtcheck |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, t in timings.items():
        def cell(tool, t=t):
            if tool not in t:
                return "–"
            s, n = t[tool]
            return f"{s:.3g} s" + (" (1 run)" if n == 1 else f" (best of {n})")

        rt = t.get("rtcheck", (None,))[0]
        fl = t.get("floor", (None,))[0]
        dp = t.get("dicompyler", (None,))[0]
        di = t.get("dicompyler_interp", (None,))[0]
        lines.append(
            f"| {name} | {cell('floor')} | {cell('rtcheck')} | {cell('dicompyler')} | "
            f"{cell('dicompyler_interp')} | {_f(rt / fl if rt and fl else None, '.1f', '×')} | "
            f"{_f(dp / rt if rt and dp else None, '.1f', '×')} | "
            f"{_f(di / rt if rt and di else None, '.1f', '×')} |"
        )
    return "\n".join(lines)


def accuracy_table(summaries: dict) -> str:
    lines = [
        "| tool | structures | volume MAE | max \\|Δvol\\| (≥ 0.5 cc) | max \\|ΔDmin\\| | "
        "max \\|ΔDmean\\| | max \\|ΔDmax\\| | DVH points: mean / max \\|ΔV\\| | issue-5 tolerances |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for tool, s in summaries.items():
        fails = len(s.failures)
        verdict = "all hold" if not fails else f"{fails} violation(s)"
        lines.append(
            f"| {LABELS[tool]} | {s.structures} | {_f(s.volume_mae_pct, '.2f', ' %')} | "
            f"{_f(s.max_volume_error_pct, '.2f', ' %')} | "
            f"{_f(s.max_dose_error_pct['min'], '.2f', ' %')} | "
            f"{_f(s.max_dose_error_pct['mean'], '.2f', ' %')} | "
            f"{_f(s.max_dose_error_pct['max'], '.2f', ' %')} | "
            f"{_f(s.mean_dvh_point_error_pct, '.2f')} / {_f(s.max_dvh_point_error_pct, '.1f', ' %')} | "
            f"{verdict} |"
        )
    return "\n".join(lines)


def memory_table(mem: dict, grid_mb: float) -> str:
    lines = [
        "| tool | time (1 run) | peak RSS | above baseline (after imports) | × dose grid (float64) |",
        "|---|---:|---:|---:|---:|",
    ]
    for tool, m in mem.items():
        if "error" in m:
            lines.append(f"| {LABELS[tool]} | failed: {m['error']} | | | |")
            continue
        above = m["peak_mb"] - m["baseline_mb"]
        lines.append(f"| {LABELS[tool]} | {m['seconds']:.1f} s | {m['peak_mb']:.0f} MB | "
                     f"{above:.0f} MB | {above / grid_mb:.1f}× |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: quick phantom subset, 1 repeat, no synthetic grid")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best of N)")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="stop repeating a timing after this many seconds in total")
    parser.add_argument("--phantoms", choices=("standard", "full"), default="full")
    parser.add_argument("--no-memory", action="store_true", help="skip the 512×512×300 grid")
    parser.add_argument("--no-interp", action="store_true",
                        help="skip dicompyler-core's interpolated mode (slow)")
    parser.add_argument("-o", "--output", type=Path, help="report file (default results/<date>.md)")
    parser.add_argument("--child", nargs=3, metavar=("TOOL", "RTSTRUCT", "RTDOSE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    repeat = 1 if args.quick else args.repeat
    tool_list = [t for t in TOOLS if not (args.no_interp and t == "dicompyler_interp")]

    started = _dt.datetime.now()
    timings: dict[str, dict] = {}
    summaries: dict = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="rtcheck-bench-") as tmp:
        tmpdir = Path(tmp)
        t0 = time.perf_counter()
        phantom_case = cases.phantom_case(tmpdir / "phantoms", quick=args.quick,
                                          full=args.phantoms == "full" and not args.quick)
        print(f"wrote {phantom_case.note} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

        data = [cases.breast_case(), phantom_case]
        for case in data:
            timings[case.name] = {}
            best, results = best_times(tool_list, case, repeat, args.budget)
            for tool in tool_list:
                timings[case.name][tool] = best[tool]
                print(f"{case.name}: {tool} {best[tool][0]:.3f} s ({best[tool][1]} runs)", file=sys.stderr)
                if case is phantom_case and tool != "floor":
                    summaries[tool], _ = score(case, results[tool])  # type: ignore[arg-type]

        mem: dict = {}
        grid_mb = None
        synth_note = ""
        if not (args.quick or args.no_memory):
            t0 = time.perf_counter()
            synth = cases.synthetic_case(tmpdir / "synth")
            synth_note = synth.note
            print(f"wrote synthetic case in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            nz, ny, nx = cases.SYNTH_SHAPE
            grid_mb = nx * ny * nz * 8 / 2**20
            for tool in ("floor", "rtcheck", "dicompyler"):
                mem[tool] = measure_memory(tool, synth.pairs[0])
                print(f"memory {tool}: {mem[tool]}", file=sys.stderr)

    date = started.strftime("%Y-%m-%d")
    parts = [
        f"# rtcheck benchmark, {date}",
        "",
        f"Machine: {machine()}.",
        f"Command: `python benchmarks/run.py{' --quick' if args.quick else ''}` "
        f"(phantoms: {'quick' if args.quick else args.phantoms}, best of {repeat}).",
        "",
        "## Wall time, all ROIs",
        "",
        "Breast export: " + cases.breast_case().note + f". Phantoms: {phantom_case.note}.",
        "",
        timing_table(timings),
        "",
        "## Accuracy against closed-form truth (analytic phantoms)",
        "",
        "Truth: the contoured solid with half-slice end caps (what a DVH from the contours can "
        "recover). Dose errors in % of the phantom's nominal dose (50 Gy); DVH points: volume "
        "at the true D98 %, D50 %, D2 %, error in % of the structure volume.",
        "",
        accuracy_table(summaries),
    ]
    if mem:
        parts += [
            "",
            "## Peak memory, synthetic 512×512×300 grid with 60 ROIs",
            "",
            f"Synthetic plan: {synth_note}.",
            f"Dose grid as float64: {grid_mb:.0f} MB (32-bit pixel data on disk: {grid_mb / 2:.0f} MB).",
            "",
            memory_table(mem, grid_mb),
        ]
    if "rtcheck" in summaries and summaries["rtcheck"].failures:
        fails = summaries["rtcheck"].failures
        parts += ["", f"rtcheck's tolerance violations on the phantoms ({len(fails)}):", ""]
        parts += [f"- {f}" for f in fails[:40]]
        if len(fails) > 40:
            parts.append(f"- … and {len(fails) - 40} more")
    parts += notes
    report = "\n".join(p for p in parts if p is not None) + "\n"
    print(report)
    out = args.output or HERE / "results" / f"{date}.md"
    if args.output is None:
        out.parent.mkdir(exist_ok=True)  # benchmarks/results is not in git; rtcheck makes no folders
    from rtcheck.fileio import write_text_atomic

    write_text_atomic(out, report)
    print(f"written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
