import re

import numpy as np
import pandas as pd
import pytest
import torch

from sedcycle.clips import ClipStore
from sedcycle.model import SEDModel
from sedcycle.predict import predict_windows
from sedcycle.pseudo import out_of_fold_scores, pseudo_negatives, pseudo_positives
from sedcycle.steps.training import pseudo_labels
from sedcycle.submission import make_submission, mean_scores
from sedcycle.tables import clip_scores
from sedcycle.windows import window_positions

IDS = [f"rec{i}" for i in range(6)]


def test_batched_prediction_equals_one_window_at_a_time(feature_dir):
    torch.manual_seed(0)
    model = SEDModel("mobilenetv3_small_050", n_species=3).eval()
    store = ClipStore(feature_dir, IDS)
    positions = window_positions(300, 128, 28)  # 3 windows, the last padded
    table = predict_windows(model, store, IDS, positions, batch_size=5, progress=False)
    assert len(table) == 6 * 3
    assert table.columns.tolist() == ["recording_id", "window", "start", "s0", "s1", "s2"]
    rec, start = "rec3", int(positions[-1, 0])
    with torch.inference_mode():
        x = torch.from_numpy(store.window(rec, start, 128))[None]
        expected = torch.sigmoid(model(x)["framewise"])[0, :, : 300 - start].amax(-1).numpy()
    row = table[(table.recording_id == rec) & (table.start == start)]
    np.testing.assert_allclose(row[["s0", "s1", "s2"]].to_numpy()[0], expected, atol=1e-5)


def window_table(scores):
    return pd.DataFrame(
        {
            "recording_id": ["a", "a", "b", "b"],
            "window": [0, 1, 0, 1],
            "start": [0, 100, 0, 100],
            "s0": scores[0],
            "s1": scores[1],
        }
    )


def test_clip_scores_take_the_max_over_windows():
    table = clip_scores(window_table([[0.1, 0.9, 0.3, 0.2], [0.0, 0.1, 0.7, 0.8]]))
    assert table.index.tolist() == ["a", "b"]
    assert table.to_numpy().tolist() == [[0.9, 0.1], [0.3, 0.8]]


def test_pseudo_positives_need_enough_votes():
    tables = [
        window_table([[0.6, 0.1, 0.1, 0.1], [0.1, 0.1, 0.9, 0.1]]),
        window_table([[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.2, 0.1]]),
        window_table([[0.2, 0.1, 0.1, 0.1], [0.1, 0.1, 0.5, 0.1]]),
    ]
    pseudo = pseudo_positives(tables, window=100, threshold=0.5, min_votes=2)
    assert pseudo.to_dict("records") == [
        {"recording_id": "a", "species_id": 0, "start": 0, "end": 100, "votes": 2, "label": 1},
        {"recording_id": "b", "species_id": 1, "start": 0, "end": 100, "votes": 2, "label": 1},
    ]
    assert len(pseudo_positives(tables, 100, 0.5, 3)) == 0
    with pytest.raises(ValueError, match="min_votes"):
        pseudo_positives(tables, 100, 0.5, 4)


def test_pseudo_negatives_need_every_model_below_threshold():
    tables = [
        window_table([[0.6, 0.01, 0.1, 0.02], [0.1, 0.1, 0.9, 0.1]]),
        window_table([[0.7, 0.03, 0.1, 0.01], [0.1, 0.1, 0.2, 0.1]]),
    ]
    negatives = pseudo_negatives(tables, window=100, threshold=0.05)
    assert negatives[["recording_id", "species_id", "votes", "label"]].to_dict("records") == [
        {"recording_id": "a", "species_id": 0, "votes": 2, "label": -1},
        {"recording_id": "b", "species_id": 0, "votes": 2, "label": -1},
    ]
    assert negatives["start"].tolist() == [100, 100] and negatives["end"].tolist() == [200, 200]


def test_pseudo_labels_writes_negatives_only_when_asked(tmp_path):
    paths = []
    for i, scores in enumerate(
        ([[0.9, 0.01, 0.1, 0.02], [0.1, 0.1, 0.9, 0.1]], [[0.8, 0.03, 0.1, 0.01], [0.1] * 4])
    ):
        paths.append(tmp_path / f"fold{i}.parquet")
        window_table(scores).to_parquet(paths[-1])
    out = tmp_path / "pseudo.parquet"
    pseudo_labels([str(p) for p in paths], str(out), 100, 0.5, 2)
    assert pd.read_parquet(out)["label"].tolist() == [1]
    pseudo_labels([str(p) for p in paths], str(out), 100, 0.5, 2, negative_threshold=0.05)
    assert sorted(pd.read_parquet(out)["label"].tolist()) == [-1, -1, 1]
    with pytest.raises(ValueError, match="pseudo_negative_threshold"):
        pseudo_labels([str(p) for p in paths], str(out), 100, 0.5, 2, negative_threshold=0.5)


def test_submission_follows_sample_order(tmp_path):
    sample = tmp_path / "sample_submission.csv"
    pd.DataFrame({"recording_id": ["b", "a"], "s0": 0, "s1": 0}).to_csv(sample, index=False)
    one = pd.DataFrame(
        {"s0": [0.2, 0.4], "s1": [0.0, 1.0]}, index=pd.Index(["a", "b"], name="recording_id")
    )
    two = one.loc[["b", "a"]] * 0.5
    scores = mean_scores([one, two])
    submission = make_submission(scores, sample)
    assert submission["recording_id"].tolist() == ["b", "a"]
    np.testing.assert_allclose(submission[["s0", "s1"]].to_numpy(), [[0.3, 0.75], [0.15, 0.0]])
    with pytest.raises(ValueError, match="no prediction"):
        make_submission(scores.loc[["a"]], sample)


def test_out_of_fold_pseudo_labels_take_each_recording_from_its_own_fold_model(tmp_path):
    # model 0 never trained on "a" (fold 0), model 1 never on "b" (fold 1)
    tables = [
        window_table([[0.9, 0.9, 0.1, 0.1], [0.1, 0.1, 0.9, 0.9]]),
        window_table([[0.1, 0.1, 0.95, 0.95], [0.9, 0.9, 0.1, 0.1]]),
    ]
    oof = out_of_fold_scores(tables, pd.Series({"a": 0, "b": 1}))
    assert oof["s0"].tolist() == [0.9, 0.9, 0.95, 0.95]
    assert oof["s1"].tolist() == [0.1, 0.1, 0.1, 0.1]
    with pytest.raises(ValueError, match="without a fold"):
        out_of_fold_scores(tables, pd.Series({"a": 0}))
    paths = []
    for i, table in enumerate(tables):
        paths.append(str(tmp_path / f"fold{i}.parquet"))
        table.to_parquet(paths[-1])
    folds = tmp_path / "folds.csv"
    pd.DataFrame({"recording_id": ["a", "b"], "fold": [0, 1]}).to_csv(folds, index=False)
    out = tmp_path / "pseudo.parquet"
    # pooled votes: 2 of 2 models agree nowhere; out of fold: species 0 in every window
    pseudo_labels(paths, str(out), 100, 0.5, 2)
    assert len(pd.read_parquet(out)) == 0
    pseudo_labels(paths, str(out), 100, 0.5, 2, out_of_fold=True, folds_csv=str(folds))
    pseudo = pd.read_parquet(out)
    assert pseudo[["recording_id", "species_id", "start"]].values.tolist() == [
        ["a", 0, 0],
        ["a", 0, 100],
        ["b", 0, 0],
        ["b", 0, 100],
    ]
    assert (pseudo["votes"] == 1).all()


def test_per_species_thresholds_apply_to_their_own_columns():
    tables = [window_table([[0.6, 0.1, 0.3, 0.1], [0.1, 0.1, 0.35, 0.1]])]
    pseudo = pseudo_positives(tables, 100, np.array([0.5, 0.3]), 1)
    assert list(zip(pseudo["recording_id"], pseudo["species_id"], strict=True)) == [
        ("a", 0),
        ("b", 1),
    ]
    with pytest.raises(ValueError, match="3 thresholds for 2 species"):
        pseudo_positives(tables, 100, np.array([0.5, 0.3, 0.1]), 1)


def calibration_run(tmp_path):
    """20 recordings of 4 windows (100 frames, 1 s each). Species 0: window 0 holds a tp row
    on r0..r9 (scores 0.30..0.48) and an fp row on r10..r19 (0.05..0.14); its other windows,
    unlabelled, score 0.35. Species 1: no labels, 0.4 everywhere. Two folds, the same scores."""
    recs = [f"r{i}" for i in range(20)]
    s0 = []
    for i in range(20):
        first = 0.30 + 0.02 * i if i < 10 else 0.05 + 0.01 * (i - 10)
        s0 += [first, 0.35, 0.35, 0.35]
    table = pd.DataFrame(
        {
            "recording_id": np.repeat(recs, 4),
            "window": np.tile(range(4), 20),
            "start": np.tile([0, 100, 200, 300], 20),
            "s0": s0,
            "s1": 0.4,
        }
    )
    paths = []
    for fold in (0, 1):
        paths.append(str(tmp_path / f"fold{fold}.parquet"))
        table.to_parquet(paths[-1])
    folds = tmp_path / "folds.csv"
    pd.DataFrame({"recording_id": recs, "fold": [i % 2 for i in range(20)]}).to_csv(
        folds, index=False
    )
    features = tmp_path / "features"
    features.mkdir()
    pd.DataFrame({"recording_id": recs, "n_frames": 400}).to_csv(
        features / "manifest.csv", index=False
    )
    rows = {"species_id": 0, "songtype_id": 1, "t_min": 0.2, "f_min": 100.0, "t_max": 0.8}
    tp, fp = tmp_path / "tp.csv", tmp_path / "fp.csv"
    pd.DataFrame({"recording_id": recs[:10], **rows, "f_max": 9000.0}).to_csv(tp, index=False)
    pd.DataFrame({"recording_id": recs[10:], **rows, "f_max": 9000.0}).to_csv(fp, index=False)
    calibration = {"tp": str(tp), "fp": str(fp), "features": str(features), "clip_seconds": 4.0}
    return paths, str(folds), calibration


def test_calibrated_thresholds_label_windows_by_tp_and_fp_rows_and_fit_each_species(tmp_path):
    from sedcycle.labels import read_annotations
    from sedcycle.pseudo import labelled_windows
    from sedcycle.review import thresholds

    paths, folds, calibration = calibration_run(tmp_path)
    scores = pd.read_parquet(paths[0])
    labelled = labelled_windows(
        scores,
        read_annotations(calibration["tp"], 2, 4.0),
        read_annotations(calibration["fp"], 2, 4.0),
        n_frames=400,
        window=100,
        clip_seconds=4.0,
    )
    # window 0 of each recording, species 0 alone: the unlabelled windows are left out
    assert len(labelled) == 20 and set(labelled["species_id"]) == {0}
    assert (labelled["verdict"] == "tp").sum() == 10
    table = thresholds(labelled, 2, 0.95, 0.5)
    # above every fp window, at most the unlabelled windows' 0.35
    assert 0.14 < table.loc[0, "start_threshold"] < 0.35 and table.loc[0, "method"] == "logistic"
    assert table.loc[1, "start_threshold"] == 0.5
    assert table.loc[1, "method"] == "default: too_few_verdicts"


def test_pseudo_labels_at_a_target_precision_take_each_species_own_threshold(tmp_path, capsys):
    paths, folds, calibration = calibration_run(tmp_path)
    out = tmp_path / "pseudo.parquet"
    pseudo_labels(paths, str(out), 100, 0.5, 2, folds_csv=folds)
    assert len(pd.read_parquet(out)) == 0  # nothing reaches 0.5
    pseudo_labels(
        paths, str(out), 100, 0.5, 2, folds_csv=folds, target_precision=0.95, **calibration
    )
    pseudo = pd.read_parquet(out)
    log = capsys.readouterr().err
    threshold = float(re.search(r"\n +0 +([0-9.]+) +20 +10 +logistic", log)[1])
    # species 0 at its calibrated threshold: the 60 unlabelled windows at 0.35 and the tp
    # windows at or above it; species 1 keeps 0.5 (no labelled window): none
    tp_above = sum(0.30 + 0.02 * i >= threshold for i in range(10))
    assert (pseudo["species_id"] == 0).sum() == 60 + tp_above
    assert (pseudo["species_id"] == 1).sum() == 0
    assert "pseudo thresholds at precision 0.95 from 20 labelled windows" in log
    assert "default: too_few_verdicts" in log
    with pytest.raises(ValueError, match="needs the tp/fp tables"):
        pseudo_labels(paths, str(out), 100, 0.5, 2, folds_csv=folds, target_precision=0.95)
