"""The DAG end to end on a tiny config, and what a config change reruns."""

import json
import math
import os
import re
import shlex
import shutil
import subprocess
from functools import partial

import pandas as pd
import pytest
import yaml

from . import workflow_runs
from .workflow_runs import REPO, job_counts

TINY = REPO / "tests" / "data" / "tiny.yaml"

pytestmark = pytest.mark.workflow

# workflow_runs' runner and dry-run job counts on the tiny config (then configs=[...])
snakemake = partial(workflow_runs.snakemake, base=TINY)
planned_jobs = partial(workflow_runs.planned_jobs, base=TINY)


def tiny_config():
    """The tiny run's config: tiny.yaml layered over config.yaml."""
    return workflow_runs.layered(
        yaml.safe_load((REPO / "config.yaml").read_text()), yaml.safe_load(TINY.read_text())
    )


def write_config(path, overrides):
    path.write_text(yaml.safe_dump(overrides))
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """The tiny config's default target run once: (working directory, completed process)."""
    workdir = tmp_path_factory.mktemp("run")
    return workdir, snakemake(workdir)


@pytest.fixture(scope="module")
def finished(finished_run):
    return finished_run[0]


def test_submission_matches_sample_submission(finished):
    sample = pd.read_csv(finished / "data/synthetic/sample_submission.csv")
    submission = pd.read_csv(finished / "submission.csv")
    assert submission.columns.tolist() == sample.columns.tolist()
    assert submission["recording_id"].tolist() == sample["recording_id"].tolist()
    scores = submission.drop(columns="recording_id").to_numpy()
    assert ((scores >= 0) & (scores <= 1)).all()


def test_scores_cover_every_stage_and_the_ensemble(finished):
    scores = json.loads((finished / "scores.json").read_text())
    assert set(scores) == {"stage1", "round1", "round2", "ensemble"}
    for stage in ("stage1", "round1", "round2"):
        assert 0 < scores[stage]["oof_tp"]["lwlrap"] <= 1
        assert 0 < scores[stage]["test"]["lwlrap"] <= 1
        assert 0 < scores[stage]["oof"]["lwlrap"] <= 1  # against the hidden train truth
        assert len(scores[stage]["test_species_ap"]) == 24
    assert set(scores["ensemble"]["test"]) >= {"lwlrap", "precision", "recall"}


def test_scores_csv_has_a_row_per_stage_with_pseudo_quality(finished):
    table = pd.read_csv(finished / "scores.csv").set_index("stage")
    scores = json.loads((finished / "scores.json").read_text())
    assert table.index.tolist() == ["stage1", "round1", "round2", "ensemble"]
    for stage in ("stage1", "round1", "round2"):
        assert table.loc[stage, "test_lwlrap"] == pytest.approx(
            scores[stage]["test"]["lwlrap"], abs=1e-6
        )
        assert 0 < table.loc[stage, "test_lwlrap_prior"] <= 1
    # the ensemble is the last round's models (ensemble.stages [last]), scaled as the stages
    assert table.loc["ensemble", "test_lwlrap_prior"] == pytest.approx(
        table.loc["round2", "test_lwlrap_prior"], abs=1e-6
    )
    assert pd.isna(table.loc["stage1", "pseudo_count"])  # stage 1 trains on tp/fp only
    for stage in ("round1", "round2"):
        pseudo = pd.read_parquet(finished / f"pseudo/{stage}.parquet")
        # the tiny run labels some windows in both rounds (2 of 2 fold models at >= 0.5; 80
        # a round when this was written): an empty file means the pseudo-label step broke
        assert len(pseudo) > 0, f"no pseudo-labels in {stage}"
        assert table.loc[stage, "pseudo_count"] == len(pseudo)
        assert 0 <= table.loc[stage, "pseudo_precision"] <= 1
        assert 0 <= table.loc[stage, "pseudo_recall"] <= 1
    assert pd.isna(table.loc["ensemble", "oof_tp_lwlrap"])


def test_run_ends_with_its_scores_and_outputs(finished_run):
    """The onsuccess summary (sedcycle.summary): each stage's test LWLRAP and pseudo-label
    count and precision as scores.csv has them, random scores' LWLRAP, then the outputs and
    the command that builds the report of this run."""
    workdir, run = finished_run
    output = run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    lines = output[output.index("Scores (scores.csv") :].splitlines()
    header = lines[1].split("  ")
    assert [t.strip() for t in header if t.strip()] == [
        "stage", "test LWLRAP", "pseudo-labels", "pseudo precision"
    ]  # fmt: skip
    printed = {line.split()[0]: line.split()[1:] for line in lines[2:6]}
    table = pd.read_csv(workdir / "scores.csv").set_index("stage")
    assert list(printed) == table.index.tolist() == ["stage1", "round1", "round2", "ensemble"]
    for stage, (lwlrap, count, precision) in printed.items():
        assert lwlrap == f"{table.loc[stage, 'test_lwlrap']:.3f}", stage
        expected = table.loc[stage, ["pseudo_count", "pseudo_precision"]]
        if stage in ("round1", "round2"):
            assert [count, precision] == [f"{expected.iloc[0]:.0f}", f"{expected.iloc[1]:.3f}"]
        else:
            assert [count, precision] == ["-", "-"]
    mean, std = table.iloc[0][["random_lwlrap_mean", "random_lwlrap_std"]]
    flagged = table.index[table["test_within_random"].astype(str) == "True"].tolist()
    verdict = f"no better: {', '.join(flagged)}" if flagged else "every stage does better"
    assert f"Random scores: test LWLRAP {mean:.3f} +/- {std:.3f}; {verdict}." in output
    named = set(re.split(r"[\s,]+", output[output.index(f"Outputs in {workdir}") :]))
    figures = [f"figures/{name}" for name in REPORT_FIGURES]
    assert named >= {"submission.csv", "scores.csv", "scores.json", *figures}
    report = next(line for line in lines if line.startswith("HTML report of the figures: "))
    command = shlex.split(report.split(": ", 1)[1])
    assert command[1:3] == ["--report", "report.html"]
    assert command[-2:] == ["--configfile", str(TINY)] and "--cores" not in command
    assert command[command.index("--directory") + 1] == str(workdir)


def test_loss_history_is_written_beside_each_checkpoint(finished):
    import torch

    for stage in ("stage1", "round2"):
        history = pd.read_csv(finished / f"models/{stage}/fold0.history.csv")
        checkpoint = torch.load(finished / f"models/{stage}/fold0.pt", weights_only=True)
        # the checkpoint's history also counts each epoch's pseudo-positive targets
        stored = [{k: h[k] for k in ("epoch", "loss", "lr")} for h in checkpoint["history"]]
        assert history.columns.tolist() == ["epoch", "loss", "lr"]
        assert history.to_dict("records") == stored


def test_pseudo_crop_targets_in_scores_are_the_targets_training_used(finished):
    """scores.csv's pseudo_crop_targets of a round is what its fold models counted while
    training (the checkpoints' histories): collect_scores replays the very crops they drew."""
    import torch

    config = tiny_config()
    table = pd.read_csv(finished / "scores.csv").set_index("stage")
    for stage in ("round1", "round2"):
        trained = 0
        for path in sorted((finished / f"models/{stage}").glob("fold*.pt")):
            checkpoint = torch.load(path, weights_only=True)
            assert checkpoint["settings"]["pseudo_targets"] == config["relabel"]["pseudo_targets"]
            trained += sum(epoch["pseudo_positives"] for epoch in checkpoint["history"])
        assert trained > 0, f"no pseudo-positive target trained on in {stage}"
        assert table.loc[stage, "pseudo_crop_targets"] == trained
        assert 0 <= table.loc[stage, "pseudo_crop_precision"] <= 1
    assert pd.isna(table.loc["stage1", "pseudo_crop_targets"])


def test_pseudo_targets_retrain_the_rounds_that_set_them(finished, tmp_path):
    """relabel.pseudo_targets written out as the run's value reruns nothing; the other value
    in round 2 retrains round 2 alone (its pseudo-labels stay: they do not depend on it)."""
    value = tiny_config()["relabel"]["pseudo_targets"]
    same = write_config(tmp_path / "same.yaml", {"relabel": {"pseudo_targets": value}})
    assert planned_jobs(finished, [same]) == {}
    other = {"frames": "windows", "windows": "frames"}[value]
    change = {"relabel": {"rounds": {2: {"pseudo_targets": other}}}}
    jobs = planned_jobs(finished, [write_config(tmp_path / "other.yaml", change)])
    assert jobs["train_round"] == 2 and "pseudo_labels" not in jobs
    assert jobs["collect_scores"] == 1


def test_unknown_weight_auto_weighs_nothing_with_plenty_of_fp_rows(finished, tmp_path):
    """relabel.unknown_weight written out as the run's value (the default, 0.1) reruns nothing,
    and few_negatives_weight is read with auto alone: changed beside a numeric unknown_weight
    it plans nothing more. Switching to 0 or to auto retrains every round (a new param) but,
    with the tiny data's fp rows as many as their tp rows or more, auto resolves to 0: the
    training log says so and round 1's fold 0 trains the very same model as with 0."""
    import torch

    value = tiny_config()["relabel"]["unknown_weight"]
    assert value == 0.1  # config.yaml's default: weak negatives in every round
    same = write_config(tmp_path / "same.yaml", {"relabel": {"unknown_weight": value}})
    assert planned_jobs(finished, [same]) == {}
    numeric = [
        planned_jobs(
            finished,
            [
                write_config(
                    tmp_path / f"few{w}.yaml",
                    {"relabel": {"unknown_weight": value, "few_negatives_weight": w}},
                )
            ],
        )
        for w in (0.1, 0.5)
    ]
    assert numeric[0] == numeric[1] == {}
    n_folds = len(list((finished / "models/stage1").glob("fold*.pt")))
    n_rounds = tiny_config()["relabel"]["n_rounds"]
    trained = {}
    for name, weight in (("auto", "auto"), ("zero", 0.0)):
        config = write_config(tmp_path / f"{name}.yaml", {"relabel": {"unknown_weight": weight}})
        jobs = planned_jobs(finished, [config])
        assert jobs["train_round"] == n_rounds * n_folds and "train_stage1" not in jobs
        run = tmp_path / name
        shutil.copytree(finished, run, symlinks=True)
        snakemake(run, "models/round1/fold0.pt", configs=[config])
        trained[name] = torch.load(run / "models/round1/fold0.pt", weights_only=True)
    log = (tmp_path / "auto/logs/round1/train_fold0.log").read_text()
    counts = re.search(
        r"unknown_weight auto: (\d+) fp rows >= (\d+) tp rows, so unknown pairs weigh 0 ", log
    )
    assert counts, log
    tp = pd.read_csv(finished / "data/synthetic/train_tp.csv")
    fp = pd.read_csv(finished / "data/synthetic/train_fp.csv")
    assert [int(n) for n in counts.groups()] == [len(fp), len(tp)]
    assert trained["auto"]["settings"]["unknown_weight"] == 0.0
    assert trained["zero"]["settings"]["unknown_weight"] == 0.0
    for name, tensor in trained["zero"]["state_dict"].items():
        torch.testing.assert_close(trained["auto"]["state_dict"][name], tensor, msg=name)
    # the default's weak negatives train another model than 0 from the same start
    default = torch.load(finished / "models/round1/fold0.pt", weights_only=True)
    assert default["settings"]["unknown_weight"] == 0.1
    assert any(
        not torch.equal(default["state_dict"][name], tensor)
        for name, tensor in trained["zero"]["state_dict"].items()
        if tensor.is_floating_point()
    )


def test_pseudo_target_precision_recalibrates_the_rounds_that_set_it(finished, tmp_path):
    """relabel.pseudo_target_precision written out as null reruns nothing; set in round 2 it
    reruns round 2's pseudo-labels (which then read the tp/fp tables and the features) and
    round 2 alone, and the job's log lists each species' calibrated threshold."""
    off = {"relabel": {"pseudo_target_precision": None}}
    assert planned_jobs(finished, [write_config(tmp_path / "off.yaml", off)]) == {}
    on = {"relabel": {"rounds": {2: {"pseudo_target_precision": 0.9}}}}
    config = write_config(tmp_path / "on.yaml", on)
    jobs = planned_jobs(finished, [config])
    n_folds = len(list((finished / "models/stage1").glob("fold*.pt")))
    assert jobs["pseudo_labels"] == 1 and jobs["train_round"] == n_folds
    assert "train_stage1" not in jobs
    run = tmp_path / "run"
    shutil.copytree(finished, run, symlinks=True)
    snakemake(run, "pseudo/round2.parquet", configs=[config])
    log = (run / "logs/round2/pseudo_labels.log").read_text()
    assert re.search(r"pseudo thresholds at precision 0\.9 from \d+ labelled windows", log), log
    n_species = tiny_config()["n_species"]
    rows = re.findall(r"^ +(\d+) +[0-9.]+ +\d+ +\d+ +(logistic|default: \w+)$", log, re.M)
    assert [int(r[0]) for r in rows] == list(range(n_species))


def test_prior_scaling_changes_only_the_submission(finished, tmp_path):
    scaled = write_config(tmp_path / "prior.yaml", {"postprocess": {"prior_scaling": True}})
    expected = {"ensemble": 1, "collect_scores": 1, "report_figures": 1, "all": 1}
    assert planned_jobs(finished, [scaled]) == expected


REPORT_FIGURES = {  # figure -> a phrase of its caption (report/*.rst)
    "lwlrap.png": "LWLRAP per stage",
    "species_ap.png": "Per-species average precision",
    "pseudo_labels.png": "Pseudo-labels per relabel round",
    "loss_curves.png": "Training loss curves",
    "test_clip.png": "Spectrogram of one test clip",
}


@pytest.fixture(scope="module")
def report_html(finished):
    snakemake(finished, "--report", "report.html")
    return finished / "report.html"


def test_report_holds_every_figure_with_its_caption(finished, report_html):
    html = report_html.read_text()
    for figure, caption in REPORT_FIGURES.items():
        assert (finished / "figures" / figure).stat().st_size > 5000  # a drawn PNG
        assert figure in html and caption in html, figure


CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report_html, tmp_path):
    """The report's javascript builds its page: the rendered DOM names the figures."""
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            report_html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # the page is built by javascript into <div id="app">: empty in the file, filled if it ran
    app = result.stdout[result.stdout.index('<div id="app">') :]
    app = re.sub(r"<script.*?</script>", "", app, flags=re.S)
    assert "<nav" not in report_html.read_text() and "<nav" in app
    for heading in ("Scores", "Pseudo-labels", "Training", "Predictions", "relabel rounds"):
        assert heading in app, heading


def test_every_stage_writes_its_files_and_logs(finished):
    for stage in ("stage1", "round1", "round2"):
        for fold in range(2):
            assert (finished / f"models/{stage}/fold{fold}.pt").exists()
    assert (finished / "pseudo/round2.parquet").exists()
    log = (finished / "logs/stage1/train_fold0.log").read_text()
    assert "epoch 1/1" in log and "it/s" in log  # tqdm progress reaches the rule's log
    assert list((finished / "benchmarks").rglob("*.tsv"))


def test_rerun_does_nothing(finished):
    assert planned_jobs(finished) == {}


def test_one_more_round_runs_only_that_round(finished, tmp_path):
    more = write_config(tmp_path / "more.yaml", {"relabel": {"n_rounds": 3}})
    assert planned_jobs(finished, [more]) == {
        "pseudo_labels": 1,
        "train_round": 2,
        "predict": 2,
        "summarise_stage": 1,
        "ensemble": 1,
        "collect_scores": 1,
        "report_figures": 1,
        "clip_figure": 1,
        "all": 1,
    }


def test_round2_settings_rerun_round2_onward_only(finished, tmp_path):
    change = write_config(tmp_path / "lr.yaml", {"relabel": {"rounds": {2: {"lr": 1.0e-4}}}})
    assert planned_jobs(finished, [change]) == {
        "train_round": 2,
        "predict": 2,
        "summarise_stage": 1,
        "ensemble": 1,
        "collect_scores": 1,
        "report_figures": 1,
        "clip_figure": 1,
        "all": 1,
    }


def test_round1_pseudo_threshold_reruns_both_rounds(finished, tmp_path):
    change = write_config(
        tmp_path / "t.yaml", {"relabel": {"rounds": {1: {"pseudo_threshold": 0.4}}}}
    )
    jobs = planned_jobs(finished, [change])
    assert jobs["pseudo_labels"] == 2 and jobs["train_round"] == 4
    assert "train_stage1" not in jobs and "extract_features" not in jobs


def test_round_without_pseudo_labels_needs_no_pseudo_file(finished, tmp_path):
    stage2 = write_config(tmp_path / "s2.yaml", {"relabel": {"rounds": {1: {"use_pseudo": False}}}})
    jobs = planned_jobs(finished, [stage2])
    # round 1 retrains on tp/fp alone; only round 2's pseudo-labels (from new round-1 models)
    assert jobs["train_round"] == 2 * 2 and jobs["pseudo_labels"] == 1  # 2 rounds x 2 folds
    assert "train_stage1" not in jobs


def test_generator_label_settings_regenerate_the_data(finished, tmp_path):
    change = write_config(tmp_path / "fp.yaml", {"data": {"synthetic": {"fp_per_recording": 3.0}}})
    jobs = planned_jobs(finished, [change])
    assert jobs["make_synthetic"] == 1 and jobs["train_stage1"] == 2  # everything downstream


def test_relabel_switches_beyond_the_recipe_run_through_the_rules(finished, tmp_path):
    """Round 1 with out-of-fold pseudo-labels, pseudo-negatives and weighted unknown pairs:
    the pseudo-label table and the checkpoint's settings carry them, scores.csv counts the
    negatives."""
    run = tmp_path / "run"
    shutil.copytree(finished, run, symlinks=True)
    switches = {
        "pseudo_out_of_fold": True,
        # the tiny run's models score 0.46..0.52: both kinds of pseudo-label occur
        "pseudo_threshold": 0.505,
        "pseudo_negative_threshold": 0.49,
        "unknown_weight": 0.25,
    }
    change = write_config(tmp_path / "switches.yaml", {"relabel": {"rounds": {1: switches}}})
    snakemake(run, "models/round1/fold0.pt", "scores.csv", configs=[change])
    pseudo = pd.read_parquet(run / "pseudo/round1.parquet")
    assert set(pseudo["label"]) <= {1, -1} and (pseudo["label"] == -1).any()
    assert (pseudo.loc[pseudo["label"] == 1, "votes"] == 1).all()  # one out-of-fold vote
    import torch

    settings = torch.load(run / "models/round1/fold0.pt", weights_only=True)["settings"]
    assert settings["unknown_weight"] == 0.25
    scores = pd.read_csv(run / "scores.csv").set_index("stage")
    assert scores.loc["round1", "pseudo_negatives"] == (pseudo["label"] == -1).sum()
    assert 0 <= scores.loc["round1", "pseudo_negative_error"] <= 1


def test_soft_targets_take_the_previous_stage_models_and_are_off_by_default(finished, tmp_path):
    """relabel.soft_weight: 0 (the default, written out) changes nothing in a finished run; on
    in round 2 it retrains round 2 alone, with round 1's fold models as the teacher, and the
    checkpoint records it, with unknown_weight beside it too."""
    off = write_config(tmp_path / "off.yaml", {"relabel": {"soft_weight": 0.0}})
    assert planned_jobs(finished, [off]) == {}
    run = tmp_path / "run"
    shutil.copytree(finished, run, symlinks=True)
    on = write_config(tmp_path / "on.yaml", {"relabel": {"rounds": {2: {"soft_weight": 0.5}}}})
    jobs = planned_jobs(run, [on])
    assert jobs["train_round"] == 2 and "pseudo_labels" not in jobs
    done = snakemake(run, "models/round2/fold0.pt", configs=[on])
    job = (done.stdout + done.stderr).split("rule train_round:")[1].split("output:")[0]
    assert "models/round1/fold0.pt" in job and "models/round1/fold1.pt" in job  # every fold
    import torch

    settings = torch.load(run / "models/round2/fold0.pt", weights_only=True)["settings"]
    assert settings["soft_weight"] == 0.5
    both = write_config(
        tmp_path / "both.yaml",
        {"relabel": {"rounds": {2: {"soft_weight": 0.5, "unknown_weight": 0.1}}}},
    )
    # unknown_weight beside the teacher: weak negatives that shrink its targets towards absent
    snakemake(run, "models/round2/fold1.pt", configs=[both])
    settings = torch.load(run / "models/round2/fold1.pt", weights_only=True)["settings"]
    assert (settings["soft_weight"], settings["unknown_weight"]) == (0.5, 0.1)
    assert "unknown_weight 0.1" in (run / "logs/round2/train_fold1.log").read_text()


def test_out_of_fold_soft_targets_are_off_by_default_and_checked_in_the_rule(finished, tmp_path):
    """relabel.soft_out_of_fold: false (written out) changes nothing in a finished run; on with
    soft targets it retrains round 2 with each recording's out-of-fold teacher, recorded in the
    checkpoint; on without soft targets the job fails and its log says why."""
    off = write_config(tmp_path / "off.yaml", {"relabel": {"soft_out_of_fold": False}})
    assert planned_jobs(finished, [off]) == {}
    run = tmp_path / "run"
    shutil.copytree(finished, run, symlinks=True)
    on = write_config(
        tmp_path / "on.yaml",
        {"relabel": {"rounds": {2: {"soft_weight": 0.5, "soft_out_of_fold": True}}}},
    )
    snakemake(run, "models/round2/fold0.pt", configs=[on])
    import torch

    settings = torch.load(run / "models/round2/fold0.pt", weights_only=True)["settings"]
    assert settings["soft_out_of_fold"] is True and settings["soft_weight"] == 0.5
    alone = write_config(
        tmp_path / "alone.yaml", {"relabel": {"rounds": {2: {"soft_out_of_fold": True}}}}
    )
    failed = snakemake(run, "models/round2/fold1.pt", configs=[alone], check=False)
    assert failed.returncode != 0
    assert "set soft_weight > 0" in (run / "logs/round2/train_fold1.log").read_text()


def test_stage1_mixup_is_off_by_default_and_retrains_stage1_when_on(finished, tmp_path):
    """stage1.mixup_alpha: 0 (the default, written out) changes nothing in a finished run; on,
    it retrains every stage-1 fold model (and what follows), and the checkpoint records it."""
    off = write_config(tmp_path / "off.yaml", {"stage1": {"mixup_alpha": 0.0}})
    assert planned_jobs(finished, [off]) == {}
    run = tmp_path / "run"
    shutil.copytree(finished, run, symlinks=True)
    on = write_config(tmp_path / "on.yaml", {"stage1": {"mixup_alpha": 0.4}})
    n_folds = len(list((finished / "models/stage1").glob("fold*.pt")))
    assert planned_jobs(run, [on])["train_stage1"] == n_folds
    snakemake(run, "models/stage1/fold0.pt", configs=[on])
    import torch

    settings = torch.load(run / "models/stage1/fold0.pt", weights_only=True)["settings"]
    assert settings["mixup_alpha"] == 0.4 and settings["loss"] == "clipwise"


def test_min_steps_reach_the_training_jobs_and_zero_reruns_nothing(finished, tmp_path):
    """stage1.min_steps and relabel.min_steps written out as 0 (off: tiny.yaml's stage 1 and
    config.yaml's rounds) rerun nothing in a finished run; a round's override retrains that
    round alone (the last here), and stage1.min_steps every stage-1 fold model, whose job
    then trains the epochs it asks for, says so in its log and stores them in the
    checkpoint."""
    off = {"stage1": {"min_steps": 0}, "relabel": {"min_steps": 0}}
    assert planned_jobs(finished, [write_config(tmp_path / "off.yaml", off)]) == {}
    n_folds = len(list((finished / "models/stage1").glob("fold*.pt")))
    last = tiny_config()["relabel"]["n_rounds"]
    longer = {"relabel": {"rounds": {last: {"min_steps": 20}}}}
    jobs = planned_jobs(finished, [write_config(tmp_path / "round.yaml", longer)])
    assert jobs["train_round"] == n_folds and "train_stage1" not in jobs
    run = tmp_path / "run"
    shutil.copytree(finished, run, symlinks=True)
    on = write_config(tmp_path / "on.yaml", {"stage1": {"min_steps": 20}})
    assert planned_jobs(run, [on])["train_stage1"] == n_folds
    snakemake(run, "models/stage1/fold0.pt", configs=[on])
    import torch

    log = (run / "logs/stage1/train_fold0.log").read_text()
    said = re.search(
        r"stage1\.min_steps 20 at (\d+) batches an epoch: (\d+) epochs instead of 1", log
    )
    assert said, log[-2000:]
    batches, epochs = int(said[1]), int(said[2])
    assert epochs == -(-20 // batches) > 1
    checkpoint = torch.load(run / "models/stage1/fold0.pt", weights_only=True)
    assert checkpoint["settings"]["epochs"] == epochs == len(checkpoint["history"])
    assert checkpoint["settings"]["min_steps"] == 20


def test_min_window_passes_reach_the_round_jobs_and_zero_reruns_nothing(finished, tmp_path):
    """relabel.min_window_passes written out as 0 (the test config's, off; config.yaml's is
    1.0) reruns nothing in a finished run; on for the last round alone, it retrains that round
    (no earlier job), whose fold job counts its fold's grid windows and random crops, trains the
    epochs they ask for and says so in its log; that fold job, once made, is not planned again
    with the same setting."""
    import torch

    off = write_config(tmp_path / "off.yaml", {"relabel": {"min_window_passes": 0}})
    assert planned_jobs(finished, [off]) == {}
    n_folds = len(list((finished / "models/stage1").glob("fold*.pt")))
    last = tiny_config()["relabel"]["n_rounds"]
    on = write_config(
        tmp_path / "on.yaml", {"relabel": {"rounds": {last: {"min_window_passes": 3.0}}}}
    )
    jobs = planned_jobs(finished, [on])
    assert jobs["train_round"] == n_folds and "train_stage1" not in jobs
    run = tmp_path / "run"
    shutil.copytree(finished, run, symlinks=True)
    snakemake(run, f"models/round{last}/fold0.pt", configs=[on])
    log = (run / f"logs/round{last}/train_fold0.log").read_text()
    said = re.search(
        r"relabel\.min_window_passes 3\.0 over (\d+) windows at ([\d.]+) random crops an epoch: "
        r"(\d+) epochs (instead of|already)",
        log,
    )
    assert said, log[-2000:]
    windows, random_crops, epochs = int(said[1]), float(said[2]), int(said[3])
    assert epochs == math.ceil(3.0 * windows / random_crops)
    checkpoint = torch.load(run / f"models/round{last}/fold0.pt", weights_only=True)
    assert checkpoint["settings"]["epochs"] == epochs == len(checkpoint["history"])
    assert checkpoint["settings"]["min_window_passes"] == 3.0
    again = planned_jobs(run, [on])
    assert again["train_round"] == n_folds - 1  # the other folds' jobs, not fold 0's


def test_stage1_grid_crops_retrain_stage1_and_auto_reruns_nothing(finished, tmp_path):
    """stage1.crops: auto (the default, written out) changes nothing in a finished run, whose
    synthetic labels (more fp rows than tp rows) resolved it to events; grid retrains every
    stage-1 fold model on the windows.cover grid, and a cover change then retrains a fold
    model trained on the grid."""
    import torch

    auto = write_config(tmp_path / "auto.yaml", {"stage1": {"crops": "auto"}})
    assert planned_jobs(finished, [auto]) == {}
    stored = torch.load(finished / "models/stage1/fold0.pt", weights_only=True)["settings"]
    assert stored["crops"] == "events"
    assert "stage1.crops auto: " in (finished / "logs/stage1/train_fold0.log").read_text()
    run = tmp_path / "run"
    shutil.copytree(finished, run, symlinks=True)
    grid = write_config(tmp_path / "grid.yaml", {"stage1": {"crops": "grid"}})
    n_folds = len(list((finished / "models/stage1").glob("fold*.pt")))
    assert planned_jobs(run, [grid])["train_stage1"] == n_folds
    snakemake(run, "models/stage1/fold0.pt", configs=[grid])
    settings = torch.load(run / "models/stage1/fold0.pt", weights_only=True)["settings"]
    cover = yaml.safe_load(TINY.read_text())["windows"]["cover"]  # over config.yaml's
    assert settings["crops"] == "grid" and settings["cover"] == cover
    assert planned_jobs(run, [grid])["train_stage1"] == n_folds - 1  # fold 0 is done
    regrid = {"stage1": {"crops": "grid"}, "windows": {"cover": cover + 1}}
    regrid = write_config(tmp_path / "regrid.yaml", regrid)
    assert planned_jobs(run, [regrid])["train_stage1"] == n_folds


def test_relabel_crops_events_reruns_nothing_and_grid_retrains_the_rounds(finished, tmp_path):
    """relabel.crops: events (the default, written out) changes nothing in a finished run; grid
    retrains every round's fold models and not stage 1's; a round's override alone retrains
    that round and the ones after it."""
    events = write_config(tmp_path / "events.yaml", {"relabel": {"crops": "events"}})
    assert planned_jobs(finished, [events]) == {}
    n_folds = len(list((finished / "models/stage1").glob("fold*.pt")))
    n_rounds = len(list((finished / "models").glob("round*")))
    grid = write_config(tmp_path / "grid.yaml", {"relabel": {"crops": "grid"}})
    planned = planned_jobs(finished, [grid])
    assert planned["train_round"] == n_folds * n_rounds and "train_stage1" not in planned
    last = write_config(
        tmp_path / "last.yaml", {"relabel": {"rounds": {n_rounds: {"crops": "grid"}}}}
    )
    assert planned_jobs(finished, [last])["train_round"] == n_folds


def test_fold_groups_are_off_by_default_and_regroup_the_folds_when_set(finished, tmp_path):
    """folds.groups: null (the default, written out) changes nothing in a finished run; a
    recording_id,group table makes make_folds put each group in one fold (and retrains what
    follows); a training recording missing from it stops make_folds naming the file."""
    off = write_config(tmp_path / "off.yaml", {"folds": {"groups": None}})
    assert planned_jobs(finished, [off]) == {}
    run = tmp_path / "run"
    shutil.copytree(finished, run, symlinks=True)
    folds = pd.read_csv(finished / "folds.csv")
    groups = folds.assign(group=[f"site{i // 4}" for i in range(len(folds))])
    groups[["recording_id", "group"]].to_csv(tmp_path / "sites.csv", index=False)
    on = write_config(tmp_path / "on.yaml", {"folds": {"groups": str(tmp_path / "sites.csv")}})
    jobs = planned_jobs(run, [on])
    assert jobs["make_folds"] == 1 and jobs["train_stage1"] == folds["fold"].nunique()
    snakemake(run, "folds.csv", configs=[on])
    grouped = pd.read_csv(run / "folds.csv").merge(groups[["recording_id", "group"]])
    assert (grouped.groupby("group")["fold"].nunique() == 1).all()
    assert not grouped["fold"].equals(folds["fold"])
    groups.iloc[1:][["recording_id", "group"]].to_csv(tmp_path / "sites.csv", index=False)
    failed = snakemake(run, "folds.csv", configs=[on], check=False)
    assert failed.returncode != 0
    log = (run / "logs/make_folds.log").read_text()
    assert f"sites.csv: 1 training recording(s) have no group: ['{folds.recording_id[0]}']" in log


def test_scores_set_each_stage_against_random_scores(finished):
    """The synthetic run has test truth: scores.csv holds the random baseline and a flag per
    row, and the collect_scores log says the baseline (and warns for flagged rows)."""
    table = pd.read_csv(finished / "scores.csv")
    assert table["random_lwlrap_mean"].nunique() == 1 and table["random_lwlrap_std"].gt(0).all()
    baseline = table["random_lwlrap_mean"] + table["random_lwlrap_std"]
    assert table["test_within_random"].tolist() == (table["test_lwlrap"] <= baseline).tolist()
    lines = (finished / "logs/collect_scores.log").read_text().strip().splitlines()
    assert any(line.startswith("random scores' test LWLRAP:") for line in lines)
    flagged = table.loc[table["test_within_random"], "stage"].tolist()
    first, std = table.loc[0, "test_lwlrap"], table.loc[0, "random_lwlrap_std"]
    rounds = table["stage"].str.startswith("round")
    below = table.loc[rounds & (table["test_lwlrap"] < first - std), "stage"].tolist()
    assert (
        table.loc[rounds, "test_below_stage1"].astype(bool).tolist()
        == (table.loc[rounds, "test_lwlrap"] < first - std).tolist()
    )
    assert table.loc[~rounds, "test_below_stage1"].isna().all()
    expected = [f"WARNING: test LWLRAP of {', '.join(flagged)} is within"] if flagged else []
    if below:
        expected.append(f"WARNING: test LWLRAP of {', '.join(below)} is below stage 1's")
    warnings = [line for line in lines if "WARNING" in line]
    assert len(warnings) == len(expected)
    assert all(w.startswith(e) for w, e in zip(warnings, expected, strict=True))


def test_fold_model_lost_to_a_failed_retraining_is_rebuilt(finished, tmp_path):
    """A round-1 change retrains fold 1 while fold 0's job fails (Snakemake deletes its model)
    and fold 0's old predictions remain: the next run must retrain fold 0, not ensemble its
    stale predictions with fold 1's new ones (the stale-output trap of snakemake issue 1978)."""
    run = tmp_path / "run"
    shutil.copytree(finished, run, symlinks=True)
    checkpoint = run / "models/stage1/fold0.pt"  # round 1 fold 0 fine-tunes it: make it fail
    saved, stat = checkpoint.read_bytes(), checkpoint.stat()
    checkpoint.write_bytes(b"corrupt")
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    change = write_config(tmp_path / "lr.yaml", {"relabel": {"rounds": {1: {"lr": 1.0e-4}}}})
    failed = snakemake(
        run, "--keep-going", "models/round1/fold0.pt", "models/round1/fold1.pt",
        configs=[change], check=False,
    )  # fmt: skip
    assert failed.returncode != 0
    assert not (run / "models/round1/fold0.pt").exists()
    assert (run / "models/round1/fold1.pt").stat().st_mtime > stat.st_mtime  # retrained
    checkpoint.write_bytes(saved)
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    dry = snakemake(run, "--dry-run", "submission.csv", configs=[change]).stdout
    assert re.search(r"^\s*output: models/round1/fold0\.pt\b", dry, re.M), dry[-3000:]
    assert re.search(r"^\s*output: predictions/round1/fold0_train\.parquet", dry, re.M)
    assert job_counts(dry)["train_round"] == 1 + 2  # round 1 fold 0, then round 2's two folds


def test_bad_config_is_refused_with_the_key_named(tmp_path):
    bad = write_config(tmp_path / "bad.yaml", {"stage1": {"epochz": 3}})
    result = snakemake(tmp_path, "--dry-run", configs=[bad], check=False)
    assert result.returncode != 0 and "epochz" in result.stdout + result.stderr
    wrong = write_config(tmp_path / "wrong.yaml", {"relabel": {"n_rounds": "three"}})
    result = snakemake(tmp_path, "--dry-run", configs=[wrong], check=False)
    assert result.returncode != 0 and "three" in result.stdout + result.stderr


def test_unknown_ensemble_stage_is_refused(tmp_path):
    bad = write_config(tmp_path / "e.yaml", {"ensemble": {"stages": ["round7"]}})
    result = snakemake(tmp_path, "--dry-run", configs=[bad], check=False)
    assert result.returncode != 0 and "round7" in result.stdout + result.stderr
