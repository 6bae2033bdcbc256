from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sedcycle import train as train_module
from sedcycle.clips import ClipStore
from sedcycle.crops import fold_labels, pseudo_positive_crops
from sedcycle.labels import ANNOTATION_COLUMNS, FrameLabels
from sedcycle.model import load_model
from sedcycle.settings import (
    MODEL_KEYS,
    ROUND_KEYS,
    TrainSettings,
    resolve_crops,
    resolve_unknown_weight,
    round_params,
    round_switches,
    stage1_switches,
)
from sedcycle.train import (
    Teacher,
    labelled_events,
    mixup,
    sample_epoch,
    train_fold,
    window_batch,
)

from .conftest import CLIP_SECONDS, N_FRAMES, N_SPECIES
from .conftest import train_settings as settings

IDS = [f"rec{i}" for i in range(6)]


def fit(train_settings, store, labels, events, out, **options):
    """train_fold on the recordings IDS, without a progress bar; returns its history."""
    return train_fold(train_settings, store, labels, events, IDS, out, progress=False, **options)


def setup(feature_dir, annotations):
    tp, fp = annotations
    store = ClipStore(feature_dir, IDS)
    labels = FrameLabels.from_annotations(tp, fp, N_SPECIES, N_FRAMES, CLIP_SECONDS)
    return store, labels, labelled_events(tp, fp, N_FRAMES, CLIP_SECONDS)


def test_store_scales_clip_to_unit_range_and_pads(feature_dir):
    store = ClipStore(feature_dir, IDS)
    window = store.window("rec0", 250, 128)
    assert window.dtype == np.float32 and window.shape == (32, 128)
    assert window.min() >= 0 and window.max() <= 1
    assert (window[:, 50:] == 0).all()  # frames past 300 are padding


def test_store_names_missing_features(feature_dir):
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        ClipStore(feature_dir, ["nope"])


def test_event_crops_contain_the_event_and_are_seeded(annotations):
    tp, fp = annotations
    events = labelled_events(tp, fp, N_FRAMES, CLIP_SECONDS)
    plan = sample_epoch(events, IDS, N_FRAMES, settings(fp_fraction=1.0), epoch=0)
    assert len(plan) == len(tp) + len(fp)
    centres = dict(zip(events["recording_id"], events["centre"], strict=True))
    for rec, start in plan:
        assert start <= centres[rec] < start + 128 and 0 <= start <= N_FRAMES - 128
    assert plan == sample_epoch(events, IDS, N_FRAMES, settings(fp_fraction=1.0), epoch=0)
    assert plan != sample_epoch(events, IDS, N_FRAMES, settings(fp_fraction=1.0), epoch=1)


def test_fp_fraction_and_random_crops(annotations):
    tp, fp = annotations
    events = labelled_events(tp, fp, N_FRAMES, CLIP_SECONDS)
    assert len(sample_epoch(events, IDS, N_FRAMES, settings(fp_fraction=0.0), 0)) == len(tp)
    plan = sample_epoch(
        events, IDS, N_FRAMES, settings(labelled_crop_prob=0.0, samples_per_epoch=50), 0
    )
    assert len(plan) == 50 and {rec for rec, _ in plan} - set(events["recording_id"])


def test_training_learns_and_checkpoint_loads(tmp_path, feature_dir, annotations):
    store, labels, events = setup(feature_dir, annotations)
    out = tmp_path / "fold0.pt"
    history = fit(
        settings(epochs=5, loss="clipwise", samples_per_epoch=48, batch_size=8),
        store,
        labels,
        events,
        out,
    )
    assert [h["epoch"] for h in history] == list(range(1, 6))
    assert history[-1]["loss"] < history[0]["loss"]
    assert not out.with_name("fold0.pt.epoch").exists()
    model = load_model(out)
    x = torch.from_numpy(np.stack([store.window("rec0", 60, 128), store.window("rec1", 60, 128)]))
    probs = torch.sigmoid(model(x)["clipwise"])[:, 0]
    assert probs[0] > probs[1]  # the clip with species 0's call scores higher


def test_killed_training_resumes_to_the_same_weights(
    tmp_path, feature_dir, annotations, monkeypatch
):
    store, labels, events = setup(feature_dir, annotations)
    full = tmp_path / "full.pt"
    fit(settings(), store, labels, events, full)

    resumed = tmp_path / "resumed.pt"
    real_sample = train_module.sample_epoch

    def die_in_second_epoch(events, ids, n_frames, s, epoch):
        if epoch == 1:
            raise KeyboardInterrupt("killed")
        return real_sample(events, ids, n_frames, s, epoch)

    monkeypatch.setattr(train_module, "sample_epoch", die_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        fit(settings(), store, labels, events, resumed)
    assert not resumed.exists() and resumed.with_name("resumed.pt.epoch").exists()
    monkeypatch.setattr(train_module, "sample_epoch", real_sample)
    history = fit(settings(), store, labels, events, resumed)
    assert len(history) == 2
    a, b = torch.load(full)["state_dict"], torch.load(resumed)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


class Constant(torch.nn.Module):
    """A stand-in teacher model: every species at probability ``value``."""

    def __init__(self, value, n_species):
        super().__init__()
        self.logit = torch.logit(torch.tensor(value)).item()
        self.n_species = n_species

    def forward(self, x):
        return {"clipwise": torch.full((x.shape[0], self.n_species), self.logit)}


def teacher_for(value, n_species=N_SPECIES):
    return Teacher([Constant(value, n_species)], n_species)


# 3 tp rows and round(0.5 x 2) fp rows: 4 crops an epoch, 2 batches of 2
SHORT = {"loss": "clipwise", "batch_size": 2}


def test_min_steps_raises_the_epochs_the_schedule_and_the_checkpoint_span(
    tmp_path, feature_dir, annotations, capsys
):
    """min_steps 7 at 2 batches an epoch: 4 epochs instead of 2, said on stderr; the cosine
    schedule spans the 8 steps really run (its learning rate reaches 0 at the last one, not
    half-way), and the checkpoint's settings and history hold the 4 epochs."""
    store, labels, events = setup(feature_dir, annotations)
    out = tmp_path / "fold0.pt"
    history = fit(settings(**SHORT, epochs=2, min_steps=7), store, labels, events, out)
    err = capsys.readouterr().err
    assert "stage1.min_steps 7 at 2 batches an epoch: 4 epochs instead of 2 (8 steps)" in err
    assert "epoch 4/4 loss" in err
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    cosine = [1e-3 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(1, 5)]
    assert [h["lr"] for h in history] == pytest.approx(cosine, abs=1e-12)
    checkpoint = torch.load(out, weights_only=True)
    assert checkpoint["settings"]["epochs"] == 4 and checkpoint["settings"]["min_steps"] == 7
    assert checkpoint["history"] == history


def test_min_steps_off_or_reached_leaves_the_epochs(tmp_path, feature_dir, annotations, capsys):
    store, labels, events = setup(feature_dir, annotations)
    history = fit(settings(**SHORT, epochs=2), store, labels, events, tmp_path / "a.pt")
    assert len(history) == 2 and history[-1]["lr"] == pytest.approx(0, abs=1e-12)
    assert "stage1.epochs 2 at 2 batches an epoch: 4 steps (stage1.min_steps off)" in (
        capsys.readouterr().err
    )
    reached = settings(**SHORT, epochs=2, min_steps=4)
    history = fit(reached, store, labels, events, tmp_path / "b.pt")
    assert len(history) == 2
    assert "stage1.min_steps 4 at 2 batches an epoch: stage1.epochs 2 already reach it" in (
        capsys.readouterr().err
    )


def test_killed_training_with_min_steps_resumes_to_the_same_weights(
    tmp_path, feature_dir, annotations, monkeypatch, capsys
):
    """The epoch checkpoint of a run min_steps lengthened (3 epochs instead of 1) resumes it."""
    store, labels, events = setup(feature_dir, annotations)
    longer = settings(**SHORT, epochs=1, min_steps=6)
    fit(longer, store, labels, events, tmp_path / "full.pt")
    resumed = tmp_path / "resumed.pt"
    real_sample = train_module.sample_epoch

    def die_in_third_epoch(events, ids, n_frames, s, epoch):
        if epoch == 2:
            raise KeyboardInterrupt("killed")
        return real_sample(events, ids, n_frames, s, epoch)

    monkeypatch.setattr(train_module, "sample_epoch", die_in_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        fit(longer, store, labels, events, resumed)
    monkeypatch.setattr(train_module, "sample_epoch", real_sample)
    capsys.readouterr()
    history = fit(longer, store, labels, events, resumed)
    assert f"resuming {resumed} at epoch 2" in capsys.readouterr().err
    assert [h["epoch"] for h in history] == [1, 2, 3]
    a = torch.load(tmp_path / "full.pt")["state_dict"]
    b = torch.load(resumed)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_a_loss_still_falling_at_the_end_warns_on_stderr(
    tmp_path, feature_dir, annotations, capsys
):
    """4 epochs of a round on the tiny store: the loss falls all through (more than 5 % below
    the first 2 epochs' lowest), and the job's log gets a WARNING naming the model, the losses
    and the settings to raise."""
    store, labels, events = setup(feature_dir, annotations)
    out = tmp_path / "fold1.pt"
    history = fit(settings(batch_size=2, epochs=4), store, labels, events, out)
    losses = [h["loss"] for h in history]
    assert losses[-1] < 0.95 * min(losses[:2])  # the history the rule fires on
    warnings = [line for line in capsys.readouterr().err.splitlines() if "WARNING" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"WARNING: {out}: the training loss was still falling")
    assert f"{losses[-1]:.4f} at the last of 4 epochs" in warnings[0]
    assert f"({min(losses[:2]):.4f})" in warnings[0]
    assert warnings[0].endswith("raise relabel.epochs or relabel.min_steps")


def test_teacher_is_the_mean_probability_of_its_models():
    teacher = Teacher([Constant(0.2, 3), Constant(0.6, 3)], 3)
    np.testing.assert_allclose(teacher(torch.zeros(2, 1, 8, 8)).numpy(), np.full((2, 3), 0.4))


def test_teacher_checkpoints_load_and_name_their_species(tmp_path, feature_dir, annotations):
    store, labels, events = setup(feature_dir, annotations)
    out = tmp_path / "fold0.pt"
    fit(settings(epochs=1), store, labels, events, out)
    teacher = Teacher.from_checkpoints([out, out], torch.device("cpu"))
    x = torch.from_numpy(np.stack([store.window(r, 60, 128) for r in IDS[:2]]))
    with torch.no_grad():
        expected = torch.sigmoid(load_model(out)(x)["clipwise"])
    torch.testing.assert_close(teacher(x), expected)
    assert teacher.n_species == N_SPECIES


def test_soft_targets_pull_unknown_pairs_towards_the_teacher(tmp_path, feature_dir, annotations):
    """Against the same training without a teacher, a teacher that scores everything 0.02
    pulls the model's scores down, one that scores 0.98 pulls them up."""
    store, labels, events = setup(feature_dir, annotations)
    x = torch.from_numpy(np.stack([store.window(r, 60, 128) for r in IDS]))
    mean_score = {}
    for value in (None, 0.02, 0.98):
        out = tmp_path / f"teacher{value}.pt"
        fit(
            settings(
                epochs=5,
                soft_weight=0.0 if value is None else 5.0,
                samples_per_epoch=64,
                batch_size=8,
                lr=3e-3,
            ),
            store,
            labels,
            events,
            out,
            teacher=None if value is None else teacher_for(value),
        )
        if value is not None:
            assert torch.load(out, weights_only=True)["settings"]["soft_weight"] == 5.0
        with torch.no_grad():
            mean_score[value] = torch.sigmoid(load_model(out)(x)["clipwise"]).mean().item()
    assert mean_score[0.02] < mean_score[None] - 0.1
    assert mean_score[0.98] > mean_score[None] + 0.1


def test_unknown_weight_with_soft_targets_lowers_unknown_pairs_scores(
    tmp_path, feature_dir, annotations
):
    """unknown_weight beside a teacher (no longer refused): against the same teacher alone, the
    unknown pairs' weak negatives pull the scores down, and the checkpoint keeps both."""
    store, labels, events = setup(feature_dir, annotations)
    x = torch.from_numpy(np.stack([store.window(r, 60, 128) for r in IDS]))
    mean_score = {}
    for weight in (0.0, 1.0):
        out = tmp_path / f"weight{weight}.pt"
        trained = settings(
            epochs=5,
            soft_weight=1.0,
            unknown_weight=weight,
            samples_per_epoch=64,
            batch_size=8,
            lr=3e-3,
        )
        fit(trained, store, labels, events, out, teacher=teacher_for(0.6))
        stored = torch.load(out, weights_only=True)["settings"]
        assert (stored["unknown_weight"], stored["soft_weight"]) == (weight, 1.0)
        with torch.no_grad():
            mean_score[weight] = torch.sigmoid(load_model(out)(x)["clipwise"]).mean().item()
    assert mean_score[1.0] < mean_score[0.0] - 0.05


def test_unknown_weight_auto_resolves_from_the_tp_and_fp_counts():
    """auto: few_negatives_weight with fewer fp rows than tp rows, else 0 (as many or more);
    a number is kept whatever the counts; the line says the counts and the weight."""
    auto = settings(unknown_weight="auto", few_negatives_weight=0.1)
    weight, line = resolve_unknown_weight(auto, n_tp=206, n_fp=0)
    assert weight == 0.1
    assert line == (
        "unknown_weight auto: 0 fp rows < 206 tp rows, so unknown pairs weigh 0.1 as "
        "negatives (few_negatives_weight)"
    )
    assert resolve_unknown_weight(auto, n_tp=69, n_fp=69)[0] == 0.0
    weight, line = resolve_unknown_weight(auto, n_tp=10, n_fp=400)
    assert weight == 0.0 and "400 fp rows >= 10 tp rows" in line
    assert resolve_unknown_weight(settings(unknown_weight=0.25), n_tp=5, n_fp=0)[0] == 0.25
    with pytest.raises(ValueError, match="must be a number or 'auto'"):
        resolve_unknown_weight(settings(unknown_weight="automatic"), n_tp=5, n_fp=0)


def test_unknown_weight_auto_is_resolved_before_training(tmp_path, feature_dir, annotations):
    store, labels, events = setup(feature_dir, annotations)
    out = tmp_path / "fold0.pt"
    with pytest.raises(ValueError, match="resolve it first"):
        fit(settings(unknown_weight="auto"), store, labels, events, out)
    assert not out.exists()


# a round's settings that round_switches reads, every switch off (relabel.* as config.yaml has
# them, but soft targets)
ROUND_OFF = {
    "soft_weight": 0.0,
    "soft_out_of_fold": False,
    "use_pseudo": False,
    "pseudo_targets": "frames",
    "min_steps": 0,
    "crops": "events",
    "min_window_passes": 0.0,
    "unknown_weight": 0.1,
    "few_negatives_weight": 0.1,
}


def test_few_negatives_weight_is_a_param_with_unknown_weight_auto_alone():
    """A numeric unknown_weight keeps the round's params whatever few_negatives_weight says
    (no rerun); auto brings it in."""
    section = ROUND_OFF
    assert round_switches({**section, "unknown_weight": 0.0}, 49) == {}
    assert round_switches({**section, "unknown_weight": 0.3}, 49) == {}
    on = round_switches({**section, "unknown_weight": "auto"}, 49)
    assert on == {"few_negatives_weight": 0.1}
    with pytest.raises(ValueError, match="relabel.unknown_weight must be a number or 'auto'"):
        round_switches({**section, "unknown_weight": "yes"}, 49)


def test_round_params_are_config_yamls_round_in_params_order_and_make_its_settings():
    """round_params (the rounds' rule params, and bench/window_passes.py's settings): the model's
    keys first, then the species count, window and masked loss, relabel.* ROUND_KEYS, and the
    switches on in config.yaml (min_window_passes 1.0 with windows.cover); a TrainSettings."""
    import yaml

    config = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())
    params = round_params(config, config["relabel"], 7)
    assert list(params)[: len(MODEL_KEYS) + 3] == [*MODEL_KEYS, "n_species", "window", "loss"]
    assert params["n_species"] == 7 and params["loss"] == "masked"
    assert all(params[key] == config["relabel"][key] for key in ROUND_KEYS)
    assert params["min_window_passes"] == 1.0 and params["cover"] == config["windows"]["cover"]
    assert TrainSettings(**params).window == config["windows"]["window"]


def test_min_window_passes_is_a_param_with_the_grids_overlap_when_on():
    """0 (off) is no param, so a finished run does not rerun; on, it comes with windows.cover,
    whose grid windows it counts."""
    assert round_switches({**ROUND_OFF, "min_window_passes": 0.0}, 49) == {}
    on = round_switches({**ROUND_OFF, "min_window_passes": 1.0}, 49)
    assert on == {"min_window_passes": 1.0, "cover": 49}
    assert settings().min_window_passes == 0.0


def test_min_window_passes_lengthens_a_round_and_says_so(
    tmp_path, feature_dir, annotations, capsys
):
    """6 recordings x 3 windows (window 128, cover 20, 300 frames) = 18; 32 crops an epoch at
    labelled_crop_prob 0.3 are 22.4 random ones: 2 passes need 2 epochs (36 / 22.4), 4 need 4
    (72 / 22.4 = 3.2), which the schedule, the checkpoint and stderr hold."""
    store, labels, events = setup(feature_dir, annotations)
    two = settings(**ROUND, epochs=2, min_window_passes=2.0)
    assert len(fit(two, store, labels, events, tmp_path / "two.pt")) == 2
    assert (
        "relabel.min_window_passes 2.0 over 18 windows at 22.4 random crops an epoch: 2 epochs "
        "already reach it (2.49 passes)"
    ) in capsys.readouterr().err
    four = settings(**ROUND, epochs=2, min_window_passes=4.0)
    history = fit(four, store, labels, events, tmp_path / "four.pt")
    assert len(history) == 4
    assert (
        "relabel.min_window_passes 4.0 over 18 windows at 22.4 random crops an epoch: 4 epochs "
        "instead of 2 (4.98 passes)"
    ) in capsys.readouterr().err
    checkpoint = torch.load(tmp_path / "four.pt", weights_only=True)
    assert (
        checkpoint["settings"]["epochs"] == 4 and checkpoint["settings"]["min_window_passes"] == 4.0
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cover": None}, "min_window_passes counts the grid's windows: it needs cover"),
        ({"labelled_crop_prob": 1.0}, "an epoch has none: set relabel.labelled_crop_prob below 1"),
        ({"min_window_passes": -1.0}, "relabel.min_window_passes must be >= 0"),
    ],
)
def test_min_window_passes_refuses_what_it_cannot_count(
    tmp_path, feature_dir, annotations, overrides, message
):
    store, labels, events = setup(feature_dir, annotations)
    out = tmp_path / "fold0.pt"
    round_settings = settings(**{**ROUND, "min_window_passes": 1.0, **overrides})
    with pytest.raises(ValueError, match=message):
        fit(round_settings, store, labels, events, out)
    assert not out.exists()


@pytest.mark.parametrize(
    "overrides, teacher, message",
    [
        ({}, None, "needs the teacher"),
        ({"loss": "clipwise"}, "full", "masked loss"),
        ({}, "species", "score 2 species"),
    ],
)
def test_soft_weight_checks_its_teacher(
    tmp_path, feature_dir, annotations, overrides, teacher, message
):
    store, labels, events = setup(feature_dir, annotations)
    teachers = {
        None: None,
        "full": teacher_for(0.5),
        "species": teacher_for(0.5, n_species=2),
    }
    out = tmp_path / "fold0.pt"
    with pytest.raises(ValueError, match=message):
        fit(
            settings(soft_weight=1.0, **overrides),
            store,
            labels,
            events,
            out,
            teacher=teachers[teacher],
        )
    assert not out.exists()


def test_out_of_fold_teacher_scores_each_crop_with_its_recordings_fold_model():
    teacher = Teacher([Constant(0.2, 3), Constant(0.6, 3)], 3, {"a": 0, "b": 1})
    probs = teacher(torch.zeros(3, 1, 8, 8), ["b", "a", "b"]).numpy()
    np.testing.assert_allclose(probs, [[0.6] * 3, [0.2] * 3, [0.6] * 3], rtol=1e-6)


@pytest.mark.parametrize(
    "fold_of, ids, message",
    [
        ({"a": 0, "b": 2}, ["a"], r"folds \[2\] have none among its 2 models"),
        ({"a": 0, "b": 1}, ["a", "c"], r"no fold for recordings \['c'\]"),
        ({"a": 0, "b": 1}, None, "needs each crop's recording_id"),
    ],
)
def test_out_of_fold_teacher_names_what_it_lacks(fold_of, ids, message):
    with pytest.raises(ValueError, match=message):
        teacher = Teacher([Constant(0.2, 3), Constant(0.6, 3)], 3, fold_of)
        teacher(torch.zeros(2, 1, 8, 8), ids)


def test_out_of_fold_soft_targets_train_as_the_one_model_off_each_recording(
    tmp_path, feature_dir, annotations
):
    """Every recording in fold 1: the out-of-fold teacher of models (0.02, 0.98) trains exactly
    as a teacher of the 0.98 model alone, and not as their mean (0.5)."""
    store, labels, events = setup(feature_dir, annotations)
    runs = {
        "out_of_fold": (
            True,
            Teacher(
                [Constant(0.02, N_SPECIES), Constant(0.98, N_SPECIES)],
                N_SPECIES,
                {r: 1 for r in IDS},
            ),
        ),
        "alone": (False, teacher_for(0.98)),
        "mean": (False, Teacher([Constant(0.02, N_SPECIES), Constant(0.98, N_SPECIES)], N_SPECIES)),
    }
    weights = {}
    for name, (out_of_fold, teacher) in runs.items():
        out = tmp_path / f"{name}.pt"
        fit(
            settings(epochs=1, soft_weight=2.0, soft_out_of_fold=out_of_fold),
            store,
            labels,
            events,
            out,
            teacher=teacher,
        )
        weights[name] = torch.load(out, weights_only=True)
    assert weights["out_of_fold"]["settings"]["soft_out_of_fold"] is True
    a, b, c = (weights[n]["state_dict"] for n in ("out_of_fold", "alone", "mean"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert any(not torch.equal(a[key], c[key]) for key in a if a[key].is_floating_point())


@pytest.mark.parametrize(
    "soft_weight, soft_out_of_fold, teacher, message",
    [
        (0.0, True, None, "set soft_weight > 0"),
        (1.0, True, "mean", "soft_out_of_fold is True, but the teacher does not know"),
        (1.0, False, "folds", "soft_out_of_fold is False, but the teacher knows"),
    ],
)
def test_soft_out_of_fold_and_the_teacher_must_agree_on_the_folds(
    tmp_path, feature_dir, annotations, soft_weight, soft_out_of_fold, teacher, message
):
    store, labels, events = setup(feature_dir, annotations)
    teachers = {
        None: None,
        "mean": teacher_for(0.5),
        "folds": Teacher([Constant(0.5, N_SPECIES)], N_SPECIES, {r: 0 for r in IDS}),
    }
    out = tmp_path / "fold0.pt"
    with pytest.raises(ValueError, match=message):
        fit(
            settings(soft_weight=soft_weight, soft_out_of_fold=soft_out_of_fold),
            store,
            labels,
            events,
            out,
            teacher=teachers[teacher],
        )
    assert not out.exists()


def test_mixup_blends_windows_and_targets_in_pairs():
    x = torch.arange(4, dtype=torch.float32).reshape(4, 1, 1).expand(4, 2, 3).clone()
    y = torch.eye(4)
    mixed_x, mixed_y = mixup(x, y, 0.4, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    lam, other = rng.beta(0.4, 0.4), rng.permutation(4)
    assert 0 < lam < 1 and (other != np.arange(4)).any()
    for i in range(4):
        torch.testing.assert_close(mixed_x[i], lam * x[i] + (1 - lam) * x[other[i]])
        # each window keeps lam of its own species and takes 1 - lam of its partner's
        expected = torch.zeros(4)
        expected[i] += lam
        expected[other[i]] += 1 - lam
        torch.testing.assert_close(mixed_y[i], expected)
    # the same generator state gives the same blend (training is reproducible and resumes)
    again = mixup(x, y, 0.4, np.random.default_rng(5))
    torch.testing.assert_close(again[0], mixed_x)


def test_mixup_trains_stage1_reproducibly_and_is_stored(tmp_path, feature_dir, annotations):
    store, labels, events = setup(feature_dir, annotations)
    runs = {}
    for name, alpha in (("off", 0.0), ("a", 0.4), ("b", 0.4)):
        out = tmp_path / f"{name}.pt"
        history = fit(settings(loss="clipwise", mixup_alpha=alpha), store, labels, events, out)
        runs[name] = (history, torch.load(out, weights_only=True))
    assert runs["a"][1]["settings"]["mixup_alpha"] == 0.4
    for key, value in runs["a"][1]["state_dict"].items():
        torch.testing.assert_close(value, runs["b"][1]["state_dict"][key])
    assert runs["a"][0] == runs["b"][0]
    # mixup changes what is trained on: the same seed without it ends elsewhere
    assert [h["loss"] for h in runs["off"][0]] != [h["loss"] for h in runs["a"][0]]


@pytest.mark.parametrize(
    "overrides, message",
    [({"loss": "masked"}, "clipwise loss"), ({"loss": "clipwise", "mixup_alpha": -1.0}, ">= 0")],
)
def test_mixup_checks_its_loss(tmp_path, feature_dir, annotations, overrides, message):
    store, labels, events = setup(feature_dir, annotations)
    out = tmp_path / "fold0.pt"
    with pytest.raises(ValueError, match=message):
        fit(settings(**{"mixup_alpha": 0.4, **overrides}), store, labels, events, out)
    assert not out.exists()


# stage1.crops "grid": window 128 overlapping by 20 frames steps 108 frames over the 300-frame
# clips, until a window reaches the end: starts 0, 108, 216, the last padded past frame 300
GRID = {"loss": "clipwise", "crops": "grid", "cover": 20}
GRID_STARTS = list(range(0, N_FRAMES - 128 + 108, 108))


def grid_plan(annotations, epoch=0, **overrides):
    events = labelled_events(*annotations, N_FRAMES, CLIP_SECONDS)
    return sample_epoch(events, IDS, N_FRAMES, settings(**{**GRID, **overrides}), epoch)


def test_grid_epoch_takes_every_window_of_every_recording_once(annotations):
    plan = grid_plan(annotations)
    assert GRID_STARTS[-1] < N_FRAMES < GRID_STARTS[-1] + 128
    assert sorted(plan) == sorted((rec, start) for rec in IDS for start in GRID_STARTS)
    # unlabelled recordings too (rec5 has no tp or fp row), and fp_fraction samples nothing
    assert sorted(plan) == sorted(grid_plan(annotations, fp_fraction=0.0, epoch=3))


def test_grid_epoch_is_shuffled_per_seed_and_epoch(annotations):
    plan = grid_plan(annotations)
    assert plan == grid_plan(annotations)
    assert plan != grid_plan(annotations, epoch=1)
    assert plan != grid_plan(annotations, seed=4)
    assert plan != sorted(plan)


def test_grid_windows_and_labels_are_zero_padded_past_the_end(feature_dir):
    store = ClipStore(feature_dir, IDS)
    tp = pd.DataFrame(
        [("rec1", 2, 1, frame_time(N_FRAMES - 10), 0.0, frame_time(N_FRAMES - 1), 0.0)],
        columns=ANNOTATION_COLUMNS,
    )
    labels = FrameLabels.from_annotations(tp, tp.iloc[:0], N_SPECIES, N_FRAMES, CLIP_SECONDS)
    last = GRID_STARTS[-1]
    x, y = window_batch(store, labels, [("rec1", last), ("rec1", GRID_STARTS[-2])], 128)
    assert x.shape == (2, 32, 128) and y.shape == (2, N_SPECIES)
    inside = N_FRAMES - last
    assert (x[0, :, inside:] == 0).all() and (x[0, :, :inside] > 0).any()
    torch.testing.assert_close(
        x[0, :, :inside], torch.from_numpy(store.window("rec1", last, 128))[:, :inside]
    )
    # the call in the clip's last frames is in the padded window alone
    assert y.tolist() == [[0, 0, 1], [0, 0, 0]]


def frame_time(frame):
    """A time inside ``frame`` (the source's frame index int(n_frames * t / clip_seconds))."""
    return (frame + 0.5) * CLIP_SECONDS / N_FRAMES


def test_grid_targets_of_calls_at_window_edges(feature_dir):
    """Windows [0, 128), [108, 236), [216, 344): a call is positive in each window that holds
    any of its frames, however few."""
    rows = [
        ("rec5", 0, 1, frame_time(100), 0.0, frame_time(107), 0.0),  # window 0 alone
        ("rec5", 1, 1, frame_time(127), 0.0, frame_time(130), 0.0),  # 0 (one frame) and 1
        ("rec5", 2, 1, frame_time(236), 0.0, frame_time(240), 0.0),  # window 2 alone
    ]
    tp = pd.DataFrame(rows, columns=ANNOTATION_COLUMNS)
    fp = pd.DataFrame(
        [("rec5", 0, 1, frame_time(220), 0.0, frame_time(230), 0.0)], columns=ANNOTATION_COLUMNS
    )
    labels = FrameLabels.from_annotations(tp, fp, N_SPECIES, N_FRAMES, CLIP_SECONDS)
    assert np.flatnonzero(labels["rec5"][1] == 1).tolist() == [127, 128, 129, 130]
    store = ClipStore(feature_dir, IDS)
    _, y = window_batch(store, labels, [("rec5", start) for start in GRID_STARTS], 128)
    # the fp of species 0 is a -1 target, which stage 1's clipwise loss counts as absent
    assert y.tolist() == [[1, 1, 0], [-1, 1, 0], [-1, 0, 1]]


def test_grid_crops_train_stage1_reproducibly_and_are_stored(tmp_path, feature_dir, annotations):
    store, labels, events = setup(feature_dir, annotations)
    runs = {}
    for name in ("a", "b"):
        out = tmp_path / f"{name}.pt"
        history = fit(settings(**GRID, epochs=1), store, labels, events, out)
        runs[name] = (history, torch.load(out, weights_only=True))
    stored = runs["a"][1]["settings"]
    assert stored["crops"] == "grid" and stored["cover"] == 20
    for key, value in runs["a"][1]["state_dict"].items():
        torch.testing.assert_close(value, runs["b"][1]["state_dict"][key])
    assert runs["a"][0] == runs["b"][0]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"crops": "grid"}, "crops 'grid' needs cover"),
        ({"crops": "random"}, "crops must be one of events, grid, got 'random'"),
        ({**GRID, "samples_per_epoch": 8}, "samples_per_epoch"),
    ],
)
def test_crops_are_checked(tmp_path, feature_dir, annotations, overrides, message):
    store, labels, events = setup(feature_dir, annotations)
    out = tmp_path / "fold0.pt"
    with pytest.raises(ValueError, match=message):
        fit(settings(**{"loss": "clipwise", **overrides}), store, labels, events, out)
    assert not out.exists()


def test_crops_auto_resolves_from_the_fp_count():
    """auto: grid without any fp row (stage 1 would otherwise see no unlabelled time), events
    with one or more, however many tp rows; events and grid are kept whatever the counts."""
    crops, line = resolve_crops(settings(loss="clipwise", crops="auto"), n_tp=69, n_fp=0)
    assert crops == "grid"
    assert line == (
        "stage1.crops auto: no fp row (69 tp rows), so grid (every fixed window, unlabelled "
        "time counted absent)"
    )
    # a round (masked loss) names its own key, and its unlabelled time is unknown pairs
    assert resolve_crops(settings(loss="masked", crops="auto"), 69, 0)[1] == (
        "relabel.crops auto: no fp row (69 tp rows), so grid (every fixed window, unlabelled "
        "time seen as unknown pairs)"
    )
    assert resolve_crops(settings(loss="clipwise", crops="auto"), n_tp=243, n_fp=70) == (
        "events",
        "stage1.crops auto: 70 fp rows, so events",
    )
    assert resolve_crops(settings(loss="masked", crops="grid"), 5, 0)[1] == "relabel.crops grid"
    assert resolve_crops(settings(crops="auto"), n_tp=5, n_fp=1)[0] == "events"
    assert resolve_crops(settings(crops="events"), n_tp=5, n_fp=0)[0] == "events"
    assert resolve_crops(settings(crops="grid"), n_tp=5, n_fp=400)[0] == "grid"


def test_crops_auto_is_resolved_before_training(tmp_path, feature_dir, annotations):
    store, labels, events = setup(feature_dir, annotations)
    out = tmp_path / "fold0.pt"
    with pytest.raises(ValueError, match="crops 'auto': resolve it first"):
        fit(settings(loss="clipwise", crops="auto", cover=20), store, labels, events, out)
    assert not out.exists()


def run_training_job(tmp_path, feature_dir, tp, fp, base) -> Path:
    """The training job (sedcycle.steps.training.train_round) of fold 1 with ``base``'s
    settings on tables ``tp``/``fp`` written as csvs: it trains on fold 0 (rec0, rec2, rec4,
    the fixture's tp rows' recordings); returns the checkpoint written."""
    from sedcycle.steps.training import train_round

    paths = {name: tmp_path / f"{name}.csv" for name in ("tp", "fp", "folds")}
    tp.to_csv(paths["tp"], index=False)
    fp.to_csv(paths["fp"], index=False)
    pd.DataFrame({"recording_id": IDS, "fold": [0, 1] * 3}).to_csv(paths["folds"], index=False)
    job = {key: getattr(base, key) for key in base.__dataclass_fields__ if key != "resume"}
    out = tmp_path / "fold1.pt"
    train_round(
        str(feature_dir), str(paths["tp"]), str(paths["fp"]), str(paths["folds"]), 1, str(out),
        settings=job, clip_seconds=CLIP_SECONDS, threads=1,
    )  # fmt: skip
    return out


@pytest.mark.parametrize(("n_fp", "expected"), [(0, "grid"), (1, "events")])
@pytest.mark.parametrize(
    ("loss", "key"), [("clipwise", "stage1.crops"), ("masked", "relabel.crops")]
)
def test_training_job_resolves_crops_auto_and_stores_the_outcome(
    tmp_path, feature_dir, annotations, capsys, n_fp, expected, loss, key
):
    """The training job, stage 1's (clipwise) or a round's (masked), counts the whole tables' fp
    rows: none gives grid crops, one (to 3 tp rows) events; the log line names the setting and
    says so, and the checkpoint holds it."""
    tp, fp = annotations
    base = settings(loss=loss, epochs=1, crops="auto", cover=20, unknown_weight=0.1)
    out = run_training_job(tmp_path, feature_dir, tp, fp.head(n_fp), base)
    err = capsys.readouterr().err
    assert f"{key} auto: {'no fp row (3 tp rows)' if n_fp == 0 else '1 fp rows'}" in err
    assert f"so {expected}" in err
    assert torch.load(out, weights_only=True)["settings"]["crops"] == expected


@pytest.mark.parametrize("labelled", ["sparse", "fully"])
@pytest.mark.parametrize("loss", ["clipwise", "masked"])
def test_a_round_says_when_tp_fp_leave_it_nothing_to_relabel(
    tmp_path, feature_dir, annotations, capsys, labelled, loss
):
    """A round's job (masked loss) logs how many (recording, species) pairs of its training
    recordings have a window without a tp/fp label, and warns where none has: pseudo-labels,
    soft targets and weak negatives would have nothing to act on. Stage 1 (clipwise) logs
    neither."""
    tp, fp = annotations
    if labelled == "fully":  # every species absent throughout where tp does not say present
        fp = pd.DataFrame(
            [(rec, sp, 1, 0.0, 500.0, CLIP_SECONDS, 900.0) for rec in IDS for sp in range(3)],
            columns=ANNOTATION_COLUMNS,
        )
    out = run_training_job(tmp_path, feature_dir, tp, fp, settings(loss=loss, epochs=1))
    err = capsys.readouterr().err
    counted = "of 9 (recording, species) pairs of the training recordings have a window (128"
    if loss == "clipwise":
        assert "unknown pairs" not in err and "nothing to relabel" not in err
    elif labelled == "sparse":  # tp for species 0 on frames 100-140 alone: all 9 pairs
        assert f"unknown pairs: 9 {counted}" in err and "nothing to relabel" not in err
    else:
        assert f"unknown pairs: 0 {counted}" in err
        assert f"WARNING: {out}: tp/fp label every window of every species" in err
        assert "this round has nothing to relabel" in err
    assert out.exists()


def test_grid_crops_change_what_a_round_trains_on(tmp_path, feature_dir, annotations):
    """A round (masked loss) on grid crops trains every fixed window once an epoch, not the
    event crops: another model from the same start, and as many batches as windows / batch."""
    store, labels, events = setup(feature_dir, annotations)
    grid_history = fit(
        settings(crops="grid", cover=20, epochs=1), store, labels, events, tmp_path / "g.pt"
    )
    event_history = fit(settings(epochs=1), store, labels, events, tmp_path / "e.pt")
    assert grid_history != event_history
    grid = torch.load(tmp_path / "g.pt", weights_only=True)
    events_model = torch.load(tmp_path / "e.pt", weights_only=True)
    assert grid["settings"]["crops"] == "grid" and events_model["settings"]["crops"] == "events"
    assert any(
        not torch.equal(grid["state_dict"][key], events_model["state_dict"][key])
        for key in grid["state_dict"]
    )


def test_relabel_crops_is_a_param_when_not_events_with_the_grid_overlap():
    """relabel.crops events (the default) is no param, so a finished run reruns no round; grid
    and auto are, with windows.cover, the grid's overlap; another value is refused."""
    section = ROUND_OFF
    assert round_switches({**section, "crops": "events"}, 49) == {}
    assert round_switches({**section, "crops": "grid"}, 49) == {"crops": "grid", "cover": 49}
    assert round_switches({**section, "crops": "auto"}, 49) == {"crops": "auto", "cover": 49}
    with pytest.raises(ValueError, match="relabel.crops must be one of events, grid, auto"):
        round_switches({**section, "crops": "random"}, 49)


def test_event_crops_are_no_param_and_grid_crops_are():
    """params hold crops only when it is not its off value, events (no rerun of a run that
    predates the setting); the off value is TrainSettings' default."""
    section = {"mixup_alpha": 0.0, "crops": "events", "min_steps": 0}
    assert stage1_switches(section, 49) == {}
    assert stage1_switches({**section, "crops": "grid"}, 49) == {"crops": "grid", "cover": 49}
    assert stage1_switches({**section, "crops": "auto"}, 49) == {"crops": "auto", "cover": 49}
    assert stage1_switches({**section, "mixup_alpha": 0.4}, 49) == {"mixup_alpha": 0.4}
    with pytest.raises(ValueError, match="stage1.crops must be one of events, grid, auto"):
        stage1_switches({**section, "crops": "random"}, 49)
    assert settings().crops == "events" and settings().cover is None


# relabel.pseudo_targets: pseudo-positive windows of the grid (window 128, cover 20: starts 0,
# 108, 216) where species 2 has no tp/fp label, and a pseudo-negative
PSEUDO = pd.DataFrame(
    {
        "recording_id": ["rec1", "rec3", "rec5", "rec5", "rec0"],
        "species_id": [2, 2, 2, 0, 2],
        "start": [108, 0, 216, 108, 0],
        "label": [1, 1, 1, 1, -1],
    }
).assign(end=lambda t: t["start"] + 128)
ROUND = {"labelled_crop_prob": 0.3, "samples_per_epoch": 32, "cover": 20}


@pytest.mark.parametrize(
    ("mode", "longer"),
    [("frames", {}), ("windows", {"min_steps": 12}), ("windows", {"min_window_passes": 3.0})],
)
def test_replay_counts_the_pseudo_positive_targets_training_used(
    tmp_path, feature_dir, annotations, mode, longer
):
    """train_fold records each epoch's (crop, species) targets that are +1 only because of a
    pseudo-label; the torch-free replay scoring runs finds the same ones, over as many epochs
    (min_steps 12 at 32 / 8 = 4 batches an epoch: 3 epochs instead of 2; min_window_passes 3
    over 6 recordings x 3 windows at 0.7 x 32 = 22.4 random crops an epoch: 54 / 22.4, 3)."""
    tp, fp = annotations
    round_settings = settings(**ROUND, pseudo_targets=mode, batch_size=8, **longer)
    labels = fold_labels(tp, fp, PSEUDO, IDS, round_settings, N_FRAMES, CLIP_SECONDS)
    events = labelled_events(tp, fp, N_FRAMES, CLIP_SECONDS)
    history = fit(round_settings, ClipStore(feature_dir, IDS), labels, events, tmp_path / "f.pt")
    assert len(history) == (3 if longer else 2)
    replayed = pseudo_positive_crops(round_settings, labels, events, IDS)
    assert set(replayed["epoch"]) <= set(range(len(history)))
    per_epoch = replayed.groupby("epoch").size().reindex(range(len(history)), fill_value=0)
    per_epoch = per_epoch.tolist()
    assert [h["pseudo_positives"] for h in history] == per_epoch
    assert sum(per_epoch) > 0
    if mode == "windows":  # each a pseudo-positive window, at its own start
        key = ["recording_id", "start", "species_id"]
        found = set(map(tuple, replayed[key].to_numpy().tolist()))
        assert found <= set(map(tuple, PSEUDO.loc[PSEUDO["label"] == 1, key].to_numpy().tolist()))


def test_window_pseudo_targets_crop_random_windows_of_the_grid(annotations):
    """With "windows" the non-event crops are grid windows (starts 0, 108, 216, the last one
    padded past the clip); with "frames" random starts; the event crops are the same."""
    events = labelled_events(*annotations, N_FRAMES, CLIP_SECONDS)
    plans = {
        mode: sample_epoch(events, IDS, N_FRAMES, settings(**ROUND, pseudo_targets=mode), 0)
        for mode in ("frames", "windows")
    }
    grid = {0, 108, 216}
    # the same draws pick event or random crops and their recordings; only random starts differ
    assert [rec for rec, _ in plans["windows"]] == [rec for rec, _ in plans["frames"]]
    differ = [i for i, (a, b) in enumerate(zip(*plans.values(), strict=True)) if a != b]
    assert len(differ) >= 5 and all(plans["windows"][i][1] in grid for i in differ)
    assert {plans["frames"][i][1] for i in differ} - grid  # random starts
    centres = set(zip(events["recording_id"], events["centre"], strict=True))
    same = [plans["windows"][i] for i in range(32) if i not in differ]
    assert any(start <= c < start + 128 for rec, start in same for r, c in centres if r == rec)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"pseudo_targets": "crops"}, "pseudo_targets must be one of frames, windows, got"),
        ({"pseudo_targets": "windows"}, "pseudo_targets 'windows' needs cover"),
    ],
)
def test_pseudo_targets_are_checked(tmp_path, feature_dir, annotations, overrides, message):
    store, labels, events = setup(feature_dir, annotations)
    out = tmp_path / "fold0.pt"
    with pytest.raises(ValueError, match=message):
        fit(settings(**overrides), store, labels, events, out)
    assert not out.exists()


def test_pseudo_targets_are_a_param_of_rounds_with_pseudo_labels_alone():
    """frames (off) is no param, so a finished run does not rerun; windows is, with the grid's
    overlap it crops; a round without pseudo-labels leaves both out whatever the setting."""
    section = {**ROUND_OFF, "use_pseudo": True}
    assert round_switches({**section, "pseudo_targets": "frames"}, 49) == {}
    on = round_switches({**section, "pseudo_targets": "windows"}, 49)
    assert list(on.items()) == [("pseudo_targets", "windows"), ("cover", 49)]
    assert round_switches({**section, "pseudo_targets": "windows", "use_pseudo": False}, 49) == {}
    with pytest.raises(ValueError, match="relabel.pseudo_targets must be one of"):
        round_switches({**section, "pseudo_targets": "window"}, 49)
    assert settings().pseudo_targets == "frames"
