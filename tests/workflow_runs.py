"""What the workflow tests share: the one snakemake runner, its "Job stats" parser, and the micro
run on an RFCx folder.

The DAG's jobs spend most of their time starting Python and importing torch, on one core. So
every test run caps each job at one thread (``--max-threads 1``, as tests/cluster does) on 2
cores: two jobs (independent folds, the two feature splits) run side by side instead of one
2-thread job at a time, without 4 torch threads fighting over 2 cores. Runs that a test
compares use the same setting, so their results stay byte-identical.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from sedcycle import synthetic

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "config.schema.yaml"


def schema_errors(config: dict) -> list[str]:
    """The config schema's messages for ``config`` ([] if it validates), its keys as a YAML
    loader and JSON give them (relabel.rounds' int keys become names)."""
    instance = json.loads(json.dumps(config))
    schema = yaml.safe_load(SCHEMA.read_text())
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(instance)]


SNAKEMAKE = Path(sys.executable).with_name("snakemake")
MICRO = REPO / "tests" / "data" / "micro.yaml"
CORES = 2
ONE_THREAD = ("--max-threads", "1")


def snakemake_command(
    workdir, *args, configs=(), base=MICRO, cores=CORES, threads=ONE_THREAD, executable=SNAKEMAKE
):
    """The snakemake call of the repository's Snakefile in ``workdir``: ``args`` (targets and
    flags), then --configfile ``base`` and ``configs`` last, as it takes several files.

    base=None: config.yaml alone under ``configs``; cores=None: no --cores (a --profile in
    ``args`` gives it); ``threads``: the per-job thread flags; ``executable``: another
    snakemake (the cluster test's)."""
    command = [str(executable), "--snakefile", str(REPO / "Snakefile")]
    command += ["--directory", str(workdir), *threads]
    command += ["--cores", str(cores)] if cores is not None else []
    files = [base, *configs] if base is not None else list(configs)
    return [*command, *map(str, args), *(["--configfile", *map(str, files)] if files else [])]


def layered(*configs: dict) -> dict:
    """Config files layered as snakemake layers --configfile: nested keys update, later win."""
    result: dict = {}
    for config in configs:
        for key, value in config.items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = layered(result[key], value)
            else:
                result[key] = value
    return result


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


def snakemake(workdir, *args, configs=(), check=True, **options):
    """Run ``snakemake_command(workdir, *args, configs=configs, **options)`` (the micro config
    under ``configs`` unless base= says otherwise) and return the CompletedProcess; a failure
    raises with the output's tail unless check=False. A dict in ``configs`` is written to
    ``workdir``/own.yaml (own2.yaml, ... for a second one) first."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    files, written = [], 0
    for config in configs:
        if isinstance(config, dict):
            written += 1
            path = workdir / f"own{written if written > 1 else ''}.yaml"
            path.write_text(yaml.safe_dump(config))
            config = path
        files.append(config)
    command = snakemake_command(workdir, *args, configs=files, **options)
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def job_counts(output):
    """Rule -> job count from the "Job stats" table snakemake prints before running; {} when
    it prints none (nothing to be done)."""
    if "Job stats:" not in output:
        return {}
    table = output[output.index("Job stats:") :]
    table = table[: table.index("total")]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def planned_jobs(workdir, configs=(), **options):
    """Rule -> job count that a dry run of ``configs`` in ``workdir`` would execute."""
    return job_counts(snakemake(workdir, "--dry-run", configs=configs, **options).stdout)


def micro_rfcx_run(root):
    """The micro DAG on an RFCx folder (generator off), plus its features exported as npz."""
    generator, clip_seconds = micro_settings()
    # The same recordings and labels as the micro config's generator writes.
    data = rfcx_folder(
        root / "rfcx", generator["seed"], generator["n_train"], generator["n_test"], clip_seconds
    )
    files_before = sorted(p.relative_to(data) for p in data.rglob("*"))
    config = {"data": {"dir": str(data), "source": "rfcx"}}
    targets = ["submission.csv", "scores.json", "npz/train", "npz/test"]
    run = snakemake(root / "run", *targets, configs=[config])  # config: run/own.yaml
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == files_before
    return {
        "root": root,
        "data": data,
        "run": root / "run",
        "jobs": job_counts(run.stdout + run.stderr),
    }
