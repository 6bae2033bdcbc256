"""The demo over several training seeds: does every seed learn, and does the last round keep
or beat stage 1? `make demo-seeds` runs it and writes bench/results/demo_seeds.md.

    .venv/bin/python bench/demo_seeds.py [--seeds 0 1 2] [--root bench/demo_runs] [--out FILE]

Each seed runs config.yaml as it is (the demo) in ``{root}/seed{s}`` with ``stage1.seed`` and
``relabel.seed`` set to s, so the data are the demo's and the spread is the training seeds'.
Snakemake is incremental: a finished seed is not run again, so the report can be rewritten
from finished runs. The seeds run one after another on ``--cores`` cores (default 2).
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import benchlib
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = ROOT / "bench" / "demo_runs"
DEFAULT_OUT = ROOT / "bench" / "results" / "demo_seeds.md"
LEARNS = 0.6  # the bar stage 1's test LWLRAP must reach: the demo shows a model that learns


def seed_command(workdir: Path, seed: int, cores: int | str, max_threads: int = 1) -> list[str]:
    """The snakemake call of one seed: config.yaml, then the seed's stage1/relabel seeds;
    jobs capped at ``max_threads`` threads, as `make demo` does."""
    workdir.mkdir(parents=True, exist_ok=True)
    seeds = workdir / "seed.yaml"
    seeds.write_text(yaml.safe_dump({"stage1": {"seed": seed}, "relabel": {"seed": seed}}))
    return benchlib.workflow_command(workdir, cores, [seeds], max_threads=max_threads)


def run_seed(workdir: Path, seed: int, cores: int | str, max_threads: int = 1) -> float:
    """Run one seed (nothing when it is finished); its wall minutes. SystemExit on failure."""
    started = time.perf_counter()
    with open(workdir.parent / f"seed{seed}.log", "w") as log:
        done = subprocess.run(
            seed_command(workdir, seed, cores, max_threads), stdout=log, stderr=log
        )
    if done.returncode != 0:
        raise SystemExit(f"seed {seed} failed: see {log.name}")
    return (time.perf_counter() - started) / 60


def job_minutes(workdir: Path) -> float:
    """Sum of the run's jobs' wall times, from benchmarks/*.tsv."""
    files = list((workdir / "benchmarks").rglob("*.tsv"))
    return sum(float(pd.read_csv(f, sep="\t")["s"].iloc[0]) for f in files) / 60


def stage_rows(workdir: Path) -> pd.DataFrame:
    """A finished run's scores.csv by stage, its stages' rows only (stage1, round1, ...; not
    the ensemble)."""
    table = pd.read_csv(workdir / "scores.csv").set_index("stage")
    return table.drop(index="ensemble", errors="ignore")


def seed_scores(table: pd.DataFrame) -> pd.Series:
    """Test LWLRAP per stage of :func:`stage_rows`, with random scores' mean and std."""
    scores = table["test_lwlrap"].copy()
    scores["random"] = table["random_lwlrap_mean"].dropna().iloc[0]
    scores["random_std"] = table["random_lwlrap_std"].dropna().iloc[0]
    return scores


def prior_lines(tables: dict[int, pd.DataFrame], scores: pd.DataFrame) -> list[str]:
    """Stage 1 and the last round with and without per-class prior scaling (scores.csv
    test_lwlrap_prior, what ``postprocess.prior_scaling`` submits) per seed, of the seeds'
    :func:`stage_rows`, and how often the scaling kept or raised the last round's score. []
    when a run has it unmeasured."""
    scaled = pd.DataFrame({seed: t["test_lwlrap_prior"] for seed, t in tables.items()}).T
    last = [c for c in scores.columns if c.startswith("round")][-1]
    if scaled[["stage1", last]].isna().any().any():
        return []
    header = ["seed", "stage1", "stage1, prior-scaled", last, f"{last}, prior-scaled"]
    lines = [
        "",
        "Prior scaling (`postprocess.prior_scaling`: each species' test scores scaled to its "
        "share of the train recordings with a tp row; scores.csv `test_lwlrap_prior`):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for seed in scores.index:
        cells = [scores.at[seed, "stage1"], scaled.at[seed, "stage1"]]
        cells += [scores.at[seed, last], scaled.at[seed, last]]
        lines.append(f"| {seed} | " + " | ".join(f"{v:.4f}" for v in cells) + " |")
    columns = [scores["stage1"], scaled["stage1"], scores[last], scaled[last]]
    mean = [f"{c.mean():.4f} ± {c.std(ddof=1):.4f}" for c in columns]
    lines.append("| mean ± std | " + " | ".join(mean) + " |")
    gain = scaled[last] - scores[last]
    lines += [
        "",
        f"- {last} prior-scaled >= {last} on {int((gain >= 0).sum())} of {len(gain)} seeds "
        f"(differences {', '.join(f'{g:+.4f}' for g in gain)}; mean {gain.mean():+.4f})",
    ]
    return lines


def verdict_lines(scores: pd.DataFrame) -> list[str]:
    """Per-seed checks: stage 1 >= LEARNS, the last round >= stage 1 (and >= round 1)."""
    last = [c for c in scores.columns if c.startswith("round")][-1]
    gain = scores[last] - scores["stage1"]
    spread = scores["stage1"].std(ddof=1)
    lines = [
        f"- stage 1 test LWLRAP >= {LEARNS} on every seed: "
        f"**{'yes' if (scores['stage1'] >= LEARNS).all() else 'no'}** "
        f"(lowest {scores['stage1'].min():.4f}; random scores "
        f"{scores['random'].mean():.4f} ± {scores['random_std'].mean():.4f})",
        f"- {last} >= stage 1 on every seed: **{'yes' if (gain >= 0).all() else 'no'}** "
        f"(gains {', '.join(f'{g:+.4f}' for g in gain)}; mean {gain.mean():+.4f}, stage 1's "
        f"seed spread (std) {spread:.4f}"
        + (f": the gain is {'above' if gain.mean() > spread else 'within'} the seed spread)"),
    ]
    if "round1" in scores and last != "round1":
        above = scores[last] - scores["round1"]
        lines.append(
            f"- {last} >= round 1 on every seed: **{'yes' if (above >= 0).all() else 'no'}** "
            f"(gains {', '.join(f'{g:+.4f}' for g in above)})"
        )
    return lines


def report(root: Path, seeds: list[int], minutes: dict[int, float], max_threads: int = 1) -> str:
    runs = {seed: root / f"seed{seed}" for seed in seeds}
    tables = {seed: stage_rows(workdir) for seed, workdir in runs.items()}
    scores = pd.DataFrame({seed: seed_scores(table) for seed, table in tables.items()}).T
    stages = [c for c in scores.columns if c not in ("random", "random_std")]
    command = ".venv/bin/python bench/demo_seeds.py --seeds " + " ".join(map(str, seeds))
    command += f" --max-threads {max_threads}"
    header = ["seed", *stages, "random scores", "job minutes"]
    lines = [
        "# The demo over training seeds",
        "",
        f"`{command}` (`make demo-seeds`): config.yaml as it is (the demo's data and settings), "
        "training seeds `stage1.seed` = `relabel.seed` = each seed, each job on at most "
        f"{max_threads} thread(s) as `make demo` runs them; test LWLRAP against the "
        "synthetic data's hidden truth (scores.csv). Job minutes: the sum of the run's jobs' "
        "wall times (benchmarks/*.tsv), longer when other work shares the machine.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for seed, row in scores.iterrows():
        cells = [f"{row[s]:.4f}" for s in stages]
        cells.append(f"{row['random']:.4f} ± {row['random_std']:.4f}")
        cells.append(f"{job_minutes(runs[seed]):.1f}")
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    mean = [f"{scores[s].mean():.4f} ± {scores[s].std(ddof=1):.4f}" for s in stages]
    lines.append("| mean ± std | " + " | ".join(mean) + " | | |")
    lines += ["", *verdict_lines(scores), *prior_lines(tables, scores)]
    if minutes:
        lines += [
            "",
            "Wall minutes of this call, per seed (0.0: finished before): "
            + ", ".join(f"seed {s} {m:.1f}" for s, m in minutes.items()),
        ]
    return "\n".join(lines) + "\n"


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--cores", default="2", help="snakemake --cores (a number or all)")
    parser.add_argument(
        "--max-threads",
        type=int,
        default=1,
        help="threads a job may use (snakemake --max-threads), 1 as in `make demo`: the thread "
        "count changes the last digits of the scores",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--summary-only", action="store_true", help="only (re)write the report")
    return parser


def main() -> None:
    args = arguments().parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    minutes = {}
    if not args.summary_only:
        for seed in args.seeds:
            minutes[seed] = run_seed(args.root / f"seed{seed}", seed, args.cores, args.max_threads)
            print(f"seed {seed}: {minutes[seed]:.1f} min", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(args.root, args.seeds, minutes, args.max_threads))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
