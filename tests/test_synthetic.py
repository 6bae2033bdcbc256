"""Tests of sedcycle.synthetic: RFCx layout, audio format, determinism, label policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sedcycle.synthetic import (
    CATALOGUE_COLUMNS,
    F_MAX_HZ,
    F_MIN_HZ,
    LABEL_COLUMNS,
    SHAPES,
    TRUTH_COLUMNS,
    generate,
    species_catalogue,
)

CLIP_SECONDS = 5.0
N_TRAIN, N_TEST = 12, 4
SMALL = dict(n_train=N_TRAIN, n_test=N_TEST, clip_seconds=CLIP_SECONDS, seed=3)
CSV_FILES = (
    "train_tp.csv",
    "train_fp.csv",
    "sample_submission.csv",
    "train_truth.csv",
    "test_truth.csv",
)


def read(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / name, dtype={"recording_id": str})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    generate(root, **SMALL)
    return root


def all_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_layout_and_columns(dataset):
    train = sorted(p.stem for p in (dataset / "train").glob("*.flac"))
    test = sorted(p.stem for p in (dataset / "test").glob("*.flac"))
    assert len(train) == N_TRAIN and len(test) == N_TEST
    assert not set(train) & set(test)
    assert all(len(i) == 9 and int(i, 16) >= 0 for i in train + test)
    for name in CSV_FILES:
        assert (dataset / name).is_file()
    assert not list(dataset.rglob("*.tmp"))
    assert tuple(read(dataset, "train_tp.csv").columns) == LABEL_COLUMNS
    assert tuple(read(dataset, "train_fp.csv").columns) == LABEL_COLUMNS
    assert tuple(read(dataset, "train_truth.csv").columns) == TRUTH_COLUMNS
    assert tuple(read(dataset, "test_truth.csv").columns) == TRUTH_COLUMNS
    assert set(read(dataset, "train_truth.csv").recording_id) <= set(train)
    assert set(read(dataset, "test_truth.csv").recording_id) <= set(test)


def test_flac_properties(dataset):
    for path in sorted(dataset.glob("*/*.flac")):
        info = sf.info(path)
        assert (info.format, info.subtype) == ("FLAC", "PCM_16")
        assert info.samplerate == 48000 and info.channels == 1
        assert info.frames == round(CLIP_SECONDS * 48000)
    wave, _ = sf.read(sorted((dataset / "train").glob("*.flac"))[0])
    assert 0 < np.abs(wave).max() <= 0.9 + 1e-4  # not silent, not clipped


def test_same_arguments_same_bytes(tmp_path):
    args = dict(n_train=4, n_test=2, clip_seconds=CLIP_SECONDS, seed=11)
    generate(tmp_path / "a", **args)
    generate(tmp_path / "b", **args, n_jobs=2)  # threads do not change the bytes
    first, second = all_files(tmp_path / "a"), all_files(tmp_path / "b")
    assert first.keys() == second.keys() and len(first) == 4 + 2 + len(CSV_FILES)
    assert first == second
    generate(tmp_path / "c", **{**args, "seed": 12})
    assert all_files(tmp_path / "c") != first


def test_tp_rows_are_truth_rows(dataset):
    truth = read(dataset, "train_truth.csv")
    tp = read(dataset, "train_tp.csv")
    keys = ["recording_id", "species_id", "t_min", "t_max", "f_min", "f_max"]
    matched = tp.merge(truth, on=keys, how="left", indicator=True)
    assert (matched["_merge"] == "both").all()
    assert not tp.duplicated(keys).any()


def test_labels_are_sparse(dataset):
    truth = read(dataset, "train_truth.csv")
    tp = read(dataset, "train_tp.csv")
    assert 0 < len(tp) < len(truth)
    # every train recording with a call has at least one tp row
    assert set(tp.recording_id) == set(truth.recording_id)


def test_fp_species_absent_from_recording(dataset):
    truth = read(dataset, "train_truth.csv")
    fp = read(dataset, "train_fp.csv")
    assert len(fp) > 0
    present = set(zip(truth.recording_id, truth.species_id, strict=True))
    assert not any(pair in present for pair in zip(fp.recording_id, fp.species_id, strict=True))
    train = {p.stem for p in (dataset / "train").glob("*.flac")}
    assert set(fp.recording_id) <= train


def test_fp_rows_come_from_confusable_partners(tmp_path):
    generate(
        tmp_path,
        n_train=10,
        n_test=1,
        clip_seconds=CLIP_SECONDS,
        fp_fraction=1.0,
        fp_per_recording=0.0,
    )
    truth, fp = read(tmp_path, "train_truth.csv"), read(tmp_path, "train_fp.csv")
    partner = species_catalogue(24, 0).set_index("species_id")["confusable_with"]
    assert len(fp) > 0
    for row in fp.itertuples():
        calls = truth[(truth.recording_id == row.recording_id) & (truth.t_min == row.t_min)]
        assert (calls.species_id == partner[row.species_id]).any()


def test_ids_ranges_and_songtypes(dataset):
    for name in ("train_tp.csv", "train_fp.csv"):
        table = read(dataset, name)
        assert table.species_id.between(0, 23).all()
        assert set(table.songtype_id) <= {1, 4}
    for name in ("train_tp.csv", "train_fp.csv", "train_truth.csv", "test_truth.csv"):
        table = read(dataset, name)
        assert table.species_id.between(0, 23).all()
        assert table.f_min.between(F_MIN_HZ, F_MAX_HZ).all()
        assert table.f_max.between(F_MIN_HZ, F_MAX_HZ).all()
        assert (table.f_min < table.f_max).all()
        assert (table.t_min >= 0).all() and (table.t_max <= CLIP_SECONDS).all()
        assert ((table.t_max - table.t_min) >= 0.29).all()
        assert ((table.t_max - table.t_min) <= 3.01).all()


def test_species_per_clip_and_calls(dataset):
    truth = pd.concat([read(dataset, "train_truth.csv"), read(dataset, "test_truth.csv")])
    assert truth.groupby("recording_id").species_id.nunique().max() <= 4
    assert truth.groupby(["recording_id", "species_id"]).size().max() <= 4
    # calls of one species never overlap each other
    for _, calls in truth.groupby(["recording_id", "species_id"]):
        calls = calls.sort_values("t_min")
        assert (calls.t_min.to_numpy()[1:] >= calls.t_max.to_numpy()[:-1]).all()


def test_sample_submission(dataset):
    submission = read(dataset, "sample_submission.csv")
    assert list(submission.columns) == ["recording_id"] + [f"s{i}" for i in range(24)]
    test = sorted(p.stem for p in (dataset / "test").glob("*.flac"))
    assert submission.recording_id.tolist() == test
    assert (submission.drop(columns="recording_id").to_numpy() == 0).all()


def test_calls_are_audible(dataset):
    """Power in a call's band is higher during the call than elsewhere in the same clip."""
    truth = read(dataset, "train_truth.csv")
    ratios = []
    for recording_id, calls in truth.groupby("recording_id"):
        wave, sample_rate = sf.read(dataset / "train" / f"{recording_id}.flac")
        hop = 1024
        frames = np.lib.stride_tricks.sliding_window_view(wave, 2048)[::hop] * np.hanning(2048)
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # [n_frames, n_bins]
        freqs = np.fft.rfftfreq(2048, 1 / sample_rate)
        times = (np.arange(len(power)) * hop + 1024) / sample_rate
        for call in calls.itertuples():
            band = power[:, (freqs >= call.f_min) & (freqs <= call.f_max)].sum(axis=1)
            during = (times > call.t_min) & (times < call.t_max)
            busy = np.zeros_like(during)
            for other in calls.itertuples():  # exclude every call of the clip from "elsewhere"
                busy |= (times > other.t_min - 0.1) & (times < other.t_max + 0.1)
            if during.any() and (~busy).any():
                ratios.append(np.median(band[during]) / np.median(band[~busy]))
    assert len(ratios) > 10
    assert np.median(ratios) > 2.0  # +3 dB over the background in the same band


def test_every_species_gets_tp_rows(tmp_path):
    generate(tmp_path, n_train=60, n_test=1, clip_seconds=4.0, seed=5)
    tp = read(tmp_path, "train_tp.csv")
    assert set(tp.species_id) == set(range(24))


def test_catalogue_design():
    catalogue = species_catalogue(24, 0)
    assert tuple(catalogue.columns) == CATALOGUE_COLUMNS
    assert catalogue.species_id.tolist() == list(range(24))
    assert set(catalogue["shape"]) == set(SHAPES)
    partners = catalogue.set_index("species_id")
    for row in catalogue.itertuples():
        partner = partners.loc[row.confusable_with]
        assert partner.confusable_with == row.species_id
        assert partner["shape"] == row.shape  # confusable: same shape, neighbouring band
        assert 1.1 < max(partner.f_low / row.f_low, row.f_low / partner.f_low) < 1.6
    assert (catalogue.f_low >= 300).all() and (catalogue.f_high <= 13000).all()
    assert catalogue.duration.between(0.3, 3.0).all()
    assert species_catalogue(24, 0).equals(catalogue)
    assert not species_catalogue(24, 1).equals(catalogue)
    odd = species_catalogue(5, 0)
    assert odd.confusable_with.tolist()[-1] == -1 and len(odd) == 5


def test_other_species_counts_and_rates(tmp_path):
    generate(
        tmp_path,
        n_train=3,
        n_test=1,
        clip_seconds=4.0,
        n_species=6,
        sample_rate=32000,
        max_species_per_clip=2,
    )
    assert sf.info(next((tmp_path / "train").glob("*.flac"))).samplerate == 32000
    submission = read(tmp_path, "sample_submission.csv")
    assert list(submission.columns)[-1] == "s5"
    assert read(tmp_path, "train_truth.csv").species_id.between(0, 5).all()


def test_stale_flac_files(tmp_path):
    args = dict(n_train=2, n_test=1, clip_seconds=4.0)
    generate(tmp_path, **args)
    generate(tmp_path, **args)  # same data set again: fine
    stale = tmp_path / "train" / "stale0000.flac"
    stale.write_bytes(b"")
    with pytest.raises(ValueError, match="stale0000.flac"):
        generate(tmp_path, **args)
    generate(tmp_path, **args, clean=True)
    assert not stale.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_train": 0}, "n_train"),
        ({"n_test": 1.5}, "n_test"),
        ({"clip_seconds": 2.0}, "clip_seconds"),
        ({"clip_seconds": float("nan")}, "clip_seconds"),
        ({"n_species": 0}, "n_species"),
        ({"sample_rate": 16000}, "sample_rate"),
        ({"seed": -1}, "seed"),
        ({"tp_fraction": 0.0}, "tp_fraction"),
        ({"fp_fraction": 1.5}, "fp_fraction"),
        ({"fp_per_recording": -1.0}, "fp_per_recording"),
        ({"max_species_per_clip": 25}, "max_species_per_clip"),
        ({"max_calls_per_species": 0}, "max_calls_per_species"),
        ({"snr_db": (10.0, 0.0)}, "snr_db"),
        ({"snr_db": 5.0}, "snr_db"),
        ({"rain_probability": 2.0}, "rain_probability"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"seed": True}, "seed"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate(tmp_path, **{"n_train": 2, "n_test": 1, "clip_seconds": 4.0, **kwargs})
    assert not list(tmp_path.iterdir())  # nothing written before the checks pass


def test_bad_catalogue_arguments():
    with pytest.raises(ValueError, match="n_species"):
        species_catalogue(0)
    with pytest.raises(ValueError, match="seed"):
        species_catalogue(24, seed=-3)
