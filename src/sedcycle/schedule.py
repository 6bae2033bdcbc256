"""How long a fold trains (``epochs``, raised by ``min_steps`` and ``min_window_passes``) and
whether it stopped while its training loss was still falling.

Standard library only: :func:`sedcycle.crops.fold_epochs` (torch-free, for scoring's replay of
a fold's crops) counts the epochs with it as :func:`sedcycle.train.train_fold` does.
"""

from __future__ import annotations

import math

from sedcycle.settings import TrainSettings

# the config section whose epochs / min_steps a loss's training reads
SECTIONS = {"clipwise": "stage1", "masked": "relabel"}

# The still-falling rule (:func:`still_falling`): the last WINDOW_SHARE of the epochs (at
# least MIN_WINDOW) reached a mean training loss more than TOLERANCE below the lowest of the
# epochs before them, of which there are at least MIN_REFERENCE.
WINDOW_SHARE = 0.2
MIN_WINDOW = 2
MIN_REFERENCE = 2
TOLERANCE = 0.05


def config_section(settings: TrainSettings) -> str:
    """ "stage1" or "relabel": where the settings of a training with ``settings.loss`` live."""
    if settings.loss not in SECTIONS:
        raise ValueError(f"loss must be one of {', '.join(SECTIONS)}, got {settings.loss!r}")
    return SECTIONS[settings.loss]


def training_epochs(settings: TrainSettings, batches: int) -> int:
    """The epochs a fold trains at ``batches`` optimiser steps an epoch: ``settings.epochs``,
    or more where that many epochs fall short of ``settings.min_steps`` steps (0: off)."""
    section = config_section(settings)
    if settings.min_steps < 0:
        raise ValueError(f"{section}.min_steps must be >= 0 (0: off), got {settings.min_steps}")
    if batches < 1:
        raise ValueError(f"an epoch needs at least one batch, got {batches}")
    return max(settings.epochs, math.ceil(settings.min_steps / batches))


def epochs_line(settings: TrainSettings, batches: int) -> str:
    """The log line that says how many epochs a fold trains and why, e.g.
    "stage1.min_steps 400 at 7 batches an epoch: 58 epochs instead of 22 (406 steps)"."""
    section, epochs = config_section(settings), training_epochs(settings, batches)
    steps = f"{epochs * batches} steps"
    if not settings.min_steps:
        return (
            f"{section}.epochs {epochs} at {batches} batches an epoch: {steps} "
            f"({section}.min_steps off)"
        )
    reach = f"{section}.min_steps {settings.min_steps} at {batches} batches an epoch"
    if epochs == settings.epochs:
        return f"{reach}: {section}.epochs {epochs} already reach it ({steps})"
    return f"{reach}: {epochs} epochs instead of {settings.epochs} ({steps})"


def pass_epochs(settings: TrainSettings, windows: int, random_crops: float) -> int:
    """The epochs a fold needs for its random crops (``random_crops`` an epoch on average) to
    number at least ``settings.min_window_passes`` times its ``windows`` grid windows: the
    passes over the windows where a round's unlabelled pairs live. 0 when the setting is off
    (0); a ValueError, naming the setting, when it is negative or an epoch has no random crop."""
    section, passes = config_section(settings), settings.min_window_passes
    if passes < 0:
        raise ValueError(f"{section}.min_window_passes must be >= 0 (0: off), got {passes}")
    if not passes:
        return 0
    if random_crops <= 0:
        raise ValueError(
            f"{section}.min_window_passes {passes} counts random windows, and an epoch has "
            f"none: set {section}.labelled_crop_prob below 1 or {section}.crops grid"
        )
    # rounded first, so that float error (0.3 * 10 / 3 is 1.0000000000000002) adds no epoch
    return max(1, math.ceil(round(passes * windows / random_crops, 9)))


def passes_line(settings: TrainSettings, windows: int, random_crops: float, epochs: int) -> str:
    """The log line that says what ``min_window_passes`` does to a fold that trains ``epochs``
    epochs otherwise (``epochs``, ``min_steps``), e.g. "relabel.min_window_passes 1.0 over
    4608 windows at 240.0 random crops an epoch: 20 epochs instead of 3 (1.04 passes)"."""
    section, passes = config_section(settings), settings.min_window_passes
    needed = pass_epochs(settings, windows, random_crops)
    reach = (
        f"{section}.min_window_passes {passes} over {windows} windows at {random_crops:.1f} "
        "random crops an epoch"
    )
    done = max(needed, epochs)
    made = f"{done * random_crops / windows:.2f} passes"
    if needed <= epochs:
        return f"{reach}: {epochs} epochs already reach it ({made})"
    return f"{reach}: {needed} epochs instead of {epochs} ({made})"


# the words of the warning that readers of training logs look for (bench/real_annotated.py)
STILL_FALLING = "the training loss was still falling"


def still_falling(losses: list[float]) -> tuple[float, float, int] | None:
    """Whether a training stopped while its loss was still falling: the last 20 % of the
    epochs (at least 2) reached a mean training loss more than 5 % below the lowest of every
    epoch before them. Returns (that lowest earlier loss, the last epoch's loss, the window's
    epochs) when so, else None; None too with fewer than 2 epochs before the window (4 epochs
    in all), where the reference would be one epoch, the first, which holds the fall from the
    starting weights.

    The lowest earlier loss, not the one just before the window, is the reference, so that one
    noisy epoch (mixup, random crops) does not make a converged run warn; and a run whose
    cosine schedule has converged changes little over its last epochs, at a small learning
    rate.
    """
    window = max(MIN_WINDOW, math.ceil(WINDOW_SHARE * len(losses)))
    reference = losses[:-window]
    if len(reference) < MIN_REFERENCE:
        return None
    lowest, last = min(reference), losses[-1]
    if last < (1 - TOLERANCE) * lowest:
        return lowest, last, window
    return None


def falling_warning(settings: TrainSettings, model: str, losses: list[float]) -> str | None:
    """The ``WARNING:`` line of :func:`still_falling` for the model file ``model``, naming
    the settings to raise; None when the rule does not fire."""
    found = still_falling(losses)
    if found is None:
        return None
    lowest, last, window = found
    section = config_section(settings)
    return (
        f"WARNING: {model}: {STILL_FALLING} when training stopped: "
        f"{last:.4f} at the last of {len(losses)} epochs, {1 - last / lowest:.0%} below the "
        f"lowest before its last {window} epochs ({lowest:.4f}); more training may help: raise "
        f"{section}.epochs or {section}.min_steps"
    )
