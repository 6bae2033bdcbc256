"""Training one fold: crop sampling, the loop, per-epoch checkpoints and resume."""

from __future__ import annotations

import math
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from sedcycle.clips import ClipStore
from sedcycle.files import atomic_path
from sedcycle.labels import FrameLabels, time_to_frame, window_target
from sedcycle.losses import clipwise_bce, masked_bce
from sedcycle.model import SEDModel, load_model, model_spec
from sedcycle.settings import CROPS, TrainSettings  # the fields and the config keys behind them
from sedcycle.windows import crop, window_positions


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


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
    probability, a random window of a random training recording (where pseudo-labels live).
    With ``crops`` "grid" the epoch is :func:`grid_epoch` instead.
    """
    check_crops(settings)
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
            plan.append((rec, int(rng.integers(0, last_start + 1))))
    return plan


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
    """crops is "events" or "grid"; the grid needs its overlap and takes every window."""
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


def window_batch(
    store: ClipStore, labels: FrameLabels, batch: list[tuple[str, int]], window: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch's windows [B, n_mels, window] and targets [B, n_species] in {+1, -1, 0}: each
    (recording_id, start) cut from the clip and from its frame labels, both zero-padded past
    the end (padding is no label); a species is +1 with a positive frame in the window."""
    x = np.stack([store.window(rec, start, window) for rec, start in batch])
    y = np.stack([window_target(crop(labels[rec], start, window)) for rec, start in batch])
    return torch.from_numpy(x), torch.from_numpy(y)


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
    Returns the per-epoch history (epoch, loss, lr).
    """
    out_path = Path(out_path)
    check_teacher(settings, teacher)
    check_mixup(settings)
    check_crops(settings)
    events = events[events["recording_id"].isin(set(recording_ids))].reset_index(drop=True)
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
    n_frames = labels.n_frames
    n_samples = len(sample_epoch(events, recording_ids, n_frames, settings, 0))
    steps_per_epoch = math.ceil(n_samples / settings.batch_size)
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
        total, bar = (
            0.0,
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
            x, y = window_batch(store, labels, batch, settings.window)
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
            {"epoch": epoch + 1, "loss": total / len(plan), "lr": scheduler.get_last_lr()[0]}
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
    """soft_weight needs a teacher of the model's species (and is the masked loss's alone: it
    and unknown_weight would both weigh the unknown pairs)."""
    if not settings.soft_weight:
        if settings.soft_out_of_fold:
            raise ValueError(
                "soft_out_of_fold chooses the soft targets' model: set soft_weight > 0"
            )
        return
    if settings.loss != "masked":
        raise ValueError("soft_weight applies to the masked loss (relabel rounds) only")
    if settings.unknown_weight:
        raise ValueError(
            f"soft_weight ({settings.soft_weight}) and unknown_weight ({settings.unknown_weight}) "
            "both weigh the unknown pairs: set one of them"
        )
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
