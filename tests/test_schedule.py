"""How long a fold trains (epochs raised by min_steps) and the still-falling warning's rule."""

from pathlib import Path

import pytest
import yaml

from sedcycle.schedule import (
    epochs_line,
    falling_warning,
    pass_epochs,
    passes_line,
    still_falling,
    training_epochs,
)

from .conftest import train_settings


def settings(**overrides):
    """Stage-1 settings of the demo's length: 22 epochs of batches of 16."""
    return train_settings(**{"loss": "clipwise", "epochs": 22, "batch_size": 16, **overrides})


def test_min_steps_raises_the_epochs_to_reach_them():
    assert training_epochs(settings(min_steps=400), batches=7) == 58  # ceil(400 / 7)
    assert training_epochs(settings(min_steps=406), batches=7) == 58
    assert training_epochs(settings(min_steps=407), batches=7) == 59


def test_min_steps_never_lowers_the_epochs_and_zero_is_off():
    assert training_epochs(settings(min_steps=0), batches=7) == 22
    assert training_epochs(settings(), batches=1) == 22  # off by default
    assert training_epochs(settings(min_steps=100), batches=7) == 22  # 154 steps already


def test_config_yamls_stage1_floor_leaves_the_demos_22_epochs_and_raises_small_sets():
    """config.yaml's stage1.min_steps (360) does not bind on the demo's folds (17-18 batches
    an epoch, 374-396 steps in 22 epochs), so the demo trains as before; on Bobwhite's 4
    batches an epoch (88 steps in 22 epochs) it asks for 90 epochs."""
    config = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())
    floor = settings(epochs=config["stage1"]["epochs"], min_steps=config["stage1"]["min_steps"])
    assert training_epochs(floor, batches=17) == training_epochs(floor, batches=18) == 22
    assert training_epochs(floor, batches=4) == 90


@pytest.mark.parametrize(
    ("overrides", "batches", "message"),
    [
        ({"min_steps": -1}, 7, "stage1.min_steps must be >= 0"),
        ({"min_steps": -1, "loss": "masked"}, 7, "relabel.min_steps must be >= 0"),
        ({"loss": "focal"}, 7, "loss must be one of clipwise, masked"),
        ({}, 0, "an epoch needs at least one batch"),
    ],
)
def test_epoch_count_names_what_is_wrong(overrides, batches, message):
    with pytest.raises(ValueError, match=message):
        training_epochs(settings(**overrides), batches)


def test_the_log_line_says_how_many_epochs_and_why():
    assert epochs_line(settings(min_steps=400), 7) == (
        "stage1.min_steps 400 at 7 batches an epoch: 58 epochs instead of 22 (406 steps)"
    )
    assert epochs_line(settings(min_steps=100), 7) == (
        "stage1.min_steps 100 at 7 batches an epoch: stage1.epochs 22 already reach it (154 steps)"
    )
    assert epochs_line(settings(), 17) == (
        "stage1.epochs 22 at 17 batches an epoch: 374 steps (stage1.min_steps off)"
    )
    rounds = settings(loss="masked", epochs=3, min_steps=50)
    assert epochs_line(rounds, 7) == (
        "relabel.min_steps 50 at 7 batches an epoch: 8 epochs instead of 3 (56 steps)"
    )


def rounds(**overrides):
    """A round's settings: 3 epochs of the masked loss."""
    return settings(loss="masked", epochs=3, **overrides)


def test_window_passes_ask_for_the_epochs_whose_random_crops_cover_the_windows():
    """RFCx's shape at the benchmark's size: 576 recordings x 8 windows, 240 random crops an
    epoch: one pass is 19.2 epochs, so 20; half a pass 10; 0 is off."""
    assert pass_epochs(rounds(min_window_passes=1.0), windows=4608, random_crops=240.0) == 20
    assert pass_epochs(rounds(min_window_passes=0.5), windows=4608, random_crops=240.0) == 10
    assert pass_epochs(rounds(), windows=4608, random_crops=240.0) == 0
    # float error (0.3 * 10 / 3 is 1.0000000000000002) adds no epoch; at least one
    assert pass_epochs(rounds(min_window_passes=0.3), windows=10, random_crops=3.0) == 1
    assert pass_epochs(rounds(min_window_passes=0.01), windows=10, random_crops=300.0) == 1


@pytest.mark.parametrize(
    ("overrides", "random_crops", "message"),
    [
        ({"min_window_passes": -0.5}, 10.0, "relabel.min_window_passes must be >= 0"),
        ({"min_window_passes": 1.0}, 0.0, "an epoch has none: set relabel.labelled_crop_prob"),
    ],
)
def test_window_passes_name_what_is_wrong(overrides, random_crops, message):
    with pytest.raises(ValueError, match=message):
        pass_epochs(rounds(**overrides), 100, random_crops)


def test_the_passes_line_says_whether_the_floor_binds():
    assert passes_line(rounds(min_window_passes=1.0), 4608, 240.0, 3) == (
        "relabel.min_window_passes 1.0 over 4608 windows at 240.0 random crops an epoch: 20 "
        "epochs instead of 3 (1.04 passes)"
    )
    assert passes_line(rounds(min_window_passes=1.0), 170, 136.0, 3) == (
        "relabel.min_window_passes 1.0 over 170 windows at 136.0 random crops an epoch: 3 "
        "epochs already reach it (2.40 passes)"
    )


def falling(n, start=1.0, step=0.05):
    return [start - step * i for i in range(n)]


def test_still_falling_fires_on_a_falling_history():
    # 10 epochs: the last 2 (20 %) against the lowest of the 8 before them
    assert still_falling(falling(10)) == pytest.approx((0.65, 0.55, 2))
    # 22 epochs: the last 5 (ceil of 20 %)
    lowest, last, window = still_falling(falling(22, step=0.02))
    assert window == 5 and lowest == pytest.approx(0.68) and last == pytest.approx(0.58)


def test_still_falling_is_quiet_on_a_flat_or_rising_history():
    assert still_falling([1.0, 0.5, 0.3] + [0.2] * 19) is None
    assert still_falling(falling(10)[::-1]) is None
    # converged with noise: no epoch of the last 20 % is 5 % below the best before them
    noisy = [0.5, 0.4, 0.3, 0.25, 0.22, 0.21, 0.23, 0.2, 0.215, 0.2, 0.21, 0.195, 0.205, 0.198]
    assert still_falling(noisy) is None


def test_still_falling_has_a_tolerance_of_five_percent():
    flat = [1.0, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]
    assert still_falling(flat[:-1] + [0.4 * 0.96]) is None
    assert still_falling(flat[:-1] + [0.4 * 0.94]) == pytest.approx((0.4, 0.376, 2))


def test_one_noisy_epoch_before_the_window_is_no_reference():
    """The reference is the lowest earlier loss: a spike just before the last epochs (mixup)
    does not make a converged run warn."""
    history = [0.5, 0.3, 0.21, 0.2, 0.2, 0.2, 0.2, 0.35, 0.2, 0.2]
    assert still_falling(history) is None


def test_still_falling_needs_two_epochs_before_its_window():
    assert still_falling([]) is None
    assert still_falling([1.0]) is None
    assert still_falling([1.0, 0.5]) is None
    assert still_falling([1.0, 0.5, 0.1]) is None  # window 2, one epoch before it
    assert still_falling([1.0, 0.9, 0.5, 0.1]) == pytest.approx((0.9, 0.1, 2))


def test_the_warning_names_the_model_the_losses_and_the_settings():
    line = falling_warning(settings(), "models/stage1/fold0.pt", falling(10))
    assert line.startswith("WARNING: models/stage1/fold0.pt: the training loss was still falling")
    assert "0.5500 at the last of 10 epochs, 15% below" in line
    assert "lowest before its last 2 epochs (0.6500)" in line
    assert line.endswith("raise stage1.epochs or stage1.min_steps")
    rounds = falling_warning(settings(loss="masked"), "models/round2/fold1.pt", falling(10))
    assert rounds.endswith("raise relabel.epochs or relabel.min_steps")
    assert falling_warning(settings(), "models/stage1/fold0.pt", [0.3] * 10) is None
