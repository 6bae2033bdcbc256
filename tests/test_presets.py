"""presets/seed.yaml, the source's recipe: it validates layered over config.yaml, every line
says what the source did, it decides every recipe setting, and a dry run on an RFCx folder
plans 5 folds of stage 1 and 3 relabel rounds."""

import re

import pytest
import yaml

from .workflow_runs import REPO, layered, planned_jobs, rfcx_folder, schema_errors

PRESET = REPO / "presets" / "seed.yaml"
CONFIG = REPO / "config.yaml"
# config sections the preset decides in full (the recipe's settings); of model, the recipe's
# keys alone (amp, device, channels_last are how a machine runs it, not what it computes)
WHOLE_SECTIONS = ("features", "windows", "folds", "stage1", "relabel", "postprocess", "ensemble")
MODEL_KEYS = ("backbone", "pretrained")
SPEED_KEYS = {"features": {"batch_size"}}  # clips in flight while extracting: no result


def load(path):
    return yaml.safe_load(path.read_text())


def uncommented_settings(text):
    """The lines of a YAML text that set a value without a `#` comment saying why."""
    found = []
    for line in text.splitlines():
        setting = re.match(r"\s*[\w.]+:\s*(\S.*)?$", line)
        if setting and setting[1] and not setting[1].startswith("#") and "#" not in setting[1]:
            found.append(line)
    return found


def test_preset_validates_layered_over_config_yaml():
    assert schema_errors(layered(load(CONFIG), load(PRESET))) == []


def test_a_wrong_preset_value_is_refused():
    """The same check fails on a preset with an unknown key or an out-of-range value."""
    for planted in ({"stage1": {"crops": "random"}}, {"relabel": {"epochz": 5}}):
        preset = layered(load(PRESET), planted)
        assert schema_errors(layered(load(CONFIG), preset)), planted


def test_every_preset_line_says_what_the_source_did():
    text = PRESET.read_text()
    assert uncommented_settings(text) == []
    assert uncommented_settings("stage1:\n  epochs: 50 # the source\n  lr: 1.0e-3\n") == [
        "  lr: 1.0e-3"
    ]


def test_preset_decides_every_recipe_setting():
    """A training or feature key added to config.yaml must get the source's value (or a
    comment that the source is silent) here."""
    config, preset = load(CONFIG), load(PRESET)
    for section in WHOLE_SECTIONS:
        assert set(preset[section]) == set(config[section]) - SPEED_KEYS.get(section, set())
    assert set(MODEL_KEYS) <= set(preset["model"])
    assert {"clip_seconds", "n_species"} <= set(preset)


def test_preset_holds_the_source_recipe():
    seed = layered(load(CONFIG), load(PRESET))
    assert (seed["clip_seconds"], seed["model"]["backbone"], seed["folds"]["n_folds"]) == (
        60,
        "resnet18",
        5,
    )
    assert seed["windows"] == {"window": 512, "cover": 49, "test_cover": 256}
    stage1, relabel = seed["stage1"], seed["relabel"]
    assert (stage1["crops"], stage1["epochs"], stage1["lr"], stage1["mixup_alpha"]) == (
        "grid",
        50,
        1.0e-3,
        0.0,
    )
    assert (relabel["n_rounds"], relabel["epochs"], relabel["lr"]) == (3, 5, 3.0e-4)
    assert relabel["rounds"][1]["use_pseudo"] is False and relabel["use_pseudo"]
    # config.yaml's round-1 entry (no teacher) merges in: the source had no soft targets
    assert not relabel["rounds"][1].get("soft_weight") and not relabel["soft_weight"]
    assert (relabel["pseudo_min_votes"], relabel["pseudo_threshold"]) == (3, 0.5)
    # the source marked a pseudo-positive window's frames: every crop overlapping them is positive
    assert relabel["pseudo_targets"] == "frames"
    assert relabel["scale_positives"] and relabel["init_from_previous"]
    assert relabel["unknown_weight"] == relabel["soft_weight"] == 0.0
    assert relabel["pseudo_negative_threshold"] is None
    assert seed["postprocess"]["prior_scaling"] is False


@pytest.mark.workflow
def test_preset_plans_five_folds_of_stage1_and_three_rounds(tmp_path):
    data = rfcx_folder(tmp_path / "rfcx", seed=0, n_train=10, n_test=2, clip_seconds=60)
    rfcx = {"data": {"source": "rfcx", "dir": str(data)}}
    jobs = planned_jobs(tmp_path / "run", configs=[PRESET, rfcx], base=None)
    assert jobs["train_stage1"] == 5
    assert jobs["train_round"] == 3 * 5
    assert jobs["pseudo_labels"] == 2  # round 1 trains on tp/fp alone
    assert jobs["predict"] == 4 * 5  # stage 1 and each round, every fold
