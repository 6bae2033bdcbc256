"""Tests of sedcycle.folds: every recording in exactly one fold, stratified and deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sedcycle.folds import assign_folds, read_groups, species_multi_hot

N_SPECIES = 24


def rfcx_like(n_recordings=300, tp_per_species=10, n_fp=400, seed=0):
    """Recording ids, tp and fp tables shaped like RFCx (some recordings have no row at all)."""
    rng = np.random.default_rng(seed)
    ids = [f"{value:09x}" for value in rng.choice(16**9, n_recordings, replace=False)]
    tp_recordings = rng.choice(ids[: n_recordings * 3 // 4], (N_SPECIES, tp_per_species))
    tp = pd.DataFrame(
        {
            "recording_id": tp_recordings.ravel(),
            "species_id": np.repeat(np.arange(N_SPECIES), tp_per_species),
        }
    )
    fp = pd.DataFrame(
        {
            "recording_id": rng.choice(ids[: n_recordings * 3 // 4], n_fp),
            "species_id": rng.integers(0, N_SPECIES, n_fp),
        }
    )
    return ids, tp, fp


def test_every_recording_in_exactly_one_fold():
    ids, tp, fp = rfcx_like()
    folds = assign_folds(tp, fp, ids, n_folds=5, seed=42, n_species=N_SPECIES)
    assert list(folds.columns) == ["recording_id", "fold"]
    assert list(folds.recording_id) == ids  # input order, one row each, unlabelled ones too
    assert folds.recording_id.is_unique
    assert set(folds.fold) == set(range(5))
    assert folds.fold.value_counts().between(50, 70).all()


def test_tp_species_spread_across_folds():
    ids, tp, fp = rfcx_like()
    folds = assign_folds(tp, fp, ids, n_folds=5, seed=42)

    def per_species_fold(folds):
        labelled = tp.drop_duplicates().merge(folds, on="recording_id")
        return labelled.groupby(["species_id", "fold"]).size().unstack(fill_value=0)

    stratified = per_species_fold(folds)
    assert stratified.shape == (N_SPECIES, 5)
    # ~10 tp recordings per species over 5 folds: every species is in every fold.
    assert stratified.min().min() >= 1 and stratified.max().max() <= 4
    # And far closer to 2 per fold than a random split of the same recordings.
    rng = np.random.default_rng(0)
    shuffled = folds.assign(fold=rng.permutation(np.arange(len(folds)) % 5))
    imbalance = (stratified - 2).abs().to_numpy().sum()
    assert imbalance < 0.5 * (per_species_fold(shuffled) - 2).abs().to_numpy().sum()


def test_deterministic_for_a_seed_and_independent_of_id_order():
    ids, tp, fp = rfcx_like()
    first = assign_folds(tp, fp, ids, seed=7)
    pd.testing.assert_frame_equal(first, assign_folds(tp, fp, ids, seed=7))
    reordered = assign_folds(tp, fp, ids[::-1], seed=7)
    assert dict(zip(reordered.recording_id, reordered.fold, strict=True)) == dict(
        zip(first.recording_id, first.fold, strict=True)
    )
    assert not first.fold.equals(assign_folds(tp, fp, ids, seed=8).fold)


def test_multi_hot_holds_tp_then_fp_species():
    tp = pd.DataFrame({"recording_id": ["a", "a"], "species_id": [0, 3]})
    fp = pd.DataFrame({"recording_id": ["b"], "species_id": [3]})
    multi_hot = species_multi_hot(tp, fp, ["a", "b", "c"], n_species=4)
    expected = np.zeros((3, 8), np.uint8)
    expected[0, [0, 3]] = 1
    expected[1, 4 + 3] = 1
    np.testing.assert_array_equal(multi_hot, expected)


def test_bad_inputs_raise_value_error():
    ids, tp, fp = rfcx_like(n_recordings=40, tp_per_species=1, n_fp=10)
    with pytest.raises(ValueError, match="3 recordings cannot fill 5 folds"):
        assign_folds(tp.iloc[:0], fp.iloc[:0], ids[:3])
    with pytest.raises(ValueError, match="not unique"):
        assign_folds(tp, fp, ids + ids[:1])
    bad_species = tp.copy()
    bad_species.loc[2, "species_id"] = N_SPECIES
    with pytest.raises(ValueError, match="tp row 2: species_id 24"):
        assign_folds(bad_species, fp, ids)
    with pytest.raises(ValueError, match=r"fp row \d+: recording 'zzz' is not among"):
        stray = pd.DataFrame({"recording_id": ["zzz"], "species_id": [1]})
        assign_folds(tp, pd.concat([fp, stray]), ids)
    with pytest.raises(ValueError, match="lacks column"):
        assign_folds(tp.rename(columns={"species_id": "species"}), fp, ids)


def sites_of(ids, n_sites=12):
    """recording id -> one of ``n_sites`` site names, in id order."""
    return {rid: f"site{i % n_sites:02d}" for i, rid in enumerate(ids)}


def test_ungrouped_folds_are_the_stratified_split_of_the_sorted_recordings():
    """groups=None keeps the folds of every run before grouping existed (no rerun, no change):
    iterstrat's split of the sorted ids' multi-hot, each held-out part its fold."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    ids, tp, fp = rfcx_like()
    sorted_ids = sorted(ids)
    splitter = MultilabelStratifiedKFold(n_splits=5, shuffle=True, random_state=42)
    labels = species_multi_hot(tp, fp, sorted_ids, N_SPECIES)
    expected = {}
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(ids)), labels)):
        expected.update({sorted_ids[i]: fold for i in held_out})
    folds = assign_folds(tp, fp, ids, n_folds=5, seed=42)
    assert dict(zip(folds.recording_id, folds.fold, strict=True)) == expected
    # One group per recording is the same split.
    own = assign_folds(tp, fp, ids, n_folds=5, seed=42, groups={rid: rid for rid in ids})
    pd.testing.assert_frame_equal(own, folds)


def test_recordings_of_one_group_share_a_fold_and_groups_are_stratified():
    ids, tp, fp = rfcx_like()
    groups = sites_of(ids, n_sites=60)
    folds = assign_folds(tp, fp, ids, n_folds=5, seed=42, groups=groups)
    by_group = folds.assign(group=folds.recording_id.map(groups)).groupby("group").fold
    assert (by_group.nunique() == 1).all()
    assert set(folds.fold) == set(range(5))
    assert not folds.fold.equals(assign_folds(tp, fp, ids, n_folds=5, seed=42).fold)
    # Stratified over the groups' species: closer to even than a random split of the groups.
    group_fold = by_group.first()
    rng = np.random.default_rng(0)
    shuffled = pd.Series(rng.permutation(np.arange(len(group_fold)) % 5), group_fold.index)

    def imbalance(fold_of_group):
        labelled = tp.drop_duplicates().assign(
            fold=lambda t: t.recording_id.map(groups).map(fold_of_group)
        )
        counts = labelled.groupby(["species_id", "fold"]).size().unstack(fill_value=0)
        counts = counts.reindex(columns=range(5), fill_value=0)
        return (counts - counts.mean(axis=1).to_numpy()[:, None]).abs().to_numpy().sum()

    assert imbalance(group_fold) < 0.8 * imbalance(shuffled)


def test_fewer_groups_than_folds_or_a_recording_without_group_is_refused():
    ids, tp, fp = rfcx_like(n_recordings=40, tp_per_species=1, n_fp=10)
    with pytest.raises(ValueError, match="4 groups of recordings cannot fill 5 folds"):
        assign_folds(tp, fp, ids, groups=sites_of(ids, n_sites=4))
    with pytest.raises(ValueError, match="1 recording.s. have no group"):
        assign_folds(tp, fp, ids, groups=dict(list(sites_of(ids).items())[1:]))


def test_groups_table_is_read_and_its_problems_name_the_file(tmp_path):
    table = tmp_path / "sites.csv"
    table.write_text("recording_id,group\na,north\nb,south\nc,north\nz,east\n")
    assert read_groups(table, ["c", "a", "b"]) == {"c": "north", "a": "north", "b": "south"}
    with pytest.raises(
        ValueError, match=r"sites\.csv: 1 training recording.s. have no group: \['d'\]"
    ):
        read_groups(table, ["a", "d"])
    table.write_text("recording,site\na,north\n")
    with pytest.raises(
        ValueError, match=r"sites\.csv: groups table without column.s. \['group', 'recording_id'\]"
    ):
        read_groups(table, ["a"])
    table.write_text("recording_id,group\na,north\na,south\n")
    with pytest.raises(
        ValueError, match=r"sites\.csv: recording.s. listed with different groups: \['a'\]"
    ):
        read_groups(table, ["a"])
    table.write_text("recording_id,group\na,north\nb,\n")
    with pytest.raises(ValueError, match=r"sites\.csv: line 3: empty group"):
        read_groups(table, ["a", "b"])
