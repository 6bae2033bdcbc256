"""Real inputs: an RFCx folder without the generator, precomputed .npz log-mels, predict-only.

One micro-sized training run on a generated RFCx folder whose hidden truth files are deleted
(so nothing may rely on the generator) is shared by every test here (fixture rfcx in
tests/conftest.py); the kill/resume test copies it as the uninterrupted run to compare with.
"""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sedcycle import npz
from sedcycle.tables import species_columns

from .workflow_runs import job_counts, micro_settings, snakemake, snakemake_command
from .workflow_runs import rfcx_folder as _rfcx_folder

MICRO_DATA, CLIP_SECONDS = micro_settings()
N_SPECIES = 24
N_FRAMES = npz.expected_frames(CLIP_SECONDS, 32000, 512)  # 376 frames in 6 s


def rfcx_folder(path, seed, n_train, n_test):
    """A generated RFCx folder with the generator's hidden truth files removed."""
    return _rfcx_folder(path, seed, n_train, n_test, CLIP_SECONDS, N_SPECIES)


# rfcx (tests/conftest.py): the micro DAG on an RFCx folder


@pytest.mark.workflow
def test_rfcx_folder_needs_no_generator_and_no_truth(rfcx):
    assert "make_synthetic" not in rfcx["jobs"] and rfcx["jobs"]["extract_features"] == 2
    sample = pd.read_csv(rfcx["data"] / "sample_submission.csv", dtype={"recording_id": str})
    submission = pd.read_csv(rfcx["run"] / "submission.csv", dtype={"recording_id": str})
    assert submission.columns.tolist() == sample.columns.tolist()
    assert submission["recording_id"].tolist() == sample["recording_id"].tolist()
    scores = json.loads((rfcx["run"] / "scores.json").read_text())
    assert set(scores) == {"stage1", "round1"}  # no ensemble test score without truth
    assert set(scores["stage1"]) == {"oof_tp"}
    assert set(scores["round1"]) == {"oof_tp", "pseudo"}  # pseudo-label count, no quality
    assert scores["round1"]["pseudo"]["precision"] is None
    for stage in ("stage1", "round1"):
        assert 0 < scores[stage]["oof_tp"]["lwlrap"] <= 1
    table = pd.read_csv(rfcx["run"] / "scores.csv").set_index("stage")
    assert table.index.tolist() == ["stage1", "round1"]
    counts = ["oof_tp_lwlrap", "pseudo_count", "pseudo_new", "pseudo_negatives"]
    counts.append("pseudo_crop_targets")  # counted without truth; its precision needs truth
    assert table.drop(columns=counts).isna().all().all()  # the rest needs truth


@pytest.mark.workflow
def test_npz_export_writes_one_archive_per_recording(rfcx):
    for split in ("train", "test"):
        ids = pd.read_csv(rfcx["run"] / f"features/{split}/manifest.csv", dtype=str)
        archives = sorted(p.stem for p in (rfcx["run"] / "npz" / split).glob("*.npz"))
        assert archives == sorted(ids["recording_id"])
    with np.load(next((rfcx["run"] / "npz/train").glob("*.npz"))) as archive:
        assert archive.files == ["logmel"]
        assert archive["logmel"].shape == (128, N_FRAMES)


@pytest.mark.workflow
def test_npz_input_skips_audio_and_gives_the_same_submission(rfcx, tmp_path):
    npz_only = tmp_path / "npzs"  # the .npz folders alone, no audio beside them
    for split in ("train", "test"):
        (npz_only / split).mkdir(parents=True)
        for archive in (rfcx["run"] / "npz" / split).glob("*.npz"):
            (npz_only / split / archive.name).symlink_to(archive)
    config = {
        "data": {
            "dir": str(rfcx["data"]),  # the csvs
            "source": "npz",
            "npz": {"dir": str(npz_only)},
        }
    }
    run = snakemake(tmp_path / "run", "submission.csv", configs=[config])
    jobs = job_counts(run.stdout + run.stderr)
    assert jobs["import_npz"] == 2 and "extract_features" not in jobs
    for split in ("train", "test"):
        for feature in (rfcx["run"] / "features" / split).iterdir():
            assert (tmp_path / "run/features" / split / feature.name).read_bytes() == (
                feature.read_bytes()
            )
    assert (tmp_path / "run/submission.csv").read_bytes() == (
        rfcx["run"] / "submission.csv"
    ).read_bytes()


@pytest.mark.workflow
def test_bad_npz_files_are_listed_together(rfcx, tmp_path):
    npz_dir = tmp_path / "npz"
    (npz_dir / "train").mkdir(parents=True)
    np.savez(npz_dir / "train/a.npz", logmel=np.zeros((128, 100), np.float32))
    np.savez(npz_dir / "train/b.npz", mel=np.zeros((128, N_FRAMES), np.float32))
    config = {
        "data": {
            "dir": str(rfcx["data"]),
            "source": "npz",
            "npz": {"dir": str(npz_dir)},
        }
    }
    result = snakemake(tmp_path / "run", "features/train", configs=[config], check=False)
    assert result.returncode != 0
    log = (tmp_path / "run/logs/import_npz/train.log").read_text()
    assert "2 of 2 .npz file(s)" in log
    assert f"a.npz: 'logmel' has shape (128, 100), expected (128, {N_FRAMES})" in log
    assert "b.npz: no array 'logmel'" in log


def predict_config(model_dir, input_dir):
    """Predict-only: no train data at all (data.dir does not exist), generator off."""
    return {
        "data": {"dir": "no-such-folder", "source": "rfcx"},
        "predict": {"model_dir": str(model_dir), "input_dir": str(input_dir)},
    }


@pytest.mark.workflow
def test_predict_only_scores_new_audio(rfcx, tmp_path):
    new = rfcx_folder(tmp_path / "new", seed=11, n_train=1, n_test=3)
    config = predict_config(rfcx["run"] / "models/round1", new / "test")
    run = snakemake(tmp_path / "run", "predictions.csv", configs=[config])
    assert job_counts(run.stdout + run.stderr) == {"extract_features": 1, "predict_only": 1}
    predictions = pd.read_csv(tmp_path / "run/predictions.csv", dtype={"recording_id": str})
    ids = sorted(p.stem for p in (new / "test").glob("*.flac"))
    assert predictions.columns.tolist() == ["recording_id", *species_columns(N_SPECIES)]
    assert predictions["recording_id"].tolist() == ids
    scores = predictions.drop(columns="recording_id").to_numpy()
    assert ((scores >= 0) & (scores <= 1)).all()
    windows = pd.read_parquet(tmp_path / "run/predictions_windows.parquet")
    assert windows.columns.tolist()[:3] == ["recording_id", "window", "start"]
    assert sorted(set(windows["recording_id"])) == ids


@pytest.mark.workflow
def test_predict_only_equals_the_stage_average_on_test_audio(rfcx, tmp_path):
    config = predict_config(rfcx["run"] / "models/round1", rfcx["data"] / "test")
    snakemake(tmp_path / "run", "predictions.csv", configs=[config])
    predictions = pd.read_csv(tmp_path / "run/predictions.csv", dtype={"recording_id": str})
    # predictions/round1/test.parquet: the fold models' test scores (windows.test_cover), averaged
    stage = pd.read_parquet(rfcx["run"] / "predictions/round1/test.parquet").sort_values(
        "recording_id"
    )
    assert predictions["recording_id"].tolist() == stage["recording_id"].tolist()
    np.testing.assert_allclose(
        predictions.drop(columns="recording_id").to_numpy(),
        stage.drop(columns="recording_id").to_numpy(),
        atol=1e-6,
    )


@pytest.mark.workflow
def test_predict_only_refuses_a_folder_without_checkpoints(rfcx, tmp_path):
    (tmp_path / "empty").mkdir()
    for model_dir, problem in [
        (tmp_path / "empty", "no fold<N>.pt in it"),
        (tmp_path / "absent", "no such folder"),
    ]:
        config = predict_config(model_dir, rfcx["data"] / "test")
        result = snakemake(
            tmp_path / "run", "predictions.csv", "--dry-run", configs=[config], check=False
        )
        assert result.returncode != 0
        assert f"predict.model_dir {model_dir}: {problem}" in result.stdout + result.stderr


def save_checkpoint(path, n_species, seed):
    import torch

    from sedcycle.model import SEDModel, model_spec

    torch.manual_seed(seed)
    model = SEDModel("mobilenetv3_small_050", n_species=n_species)
    torch.save({"model_spec": model_spec(model), "state_dict": model.state_dict()}, path)
    return str(path)


def test_predict_only_averages_window_and_clip_scores_over_models(feature_dir, tmp_path):
    from sedcycle.clips import ClipStore
    from sedcycle.model import load_model
    from sedcycle.predict import predict_windows
    from sedcycle.steps.prediction import predict_only
    from sedcycle.windows import window_positions

    models = [save_checkpoint(tmp_path / f"fold{f}.pt", 3, seed=f) for f in range(2)]
    clips, windows = tmp_path / "predictions.csv", tmp_path / "windows.parquet"
    settings = dict(window=128, cover=28, batch_size=7, amp="none", device="cpu", threads=1)
    predict_only(models, str(feature_dir), str(clips), str(windows), **settings)
    ids = [f"rec{i}" for i in range(6)]
    store, positions = ClipStore(feature_dir, ids), window_positions(300, 128, 28)
    tables = [
        predict_windows(load_model(m), store, ids, positions, 7, progress=False) for m in models
    ]
    columns = ["s0", "s1", "s2"]
    result = pd.read_parquet(windows)
    assert len(result) == 6 * len(positions)
    np.testing.assert_allclose(
        result[columns], (tables[0][columns] + tables[1][columns]) / 2, atol=1e-6
    )
    per_model_max = [t.groupby("recording_id")[columns].max() for t in tables]
    expected = (per_model_max[0] + per_model_max[1]) / 2  # mean of maxima, as the submission
    table = pd.read_csv(clips).set_index("recording_id")
    assert table.index.tolist() == ids and table.columns.tolist() == columns
    np.testing.assert_allclose(table.to_numpy(), expected.loc[ids].to_numpy(), atol=1e-6)


def test_predict_only_refuses_checkpoints_that_disagree_on_species(feature_dir, tmp_path):
    from sedcycle.steps.prediction import predict_only

    models = [
        save_checkpoint(tmp_path / "fold0.pt", 3, 0),
        save_checkpoint(tmp_path / "fold1.pt", 4, 1),
    ]
    settings = dict(window=128, cover=28, batch_size=8, amp="none", device="cpu", threads=1)
    out = tmp_path / "p.csv", tmp_path / "w.parquet"
    with pytest.raises(ValueError, match="disagree on n_species") as error:
        predict_only(models, str(feature_dir), str(out[0]), str(out[1]), **settings)
    assert "fold0.pt': 3" in str(error.value) and "fold1.pt': 4" in str(error.value)
    with pytest.raises(ValueError, match="no fold"):
        predict_only([], str(feature_dir), str(out[0]), str(out[1]), **settings)


@pytest.mark.workflow
def test_input_settings_are_checked_before_any_job(tmp_path):
    def refused(overrides, *targets):
        result = snakemake(tmp_path, *targets, "--dry-run", configs=[overrides], check=False)
        assert result.returncode != 0
        return result.stdout + result.stderr

    unknown = refused({"data": {"source": "wav"}})  # schema: not one of the sources
    assert "'wav' is not one of" in unknown and "['data']['source']" in unknown
    stray = refused({"data": {"npz": {"dir": "logmels"}}})  # read by another source
    assert "config data.npz.dir is set, but data.source is synthetic" in stray
    (tmp_path / "fold0.pt").touch()  # only listed in a dry run, never loaded
    no_input = refused({"predict": {"model_dir": str(tmp_path)}}, "predictions.csv")
    assert "predictions.csv needs config predict.input_dir" in no_input


def run_micro(workdir, *args, configs=()):
    """The micro config, then ``configs``, in the background: a Popen whose stdout has both
    streams."""
    command = snakemake_command(workdir, *args, configs=configs)
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


@pytest.mark.workflow
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
