"""Tests of sedcycle.metrics: LWLRAP (ties, scikit-learn equivalence), precision and recall."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import label_ranking_average_precision_score

from sedcycle.metrics import (
    lwlrap,
    per_class_average_precision,
    per_class_lwlrap,
    precision_recall,
)


def reference_per_class_lwlrap(truth, scores):
    """The Freesound 2019 colab's calculate_per_class_lwlrap, with its argsort made stable."""
    num_samples, num_classes = scores.shape
    precisions = np.zeros((num_samples, num_classes))
    for row in range(num_samples):
        positives = np.flatnonzero(truth[row] > 0)
        if not len(positives):
            continue
        retrieved = np.argsort(scores[row], kind="stable")[::-1]
        rankings = np.zeros(num_classes, dtype=int)
        rankings[retrieved] = range(num_classes)
        retrieved_true = np.zeros(num_classes, dtype=bool)
        retrieved_true[rankings[positives]] = True
        hits = np.cumsum(retrieved_true)
        precisions[row, positives] = hits[rankings[positives]] / (1 + rankings[positives])
    labels_per_class = np.sum(truth > 0, axis=0)
    weights = labels_per_class / float(np.sum(labels_per_class))
    return np.sum(precisions, axis=0) / np.maximum(1, labels_per_class), weights


def random_case(n_rows=200, n_classes=24, seed=0, tie_levels=None):
    rng = np.random.default_rng(seed)
    truth = rng.random((n_rows, n_classes)) < 0.1
    scores = rng.random((n_rows, n_classes)) + 0.5 * truth
    if tie_levels is not None:
        scores = np.round(scores * tie_levels) / tie_levels
    return truth, scores


def test_perfect_and_worst_rankings():
    truth = np.array([[1, 0, 0], [0, 1, 1]])
    assert lwlrap(truth, truth * 0.9 + 0.05) == 1.0
    # Positive ranked last: precision 1/3 for row 0; row 1 has its positives at ranks 2 and 3.
    worst = np.array([[0.0, 1.0, 0.5], [1.0, 0.5, 0.0]])
    assert lwlrap(truth, worst) == pytest.approx((1 / 3 + 1 / 2 + 2 / 3) / 3)


def test_tie_rule_higher_class_index_ranks_first():
    scores = np.array([[0.5, 0.5, 0.1]])
    # Class 1 is placed before class 0, so class 0 sits at rank 2: precision 1/2 ...
    assert lwlrap(np.array([[1, 0, 0]]), scores) == 0.5
    # ... and class 1 sits at rank 1: precision 1 (scikit-learn, counting ties as ahead, gives 1/2).
    assert lwlrap(np.array([[0, 1, 0]]), scores) == 1.0
    assert label_ranking_average_precision_score([[0, 1, 0]], scores) == 0.5
    # Both tied classes positive: ranks 1 and 2 hold 2 hits, precision 1 for each.
    assert lwlrap(np.array([[1, 1, 0]]), scores) == 1.0
    # Three-way tie, positive at the lowest index: it is placed third.
    assert lwlrap(np.array([[1, 0, 0, 0]]), np.array([[0.2, 0.2, 0.2, 0.9]])) == 0.25


def test_equals_reference_implementation_with_many_ties():
    truth, scores = random_case(seed=1, tie_levels=4)
    expected_scores, expected_weights = reference_per_class_lwlrap(truth, scores)
    class_scores, weights = per_class_lwlrap(truth, scores)
    np.testing.assert_allclose(class_scores, expected_scores, rtol=1e-12)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_sklearn_weighted_lrap_without_ties(seed):
    truth, scores = random_case(seed=seed)
    assert len(np.unique(scores)) == scores.size
    has_positive = truth.any(axis=1)
    assert not has_positive.all()  # rows without a positive are present and must be dropped
    expected = label_ranking_average_precision_score(
        truth[has_positive], scores[has_positive], sample_weight=truth[has_positive].sum(1)
    )
    assert lwlrap(truth, scores) == pytest.approx(expected, rel=1e-12)


def test_class_never_positive_has_zero_score_and_weight():
    truth = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0]])
    scores = np.array([[0.9, 0.1, 0.8], [0.3, 0.8, 0.9], [0.5, 0.5, 0.5]])
    class_scores, weights = per_class_lwlrap(truth, scores)
    assert class_scores[2] == 0.0 and weights[2] == 0.0
    np.testing.assert_allclose(weights, [2 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(class_scores, [(1 + 2 / 3) / 2, 1 / 2, 0.0])
    assert lwlrap(truth, scores) == pytest.approx((1 + 2 / 3 + 1 / 2) / 3)


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError, match="no positive"):
        lwlrap(np.zeros((3, 4)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="differs"):
        lwlrap(np.eye(3), np.ones((3, 4)))
    with pytest.raises(ValueError, match="2-D"):
        lwlrap(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="0/1"):
        lwlrap(np.full((2, 2), 2), np.ones((2, 2)))
    with pytest.raises(ValueError, match="row 1"):
        lwlrap(np.eye(2), np.array([[0.1, 0.2], [np.nan, 0.3]]))


def test_precision_recall_micro_averaged():
    truth = np.array([[1, 0, 1], [0, 1, 0]])
    scores = np.array([[0.9, 0.6, 0.2], [0.5, 0.7, 0.1]])
    # Predicted (>= 0.5): (0,0) tp, (0,1) fp, (1,0) fp, (1,1) tp; 3 true labels.
    assert precision_recall(truth, scores) == {"precision": 0.5, "recall": 2 / 3}
    assert precision_recall(truth, scores, threshold=0.8) == {"precision": 1.0, "recall": 1 / 3}


def test_precision_recall_are_nan_free():
    truth = np.array([[1, 0], [0, 0]])
    assert precision_recall(truth, np.zeros((2, 2))) == {"precision": 0.0, "recall": 0.0}
    assert precision_recall(np.zeros((2, 2)), np.ones((2, 2))) == {
        "precision": 0.0,
        "recall": 0.0,
    }


def test_average_precision_equals_sklearn_with_ties():
    from sklearn.metrics import average_precision_score

    truth, scores = random_case(seed=3, tie_levels=5)
    expected = [average_precision_score(truth[:, k], scores[:, k]) for k in range(truth.shape[1])]
    np.testing.assert_allclose(per_class_average_precision(truth, scores), expected, rtol=1e-12)


def test_average_precision_counts_tied_rows_as_ranked_ahead():
    truth = np.array([[1], [0], [0]])
    # the positive ties with one negative: precision 1/2, whatever the row order
    assert per_class_average_precision(truth, np.array([[0.5], [0.5], [0.1]]))[0] == 0.5
    assert per_class_average_precision(truth[::-1], np.array([[0.1], [0.5], [0.5]]))[0] == 0.5


def test_average_precision_of_a_species_never_present_is_nan():
    truth = np.array([[1, 0], [0, 0], [1, 0]])
    scores = np.array([[0.9, 0.9], [0.5, 0.8], [0.4, 0.1]])
    ap = per_class_average_precision(truth, scores)
    assert np.isnan(ap[1])
    assert ap[0] == pytest.approx((1 + 2 / 3) / 2)
