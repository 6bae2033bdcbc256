"""Pseudo-labels: windows that enough fold models agree a species calls in."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sedcycle.tables import score_columns

PSEUDO_COLUMNS = ["recording_id", "species_id", "start", "end", "votes"]


def pseudo_positives(
    fold_scores: list[pd.DataFrame],
    window: int,
    threshold: float = 0.5,
    min_votes: int = 3,
) -> pd.DataFrame:
    """(recording, window, species) that at least ``min_votes`` models score >= ``threshold``.

    fold_scores: one window-score table per fold model (``predict_windows`` output over the
    same recordings and windows). Returns recording_id, species_id, start, end (frames), votes.
    """
    if not fold_scores:
        raise ValueError("pseudo_positives needs at least one model's predictions")
    if not 1 <= min_votes <= len(fold_scores):
        raise ValueError(f"min_votes must be in 1..{len(fold_scores)} models, got {min_votes}")
    keys = fold_scores[0][["recording_id", "window", "start"]]
    for other in fold_scores[1:]:
        if not other[["recording_id", "window", "start"]].equals(keys):
            raise ValueError("fold predictions cover different recordings or windows")
    columns = score_columns(fold_scores[0])
    votes = sum((table[columns].to_numpy() >= threshold).astype(np.int64) for table in fold_scores)
    rows, species = np.nonzero(votes >= min_votes)
    pseudo = pd.DataFrame(
        {
            "recording_id": keys["recording_id"].to_numpy()[rows],
            "species_id": species.astype(np.int64),
            "start": keys["start"].to_numpy()[rows].astype(np.int64),
            "end": keys["start"].to_numpy()[rows].astype(np.int64) + window,
            "votes": votes[rows, species],
        }
    )
    return pseudo.reset_index(drop=True)[PSEUDO_COLUMNS]
