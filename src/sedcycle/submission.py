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


def name_species(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``table`` with its score columns s0..s{n-1} renamed to the species names, in order."""
    scores = [f"s{i}" for i in range(len(names))]
    present = [c for c in table.columns if c.startswith("s") and c[1:].isdigit()]
    if present != scores:
        raise ValueError(
            f"{len(names)} species names for score columns {present[:5]}...: "
            "species.csv and the predictions disagree on the number of species"
        )
    return table.rename(columns=dict(zip(scores, names, strict=True)))


def recording_scores(clip_table: pd.DataFrame, clips: pd.DataFrame) -> pd.DataFrame:
    """Per-recording scores: the max over each recording's clips.

    clip_table: recording_id (a clip id) and score columns; clips: recording_id, recording
    (clips.csv). Returns recording and the score columns, sorted by recording.
    """
    owner = clips.set_index("recording_id")["recording"]
    missing = sorted(set(clip_table["recording_id"]) - set(owner.index))
    if missing:
        raise ValueError(f"clip(s) missing from clips.csv: {missing[:5]}")
    table = clip_table.assign(recording=clip_table["recording_id"].map(owner))
    return table.drop(columns="recording_id").groupby("recording", sort=True).max().reset_index()
