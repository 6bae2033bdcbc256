"""The review loop: queue strategies and their mix, exclusion of labelled spans, verdict files
and their errors, verdicts as labels (over pseudo-labels), thresholds fitted to verdicts, the
queue step on constructed audio, and the workflow with a scripted reviewer."""

import re
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sedcycle import review
from sedcycle.events import species_bands
from sedcycle.labels import ANNOTATION_COLUMNS, NEGATIVE, POSITIVE, FrameLabels
from sedcycle.steps.review import review_clips, review_labels, review_queue, review_thresholds

from . import workflow_runs

DEFAULT_SHARES = {"margin": 0.5, "stratified": 0.25, "random": 0.25}


def pool_of(scores, n_recordings=None):
    """Candidates with the given scores, one a (recording, window): rec{i}, 0-1 s."""
    scores = np.asarray(scores, dtype=float)
    return pd.DataFrame(
        {
            "recording_id": [f"rec{i:03d}" for i in range(len(scores))],
            "species_id": 0,
            "begin": 0.0,
            "end": 1.0,
            "score": scores,
        }
    )


def chosen(pool, strategy, n, threshold=0.5, seed=0):
    picked = review.pick(pool, strategy, n, threshold, np.random.default_rng(seed))
    return sorted(pool.loc[picked, "score"].tolist())


# --- strategies ---------------------------------------------------------------------------


def test_top_picks_the_highest_scores():
    pool = pool_of([0.1, 0.95, 0.3, 0.8, 0.5, 0.99, 0.05])
    assert chosen(pool, "top", 3) == [0.8, 0.95, 0.99]


def test_margin_picks_the_scores_closest_to_the_threshold():
    pool = pool_of([0.1, 0.95, 0.32, 0.8, 0.5, 0.99, 0.27, 0.2])
    assert chosen(pool, "margin", 3, threshold=0.3) == [0.2, 0.27, 0.32]
    assert chosen(pool, "margin", 2, threshold=0.9) == [0.95, 0.99]


def test_stratified_takes_equal_numbers_from_the_five_score_bins():
    # 20 scores in each bin of width 0.2
    scores = np.concatenate([np.linspace(b * 0.2 + 0.01, b * 0.2 + 0.19, 20) for b in range(5)])
    pool = pool_of(scores)
    bins = review.score_bin(np.array(chosen(pool, "stratified", 10)))
    assert np.bincount(bins, minlength=5).tolist() == [2, 2, 2, 2, 2]
    # 7 items: one from each bin, then the two highest bins again
    bins = review.score_bin(np.array(chosen(pool, "stratified", 7)))
    assert np.bincount(bins, minlength=5).tolist() == [1, 1, 1, 2, 2]


def test_stratified_leaves_a_scarce_bin_s_share_to_the_others():
    # 50 low scores, 1 in [0.8, 1], none in between
    pool = pool_of([*np.linspace(0.0, 0.15, 50), 0.9])
    picked = chosen(pool, "stratified", 6)
    assert len(picked) == 6
    assert picked[-1] == 0.9  # the one high score is always taken
    assert np.bincount(review.score_bin(np.array(picked)), minlength=5).tolist() == [5, 0, 0, 0, 1]


def test_random_draws_distinct_items_repeatably_by_seed():
    pool = pool_of(np.linspace(0, 1, 200))
    first = chosen(pool, "random", 20, seed=1)
    assert len(set(first)) == 20
    assert first == chosen(pool, "random", 20, seed=1)
    assert first != chosen(pool, "random", 20, seed=2)


def test_unknown_strategy_or_share_is_refused():
    with pytest.raises(ValueError, match="unknown strategy"):
        review.strategy_counts(10, {"best": 1.0})
    with pytest.raises(ValueError, match="no positive share"):
        review.strategy_counts(10, {"top": 0.0})
    with pytest.raises(ValueError, match=">= 0"):
        review.strategy_counts(10, {"top": -1.0, "random": 2.0})


# --- the mix ------------------------------------------------------------------------------


def test_the_default_mix_splits_the_budget_by_share_without_repeats():
    assert review.strategy_counts(24, DEFAULT_SHARES) == {
        "top": 0,
        "margin": 12,
        "stratified": 6,
        "random": 6,
    }
    # shares are divided by their sum; the largest remainders round up
    assert review.strategy_counts(10, {"top": 1, "margin": 1, "random": 1}) == {
        "top": 4,
        "margin": 3,
        "stratified": 0,
        "random": 3,
    }
    pool = pool_of(np.random.default_rng(0).uniform(size=300))
    queue = review.select(pool, 24, DEFAULT_SHARES, threshold=0.5, seed=0)
    assert queue["strategy"].value_counts().to_dict() == {
        "margin": 12,
        "stratified": 6,
        "random": 6,
    }
    assert not queue["recording_id"].duplicated().any()
    # the margin items are the 12 closest to 0.5 of the whole pool: they choose first
    closest = pool.loc[(pool["score"] - 0.5).abs().nsmallest(12).index, "recording_id"]
    assert set(queue.loc[queue["strategy"] == "margin", "recording_id"]) == set(closest)


def test_top_and_margin_do_not_take_the_same_item_twice():
    pool = pool_of([0.9, 0.8, 0.55, 0.5, 0.1])
    queue = review.select(pool, 4, {"top": 1, "margin": 1}, threshold=0.85, seed=0)
    assert queue.set_index("score")["strategy"].to_dict() == {
        0.9: "top",
        0.8: "top",
        0.55: "margin",
        0.5: "margin",
    }


def test_a_queue_is_determined_by_its_seed():
    pool = pool_of(np.random.default_rng(1).uniform(size=500))
    one = review.select(pool, 24, DEFAULT_SHARES, 0.5, seed=3)
    assert one.equals(review.select(pool, 24, DEFAULT_SHARES, 0.5, seed=3))
    assert not one.equals(review.select(pool, 24, DEFAULT_SHARES, 0.5, seed=4))


def test_fewer_candidates_than_the_budget_gives_them_all(capsys):
    queue = review.select(pool_of([0.2, 0.6, 0.9]), 24, DEFAULT_SHARES, 0.5, seed=0)
    assert sorted(queue["score"]) == [0.2, 0.6, 0.9]
    assert "fewer than the budget of 24" in capsys.readouterr().err


# --- candidates and exclusion -------------------------------------------------------------


def window_scores(n_recordings=2, n_species=3, starts=(0, 80, 160)):
    rows = []
    for r in range(n_recordings):
        for w, start in enumerate(starts):
            rows.append(
                {
                    "recording_id": f"r{r}",
                    "window": w,
                    "start": start,
                    **{f"s{k}": 0.1 * (k + 1) + 0.01 * w for k in range(n_species)},
                }
            )
    return pd.DataFrame(rows)


def test_candidates_span_windows_in_seconds_capped_to_the_clip():
    table = review.candidates(window_scores(), n_frames=200, window=100, clip_seconds=10.0)
    assert len(table) == 2 * 3 * 3
    spans = table[["begin", "end"]].drop_duplicates().to_numpy().tolist()
    assert spans == [[0.0, 5.0], [4.0, 9.0], [8.0, 10.0]]
    first = table[(table["recording_id"] == "r0") & (table["begin"] == 4.0)]
    assert first["score"].round(6).tolist() == [0.11, 0.21, 0.31]


def test_candidates_overlapping_a_labelled_span_are_left_out():
    exclude = pd.DataFrame(
        [
            ("r0", 1, 6.0, 6.5),  # overlaps windows 4-9 s only (0-5 s ends before it)
            ("r1", 2, 9.5, 9.9),  # overlaps 8-10 s only
            ("r1", 0, 10.0, 10.0),  # at the clip's end: inside no window
        ],
        columns=["recording_id", "species_id", "t_min", "t_max"],
    )
    table = review.candidates(
        window_scores(), n_frames=200, window=100, clip_seconds=10.0, exclude=exclude
    )
    keys = set(zip(table["recording_id"], table["species_id"], table["begin"], strict=True))
    assert len(table) == 18 - 2
    assert ("r0", 1, 4.0) not in keys and ("r1", 2, 8.0) not in keys
    assert ("r0", 1, 0.0) in keys and ("r0", 1, 8.0) in keys and ("r1", 0, 8.0) in keys


# --- verdict files --------------------------------------------------------------------------


def small_queue(stage="stage1"):
    chosen_rows = pd.DataFrame(
        {
            "recording_id": ["r0", "r0", "r1", "r2"],
            "species_id": [0, 1, 1, 2],
            "begin": [0.0, 4.0, 0.0, 8.0],
            "end": [5.0, 9.0, 5.0, 10.0],
            "score": [0.9, 0.4, 0.55, 0.1],
            "strategy": ["top", "margin", "margin", "random"],
        }
    )
    bands = species_bands(
        pd.DataFrame({"species_id": [1], "f_min": [900.0], "f_max": [2400.0]}), 3, 32000
    )
    return review.make_queue(chosen_rows, stage, ["a", "b", "c"], bands)


def filled(queue, verdicts):
    return queue.assign(verdict=verdicts)


def test_make_queue_numbers_items_with_the_species_band():
    queue = small_queue()
    assert queue.columns.tolist() == review.QUEUE_COLUMNS
    assert queue["item"].tolist() == ["stage1-0001", "stage1-0002", "stage1-0003", "stage1-0004"]
    assert queue["species"].tolist() == ["a", "b", "b", "c"]
    # species 1 has tp rows: their band; the others: the full band
    assert queue[["low_freq", "high_freq"]].to_numpy().tolist() == [
        [0.0, 16000.0],
        [900.0, 2400.0],
        [900.0, 2400.0],
        [0.0, 16000.0],
    ]
    assert (queue["verdict"] == "").all()


def test_filled_queue_csv_reads_back_its_verdicts(tmp_path):
    queue = small_queue()
    path = tmp_path / "stage1.csv"
    filled(queue, ["tp", " FP ", "unsure", "fp"]).to_csv(path, index=False)
    verdicts = review.read_verdicts(path, queue)
    assert verdicts["verdict"].tolist() == ["tp", "fp", "unsure", "fp"]
    assert verdicts["source"].tolist()[1] == f"{path}: line 3"


@pytest.mark.parametrize(
    ("edit", "line", "problem"),
    [
        (lambda t: t.assign(verdict=["tp", "fp", "maybe", "fp"]), 4, "verdict 'maybe'"),
        (lambda t: t.assign(verdict=["tp", "", "fp", "fp"]), 3, "has no verdict"),
        (lambda t: t.drop(columns="verdict"), None, "no column \\['verdict'\\]"),
        (lambda t: t.assign(item=["stage1-0001", "stage1-0009", "x", "y"]), 3, "not in the queue"),
        (lambda t: t.assign(recording_id=["r0", "r0", "zz", "r2"]), 4, "unknown recording 'zz'"),
        (lambda t: t.assign(recording_id=["r0", "r1", "r1", "r2"]), 3, "is recording r0"),
        (
            lambda t: t.assign(item=["stage1-0001", "stage1-0002", "stage1-0001", "stage1-0004"]),
            4,
            "again \\(first on line 2\\)",
        ),
        (lambda t: t.assign(begin=[0.0, 4.5, 0.0, 8.0]), 3, "differs from the queue"),
    ],
)
def test_a_bad_verdict_file_fails_naming_file_and_line(tmp_path, edit, line, problem):
    queue = small_queue()
    path = tmp_path / "verdicts.csv"
    edit(filled(queue, ["tp", "fp", "unsure", "fp"])).to_csv(path, index=False)
    where = re.escape(f"{path}: line {line}: " if line else f"{path}: ")
    with pytest.raises(ValueError, match=f"^{where}.*{problem}"):
        review.read_verdicts(path, queue)


def test_an_item_in_two_files_of_a_stage_fails_naming_both(tmp_path):
    queue = small_queue()
    one, two = tmp_path / "a.csv", tmp_path / "b.csv"
    filled(queue, ["tp", "fp", "fp", "fp"]).iloc[:2].to_csv(one, index=False)
    filled(queue, ["tp", "fp", "fp", "fp"]).iloc[1:].to_csv(two, index=False)
    problem = f"{two}: line 2: item stage1-0002 again (first in {one}: line 3)"
    with pytest.raises(ValueError, match=re.escape(problem)):
        review.read_stage_verdicts([one, two], queue, "stage1", "queue.csv")


def test_the_raven_table_with_verdicts_reads_back(tmp_path):
    from sedcycle.raven import write_selection_table

    queue = small_queue()
    path = tmp_path / "filled.selections.txt"
    write_selection_table(
        filled(queue, ["fp", "tp", "", "unsure"]).assign(verdict=""),
        path,
        durations={"r0": 10.0, "r1": 10.0, "r2": 10.0},
        audio_paths={r: f"/audio/{r}.flac" for r in ("r0", "r1", "r2")},
        sample_rate=32000,
        extra_columns=("item", "score", "strategy", "verdict"),
    )
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    table["verdict"] = ["fp", "tp", "tp", "unsure"]  # a person fills the column in Raven
    table.to_csv(path, sep="\t", index=False)
    verdicts = review.read_verdicts(path, queue)
    assert dict(zip(verdicts["item"], verdicts["verdict"], strict=True)) == {
        "stage1-0001": "fp",
        "stage1-0002": "tp",
        "stage1-0003": "tp",
        "stage1-0004": "unsure",
    }
    table.loc[2, "Begin File"] = "r9.flac"
    table.to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match=re.escape(f"{path}: line 4: unknown recording 'r9'")):
        review.read_verdicts(path, queue)


# --- verdicts as labels ---------------------------------------------------------------------


def test_tp_and_fp_verdicts_become_label_rows_and_unsure_none(tmp_path):
    queue = small_queue()
    verdicts = filled(queue, ["tp", "fp", "unsure", "fp"]).assign(stage="stage1")
    data = pd.DataFrame([("r5", 2, 1, 1.0, 100.0, 2.0, 200.0)], columns=ANNOTATION_COLUMNS)
    tp = review.with_verdicts(data, verdicts, "tp")
    fp = review.with_verdicts(data, verdicts, "fp")
    assert tp.columns.tolist() == review.LABEL_COLUMNS
    assert tp["recording_id"].tolist() == ["r5", "r0"]
    assert tp.iloc[1][["species_id", "t_min", "t_max", "stage", "strategy", "score"]].tolist() == [
        0,
        0.0,
        5.0,
        "stage1",
        "top",
        0.9,
    ]
    assert fp[["recording_id", "species_id", "t_min", "t_max", "f_min", "f_max"]].iloc[
        1:
    ].to_numpy().tolist() == [
        ["r0", 1, 4.0, 9.0, 900.0, 2400.0],
        ["r2", 2, 8.0, 10.0, 0.0, 16000.0],
    ]


@pytest.mark.parametrize("targets", ["windows", "frames"])
def test_a_verdict_fp_removes_a_pseudo_label_s_positive_target(targets):
    """The round's labels: tp/fp rows (a verdict fp among them) win over the pseudo-labels."""
    n_frames, clip_seconds, window = 200, 10.0, 100
    pseudo = pd.DataFrame(
        {
            "recording_id": ["r0", "r0"],
            "species_id": [1, 1],
            "start": [0, 100],
            "end": [100, 200],
            "label": [1, 1],
        }
    )
    queue = small_queue()  # item 2: r0, species 1, 4-9 s; take its span to frames 0-100
    verdicts = filled(queue, ["unsure", "fp", "unsure", "unsure"]).assign(stage="stage1")
    verdicts.loc[1, ["begin", "end"]] = [0.0, 4.95]
    empty = pd.DataFrame(columns=ANNOTATION_COLUMNS)
    fp = review.with_verdicts(empty, verdicts, "fp")
    fp = fp.astype({"species_id": int})
    without = FrameLabels.from_annotations(empty, empty.iloc[:0], 3, n_frames, clip_seconds)
    without.add_pseudo(pseudo, targets)
    before, _ = without.crop_targets([("r0", 0), ("r0", 100)], window)
    labels = FrameLabels.from_annotations(empty, fp, 3, n_frames, clip_seconds)
    labels.add_pseudo(pseudo, targets)
    after, pseudo_only = labels.crop_targets([("r0", 0), ("r0", 100)], window)
    assert before[:, 1].tolist() == [POSITIVE, POSITIVE]
    assert after[:, 1].tolist() == [NEGATIVE, POSITIVE]  # the other window keeps its label
    assert pseudo_only[:, 1].tolist() == [False, True]


# --- thresholds -------------------------------------------------------------------------------


def test_the_simulated_reviewer_says_tp_where_a_true_call_overlaps_the_span():
    queue = pd.DataFrame(
        {
            "item": ["a", "b", "c", "d", "e"],
            "recording_id": ["r1", "r1", "r1", "r2", "r1"],
            "species_id": [0, 0, 1, 0, 0],
            "begin": [1.0, 3.0, 1.0, 1.0, 2.0],
            "end": [2.0, 4.0, 2.0, 2.0, 3.0],
            "verdict": [""] * 5,
        }
    )
    # r1 species 0 calls over 1.5-2.5 s: a and e overlap it, b does not, c is another species,
    # d another recording; a call that only touches a span (ends at its begin) is no overlap
    truth = pd.DataFrame(
        {
            "recording_id": ["r1", "r1"],
            "species_id": [0, 0],
            "t_min": [1.5, 2.5],
            "t_max": [2.5, 3.0],
        }
    )
    answered = review.answer_from_truth(queue, truth)
    assert answered["verdict"].tolist() == ["tp", "fp", "fp", "fp", "tp"]
    assert answered["item"].tolist() == queue["item"].tolist()
    touching = truth.assign(t_min=[0.0, 4.0], t_max=[1.0, 5.0])
    assert review.answer_from_truth(queue, touching)["verdict"].tolist() == ["fp"] * 5


def test_a_separable_set_gets_a_threshold_between_its_classes():
    score = np.concatenate([np.linspace(0.05, 0.4, 20), np.linspace(0.6, 0.95, 20)])
    tp = score > 0.5
    threshold, method = review.fit_threshold(score, tp, target_precision=0.9, default=0.5)
    assert method == "logistic"
    assert 0.4 < threshold < 0.6


def test_a_few_verdicts_leave_the_threshold_too_uncertain_to_use():
    # separable too, but 9 verdicts with a gap of 0.35: the crossing's standard error is ~0.19
    score = np.array([0.05, 0.1, 0.2, 0.3, 0.35, 0.7, 0.75, 0.8, 0.9])
    tp = score > 0.5
    a, b = review.fit_logistic(score, tp)
    threshold = (np.log(9) - a) / b
    assert 0.35 < threshold < 0.7  # inside the verdicts' scores: the fit alone would take it
    assert review.threshold_se(score, a, b, threshold) > review.MAX_THRESHOLD_SE
    assert review.fit_threshold(score, tp, 0.9, 0.42) == (0.42, "default: too_uncertain")
    # four times the verdicts at the same scores: the same crossing, half the error
    many = np.tile(score, 4)
    a4, b4 = review.fit_logistic(many, np.tile(tp, 4))
    t4 = (np.log(9) - a4) / b4
    assert review.threshold_se(many, a4, b4, t4) < review.threshold_se(score, a, b, threshold)


def test_the_threshold_error_matches_the_spread_of_refits():
    # the delta method against the spread of the threshold over data sets drawn from one curve
    rng = np.random.default_rng(1)
    fits, errors = [], []
    for _ in range(200):
        score = rng.uniform(size=300)
        tp = rng.uniform(size=300) < 1 / (1 + np.exp(-(10 * score - 6)))
        a, b = review.fit_logistic(score, tp)
        fits.append((np.log(9) - a) / b)
        errors.append(review.threshold_se(score, a, b, fits[-1]))
    assert np.median(errors) == pytest.approx(np.std(fits), rel=0.2)


def test_the_threshold_is_where_the_fitted_probability_reaches_the_target():
    rng = np.random.default_rng(0)
    score = rng.uniform(size=4000)
    tp = rng.uniform(size=4000) < 1 / (1 + np.exp(-(10 * score - 6)))  # P = 0.9 at 0.8197
    threshold, method = review.fit_threshold(score, tp, target_precision=0.9, default=0.5)
    assert method == "logistic"
    assert abs(threshold - (np.log(9) + 6) / 10) < 0.03
    a, b = review.fit_logistic(score, tp)
    assert 1 / (1 + np.exp(-(a + b * threshold))) == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("score", "tp", "method"),
    [
        ([0.2, 0.5, 0.9, 0.95, 0.99], [True] * 5, "default: only_tp"),
        ([0.2, 0.5, 0.9, 0.95, 0.99], [False] * 5, "default: only_fp"),
        ([0.2, 0.9, 0.95], [False, True, True], "default: too_few_verdicts"),
        ([0.1, 0.2, 0.8, 0.9], [True, True, False, False], "default: score_not_increasing"),
        ([0.1, 0.3, 0.5, 0.7, 0.9, 0.95], [0, 1, 0, 1, 0, 1], "default: target_not_reached"),
        # rising, but still below 0.9 at the highest verdict's score: no extrapolation above
        ([0.1, 0.2, 0.3, 0.4] * 5, [0, 0, 1, 1] + [0, 1, 0, 1] * 4, "default: target_not_reached"),
    ],
)
def test_a_species_that_cannot_be_fitted_gets_the_default(score, tp, method):
    assert review.fit_threshold(np.array(score), np.array(tp, dtype=bool), 0.9, 0.42) == (
        0.42,
        method,
    )


def test_a_fit_reaching_the_target_below_every_verdict_keeps_the_default():
    # a queue of top scores, nearly all tp: the curve reaches 0.9 far below the scores it saw
    score = np.linspace(0.9, 1.0, 24)
    tp = np.ones(24, dtype=bool)
    tp[3] = False
    a, b = review.fit_logistic(score, tp)
    assert b > 0 and (np.log(9) - a) / b < 0.9
    assert review.fit_threshold(score, tp, 0.9, 0.5) == (0.5, "default: below_verdict_scores")


def test_a_threshold_inside_the_verdicts_but_near_zero_is_at_least_the_lowest_threshold():
    rng = np.random.default_rng(3)  # a draw whose fit crosses 0.9 at 0.0053, above its scores
    score = rng.uniform(size=4000)
    tp = rng.uniform(size=4000) < 1 / (1 + np.exp(-(4 * score + 2.19)))  # P = 0.9 at 0.0018
    a, b = review.fit_logistic(score, tp)
    assert score.min() < (np.log(9) - a) / b < review.MIN_THRESHOLD
    assert review.fit_threshold(score, tp, 0.9, 0.5) == (review.MIN_THRESHOLD, "logistic")


def test_thresholds_table_has_every_species_and_ignores_unsure():
    # 40 decided verdicts (separable at 0.5) and one unsure
    score = [*np.linspace(0.05, 0.4, 20), *np.linspace(0.6, 0.95, 20), 0.6]
    verdict = ["fp"] * 20 + ["tp"] * 20 + ["unsure"]
    verdicts = pd.DataFrame({"species_id": [1] * 41, "score": score, "verdict": verdict})
    table = review.thresholds(verdicts, 3, 0.9, 0.5)
    assert table.columns.tolist() == review.THRESHOLD_COLUMNS
    assert table["species_id"].tolist() == [0, 1, 2]
    assert table["n_verdicts"].tolist() == [0, 40, 0]
    assert table["n_tp"].tolist() == [0, 20, 0]
    assert table["method"].tolist() == [
        "default: too_few_verdicts",
        "logistic",
        "default: too_few_verdicts",
    ]
    assert 0.4 < table.loc[1, "start_threshold"] < 0.6
    # the detections' override table: the fitted species alone
    fitted = review.fitted_thresholds(table)
    assert fitted.columns.tolist() == ["species_id", "start_threshold"]
    assert fitted["species_id"].tolist() == [1]


# --- the steps on constructed files ----------------------------------------------------------


@pytest.fixture
def stage_files(tmp_path):
    """Two folds' window scores of 6 train recordings (2 s clips, 20 frames, windows of 10),
    their flac audio, a features manifest, folds, tp and fp rows."""
    n_species, clip_seconds, rate = 3, 2.0, 8000
    recs = [f"rec{i}" for i in range(6)]
    audio = tmp_path / "train"
    audio.mkdir()
    rng = np.random.default_rng(0)
    for rec in recs:
        sf.write(audio / f"{rec}.flac", rng.normal(0, 0.1, int(clip_seconds * rate)), rate)
    features = tmp_path / "features"
    features.mkdir()
    pd.DataFrame({"recording_id": recs, "n_mels": 8, "n_frames": 20}).to_csv(
        features / "manifest.csv", index=False
    )
    folds = tmp_path / "folds.csv"
    pd.DataFrame({"recording_id": recs, "fold": [0, 1] * 3}).to_csv(folds, index=False)
    predictions = []
    for fold in range(2):
        rows = [
            {
                "recording_id": rec,
                "window": w,
                "start": start,
                **{f"s{k}": rng.uniform() if i % 2 == fold else 9.0 for k in range(n_species)},
            }
            for i, rec in enumerate(recs)
            for w, start in enumerate((0, 10))
        ]
        path = tmp_path / f"fold{fold}_train.parquet"
        pd.DataFrame(rows).to_parquet(path)
        predictions.append(str(path))
    tp = tmp_path / "tp.csv"
    pd.DataFrame([("rec0", 0, 1, 0.1, 1000.0, 0.5, 3000.0)], columns=ANNOTATION_COLUMNS).to_csv(
        tp, index=False
    )
    fp = tmp_path / "fp.csv"
    pd.DataFrame([("rec1", 2, 1, 1.2, 200.0, 1.5, 800.0)], columns=ANNOTATION_COLUMNS).to_csv(
        fp, index=False
    )
    settings = dict(
        n_species=n_species,
        clip_seconds=clip_seconds,
        window=10,
        sample_rate=rate,
        budget=8,
        strategies=DEFAULT_SHARES,
        threshold=0.5,
        seed=0,
    )
    return {
        "dir": tmp_path,
        "audio": audio,
        "features": features,
        "folds": folds,
        "predictions": predictions,
        "tp": tp,
        "fp": fp,
        "settings": settings,
    }


def run_queue(files, out, **extra):
    review_queue(
        files["predictions"],
        files["folds"],
        files["features"],
        files["tp"],
        files["fp"],
        str(out / "queue.csv"),
        stage="stage1",
        **{**files["settings"], **extra},
    )
    return pd.read_csv(out / "queue.csv", dtype={"recording_id": str}, keep_default_na=False)


def test_the_queue_step_writes_queue_raven_table_and_clips(stage_files):
    out = stage_files["dir"] / "review" / "stage1"
    queue = run_queue(
        stage_files,
        out,
        audio=str(stage_files["audio"]),
        selections=str(out / "queue.selections.txt"),
    )
    review_clips(
        str(out / "queue.csv"), str(stage_files["audio"]), str(out / "clips"), clip_padding=0.25
    )
    assert queue.columns.tolist() == review.QUEUE_COLUMNS
    assert len(queue) == 8
    assert queue["strategy"].value_counts().to_dict() == {"margin": 4, "stratified": 2, "random": 2}
    # out-of-fold: the 9.0 scores are of the fold model that trained on the recording
    assert queue["score"].max() < 1
    # windows of 10 of 20 frames: 0-1 s and 1-2 s; no item on a tp/fp row's span
    assert set(zip(queue["begin"], queue["end"], strict=True)) <= {(0.0, 1.0), (1.0, 2.0)}
    labelled = {("rec0", 0, 0.0), ("rec1", 2, 1.0)}
    assert not labelled & set(
        zip(queue["recording_id"], queue["species_id"], queue["begin"], strict=True)
    )
    # species 0's band from its tp row, the others the full band
    bands = queue.groupby("species_id")[["low_freq", "high_freq"]].first()
    assert bands.loc[0].tolist() == [1000.0, 3000.0]
    assert set(bands.drop(index=0, errors="ignore")["high_freq"]) <= {4000.0}
    table = pd.read_csv(out / "queue.selections.txt", sep="\t", dtype=str, keep_default_na=False)
    assert sorted(table["item"]) == sorted(queue["item"])
    assert (table["verdict"] == "").all()
    clips = sorted(p.name for p in (out / "clips").iterdir())
    assert clips == sorted(f"{item}.wav" for item in queue["item"])
    for row in queue.itertuples():
        info = sf.info(out / "clips" / f"{row.item}.wav")
        expected = min(row.end + 0.25, 2.0) - max(row.begin - 0.25, 0.0)
        assert info.duration == pytest.approx(expected, abs=1e-3)
    # the same inputs and seed give the same queue
    again = run_queue(
        stage_files,
        stage_files["dir"] / "again",
        audio=str(stage_files["audio"]),
        selections=str(stage_files["dir"] / "again.txt"),
    )
    assert again.equals(queue)


def test_without_audio_the_queue_csv_alone_and_its_raven_table_is_refused(stage_files):
    out = stage_files["dir"] / "npz"
    queue = run_queue(stage_files, out)
    assert len(queue) == 8
    assert sorted(p.name for p in out.iterdir()) == ["queue.csv"]
    with pytest.raises(ValueError, match="data.source npz has none"):
        run_queue(stage_files, out, selections=str(out / "queue.selections.txt"))


def test_labels_and_thresholds_steps_read_verdicts_of_their_stage_folders(stage_files):
    base = stage_files["dir"]
    queue_dir = base / "review" / "stage1"
    queue = run_queue(stage_files, queue_dir)
    verdict_dir = base / "verdicts" / "stage1"
    verdict_dir.mkdir(parents=True)
    answers = ["tp", "fp", "unsure", "fp", "tp", "fp", "tp", "fp"]
    queue.assign(verdict=answers).to_csv(verdict_dir / "me.csv", index=False)
    common = dict(verdicts=[str(verdict_dir / "me.csv")], queues=[str(queue_dir / "queue.csv")])
    review_labels(
        str(stage_files["tp"]),
        str(stage_files["fp"]),
        str(base / "tp.out.csv"),
        str(base / "fp.out.csv"),
        n_species=3,
        clip_seconds=2.0,
        **common,
    )
    tp = pd.read_csv(base / "tp.out.csv", dtype={"recording_id": str})
    fp = pd.read_csv(base / "fp.out.csv", dtype={"recording_id": str})
    assert len(tp) == 1 + 3 and len(fp) == 1 + 4
    assert tp["item"].iloc[1:].tolist() == queue["item"][np.array(answers) == "tp"].tolist()
    assert (tp["stage"].iloc[1:] == "stage1").all() and tp["stage"].iloc[:1].isna().all()
    # a later stage's queue leaves the verdict items out
    later = run_queue(stage_files, base / "review" / "round1", **common)
    assert not set(
        zip(later["recording_id"], later["species_id"], later["begin"], strict=True)
    ) & set(zip(queue["recording_id"], queue["species_id"], queue["begin"], strict=True))
    review_thresholds(
        str(base / "thresholds.csv"),
        str(base / "detection_thresholds.csv"),
        n_species=3,
        target_precision=0.9,
        default_threshold=0.5,
        **common,
    )
    table = pd.read_csv(base / "thresholds.csv")
    assert table.columns.tolist() == review.THRESHOLD_COLUMNS
    assert table["n_verdicts"].sum() == 7 and table["n_tp"].sum() == 3
    detections = pd.read_csv(base / "detection_thresholds.csv")
    assert detections.columns.tolist() == ["species_id", "start_threshold"]
    assert len(detections) == (table["method"] == "logistic").sum()


# --- the workflow with a scripted reviewer ---------------------------------------------------

QUEUE_TARGETS = (
    "review/stage1/queue.csv",
    "review/stage1/queue.selections.txt",
    "review/stage1/clips",
)
# the micro run's clips are one 512-frame window each (6 s): 12 recordings x 24 species, of
# which the pairs without a tp or fp row are the candidates (~240). Its stage 1 learns little,
# so a budget over them all makes sure the scripted reviewer finds true calls (tp) too.
BUDGET = 300


def job_inputs(output, rule):
    """The input lines of every job of ``rule`` in a snakemake dry run's output."""
    return [block.split("output:")[0] for block in output.split(f"rule {rule}:")[1:]]


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """The micro config (2 rounds) run without verdicts (``off``) to stage 1's queue and round
    1's predictions; the queue answered from the hidden train truth into
    verdicts/stage1/reviewer.csv; dry runs without and with the verdicts (``on``) before
    anything is rebuilt; then round 1's labels and the thresholds built from them."""
    root = tmp_path_factory.mktemp("review")
    run = root / "run"
    # stage 1's training is not what is tested here: one epoch
    base = {"stage1": {"epochs": 1}, "relabel": {"n_rounds": 2}}
    off = {**base, "review": {"budget": BUDGET}}
    on = {**base, "review": {"budget": BUDGET, "verdicts": str(root / "verdicts")}}
    round1 = [f"predictions/round1/fold{f}_train.parquet" for f in (0, 1)]
    workflow_runs.snakemake(run, *QUEUE_TARGETS, *round1, configs=[off])
    queue = pd.read_csv(run / QUEUE_TARGETS[0], dtype={"recording_id": str}, keep_default_na=False)
    truth = pd.read_csv(run / "data/synthetic/train_truth.csv", dtype={"recording_id": str})
    answered = review.answer_from_truth(queue, truth)
    (root / "verdicts" / "stage1").mkdir(parents=True)
    answered.to_csv(root / "verdicts" / "stage1" / "reviewer.csv", index=False)
    planned = {
        "round1 off": dry_run(run, *round1, config=off),
        "round1": dry_run(run, *round1, config=on),
        "submission": dry_run(run, "submission.csv", config=on),
    }
    labels = ("labels/round1_tp.csv", "labels/round1_fp.csv", "review/thresholds.csv")
    workflow_runs.snakemake(run, *labels, configs=[on])
    return {
        "root": root,
        "run": run,
        "off": off,
        "on": on,
        "queue": queue,
        "answered": answered,
        "planned": planned,
    }


def dry_run(workdir, *targets, config):
    """A dry run's output: its jobs (rule, input, output) and their "Job stats"."""
    done = workflow_runs.snakemake(workdir, "--dry-run", *targets, configs=[config])
    return done.stdout + done.stderr


@pytest.mark.workflow
def test_the_stage1_queue_has_the_budget_its_table_and_clips(reviewed):
    run, queue = reviewed["run"], reviewed["queue"]
    # every (recording, species) without a tp or fp row (a label anywhere in the one window)
    labelled = set()
    for name in ("train_tp.csv", "train_fp.csv"):
        rows = pd.read_csv(run / "data/synthetic" / name, dtype={"recording_id": str})
        labelled |= set(zip(rows["recording_id"], rows["species_id"], strict=True))
    recordings = pd.read_csv(run / "folds.csv", dtype={"recording_id": str})["recording_id"]
    n_candidates = len(recordings) * 24 - len(labelled)
    assert 180 < n_candidates < BUDGET and len(queue) == n_candidates
    # the shares of 300: margin 150 and stratified 75 first, random what they left
    assert queue["strategy"].value_counts().to_dict() == {
        "margin": 150,
        "stratified": 75,
        "random": n_candidates - 225,
    }
    assert queue["item"].is_unique and (queue["verdict"] == "").all()
    table = pd.read_csv(run / QUEUE_TARGETS[1], sep="\t", dtype=str, keep_default_na=False)
    assert sorted(table["item"]) == sorted(queue["item"])
    clips = sorted(p.stem for p in (run / QUEUE_TARGETS[2]).glob("*.wav"))
    assert clips == sorted(queue["item"])
    # no item overlaps a tp or fp row of its recording and species
    for name in ("train_tp.csv", "train_fp.csv"):
        rows = pd.read_csv(run / "data/synthetic" / name, dtype={"recording_id": str})
        both = queue.merge(rows, on=["recording_id", "species_id"])
        assert not ((both["t_min"] < both["end"]) & (both["begin"] < both["t_max"])).any()
    assert (run / "logs/stage1/review_queue.log").exists()
    assert (run / "benchmarks/stage1/review_queue.tsv").exists()


@pytest.mark.workflow
def test_without_verdicts_the_rounds_read_the_data_tables_and_no_review_job_runs(reviewed):
    # round 1, built without verdicts: nothing to do
    assert workflow_runs.job_counts(reviewed["planned"]["round1 off"]) == {}
    output = dry_run(reviewed["run"], "submission.csv", "scores.json", config=reviewed["off"])
    jobs = workflow_runs.job_counts(output)
    assert jobs["train_round"] == 2 and "train_stage1" not in jobs  # round 2's
    assert not [rule for rule in jobs if rule.startswith("review")]
    for inputs in job_inputs(output, "train_round"):
        assert "data/synthetic/train_tp.csv" in inputs and "data/synthetic/train_fp.csv" in inputs
        assert "labels/" not in inputs
    # the target review: a queue for each stage a round follows (stage1's is done: round1's)
    review = workflow_runs.job_counts(dry_run(reviewed["run"], "review", config=reviewed["off"]))
    assert review["review_queue"] == 1 and "train_stage1" not in review


@pytest.mark.workflow
def test_stage1_verdicts_rerun_the_rounds_after_it_alone(reviewed):
    planned = reviewed["planned"]
    # round 1 (built) retrains on its new labels; its pseudo-labels come from stage 1: kept
    assert workflow_runs.job_counts(planned["round1"]) == {
        "review_labels": 1,
        "train_round": 2,
        "predict": 2,
    }
    jobs = workflow_runs.job_counts(planned["submission"])
    assert "train_stage1" not in jobs and "make_folds" not in jobs
    assert jobs["review_labels"] == 2 and jobs["train_round"] == 4 and jobs["predict"] == 4
    assert jobs["pseudo_labels"] == 1  # round 2's, from round 1's new predictions
    for inputs in job_inputs(planned["submission"], "train_round"):
        assert "labels/round" in inputs and "data/synthetic/train_tp.csv" not in inputs


@pytest.mark.workflow
def test_round1_labels_hold_the_data_rows_and_the_verdicts(reviewed):
    run, answered = reviewed["run"], reviewed["answered"]
    for kind in ("tp", "fp"):
        data = pd.read_csv(run / f"data/synthetic/train_{kind}.csv", dtype={"recording_id": str})
        labels = pd.read_csv(run / f"labels/round1_{kind}.csv", dtype={"recording_id": str})
        assert labels[ANNOTATION_COLUMNS].iloc[: len(data)].equals(data)
        added = labels.iloc[len(data) :]
        mine = answered[answered["verdict"] == kind]
        assert added["item"].tolist() == mine["item"].tolist()
        assert added["recording_id"].tolist() == mine["recording_id"].tolist()
        assert added["t_min"].tolist() == mine["begin"].tolist()
        assert (added["stage"] == "stage1").all()
    assert 0 < (answered["verdict"] == "tp").sum() < len(answered)  # both kinds were answered
    thresholds = pd.read_csv(run / "review/thresholds.csv")
    assert thresholds["species_id"].tolist() == list(range(24))
    assert thresholds["n_verdicts"].sum() == len(answered)
    assert thresholds["n_tp"].sum() == (answered["verdict"] == "tp").sum()


@pytest.mark.workflow
def test_a_bad_verdict_fails_naming_the_file_and_line(reviewed, tmp_path):
    bad = tmp_path / "verdicts" / "stage1" / "bad.csv"
    bad.parent.mkdir(parents=True)
    answered = reviewed["answered"].copy()
    answered.loc[3, "verdict"] = "maybe"
    answered.to_csv(bad, index=False)
    run = tmp_path / "run"
    shutil.copytree(reviewed["run"], run, symlinks=True)
    config = {
        **reviewed["on"],
        "review": {"budget": BUDGET, "verdicts": str(tmp_path / "verdicts")},
    }
    failed = workflow_runs.snakemake(run, "labels/round1_tp.csv", configs=[config], check=False)
    assert failed.returncode != 0
    log = (run / "logs/round1/review_labels.log").read_text()
    assert f"{bad}: line 5: verdict 'maybe' of item {answered.loc[3, 'item']}" in log
    assert not (run / "labels/round1_tp.csv").exists()


@pytest.mark.workflow
def test_detections_take_the_fitted_thresholds_with_verdicts_unless_given_a_table(
    reviewed, tmp_path
):
    run, target = reviewed["run"], "detections/stage1/events.csv"
    with_verdicts = job_inputs(dry_run(run, target, config=reviewed["on"]), "detect_events")
    assert with_verdicts and all("review/detection_thresholds.csv" in i for i in with_verdicts)
    without = job_inputs(dry_run(run, target, config=reviewed["off"]), "detect_events")
    assert without and not any("review/" in i for i in without)
    own = tmp_path / "mine.csv"
    own.write_text("species_id,start_threshold\n0,0.7\n")
    mine = {**reviewed["on"], "detections": {"thresholds": str(own)}}
    given = job_inputs(dry_run(run, target, config=mine), "detect_events")
    assert given and all(str(own) in i and "review/" not in i for i in given)
    fitted = pd.read_csv(run / "review/detection_thresholds.csv")
    table = pd.read_csv(run / "review/thresholds.csv")
    assert (
        fitted["species_id"].tolist()
        == table.loc[table["method"] == "logistic", "species_id"].tolist()
    )


@pytest.mark.workflow
def test_verdicts_of_round1_change_the_rounds_after_it_alone(reviewed, tmp_path):
    """Verdicts of round 1 alone: round 1 (built without verdicts) keeps data.dir's tables
    and does not rerun; round 2 trains on labels/round2_*.csv."""
    folder = tmp_path / "verdicts" / "round1"
    folder.mkdir(parents=True)
    (folder / "later.csv").write_text("item,verdict\n")
    config = {
        **reviewed["on"],
        "review": {"budget": BUDGET, "verdicts": str(tmp_path / "verdicts")},
    }
    output = dry_run(reviewed["run"], "submission.csv", config=config)
    jobs = workflow_runs.job_counts(output)
    assert jobs["review_labels"] == 1 and jobs["train_round"] == 2 and "train_stage1" not in jobs
    rounds = {}
    for block in output.split("rule train_round:")[1:]:
        inputs, outputs = block.split("output:")[:2]
        rounds.setdefault(re.search(r"models/(round\d)/", outputs)[1], []).append(inputs)
    assert sorted(rounds) == ["round2"]
    for inputs in rounds["round2"]:
        assert "labels/round2_tp.csv" in inputs and "labels/round2_fp.csv" in inputs


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda v: None, "config review.verdicts {v}: no such folder"),
        (lambda v: (v / "stage9").mkdir(parents=True), "{v}/stage9 is not a stage folder"),
        (
            lambda v: (v / "stage1").mkdir(parents=True) or (v / "stage1" / "a.xlsx").touch(),
            "{v}/stage1/a.xlsx: not a verdict table",
        ),
    ],
)
def test_a_bad_verdicts_folder_stops_snakemake_before_any_job(tmp_path, make, problem):
    verdicts = tmp_path / "verdicts"
    make(verdicts)
    config = {"review": {"verdicts": str(verdicts)}}
    failed = workflow_runs.snakemake(tmp_path / "run", "--dry-run", configs=[config], check=False)
    assert failed.returncode != 0
    assert problem.format(v=verdicts) in failed.stdout + failed.stderr
    assert not (tmp_path / "run" / "data").exists()
