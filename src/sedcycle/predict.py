"""Batched framewise inference: window scores for many clips at once."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from sedcycle.clips import ClipStore
from sedcycle.model import SEDModel
from sedcycle.tables import species_columns


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

    Windows of several clips share a batch. Returns one row per (recording, window):
    recording_id, window (index), start (frame), s0..s{n-1}.
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
        x = torch.from_numpy(
            np.stack([store.window(rec, start, window) for rec, _, start in batch])
        )
        with torch.autocast(device.type, torch.bfloat16, enabled=amp == "bf16"):
            framewise = model(x.to(device))["framewise"].float()
        probs = torch.sigmoid(framewise).cpu().numpy()  # [B, n_species, window]
        for row, (rec, _, start) in enumerate(batch):
            valid = max(min(window, store.n_frames(rec) - start), 1)
            scores[first + row] = probs[row, :, :valid].max(axis=-1)
    table = pd.DataFrame(scores, columns=species_columns(model.n_species))
    table.insert(0, "start", [start for _, _, start in jobs])
    table.insert(0, "window", [i for _, i, _ in jobs])
    table.insert(0, "recording_id", [rec for rec, _, _ in jobs])
    return table
