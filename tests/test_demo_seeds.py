"""bench/demo_seeds.py's report: the demo's stages per seed, and the verdicts on its claims."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from sedcycle.evaluation import SCORE_COLUMNS

from . import bench_scripts

ROOT = Path(__file__).resolve().parent.parent
DEMO_SEEDS = ROOT / "bench" / "demo_seeds.py"


def fake_run(
    workdir: Path, stages: tuple[float, ...], random=(0.53, 0.02), prior: tuple | None = None
) -> None:
    """A finished demo seed: scores.csv with these stage1, round1.. test LWLRAPs (and prior-
    scaled ones, not measured when None) and random scores' mean and std, and one timing file
    of 90 s."""
    names = ["stage1", *(f"round{r}" for r in range(1, len(stages)))]
    prior = prior or (float("nan"),) * len(stages)
    rows = [
        {"stage": s, "test_lwlrap": v, "test_lwlrap_prior": p}
        for s, v, p in zip(names, stages, prior, strict=True)
    ]
    rows.append({"stage": "ensemble", "test_lwlrap": stages[-1]})
    table = pd.DataFrame(rows).reindex(columns=SCORE_COLUMNS)
    table["random_lwlrap_mean"], table["random_lwlrap_std"] = random
    (workdir / "benchmarks").mkdir(parents=True)
    table.to_csv(workdir / "scores.csv", index=False)
    (workdir / "benchmarks" / "scores.tsv").write_text("s\th:m:s\n90.0\t0:01:30\n")


def summary(root: Path, seeds: list[int]) -> str:
    out = root / "demo_seeds.md"
    command = [sys.executable, str(DEMO_SEEDS), "--summary-only", "--root", str(root)]
    command += ["--out", str(out), "--seeds", *map(str, seeds)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return out.read_text()


def test_report_lists_every_seed_and_says_yes_when_every_seed_holds(tmp_path):
    runs = {0: (0.80, 0.81, 0.82, 0.83), 1: (0.70, 0.72, 0.72, 0.71), 2: (0.75, 0.75, 0.76, 0.77)}
    for seed, stages in runs.items():
        fake_run(tmp_path / f"seed{seed}", stages)
    text = summary(tmp_path, [0, 1, 2])
    assert "| seed | stage1 | round1 | round2 | round3 | random scores | job minutes |" in text
    assert "| 1 | 0.7000 | 0.7200 | 0.7200 | 0.7100 | 0.5300 ± 0.0200 | 1.5 |" in text
    assert "stage 1 test LWLRAP >= 0.6 on every seed: **yes** (lowest 0.7000" in text
    assert "round3 >= stage 1 on every seed: **yes** (gains +0.0300, +0.0100, +0.0200" in text
    # mean gain 0.02 within stage 1's spread (std of 0.80, 0.70, 0.75 = 0.05)
    assert "the gain is within the seed spread" in text
    assert "round3 >= round 1 on every seed: **no** (gains +0.0200, -0.0100, +0.0200)" in text


def test_report_gives_the_prior_scaled_scores_where_the_runs_have_them(tmp_path):
    fake_run(tmp_path / "seed0", (0.80, 0.81, 0.82), prior=(0.82, 0.83, 0.84))
    fake_run(tmp_path / "seed1", (0.70, 0.72, 0.75), prior=(0.71, 0.73, 0.74))
    text = summary(tmp_path, [0, 1])
    assert "| seed | stage1 | stage1, prior-scaled | round2 | round2, prior-scaled |" in text
    assert "| 1 | 0.7000 | 0.7100 | 0.7500 | 0.7400 |" in text
    assert "| mean ± std | 0.7500 ± 0.0707 | 0.7650 ± 0.0778 | 0.7850 ± 0.0495 |" in text
    assert "round2 prior-scaled >= round2 on 1 of 2 seeds (differences +0.0200, -0.0100;" in text
    # runs without the column measured: no table
    for seed in (0, 1):
        fake_run(tmp_path / "old" / f"seed{seed}", (0.80, 0.81, 0.82))
    assert "prior-scaled" not in summary(tmp_path / "old", [0, 1])


def test_report_says_no_for_a_seed_that_does_not_learn_or_loses(tmp_path):
    fake_run(tmp_path / "seed0", (0.55, 0.60, 0.62))
    fake_run(tmp_path / "seed1", (0.80, 0.79, 0.78))
    text = summary(tmp_path, [0, 1])
    assert "stage 1 test LWLRAP >= 0.6 on every seed: **no** (lowest 0.5500" in text
    assert "round2 >= stage 1 on every seed: **no** (gains +0.0700, -0.0200" in text


def test_each_seed_runs_the_demo_as_make_demo_does(tmp_path):
    """The thread count changes the scores' last digits: the seeds' runs cap jobs at the
    threads `make demo` gives them (Makefile DEMO_THREADS), so the README's demo output is
    seed 0's row."""
    import re

    makefile = (ROOT / "Makefile").read_text()
    threads = re.search(r"^DEMO_THREADS \?= (\d+)$", makefile, re.M)[1]
    demo = re.search(r"^demo: setup\n\t(.*)$", makefile, re.M)[1]
    assert demo.endswith("--max-threads $(DEMO_THREADS)")
    assert "--max-threads $(DEMO_THREADS)" in makefile.split("demo-seeds: setup", 1)[1]

    module = bench_scripts.load("demo_seeds")
    default = module.arguments().parse_args([]).max_threads
    command = module.seed_command(tmp_path / "seed0", 0, 2, default)
    assert command[command.index("--max-threads") + 1] == threads
    assert "stage1:\n  seed: 0" in (tmp_path / "seed0" / "seed.yaml").read_text()
