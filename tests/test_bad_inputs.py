"""Bad audio inputs: every problem named, nothing half-written (tests/BAD_INPUTS.md)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from sedcycle.audio import extract_features
from sedcycle.recordings import audio_files
from sedcycle.steps import data as data_steps
from sedcycle.steps.prediction import ensemble

from .workflow_runs import snakemake

REPO = Path(__file__).resolve().parents[1]
SR = 48000


def write_wave(path, seconds, rate=SR, channels=1):
    rng = np.random.default_rng(len(path.name))
    wave = (0.1 * rng.standard_normal((int(seconds * rate), channels))).astype(np.float32)
    sf.write(path, wave, rate, subtype="PCM_16")
    return path


@pytest.fixture
def audio_dir(tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    write_wave(folder / "good.flac", 2.0)
    write_wave(folder / "stereo.flac", 2.0, channels=2)
    write_wave(folder / "rate22k.wav", 2.0, rate=22050)
    write_wave(folder / "short.flac", 0.5)
    write_wave(folder / "long.flac", 3.0)
    (folder / "corrupt.flac").write_bytes(b"fLaC" + bytes(range(256)) * 4)
    full = (folder / "good.flac").read_bytes()
    (folder / "truncated.flac").write_bytes(full[: len(full) // 3])
    sf.write(folder / "empty.wav", np.zeros((0, 1), dtype=np.float32), SR)
    return folder


BAD = {"corrupt", "truncated", "empty"}


def extract(audio_dir, out, on_bad_audio):
    paths = sorted(audio_dir.iterdir())
    return extract_features(paths, out, clip_seconds=2.0, progress=False, on_bad_audio=on_bad_audio)


def test_error_mode_lists_every_bad_file(audio_dir, tmp_path, capsys):
    with pytest.raises(ValueError) as error:
        extract(audio_dir, tmp_path / "features", "error")
    message = str(error.value)
    assert "3 bad audio file(s)" in message and "on_bad_audio: skip" in message
    for name in ("corrupt.flac", "truncated.flac", "empty.wav"):
        assert str(audio_dir / name) in message
    assert not list((tmp_path / "features").glob(".*.tmp*"))  # no half-written file left


def test_skip_mode_writes_the_good_and_reports_the_rest(audio_dir, tmp_path, capsys):
    manifest = extract(audio_dir, tmp_path / "features", "skip")
    bad = set(manifest.loc[manifest["problem"] != "", "recording_id"])
    assert bad == BAD
    written = {p.stem for p in (tmp_path / "features").glob("*.npy")}
    assert written == {"good", "stereo", "rate22k", "short", "long"}
    for stem in written:
        assert np.load(tmp_path / "features" / f"{stem}.npy").shape == (128, 126)
    log = capsys.readouterr().err
    assert "5 file(s) resampled to 32000 Hz: ['good.flac', 'long.flac', 'rate22k.wav'" in log
    assert "downmixed to mono: ['stereo.flac']" in log
    assert "zero-padded to 2.0 s: ['short.flac']" in log
    assert "cropped to 2.0 s: ['long.flac']" in log


def test_steps_extract_writes_bad_audio_report(audio_dir, tmp_path):
    out = tmp_path / "features"
    data_steps.extract_features(audio_dir, out, clip_seconds=2.0, threads=1, on_bad_audio="skip")
    assert set(data_steps.feature_ids(out)) == {"good", "stereo", "rate22k", "short", "long"}
    assert set(data_steps.skipped_recordings(out)) == BAD
    report = pd.read_csv(out / data_steps.BAD_AUDIO)
    assert report.columns.tolist() == ["recording_id", "problem"]


def test_folder_without_audio_is_named(tmp_path):
    with pytest.raises(ValueError, match="no audio file"):
        audio_files(tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        audio_files(tmp_path / "nowhere")


def test_skipped_test_recording_scores_zero_in_the_submission(tmp_path):
    sample = tmp_path / "sample_submission.csv"
    pd.DataFrame({"recording_id": ["a", "bad"], "s0": 0, "s1": 0}).to_csv(sample, index=False)
    stage = tmp_path / "test.parquet"
    pd.DataFrame({"recording_id": ["a"], "s0": [0.5], "s1": [0.25]}).to_parquet(stage)
    ensemble(
        [str(stage)],
        str(sample),
        str(tmp_path / "e.parquet"),
        str(tmp_path / "submission.csv"),
        skipped_audio=["bad"],
    )
    submission = pd.read_csv(tmp_path / "submission.csv")
    assert submission.to_numpy().tolist() == [["a", 0.5, 0.25], ["bad", 0.0, 0.0]]


@pytest.mark.workflow
@pytest.mark.parametrize("mode", ["error", "skip"])
def test_workflow_stops_before_training_or_skips(tmp_path, mode):
    from sedcycle.synthetic import generate

    data = tmp_path / "rfcx"
    generate(data, n_train=8, n_test=2, clip_seconds=4.0, seed=5)
    victims = sorted((data / "train").glob("*.flac"))[:2]
    for victim in victims:
        victim.write_bytes(victim.read_bytes()[:100])
    config = tmp_path / "bad.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"dir": str(data), "source": "rfcx", "on_bad_audio": mode},
                "clip_seconds": 4.0,
                "n_species": 24,  # the generator's
                "folds": {"n_folds": 2},
            }
        )
    )
    work = tmp_path / "work"
    work.mkdir()
    # config.yaml, then this config alone (base=None: not the micro config)
    result = snakemake(work, "folds.csv", configs=[config], base=None, check=False)
    if mode == "error":
        assert result.returncode != 0
        log = (work / "logs/extract_features/train.log").read_text()
        assert all(str(v) in log for v in victims) and "2 bad audio file(s)" in log
        assert not (work / "folds.csv").exists() and not (work / "models").exists()
    else:
        assert result.returncode == 0, result.stderr[-3000:]
        folds = pd.read_csv(work / "folds.csv", dtype={"recording_id": str})
        assert not set(folds["recording_id"]) & {v.stem for v in victims}
        assert set(data_steps.skipped_recordings(work / "features/train")) == {
            v.stem for v in victims
        }
