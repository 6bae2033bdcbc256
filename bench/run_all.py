"""Run every benchmark, one process each, and write bench/results/speed.md (`make bench`).

.venv/bin/python bench/run_all.py [--quick] [--demo-workdir DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import benchlib

BENCHMARKS = ["features", "feature_io", "inference", "training", "load_features", "dag", "demo"]
TARGETS = {
    "features": ">= 3x clips/s vs librosa, max diff < 0.01 dB",
    "feature I/O": ">= 10x windows/s vs np.load(npz) + crop",
    "inference": ">= 2x windows/s vs per-window fp32 NCHW loop, equal scores",
    "training": ">= 1.5x windows/s vs fp32 NCHW + whole-clip np.load, losses match",
    "load": "feature step over 100 -> 2,000 clips: peak RSS ratio <= 1.2x",
    "DAG": "no-op rerun < 5 s wall",
    "demo": "report minutes",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--demo-workdir", type=Path, default=benchlib.ROOT)
    parser.add_argument(
        "--out", type=Path, default=benchlib.ROOT / "bench" / "results" / "speed.md"
    )
    parser.add_argument("--timeout", type=float, default=420, help="seconds per benchmark")
    args = parser.parse_args()
    machine_before = benchlib.machine()
    sections, results = [], []
    started = time.perf_counter()
    runs = [(name, name, []) for name in BENCHMARKS]
    demo = args.demo_workdir.resolve()
    if all((demo / name).exists() for name in ("submission.csv", "scores.json", ".snakemake")):
        # also the no-op rerun of a real finished demo, beside the touched scratch workdir
        runs.insert(-1, ("dag on the demo", "dag", ["--workdir", str(demo)]))
    for title, name, extra in runs:
        command = [sys.executable, str(benchlib.ROOT / "bench" / f"{name}.py"), *extra]
        command += ["--quick"] if args.quick else []
        command += ["--workdir", str(demo)] if name == "demo" else []
        print(f"== {title}", flush=True)
        start = time.perf_counter()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=args.timeout, cwd=benchlib.ROOT
            )
            output, failed = done.stdout, done.returncode != 0
            if failed:
                output += f"\n(exit status {done.returncode})\n{done.stderr[-3000:]}"
        except subprocess.TimeoutExpired as error:
            output, failed = (error.stdout or b"").decode() + "\n(timed out)", True
        seconds = time.perf_counter() - start
        print(output, flush=True)
        lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
        if lines:
            stage, summary, verdict = (p.strip() for p in lines[-1][7:].split(" | ", 2))
            results.append((stage, summary, verdict))
        else:
            results.append((title, "failed" if failed else "no result line", "not measured"))
        sections.append(f"## {title} ({seconds:.0f} s)\n\n```\n{output.strip()}\n```\n")
    total = time.perf_counter() - started

    table = ["| stage | target | measured | verdict |", "|---|---|---|---|"]
    for stage, summary, verdict in results:
        table.append(f"| {stage} | {TARGETS.get(stage, '')} | {summary} | {verdict} |")
    text = "\n".join(
        [
            "# sedcycle benchmarks",
            "",
            f"Machine at the start: {machine_before}.  ",
            f"Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}.",
            "",
            f"`make bench` (bench/run_all.py{' --quick' if args.quick else ''}): "
            f"{total / 60:.1f} min. Ratios are medians of per-repeat ratios of interleaved "
            "runs in one process; the machine is shared, so absolute rates move with its load.",
            "",
            *table,
            "",
            *sections,
        ]
    )
    args.out.write_text(text)
    print(f"wrote {args.out} ({total / 60:.1f} min)")


if __name__ == "__main__":
    main()
