"""Inference: fold checkpoints loaded, clips cut into windows, window scores in batches, and
one clip's framewise scores (the report's figure)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from sedcycle.clips import ClipStore
from sedcycle.model import SEDModel, load_model
from sedcycle.tables import species_columns
from sedcycle.train import resolve_device
from sedcycle.windows import window_positions


@torch.inference_mode()
def predict_windows(
    model: SEDModel,
    store: ClipStore,
    recording_ids: list[str],
    positions: np.ndarray,
    batch_size: int = 64,
    amp: str = "none",
    progress: bool = True,
) -> pd.DataFrame:
    """Score every window of every clip: max over the window's real frames of
    sigmoid(framewise logits).

    Windows of several clips share a batch, and every batch holds ``batch_size`` windows (the
    last one padded with zeros): on CPU a window's score then does not depend on the windows
    beside it, so a recording scores the same bytes whichever recordings share its job
    (execution.shards). Returns one row per (recording, window): recording_id, window (index),
    start (frame), s0..s{n-1}.
    """
    model.eval()
    device = next(model.parameters()).device
    window = int(positions[0, 1] - positions[0, 0])
    jobs = [(rec, i, int(start)) for rec in recording_ids for i, (start, _) in enumerate(positions)]
    scores = np.zeros((len(jobs), model.n_species), dtype=np.float32)
    for first in tqdm(
        range(0, len(jobs), batch_size),
        desc="predict",
        disable=not progress,
        file=sys.stderr,
        mininterval=5,
        ascii=True,
    ):
        batch = jobs[first : first + batch_size]
        windows = [store.window(rec, start, window) for rec, _, start in batch]
        padding = [np.zeros_like(windows[0])] * (batch_size - len(batch))
        x = torch.from_numpy(np.stack(windows + padding))
        with torch.autocast(device.type, torch.bfloat16, enabled=amp == "bf16"):
            framewise = model(x.to(device))["framewise"].float()
        probs = torch.sigmoid(framewise[: len(batch)]).cpu().numpy()  # [B, n_species, window]
        for row, (rec, _, start) in enumerate(batch):
            valid = max(min(window, store.n_frames(rec) - start), 1)
            scores[first + row] = probs[row, :, :valid].max(axis=-1)
    table = pd.DataFrame(scores, columns=species_columns(model.n_species))
    table.insert(0, "start", [start for _, _, start in jobs])
    table.insert(0, "window", [i for _, i, _ in jobs])
    table.insert(0, "recording_id", [rec for rec, _, _ in jobs])
    return table


def load_models(model_paths: list[str], device: str = "cpu") -> list[SEDModel]:
    """Fold checkpoints on ``device`` ("auto": cuda when there is one), in the given order.

    Raises ValueError when there is none or they disagree on n_species.
    """
    if not model_paths:
        raise ValueError("no fold*.pt checkpoint to predict with")
    models = [load_model(path, resolve_device(device)) for path in model_paths]
    species = {str(path): model.n_species for path, model in zip(model_paths, models, strict=True)}
    if len(set(species.values())) > 1:
        raise ValueError(f"the fold checkpoints disagree on n_species: {species}")
    return models


def predict_folder(
    models: list[SEDModel],
    features_dir: str | Path,
    recording_ids: list[str],
    window: int,
    cover: int,
    batch_size: int = 64,
    amp: str = "none",
) -> list[pd.DataFrame]:
    """:func:`predict_windows` of the recordings of a features folder by each model, over
    windows of ``window`` frames overlapping by ``cover``; one table per model (without rows
    when there is no recording: a shard may hold none)."""
    if not recording_ids:
        print(f"{features_dir}: no recording", file=sys.stderr)
        return [empty_scores(model.n_species) for model in models]
    store = ClipStore(features_dir, recording_ids)
    positions = window_positions(store.n_frames(recording_ids[0]), window, cover)
    print(
        f"{features_dir}: {len(recording_ids)} recordings x {len(positions)} windows, "
        f"{len(models)} model(s)",
        file=sys.stderr,
    )
    return [
        predict_windows(model, store, recording_ids, positions, batch_size, amp) for model in models
    ]


def empty_scores(n_species: int) -> pd.DataFrame:
    """A window-score table of :func:`predict_windows`'s columns and dtypes, without rows."""
    table = pd.DataFrame(
        {column: np.zeros(0, dtype=np.float32) for column in species_columns(n_species)}
    )
    table.insert(0, "start", np.zeros(0, dtype=np.int64))
    table.insert(0, "window", np.zeros(0, dtype=np.int64))
    table.insert(0, "recording_id", pd.Series([], dtype=object))
    return table


def framewise_clip(
    models: list[SEDModel], store: ClipStore, recording_id: str, window: int, cover: int
) -> np.ndarray:
    """Framewise scores [n_species, n_frames] of one clip: each model's sigmoid(framewise) over
    overlapping windows (max where windows overlap), averaged over the models."""
    n_frames = store.n_frames(recording_id)
    positions = window_positions(n_frames, window, cover)
    x = torch.from_numpy(np.stack([store.window(recording_id, s, window) for s, _ in positions]))
    total = np.zeros((models[0].n_species, n_frames), dtype=np.float32)
    for model in models:
        device = next(model.parameters()).device
        with torch.inference_mode():
            probs = torch.sigmoid(model(x.to(device))["framewise"]).float().cpu().numpy()
        clip = np.zeros_like(total)
        for (start, _), window_probs in zip(positions, probs, strict=True):
            stop = min(start + window, n_frames)
            span = clip[:, start:stop]
            np.maximum(span, window_probs[:, : stop - start], out=span)
        total += clip
    return total / len(models)
