"""Precomputed .npz log-mels: import to features, export from features, validation."""

import numpy as np
import pandas as pd
import pytest

from sedcycle import npz
from sedcycle.clips import ClipStore
from sedcycle.steps.data import feature_ids

N_MELS, N_FRAMES = 16, 40


def write_clips(folder, n=3, key="logmel", dtype=np.float32):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    clips = {}
    for i in range(n):
        clip = rng.normal(-50, 10, size=(N_MELS, N_FRAMES)).astype(dtype)
        np.savez(folder / f"rec{i}.npz", **{key: clip})
        clips[f"rec{i}"] = clip
    return clips


def test_expected_frames_equals_the_audio_path():
    from sedcycle.audio import n_frames

    assert npz.expected_frames(60, 32000, 512) == 3751 == n_frames(60, 32000, 512)
    for seconds in (5, 6, 7.3, 15):
        assert npz.expected_frames(seconds, 32000, 512) == n_frames(seconds, 32000, 512)


def test_import_writes_float16_features_and_a_manifest(tmp_path):
    clips = write_clips(tmp_path / "npz")
    (tmp_path / "npz" / "notes.txt").write_text("not a spectrogram")  # ignored
    out = tmp_path / "features"
    manifest = npz.import_npz(tmp_path / "npz", out, "logmel", N_MELS, N_FRAMES, progress=False)
    assert manifest.to_dict("list") == {
        "recording_id": ["rec0", "rec1", "rec2"],
        "n_mels": [N_MELS] * 3,
        "n_frames": [N_FRAMES] * 3,
    }
    assert feature_ids(out) == ["rec0", "rec1", "rec2"]
    for rec, clip in clips.items():
        stored = np.load(out / f"{rec}.npy")
        assert stored.dtype == np.float16 and stored.shape == (N_MELS, N_FRAMES)
        np.testing.assert_array_equal(stored, clip.astype(np.float16))
    assert ClipStore(out, list(clips)).window("rec0", 0, 32).shape == (N_MELS, 32)


def test_every_bad_file_is_named_at_once(tmp_path):
    folder = tmp_path / "npz"
    write_clips(folder, n=1)
    np.savez(folder / "wrongkey.npz", mel=np.zeros((N_MELS, N_FRAMES), np.float32))
    np.savez(folder / "short.npz", logmel=np.zeros((N_MELS, N_FRAMES - 1), np.float32))
    np.savez(folder / "ints.npz", logmel=np.zeros((N_MELS, N_FRAMES), np.int16))
    nan = np.zeros((N_MELS, N_FRAMES), np.float32)
    nan[0, 0] = np.nan
    np.savez(folder / "nan.npz", logmel=nan)
    np.savez(folder / "linear.npz", logmel=np.full((N_MELS, N_FRAMES), 1e6, np.float64))
    (folder / "broken.npz").write_bytes(b"not a zip")
    np.save(folder / "plain.npy", np.zeros((N_MELS, N_FRAMES), np.float32))
    (folder / "plain.npy").rename(folder / "plain.npz")
    with pytest.raises(ValueError) as error:
        npz.import_npz(folder, tmp_path / "out", "logmel", N_MELS, N_FRAMES, progress=False)
    message = str(error.value)
    assert "7 of 8 .npz file(s)" in message
    assert "wrongkey.npz: no array 'logmel' (it holds ['mel'])" in message
    assert f"short.npz: 'logmel' has shape ({N_MELS}, {N_FRAMES - 1}), expected" in message
    assert "ints.npz: 'logmel' has dtype int16" in message
    assert "nan.npz: 'logmel' holds 1 NaN or infinite value(s)" in message
    assert "linear.npz: 'logmel' has values beyond float16's range" in message
    assert "broken.npz: not a readable .npz file" in message
    assert "plain.npz: not a readable .npz file (a single .npy array" in message
    assert "rec0" not in message


def test_missing_or_empty_folder_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="npz folder not found"):
        npz.import_npz(tmp_path / "absent", tmp_path / "out", "logmel", N_MELS, N_FRAMES)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .npz file"):
        npz.import_npz(tmp_path / "empty", tmp_path / "out", "logmel", N_MELS, N_FRAMES)


def test_export_then_import_gives_the_same_features(feature_dir, tmp_path):
    ids = npz.export_npz(feature_dir, tmp_path / "npz", "file", progress=False)  # any key
    assert ids == feature_ids(feature_dir)
    with np.load(tmp_path / "npz" / "rec0.npz") as archive:
        assert archive.files == ["file"] and archive["file"].dtype == np.float16
    n_mels, n_frames = np.load(feature_dir / "rec0.npy").shape
    out = tmp_path / "again"
    npz.import_npz(tmp_path / "npz", out, "file", n_mels, n_frames, progress=False)
    for rec in ids:
        assert (out / f"{rec}.npy").read_bytes() == (feature_dir / f"{rec}.npy").read_bytes()
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "manifest.csv"), pd.read_csv(feature_dir / "manifest.csv")
    )
