"""Crop sampling: which (recording, start frame) crops a fold trains on each epoch, and a replay
of a fold's crops that finds the targets pseudo-labels made.

Without torch (numpy and pandas alone), so that scoring (collect_scores, whose environment has
no torch) replays exactly what :func:`sedcycle.train.train_fold` trains on.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sedcycle.labels import FrameLabels, time_to_frame
from sedcycle.schedule import epochs_line, pass_epochs, passes_line, training_epochs
from sedcycle.settings import AUTO, CROPS, PSEUDO_TARGETS, TrainSettings
from sedcycle.windows import window_positions


def labelled_events(
    tp: pd.DataFrame, fp: pd.DataFrame, n_frames: int, clip_seconds: float
) -> pd.DataFrame:
    """tp and fp rows as crop centres: recording_id, centre (frame), is_tp."""
    events = pd.concat([tp.assign(is_tp=True), fp.assign(is_tp=False)], ignore_index=True)
    first = time_to_frame(events["t_min"].to_numpy(), n_frames, clip_seconds)
    last = time_to_frame(events["t_max"].to_numpy(), n_frames, clip_seconds)
    return pd.DataFrame(
        {
            "recording_id": events["recording_id"],
            "centre": (first + last) // 2,
            "is_tp": events["is_tp"],
        }
    )


def fold_recordings(folds: pd.DataFrame, fold: int) -> list[str]:
    """The recordings fold ``fold``'s model trains on: every other fold's, in folds.csv order
    (the order :func:`sample_epoch` draws random recordings from)."""
    return folds.loc[folds["fold"] != fold, "recording_id"].tolist()


def fold_labels(
    tp: pd.DataFrame,
    fp: pd.DataFrame,
    pseudo: pd.DataFrame | None,
    recording_ids: list[str],
    settings: TrainSettings,
    n_frames: int,
    clip_seconds: float,
) -> FrameLabels:
    """A fold's labels: tp/fp rows, and the pseudo-labels of its training recordings
    ``recording_ids`` as targets of ``settings.pseudo_targets``."""
    labels = FrameLabels.from_annotations(tp, fp, settings.n_species, n_frames, clip_seconds)
    if pseudo is not None:
        own = pseudo[pseudo["recording_id"].isin(set(recording_ids))]
        labels.add_pseudo(own, settings.pseudo_targets)
    return labels


def fold_events(events: pd.DataFrame, recording_ids: list[str]) -> pd.DataFrame:
    """The events of a fold's training recordings, the ones its crops centre on."""
    return events[events["recording_id"].isin(set(recording_ids))].reset_index(drop=True)


def sample_epoch(
    events: pd.DataFrame,
    recording_ids: list[str],
    n_frames: int,
    settings: TrainSettings,
    epoch: int,
) -> list[tuple[str, int]]:
    """The epoch's crops as (recording_id, start frame), seeded by (seed, epoch).

    Every tp event and a ``fp_fraction`` sample of fp events give a crop that contains the
    event's centre; with ``labelled_crop_prob`` < 1 each crop is instead, with the remaining
    probability, a random window of a random training recording (where pseudo-labels live):
    a random start, or with ``pseudo_targets`` "windows" a random window of the grid
    pseudo-labels are voted on (``window_positions`` with ``cover``), so that a pseudo-labelled
    window is cropped exactly. With ``crops`` "grid" the epoch is :func:`grid_epoch` instead.
    """
    check_crops(settings)
    check_pseudo_targets(settings)
    if settings.crops == "grid":
        return grid_epoch(recording_ids, n_frames, settings, epoch)
    rng = np.random.default_rng([settings.seed, epoch])
    tp, fp = events[events["is_tp"]], events[~events["is_tp"]]
    fp = fp.iloc[rng.permutation(len(fp))[: round(settings.fp_fraction * len(fp))]]
    chosen = pd.concat([tp, fp], ignore_index=True)
    n_samples = settings.samples_per_epoch or len(chosen)
    if n_samples == 0 or len(chosen) == 0:
        raise ValueError("no labelled event to train on (empty train_tp.csv and train_fp.csv?)")
    window, last_start = settings.window, max(n_frames - settings.window, 0)
    grid = (
        window_positions(n_frames, window, settings.cover)[:, 0]
        if settings.pseudo_targets == "windows"
        else None
    )
    # by default each chosen event is cropped once an epoch; a fixed size draws with replacement
    picks = (
        rng.permutation(len(chosen))
        if settings.samples_per_epoch is None
        else rng.integers(0, len(chosen), n_samples)
    )
    plan = []
    for pick in picks:
        if rng.random() < settings.labelled_crop_prob:
            rec, centre = chosen["recording_id"].iat[pick], int(chosen["centre"].iat[pick])
            low, high = max(0, min(centre - window + 1, last_start)), min(centre, last_start)
            plan.append((rec, int(rng.integers(low, high + 1))))
        else:
            rec = recording_ids[int(rng.integers(0, len(recording_ids)))]
            if grid is None:
                plan.append((rec, int(rng.integers(0, last_start + 1))))
            else:
                plan.append((rec, int(grid[rng.integers(0, len(grid))])))
    return plan


def fold_epochs(
    events: pd.DataFrame, recording_ids: list[str], n_frames: int, settings: TrainSettings
) -> tuple[int, int]:
    """(epochs, batches an epoch) of a fold trained on ``recording_ids`` with their
    ``events`` (:func:`fold_events`): the batches of its first epoch's plan (every epoch's is
    as long), and ``settings.epochs`` raised to reach ``settings.min_steps`` steps
    (:func:`sedcycle.schedule.training_epochs`) and ``settings.min_window_passes`` passes
    (:func:`fold_schedule`)."""
    epochs, batches, _ = fold_schedule(events, recording_ids, n_frames, settings)
    return epochs, batches


def fold_schedule(
    events: pd.DataFrame, recording_ids: list[str], n_frames: int, settings: TrainSettings
) -> tuple[int, int, list[str]]:
    """:func:`fold_epochs` with the log lines that say why: (epochs, batches an epoch, lines).

    ``min_window_passes`` counts the fold's grid windows (its recordings times the positions
    of ``window`` frames overlapping by ``cover``) and an epoch's random crops: with event crops
    the share ``1 - labelled_crop_prob`` of the plan on average, with grid crops the whole plan
    (each window once). The epochs are the most of what ``epochs``, ``min_steps`` and
    ``min_window_passes`` ask for.
    """
    plan = sample_epoch(events, recording_ids, n_frames, settings, 0)
    batches = math.ceil(len(plan) / settings.batch_size)
    epochs = training_epochs(settings, batches)
    lines = [epochs_line(settings, batches)]
    if settings.min_window_passes:
        windows, random_crops = window_counts(recording_ids, n_frames, len(plan), settings)
        lines.append(passes_line(settings, windows, random_crops, epochs))
        epochs = max(epochs, pass_epochs(settings, windows, random_crops))
    return epochs, batches, lines


def window_counts(
    recording_ids: list[str], n_frames: int, n_crops: int, settings: TrainSettings
) -> tuple[int, float]:
    """(grid windows, random crops an epoch) of a fold trained on ``recording_ids`` with
    ``n_crops`` crops an epoch: the recordings times the positions of ``window`` frames
    overlapping by ``cover``, and the ``1 - labelled_crop_prob`` share of the crops on average
    (all of them with grid crops, each window once)."""
    if settings.cover is None:
        raise ValueError(
            "min_window_passes counts the grid's windows: it needs cover, their overlap "
            "(windows.cover)"
        )
    windows = len(recording_ids) * len(window_positions(n_frames, settings.window, settings.cover))
    share = 1.0 if settings.crops == "grid" else 1.0 - settings.labelled_crop_prob
    return windows, share * n_crops


def grid_epoch(
    recording_ids: list[str], n_frames: int, settings: TrainSettings, epoch: int
) -> list[tuple[str, int]]:
    """Every fixed window of every recording once, as (recording_id, start frame), shuffled
    by (seed, epoch): the windows of :func:`sedcycle.windows.window_positions` (``window``
    frames, overlapping by ``cover``; the last one runs past the clip and is zero-padded)."""
    if not recording_ids:
        raise ValueError("no recording to train on")
    starts = window_positions(n_frames, settings.window, settings.cover)[:, 0]
    grid = [(rec, int(start)) for rec in recording_ids for start in starts]
    order = np.random.default_rng([settings.seed, epoch]).permutation(len(grid))
    return [grid[i] for i in order]


def check_crops(settings: TrainSettings) -> None:
    """crops is "events" or "grid" ("auto" resolved: :func:`sedcycle.settings.resolve_crops`);
    the grid needs its overlap and takes every window."""
    if settings.crops == AUTO:
        raise ValueError("crops 'auto': resolve it first (sedcycle.settings.resolve_crops)")
    if settings.crops not in CROPS:
        raise ValueError(f"crops must be one of {', '.join(CROPS)}, got {settings.crops!r}")
    if settings.crops != "grid":
        return
    if settings.cover is None:
        raise ValueError("crops 'grid' needs cover, the windows' overlap (windows.cover)")
    if settings.samples_per_epoch is not None:
        raise ValueError(
            f"samples_per_epoch ({settings.samples_per_epoch}) sizes event crops: crops 'grid' "
            "trains on every window"
        )


def check_pseudo_targets(settings: TrainSettings) -> None:
    """pseudo_targets is "frames" or "windows"; "windows" crops the grid, which needs cover."""
    if settings.pseudo_targets not in PSEUDO_TARGETS:
        raise ValueError(
            f"pseudo_targets must be one of {', '.join(PSEUDO_TARGETS)}, "
            f"got {settings.pseudo_targets!r}"
        )
    if settings.pseudo_targets == "windows" and settings.cover is None:
        raise ValueError(
            "pseudo_targets 'windows' needs cover, the overlap of the windows pseudo-labels "
            "are voted on (windows.cover)"
        )


def pseudo_positive_crops(
    settings: TrainSettings,
    labels: FrameLabels,
    events: pd.DataFrame,
    recording_ids: list[str],
) -> pd.DataFrame:
    """Replay one fold's training crops (every epoch's :func:`sample_epoch` on the events of
    ``recording_ids``, as :func:`sedcycle.train.train_fold` draws them) and return each
    (crop, species) whose target is +1 only because of a pseudo-label
    (:meth:`FrameLabels.crop_targets`): epoch (0-based), recording_id, start, species_id, one row
    a time it is trained on; as many epochs as the fold trained (:func:`fold_epochs`)."""
    events = fold_events(events, recording_ids)
    found = []
    n_epochs, _ = fold_epochs(events, recording_ids, labels.n_frames, settings)
    for epoch in range(n_epochs):
        plan = sample_epoch(events, recording_ids, labels.n_frames, settings, epoch)
        _, pseudo_only = labels.crop_targets(plan, settings.window)
        rows, species = np.nonzero(pseudo_only)
        found.append(
            pd.DataFrame(
                {
                    "epoch": np.full(len(rows), epoch, dtype=np.int64),
                    "recording_id": [plan[i][0] for i in rows],
                    "start": np.array([plan[i][1] for i in rows], dtype=np.int64),
                    "species_id": species.astype(np.int64),
                }
            )
        )
    columns = ["epoch", "recording_id", "start", "species_id"]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=columns)
