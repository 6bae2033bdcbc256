"""Demo: minutes of an existing ``make demo`` run, read from its benchmarks/*.tsv files.

The whole demo takes longer than ``make bench`` may, so this never runs it: it reads the
per-job timing files Snakemake wrote in a working directory (default: the repository root;
``--workdir`` for another) and reports the wall time from the first job's start to the last
job's end, the summed job time, and the slowest rule groups with their peak RSS.

    .venv/bin/python bench/demo.py [--workdir DIR] [--quick]
"""

from __future__ import annotations

from pathlib import Path

import benchlib
import pandas as pd


def job_table(workdir: Path) -> pd.DataFrame:
    """One row per benchmark file: job (path under benchmarks/), seconds, peak RSS, end time."""
    rows = []
    for path in sorted((workdir / "benchmarks").rglob("*.tsv")):
        table = pd.read_csv(path, sep="\t")
        if table.empty:
            continue
        rows.append(
            {
                "job": str(path.relative_to(workdir / "benchmarks").with_suffix("")),
                "seconds": float(table["s"].iloc[-1]),
                "max_rss_mib": float(pd.to_numeric(table["max_rss"], errors="coerce").iloc[-1]),
                "end": path.stat().st_mtime,
            }
        )
    return pd.DataFrame(rows, columns=["job", "seconds", "max_rss_mib", "end"])


def rule_group(job: str) -> str:
    """'stage1/train_fold3' -> 'train', 'round2/predict_fold0' -> 'predict', 'features/x' ->
    'features'."""
    name = job.split("/")[-1]
    if job.startswith("features/"):
        return "features"
    return name.split("_fold")[0] if "_fold" in name else name


def main() -> None:
    parser = benchlib.arguments(__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=benchlib.ROOT)
    args = parser.parse_args()
    benchlib.header(f"demo: benchmarks/*.tsv of {args.workdir}")
    jobs = job_table(args.workdir)
    if jobs.empty:
        print(f"no benchmarks/*.tsv under {args.workdir}: run `make demo` first")
        benchlib.result("demo", "no demo run found", "not measured")
        return
    finished = (args.workdir / "submission.csv").exists()
    state = "finished" if finished else "NOT finished (partial)"
    if finished and not (args.workdir / "scores.json").exists():
        state += ", without scores.json"
    wall = jobs["end"].max() - (jobs["end"] - jobs["seconds"]).min()
    total = jobs["seconds"].sum()
    groups = jobs.assign(group=jobs["job"].map(rule_group)).groupby("group")
    summary = groups.agg(
        jobs=("seconds", "size"), seconds=("seconds", "sum"), peak_rss_mib=("max_rss_mib", "max")
    ).sort_values("seconds", ascending=False)
    print(f"{len(jobs)} jobs; run {state}")
    print(summary.round(1).to_string())
    print(f"wall, first job start to last job end: {wall / 60:.1f} min")
    peak = jobs["max_rss_mib"].max()
    print(f"sum of job times: {total / 60:.1f} min; peak RSS of one job {peak:.0f} MiB")
    benchlib.result(
        "demo",
        f"{wall / 60:.1f} min wall ({len(jobs)} jobs, {total / 60:.1f} min of job time)"
        + ("" if finished else ", partial run"),
        "reported (no target)",
    )


if __name__ == "__main__":
    main()
