"""Per-ROI agreement of rtcheck's DVHs with the planning system's own DVHs (DVHSequence).

    python benchmarks/tps_agreement.py [EXPORT_FOLDER] [--dicompyler] [-o FILE.md]

Default folder: ../shared/testdata/dicompyler-breast (an Eclipse export whose RTDOSE carries
9 cumulative TPS DVHs, 0.01 Gy bins). For each ROI it prints the TPS and rtcheck volume,
mean and max dose and their differences as a Markdown table (quoted in README "Accuracy").
With --dicompyler, dicompyler-core's default-mode values are added for comparison.

TPS mean and max are computed from the stored cumulative curve (the header attributes
DVHMeanDose/DVHMaximumDose of this export are in % of the prescription although DoseUnits is
GY, so they are not used): mean = (1/V0)·∫V(D)dD (trapezoid), max = highest dose with
volume > 0. With 0.01 Gy bins both are good to about ±0.01 Gy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
DEFAULT_EXPORT = HERE.parent.parent / "shared" / "testdata" / "dicompyler-breast"


def tps_summary(dose_gy: np.ndarray, volume_cc: np.ndarray) -> tuple[float, float, float]:
    """(volume_cc, mean_gy, max_gy) of a cumulative DVH given as bin doses and volumes."""
    dose_gy = np.asarray(dose_gy, float)
    volume_cc = np.asarray(volume_cc, float)
    v0 = float(volume_cc[0])
    mean = float(np.trapezoid(volume_cc, dose_gy) / v0) + float(dose_gy[0])
    positive = np.nonzero(volume_cc > 0)[0]
    dmax = float(dose_gy[positive[-1]]) if positive.size else 0.0
    return v0, mean, dmax


def _pct(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "–"
    return f"{100.0 * (a - b) / b:+.1f} %"


def _diff(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "–"
    return f"{a - b:+.2f}"


def _f(v: float | None, fmt: str = ".2f") -> str:
    return "–" if v is None else format(v, fmt)


def _vol(row) -> str:
    if row.volume_cc is None:
        return "–"
    if row.volume_uncertainty_cc:
        return f"{row.volume_cc:.2f} ± {row.volume_uncertainty_cc:.2f}"
    return f"{row.volume_cc:.2f}"


def agreement_table(folder: Path, with_dicompyler: bool = False) -> str:
    from tools import run_dicompyler, run_rtcheck

    from rtcheck.dicom_io import read_tps_dvhs

    structure_file = folder / "rtss.dcm"
    dose_file = folder / "rtdose.dcm"
    tps = read_tps_dvhs(dose_file)
    ours = {r.roi_number: r for r in run_rtcheck(structure_file, [dose_file])}
    peer = {}
    if with_dicompyler:
        peer = {r.roi_number: r for r in run_dicompyler(structure_file, dose_file)}

    head = (
        "| ROI | TPS vol (cc) | rtcheck vol (cc) ± end-cap/sampling spread | Δvol | TPS mean (Gy) "
        "| rtcheck mean | Δmean (Gy)"
        " | TPS max (Gy) | rtcheck max | Δmax (Gy) |"
    )
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if with_dicompyler:
        head += " dicompyler vol / Δ | dicompyler Δmean | dicompyler Δmax |"
        sep += "---:|---:|---:|"
    lines = [head, sep]
    for number in sorted(ours):
        row = ours[number]
        if number not in tps:
            note = "no contours, no TPS DVH" if row.error and "no contours" in row.error else "no TPS DVH"
            lines.append(f"| {number} {row.name} ({note}) | – | {_vol(row)} | – | – | – | – | – | – | – |"
                         + (" – | – | – |" if with_dicompyler else ""))
            continue
        v0, mean, dmax = tps_summary(*tps[number])
        line = (
            f"| {number} {row.name} | {v0:.2f} | {_vol(row)} | {_pct(row.volume_cc, v0)} "
            f"| {mean:.2f} | {_f(row.mean_gy)} | {_diff(row.mean_gy, mean)} "
            f"| {dmax:.2f} | {_f(row.max_gy)} | {_diff(row.max_gy, dmax)} |"
        )
        if with_dicompyler:
            p = peer.get(number)
            if p is None or p.volume_cc is None:
                line += " – | – | – |"
            else:
                line += (f" {p.volume_cc:.2f} / {_pct(p.volume_cc, v0)} | {_diff(p.mean_gy, mean)}"
                         f" | {_diff(p.max_gy, dmax)} |")
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--dicompyler", action="store_true", help="add dicompyler-core columns")
    parser.add_argument("-o", "--output", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    table = agreement_table(args.folder, args.dicompyler)
    print(table)
    if args.output:
        from rtcheck.fileio import write_text_atomic

        write_text_atomic(args.output, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
