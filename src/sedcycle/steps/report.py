"""Steps of the report (``snakemake --report``): the figures of the scores, pseudo-labels and
loss curves, and one test clip's spectrogram under the last stage's framewise scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from sedcycle.steps.data import feature_ids


def report_figures(
    scores_json: str,
    scores_csv: str,
    histories: dict[str, list[str]],
    outputs: dict[str, str],
) -> None:
    """The report's table figures: LWLRAP per stage, per-species AP heatmap, pseudo-label
    quality per round, training loss curves (outputs: lwlrap, species_ap, pseudo, losses)."""
    from sedcycle import plots

    scores = json.loads(Path(scores_json).read_text())
    table = pd.read_csv(scores_csv)
    stages = [s for s in table["stage"] if s != "ensemble"]
    plots.lwlrap_per_stage(table, outputs["lwlrap"])
    plots.species_ap_heatmap(scores, stages, outputs["species_ap"])
    plots.pseudo_quality(table, outputs["pseudo"])
    plots.loss_curves(histories, outputs["losses"])


def clip_figure(
    model_paths: list[str],
    features_dir: str,
    out_path: str,
    window: int,
    cover: int,
    clip_seconds: float,
    threads: int,
    test_truth: str | None = None,
) -> None:
    """Spectrogram of one test clip under its framewise scores by the given fold models.

    The clip: the test recording with the most species in the truth (first by id on ties), or
    the first test recording by id without truth.
    """
    import torch

    from sedcycle import plots
    from sedcycle.clips import ClipStore
    from sedcycle.labels import time_to_frame
    from sedcycle.predict import framewise_clip, load_models

    torch.set_num_threads(threads)
    ids = sorted(feature_ids(features_dir))
    truth = None
    recording_id = ids[0]
    if test_truth:
        truth = pd.read_csv(test_truth, dtype={"recording_id": str})
        truth = truth[truth["recording_id"].isin(set(ids))]
        if len(truth):
            counts = truth.groupby("recording_id")["species_id"].nunique()
            recording_id = sorted(counts.index[counts == counts.max()])[0]
    store = ClipStore(features_dir, [recording_id])
    models = load_models(model_paths, "cpu")
    framewise = framewise_clip(models, store, recording_id, window, cover)
    n_frames = framewise.shape[1]
    calls = None
    if truth is not None:
        calls = truth[truth["recording_id"] == recording_id].copy()
        calls["first"] = time_to_frame(calls["t_min"].to_numpy(), n_frames, clip_seconds)
        calls["last"] = time_to_frame(calls["t_max"].to_numpy(), n_frames, clip_seconds)
    logmel = np.asarray(store.clip(recording_id), dtype=np.float32)
    title = f"test clip {recording_id}: mean of {len(models)} fold model(s)"
    plots.clip_scores_figure(logmel, framewise, out_path, title, calls)
