"""Ensembling clip scores and writing the RFCx submission."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def mean_scores(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Average of clip-score tables (index recording_id, columns s0..) over models."""
    if not tables:
        raise ValueError("nothing to ensemble: no prediction table given")
    first = tables[0]
    for other in tables[1:]:
        if set(other.index) != set(first.index) or list(other.columns) != list(first.columns):
            raise ValueError("prediction tables cover different recordings or species")
    return sum(t.loc[first.index] for t in tables) / len(tables)


def make_submission(scores: pd.DataFrame, sample_submission: str | Path) -> pd.DataFrame:
    """Scores in the row order and columns of ``sample_submission.csv``."""
    sample = pd.read_csv(sample_submission, dtype={"recording_id": str})
    if list(sample.columns[1:]) != list(scores.columns) or sample.columns[0] != "recording_id":
        raise ValueError(
            f"{sample_submission}: columns {list(sample.columns)} do not match the predicted "
            f"species recording_id,{','.join(scores.columns)}"
        )
    missing = sorted(set(sample["recording_id"]) - set(scores.index))
    if missing:
        raise ValueError(
            f"{sample_submission}: {len(missing)} recording(s) have no prediction, "
            f"e.g. {missing[:5]}"
        )
    return scores.loc[sample["recording_id"]].reset_index(names="recording_id")
