"""Every benchmark runs with --quick and prints its result line (not a measurement)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

pytestmark = pytest.mark.bench


def run(name: str, *extra: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), "--quick", *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(results) == 1, done.stdout
    return results[0]


@pytest.mark.parametrize("name", ["features", "feature_io", "inference", "training"])
def test_benchmark_prints_a_ratio(name):
    assert "ratio" in run(name)


def test_dag_benchmark_times_a_no_op_rerun():
    assert "no-op rerun" in run("dag")


def test_demo_benchmark_reads_timing_files(tmp_path):
    (tmp_path / "benchmarks" / "stage1").mkdir(parents=True)
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for job, seconds in [("features/train", 12.5), ("stage1/train_fold0", 30.0)]:
        path = tmp_path / "benchmarks" / f"{job}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            header + f"{seconds}\t0:00:{int(seconds)}\t500\t900\t400\t450\t0\t1\t90\t10\n"
        )
    assert "min wall" in run("demo", "--workdir", str(tmp_path))
