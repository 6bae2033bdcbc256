"""Evaluation against hidden truth: clip scores against a truth csv, pseudo-label quality,
prior scaling, the scores table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sedcycle import metrics
from sedcycle.labels import check_columns, check_species, presence_matrix, time_to_frame

# scores.csv: one row per stage (and the ensemble); a value without its truth is left empty.
SCORE_COLUMNS = [
    "stage",
    "test_lwlrap",
    "test_precision",
    "test_recall",
    "test_lwlrap_prior",
    "oof_lwlrap",
    "oof_precision",
    "oof_recall",
    "oof_tp_lwlrap",
    "pseudo_count",
    "pseudo_new",
    "pseudo_precision",
    "pseudo_recall",
    "pseudo_negatives",
    "pseudo_negative_error",
    # the (crop, species) targets the round trained as +1 because of a pseudo-label alone
    # (over folds and epochs), and the share of them with a true call in the crop
    "pseudo_crop_targets",
    "pseudo_crop_precision",
    # test LWLRAP no better than random scores' (mean + std): the stage learnt nothing measurable
    "test_within_random",
    "random_lwlrap_mean",
    "random_lwlrap_std",
    # a round's test LWLRAP below stage 1's by more than random_lwlrap_std (the yardstick of the
    # benchmarks' verdicts): the rounds lowered the score on this test set
    "test_below_stage1",
]
# the random baseline of test LWLRAP: uniform random scores, this many seeded draws
RANDOM_DRAWS = 200
RANDOM_SEED = 0


def evaluate(truth: np.ndarray, scores: np.ndarray) -> dict:
    """LWLRAP, precision and recall at 0.5 of clip scores against clip truth."""
    kept = truth.any(axis=1)
    return {
        "lwlrap": metrics.lwlrap(truth[kept], scores[kept]),
        **metrics.precision_recall(truth, scores, threshold=0.5),
        "n_recordings": int(kept.sum()),
    }


def read_truth(truth_csv: str, recording_ids: list[str], n_species: int) -> np.ndarray:
    """Clip truth [n_recordings, n_species] from a truth csv (recording_id, species_id, ...).

    Raises ValueError naming the file when a column is missing or a species is out of range.
    """
    truth = pd.read_csv(truth_csv, dtype={"recording_id": str})
    check_columns(truth, truth_csv, ["recording_id", "species_id"])
    check_species(truth_csv, pd.to_numeric(truth["species_id"], errors="coerce"), n_species)
    truth["species_id"] = truth["species_id"].astype(int)
    return presence_matrix(truth, recording_ids, n_species)


def random_lwlrap(
    truth: np.ndarray, n_draws: int = RANDOM_DRAWS, seed: int = RANDOM_SEED
) -> tuple[float, float]:
    """Mean and standard deviation of the LWLRAP of uniform random scores against ``truth``
    [n_recordings, n_species] over ``n_draws`` draws of a generator seeded with ``seed``.

    Recordings without a true species are left out, as :func:`evaluate` leaves them out; nan,
    nan when none is left.
    """
    kept = np.asarray(truth, dtype=bool)[np.asarray(truth).any(axis=1)]
    if not len(kept):
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = [metrics.lwlrap(kept, rng.random(kept.shape)) for _ in range(n_draws)]
    return float(np.mean(values)), float(np.std(values))


def flag_random(scores: dict, mean: float, std: float) -> list[str]:
    """Mark each stage of a scores.json dict whose test LWLRAP is within ``mean + std`` of random
    scores: its ``test`` gains within_random, random_lwlrap_mean and random_lwlrap_std. Returns
    the flagged stages, in order."""
    flagged = []
    for stage, parts in scores.items():
        test = parts.get("test")
        if not test or test.get("lwlrap") is None or math.isnan(test["lwlrap"]):
            continue
        test["within_random"] = bool(test["lwlrap"] <= mean + std)
        test["random_lwlrap_mean"], test["random_lwlrap_std"] = mean, std
        if test["within_random"]:
            flagged.append(stage)
    return flagged


def flag_below_stage1(scores: dict, std: float) -> list[str]:
    """Mark each round (``roundN`` key of a scores.json dict) with a test LWLRAP: its ``test``
    gains below_stage1, whether that LWLRAP is below stage 1's by more than ``std`` (random
    scores' std on the same test clips, the yardstick of the benchmarks' verdicts). Returns the
    rounds marked True, in order; marks nothing without stage 1's test LWLRAP or with a nan std.
    """
    first = (scores.get("stage1") or {}).get("test", {}).get("lwlrap")
    if first is None or math.isnan(first) or math.isnan(std):
        return []
    below = []
    for stage, parts in scores.items():
        test = parts.get("test") or {}
        if not stage.startswith("round") or test.get("lwlrap") is None:
            continue
        test["below_stage1"] = bool(test["lwlrap"] < first - std)
        if test["below_stage1"]:
            below.append(stage)
    return below


def score_against_truth(scores: pd.DataFrame, truth_csv: str, n_species: int) -> dict:
    """:func:`evaluate` of clip scores (index: recording_id) against a truth csv."""
    truth = read_truth(truth_csv, scores.index.tolist(), n_species)
    return evaluate(truth, scores.to_numpy())


def truth_windows(
    truth: pd.DataFrame,
    windows: pd.DataFrame,
    window: int,
    n_frames: int,
    clip_seconds: float,
) -> pd.DataFrame:
    """The (recording_id, start, species_id) windows that a truth row's frames fall in.

    truth: recording_id, species_id, t_min, t_max (seconds; train_truth.csv or train_tp.csv).
    windows: recording_id, start (frames) of every window considered. A call counts in a window
    when any of its frames ``int(n_frames * t / clip_seconds)`` lies in ``[start, start+window)``,
    the rule that makes a window's training target.
    """
    first = time_to_frame(truth["t_min"].to_numpy(), n_frames, clip_seconds)
    last = time_to_frame(truth["t_max"].to_numpy(), n_frames, clip_seconds)
    calls = pd.DataFrame(
        {
            "recording_id": truth["recording_id"].to_numpy(),
            "species_id": truth["species_id"].to_numpy().astype(np.int64),
            "first": first,
            "last": last,
        }
    )
    keys = windows[["recording_id", "start"]].drop_duplicates()
    pairs = calls.merge(keys, on="recording_id")
    hit = (pairs["start"] <= pairs["last"]) & (pairs["start"] + window > pairs["first"])
    return (
        pairs.loc[hit, ["recording_id", "start", "species_id"]]
        .drop_duplicates()
        .reset_index(drop=True)
    )


def pseudo_quality(
    pseudo: pd.DataFrame,
    windows: pd.DataFrame,
    tp: pd.DataFrame,
    window: int,
    n_frames: int,
    clip_seconds: float,
    truth: pd.DataFrame | None = None,
) -> dict:
    """How many pseudo-positive windows a round adds, and how right they are.

    count: pseudo-positive (recording, window, species); new: those not already positive from
    a tp row; precision: share of pseudo-positives with a true call of that species in the
    window; recall: share of true (recording, window, species) over ``windows`` that are
    pseudo-positive. Without ``truth`` precision and recall are nan. Pseudo-negatives (rows with
    label -1): negatives, their count, and negative_error, the share of them where the species
    truly calls in the window (nan without truth or without pseudo-negatives).
    """
    key = ["recording_id", "start", "species_id"]
    label = pseudo["label"] if "label" in pseudo else pd.Series(1, index=pseudo.index)
    negatives = pseudo.loc[label.to_numpy() < 0, key].drop_duplicates()
    found = pseudo.loc[label.to_numpy() > 0, key].drop_duplicates()
    labelled = truth_windows(tp, windows, window, n_frames, clip_seconds)
    merged = found.merge(labelled, on=key, how="left", indicator=True)
    new = int((merged["_merge"] == "left_only").sum())
    result = {
        "count": len(found),
        "new": int(new),
        "precision": math.nan,
        "recall": math.nan,
        "negatives": len(negatives),
        "negative_error": math.nan,
    }
    if truth is not None:
        true = truth_windows(truth, windows, window, n_frames, clip_seconds)
        correct = len(found.merge(true, on=key))
        result["precision"] = correct / len(found) if len(found) else math.nan
        result["recall"] = correct / len(true) if len(true) else math.nan
        if len(negatives):
            result["negative_error"] = len(negatives.merge(true, on=key)) / len(negatives)
    return result


def pseudo_crop_quality(
    targets: pd.DataFrame,
    window: int,
    n_frames: int,
    clip_seconds: float,
    truth: pd.DataFrame | None = None,
) -> dict:
    """How right the pseudo-positive targets a round trained on were, crop by crop.

    targets: recording_id, start, species_id, one row each time a (crop, species) was trained
    as +1 because of a pseudo-label alone (:func:`sedcycle.crops.pseudo_positive_crops` over a
    round's folds). crop_targets: their number; crop_precision: the share of them with a true
    call of that species with a frame in the crop's frames [start, start + window) (nan without
    ``truth`` or without targets).
    """
    result = {"crop_targets": len(targets), "crop_precision": math.nan}
    if truth is not None and len(targets):
        true = truth_windows(truth, targets, window, n_frames, clip_seconds).assign(hit=True)
        hit = targets.merge(true, on=["recording_id", "start", "species_id"], how="left")["hit"]
        result["crop_precision"] = float(hit.eq(True).mean())
    return result


def prior_scale(scores: pd.DataFrame, prior: np.ndarray) -> pd.DataFrame:
    """Per-class prior scaling of clip scores (index recording_id, columns s0..).

    Each class's scores are multiplied by ``prior[c] / mean score of c``, so the classes' mean
    scores follow the prior instead of the model's per-class bias; the factors are divided by
    their largest, so scores stay in 0..1. Ranks within a class are unchanged (its AP too);
    ranks across classes within a clip, which LWLRAP measures, change.
    """
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != (scores.shape[1],) or not (prior > 0).all():
        raise ValueError(f"prior must be {scores.shape[1]} positive numbers, got {prior}")
    mean = scores.to_numpy(dtype=np.float64).mean(axis=0)
    factor = prior / np.maximum(mean, 1e-6)
    return scores * (factor / factor.max())


def label_prior(tp: pd.DataFrame, recording_ids: list[str], n_species: int) -> np.ndarray:
    """Each species' share of the training recordings with a tp row for it, add-one smoothed
    (so a species without tp rows keeps a small, positive prior)."""
    rows = tp[tp["recording_id"].isin(set(recording_ids))]
    counts = (
        rows.drop_duplicates(["recording_id", "species_id"])["species_id"]
        .value_counts()
        .reindex(range(n_species), fill_value=0)
        .to_numpy(dtype=np.float64)
    )
    return (counts + 1) / (len(recording_ids) + 2)


def scaled_to_train_prior(
    scores: pd.DataFrame, tp: pd.DataFrame, recording_ids: list[str], n_species: int
) -> pd.DataFrame:
    """``scores`` prior-scaled (:func:`prior_scale`) to the species' shares of the train
    recordings ``recording_ids`` with a tp row (:func:`label_prior`): what
    ``postprocess.prior_scaling`` submits (the ensemble rule, which logs the prior) and
    scores.csv's ``test_lwlrap_prior`` scores."""
    return prior_scale(scores, label_prior(tp, recording_ids, n_species))


def score_table(scores: dict) -> pd.DataFrame:
    """scores.json as one row per stage (SCORE_COLUMNS); what is not measured stays nan."""
    rows = []
    for stage, parts in scores.items():
        row = {"stage": stage}
        for part, prefix in (("test", "test"), ("oof", "oof"), ("oof_tp", "oof_tp")):
            for name in ("lwlrap", "precision", "recall"):
                row[f"{prefix}_{name}"] = parts.get(part, {}).get(name, math.nan)
        row["test_lwlrap_prior"] = parts.get("test_prior", {}).get("lwlrap", math.nan)
        for name in ("within_random", "random_lwlrap_mean", "random_lwlrap_std", "below_stage1"):
            column = name if name.startswith("random") else f"test_{name}"
            row[column] = parts.get("test", {}).get(name, math.nan)
        for name in (
            "count",
            "new",
            "precision",
            "recall",
            "negatives",
            "negative_error",
            "crop_targets",
            "crop_precision",
        ):
            row[f"pseudo_{name}"] = parts.get("pseudo", {}).get(name, math.nan)
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.reindex(columns=SCORE_COLUMNS).replace({None: math.nan})
