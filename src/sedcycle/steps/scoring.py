"""Steps of scoring: each stage's out-of-fold and test clip scores with their scores, and
scores.json/scores.csv over every stage, the ensemble and each round's pseudo-labels.

The scoring itself is :mod:`sedcycle.evaluation` (against the hidden truth where it exists).
"""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from sedcycle import evaluation, metrics
from sedcycle.crops import fold_labels, fold_recordings, labelled_events, pseudo_positive_crops
from sedcycle.evaluation import evaluate, read_truth, score_against_truth
from sedcycle.files import write_csv, write_json, write_parquet
from sedcycle.labels import presence_matrix, read_annotations, unknown_pairs_of
from sedcycle.settings import TrainSettings, resolve_crops
from sedcycle.steps.data import MANIFEST
from sedcycle.submission import mean_scores
from sedcycle.tables import clip_scores


def summarise_stage(
    train_predictions: list[str],
    test_predictions: list[str],
    folds_csv: str,
    tp_csv: str,
    n_species: int,
    clip_seconds: float,
    oof_out: str,
    test_out: str,
    scores_out: str,
    test_truth: str | None = None,
    train_truth: str | None = None,
) -> None:
    """Out-of-fold and fold-averaged test clip scores of one stage, and their scores.

    scores: ``oof_tp`` (OOF against the tp labels), and where the hidden truth exists ``oof``
    (OOF against train truth), ``test``, ``test_prior`` (after per-class prior scaling) and
    ``test_species_ap`` (AP per species; null for a species absent from the test truth).
    """
    table = pd.read_csv(folds_csv, dtype={"recording_id": str}).set_index("recording_id")
    per_fold = [clip_scores(pd.read_parquet(p)) for p in train_predictions]
    oof = pd.concat(
        [scores.loc[table.index[table["fold"] == fold]] for fold, scores in enumerate(per_fold)]
    ).loc[table.index]
    test = mean_scores([clip_scores(pd.read_parquet(p)) for p in test_predictions])
    write_parquet(oof.reset_index(), oof_out)
    write_parquet(test.reset_index(), test_out)
    tp = read_annotations(tp_csv, n_species, clip_seconds)
    labelled = [rec for rec in oof.index if rec in set(tp["recording_id"])]
    result = {
        "oof_tp": evaluate(presence_matrix(tp, labelled, n_species), oof.loc[labelled].to_numpy())
    }
    if train_truth:
        result["oof"] = score_against_truth(oof, train_truth, n_species)
    if test_truth:
        result["test"] = score_against_truth(test, test_truth, n_species)
        scaled = evaluation.scaled_to_train_prior(test, tp, oof.index.tolist(), n_species)
        result["test_prior"] = score_against_truth(scaled, test_truth, n_species)
        truth = read_truth(test_truth, test.index.tolist(), n_species)
        ap = metrics.per_class_average_precision(truth, test.to_numpy())
        result["test_species_ap"] = [None if np.isnan(v) else float(v) for v in ap]
    write_json(result, scores_out)


def pseudo_crop_targets(
    settings: TrainSettings,
    folds: pd.DataFrame,
    tp: pd.DataFrame,
    fp: pd.DataFrame,
    pseudo: pd.DataFrame,
    n_frames: int,
    clip_seconds: float,
) -> pd.DataFrame:
    """Every (crop, species) a round's fold models trained as +1 because of a pseudo-label
    alone, replayed from the round's ``settings`` fold by fold as train_round builds each
    fold's labels and crops: fold, epoch, recording_id, start, species_id. crops "auto" is
    resolved from the tables' row counts, as the training job does."""
    crops, _ = resolve_crops(settings, len(tp), len(fp))
    settings = replace(settings, crops=crops)
    events = labelled_events(tp, fp, n_frames, clip_seconds)
    found = []
    for fold in sorted(folds["fold"].unique()):
        ids = fold_recordings(folds, fold)
        labels = fold_labels(tp, fp, pseudo, ids, settings, n_frames, clip_seconds)
        crops = pseudo_positive_crops(settings, labels, events, ids)
        found.append(crops.assign(fold=int(fold)))
    return pd.concat(found, ignore_index=True)


def collect_scores(
    stage_scores: dict[str, str],
    out_path: str,
    n_species: int,
    ensemble_test: str | None = None,
    test_truth: str | None = None,
    csv_out: str | None = None,
    pseudo: dict[str, str] | None = None,
    pseudo_windows: dict[str, str] | None = None,
    tp_csv: str | None = None,
    train_truth: str | None = None,
    features_dir: str | None = None,
    window: int = 512,
    clip_seconds: float = 60.0,
    round_settings: dict[str, dict] | None = None,
    folds_csv: str | None = None,
    fp_csv: str | None = None,
) -> None:
    """scores.json (and scores.csv, one row per stage): every stage's scores, the ensemble's
    test score when truth exists, and each round's pseudo-label quality.

    With test truth, every stage's test LWLRAP is set against random scores' (mean and std
    over evaluation.RANDOM_DRAWS seeded draws, on the same test clips): a stage within
    mean + std is flagged (test_within_random), and the log ends with a warning naming it; so
    is a round below stage 1 by more than that std.
    Where the rounds had nothing to relabel (tp/fp label every window of every species of the
    train recordings in ``features_dir``), the log ends with a warning saying so.

    pseudo / pseudo_windows: per round stage name, its pseudo/round{r}.parquet and one of the
    previous stage's train prediction tables (the windows the pseudo-labels were chosen from).
    round_settings (per round stage name, its training settings, the train_round rule's
    params), folds_csv, fp_csv: the crops each fold of the round trained on are replayed
    (:func:`pseudo_crop_targets`) for the pseudo entries crop_targets and crop_precision.
    """
    result = {stage: json.loads(Path(path).read_text()) for stage, path in stage_scores.items()}

    # the tp/fp tables, folds.csv and the train features' manifest, each read once for the
    # uses below
    @functools.cache
    def annotations(path: str) -> pd.DataFrame:
        return read_annotations(path, n_species, clip_seconds)

    @functools.cache
    def folds() -> pd.DataFrame:
        return pd.read_csv(folds_csv, dtype={"recording_id": str})

    @functools.cache
    def manifest() -> pd.DataFrame:
        return pd.read_csv(Path(features_dir) / MANIFEST, dtype={"recording_id": str})

    if ensemble_test and test_truth:
        scores = pd.read_parquet(ensemble_test).set_index("recording_id")
        result["ensemble"] = {"test": score_against_truth(scores, test_truth, n_species)}
        if tp_csv and folds_csv:  # as the stages' test_prior, and as the ensemble rule scales
            train_ids = folds()["recording_id"].tolist()
            scaled = evaluation.scaled_to_train_prior(
                scores, annotations(tp_csv), train_ids, n_species
            )
            result["ensemble"]["test_prior"] = score_against_truth(scaled, test_truth, n_species)
    if pseudo:
        tp = annotations(tp_csv)
        truth = pd.read_csv(train_truth, dtype={"recording_id": str}) if train_truth else None
        n_frames = int(manifest()["n_frames"].iloc[0])
        fp = annotations(fp_csv) if fp_csv else None
        fold_table = folds() if folds_csv else None
        for stage, path in pseudo.items():
            windows = pd.read_parquet(pseudo_windows[stage], columns=["recording_id", "start"])
            found = pd.read_parquet(path)
            quality = evaluation.pseudo_quality(
                found, windows, tp, window, n_frames, clip_seconds, truth
            )
            if round_settings is None or fold_table is None or fp is None:
                raise ValueError(
                    f"{stage}'s crop-level pseudo-label precision needs the round's training "
                    "settings, folds.csv and train_fp.csv"
                )
            settings = TrainSettings(**round_settings[stage])
            targets = pseudo_crop_targets(
                settings, fold_table, tp, fp, found, n_frames, clip_seconds
            )
            quality |= evaluation.pseudo_crop_quality(
                targets, settings.window, n_frames, clip_seconds, truth
            )
            result[stage]["pseudo"] = {k: None if v != v else v for k, v in quality.items()}
    flagged, below, baseline = [], [], None
    if ensemble_test and test_truth:
        ids = pd.read_parquet(ensemble_test, columns=["recording_id"])["recording_id"].tolist()
        baseline = evaluation.random_lwlrap(read_truth(test_truth, ids, n_species))
        flagged = evaluation.flag_random(result, *baseline)
        below = evaluation.flag_below_stage1(result, baseline[1])
    write_json(result, out_path)
    if csv_out:
        write_csv(evaluation.score_table(result), csv_out, index=False, float_format="%.6g")
    if baseline is not None:
        print(
            f"random scores' test LWLRAP: {baseline[0]:.4f} +- {baseline[1]:.4f} "
            f"(mean +- std over {evaluation.RANDOM_DRAWS} draws)",
            file=sys.stderr,
        )
    if flagged:
        print(
            f"WARNING: test LWLRAP of {', '.join(flagged)} is within random scores' mean + std "
            f"({baseline[0] + baseline[1]:.4f}): no better than chance on this test set",
            file=sys.stderr,
        )
    if below:
        print(
            f"WARNING: test LWLRAP of {', '.join(below)} is below stage 1's "
            f"({result['stage1']['test']['lwlrap']:.4f}) by more than random scores' std "
            f"({baseline[1]:.4f}): on this test set the rounds lowered the score; "
            "`ensemble.stages: [stage1]` submits stage 1's models "
            "(docs/evaluation.md#when-the-rounds-lower-the-score)",
            file=sys.stderr,
        )
    rounds = [stage for stage in stage_scores if stage.startswith("round")]
    if rounds and tp_csv and fp_csv and features_dir:
        unknown = unknown_pairs_of(
            annotations(tp_csv),
            annotations(fp_csv),
            manifest()["recording_id"].tolist(),
            n_species,
            int(manifest()["n_frames"].iloc[0]),
            clip_seconds,
            window,
        )
        if unknown == 0:
            print(
                "WARNING: tp/fp label every window of every species of the train recordings, so "
                f"{', '.join(rounds)} had nothing to relabel: their scores differ from stage "
                "1's by training alone (docs/own-data.md#fully-labelled-recordings)",
                file=sys.stderr,
            )
