"""execution.shards: features, predictions and predict-only in one job per shard of the
recordings (a hash of the id), gathered into the bytes one job writes; a growing predict-only
folder scores only the shards its new recordings fall in; 1 shard keeps today's jobs."""

import os
import shutil
import subprocess
import sys
from functools import partial

import numpy as np
import pandas as pd
import pytest

from sedcycle.recordings import audio_files, shard_files, shard_of
from sedcycle.shards import in_recording_order

from . import workflow_runs
from .workflow_runs import REPO

TINY = REPO / "tests" / "data" / "tiny.yaml"
SHARDS = 3
FEATURES = ("features/train", "features/test")
snakemake = partial(workflow_runs.snakemake, base=TINY)
job_counts = workflow_runs.job_counts


def planned_jobs(workdir, targets, configs):
    """Rule -> job count that a dry run of ``targets`` would execute."""
    return job_counts(snakemake(workdir, *targets, "--dry-run", configs=configs).stdout)


def sharded(shards=SHARDS, **more):
    return {"execution": {"shards": shards}, **more}


def test_shard_of_depends_on_the_id_alone_and_spreads_the_recordings():
    ids = [f"rec{i:04d}" for i in range(300)]
    shards = [shard_of(rec, 4) for rec in ids]
    assert set(shards) == {0, 1, 2, 3}
    assert min(shards.count(s) for s in range(4)) > 50  # about 75 each
    assert all(shard_of(rec, 1) == 0 for rec in ids)
    # not Python's salted hash(): another interpreter with another seed agrees
    code = (
        "from sedcycle.recordings import shard_of; "
        "print([shard_of(f'rec{i:04d}', 4) for i in range(300)])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert other.stdout.strip() == str(shards)
    with pytest.raises(ValueError, match="execution.shards must be >= 1"):
        shard_of("rec", 0)


def test_shard_files_take_a_folders_recordings_of_one_shard(tmp_path):
    for i in range(12):
        (tmp_path / f"r{i}.wav").write_bytes(b"")
    parts = [shard_files(tmp_path, s, 3) for s in range(3)]
    assert sorted(rec for part in parts for rec in part) == sorted(audio_files(tmp_path))
    assert all(shard_of(rec, 3) == s for s, part in enumerate(parts) for rec in part)
    with pytest.raises(ValueError, match="shard 3 is not one of execution.shards 3"):
        shard_files(tmp_path, 3, 3)


def test_gathered_rows_follow_the_recording_order_and_a_recording_is_in_one_shard():
    a = pd.DataFrame({"recording_id": ["b", "b", "d"], "window": [0, 1, 0]})
    b = pd.DataFrame({"recording_id": ["a", "c", "c"], "window": [0, 0, 1]})
    empty = a.iloc[:0]
    table = in_recording_order([a, empty, b], "x")
    assert table["recording_id"].tolist() == ["a", "b", "b", "c", "c", "d"]
    assert table["window"].tolist() == [0, 0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="recording b is in two shards"):
        in_recording_order([a, a], "x")
    with pytest.raises(ValueError, match="x: no shard holds a recording"):
        in_recording_order([empty], "x")


def test_a_window_scores_the_same_bytes_whatever_windows_share_its_batch(tmp_path):
    import torch

    from sedcycle.clips import ClipStore
    from sedcycle.model import SEDModel
    from sedcycle.predict import predict_windows
    from sedcycle.windows import window_positions

    rng = np.random.default_rng(0)
    ids = [f"rec{i}" for i in range(8)]
    for rec in ids:
        np.save(tmp_path / f"{rec}.npy", rng.normal(-40, 10, (128, 700)).astype(np.float16))
    torch.manual_seed(1)  # weights whose scores of 2 windows here differ in a batch of 2 or 16
    model = SEDModel("mobilenetv3_small_050", n_species=24).eval()
    store, positions = ClipStore(tmp_path, ids), window_positions(700, 512, 256)
    saved = torch.get_num_threads()
    torch.set_num_threads(1)  # as the workflow's test jobs: on one thread batch sizes matter
    try:
        together = predict_windows(model, store, ids, positions, 64, progress=False)
        for rec in ids:
            alone = predict_windows(model, store, [rec], positions, 64, progress=False)
            rows = together[together["recording_id"] == rec].reset_index(drop=True)
            assert len(rows) == len(positions) > 1
            pd.testing.assert_frame_equal(rows, alone, check_exact=True)
    finally:
        torch.set_num_threads(saved)


@pytest.mark.workflow
def test_shards_with_npz_features_are_refused_naming_the_setting(tmp_path):
    npz = sharded(data={"source": "npz", "dir": str(tmp_path / "data")})
    run = snakemake(tmp_path / "run", "--dry-run", configs=[npz], check=False)
    assert run.returncode != 0
    assert "config execution.shards > 1" in run.stdout + run.stderr
    assert "set execution.shards: 1" in run.stdout + run.stderr


def save_checkpoint(path, seed):
    import torch

    from sedcycle.model import SEDModel, model_spec

    torch.manual_seed(seed)
    model = SEDModel("mobilenetv3_small_050", n_species=24)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model_spec": model_spec(model), "state_dict": model.state_dict()}, path)
    return path


def same_files(one, other):
    """The relative paths under two folders, asserting every file's bytes agree."""
    names = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    for name in names:
        assert (one / name).read_bytes() == (other / name).read_bytes(), name
    return names


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    """The tiny config's features with the default (1 shard) and with 3 shards."""
    root = tmp_path_factory.mktemp("shards")
    runs = {}
    for shards in (1, SHARDS):
        workdir = root / f"shards{shards}"
        configs = [sharded(shards)] if shards > 1 else []
        run = snakemake(workdir, *FEATURES, configs=configs)
        runs[shards] = (workdir, job_counts(run.stdout + run.stderr))
    return root, runs


@pytest.mark.workflow
def test_features_of_3_shards_are_the_bytes_of_one_job(features):
    _, runs = features
    (one, one_jobs), (three, three_jobs) = runs[1], runs[SHARDS]
    assert one_jobs == {"make_synthetic": 1, "extract_features": 2}
    assert three_jobs == {"make_synthetic": 1, "extract_features_shard": 6, "gather_features": 2}
    for split in ("train", "test"):
        names = same_files(one / "features" / split, three / "features" / split)
        assert "manifest.csv" in map(str, names) and len(names) > 3
    # each shard holds its recordings, no other
    manifests = [
        pd.read_csv(three / f"shards/features/train/{s}-of-3/manifest.csv", dtype=str)
        for s in range(SHARDS)
    ]
    assert all(shard_of(rec, 3) == s for s, m in enumerate(manifests) for rec in m.recording_id)


@pytest.mark.workflow
def test_shards_1_reruns_nothing_and_more_shards_reshape_the_features(features):
    _, runs = features
    one, _ = runs[1]
    assert planned_jobs(one, FEATURES, [sharded(1)]) == {}
    assert planned_jobs(one, FEATURES, [sharded(SHARDS)]) == {
        "extract_features_shard": 6,
        "gather_features": 2,
    }


@pytest.mark.workflow
def test_fold_predictions_of_3_shards_are_the_bytes_of_one_job(features):
    root, runs = features
    targets = [f"predictions/stage1/fold0_{split}.parquet" for split in ("train", "test")]
    rules = {1: ["predict"], SHARDS: ["predict_shard", "gather_predictions"]}
    for shards, (workdir, _) in runs.items():
        save_checkpoint(workdir / "models/stage1/fold0.pt", seed=0)
        configs = [sharded(shards)] if shards > 1 else []
        # the fold model as it is (no training): only the prediction rules
        run = snakemake(workdir, *targets, "--allowed-rules", *rules[shards], configs=configs)
        jobs = job_counts(run.stdout + run.stderr)
        assert jobs == (
            {"predict": 1} if shards == 1 else {"predict_shard": 3, "gather_predictions": 1}
        )
    for target in targets:
        one, three = (runs[s][0] / target for s in (1, SHARDS))
        assert one.read_bytes() == three.read_bytes(), target
        table = pd.read_parquet(one)
        assert table["recording_id"].is_monotonic_increasing and len(table) >= 6


@pytest.fixture(scope="module")
def predict_only(features, tmp_path_factory):
    """Predict-only over a folder of new audio with two fold models, 1 and 3 shards."""
    root, runs = features
    data = runs[1][0] / "data/synthetic"
    incoming = root / "incoming"
    shutil.copytree(data / "test", incoming)
    models = [save_checkpoint(root / "models" / f"fold{f}.pt", seed=10 + f) for f in range(2)]
    predict = {"predict": {"model_dir": str(models[0].parent), "input_dir": str(incoming)}}
    done = {}
    for shards in (1, SHARDS):
        workdir = root / f"predict{shards}"
        configs = [predict, sharded(shards)]
        run = snakemake(workdir, "predictions.csv", configs=configs)
        done[shards] = (workdir, job_counts(run.stdout + run.stderr), configs)
    return {"data": data, "incoming": incoming, "runs": done}


@pytest.mark.workflow
def test_predict_only_of_3_shards_is_the_bytes_of_one_job(predict_only):
    runs = predict_only["runs"]
    assert runs[1][1] == {"extract_features": 1, "predict_only": 1}
    assert runs[SHARDS][1] == {
        "extract_features_shard": 3,
        "predict_only_shard": 3,
        "gather_predict_only": 1,
    }
    for name in ("predictions.csv", "predictions_windows.parquet"):
        one, three = (runs[s][0] / name for s in (1, SHARDS))
        assert one.read_bytes() == three.read_bytes(), name
    ids = sorted(audio_files(predict_only["incoming"]))
    predictions = pd.read_csv(runs[SHARDS][0] / "predictions.csv", dtype={"recording_id": str})
    assert predictions["recording_id"].tolist() == ids


@pytest.mark.workflow
def test_predict_only_over_a_growing_folder_scores_only_the_new_recordings_shards(predict_only):
    workdir, _, configs = predict_only["runs"][SHARDS]
    incoming = predict_only["incoming"]
    before = (workdir / "predictions.csv").read_text().splitlines()
    assert planned_jobs(workdir, ["predictions.csv"], configs) == {}
    train = audio_files(predict_only["data"] / "train")
    # two new recordings that fall in one shard: that shard alone is extracted and scored
    shard = shard_of(sorted(train)[0], SHARDS)
    new = [rec for rec in sorted(train) if shard_of(rec, SHARDS) == shard][:2]
    assert len(new) == 2
    for rec in new:
        shutil.copy(train[rec], incoming / train[rec].name)
    assert planned_jobs(workdir, ["predictions.csv"], configs) == {
        "extract_features_shard": 1,
        "predict_only_shard": 1,
        "gather_predict_only": 1,
    }
    run = snakemake(workdir, "predictions.csv", configs=configs)
    assert f"shards/features/predict/{shard}-of-{SHARDS}" in run.stdout + run.stderr
    after = (workdir / "predictions.csv").read_text().splitlines()
    assert len(after) == len(before) + 2
    assert set(before) <= set(after)  # the old recordings' rows, byte for byte
    scored = pd.read_csv(workdir / "predictions.csv", dtype={"recording_id": str})
    assert set(new) <= set(scored["recording_id"])
    assert np.isfinite(scored.drop(columns="recording_id").to_numpy()).all()
