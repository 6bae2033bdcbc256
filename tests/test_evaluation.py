"""Tests of sedcycle.evaluation and the scores steps: pseudo-label quality against truth, prior
scaling, scores.csv with and without truth."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sedcycle import evaluation
from sedcycle.labels import ANNOTATION_COLUMNS
from sedcycle.settings import TrainSettings
from sedcycle.steps.scoring import collect_scores, pseudo_crop_targets

N_FRAMES, CLIP_SECONDS, WINDOW = 100, 10.0, 40  # 10 frames a second; windows at 0, 30, 60
COVER = 10  # the grid of those windows (window_positions(100, 40, 10))


def windows_of(*recordings):
    return pd.DataFrame(
        [(rec, start) for rec in recordings for start in (0, 30, 60)],
        columns=["recording_id", "start"],
    )


def calls(*rows):
    """(recording_id, species_id, t_min, t_max) rows as a truth / tp table."""
    return pd.DataFrame(rows, columns=["recording_id", "species_id", "t_min", "t_max"])


def pseudo(*rows):
    """(recording_id, species_id, start) rows as a pseudo/round{r}.parquet table."""
    table = pd.DataFrame(rows, columns=["recording_id", "species_id", "start"])
    return table.assign(end=table["start"] + WINDOW, votes=3)


def test_truth_windows_mark_every_window_a_call_overlaps():
    # frames 35..45: windows [0, 40) and [30, 70); frames 75..76: [60, 100) only
    table = evaluation.truth_windows(
        calls(("a", 1, 3.5, 4.5), ("a", 2, 7.5, 7.6)), windows_of("a"), WINDOW, N_FRAMES, 10.0
    )
    found = sorted(map(tuple, table.to_numpy().tolist()))
    assert found == [("a", 0, 1), ("a", 30, 1), ("a", 60, 2)]


def test_pseudo_quality_counts_precision_recall_and_new():
    truth = calls(("a", 0, 0.5, 1.0), ("a", 1, 7.0, 8.0), ("b", 0, 5.0, 5.5))
    tp = calls(("a", 0, 0.5, 1.0))  # the species-0 call of a is already labelled
    found = pseudo(("a", 0, 0), ("a", 1, 60), ("b", 1, 30), ("a", 0, 0))  # one duplicate
    quality = evaluation.pseudo_quality(
        found, windows_of("a", "b"), tp, WINDOW, N_FRAMES, CLIP_SECONDS, truth
    )
    # truth windows: (a,0,0), (a,60,1), (b,30,0); found: (a,0,0) right, (a,60,1) right, (b,30,1)
    assert {k: quality[k] for k in ("count", "new", "precision", "recall")} == {
        "count": 3,
        "new": 2,
        "precision": 2 / 3,
        "recall": 2 / 3,
    }
    assert quality["negatives"] == 0 and math.isnan(quality["negative_error"])


def test_pseudo_quality_scores_negatives_apart_from_positives():
    truth = calls(("a", 0, 0.5, 1.0), ("a", 1, 7.0, 8.0))
    found = pd.concat(
        [
            pseudo(("a", 0, 0)).assign(label=1),
            # (a,60,1) truly calls: a wrong negative; (a,0,1) and (a,30,0) are right
            pseudo(("a", 1, 60), ("a", 1, 0), ("a", 0, 30)).assign(label=-1),
        ]
    )
    quality = evaluation.pseudo_quality(
        found, windows_of("a"), calls(), WINDOW, N_FRAMES, CLIP_SECONDS, truth
    )
    assert quality["count"] == 1 and quality["precision"] == 1.0 and quality["recall"] == 0.5
    assert quality["negatives"] == 3 and quality["negative_error"] == pytest.approx(1 / 3)


def test_pseudo_quality_without_truth_gives_counts_only():
    quality = evaluation.pseudo_quality(
        pseudo(("a", 0, 0)), windows_of("a"), calls(), WINDOW, N_FRAMES, CLIP_SECONDS
    )
    assert quality["count"] == 1 and quality["new"] == 1
    assert math.isnan(quality["precision"]) and math.isnan(quality["recall"])


def test_no_pseudo_label_has_nan_precision_and_zero_recall():
    quality = evaluation.pseudo_quality(
        pseudo(), windows_of("a"), calls(), WINDOW, N_FRAMES, CLIP_SECONDS, calls(("a", 0, 1, 2))
    )
    assert quality["count"] == 0 and math.isnan(quality["precision"]) and quality["recall"] == 0


def test_prior_scaling_keeps_ranks_within_a_class_and_scores_in_range():
    rng = np.random.default_rng(0)
    scores = pd.DataFrame(rng.random((20, 4)), columns=["s0", "s1", "s2", "s3"])
    scores["s3"] *= 0.1  # a class the model under-scores
    scaled = evaluation.prior_scale(scores, np.array([0.2, 0.2, 0.2, 0.2]))
    assert ((scaled >= 0) & (scaled <= 1)).all().all()
    for column in scores:
        assert (scaled[column].rank() == scores[column].rank()).all()
    # equal priors: every class ends with the same mean score
    np.testing.assert_allclose(scaled.mean(), scaled.mean().iloc[0], rtol=1e-9)
    with pytest.raises(ValueError, match="4 positive"):
        evaluation.prior_scale(scores, np.array([0.2, 0.0, 0.2, 0.2]))


def test_label_prior_is_smoothed_share_of_recordings():
    tp = calls(("a", 0, 0, 1), ("a", 0, 2, 3), ("b", 0, 0, 1), ("c", 1, 0, 1), ("z", 2, 0, 1))
    prior = evaluation.label_prior(tp, ["a", "b", "c"], 3)
    np.testing.assert_allclose(prior, [3 / 5, 2 / 5, 1 / 5])  # z is not a training recording


def test_score_table_leaves_what_was_not_measured_empty():
    table = evaluation.score_table(
        {
            "stage1": {"oof_tp": {"lwlrap": 0.5, "precision": 0.1, "recall": 0.2}},
            "round1": {
                "oof_tp": {"lwlrap": 0.6},
                "pseudo": {"count": 4, "new": 1, "precision": None, "recall": None},
            },
        }
    )
    assert table.columns.tolist() == evaluation.SCORE_COLUMNS
    assert table["stage"].tolist() == ["stage1", "round1"]
    assert table["oof_tp_lwlrap"].tolist() == [0.5, 0.6]
    assert table["test_lwlrap"].isna().all() and table["pseudo_precision"].isna().all()
    assert np.isnan(table.loc[0, "pseudo_count"]) and table.loc[1, "pseudo_count"] == 4


def round_settings(pseudo_targets="windows", **overrides):
    """A round's training settings (the train_round rule's params) that crop every grid window
    of every training recording once an epoch (grid crops), so each pseudo window is trained on
    exactly ``epochs`` times a fold it trains in."""
    base = dict(
        backbone="mobilenetv3_small_050",
        pretrained=False,
        pretrained_path=None,
        amp="none",
        channels_last=False,
        device="cpu",
        n_species=2,
        window=WINDOW,
        loss="masked",
        epochs=1,
        batch_size=4,
        lr=1e-3,
        fp_fraction=0.5,
        seed=0,
        crops="grid",
        cover=COVER,
        pseudo_targets=pseudo_targets,
    )
    return {**base, **overrides}


def replay_inputs(tmp_path, folds):
    """folds.csv ({recording_id: fold}) and an empty train_fp.csv, as paths."""
    folds_csv, fp_csv = tmp_path / "folds.csv", tmp_path / "fp.csv"
    pd.DataFrame(list(folds.items()), columns=["recording_id", "fold"]).to_csv(
        folds_csv, index=False
    )
    pd.DataFrame(columns=ANNOTATION_COLUMNS).to_csv(fp_csv, index=False)
    return str(folds_csv), str(fp_csv)


def write_stage(tmp_path, name, oof_tp=0.5, test=None):
    path = tmp_path / f"{name}.json"
    scores = {"oof_tp": {"lwlrap": oof_tp, "precision": 0.5, "recall": 0.5}}
    if test is not None:
        scores["test"] = {"lwlrap": test, "precision": 0.5, "recall": 0.5}
    path.write_text(json.dumps(scores))
    return str(path)


def features_manifest(tmp_path):
    folder = tmp_path / "features"
    folder.mkdir()
    pd.DataFrame({"recording_id": ["a", "b"], "n_mels": 8, "n_frames": N_FRAMES}).to_csv(
        folder / "manifest.csv", index=False
    )
    return str(folder)


def test_collect_scores_writes_csv_with_pseudo_quality(tmp_path):
    tp_csv = tmp_path / "tp.csv"
    pd.DataFrame(
        [("a", 0, 1, 0.5, 100, 1.0, 200)],
        columns=["recording_id", "species_id", "songtype_id", "t_min", "f_min", "t_max", "f_max"],
    ).to_csv(tp_csv, index=False)
    truth_csv = tmp_path / "train_truth.csv"
    calls(("a", 0, 0.5, 1.0), ("b", 1, 7.0, 8.0)).to_csv(truth_csv, index=False)
    windows = windows_of("a", "b").assign(window=0, s0=0.0, s1=0.0)
    windows.to_parquet(tmp_path / "windows.parquet")
    pseudo(("b", 1, 60), ("b", 0, 0)).to_parquet(tmp_path / "round1.parquet")
    out_json, out_csv = tmp_path / "scores.json", tmp_path / "scores.csv"
    folds_csv, fp_csv = replay_inputs(tmp_path, {"a": 0, "b": 1})
    collect_scores(
        {"stage1": write_stage(tmp_path, "stage1"), "round1": write_stage(tmp_path, "round1")},
        str(out_json),
        n_species=2,
        csv_out=str(out_csv),
        pseudo={"round1": str(tmp_path / "round1.parquet")},
        pseudo_windows={"round1": str(tmp_path / "windows.parquet")},
        tp_csv=str(tp_csv),
        train_truth=str(truth_csv),
        features_dir=features_manifest(tmp_path),
        window=WINDOW,
        clip_seconds=CLIP_SECONDS,
        round_settings={"round1": round_settings(epochs=3)},
        folds_csv=folds_csv,
        fp_csv=fp_csv,
    )
    table = pd.read_csv(out_csv)
    assert table["stage"].tolist() == ["stage1", "round1"]
    row = table.set_index("stage").loc["round1"]
    assert (row["pseudo_count"], row["pseudo_new"]) == (2, 2)
    assert row["pseudo_precision"] == 0.5 and row["pseudo_recall"] == 0.5
    # fold 0 trains on b's windows, 3 epochs: (b,0,0) wrong, (b,60,1) right, 3 times each
    assert (row["pseudo_crop_targets"], row["pseudo_crop_precision"]) == (6, 0.5)
    assert table.set_index("stage")["pseudo_crop_targets"].isna().tolist() == [True, False]
    assert table["test_lwlrap"].isna().all()  # no test truth given
    assert json.loads(out_json.read_text())["round1"]["pseudo"]["count"] == 2


@pytest.mark.parametrize("labelled", ["sparse", "fully"])
def test_collect_scores_says_when_the_rounds_had_nothing_to_relabel(tmp_path, capsys, labelled):
    """The log ends with a warning where tp/fp label every window of every species of the train
    recordings (the features' manifest): the rounds then only trained again; with a window of
    unlabelled time left (one species' tp alone in a) it says nothing."""
    columns = ["recording_id", "species_id", "songtype_id", "t_min", "f_min", "t_max", "f_max"]
    tp = pd.DataFrame([("a", 0, 1, 0.5, 100, 1.0, 200)], columns=columns)
    fp = pd.DataFrame(columns=columns)
    if labelled == "fully":
        fp = pd.DataFrame(
            [(r, s, 1, 0.0, 100, CLIP_SECONDS, 200) for r in "ab" for s in range(2)],
            columns=columns,
        )
    tp.to_csv(tmp_path / "tp.csv", index=False)
    fp.to_csv(tmp_path / "fp.csv", index=False)
    collect_scores(
        {"stage1": write_stage(tmp_path, "stage1"), "round1": write_stage(tmp_path, "round1")},
        str(tmp_path / "scores.json"),
        n_species=2,
        tp_csv=str(tmp_path / "tp.csv"),
        fp_csv=str(tmp_path / "fp.csv"),
        features_dir=features_manifest(tmp_path),
        window=WINDOW,
        clip_seconds=CLIP_SECONDS,
    )
    err = capsys.readouterr().err
    warned = "round1 had nothing to relabel: their scores differ from stage 1's by training alone"
    assert (warned in err) == (labelled == "fully")


def test_collect_scores_without_train_truth_writes_null_quality(tmp_path):
    tp_csv = tmp_path / "tp.csv"
    tp_csv.write_text("recording_id,species_id,songtype_id,t_min,f_min,t_max,f_max\n")
    windows_of("a").assign(window=0, s0=0.0).to_parquet(tmp_path / "windows.parquet")
    pseudo(("a", 0, 0)).to_parquet(tmp_path / "round1.parquet")
    out_json, out_csv = tmp_path / "scores.json", tmp_path / "scores.csv"
    folds_csv, fp_csv = replay_inputs(tmp_path, {"a": 0, "c": 1})
    collect_scores(
        {"stage1": write_stage(tmp_path, "stage1"), "round1": write_stage(tmp_path, "round1")},
        str(out_json),
        n_species=1,
        csv_out=str(out_csv),
        pseudo={"round1": str(tmp_path / "round1.parquet")},
        pseudo_windows={"round1": str(tmp_path / "windows.parquet")},
        tp_csv=str(tp_csv),
        features_dir=features_manifest(tmp_path),
        window=WINDOW,
        clip_seconds=CLIP_SECONDS,
        round_settings={"round1": round_settings(n_species=1)},
        folds_csv=folds_csv,
        fp_csv=fp_csv,
    )
    quality = json.loads(out_json.read_text())["round1"]["pseudo"]  # strict JSON: no NaN
    assert quality == {
        "count": 1,
        "new": 1,
        "precision": None,
        "recall": None,
        "negatives": 0,
        "negative_error": None,
        "crop_targets": 1,  # fold 1 trains on a: its window at 0, one epoch
        "crop_precision": None,
    }
    assert pd.read_csv(out_csv)["pseudo_precision"].isna().all()


def test_truth_file_with_bad_species_names_the_file(tmp_path):
    truth_csv = tmp_path / "test_truth.csv"
    calls(("a", 0, 0, 1), ("a", 5, 0, 1)).to_csv(truth_csv, index=False)
    with pytest.raises(ValueError, match=r"test_truth.csv: line\(s\) \[3\]: species_id outside"):
        evaluation.read_truth(str(truth_csv), ["a"], 2)
    calls(("a", 0, 0, 1)).drop(columns="species_id").to_csv(truth_csv, index=False)
    with pytest.raises(ValueError, match="test_truth.csv: missing column"):
        evaluation.read_truth(str(truth_csv), ["a"], 2)
    truth_csv.write_text("recording_id,species_id\na,1\na,x\na,0.5\n")  # text, not whole
    with pytest.raises(ValueError, match=r"line\(s\) \[3, 4\]: species_id outside 0..1"):
        evaluation.read_truth(str(truth_csv), ["a"], 2)


def test_random_baseline_is_chance_level_and_seeded():
    """One true species of 4 a clip: a random ranking puts it at rank 1..4 alike, so the mean
    LWLRAP of random scores is (1 + 1/2 + 1/3 + 1/4) / 4."""
    n_species, rng = 4, np.random.default_rng(1)
    truth = np.eye(n_species, dtype=bool)[rng.integers(0, n_species, 60)]
    mean, std = evaluation.random_lwlrap(truth)
    chance = sum(1 / rank for rank in range(1, n_species + 1)) / n_species
    assert mean == pytest.approx(chance, abs=0.02)
    assert 0 < std < 0.1
    assert evaluation.random_lwlrap(truth) == (mean, std)  # seeded
    assert evaluation.random_lwlrap(truth, seed=1) != (mean, std)
    # Clips without a true species are left out, as evaluate leaves them out.
    padded = np.vstack([truth, np.zeros((20, n_species), dtype=bool)])
    assert evaluation.random_lwlrap(padded) == (mean, std)
    assert all(math.isnan(v) for v in evaluation.random_lwlrap(truth[:0]))


def test_collect_scores_flags_stages_no_better_than_random(tmp_path, capsys):
    n_species, ids = 4, [f"c{i:02d}" for i in range(40)]
    species = np.random.default_rng(2).integers(0, n_species, len(ids))
    truth_csv = tmp_path / "test_truth.csv"
    calls(*[(rec, int(s), 0.0, 1.0) for rec, s in zip(ids, species, strict=True)]).to_csv(
        truth_csv, index=False
    )
    ensemble = pd.DataFrame(np.eye(n_species)[species], columns=[f"s{i}" for i in range(4)])
    ensemble.insert(0, "recording_id", ids)  # perfect scores
    ensemble.to_parquet(tmp_path / "ensemble.parquet")
    tp_csv = tmp_path / "tp.csv"
    tp_csv.write_text("recording_id,species_id,songtype_id,t_min,f_min,t_max,f_max\n")
    out_json, out_csv = tmp_path / "scores.json", tmp_path / "scores.csv"
    mean, std = evaluation.random_lwlrap(evaluation.read_truth(str(truth_csv), ids, n_species))
    stages = {
        "stage1": write_stage(tmp_path, "stage1", test=mean + 0.5 * std),
        "round1": write_stage(tmp_path, "round1", test=mean + 2 * std),
        "round2": write_stage(tmp_path, "round2", test=mean - std),
    }
    collect_scores(
        stages,
        str(out_json),
        n_species=n_species,
        ensemble_test=str(tmp_path / "ensemble.parquet"),
        test_truth=str(truth_csv),
        csv_out=str(out_csv),
        tp_csv=str(tp_csv),
    )
    table = pd.read_csv(out_csv).set_index("stage")
    assert table.index.tolist() == ["stage1", "round1", "round2", "ensemble"]
    assert table["test_within_random"].tolist() == [True, False, True, False]
    # round2 (mean - std) is below stage 1 (mean + 0.5 std) by 1.5 std; round1 is above it
    assert table["test_below_stage1"].fillna("").astype(str).tolist() == ["", "False", "True", ""]
    assert table["random_lwlrap_mean"].to_numpy() == pytest.approx(mean, rel=1e-5)
    assert table["random_lwlrap_std"].to_numpy() == pytest.approx(std, rel=1e-5)
    assert table.loc["ensemble", "test_lwlrap"] == 1.0
    assert json.loads(out_json.read_text())["round2"]["test"]["within_random"] is True
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("WARNING")]
    assert warnings[0].startswith("WARNING: test LWLRAP of stage1, round2 is within random scores'")
    # round2 (mean - std) is below stage 1 (mean + 0.5 std) by 1.5 std; round1 is above it
    assert warnings[1].startswith(
        f"WARNING: test LWLRAP of round2 is below stage 1's ({mean + 0.5 * std:.4f}) by more "
        f"than random scores' std ({std:.4f}): on this test set the rounds lowered the score"
    )
    assert len(warnings) == 2


def test_collect_scores_scores_the_ensemble_prior_scaled_too(tmp_path):
    """The ensemble row's test_lwlrap_prior: its scores scaled to the species' shares of the
    train recordings (folds.csv) with a tp row, as the ensemble rule submits them."""
    ids = [f"c{i:02d}" for i in range(12)]  # species 0 in c00-c09, species 1 in c10, c11
    truth_csv = tmp_path / "test_truth.csv"
    calls(*[(rec, int(i >= 10), 0.0, 1.0) for i, rec in enumerate(ids)]).to_csv(
        truth_csv, index=False
    )
    # the model scores species 1 above species 0 everywhere: raw LWLRAP (10 * 1/2 + 2) / 12
    ensemble = pd.DataFrame({"recording_id": ids, "s0": 0.3, "s1": 0.6})
    ensemble.to_parquet(tmp_path / "ensemble.parquet")
    # species 0 in 8 of the 10 train recordings with a tp row, species 1 in 1
    train = [f"t{i}" for i in range(10)]
    tp_csv = tmp_path / "tp.csv"
    pd.DataFrame(
        [(rec, 0, 1, 0.5, 100, 1.0, 200) for rec in train[:8]]
        + [(train[8], 1, 1, 0.5, 100, 1.0, 200)],
        columns=ANNOTATION_COLUMNS,
    ).to_csv(tp_csv, index=False)
    folds_csv = tmp_path / "folds.csv"
    pd.DataFrame({"recording_id": train, "fold": [i % 2 for i in range(10)]}).to_csv(
        folds_csv, index=False
    )
    out_csv = tmp_path / "scores.csv"

    def ensemble_row(folds: str | None) -> pd.Series:
        collect_scores(
            {"stage1": write_stage(tmp_path, "stage1", test=0.5)},
            str(tmp_path / "scores.json"),
            n_species=2,
            ensemble_test=str(tmp_path / "ensemble.parquet"),
            test_truth=str(truth_csv),
            csv_out=str(out_csv),
            tp_csv=str(tp_csv),
            folds_csv=folds,
        )
        return pd.read_csv(out_csv).set_index("stage").loc["ensemble"]

    row = ensemble_row(str(folds_csv))
    assert row["test_lwlrap"] == pytest.approx(7 / 12)
    # scaled, species 0 ranks first everywhere: (10 + 2 * 1/2) / 12
    assert row["test_lwlrap_prior"] == pytest.approx(11 / 12)
    # without folds.csv the train recordings are unknown: not measured
    assert pd.isna(ensemble_row(None)["test_lwlrap_prior"])


def test_rounds_below_stage1_by_more_than_a_std_are_marked():
    def scores(*values):
        names = ["stage1", *(f"round{i}" for i in range(1, len(values)))]
        return {n: {"test": {"lwlrap": v}} for n, v in zip(names, values, strict=True)}

    marked = scores(0.6, 0.59, 0.55, 0.58)
    assert evaluation.flag_below_stage1(marked, 0.02) == ["round2"]
    # every round gets the mark, True or False; stage 1 none
    assert [marked[f"round{i}"]["test"]["below_stage1"] for i in (1, 2, 3)] == [False, True, False]
    assert "below_stage1" not in marked["stage1"]["test"]
    assert evaluation.flag_below_stage1(scores(0.6, 0.58, 0.61), 0.02) == []  # 0.02: within
    unmarked = scores(0.6, 0.5)
    assert evaluation.flag_below_stage1(unmarked, math.nan) == []
    assert "below_stage1" not in unmarked["round1"]["test"]
    assert evaluation.flag_below_stage1({"round1": {"test": {"lwlrap": 0.1}}}, 0.02) == []
    no_test = scores(0.6, 0.5) | {"round2": {"oof_tp": {"lwlrap": 0.1}}}
    assert evaluation.flag_below_stage1(no_test, 0.02) == ["round1"]
    assert "test" not in no_test["round2"]


def test_collect_scores_without_test_truth_has_no_random_baseline(tmp_path, capsys):
    out_csv = tmp_path / "scores.csv"
    collect_scores(
        {"stage1": write_stage(tmp_path, "stage1")},
        str(tmp_path / "scores.json"),
        n_species=2,
        csv_out=str(out_csv),
    )
    table = pd.read_csv(out_csv)
    unmeasured = ["test_within_random", "random_lwlrap_mean", "test_below_stage1"]
    assert table[unmeasured].isna().all().all()
    assert "WARNING" not in capsys.readouterr().err


def test_collect_scores_needs_what_the_crop_replay_reads(tmp_path):
    tp_csv = tmp_path / "tp.csv"
    tp_csv.write_text("recording_id,species_id,songtype_id,t_min,f_min,t_max,f_max\n")
    windows_of("a").assign(window=0, s0=0.0).to_parquet(tmp_path / "windows.parquet")
    pseudo(("a", 0, 0)).to_parquet(tmp_path / "round1.parquet")
    with pytest.raises(ValueError, match="round1's crop-level pseudo-label precision needs"):
        collect_scores(
            {"round1": write_stage(tmp_path, "round1")},
            str(tmp_path / "scores.json"),
            n_species=1,
            pseudo={"round1": str(tmp_path / "round1.parquet")},
            pseudo_windows={"round1": str(tmp_path / "windows.parquet")},
            tp_csv=str(tp_csv),
            features_dir=features_manifest(tmp_path),
            window=WINDOW,
            clip_seconds=CLIP_SECONDS,
        )


def crop_quality(pseudo_targets, found, tp, truth, folds):
    """pseudo_crop_targets and their quality of one round (grid crops, 2 epochs)."""
    settings = TrainSettings(**round_settings(pseudo_targets, epochs=2))
    table = pd.DataFrame(list(folds.items()), columns=["recording_id", "fold"])
    tp_rows = tp.assign(songtype_id=1, f_min=0.0, f_max=1.0)[ANNOTATION_COLUMNS]
    targets = pseudo_crop_targets(
        settings, table, tp_rows, tp_rows.iloc[:0], found, N_FRAMES, CLIP_SECONDS
    )
    quality = evaluation.pseudo_crop_quality(targets, WINDOW, N_FRAMES, CLIP_SECONDS, truth)
    return targets, quality


def test_crop_replay_resolves_crops_auto_as_the_training_job():
    """A round with relabel.crops auto is replayed on the crops it resolved to from the tables'
    row counts: without fp rows the grid's (the same targets as crops grid), with fp rows the
    event crops (the same as crops events)."""
    tp = calls(("a", 0, 0.5, 1.0), ("b", 0, 2.0, 2.5))
    found = pseudo(("a", 0, 30), ("b", 1, 0), ("b", 0, 60))
    table = pd.DataFrame({"recording_id": ["a", "b"], "fold": [0, 1]})
    tp_rows = tp.assign(songtype_id=1, f_min=0.0, f_max=1.0)[ANNOTATION_COLUMNS]
    fp_rows = tp_rows.assign(species_id=1)

    def replay(crops, fp):
        settings = TrainSettings(**round_settings(crops=crops, epochs=2, labelled_crop_prob=0.5))
        return pseudo_crop_targets(settings, table, tp_rows, fp, found, N_FRAMES, CLIP_SECONDS)

    no_fp = fp_rows.iloc[:0]
    pd.testing.assert_frame_equal(replay("auto", no_fp), replay("grid", no_fp))
    pd.testing.assert_frame_equal(replay("auto", fp_rows), replay("events", fp_rows))
    assert not replay("grid", no_fp).equals(replay("events", no_fp))


def test_window_targets_make_crop_precision_the_window_precision():
    """Pseudo-positives (a,30,0) right, (b,0,1) wrong, (b,60,0) right: with "windows" each
    trains as its own window alone, so crop precision is window precision; with "frames" the
    windows overlapping them by 10 frames are positive too."""
    truth = calls(("a", 0, 4.0, 5.0), ("a", 0, 0.5, 1.0), ("b", 0, 8.0, 9.0))  # frames 40..50
    tp = calls(("a", 0, 0.5, 1.0))  # frames 5..10: window 0 of a
    found = pseudo(("a", 0, 30), ("b", 1, 0), ("b", 0, 60))
    folds = {"a": 0, "b": 1}  # each recording trains in the other fold's model
    window_quality = evaluation.pseudo_quality(
        found, windows_of("a", "b"), tp, WINDOW, N_FRAMES, CLIP_SECONDS, truth
    )
    targets, quality = crop_quality("windows", found, tp, truth, folds)
    key = ["recording_id", "start", "species_id"]
    # each once an epoch (2 epochs), in the one fold that trains on its recording
    assert sorted(map(tuple, targets[key].drop_duplicates().to_numpy().tolist())) == [
        ("a", 30, 0),
        ("b", 0, 1),
        ("b", 60, 0),
    ]
    assert quality == {"crop_targets": 6, "crop_precision": pytest.approx(2 / 3)}
    assert window_quality["precision"] == pytest.approx(2 / 3)

    frames_targets, frames_quality = crop_quality("frames", found, tp, truth, folds)
    partly = set(map(tuple, frames_targets[key].to_numpy().tolist())) - set(
        map(tuple, targets[key].to_numpy().tolist())
    )
    # a's window at 60 holds frames 60..69 of (a,30,0); b's window at 30 frames 30..39 of
    # (b,0,1) and 60..69 of (b,60,0): trained positive with frames, untouched with windows
    assert partly == {("a", 60, 0), ("b", 30, 1), ("b", 30, 0)}
    # of those, (a,60,0) holds no frame of a's call at 40..50 and (b,30,0) none of b's at 80..90
    assert frames_quality["crop_targets"] == 12
    assert frames_quality["crop_precision"] == pytest.approx(2 / 6)


def test_crop_quality_without_truth_or_targets():
    targets = pd.DataFrame({"recording_id": ["a"], "start": [0], "species_id": [0]})
    assert math.isnan(
        evaluation.pseudo_crop_quality(targets, WINDOW, N_FRAMES, CLIP_SECONDS)["crop_precision"]
    )
    empty = evaluation.pseudo_crop_quality(
        targets.iloc[:0], WINDOW, N_FRAMES, CLIP_SECONDS, calls(("a", 0, 1, 2))
    )
    assert empty["crop_targets"] == 0 and math.isnan(empty["crop_precision"])
