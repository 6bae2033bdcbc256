"""Cross-validation folds: recordings split by multilabel stratification over tp and fp species."""

from __future__ import annotations

from collections.abc import Sequence

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


def assign_folds(
    tp: pd.DataFrame,
    fp: pd.DataFrame,
    recording_ids: Sequence[str],
    n_folds: int = 5,
    seed: int = 42,
    n_species: int = 24,
) -> pd.DataFrame:
    """One fold in 0..n_folds-1 for every recording: DataFrame(recording_id, fold), input order.

    Stratifies over each recording's [tp species | fp species] multi-hot with iterstrat's
    MultilabelStratifiedKFold(shuffle=True, random_state=seed); recordings without any tp/fp
    row are spread over the folds too. Recordings are sorted before splitting, so the result
    depends on the set of ids and the seed, not on their order. Raises ValueError for
    duplicate ids, fewer recordings than folds, or n_folds < 2.
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
    splitter = MultilabelStratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold_of = {}
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(sorted_ids)), labels)):
        fold_of.update({sorted_ids[i]: fold for i in held_out})
    return pd.DataFrame(
        {"recording_id": recording_ids, "fold": [fold_of[rid] for rid in recording_ids]}
    )
