"""Scores of multi-label predictions: LWLRAP (the competition metric), precision and recall.

Tie rule (the Freesound 2019 reference colab, ``calculate_per_class_lwlrap``, made
deterministic): each row's classes are ranked by ``np.argsort(scores, kind="stable")[::-1]``.
Among classes with equal scores the one with the HIGHER class index therefore ranks first,
and each class's precision counts only the classes placed before it. The reference used
numpy's default (unstable) sort, whose order among ties depends on the numpy build; the
stable sort fixes it. Without ties the value equals scikit-learn's
``label_ranking_average_precision_score`` with ``sample_weight`` = positives per row, after
dropping rows with no positive (scikit-learn counts tied classes as all ranked ahead).
"""

from __future__ import annotations

import numpy as np


def _check(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to (bool [n_rows, n_classes], float64 [n_rows, n_classes])."""
    truth = np.asarray(truth)
    scores = np.asarray(scores, dtype=np.float64)
    if truth.ndim != 2 or scores.ndim != 2:
        raise ValueError(
            f"truth and scores must be 2-D [n_rows, n_classes], got {truth.shape} "
            f"and {scores.shape}"
        )
    if truth.shape != scores.shape:
        raise ValueError(f"truth shape {truth.shape} differs from scores shape {scores.shape}")
    if not np.isin(truth, (0, 1)).all():
        raise ValueError("truth must hold only 0/1 (or bool) values")
    if not np.isfinite(scores).all():
        bad_row = int(np.flatnonzero(~np.isfinite(scores).all(axis=1))[0])
        raise ValueError(f"scores must be finite; row {bad_row} holds nan or inf")
    return truth.astype(bool), scores


def per_class_lwlrap(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class label-ranking precision and class weights, both float64 [n_classes].

    ``truth`` is 0/1 [n_rows, n_classes], ``scores`` float [n_rows, n_classes]. A class's
    score is the mean, over its positive labels, of the precision at that label's rank in its
    row; its weight is its share of all positive labels. A class never positive gets score 0
    and weight 0, so it does not count. Rows with no positive contribute nothing. Raises
    ValueError for mismatched shapes, non-0/1 truth, non-finite scores, or no positive at all.
    """
    truth, scores = _check(truth, scores)
    positives_per_class = truth.sum(axis=0)
    if positives_per_class.sum() == 0:
        raise ValueError("truth has no positive label: LWLRAP is undefined")
    # order[r, k] = class placed at rank k of row r (ties: higher class index first).
    order = np.argsort(scores, axis=1, kind="stable")[:, ::-1]
    hits_in_rank_order = np.take_along_axis(truth, order, axis=1)
    ranks = np.arange(1, truth.shape[1] + 1)
    precision_in_rank_order = np.cumsum(hits_in_rank_order, axis=1) / ranks
    precision = np.empty_like(precision_in_rank_order)
    np.put_along_axis(precision, order, precision_in_rank_order, axis=1)
    precision_sum = np.where(truth, precision, 0.0).sum(axis=0)
    class_scores = precision_sum / np.maximum(1, positives_per_class)
    weights = positives_per_class / positives_per_class.sum()
    return class_scores, weights


def lwlrap(truth: np.ndarray, scores: np.ndarray) -> float:
    """Label-weighted label-ranking average precision of ``scores`` [n_rows, n_classes].

    Every positive label counts equally: the mean over all positive labels of the precision
    at its rank in its row (see the module docstring for ties). 1.0 is perfect.
    """
    class_scores, weights = per_class_lwlrap(truth, scores)
    return float(np.sum(class_scores * weights))


def precision_recall(
    truth: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Micro-averaged precision and recall over all (row, class) pairs of ``scores >= threshold``.

    Both are nan-free: precision with no predicted positive is 0.0, recall with no true
    positive label is 0.0.
    """
    truth, scores = _check(truth, scores)
    predicted = scores >= threshold
    true_positives = int(np.sum(predicted & truth))
    n_predicted = int(predicted.sum())
    n_true = int(truth.sum())
    return {
        "precision": true_positives / n_predicted if n_predicted else 0.0,
        "recall": true_positives / n_true if n_true else 0.0,
    }


def per_class_average_precision(truth: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Average precision of each class over rows, float64 [n_classes]; nan for a class with no
    positive row (it has no AP, and is left out of any mean).

    A class's AP is the mean, over its positive rows, of the precision among the rows scoring
    at least as high: tied rows all count as ranked ahead, as scikit-learn's
    ``average_precision_score`` does (a pessimistic, order-free rule).
    """
    truth, scores = _check(truth, scores)
    result = np.full(truth.shape[1], np.nan)
    for k in range(truth.shape[1]):
        positive = truth[:, k]
        if not positive.any():
            continue
        column = scores[:, k]
        ordered = np.sort(column)
        ordered_positive = np.sort(column[positive])
        # rows (and positive rows) scoring >= each positive row's score
        at_least = len(column) - np.searchsorted(ordered, column[positive], side="left")
        hits = len(ordered_positive) - np.searchsorted(
            ordered_positive, column[positive], side="left"
        )
        result[k] = float(np.mean(hits / at_least))
    return result
