"""Cross-validation folds: recordings split by multilabel stratification over tp and fp species,
optionally whole groups of recordings at a time (the clips of one source recording, a site)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold


def species_multi_hot(
    tp: pd.DataFrame, fp: pd.DataFrame, recording_ids: Sequence[str], n_species: int = 24
) -> np.ndarray:
    """Per-recording multi-hot uint8 [n_recordings, 2 * n_species]: tp species, then fp species.

    Raises ValueError naming the table and row for a missing column, a species id outside
    0..n_species-1, or a recording id that is not among ``recording_ids``.
    """
    row_of = {rid: i for i, rid in enumerate(recording_ids)}
    multi_hot = np.zeros((len(recording_ids), 2 * n_species), dtype=np.uint8)
    for offset, (name, table) in enumerate([("tp", tp), ("fp", fp)]):
        missing = {"recording_id", "species_id"} - set(table.columns)
        if missing:
            raise ValueError(f"{name} table lacks column(s) {sorted(missing)}")
        species_ids = pd.to_numeric(table["species_id"], errors="coerce")
        for index, rid, species in zip(
            table.index, table["recording_id"].astype(str), species_ids, strict=True
        ):
            if rid not in row_of:
                raise ValueError(f"{name} row {index}: recording {rid!r} is not among the audio")
            if not (0 <= species < n_species and float(species).is_integer()):
                raise ValueError(
                    f"{name} row {index}: species_id {table['species_id'][index]} "
                    f"is not an integer in 0..{n_species - 1}"
                )
            multi_hot[row_of[rid], offset * n_species + int(species)] = 1
    return multi_hot


def read_groups(groups_csv: str | Path, recording_ids: Sequence[str]) -> dict[str, str]:
    """recording id -> group of every id in ``recording_ids``, from a csv ``recording_id,group``.

    Rows of other recordings are ignored. Raises ValueError naming the file for a missing
    column, an empty group, a recording listed twice with different groups, or recordings of
    ``recording_ids`` that the table lacks.
    """
    table = pd.read_csv(groups_csv, dtype=str, keep_default_na=False)
    missing = {"recording_id", "group"} - set(table.columns)
    if missing:
        raise ValueError(
            f"{groups_csv}: groups table without column(s) {sorted(missing)} (its columns: "
            f"{table.columns.tolist()}; expected recording_id,group)"
        )
    table = table[["recording_id", "group"]].drop_duplicates()
    empty = table.index[table["group"].str.strip() == ""]
    if len(empty):
        raise ValueError(f"{groups_csv}: line {empty[0] + 2}: empty group")
    twice = table.loc[table["recording_id"].duplicated(), "recording_id"]
    if len(twice):
        raise ValueError(
            f"{groups_csv}: recording(s) listed with different groups: {sorted(set(twice))[:5]}"
        )
    group_of = dict(zip(table["recording_id"], table["group"], strict=True))
    absent = [rid for rid in recording_ids if rid not in group_of]
    if absent:
        raise ValueError(
            f"{groups_csv}: {len(absent)} training recording(s) have no group: {absent[:5]}"
        )
    return {rid: group_of[rid] for rid in recording_ids}


def _stratified(units: list[str], labels: np.ndarray, n_folds: int, seed: int) -> dict:
    """unit -> fold of MultilabelStratifiedKFold(shuffle, random_state=seed) over ``labels``."""
    splitter = MultilabelStratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold_of = {}
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(units)), labels)):
        fold_of.update({units[i]: fold for i in held_out})
    return fold_of


def assign_folds(
    tp: pd.DataFrame,
    fp: pd.DataFrame,
    recording_ids: Sequence[str],
    n_folds: int = 5,
    seed: int = 42,
    n_species: int = 24,
    groups: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One fold in 0..n_folds-1 for every recording: DataFrame(recording_id, fold), input order.

    Stratifies over each recording's [tp species | fp species] multi-hot with iterstrat's
    MultilabelStratifiedKFold(shuffle=True, random_state=seed); recordings without any tp/fp
    row are spread over the folds too. Recordings are sorted before splitting, so the result
    depends on the set of ids and the seed, not on their order.

    ``groups`` (recording id -> group name, every id listed): the groups are split instead,
    sorted by name, each stratified by the union of its recordings' multi-hots, and every
    recording takes its group's fold. Raises ValueError for duplicate ids, fewer recordings
    (or groups) than folds, n_folds < 2, or a recording without a group.
    """
    recording_ids = [str(rid) for rid in recording_ids]
    if len(set(recording_ids)) != len(recording_ids):
        duplicates = sorted(pd.Series(recording_ids)[lambda s: s.duplicated()].unique())
        raise ValueError(f"recording ids are not unique: {duplicates[:5]}")
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    if len(recording_ids) < n_folds:
        raise ValueError(f"{len(recording_ids)} recordings cannot fill {n_folds} folds")
    sorted_ids = sorted(recording_ids)
    labels = species_multi_hot(tp, fp, sorted_ids, n_species)
    if groups is None:
        fold_of = _stratified(sorted_ids, labels, n_folds, seed)
    else:
        absent = [rid for rid in sorted_ids if rid not in groups]
        if absent:
            raise ValueError(f"{len(absent)} recording(s) have no group: {absent[:5]}")
        group_of = [str(groups[rid]) for rid in sorted_ids]
        names = sorted(set(group_of))
        if len(names) < n_folds:
            raise ValueError(f"{len(names)} groups of recordings cannot fill {n_folds} folds")
        row = {name: i for i, name in enumerate(names)}
        group_labels = np.zeros((len(names), labels.shape[1]), dtype=np.uint8)
        np.maximum.at(group_labels, [row[group] for group in group_of], labels)
        group_fold = _stratified(names, group_labels, n_folds, seed)
        fold_of = {rid: group_fold[group] for rid, group in zip(sorted_ids, group_of, strict=True)}
    return pd.DataFrame(
        {"recording_id": recording_ids, "fold": [fold_of[rid] for rid in recording_ids]}
    )
