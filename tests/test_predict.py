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
