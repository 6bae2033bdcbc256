"""Prediction tables: species columns and clip scores from window scores (no torch needed)."""

from __future__ import annotations

import pandas as pd


def species_columns(n_species: int) -> list[str]:
    """Score columns s0..s{n-1}, as in sample_submission.csv."""
    return [f"s{i}" for i in range(n_species)]


def species_names(n_species: int, species_csv: str | None = None) -> list[str]:
    """The species names of submission.csv's columns: species.csv's names (annotated
    recordings) or s0..s{n-1}."""
    if not species_csv:
        return species_columns(n_species)
    from sedcycle.annotated import read_species

    names = read_species(species_csv)
    if len(names) != n_species:
        raise ValueError(f"{species_csv}: {len(names)} species, but the run has {n_species}")
    return names


def score_columns(table: pd.DataFrame) -> list[str]:
    """The s0..s{n-1} columns of a prediction table, in order."""
    return [c for c in table.columns if c.startswith("s") and c[1:].isdigit()]


def clip_scores(window_scores: pd.DataFrame) -> pd.DataFrame:
    """Per-clip scores: max over a clip's windows. Index: recording_id, in first-seen order."""
    return window_scores.groupby("recording_id", sort=False)[score_columns(window_scores)].max()
