"""Pseudo-labels: windows that enough fold models agree a species calls in (positives), and,
when asked, windows that every fold model agrees a species is silent in (negatives).

The positives' threshold is one score for all species, or per species calibrated on the
labelled windows (:func:`labelled_windows`, fitted by ``sedcycle.review.thresholds``): the
out-of-fold score at which a window of that species is a tp with the target probability,
fitted to the windows that overlap its tp rows (tp) or only its fp rows (fp).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sedcycle.review import candidates, overlapping
from sedcycle.tables import score_columns

PSEUDO_COLUMNS = ["recording_id", "species_id", "start", "end", "votes", "label"]


def _fold_keys(fold_scores: list[pd.DataFrame]) -> pd.DataFrame:
    if not fold_scores:
        raise ValueError("pseudo-labels need at least one model's predictions")
    keys = fold_scores[0][["recording_id", "window", "start"]]
    for other in fold_scores[1:]:
        if not other[["recording_id", "window", "start"]].equals(keys):
            raise ValueError("fold predictions cover different recordings or windows")
    return keys


def _table(keys: pd.DataFrame, votes: np.ndarray, chosen: np.ndarray, window: int, label: int):
    rows, species = np.nonzero(chosen)
    starts = keys["start"].to_numpy()[rows].astype(np.int64)
    table = pd.DataFrame(
        {
            "recording_id": keys["recording_id"].to_numpy()[rows],
            "species_id": species.astype(np.int64),
            "start": starts,
            "end": starts + window,
            "votes": votes[rows, species].astype(np.int64),
            "label": np.full(len(rows), label, dtype=np.int64),
        }
    )
    return table.reset_index(drop=True)[PSEUDO_COLUMNS]


def pseudo_positives(
    fold_scores: list[pd.DataFrame],
    window: int,
    threshold: float | np.ndarray = 0.5,
    min_votes: int = 3,
) -> pd.DataFrame:
    """(recording, window, species) that at least ``min_votes`` models score >= ``threshold``
    (one score, or one per species s0..s{n-1}).

    fold_scores: one window-score table per fold model (``predict_windows`` output over the
    same recordings and windows). Returns recording_id, species_id, start, end (frames), votes,
    label (+1).
    """
    keys = _fold_keys(fold_scores)
    if not 1 <= min_votes <= len(fold_scores):
        raise ValueError(f"min_votes must be in 1..{len(fold_scores)} models, got {min_votes}")
    columns = score_columns(fold_scores[0])
    threshold = np.asarray(threshold, dtype=np.float64)
    if threshold.ndim and threshold.shape != (len(columns),):
        raise ValueError(f"{threshold.shape[0]} thresholds for {len(columns)} species")
    votes = sum((table[columns].to_numpy() >= threshold).astype(np.int64) for table in fold_scores)
    return _table(keys, votes, votes >= min_votes, window, 1)


def labelled_windows(
    scores: pd.DataFrame,
    tp: pd.DataFrame,
    fp: pd.DataFrame,
    *,
    n_frames: int,
    window: int,
    clip_seconds: float,
) -> pd.DataFrame:
    """The (recording, window, species) of window scores that the labels decide: ``tp`` where
    the window overlaps a tp row of the species, else ``fp`` where it overlaps an fp row of
    it; the others are unknown and left out. Returns recording_id, species_id, begin, end
    (seconds), score, verdict."""
    pool = candidates(scores, n_frames=n_frames, window=window, clip_seconds=clip_seconds)
    is_tp = overlapping(pool, tp)
    is_fp = ~is_tp & overlapping(pool, fp)
    verdict = np.where(is_tp, "tp", "fp")
    return pool.assign(verdict=verdict)[is_tp | is_fp].reset_index(drop=True)


def pseudo_negatives(
    fold_scores: list[pd.DataFrame], window: int, threshold: float
) -> pd.DataFrame:
    """(recording, window, species) that every model scores below ``threshold``: label -1.

    Same columns as :func:`pseudo_positives`; votes is the number of models below threshold.
    """
    keys = _fold_keys(fold_scores)
    columns = score_columns(fold_scores[0])
    votes = sum((table[columns].to_numpy() < threshold).astype(np.int64) for table in fold_scores)
    return _table(keys, votes, votes == len(fold_scores), window, -1)


def out_of_fold_scores(fold_scores: list[pd.DataFrame], folds: pd.Series) -> pd.DataFrame:
    """One window-score table where each recording's rows come from the fold model that never
    trained on it: fold_scores[k] is fold k's model; folds maps recording_id -> fold."""
    keys = _fold_keys(fold_scores)
    fold_of = keys["recording_id"].map(folds)
    if fold_of.isna().any():
        missing = sorted(set(keys["recording_id"][fold_of.isna()]))
        raise ValueError(f"recordings without a fold: {missing[:5]} ({len(missing)} in all)")
    fold_of = fold_of.to_numpy().astype(np.int64)
    if fold_of.max() >= len(fold_scores) or fold_of.min() < 0:
        raise ValueError(f"folds name fold {fold_of.max()}, but {len(fold_scores)} models came")
    columns = score_columns(fold_scores[0])
    stacked = np.stack([table[columns].to_numpy() for table in fold_scores])  # [F, N, S]
    out = fold_scores[0].copy()
    out[columns] = stacked[fold_of, np.arange(len(keys))]
    return out
