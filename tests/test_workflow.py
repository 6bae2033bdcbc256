"""The DAG end to end on a tiny config, and what a config change reruns."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TINY = REPO / "tests" / "data" / "tiny.yaml"

pytestmark = pytest.mark.workflow


def snakemake(workdir, *args, configs=(), check=True):
    command = [
        str(SNAKEMAKE),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        "--configfile",
        str(TINY),
        *map(str, configs),
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def planned_jobs(workdir, configs=()):
    """Rule -> job count that a dry run would execute."""
    output = snakemake(workdir, "--dry-run", configs=configs).stdout
    if "Nothing to be done" in output:
        return {}
    table = output[output.index("Job stats:") :]
    return {
        m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"
    }


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
        for fold in range(3):
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
        "train_round": 3,
        "predict": 3,
        "summarise_stage": 1,
        "ensemble": 1,
        "scores": 1,
        "all": 1,
    }


def test_round2_settings_rerun_round2_onward_only(finished, tmp_path):
    change = write_config(tmp_path / "lr.yaml", {"relabel": {"rounds": {2: {"lr": 1.0e-4}}}})
    assert planned_jobs(finished, [change]) == {
        "train_round": 3,
        "predict": 3,
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
    assert jobs["pseudo_labels"] == 2 and jobs["train_round"] == 6
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
