"""bench/quality.py's summary: mean and spread per stage, and the verdicts on the claims."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from sedcycle.evaluation import SCORE_COLUMNS

QUALITY = Path(__file__).resolve().parent.parent / "bench" / "quality.py"


def fake_run(workdir: Path, test_lwlrap: dict[str, float]) -> None:
    """A finished seed directory: scores.csv with these test LWLRAPs, one timing file."""
    rows = [{"stage": stage, "test_lwlrap": v} for stage, v in test_lwlrap.items()]
    (workdir / "benchmarks").mkdir(parents=True)
    pd.DataFrame(rows).reindex(columns=SCORE_COLUMNS).to_csv(workdir / "scores.csv", index=False)
    (workdir / "benchmarks" / "scores.tsv").write_text("s\th:m:s\n60.0\t0:01:00\n")


def summary(root: Path, *variants: str) -> str:
    out = root / "quality.md"
    command = [sys.executable, str(QUALITY), "--root", str(root), "--summary-only"]
    done = subprocess.run(
        [*command, "--out", str(out), "--variants", *variants], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return out.read_text()


def test_summary_gives_mean_spread_and_verdicts(tmp_path):
    for seed, (s1, r1, r2) in enumerate(
        [(0.60, 0.62, 0.70), (0.62, 0.61, 0.72), (0.61, 0.63, 0.71)]
    ):
        fake_run(tmp_path / f"seed{seed}", {"stage1": s1, "round1": r1, "round2": r2})
        # the ablation: rounds that fall below stage 1 on one seed
        fake_run(
            tmp_path / "votes_3_of_3" / f"seed{seed}",
            {"stage1": s1, "round1": r1, "round2": s1 + (0.05 if seed else -0.01)},
        )
    text = summary(tmp_path, "votes_3_of_3")
    assert "| round2 | 0.710 ± 0.010 |" in text  # mean ± std (n-1) of 0.70, 0.72, 0.71
    assert "round2 above stage1: mean gain +0.1000" in text and "**yes**" in text
    ablation = text[text.index("## votes_3_of_3") :]
    assert "round2 above stage1" in ablation and "**no**" in ablation.split("\n\n")[2]
    assert "seed 0 1.0" in text  # minutes from benchmarks/*.tsv
    assert "pseudo-negatives" not in text  # no variant made any: no empty columns
