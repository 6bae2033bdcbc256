"""Training one fold: crop sampling, the loop, per-epoch checkpoints and resume."""

from __future__ import annotations

import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from sedcycle.clips import ClipStore

# crop sampling lives in sedcycle.crops (torch-free, for scoring's replay); named here too
from sedcycle.crops import (  # noqa: F401
    check_crops,
    check_pseudo_targets,
    fold_epochs,
    fold_events,
    fold_schedule,
    grid_epoch,
    labelled_events,
    sample_epoch,
)
from sedcycle.files import atomic_path
from sedcycle.labels import FrameLabels
from sedcycle.losses import clipwise_bce, masked_bce
from sedcycle.model import SEDModel, load_model, model_spec
from sedcycle.schedule import falling_warning
from sedcycle.settings import TrainSettings  # the fields and the config keys behind them


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def window_batch(
    store: ClipStore, labels: FrameLabels, batch: list[tuple[str, int]], window: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch's windows [B, n_mels, window] and targets [B, n_species] in {+1, -1, 0}: each
    (recording_id, start) cut from the clip, zero-padded past the end, and its targets
    (:meth:`FrameLabels.crop_targets`: a species is +1 with a positive frame in the window,
    or a pseudo-label that says so)."""
    x, y, _ = labelled_batch(store, labels, batch, window)
    return x, y


def labelled_batch(
    store: ClipStore, labels: FrameLabels, batch: list[tuple[str, int]], window: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """:func:`window_batch`, and how many of its (crop, species) targets are +1 only because of
    a pseudo-label."""
    x = np.stack([store.window(rec, start, window) for rec, start in batch])
    y, pseudo_only = labels.crop_targets(batch, window)
    return torch.from_numpy(x), torch.from_numpy(y), int(pseudo_only.sum())


def train_fold(
    settings: TrainSettings,
    store: ClipStore,
    labels: FrameLabels,
    events: pd.DataFrame,
    recording_ids: list[str],
    out_path: str | Path,
    init_from: str | Path | None = None,
    progress: bool = True,
    teacher: Teacher | None = None,
) -> list[dict]:
    """Train one model on ``recording_ids`` and write its checkpoint atomically to ``out_path``.

    With ``settings.resume`` an epoch checkpoint ``{out_path}.epoch`` is written after each epoch
    and picked up by the next call, so a killed job resumes where it stopped.
    ``init_from`` is a checkpoint whose weights start the training (a previous round's model).
    ``teacher``: the soft targets of ``settings.soft_weight`` (a previous stage's fold models).
    It trains :func:`sedcycle.crops.fold_epochs` epochs (``settings.epochs``, raised to reach
    ``settings.min_steps`` optimiser steps and ``settings.min_window_passes`` passes over the
    fold's windows), says so on stderr, and stores them as the
    checkpoint's ``epochs``; a loss still falling at the end gets a ``WARNING:`` line on stderr
    (:func:`sedcycle.schedule.still_falling`).
    Returns the per-epoch history: epoch, loss, lr, and pseudo_positives, the epoch's
    (crop, species) targets that are +1 only because of a pseudo-label (what
    :func:`sedcycle.crops.pseudo_positive_crops` replays).
    """
    out_path = Path(out_path)
    if isinstance(settings.unknown_weight, str):
        raise ValueError(
            f"unknown_weight {settings.unknown_weight!r}: resolve it first "
            "(sedcycle.settings.resolve_unknown_weight)"
        )
    check_teacher(settings, teacher)
    check_mixup(settings)
    check_crops(settings)
    check_pseudo_targets(settings)
    events = fold_events(events, recording_ids)
    n_frames = labels.n_frames
    # the epochs really run (settings.min_steps and min_window_passes may raise
    # settings.epochs): the schedule, the loop and the checkpoints' settings all hold them
    n_epochs, steps_per_epoch, lines = fold_schedule(events, recording_ids, n_frames, settings)
    for line in lines:
        print(line, file=sys.stderr)
    settings = replace(settings, epochs=n_epochs)
    device = resolve_device(settings.device)
    torch.manual_seed(settings.seed)
    model = SEDModel(
        settings.backbone,
        settings.n_species,
        settings.pretrained,
        settings.pretrained_path,
        channels_last=settings.channels_last,
    ).to(device)
    if init_from:
        model.load_state_dict(load_model(init_from, device).state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=settings.epochs * steps_per_epoch
    )
    loss_fn = (
        (lambda logits, y, soft: clipwise_bce(logits, y))
        if settings.loss == "clipwise"
        else (
            lambda logits, y, soft: masked_bce(
                logits,
                y,
                settings.scale_positives,
                settings.unknown_weight,
                soft,
                settings.soft_weight,
            )
        )
    )
    history: list[dict] = []
    start_epoch = 0
    epoch_path = out_path.with_name(out_path.name + ".epoch")
    if settings.resume and epoch_path.exists():
        state = torch.load(epoch_path, map_location=device, weights_only=True)
        if state["settings"] == asdict(settings):
            model.load_state_dict(state["state_dict"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            history, start_epoch = state["history"], len(state["history"])
            print(f"resuming {out_path} at epoch {start_epoch}", file=sys.stderr)
        else:
            print(f"ignoring {epoch_path}: written with other settings", file=sys.stderr)

    for epoch in range(start_epoch, settings.epochs):
        plan = sample_epoch(events, recording_ids, n_frames, settings, epoch)
        mix_rng = np.random.default_rng([settings.seed, epoch, 1])  # resumes like the plan
        model.train()
        total, pseudo_positives, bar = (
            0.0,
            0,
            tqdm(
                range(0, len(plan), settings.batch_size),
                desc=f"{out_path.name} epoch {epoch + 1}",
                disable=not progress,
                file=sys.stderr,
                mininterval=5,
                ascii=True,
            ),
        )
        for first in bar:
            batch = plan[first : first + settings.batch_size]
            x, y, n_pseudo = labelled_batch(store, labels, batch, settings.window)
            pseudo_positives += n_pseudo
            if settings.mixup_alpha:
                x, y = mixup(x, (y > 0).float(), settings.mixup_alpha, mix_rng)
            x = x.to(device)
            with torch.autocast(device.type, torch.bfloat16, enabled=settings.amp == "bf16"):
                logits = model(x)["clipwise"]
                soft = teacher(x, [r for r, _ in batch]) if settings.soft_weight else None
            loss = loss_fn(logits.float(), y.to(device), soft)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(batch)
        history.append(
            {
                "epoch": epoch + 1,
                "loss": total / len(plan),
                "lr": scheduler.get_last_lr()[0],
                "pseudo_positives": pseudo_positives,
            }
        )
        print(
            f"epoch {epoch + 1}/{settings.epochs} loss {history[-1]['loss']:.4f}", file=sys.stderr
        )
        if settings.resume:
            save_atomic(
                {
                    "settings": asdict(settings),
                    "state_dict": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "history": history,
                },
                epoch_path,
            )
    save_atomic(
        {
            "model_spec": model_spec(model),
            "state_dict": model.state_dict(),
            "settings": asdict(settings),
            "history": history,
        },
        out_path,
    )
    epoch_path.unlink(missing_ok=True)
    warning = falling_warning(settings, str(out_path), [h["loss"] for h in history])
    if warning:
        print(warning, file=sys.stderr)
    return history


class Teacher:
    """The soft targets of ``relabel.soft_weight``: the mean clipwise probability of a previous
    stage's fold models on the very crops being trained on (the quantity the loss trains, where
    the window scores of predict, a max over frames, would sit above it).

    With ``fold_of`` (recording_id -> fold; ``relabel.soft_out_of_fold``) each crop's target
    comes instead from the one model that never trained on its recording, ``models[fold]``:
    the fold models that did train on it learnt its labels, unlabelled calls as absent."""

    def __init__(
        self,
        models: list[torch.nn.Module],
        n_species: int,
        fold_of: dict[str, int] | None = None,
    ):
        if not models:
            raise ValueError("a teacher needs at least one model")
        if fold_of is not None:
            outside = sorted({int(f) for f in fold_of.values()} - set(range(len(models))))
            if outside:
                raise ValueError(
                    f"an out-of-fold teacher needs one model per fold: folds {outside} have "
                    f"none among its {len(models)} models"
                )
        self.models = [m.eval() for m in models]
        self.n_species = n_species
        self.fold_of = fold_of

    @classmethod
    def from_checkpoints(
        cls,
        paths: list[str | Path],
        device: torch.device,
        fold_of: dict[str, int] | None = None,
    ) -> Teacher:
        """``paths`` in fold order when ``fold_of`` is given (paths[k]: fold k's model)."""
        models = [load_model(path, device) for path in paths]
        species = {model_spec(m)["n_species"] for m in models}
        if len(species) != 1:
            raise ValueError(f"the teacher's models score different species counts: {species}")
        return cls(models, species.pop(), fold_of)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, recording_ids: list[str] | None = None) -> torch.Tensor:
        if self.fold_of is None:
            probs = [torch.sigmoid(model(x)["clipwise"].float()) for model in self.models]
            return torch.stack(probs).mean(0)
        if recording_ids is None or len(recording_ids) != len(x):
            raise ValueError("an out-of-fold teacher needs each crop's recording_id")
        missing = sorted({r for r in recording_ids if r not in self.fold_of})
        if missing:
            raise ValueError(f"the out-of-fold teacher has no fold for recordings {missing[:5]}")
        folds = torch.tensor([int(self.fold_of[r]) for r in recording_ids])
        out = torch.empty(len(x), self.n_species, device=x.device)
        for fold in folds.unique().tolist():
            rows = (folds == fold).nonzero().squeeze(1).to(x.device)
            out[rows] = torch.sigmoid(self.models[fold](x[rows])["clipwise"].float())
        return out


def mixup(
    x: torch.Tensor, y: torch.Tensor, alpha: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018) within a batch: each window and its targets (in [0, 1]) become
    lam * itself + (1 - lam) * another window of the batch, lam ~ Beta(alpha, alpha), one lam
    and one pairing a batch."""
    lam = float(rng.beta(alpha, alpha))
    other = torch.from_numpy(rng.permutation(len(x)))
    return lam * x + (1 - lam) * x[other], lam * y + (1 - lam) * y[other]


def check_mixup(settings: TrainSettings) -> None:
    """Mixup blends targets, which only the clipwise loss (stage 1) has for every pair: the
    masked loss's +1 / -1 / unknown labels do not mix."""
    if settings.mixup_alpha < 0:
        raise ValueError(f"mixup_alpha must be >= 0 (0: off), got {settings.mixup_alpha}")
    if settings.mixup_alpha and settings.loss != "clipwise":
        raise ValueError(
            f"mixup_alpha ({settings.mixup_alpha}) applies to the clipwise loss (stage 1) only: "
            "the masked loss's known and unknown pairs do not mix"
        )


def check_teacher(settings: TrainSettings, teacher: Teacher | None) -> None:
    """soft_weight needs a teacher of the model's species, and is the masked loss's alone.

    With unknown_weight w > 0 too, both weigh the unknown pairs: w * BCE(l, 0) + s * KL(q || p)
    is (w + s) * BCE(l, s * q / (w + s)) up to a constant, the teacher's soft targets q shrunk
    towards absent (a weak-negative prior)."""
    if not settings.soft_weight:
        if settings.soft_out_of_fold:
            raise ValueError(
                "soft_out_of_fold chooses the soft targets' model: set soft_weight > 0"
            )
        return
    if settings.loss != "masked":
        raise ValueError("soft_weight applies to the masked loss (relabel rounds) only")
    if teacher is None:
        raise ValueError("soft_weight > 0 needs the teacher's models (soft targets)")
    if settings.soft_out_of_fold != (teacher.fold_of is not None):
        raise ValueError(
            f"soft_out_of_fold is {settings.soft_out_of_fold}, but the teacher "
            + ("knows" if teacher.fold_of is not None else "does not know")
            + " each recording's fold"
        )
    if teacher.n_species != settings.n_species:
        raise ValueError(
            f"the teacher's models score {teacher.n_species} species, the model "
            f"{settings.n_species}"
        )


def save_atomic(obj: dict, path: str | Path) -> None:
    """torch.save that never leaves a half-written checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
