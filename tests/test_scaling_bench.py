"""bench/scaling.py --quick with the local executor (no SLURM needed): a row per shard count,
the same predictions.csv bytes at every count, and ratios that follow from the measured times."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "scaling.py"

pytestmark = pytest.mark.bench


def table(text: str, heading: str) -> list[dict[str, str]]:
    """The markdown table under ``## heading`` as rows of column -> cell."""
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [
        dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        for line in lines[2:]
    ]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("scaling")
    out = root / "scaling.md"
    command = [sys.executable, str(BENCH), "--quick", "--executor", "local", "--root", str(root)]
    done = subprocess.run(
        [*command, "--out", str(out), "--recordings", "24"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "RESULT scaling" in done.stdout
    return out.read_text()


def test_a_row_per_shard_count_with_its_jobs(report):
    runs = table(report, "Runs")
    assert [row["shards"] for row in runs] == ["1", "2"]
    jobs = table(report, "Jobs")
    # one feature and one prediction job, then a pair of each per shard and the gather job
    per_run = {n: [row["rule"] for row in jobs if row["shards"] == n] for n in ("1", "2")}
    assert sorted(per_run["1"]) == ["extract_features", "predict_only"]
    assert sorted(per_run["2"]) == [
        "extract_features_shard",
        "extract_features_shard",
        "gather_predict_only",
        "predict_only_shard",
        "predict_only_shard",
    ]
    assert [row["jobs"] for row in runs] == [str(len(per_run["1"])), str(len(per_run["2"]))]
    # the shards split the recordings between them
    shard_jobs = [row for row in jobs if row["rule"] == "predict_only_shard"]
    assert sum(int(row["recordings"]) for row in shard_jobs) == 24


def test_every_shard_count_writes_the_same_predictions(report):
    runs = table(report, "Runs")
    assert len({row["predictions.csv sha256"] for row in runs}) == 1
    assert all(row["same bytes as 1 shard"] == "yes" for row in runs)
    assert re.search(r"same bytes at every shard count: \*\*yes\*\*", report)


def test_ratios_are_computed_from_the_measured_times(report):
    base, two = table(report, "Runs")
    assert float(base["speed-up vs 1 shard"]) == 1.0
    speedup = float(base["wall s"]) / float(two["wall s"])
    assert float(two["speed-up vs 1 shard"]) == pytest.approx(speedup, abs=0.01 + 0.01 * speedup)
    # the summed job time, recomputed from the per-job table (gather jobs left out)
    jobs = table(report, "Jobs")
    sums = {
        n: sum(
            float(r["s"]) for r in jobs if r["shards"] == n and not r["rule"].startswith("gather")
        )
        for n in ("1", "2")
    }
    assert float(two["job s (sum)"]) == pytest.approx(sums["2"], abs=0.06)
    assert float(two["job s ratio"]) == pytest.approx(sums["2"] / sums["1"], abs=0.01)
    assert float(base["job s ratio"]) == 1.0
