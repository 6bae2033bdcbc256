"""What the workflow tests share: the snakemake command line and the micro run on an RFCx folder.

The DAG's jobs spend most of their time starting Python and importing torch, on one core. So
every test run caps each job at one thread (``--max-threads 1``, as tests/cluster does) on 2
cores: two jobs (independent folds, the two feature splits) run side by side instead of one
2-thread job at a time, without 4 torch threads fighting over 2 cores. Runs that a test
compares use the same setting, so their results stay byte-identical.
"""

import subprocess
import sys
from pathlib import Path

import yaml

from sedcycle import synthetic

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
MICRO = REPO / "tests" / "data" / "micro.yaml"
CORES = 2


def snakemake_command(workdir, configs, cores, *args):
    """A snakemake call; targets and flags go before --configfile, which takes several files."""
    command = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory"]
    return [
        *command,
        str(workdir),
        "--cores",
        str(cores),
        "--max-threads",
        "1",
        *map(str, args),
        "--configfile",
        *map(str, configs),
    ]


def rfcx_folder(path, seed, n_train, n_test, clip_seconds, n_species=24):
    """A generated RFCx folder with the generator's hidden truth files removed."""
    synthetic.generate(
        path,
        n_train=n_train,
        n_test=n_test,
        seed=seed,
        clip_seconds=clip_seconds,
        n_species=n_species,
    )
    for truth in ("train_truth.csv", "test_truth.csv"):
        (path / truth).unlink()
    return path


def micro_settings():
    """The micro config's generator settings and clip length."""
    micro = yaml.safe_load(MICRO.read_text())
    return micro["data"]["synthetic"], micro["clip_seconds"]


def snakemake(workdir, overrides, *targets, check=True):
    """Run the micro config plus ``overrides`` (written to ``workdir``/own.yaml) in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    extra = workdir / "own.yaml"
    extra.write_text(yaml.safe_dump(overrides))
    command = snakemake_command(workdir, [MICRO, extra], CORES, *targets)
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def job_counts(output):
    """Rule -> job count from the "Job stats" table Snakemake prints before running."""
    table = output[output.index("Job stats:") :]
    table = table[: table.index("total")]
    return {
        line.split()[0]: int(line.split()[1])
        for line in table.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }


def micro_rfcx_run(root):
    """The micro DAG on an RFCx folder (generator off), plus its features exported as npz."""
    generator, clip_seconds = micro_settings()
    # The same recordings and labels as the micro config's generator writes.
    data = rfcx_folder(
        root / "rfcx", generator["seed"], generator["n_train"], generator["n_test"], clip_seconds
    )
    files_before = sorted(p.relative_to(data) for p in data.rglob("*"))
    config = {"data": {"dir": str(data), "synthetic": {"enabled": False}}}
    run = snakemake(root / "run", config, "submission.csv", "scores.json", "npz/train", "npz/test")
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == files_before
    return {
        "root": root,
        "data": data,
        "run": root / "run",
        "jobs": job_counts(run.stdout + run.stderr),
    }
