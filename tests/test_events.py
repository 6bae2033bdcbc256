"""Events from framewise scores (hysteresis, gaps, durations, per-species thresholds) and
event-level precision/recall against truth events (sedcycle.events)."""

import math

import numpy as np
import pandas as pd
import pytest

from sedcycle import events
from sedcycle.events import clip_events, match_events, read_thresholds, score_events

CLIP = 10.0
N_FRAMES = 100  # 0.1 s a frame


def scores_with(*spans, n_species=1, species=0):
    """Framewise scores [n_species, N_FRAMES]: zeros, then ``value`` on frames [a, b)."""
    scores = np.zeros((n_species, N_FRAMES), dtype=np.float32)
    for a, b, value in spans:
        scores[species, a:b] = value
    return scores


def thresholds(start=0.5, stop=0.3, n_species=1):
    return events.default_thresholds(n_species, start, stop)


def spans_of(table):
    return [(round(b, 9), round(e, 9)) for b, e in zip(table["begin"], table["end"], strict=True)]


def test_a_dip_above_stop_keeps_one_event_and_frames_before_the_start_stay_out():
    # 0.4 (>= stop, < start) before the onset, in the dip, and after the last strong frame
    scores = scores_with((5, 10, 0.4), (10, 20, 0.9), (20, 25, 0.4), (25, 30, 0.8), (30, 33, 0.35))
    table = clip_events("r", scores, CLIP, thresholds())
    assert table.columns.tolist() == events.EVENT_COLUMNS
    assert spans_of(table) == [(1.0, 3.3)]
    assert table["max_score"].iloc[0] == pytest.approx(0.9)
    frames = scores[0, 10:33]
    assert table["mean_score"].iloc[0] == pytest.approx(frames.mean())
    assert table[["recording_id", "species_id"]].values.tolist() == [["r", 0]]


def test_a_dip_below_stop_splits_the_event():
    scores = scores_with((10, 20, 0.9), (20, 25, 0.1), (25, 30, 0.8))
    table = clip_events("r", scores, CLIP, thresholds())
    assert spans_of(table) == [(1.0, 2.0), (2.5, 3.0)]
    assert table["max_score"].tolist() == pytest.approx([0.9, 0.8])


def test_frames_between_stop_and_start_alone_make_no_event():
    assert clip_events("r", scores_with((10, 40, 0.45)), CLIP, thresholds()).empty


def test_events_closer_than_min_gap_merge():
    scores = scores_with((10, 20, 0.9), (25, 30, 0.8))  # gap 0.5 s
    merged = clip_events("r", scores, CLIP, thresholds(), min_gap=0.6)
    assert spans_of(merged) == [(1.0, 3.0)]
    assert merged["mean_score"].iloc[0] == pytest.approx(scores[0, 10:30].mean())
    # a gap of exactly min_gap is not shorter than it: two events
    assert spans_of(clip_events("r", scores, CLIP, thresholds(), min_gap=0.5)) == [
        (1.0, 2.0),
        (2.5, 3.0),
    ]


def test_events_shorter_than_min_duration_are_dropped_after_merging():
    scores = scores_with((10, 13, 0.9), (40, 42, 0.9), (43, 45, 0.9))  # 0.3 s; 0.2 + 0.2 s
    assert spans_of(clip_events("r", scores, CLIP, thresholds(), min_duration=0.3)) == [(1.0, 1.3)]
    kept = clip_events("r", scores, CLIP, thresholds(), min_duration=0.3, min_gap=0.2)
    assert spans_of(kept) == [(1.0, 1.3), (4.0, 4.5)]
    assert (
        clip_events("r", scores, CLIP, thresholds(), min_duration=0.35, min_gap=0.2).shape[0] == 1
    )


def test_begin_and_end_times_follow_the_frames_to_the_clip_end():
    scores = scores_with((0, 1, 0.7), (97, 100, 0.6))
    table = clip_events("r", scores, 7.5, thresholds())  # frame 0.075 s
    assert table["begin"].tolist() == [0.0, 97 * 0.075]
    assert table["end"].tolist() == [0.075, 7.5]


def test_per_species_thresholds_from_a_csv(tmp_path):
    path = tmp_path / "thresholds.csv"
    path.write_text("species_id,start_threshold,stop_threshold\n1,0.8,0.6\n2,0.2,\n")
    found = read_thresholds([path], 3, start=0.5, stop=0.3)
    assert found.start.tolist() == [0.5, 0.8, 0.2]
    assert found.stop.tolist() == pytest.approx([0.3, 0.6, 0.2])  # no stop: min(0.3, start)
    scores = np.zeros((3, N_FRAMES), dtype=np.float32)
    scores[:, 10:20] = 0.7  # every species at 0.7, then 0.25
    scores[:, 20:30] = 0.25
    table = clip_events("r", scores, CLIP, found)
    assert table["species_id"].tolist() == [0, 2]  # species 1 needs 0.8
    assert spans_of(table) == [(1.0, 2.0), (1.0, 3.0)]  # species 2 stops below 0.2
    # a later file overrides an earlier one for the species it names
    later = tmp_path / "later.csv"
    later.write_text("species_id,start_threshold\n1,0.6\n")
    both = read_thresholds([path, later], 3, start=0.5, stop=0.3)
    assert both.start.tolist() == [0.5, 0.6, 0.2] and both.stop.tolist()[1] == 0.3


@pytest.mark.parametrize(
    "text, message",
    [
        ("species_id,start_threshold\n0,0.5\n7,0.5\n", r"line\(s\) \[3\]: species_id outside"),
        ("species_id,start_threshold\n0,high\n", "line 2: start_threshold 'high' is not"),
        ("species_id,start_threshold\n0,1.5\n", r"line 2: start threshold 1.5 is not in"),
        ("species_id,start_threshold,stop_threshold\n0,0.4,0.6\n", "line 2: stop threshold 0.6"),
        ("species_id,start_threshold\n1,0.5\n1,0.6\n", r"line\(s\) \[3\]: species_id listed twice"),
        ("species,start_threshold\n0,0.5\n", r"missing column\(s\) \['species_id'\]"),
        ("species_id,start_threshold,extra\n0,0.5,1\n", r"unknown column\(s\) \['extra'\]"),
    ],
)
def test_bad_thresholds_are_refused_naming_file_and_line(tmp_path, text, message):
    path = tmp_path / "thresholds.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        read_thresholds([path], 3, start=0.5, stop=0.3)
    assert str(path) in str(error.value)


def test_default_stop_above_start_is_refused():
    with pytest.raises(ValueError, match="stop threshold 0.6 is not in"):
        events.default_thresholds(3, 0.5, 0.6)


def test_species_band_is_the_span_of_its_tp_rows_else_the_full_band():
    tp = pd.DataFrame(
        {"species_id": [0, 0, 2], "f_min": [500.0, 300.0, 1000.0], "f_max": [900.0, 800.0, 2e4]}
    )
    bands = events.species_bands(tp, 3, 32000)
    assert bands.tolist() == [[300.0, 900.0], [0.0, 16000.0], [1000.0, 2e4]]


def table(rows):
    return pd.DataFrame(rows, columns=["recording_id", "species_id", "begin", "end"])


def test_one_truth_event_matches_one_prediction_the_best_overlapping():
    truth = table([("a", 0, 1.0, 2.0)])
    pred = table([("a", 0, 1.1, 1.6), ("a", 0, 0.9, 2.0)])  # IoU 0.5 and 0.91
    assert match_events(pred, truth, "iou") == [(1, 0)]
    assert match_events(pred, truth, "onset") == [(1, 0)]
    scores = score_events(pred, truth, ["s0"]).set_index(["criterion", "species"])
    assert scores.loc[("iou", "all"), ["tp", "n_pred", "n_truth"]].tolist() == [1, 2, 1]
    assert scores.loc[("iou", "all"), "precision"] == 0.5


def test_matching_needs_the_same_recording_and_species_and_the_criterion():
    truth = table([("a", 0, 1.0, 3.0), ("a", 1, 5.0, 6.0)])
    pred = table(
        [
            ("b", 0, 1.0, 3.0),  # other recording
            ("a", 1, 1.0, 3.0),  # other species
            ("a", 1, 5.4, 5.6),  # onset within 0.5 s, IoU 0.2
        ]
    )
    assert match_events(pred, truth, "onset") == [(2, 1)]
    assert match_events(pred, truth, "iou") == []
    assert match_events(pred, truth, "onset", onset_tolerance=0.3) == []


def test_precision_recall_and_f1_on_a_hand_made_case():
    truth = table(
        [
            ("a", 0, 1.0, 2.0),
            ("a", 0, 5.0, 6.0),
            ("b", 1, 0.0, 4.0),
            ("b", 1, 6.0, 7.0),
        ]
    )
    pred = table(
        [
            ("a", 0, 1.2, 2.0),  # onset 0.2, IoU 0.8: matches both ways
            ("a", 0, 5.4, 8.0),  # onset 0.4, IoU 0.6 / 3.0 = 0.2: onset only
            ("b", 1, 2.0, 4.0),  # onset 2.0, IoU 0.5: iou only
            ("b", 1, 9.0, 9.5),  # nothing
            ("b", 0, 0.0, 4.0),  # species 0 has no truth in b
        ]
    )
    scores = score_events(pred, truth, ["s0", "s1", "s2"]).set_index(["criterion", "species"])
    assert scores.columns.tolist() == events.SCORE_COLUMNS[2:]
    onset, iou = scores.loc["onset"], scores.loc["iou"]
    assert onset.loc["all", ["n_truth", "n_pred", "tp"]].tolist() == [4, 5, 2]
    assert onset.loc["all", "precision"] == pytest.approx(2 / 5)
    assert onset.loc["all", "recall"] == pytest.approx(2 / 4)
    assert onset.loc["all", "f1"] == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert onset.loc["s0", ["n_truth", "n_pred", "tp"]].tolist() == [2, 3, 2]
    assert onset.loc["s1", ["n_truth", "n_pred", "tp"]].tolist() == [2, 2, 0]
    assert iou.loc["all", "tp"] == 2
    assert iou.loc["s0", "tp"] == 1 and iou.loc["s1", "tp"] == 1
    assert iou.loc["s1", "precision"] == 0.5 and iou.loc["s1", "recall"] == 0.5
    # a species neither predicted nor true: no ratio
    assert onset.loc["s2", "tp"] == 0 and math.isnan(onset.loc["s2", "precision"])
    assert math.isnan(onset.loc["s2", "f1"])
    # a species with truth but no prediction: recall and f1 0, precision undefined
    missed = score_events(pred.iloc[:0], truth, ["s0", "s1"]).set_index(["criterion", "species"])
    assert missed.loc[("onset", "s0"), "recall"] == 0 and missed.loc[("onset", "s0"), "f1"] == 0
    assert math.isnan(missed.loc[("onset", "s0"), "precision"])


def test_truth_events_are_read_and_checked(tmp_path):
    path = tmp_path / "test_truth.csv"
    path.write_text("recording_id,species_id,t_min,t_max,f_min,f_max\n007,1,1.5,2.0,100,200\n")
    truth = events.read_truth_events(path, 3)
    assert truth.values.tolist() == [["007", 1, 1.5, 2.0]]
    path.write_text("recording_id,species_id,t_min,t_max\nx,1,2.0,2.0\n")
    with pytest.raises(ValueError, match=r"line\(s\) \[2\]: t_min is not before t_max"):
        events.read_truth_events(path, 3)
    path.write_text("recording_id,species_id,t_min,t_max\nx,5,1.0,2.0\n")
    with pytest.raises(ValueError, match=r"line\(s\) \[2\]: species_id outside 0..2"):
        events.read_truth_events(path, 3)


def test_stage_scores_are_the_model_mean_of_framewise_clip_batch_by_batch(tmp_path):
    import torch

    from sedcycle.clips import ClipStore
    from sedcycle.model import SEDModel
    from sedcycle.predict import framewise_clip

    rng = np.random.default_rng(0)
    ids = ["r0", "r1", "r2"]
    for rec in ids:
        np.save(tmp_path / f"{rec}.npy", rng.normal(-40, 10, (64, 300)).astype(np.float16))
    torch.manual_seed(0)
    models = [SEDModel("mobilenetv3_small_050", n_species=4).eval() for _ in range(2)]
    with torch.no_grad():  # an untrained head scores ~0.5 everywhere: spread its scores
        for model in models:
            model.segment.weight.mul_(1e4)
    store = ClipStore(tmp_path, ids)
    for batch_size in (2, 16):  # windows of several clips share a batch, or a clip spans two
        found = list(
            events.stage_clip_scores(models, store, ids, 128, 32, batch_size, progress=False)
        )
        assert [rec for rec, _ in found] == ids
        for rec, scores in found:
            assert scores.shape == (4, 300)
            expected = framewise_clip(models, store, rec, 128, 32)
            assert scores.std() > 0.05  # scores that tell frames apart
            np.testing.assert_allclose(scores, expected, atol=1e-5)
    # the mean of the two models' scores, each the max over its windows
    single = [framewise_clip([m], store, "r1", 128, 32) for m in models]
    assert np.abs(single[0] - single[1]).max() > 0.05
    np.testing.assert_allclose(found[1][1], (single[0] + single[1]) / 2, atol=1e-5)


def test_a_species_named_all_is_refused():
    empty = table([])
    with pytest.raises(ValueError, match="a species named 'all'"):
        score_events(empty, empty, ["owl", "all"])


def naive_hysteresis(scores, start, stop):
    """The definition frame by frame: start at a frame >= start, go on while >= stop."""
    spans, current = [], None
    for i, score in enumerate(scores):
        if current is None and score >= start:
            current = i
        elif current is not None and score < stop:
            spans.append((current, i))
            current = None
    if current is not None:
        spans.append((current, len(scores)))
    return spans


def test_hysteresis_agrees_with_the_frame_by_frame_definition():
    rng = np.random.default_rng(0)
    for _ in range(200):
        scores = rng.random(int(rng.integers(1, 60))).round(1)  # ties with the thresholds
        start = float(rng.choice([0.3, 0.5, 0.7, 1.0]))
        stop = float(rng.choice([0.1, 0.3, 0.5])) if start > 0.3 else 0.3
        assert events.hysteresis(scores, start, stop) == naive_hysteresis(scores, start, stop)
