"""The DAG end to end on a tiny config, and what a config change reruns."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .workflow_runs import CORES, MICRO, REPO, snakemake_command

TINY = REPO / "tests" / "data" / "tiny.yaml"

pytestmark = pytest.mark.workflow


def snakemake(workdir, *args, configs=(), check=True):
    command = snakemake_command(workdir, [TINY, *configs], CORES, *args)
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def job_counts(output):
    """Rule -> job count from the "Job stats" table Snakemake prints before running."""
    if "Job stats:" not in output:
        return {}
    table = output[output.index("Job stats:") :]
    table = table[: table.index("total")]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def planned_jobs(workdir, configs=()):
    """Rule -> job count that a dry run would execute."""
    return job_counts(snakemake(workdir, "--dry-run", configs=configs).stdout)


def write_config(path, overrides):
    path.write_text(yaml.safe_dump(overrides))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    snakemake(workdir)
    return workdir


def test_submission_matches_sample_submission(finished):
    sample = pd.read_csv(finished / "data/synthetic/sample_submission.csv")
    submission = pd.read_csv(finished / "submission.csv")
    assert submission.columns.tolist() == sample.columns.tolist()
    assert submission["recording_id"].tolist() == sample["recording_id"].tolist()
    scores = submission.drop(columns="recording_id").to_numpy()
    assert ((scores >= 0) & (scores <= 1)).all()


def test_scores_cover_every_stage_and_the_ensemble(finished):
    scores = json.loads((finished / "scores.json").read_text())
    assert set(scores) == {"stage1", "round1", "round2", "ensemble"}
    for stage in ("stage1", "round1", "round2"):
        assert 0 < scores[stage]["oof_tp"]["lwlrap"] <= 1
        assert 0 < scores[stage]["test"]["lwlrap"] <= 1
    assert set(scores["ensemble"]["test"]) >= {"lwlrap", "precision", "recall"}


def test_every_stage_writes_its_files_and_logs(finished):
    for stage in ("stage1", "round1", "round2"):
        for fold in range(2):
            assert (finished / f"models/{stage}/fold{fold}.pt").exists()
    assert (finished / "pseudo/round2.parquet").exists()
    log = (finished / "logs/stage1/train_fold0.log").read_text()
    assert "epoch 1/1" in log and "it/s" in log  # tqdm progress reaches the rule's log
    assert list((finished / "benchmarks").rglob("*.tsv"))


def test_rerun_does_nothing(finished):
    assert planned_jobs(finished) == {}


def test_one_more_round_runs_only_that_round(finished, tmp_path):
    more = write_config(tmp_path / "more.yaml", {"relabel": {"n_rounds": 3}})
    assert planned_jobs(finished, [more]) == {
        "pseudo_labels": 1,
        "train_round": 2,
        "predict": 2,
        "summarise_stage": 1,
        "ensemble": 1,
        "scores": 1,
        "all": 1,
    }


def test_round2_settings_rerun_round2_onward_only(finished, tmp_path):
    change = write_config(tmp_path / "lr.yaml", {"relabel": {"rounds": {2: {"lr": 1.0e-4}}}})
    assert planned_jobs(finished, [change]) == {
        "train_round": 2,
        "predict": 2,
        "summarise_stage": 1,
        "ensemble": 1,
        "scores": 1,
        "all": 1,
    }


def test_round1_pseudo_threshold_reruns_both_rounds(finished, tmp_path):
    change = write_config(
        tmp_path / "t.yaml", {"relabel": {"rounds": {1: {"pseudo_threshold": 0.4}}}}
    )
    jobs = planned_jobs(finished, [change])
    assert jobs["pseudo_labels"] == 2 and jobs["train_round"] == 4
    assert "train_stage1" not in jobs and "features" not in jobs


def test_bad_config_is_refused_with_the_key_named(tmp_path):
    bad = write_config(tmp_path / "bad.yaml", {"stage1": {"epochz": 3}})
    result = snakemake(tmp_path, "--dry-run", configs=[bad], check=False)
    assert result.returncode != 0 and "epochz" in result.stdout + result.stderr
    wrong = write_config(tmp_path / "wrong.yaml", {"relabel": {"n_rounds": "three"}})
    result = snakemake(tmp_path, "--dry-run", configs=[wrong], check=False)
    assert result.returncode != 0 and "three" in result.stdout + result.stderr


def test_unknown_ensemble_stage_is_refused(tmp_path):
    bad = write_config(tmp_path / "e.yaml", {"ensemble": {"stages": ["round7"]}})
    result = snakemake(tmp_path, "--dry-run", configs=[bad], check=False)
    assert result.returncode != 0 and "round7" in result.stdout + result.stderr


def run_micro(workdir, *args, configs=()):
    command = snakemake_command(workdir, [MICRO, *configs], CORES, *args)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def pids_writing(log_path):
    """Processes holding ``log_path`` open (the job's python process writes its log)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            targets = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
        except OSError:
            continue
        if str(log_path) in targets:
            found.append(int(proc.name))
    return found


def test_killed_training_job_reruns_alone_and_gives_the_same_submission(rfcx, tmp_path):
    # The uninterrupted run to compare with: the micro DAG on an RFCx folder, run once for the
    # session (tests/conftest.py), copied here with its mtimes and .snakemake records.
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    shutil.copytree(rfcx["run"], clean)
    killed.mkdir()
    data = clean / "own.yaml"  # that run's data: the RFCx folder, generator off

    log = killed / "logs/stage1/train_fold1.log"
    epoch_checkpoint = killed / "models/stage1/fold1.pt.epoch"
    runner = run_micro(killed, configs=[data])
    deadline = time.time() + 600
    while time.time() < deadline:  # wait until fold 1 has finished one epoch, then SIGKILL it
        # "finished": its log line and its epoch checkpoint, written just after that line
        done = log.exists() and "epoch 1/3" in log.read_text() and epoch_checkpoint.exists()
        if done and pids_writing(log):
            break
        time.sleep(0.2)
    victims = pids_writing(log)
    assert victims, "training job of fold 1 never reached its first epoch"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    output = runner.communicate(timeout=600)[0]
    assert runner.returncode != 0, output
    assert not (killed / "models/stage1/fold1.pt").exists()
    assert epoch_checkpoint.exists()  # progress survived the kill

    finished_before = {p: p.stat().st_mtime_ns for p in killed.glob("models/*/*.pt")}
    rerun = run_micro(killed, "--rerun-incomplete", configs=[data])
    output = rerun.communicate(timeout=600)[0]
    assert rerun.returncode == 0, output
    assert "resuming" in log.read_text()
    assert all(p.stat().st_mtime_ns == t for p, t in finished_before.items())  # not redone
    assert job_counts(output)["train_stage1"] == 2 - len(finished_before)
    assert (killed / "submission.csv").read_bytes() == (clean / "submission.csv").read_bytes()

    # The stale-output trap (snakemake issue 1978): change a setting, fail a job of the
    # changed round, and the old submission must not pass for current on the next run.
    # The failing run asks for round 1 fold 0 only, so fold 1 keeps its outdated model whatever
    # order the scheduler picks (were fold 1 retrained first, the next run would not retrain
    # fold 0: its old predictions still exist, so nothing asks for its missing model).
    checkpoint = clean / "models/stage1/fold0.pt"
    saved, stat = checkpoint.read_bytes(), checkpoint.stat()
    checkpoint.write_bytes(b"corrupt")  # round 1 fold 0 fine-tunes this file: it must fail
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    change = tmp_path / "change.yaml"
    change.write_text("relabel: {lr: 1.0e-4}\n")
    old_submission = (clean / "submission.csv").read_bytes()
    failed = run_micro(clean, "models/round1/fold0.pt", configs=[data, change])
    output = failed.communicate(timeout=600)[0]
    assert failed.returncode != 0 and "train_round" in output
    assert "models/stage1/fold0.pt: not a" in (clean / "logs/round1/train_fold0.log").read_text()
    checkpoint.write_bytes(saved)
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    dry = run_micro(clean, "--dry-run", configs=[data, change])
    planned = job_counts(dry.communicate(timeout=600)[0])
    assert planned.get("train_round", 0) >= 1 and planned["ensemble"] == 1
    fixed = run_micro(clean, configs=[data, change])
    assert fixed.wait(timeout=600) == 0
    assert (clean / "submission.csv").read_bytes() != old_submission
