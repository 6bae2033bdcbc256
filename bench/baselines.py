"""The named baselines the benchmarks measure sedcycle against: the source's plain loops.

Imported by the benchmarks (``bench/*.py``) and by tests/test_bench_equivalence.py, which
checks that sedcycle's fast paths give the same numbers as these.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sedcycle.labels import FrameLabels, window_target
from sedcycle.losses import clipwise_bce
from sedcycle.model import SEDModel
from sedcycle.train import TrainSettings, sample_epoch
from sedcycle.windows import crop


def whole_clip_window(path: str | Path, start: int, window: int) -> np.ndarray:
    """np.load the whole clip, scale it to 0..1 by its min and max, crop one window (float32)."""
    clip = np.load(path).astype(np.float32)
    low, high = float(clip.min()), float(clip.max())
    return crop((clip - low) / max(high - low, 1e-6), start, window)


@torch.no_grad()
def source_predict(
    model: SEDModel, features_dir: str | Path, recording_ids: list[str], positions: np.ndarray
) -> np.ndarray:
    """One forward call per window per clip: [n_recordings * n_windows, n_species] scores.

    Per window: max over its real frames of sigmoid(framewise), as predict_windows.
    ``model`` is used as given (build it with ``channels_last=False`` for the NCHW baseline).
    """
    model.eval()
    window = int(positions[0, 1] - positions[0, 0])
    rows = []
    for rec in recording_ids:
        clip = np.load(Path(features_dir) / f"{rec}.npy").astype(np.float32)
        low, high = float(clip.min()), float(clip.max())
        scaled = (clip - low) / max(high - low, 1e-6)
        for start in positions[:, 0]:
            x = torch.from_numpy(crop(scaled, int(start), window))[None]
            probs = torch.sigmoid(model(x)["framewise"])[0]
            valid = max(min(window, clip.shape[-1] - int(start)), 1)
            rows.append(probs[:, :valid].amax(dim=-1).numpy())
    return np.stack(rows)


def source_train(
    settings: TrainSettings,
    features_dir: str | Path,
    labels: FrameLabels,
    events: pd.DataFrame,
    recording_ids: list[str],
    out_path: str | Path | None = None,
) -> list[float]:
    """The source's stage-1 loop: fp32, NCHW, each window from an np.load of its whole clip.

    Same seed, crops, optimiser and cosine schedule as ``sedcycle.train.train_fold`` with
    ``loss="clipwise"``, so the two give the same per-step losses up to float rounding.
    Returns the per-step losses; saves the weights to ``out_path`` when given.
    """
    events = events[events["recording_id"].isin(set(recording_ids))].reset_index(drop=True)
    torch.manual_seed(settings.seed)
    model = SEDModel(settings.backbone, settings.n_species, channels_last=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    n_frames = labels.n_frames
    plans = [
        sample_epoch(events, recording_ids, n_frames, settings, epoch)
        for epoch in range(settings.epochs)
    ]
    steps = -(-len(plans[0]) // settings.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs * steps)
    losses = []
    model.train()
    for plan in plans:
        for first in range(0, len(plan), settings.batch_size):
            batch = plan[first : first + settings.batch_size]
            x = torch.from_numpy(
                np.stack(
                    [
                        whole_clip_window(Path(features_dir) / f"{r}.npy", s, settings.window)
                        for r, s in batch
                    ]
                )
            )
            y = torch.from_numpy(
                np.stack([window_target(crop(labels[r], s, settings.window)) for r, s in batch])
            )
            loss = clipwise_bce(model(x)["clipwise"], y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
    if out_path is not None:
        torch.save({"state_dict": model.state_dict()}, out_path)
    return losses
