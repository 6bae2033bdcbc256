"""Tests of sedcycle.synthetic: RFCx layout, audio format, determinism, label policy."""

from __future__ import annotations

import hashlib
import json
import subprocess
from base64 import b64encode
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from sedcycle.synthetic import (
    CATALOGUE_COLUMNS,
    F_MAX_HZ,
    F_MIN_HZ,
    LABEL_COLUMNS,
    SHAPES,
    TRUTH_COLUMNS,
    draw_labels,
    generate,
    label_statistics,
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


# sha256 of the csv files that the generator wrote before tp_recording_fraction and
# fp_only_recording_fraction existed, for two draws (SMALL; bench/quality.yaml's label settings)
BEFORE_SHARE_OPTIONS = {
    3: {
        "sample_submission.csv": "4b5a0f565c1582057ecc4edb5050b16d9d4d71e4557adc6697dd896d9f3050c9",
        "test_truth.csv": "f72dff97e50cb549c3d6cf59bdac3abb067755b0fdf41c68d1641e6438a8c3b4",
        "train_fp.csv": "c0b05f354fcd83e1a880ed7a959295e477740d5311bd541addd5255676e4bec6",
        "train_tp.csv": "e21b599b28669c2e62e7cca1e5fbbcf751d6f35ee11138e68845cf10e8c7c885",
        "train_truth.csv": "22b83645ac155da2bf20228afa62b06726024339dfe16dd5cb8a0e80657785eb",
    },
    7: {
        "sample_submission.csv": "9b34d5653070fb9c89e9c07fdbc595540811ac3a3a2db55a7bb6763a7cb5494a",
        "test_truth.csv": "767c4a0d316d28808389582791c93d66e3a9b790a699676ebace190d22b46e5d",
        "train_fp.csv": "2a3b4643e79698d2bfac36e8d53364ea03d723c1928e4d915a07d61e88859140",
        "train_tp.csv": "07d8f8dfcc8e14613996d72f14aedf4588f72745f0ccbb0fdd92be87d0f8b1f7",
        "train_truth.csv": "5be11e8752fd974c5209bb81b4590400cf9955004cb96ac5cf0b8ec02c612687",
    },
}
QUALITY_LABELS = dict(
    n_train=30, n_test=2, clip_seconds=4.0, seed=7, tp_fraction=0.25, fp_fraction=1.0
)


def csv_hashes(root: Path) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in CSV_FILES}


def test_share_options_off_reproduce_the_earlier_files(dataset, tmp_path):
    """At their defaults (None) the share options change no byte: the labels are those the
    generator wrote before they existed, and passing None equals leaving them out."""
    assert csv_hashes(dataset) == BEFORE_SHARE_OPTIONS[3]
    generate(tmp_path / "a", **QUALITY_LABELS, fp_per_recording=6.0)
    assert csv_hashes(tmp_path / "a") == BEFORE_SHARE_OPTIONS[7]
    off = dict(tp_recording_fraction=None, fp_only_recording_fraction=None)
    generate(tmp_path / "b", **QUALITY_LABELS, fp_per_recording=6.0, **off)
    assert all_files(tmp_path / "b") == all_files(tmp_path / "a")


RFCX_SHARES = dict(
    n_train=80,
    n_test=2,
    clip_seconds=4.0,
    n_species=12,
    seed=2,
    tp_fraction=0.08,
    fp_fraction=0.25,
    fp_per_recording=0.5,
    tp_recording_fraction=0.25,
    fp_only_recording_fraction=0.7,
)


@pytest.fixture(scope="module")
def rfcx_shaped(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rfcx_shaped")
    generate(root, **RFCX_SHARES)
    return root


def test_share_options_give_the_requested_label_statistics(rfcx_shaped):
    truth = read(rfcx_shaped, "train_truth.csv")
    tp, fp = read(rfcx_shaped, "train_tp.csv"), read(rfcx_shaped, "train_fp.csv")
    recordings = {p.stem for p in (rfcx_shaped / "train").glob("*.flac")}
    with_tp, with_fp = set(tp.recording_id), set(fp.recording_id)
    # 20 recordings chosen for tp rows (coverage may add one per species they all lack)
    assert 20 <= len(with_tp) <= 22
    assert len(with_fp - with_tp) == 56  # 0.7 * 80 fp-only recordings, exactly
    assert len(recordings - with_tp - with_fp) == 80 - len(with_tp) - 56  # the rest: no label
    # about 1 - tp_fraction of the calls unlabelled, whatever the share of tp recordings
    unlabelled = 1 - len(tp) / len(truth)
    assert 0.87 <= unlabelled <= 0.97, unlabelled
    # the policy's invariants hold: tp rows are calls, fp rows name absent species
    keys = ["recording_id", "species_id", "t_min", "t_max", "f_min", "f_max"]
    assert (tp.merge(truth, on=keys, how="left", indicator=True)["_merge"] == "both").all()
    present = set(zip(truth.recording_id, truth.species_id, strict=True))
    assert not any(pair in present for pair in zip(fp.recording_id, fp.species_id, strict=True))
    assert set(tp.species_id) == set(truth.species_id)  # every calling species has tp rows
    statistics = label_statistics(rfcx_shaped)
    assert statistics["recordings"] == 80
    assert statistics["recordings_with_tp"] == len(with_tp)
    assert statistics["recordings_fp_only"] == 56
    assert statistics["unlabelled_call_share"] == pytest.approx(unlabelled)
    assert statistics["fp_rows_per_tp_row"] == pytest.approx(len(fp) / len(tp))


def test_draw_labels_gives_the_tables_generate_writes(rfcx_shaped):
    tables = draw_labels(**RFCX_SHARES)
    for name in ("train_tp", "train_fp", "train_truth", "test_truth"):
        written = read(rfcx_shaped, f"{name}.csv")
        assert tables[name].reset_index(drop=True).equals(written), name
    assert tables["train_ids"] == sorted(p.stem for p in (rfcx_shaped / "train").glob("*.flac"))
    assert label_statistics(tables) == label_statistics(rfcx_shaped)


def test_tp_fraction_moves_the_unlabelled_share_not_the_tp_recordings(rfcx_shaped, tmp_path):
    generate(tmp_path, **{**RFCX_SHARES, "tp_fraction": 0.25})
    before, after = read(rfcx_shaped, "train_tp.csv"), read(tmp_path, "train_tp.csv")
    truth = read(tmp_path, "train_truth.csv")
    assert truth.equals(read(rfcx_shaped, "train_truth.csv"))  # same calls
    assert set(after.recording_id) == set(before.recording_id)  # same tp recordings
    assert 0.68 <= 1 - len(after) / len(truth) <= 0.82  # about 1 - 0.25
    assert len(after) > 2 * len(before)


def test_fp_only_share_alone_keeps_the_tp_policy(tmp_path):
    """fp_only_recording_fraction without tp_recording_fraction: the tp rows are the default
    policy's, and the recordings without one are split into fp-only and unlabelled."""
    args = dict(n_train=40, n_test=1, clip_seconds=4.0, seed=4)
    generate(tmp_path / "a", **args)
    generate(tmp_path / "b", **args, fp_only_recording_fraction=0.05)
    assert read(tmp_path / "b", "train_tp.csv").equals(read(tmp_path / "a", "train_tp.csv"))
    statistics = label_statistics(tmp_path / "b")
    assert statistics["recordings_fp_only"] == min(2, 40 - statistics["recordings_with_tp"])
    assert statistics["recordings_fp_only"] == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tp_recording_fraction": 0.0}, r"tp_recording_fraction must be in \(0.0, 1.0\]"),
        ({"tp_recording_fraction": 1.5}, "tp_recording_fraction"),
        ({"tp_recording_fraction": "a quarter"}, "tp_recording_fraction must be a finite"),
        ({"fp_only_recording_fraction": -0.1}, "fp_only_recording_fraction"),
        (
            {"tp_recording_fraction": 0.5, "fp_only_recording_fraction": 0.6},
            "tp_recording_fraction \\+ fp_only_recording_fraction must not exceed 1",
        ),
    ],
)
def test_bad_share_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate(tmp_path, **{"n_train": 2, "n_test": 1, "clip_seconds": 4.0, **kwargs})
    assert not list(tmp_path.iterdir())


@pytest.mark.workflow
def test_make_synthetic_params_hold_the_share_settings_only_when_set(tmp_path):
    """A data set generated before the share settings existed is not generated again: at their
    default (null) the rule's params are the eight values it had before; set, they enter."""
    from .workflow_runs import snakemake_command

    micro = yaml.safe_load((Path(__file__).parent / "data" / "micro.yaml").read_text())
    defaults = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())
    generator = {**defaults["data"]["synthetic"], **micro["data"]["synthetic"]}
    assert generator["tp_recording_fraction"] is None  # the test is about the default
    before = [generator[key] for key in ("n_train", "n_test", "seed", "tp_fraction")]
    before += [generator["fp_fraction"], generator["fp_per_recording"]]
    before += [micro.get("n_species", defaults["n_species"]), micro["clip_seconds"]]
    target = "data/synthetic/train_tp.csv"
    done = subprocess.run(
        snakemake_command(tmp_path, target), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    record = tmp_path / ".snakemake" / "metadata" / b64encode(target.encode()).decode()
    params = json.loads(record.read_text())["params"]
    assert params == sorted(map(str, before))
    share = tmp_path / "share.yaml"
    share.write_text("data:\n  synthetic:\n    tp_recording_fraction: 0.3\n")
    dry = subprocess.run(
        snakemake_command(tmp_path, "-n", target, configs=(share,)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Params have changed" in dry.stdout + dry.stderr
    again = subprocess.run(
        snakemake_command(tmp_path, "-n", target), capture_output=True, text=True, check=False
    )
    assert "Nothing to be done" in again.stdout + again.stderr
