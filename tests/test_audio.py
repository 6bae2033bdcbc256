"""Tests of sedcycle.audio: decoding, resampling, log-mel against librosa, feature files."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from sedcycle.audio import (
    LogMel,
    extract_features,
    load_audio,
    load_features,
    n_frames,
)

SR = 32000


def noise_and_tones(seconds: float, sample_rate: int = SR, seed: int = 0) -> np.ndarray:
    """Float32 mono test signal: noise, a steady tone, a sweep, and a near-silent start."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    wave = (
        0.05 * rng.standard_normal(len(t))
        + 0.3 * np.sin(2 * np.pi * 1000 * t)
        + 0.1 * np.sin(2 * np.pi * (3000 + 500 * t) * t)
    )
    wave[: sample_rate // 2] *= 1e-3  # a quiet stretch so the top_db floor is reached
    return wave.astype(np.float32)


def librosa_log_mel(wave: np.ndarray, top_db: float | None = 80.0, **mel) -> np.ndarray:
    power = librosa.feature.melspectrogram(
        y=wave, sr=SR, n_fft=2048, hop_length=512, n_mels=128, center=True,
        pad_mode="constant", power=2.0, **mel,
    )  # fmt: skip
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=top_db)


def test_n_frames_of_a_60_s_clip():
    assert n_frames(60.0) == 3751
    assert n_frames(60.0, 32000, 512) == 1_920_000 // 512 + 1


def test_log_mel_of_60_s_is_128_by_3751():
    wave = torch.from_numpy(np.random.default_rng(1).standard_normal((1, 60 * SR), np.float32))
    with torch.inference_mode():
        out = LogMel()(wave)
    assert out.shape == (1, 128, 3751)
    assert out.dtype == torch.float32


@pytest.mark.parametrize("top_db", [80.0, None])
def test_log_mel_matches_librosa_within_0_01_db(top_db):
    wave = noise_and_tones(4.0)
    expected = librosa_log_mel(wave, top_db=top_db)
    with torch.inference_mode():
        out = LogMel(top_db=top_db)(torch.from_numpy(wave)[None])[0].numpy()
    assert out.shape == expected.shape == (128, n_frames(4.0))
    # Honest comparison: most bins must be above the floor, or clipping would hide errors.
    if top_db is not None:
        assert (expected > expected.max() - top_db).mean() > 0.8
        assert (expected == expected.max() - top_db).any()
    np.testing.assert_allclose(out, expected, rtol=0, atol=0.01)


def test_log_mel_fmin_fmax_match_librosa():
    wave = noise_and_tones(2.0, seed=3)
    expected = librosa_log_mel(wave, fmin=50.0, fmax=14000.0)
    with torch.inference_mode():
        out = LogMel(fmin=50.0, fmax=14000.0)(torch.from_numpy(wave)[None])[0].numpy()
    np.testing.assert_allclose(out, expected, rtol=0, atol=0.01)


def test_top_db_floor_is_per_clip_in_a_batch():
    loud = noise_and_tones(2.0, seed=4)
    quiet = 1e-3 * noise_and_tones(2.0, seed=5)
    with torch.inference_mode():
        batch = LogMel()(torch.from_numpy(np.stack([loud, quiet])))
    for row, wave in zip(batch.numpy(), [loud, quiet], strict=True):
        np.testing.assert_allclose(row, librosa_log_mel(wave), rtol=0, atol=0.01)
    loud_db, quiet_db = batch.numpy()
    assert loud_db.min() == pytest.approx(loud_db.max() - 80.0, abs=1e-3)
    # A floor shared by the batch (loud max - 80) would have clipped the quiet clip.
    assert quiet_db.min() < loud_db.max() - 80.0 - 10.0


def test_log_mel_rejects_a_1d_wave():
    with pytest.raises(ValueError, match="batch"):
        LogMel()(torch.zeros(SR))


def test_resampling_48k_to_32k_matches_librosa_load(tmp_path):
    path = tmp_path / "tone48k.flac"
    t = np.arange(2 * 48000) / 48000
    sf.write(path, 0.5 * np.sin(2 * np.pi * 1000 * t), 48000, subtype="PCM_16")
    wave = load_audio(path, sample_rate=SR, clip_seconds=2.0)
    assert wave.dtype == np.float32 and wave.shape == (2 * SR,)
    expected, _ = librosa.load(path, sr=SR)
    np.testing.assert_allclose(wave, expected, atol=1e-6)
    spectrum = np.abs(np.fft.rfft(wave))
    assert np.argmax(spectrum) * SR / len(wave) == pytest.approx(1000, abs=1)


def test_stereo_is_downmixed_by_mean(tmp_path):
    path = tmp_path / "stereo.wav"
    left = np.full(SR, 0.5, dtype=np.float32)
    right = np.full(SR, -0.25, dtype=np.float32)
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, SR, 1.0), 0.125)


def test_pad_and_crop_to_the_clip_length(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, np.ones(SR, dtype=np.float32), SR, subtype="FLOAT")
    padded = load_audio(path, SR, clip_seconds=1.5)
    assert padded.shape == (48000,)
    assert np.all(padded[:SR] == 1.0) and np.all(padded[SR:] == 0.0)
    cropped = load_audio(path, SR, clip_seconds=0.5)
    assert cropped.shape == (16000,) and np.all(cropped == 1.0)


def test_corrupt_empty_and_missing_files(tmp_path):
    corrupt = tmp_path / "corrupt_clip.flac"
    corrupt.write_bytes(b"this is not a flac file" * 10)
    with pytest.raises(ValueError, match=r"corrupt_clip\.flac"):
        load_audio(corrupt)
    empty = tmp_path / "empty_clip.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(ValueError, match=r"empty_clip\.wav.*no samples"):
        load_audio(empty)
    with pytest.raises(FileNotFoundError, match=r"missing_clip\.flac"):
        load_audio(tmp_path / "missing_clip.flac")


def test_extract_features_writes_float16_files_and_manifest(tmp_path):
    audio_dir = tmp_path / "audio"
    audio_dir.mkdir()
    waves = {}
    for seed, rid in enumerate(["a1b2c3", "d4e5f6", "0789ab"]):
        native = noise_and_tones(2.0, sample_rate=48000, seed=seed)
        sf.write(audio_dir / f"{rid}.flac", native, 48000, subtype="PCM_16")
        waves[rid] = load_audio(audio_dir / f"{rid}.flac", SR, 2.0)
    paths = sorted(audio_dir.glob("*.flac"))
    out_dir = tmp_path / "features"
    manifest = extract_features(
        paths, out_dir, sample_rate=SR, clip_seconds=2.0, n_mels=128, n_fft=2048,
        hop_length=512, fmin=0.0, fmax=None, batch_size=2, progress=False,
    )  # fmt: skip
    assert list(manifest.columns) == ["recording_id", "n_mels", "n_frames", "problem"]
    assert list(manifest.recording_id) == [p.stem for p in paths]
    assert set(manifest.problem) == {""}
    assert set(manifest.n_mels) == {128} and set(manifest.n_frames) == {n_frames(2.0)}
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(f"{p.stem}.npy" for p in paths)
    for rid, wave in waves.items():
        features = load_features(out_dir / f"{rid}.npy")
        assert isinstance(features, np.memmap)
        assert features.dtype == np.float16 and features.shape == (128, n_frames(2.0))
        # float16 keeps dB values within half a unit in the last place (<= 0.0625 below 256).
        np.testing.assert_allclose(features, librosa_log_mel(wave), rtol=0, atol=0.07)


def test_extract_features_rejects_duplicate_stems_and_names_bad_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        sf.write(tmp_path / folder / "same.wav", np.zeros(SR, np.float32), SR)
    with pytest.raises(ValueError, match="same"):
        extract_features([tmp_path / "a/same.wav", tmp_path / "b/same.wav"], tmp_path / "out")
    bad = tmp_path / "bad_one.flac"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"bad_one\.flac"):
        extract_features([tmp_path / "a/same.wav", bad], tmp_path / "out", progress=False)
    # No temporary files are left behind.
    assert not [p for p in (tmp_path / "out").iterdir() if ".tmp" in p.name]


def test_load_features_rejects_a_non_2d_array(tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros(10, np.float16))
    with pytest.raises(ValueError, match=r"flat\.npy"):
        load_features(tmp_path / "flat.npy")
