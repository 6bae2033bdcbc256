"""The report's figures (matplotlib, no display): scores per stage, per-species AP, pseudo-label
quality, training loss curves, and one test clip's spectrogram with framewise scores."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sedcycle.files import atomic_path  # noqa: E402


def _save(figure: plt.Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)


def lwlrap_per_stage(scores: pd.DataFrame, out_path: str | Path) -> None:
    """Test LWLRAP (raw and prior-scaled) and OOF LWLRAP per stage, from a scores.csv table."""
    figure, axis = plt.subplots(figsize=(6, 3.5))
    x = np.arange(len(scores))
    for column, label, marker in (
        ("test_lwlrap", "test (hidden truth)", "o"),
        ("test_lwlrap_prior", "test, prior-scaled", "^"),
        ("oof_lwlrap", "OOF (hidden truth)", "s"),
        ("oof_tp_lwlrap", "OOF (tp labels)", "x"),
    ):
        values = pd.to_numeric(scores[column], errors="coerce")
        if values.notna().any():
            axis.plot(x, values, marker=marker, label=label)
    axis.set_xticks(x, scores["stage"])
    axis.set_ylabel("LWLRAP")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    _save(figure, out_path)


def species_ap_heatmap(scores: dict, stages: list[str], out_path: str | Path) -> None:
    """Per-species test AP of each stage (rows) as a heatmap; blank where not measured."""
    rows = [scores.get(stage, {}).get("test_species_ap") for stage in stages]
    n_species = max((len(r) for r in rows if r), default=0)
    matrix = np.full((len(stages), max(n_species, 1)), np.nan)
    for i, row in enumerate(rows):
        for k, value in enumerate(row or []):
            matrix[i, k] = np.nan if value is None else value
    figure, axis = plt.subplots(figsize=(max(4, 0.4 * n_species + 2), 0.5 * len(stages) + 1.5))
    image = axis.imshow(matrix, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    axis.set_yticks(range(len(stages)), stages)
    axis.set_xticks(range(n_species), [f"s{k}" for k in range(n_species)], fontsize=7)
    axis.set_xlabel("species")
    for (i, k), value in np.ndenumerate(matrix):
        if np.isfinite(value):
            axis.text(k, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color="w")
    figure.colorbar(image, ax=axis, label="test AP")
    _save(figure, out_path)


def pseudo_quality(scores: pd.DataFrame, out_path: str | Path) -> None:
    """Each round's pseudo-positive count (bars) and precision/recall against train truth."""
    rounds = scores[pd.to_numeric(scores["pseudo_count"], errors="coerce").notna()]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    x = np.arange(len(rounds))
    counts = axis.twinx()
    counts.bar(x, rounds["pseudo_count"], color="lightgrey", label="pseudo-positive windows")
    counts.bar(x, rounds["pseudo_new"], color="darkgrey", width=0.5, label="of them new (not tp)")
    counts.set_ylabel("windows")
    axis.set_zorder(counts.get_zorder() + 1)
    axis.patch.set_visible(False)
    for column, label in (("pseudo_precision", "precision"), ("pseudo_recall", "recall")):
        values = pd.to_numeric(rounds[column], errors="coerce")
        if values.notna().any():
            axis.plot(x, values, marker="o", label=label)
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("against train truth")
    axis.set_xticks(x, rounds["stage"])
    handles = axis.get_legend_handles_labels()
    more = counts.get_legend_handles_labels()
    axis.legend(handles[0] + more[0], handles[1] + more[1], fontsize=8, loc="lower left")
    _save(figure, out_path)


def loss_curves(histories: dict[str, list[str]], out_path: str | Path) -> None:
    """Training loss per epoch, one panel per stage, one line per fold.

    histories: stage -> its folds' history csv files (epoch, loss, lr), in fold order.
    """
    figure, axes = plt.subplots(
        1, len(histories), figsize=(3 * len(histories), 3), squeeze=False, sharey=False
    )
    for axis, (stage, paths) in zip(axes[0], histories.items(), strict=True):
        for fold, path in enumerate(paths):
            history = pd.read_csv(path)
            axis.plot(history["epoch"], history["loss"], marker=".", label=f"fold {fold}")
        axis.set_title(stage)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
    axes[0, 0].set_ylabel("mean training loss")
    axes[0, 0].legend(fontsize=7)
    _save(figure, out_path)


def clip_scores_figure(
    logmel: np.ndarray,
    framewise: np.ndarray,
    out_path: str | Path,
    title: str,
    truth: pd.DataFrame | None = None,
    n_shown: int = 3,
) -> None:
    """A log-mel spectrogram [n_mels, n_frames] over the framewise scores [n_species, n_frames]
    of the species scored highest (and those truly present), true calls shaded."""
    present = [] if truth is None else sorted(set(truth["species_id"]))
    top = list(np.argsort(framewise.max(axis=1))[::-1][:n_shown])
    shown = sorted(set(top) | set(present))
    figure, (upper, lower) = plt.subplots(
        2, 1, figsize=(8, 5), sharex=True, gridspec_kw={"height_ratios": [2, 1.3]}
    )
    upper.imshow(logmel, origin="lower", aspect="auto", cmap="magma")
    upper.set_ylabel("mel bin")
    upper.set_title(title, fontsize=9)
    frames = np.arange(framewise.shape[1])
    colours = plt.get_cmap("tab10")
    for i, species in enumerate(shown):
        colour = colours(i % 10)
        lower.plot(frames, framewise[species], color=colour, label=f"s{species}")
        if truth is not None:
            for _, call in truth[truth["species_id"] == species].iterrows():
                lower.axvspan(call["first"], call["last"], color=colour, alpha=0.15)
    lower.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    lower.set_ylim(0, 1.02)
    lower.set_xlabel("frame")
    lower.set_ylabel("framewise score")
    lower.legend(fontsize=7, ncol=min(len(shown), 6), loc="upper right")
    _save(figure, out_path)
