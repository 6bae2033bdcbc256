"""Steps of training: one relabel round's pseudo-labels, and the training of one fold of
stage 1 or of a relabel round.

The training steps' paths are named as the rules' inputs and outputs (features, tp, fp, folds,
pseudo, init, teacher; model, history), which the scripts pass on by name.
"""

from __future__ import annotations

import sys
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sedcycle.crops import fold_labels, fold_recordings
from sedcycle.files import write_csv, write_parquet
from sedcycle.labels import FrameLabels, read_annotations
from sedcycle.pseudo import (
    labelled_windows,
    out_of_fold_scores,
    pseudo_negatives,
    pseudo_positives,
)
from sedcycle.review import thresholds
from sedcycle.steps.data import MANIFEST
from sedcycle.tables import score_columns


def pseudo_labels(
    train_predictions: list[str],
    out_path: str,
    window: int,
    threshold: float,
    min_votes: int,
    negative_threshold: float | None = None,
    out_of_fold: bool = False,
    folds_csv: str | None = None,
    target_precision: float | None = None,
    tp: str | None = None,
    fp: str | None = None,
    features: str | None = None,
    clip_seconds: float | None = None,
) -> None:
    """One round's pseudo-labels: positives, plus negatives when ``negative_threshold`` is set.

    train_predictions: fold k's model's window scores of every train recording, k = 0, 1, ...
    ``out_of_fold``: each recording is labelled by the one model that never trained on it
    (its fold in ``folds_csv``), so a model never votes for labels it learnt; ``min_votes``
    is then unused (one vote).
    ``target_precision``: each species' threshold is calibrated on the out-of-fold scores of
    the windows its ``tp``/``fp`` rows decide (``features``' manifest gives the frames a clip
    of ``clip_seconds``); a species that cannot be fitted keeps ``threshold``.
    """
    tables = [pd.read_parquet(p) for p in train_predictions]
    folds = None
    if folds_csv is not None:
        table = pd.read_csv(folds_csv, dtype={"recording_id": str})
        folds = table.set_index("recording_id")["fold"]
    if out_of_fold or target_precision is not None:
        if folds is None:
            raise ValueError("out-of-fold scores need the folds table")
        oof = out_of_fold_scores(tables, folds)
    if target_precision is not None:
        threshold = calibrated(
            oof, window, threshold, target_precision, tp, fp, features, clip_seconds
        )
    if out_of_fold:
        tables, min_votes = [oof], 1
    pseudo = pseudo_positives(tables, window, threshold, min_votes)
    print(f"{len(pseudo)} pseudo-positive windows from {len(tables)} models", file=sys.stderr)
    if negative_threshold is not None:
        if negative_threshold >= np.min(threshold):
            raise ValueError(
                f"relabel.pseudo_negative_threshold ({negative_threshold}) must be below "
                f"relabel.pseudo_threshold ({np.min(threshold):g}; the lowest calibrated one "
                "with pseudo_target_precision)"
            )
        negatives = pseudo_negatives(tables, window, negative_threshold)
        print(
            f"{len(negatives)} pseudo-negative windows (all < {negative_threshold})",
            file=sys.stderr,
        )
        pseudo = pd.concat([pseudo, negatives], ignore_index=True)
    write_parquet(pseudo, out_path)


def calibrated(
    oof: pd.DataFrame,
    window: int,
    default: float,
    target_precision: float,
    tp: str | None,
    fp: str | None,
    features: str | None,
    clip_seconds: float | None,
) -> np.ndarray:
    """Per-species pseudo thresholds at ``target_precision`` (``sedcycle.review.thresholds`` of
    ``sedcycle.pseudo.labelled_windows``) on the out-of-fold window scores ``oof`` and the
    tp/fp rows; the table goes to the log."""
    if None in (tp, fp, features, clip_seconds):
        raise ValueError("relabel.pseudo_target_precision needs the tp/fp tables and features")
    n_species = len(score_columns(oof))
    manifest = pd.read_csv(Path(features) / MANIFEST, dtype={"recording_id": str})
    labelled = labelled_windows(
        oof,
        read_annotations(tp, n_species, clip_seconds),
        read_annotations(fp, n_species, clip_seconds),
        n_frames=int(manifest["n_frames"].iloc[0]),
        window=window,
        clip_seconds=clip_seconds,
    )
    table = thresholds(labelled, n_species, target_precision, default)
    print(
        f"pseudo thresholds at precision {target_precision} from {len(labelled)} labelled "
        f"windows (out-of-fold scores):\n{table.to_string(index=False)}",
        file=sys.stderr,
    )
    return table["start_threshold"].to_numpy(dtype=np.float64)


def unknown_pairs_lines(
    labels: FrameLabels, recording_ids: list[str], window: int, model: str
) -> list[str]:
    """A round's log lines on what it can relabel: how many (recording, species) pairs of its
    training recordings tp/fp leave a window of unlabelled time
    (:meth:`sedcycle.labels.FrameLabels.unknown_pairs`), and a warning where none: pseudo-labels,
    soft targets and weak negatives act on such pairs alone, so the round then trains on the
    labels the stage before it had (more training, not relabelling)."""
    unknown = labels.unknown_pairs(recording_ids, window)
    pairs = len(recording_ids) * labels.n_species
    lines = [
        f"unknown pairs: {unknown} of {pairs} (recording, species) pairs of the training "
        f"recordings have a window ({window} frames) without a tp/fp label"
    ]
    if unknown == 0:
        lines.append(
            f"WARNING: {model}: tp/fp label every window of every species in its training "
            "recordings, so this round has nothing to relabel (pseudo-labels, soft targets and "
            "weak negatives act on unlabelled pairs alone): it trains on the labels the stage "
            "before it had, and its scores differ from that stage's by training alone "
            "(docs/own-data.md#fully-labelled-recordings)"
        )
    return lines


def train_stage1(**arguments) -> None:
    """Train one fold of stage 1: :func:`train_round`, on the tp/fp labels alone (the stage-1
    rule has no pseudo-labels, initial model or teacher among its inputs)."""
    train_round(**arguments)


def train_round(
    features: str,
    tp: str,
    fp: str,
    folds: str,
    fold: int,
    model: str,
    settings: dict,
    clip_seconds: float,
    threads: int,
    resume: bool = True,
    history: str | None = None,
    pseudo: str | None = None,
    init: str | None = None,
    teacher: list[str] | None = None,
) -> None:
    """Train fold ``fold`` on every other fold's recordings (tp/fp labels, plus pseudo-labels).

    features: the train features folder; tp, fp: the label csvs; folds: folds.csv; model: the
    checkpoint to write. ``settings``: :class:`sedcycle.train.TrainSettings` fields but
    ``resume`` (how a job recovers, not what it computes, so not in the rule's params).
    ``pseudo``: the round's pseudo-labels (targets as ``settings["pseudo_targets"]`` says);
    ``init``: a checkpoint to start from. An unknown_weight of "auto" (rounds) and crops of
    "auto" (stage 1 and rounds) are resolved here from the whole tp/fp tables' row counts
    (:func:`sedcycle.settings.resolve_unknown_weight`, :func:`sedcycle.settings.resolve_crops`;
    the log says which), the same for every fold, and the checkpoint stores the outcome.

    ``teacher``: the previous stage's fold model checkpoints, in fold order, whose mean clipwise
    probability on each crop is the soft target of its unknown pairs when
    ``settings["soft_weight"]`` > 0 (with ``soft_out_of_fold``: the probability of the one
    model that never trained on the crop's recording).

    ``history``: a csv of the per-epoch mean training loss and learning rate (the report's
    loss curves); the checkpoint holds the same history.
    """
    import torch

    from sedcycle.clips import ClipStore
    from sedcycle.settings import resolve_crops, resolve_unknown_weight
    from sedcycle.train import Teacher, TrainSettings, labelled_events, resolve_device, train_fold

    torch.set_num_threads(threads)
    known = {f.name for f in fields(TrainSettings)}
    unknown = set(settings) - known
    if unknown:
        raise ValueError(f"unknown training setting(s) {sorted(unknown)}")
    settings = TrainSettings(**{**settings, "resume": resume})
    table = pd.read_csv(folds, dtype={"recording_id": str})
    train_ids = fold_recordings(table, fold)
    store = ClipStore(features, train_ids)
    n_frames = store.n_frames(train_ids[0])
    tp_rows = read_annotations(tp, settings.n_species, clip_seconds)
    fp_rows = read_annotations(fp, settings.n_species, clip_seconds)
    if settings.loss == "masked":
        weight, line = resolve_unknown_weight(settings, len(tp_rows), len(fp_rows))
        print(line, file=sys.stderr)
        settings = replace(settings, unknown_weight=weight)
    crops, line = resolve_crops(settings, len(tp_rows), len(fp_rows))
    print(line, file=sys.stderr)
    settings = replace(settings, crops=crops)
    pseudo_rows = pd.read_parquet(pseudo) if pseudo else None
    labels = fold_labels(tp_rows, fp_rows, pseudo_rows, train_ids, settings, n_frames, clip_seconds)
    if settings.loss == "masked":
        for line in unknown_pairs_lines(labels, train_ids, settings.window, model):
            print(line, file=sys.stderr)
    events = labelled_events(tp_rows, fp_rows, n_frames, clip_seconds)
    teacher_models = None
    if teacher:
        fold_of = (
            dict(zip(table["recording_id"], table["fold"].astype(int), strict=True))
            if settings.soft_out_of_fold
            else None
        )
        teacher_models = Teacher.from_checkpoints(
            list(teacher), resolve_device(settings.device), fold_of
        )
    epochs = train_fold(
        settings,
        store,
        labels,
        events,
        train_ids,
        model,
        init_from=init or None,
        teacher=teacher_models,
    )
    if history:
        write_csv(pd.DataFrame(epochs, columns=["epoch", "loss", "lr"]), history, index=False)
