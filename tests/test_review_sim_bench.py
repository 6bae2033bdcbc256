"""bench/review_sim.py: each arm's review settings, the order its loop needs, and the report
(table, paired verdicts, plot) from finished runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sedcycle import review

from . import bench_scripts

ROOT = Path(__file__).resolve().parent.parent
REVIEW_SIM = ROOT / "bench" / "review_sim.py"
STAGES = ("stage1", "round1", "round2", "round3")


def load_review_sim():
    return bench_scripts.load("review_sim")


@pytest.mark.parametrize("arm", ["random", "margin", "top", "stratified"])
def test_a_single_strategy_arm_spends_the_whole_budget_on_it(tmp_path, arm):
    """Layered over config.yaml key by key (as snakemake does), the arm's shares leave none
    of config.yaml's mix behind."""
    sim = load_review_sim()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    sim.benchlib.merge(config, yaml.safe_load(sim.arm_config(tmp_path, arm, 3).read_text()))
    budget = config["review"]["budget"]
    counts = review.strategy_counts(budget, config["review"]["strategies"])
    assert counts == {s: budget if s == arm else 0 for s in review.STRATEGIES}
    assert config["review"]["verdicts"] == str(tmp_path / "verdicts")
    assert (tmp_path / "verdicts").is_dir()
    assert config["stage1"]["seed"] == config["relabel"]["seed"] == config["review"]["seed"] == 3


def test_a_relative_root_gives_the_workflow_an_absolute_verdicts_folder(tmp_path, monkeypatch):
    """The workflow runs inside the arm's folder (--directory): review.verdicts must name the
    folder from anywhere, whatever --root was given as."""
    sim = load_review_sim()
    monkeypatch.chdir(tmp_path)
    written = yaml.safe_load(sim.arm_config(Path("runs/seed0/mix"), "mix", 0).read_text())
    verdicts = Path(written["review"]["verdicts"])
    assert verdicts.is_absolute() and verdicts == tmp_path / "runs/seed0/mix/verdicts"
    assert verdicts.is_dir()


def test_no_review_and_the_mix_keep_config_yaml_s_review(tmp_path):
    sim = load_review_sim()
    defaults = yaml.safe_load((ROOT / "config.yaml").read_text())["review"]
    none = yaml.safe_load(sim.arm_config(tmp_path / "none", "none", 0).read_text())
    assert "verdicts" not in none["review"] and "strategies" not in none["review"]
    mix = yaml.safe_load(sim.arm_config(tmp_path / "mix", "mix", 0).read_text())
    assert "strategies" not in mix["review"] and mix["review"]["verdicts"]
    assert sum(defaults["strategies"].values()) > 0
    n_rounds = yaml.safe_load((ROOT / "config.yaml").read_text())["relabel"]["n_rounds"]
    rounds = [f"round{r}" for r in range(1, n_rounds + 1)]
    assert sim.stages(tmp_path / "mix") == ["stage1", *rounds]


def test_a_reviewing_arm_needs_the_seed_s_finished_run_without_review(tmp_path):
    sim = load_review_sim()
    with pytest.raises(SystemExit, match="needs the finished run .*seed0/none"):
        sim.run_arm(tmp_path, 0, "random", "2")
    assert not (tmp_path / "seed0" / "random").exists()


def fake_arm(workdir: Path, lwlraps, f1s, n_tp=None) -> None:
    """A finished arm: scores.csv, each stage's event_scores.csv and, with ``n_tp`` (tp
    verdicts per reviewed stage), 24 verdicts after every stage but the last."""
    rows = [{"stage": s, "test_lwlrap": v} for s, v in zip(STAGES, lwlraps, strict=True)]
    rows.append({"stage": "ensemble", "test_lwlrap": lwlraps[-1]})
    workdir.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(workdir / "scores.csv", index=False)
    for stage, f1 in zip(STAGES, f1s, strict=True):
        (workdir / "detections" / stage).mkdir(parents=True)
        pd.DataFrame(
            {
                "criterion": ["onset", "onset", "iou"],
                "species": ["all", "s0", "all"],
                "precision": [0.5, 0.99, 0.01],
                "recall": [f1 / 2, 0.99, 0.01],
                "f1": [f1, 0.99, 0.01],
            }
        ).to_csv(workdir / "detections" / stage / "event_scores.csv", index=False)
    if n_tp is not None:
        for stage, tp in zip(STAGES[:-1], n_tp, strict=True):
            (workdir / "verdicts" / stage).mkdir(parents=True)
            verdicts = ["tp"] * tp + ["fp"] * (24 - tp)
            pd.DataFrame({"item": range(24), "verdict": verdicts}).to_csv(
                workdir / "verdicts" / stage / "reviewer.csv", index=False
            )
    (workdir / "done").write_text("")


def test_the_report_lines_up_arms_by_verdicts_and_pairs_them_by_seed(tmp_path):
    runs = tmp_path / "runs"
    lwlrap = {
        "none": [(0.70, 0.72, 0.73, 0.74), (0.60, 0.61, 0.62, 0.63)],
        "random": [(0.70, 0.73, 0.74, 0.75), (0.60, 0.60, 0.61, 0.62)],
        "mix": [(0.70, 0.74, 0.76, 0.78), (0.60, 0.63, 0.65, 0.66)],
    }
    for arm, seeds in lwlrap.items():
        for seed, values in enumerate(seeds):
            f1s = [v - 0.5 for v in values]
            fake_arm(runs / f"seed{seed}" / arm, values, f1s, None if arm == "none" else (6, 8, 10))
    # an unfinished arm is left out of the report
    (runs / "seed0" / "margin").mkdir()
    out = tmp_path / "report.md"
    done = subprocess.run(
        [
            sys.executable,
            str(REVIEW_SIM),
            "--summary-only",
            "--seeds",
            "0",
            "1",
            "--root",
            str(runs),
            "--out",
            str(out),
            "--arms",
            "none",
            "random",
            "mix",
            "margin",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    text = out.read_text()
    assert done.stdout.strip() == text.strip()
    assert out.with_suffix(".png").stat().st_size > 0
    # verdicts trained on: none before round1, then 24 a reviewed stage; tp share 6/24, 14/48
    assert (
        "| mix | stage1 | 2 | 0 | 0% | 0.6500 ± 0.0707 | 0.1500 ± 0.0707 | 0.500 | 0.075 |" in text
    )
    assert "| mix | round1 | 2 | 24 | 25% |" in text
    assert "| mix | round3 | 2 | 72 | 33% | 0.7200 ± 0.0849 |" in text
    assert "| none | round3 | 2 | 0 | 0% | 0.6850 ± 0.0778 |" in text
    assert "| margin |" not in text
    assert "margin 0" in text  # seeds finished per arm
    assert "- mix above none on every seed: **yes** (+0.0400, +0.0300; mean +0.0350)" in text
    assert "- mix above random on every seed: **yes** (+0.0300, +0.0400; mean +0.0350)" in text
    assert "- random above none on every seed: **no** (+0.0100, -0.0100; mean +0.0000)" in text
    assert text.count("above none on every seed") == 4  # LWLRAP and event F1, random and mix
    # no thresholds table in these runs: no fitted-thresholds section
    assert "## Detection thresholds fitted" not in text


def test_the_report_counts_the_fitted_thresholds_and_the_reasons_for_defaults(tmp_path):
    runs = tmp_path / "runs"
    methods = {
        0: ["logistic", "default: too_uncertain", "default: only_tp"],
        1: ["logistic", "logistic", "default: below_verdict_scores"],
    }
    for seed, rows in methods.items():
        fake_arm(runs / f"seed{seed}" / "none", (0.7,) * 4, (0.2,) * 4)
        fake_arm(runs / f"seed{seed}" / "mix", (0.7,) * 4, (0.2,) * 4, (6, 8, 10))
        (runs / f"seed{seed}" / "mix" / "review").mkdir()
        pd.DataFrame({"species_id": range(3), "start_threshold": 0.5, "method": rows}).to_csv(
            runs / f"seed{seed}" / "mix" / "review" / "thresholds.csv", index=False
        )
    review_sim = load_review_sim()
    lines = review_sim.threshold_lines(runs, [0, 1], ["none", "mix"])
    header = [c.strip() for c in lines[0].split("|")[1:-1]]
    row = dict(zip(header, [c.strip() for c in lines[2].split("|")[1:-1]], strict=True))
    assert len(lines) == 3 and row["arm"] == "mix"  # none has no thresholds
    assert row["species x seeds"] == "6" and row["fitted"] == "3"
    assert row["too_uncertain"] == row["only_tp"] == row["below_verdict_scores"] == "1"
    assert row["too_few_verdicts"] == row["target_not_reached"] == "0"
    # every reason fit_threshold can give has a column, and no other
    assert set(review_sim.DEFAULT_REASONS) == fit_threshold_methods()
    assert review_sim.DEFAULT_REASONS is review.DEFAULT_REASONS


def fit_threshold_methods() -> set[str]:
    """The methods named in sedcycle.review.fit_threshold's source."""
    import inspect
    import re

    return set(re.findall(r'"(default: \w+)"', inspect.getsource(review.fit_threshold)))


def test_runs_start_arm_by_arm_and_a_reviewing_arm_after_its_seed_s_run(tmp_path, monkeypatch):
    sim = load_review_sim()
    started, ended = [], []

    def fake_run_arm(root, seed, arm, cores, config):
        started.append((seed, arm, set(ended)))
        ended.append((seed, arm))
        return 1.0

    monkeypatch.setattr(sim, "run_arm", fake_run_arm)
    minutes = sim.run_all(tmp_path, [0, 1], ["none", "random", "mix"], "1", 1)
    assert [(seed, arm) for seed, arm, _ in started] == [
        (0, "none"),
        (1, "none"),
        (0, "random"),
        (1, "random"),
        (0, "mix"),
        (1, "mix"),
    ]
    started.clear()
    ended.clear()
    minutes = sim.run_all(tmp_path, [0, 1, 2], ["none", "random", "mix"], "1", 2)
    assert len(minutes) == 9
    for seed, arm, done_before in started:
        if arm != "none":
            assert (seed, "none") in done_before


def test_a_failed_run_stops_the_runs_not_yet_started(tmp_path, monkeypatch):
    sim = load_review_sim()
    started = []

    def fake_run_arm(root, seed, arm, cores, config):
        started.append((seed, arm))
        if arm == "none":
            raise SystemExit(f"seed {seed} failed")
        return 1.0

    monkeypatch.setattr(sim, "run_arm", fake_run_arm)
    with pytest.raises(SystemExit, match="failed"):
        sim.run_all(tmp_path, [0, 1], ["none", "random"], "1", 1)
    assert started == [(0, "none")]


def test_a_data_file_goes_into_every_workflow_call_and_the_report(tmp_path, monkeypatch):
    """--config (e.g. bench/rfcx_shaped_data.yaml for RFCx's size) replaces review_sim.yaml:
    in each snakemake call, in the stages a reviewing arm queues, and in the report's command
    and data line."""
    sim = load_review_sim()
    rfcx = ROOT / "bench" / "rfcx_shaped_data.yaml"
    data = tmp_path / "data.yaml"
    data.write_text(rfcx.read_text() + "relabel:\n  n_rounds: 2\n")
    sim.arm_config(tmp_path / "arm", "mix", 0)
    assert sim.stages(tmp_path / "arm", data) == ["stage1", "round1", "round2"]
    assert sim.stages(tmp_path / "arm") == ["stage1", *(f"round{r}" for r in (1, 2, 3))]
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(sim.subprocess, "run", fake_run)
    assert sim.run_arm(tmp_path / "runs", 0, "none", "1", data) is not None
    assert len(commands) == 1 and str(data) in commands[0]
    assert str(sim.CONFIG) not in commands[0]
    runs = tmp_path / "finished"
    for seed in (0, 1):
        fake_arm(runs / f"seed{seed}" / "none", (0.6, 0.62, 0.63, 0.64), (0.2,) * 4)
        fake_arm(runs / f"seed{seed}" / "mix", (0.6, 0.63, 0.64, 0.65), (0.2,) * 4, (6, 8, 10))
    out = tmp_path / "report.md"
    text = sim.write_report(runs, [0, 1], ["none", "mix"], out, {}, rfcx)
    assert "--config bench/rfcx_shaped_data.yaml --root " in text
    assert "Data: bench/rfcx_shaped_data.yaml, labelled as RFCx is: 720 train recordings" in text
    assert "25% with tp rows" in text and "360 test recordings, 24 species, 5 folds" in text
    default = sim.write_report(runs, [0, 1], ["none", "mix"], out, {})
    assert "--config" not in default and "Data: bench/review_sim.yaml" in default
    assert "320 train recordings" in default and "8 species, 3 folds" in default


def test_wall_minutes_of_another_call_on_the_same_root_are_kept(tmp_path, monkeypatch):
    """Two calls on one root (other arms) at once: each adds its runs' minutes to
    wall_minutes.json without dropping what the other wrote while it ran."""
    sim = load_review_sim()
    kept = tmp_path / "wall_minutes.json"
    kept.write_text('{"seed0/none": 20.0}')

    def run_all(root, seeds, arms, cores, workers, config):
        # the other call finishes first and writes its own runs
        kept.write_text('{"seed0/none": 20.0, "seed0/margin": 9.0}')
        return {"seed0/mix": 7.0}

    reported = {}

    def write_report(root, seeds, arms, out, minutes, config):
        reported.update(minutes)

    monkeypatch.setattr(sim, "run_all", run_all)
    monkeypatch.setattr(sim, "write_report", write_report)
    monkeypatch.setattr(sys, "argv", ["review_sim.py", "--root", str(tmp_path), "--arms", "mix"])
    sim.main()
    expected = {"seed0/none": 20.0, "seed0/margin": 9.0, "seed0/mix": 7.0}
    assert yaml.safe_load(kept.read_text()) == expected
    assert reported == expected
