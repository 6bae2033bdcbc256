"""bench/quality.py's summary: mean and spread per stage, and the verdicts on the claims."""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sedcycle.evaluation import SCORE_COLUMNS

from . import bench_scripts
from .workflow_runs import layered as layered_configs
from .workflow_runs import schema_errors

ROOT = Path(__file__).resolve().parent.parent
QUALITY = ROOT / "bench" / "quality.py"


def fake_run(workdir: Path, test_lwlrap: dict[str, float]) -> None:
    """A finished seed directory: scores.csv with these test LWLRAPs, one timing file."""
    rows = [{"stage": stage, "test_lwlrap": v} for stage, v in test_lwlrap.items()]
    (workdir / "benchmarks").mkdir(parents=True)
    pd.DataFrame(rows).reindex(columns=SCORE_COLUMNS).to_csv(workdir / "scores.csv", index=False)
    (workdir / "benchmarks" / "scores.tsv").write_text("s\th:m:s\n60.0\t0:01:00\n")


# test LWLRAP of stage 1, round 1 and round 2 for seeds 0, 1, 2
THREE_SEEDS = [(0.60, 0.62, 0.70), (0.62, 0.61, 0.72), (0.61, 0.63, 0.71)]


def run_summary(
    root: Path, *variants: str, options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """bench/quality.py --summary-only over ``root``'s runs, writing ``root``/quality.md."""
    command = [sys.executable, str(QUALITY), "--root", str(root), "--summary-only", *options]
    return subprocess.run(
        [*command, "--out", str(root / "quality.md"), "--variants", *variants],
        capture_output=True,
        text=True,
    )


def summary(root: Path, *variants: str, options: tuple[str, ...] = ()) -> str:
    """bench/quality.py --summary-only over ``root``'s runs; returns the markdown written."""
    done = run_summary(root, *variants, options=options)
    assert done.returncode == 0, done.stderr
    return (root / "quality.md").read_text()


def test_summary_gives_mean_spread_and_verdicts(tmp_path):
    for seed, (s1, r1, r2) in enumerate(THREE_SEEDS):
        fake_run(tmp_path / f"seed{seed}", {"stage1": s1, "round1": r1, "round2": r2})
        # the ablation: rounds that fall below stage 1 on one seed
        fake_run(
            tmp_path / "votes_3_of_3" / f"seed{seed}",
            {"stage1": s1, "round1": r1, "round2": s1 + (0.05 if seed else -0.01)},
        )
    text = summary(tmp_path, "votes_3_of_3")
    assert "| round2 | 0.710 ± 0.010 |" in text  # mean ± std (n-1) of 0.70, 0.72, 0.71
    assert "round2 above stage1: mean gain +0.1000" in text and "**yes**" in text
    # gains 0.10, 0.10, 0.10: the spread of the gains is shown beside the verdict, not used
    assert "**yes** (std of the per-seed gains 0.0000; paired t-test: every seed gains" in text
    ablation = text[text.index("## votes_3_of_3") :]
    assert "round2 above stage1" in ablation and "**no**" in ablation.split("\n\n")[2]
    # gains -0.01, +0.05, +0.05: mean 0.03, std 0.0346, t = 0.03 / (0.0346 / sqrt 3) = 1.5,
    # one-sided p with 2 degrees of freedom 0.136
    assert "(std of the per-seed gains 0.0346; paired t 1.50, one-sided p 0.136, 3 seeds)" in (
        ablation
    )
    assert "seed 0 1.0" in text  # minutes from benchmarks/*.tsv
    assert "pseudo-negatives" not in text  # no variant made any: no empty columns


def test_round1_claim_is_every_seed_above_with_the_spread_shown_beside(tmp_path):
    """The claim asks the last round above round 1 without a margin: a gain on every seed that
    is smaller than the seed spread meets it (and says it does not clear the spread), a loss on
    one seed does not."""
    rounds = {"stage2_then_strict": (0.005, 0.01, 0.005), "votes_3_of_3": (0.05, 0.05, -0.01)}
    for seed, (s1, r1, _) in enumerate(THREE_SEEDS):
        fake_run(tmp_path / f"seed{seed}", {"stage1": s1, "round1": r1})
        for variant, gains in rounds.items():
            fake_run(
                tmp_path / variant / f"seed{seed}",
                {"stage1": s1, "round1": r1, "round2": r1 + gains[seed]},
            )
    text = summary(tmp_path, *rounds)
    small = text[text.index("## stage2_then_strict") :].split("\n\n")[2]
    # round 1 is 0.62, 0.61, 0.63 (std 0.010), round 2 0.625, 0.62, 0.635 (std 0.0076)
    assert (
        "round2 above round1: mean gain +0.0067 (per seed +0.0050, +0.0100, +0.0050), "
        "above on every seed: **yes**; by more than the seed spread (std) 0.0100: no"
    ) in small
    loss = text[text.index("## votes_3_of_3") :].split("\n\n")[2]
    assert "above on every seed: **no**; by more than the seed spread" in loss


def load_quality():
    return bench_scripts.load("quality")


def test_variant_with_more_rounds_lines_up_with_the_others(tmp_path):
    for seed, (s1, r1, r2) in enumerate(THREE_SEEDS):
        fake_run(tmp_path / f"seed{seed}", {"stage1": s1, "round1": r1, "round2": r2})
        fake_run(
            tmp_path / "stage2_then_strict" / f"seed{seed}",
            {"stage1": s1, "round1": r1, "round2": r2 + 0.01},
        )
        fake_run(
            tmp_path / "stage2_then_strict_5_rounds" / f"seed{seed}",
            {"stage1": s1, "round1": r1, "round2": r2 + 0.01, "round3": 0.8, "round4": 0.9},
        )
    text = summary(tmp_path, "stage2_then_strict", "stage2_then_strict_5_rounds")
    long = text[text.index("## stage2_then_strict_5_rounds") :]
    assert "round4 above round1" in long and "round2 above round1" not in long
    table = text[text.index("## Switches") :].splitlines()
    header = next(line for line in table if line.startswith("| variant |"))
    assert "| round3 | round4 | last round |" in header
    recipe = next(line for line in table if line.startswith("| recipe |"))
    # the recipe has no rounds 3 and 4: blank cells, then its own last round
    assert "| 0.710 ± 0.010 |  |  | round2: 0.710 ± 0.010 |" in recipe
    longer = next(line for line in table if line.startswith("| stage2_then_strict_5_rounds |"))
    assert "| round4: 0.900 ± 0.000 |" in longer


def test_variant_starts_from_its_base_run(tmp_path):
    quality = load_quality()
    assert quality.BASES["stage2_then_strict_5_rounds"] == "stage2_then_strict"
    fake_run(tmp_path / "seed0", {"stage1": 0.6, "round1": 0.61})
    with pytest.raises(SystemExit, match="needs the finished stage2_then_strict run"):
        quality.seed_dir(tmp_path, 0, "stage2_then_strict_5_rounds")
    assert not (tmp_path / "stage2_then_strict_5_rounds").exists()
    fake_run(tmp_path / "stage2_then_strict" / "seed0", {"stage1": 0.6, "round1": 0.65})
    workdir = quality.seed_dir(tmp_path, 0, "stage2_then_strict_5_rounds")
    assert workdir == tmp_path / "stage2_then_strict_5_rounds" / "seed0"
    copied = pd.read_csv(workdir / "scores.csv")
    assert copied["test_lwlrap"].tolist() == [0.6, 0.65]  # the base's run, not the recipe's


def test_config_files_layer_after_the_benchmark_config(tmp_path):
    quality = load_quality()
    extra = (quality.ROOT / "bench" / "quality_one_tp.yaml",)
    command = quality.seed_command(tmp_path / "seed1", 1, 1, "stage2_then_strict", extra)
    files = command[command.index("--configfile") + 1 :]
    # later files win: the layered file after bench/quality.yaml, the seed and switches last
    assert [Path(f).name for f in files] == [
        "config.yaml",
        "quality.yaml",
        "quality_one_tp.yaml",
        "seed.yaml",
        "variant.yaml",
    ]
    assert yaml.safe_load((tmp_path / "seed1" / "seed.yaml").read_text())["stage1"]["seed"] == 1
    layered = yaml.safe_load(extra[0].read_text())
    assert layered["data"]["synthetic"]["tp_fraction"] < 0.1  # one tp row a recording


def test_summary_names_the_layered_config_in_its_command(tmp_path):
    for seed in range(3):
        fake_run(tmp_path / f"seed{seed}", {"stage1": 0.6 + seed / 100, "round1": 0.62})
    layered = QUALITY.parent / "quality_one_tp.yaml"
    text = summary(tmp_path, options=("--config", str(layered)))
    assert f"--config bench/quality_one_tp.yaml --root {tmp_path}" in text
    assert "bench/quality.yaml with bench/quality_one_tp.yaml layered over it" in text


def test_fresh_variant_summary_needs_no_recipe_run(tmp_path):
    # seeds 3 and 4 of one variant, each run from scratch: no recipe or base directory exists
    for seed, (s1, r1, r3) in zip((3, 4), [(0.80, 0.81, 0.83), (0.81, 0.82, 0.84)], strict=True):
        fake_run(
            tmp_path / "stage2_then_strict_6_epochs" / f"seed{seed}",
            {"stage1": s1, "round1": r1, "round3": r3},
        )
    options = ("--seeds", "3", "4", "--fresh")
    text = summary(tmp_path, "stage2_then_strict_6_epochs", options=options)
    assert "--seeds 3 4 --root" in text and "--fresh --variants stage2_then_strict_6_epochs" in text
    assert "ran each seed from stage 1 on" in text and "## recipe" not in text
    assert "round3 above round1: mean gain +0.0200" in text
    assert not (tmp_path / "seed3").exists()  # nothing was copied from a recipe run


def test_fresh_variants_after_the_first_start_from_its_run(tmp_path):
    quality = load_quality()
    quality.start_fresh(tmp_path, [3], "stage2_then_strict_6_epochs", "stage2_then_strict_6_epochs")
    first = tmp_path / "stage2_then_strict_6_epochs" / "seed3"
    assert first.is_dir() and not any(first.iterdir())  # empty: the run starts from stage 1
    fake_run(first, {"stage1": 0.7, "round1": 0.72, "round3": 0.71})
    quality.start_fresh(tmp_path, [3], "no_pseudo_labels_6_epochs", "stage2_then_strict_6_epochs")
    copied = tmp_path / "no_pseudo_labels_6_epochs" / "seed3" / "scores.csv"
    assert pd.read_csv(copied)["test_lwlrap"].tolist() == [0.7, 0.72, 0.71]
    # an existing directory is kept, never overwritten by a copy
    (first / "scores.csv").write_text("changed")
    quality.start_fresh(tmp_path, [3], "no_pseudo_labels_6_epochs", "stage2_then_strict_6_epochs")
    assert pd.read_csv(copied)["test_lwlrap"].tolist() == [0.7, 0.72, 0.71]


def test_variants_are_compared_with_each_control_seed_by_seed(tmp_path):
    """Is a relabelling better than fine-tuning as long on tp/fp? Each variant's last round
    minus each control's (no_pseudo_labels*), per seed, with the paired test."""
    last_rounds = {  # variant: its stages, with the last round per seed 0, 1, 2
        "stage2_then_soft_1_5_rounds": ("round5", (0.73, 0.75, 0.77)),
        "no_pseudo_labels": ("round3", (0.72, 0.72, 0.72)),
        "no_pseudo_labels_6_epochs": ("round3", (0.73, 0.75, 0.77)),
    }
    for variant, (last, scores) in last_rounds.items():
        for seed, score in enumerate(scores):
            fake_run(
                tmp_path / variant / f"seed{seed}",
                {"stage1": 0.70, "round1": 0.71, last: score},
            )
    options = ("--seeds", "0", "1", "2", "--fresh")
    text = summary(tmp_path, *last_rounds, options=options)
    table = text[text.index("## Against the controls") :]
    # 0.73 - 0.72, 0.75 - 0.72, 0.77 - 0.72: mean 0.03, std 0.02, t = 0.03 / (0.02 / sqrt 3)
    assert (
        "| stage2_then_soft_1_5_rounds (round5) | no_pseudo_labels (round3) | +0.0300 | "
        "+0.0100, +0.0300, +0.0500 | 0.0200 | paired t 2.60, one-sided p 0.061, 3 seeds |"
    ) in table
    # the same scores as the 6-epoch control: no difference, no t
    assert "| no_pseudo_labels_6_epochs (round3) | +0.0000 |" in table
    assert "every seed gains the same" in table
    assert table.count("\n| stage2_then") == 2  # controls are not compared with each other


def test_mixup_controls_are_controls(tmp_path):
    """A control with another stage 1 (mixup_0.4_no_pseudo_labels) is compared with the
    variants that share that stage 1, and not with itself."""
    for variant, score in (
        ("mixup_0.4_stage2_then_soft_1", 0.80),
        ("mixup_0.4_no_pseudo_labels", 0.78),
    ):
        for seed in (0, 1):
            fake_run(
                tmp_path / variant / f"seed{seed}",
                {"stage1": 0.70, "round1": 0.75, "round3": score + seed / 100},
            )
    options = ("--seeds", "0", "1", "--fresh")
    text = summary(
        tmp_path, "mixup_0.4_stage2_then_soft_1", "mixup_0.4_no_pseudo_labels", options=options
    )
    table = text[text.index("## Against the controls") :].split("\n\n")[1]
    rows = [line for line in table.splitlines() if line.startswith("| mixup")]
    assert rows == [
        "| mixup_0.4_stage2_then_soft_1 (round3) | mixup_0.4_no_pseudo_labels (round3) | +0.0200 | "
        "+0.0200, +0.0200 | 0.0000 | paired t-test: every seed gains the same |"
    ]


def round_switches(switches: dict, round_number: int) -> dict:
    """The relabel switches a variant sets for one round (its defaults, then that round's)."""
    relabel = dict(switches.get("relabel", {}))
    rounds = relabel.pop("rounds", {})
    relabel.pop("n_rounds", None)
    return {**relabel, **rounds.get(round_number, {})}


def test_variants_copying_a_base_run_share_its_first_round():
    """A variant in BASES reuses its base's finished round 1: its round-1 switches must be the
    base's, else the copied models would not be what the variant asks for."""
    quality = load_quality()
    for variant, base in quality.BASES.items():
        assert base in quality.VARIANTS, variant
        ours = round_switches(quality.VARIANTS[variant], 1)
        theirs = round_switches(quality.VARIANTS[base], 1)
        # round 1 trains on tp/fp alone in both, or makes the same pseudo-labels
        if ours.get("use_pseudo", True) is False and theirs.get("use_pseudo", True) is False:
            pseudo_keys = {k for k in {*ours, *theirs} if k.startswith("pseudo_")}
            ours = {k: v for k, v in ours.items() if k not in pseudo_keys}
            theirs = {k: v for k, v in theirs.items() if k not in pseudo_keys}
        assert ours == theirs, f"{variant} round 1 differs from its base {base}"


MAKEFILE = ROOT / "Makefile"
BENCH_README = ROOT / "bench" / "README.md"
VARIABLE = re.compile(r"\$\((\w+)\)")


def make_quality_commands(blocks: bool = True) -> dict[str, list[str]]:
    """Each `make quality ...` that bench/README.md writes, and the bare one (the Makefile's
    defaults): the bench/quality.py arguments it runs, i.e. the Makefile's recipe with each
    $(VARIABLE) set by the command, else by its default. ``blocks``: also the commands on their
    own line in code blocks (runs whose report is not written yet), but the template with
    "..." in place of the values."""
    makefile = MAKEFILE.read_text().replace("\\\n", " ")
    defaults = dict(re.findall(r"^([A-Z_]+) = (.*)$", makefile, re.M))
    recipe = re.search(r"^quality:.*\n\t(.*)$", makefile, re.M)[1]
    words = recipe.split("bench/quality.py", 1)[1].split()
    text = BENCH_README.read_text()
    written = re.findall(r"`(make quality\b[^`]*)`", text)
    if blocks:
        lines = re.findall(r"^(make quality\b.*)$", text, re.M)
        written += [line for line in lines if "..." not in line]
    commands = {}
    for command in ["make quality", *written]:
        settings = {**defaults, **dict(w.split("=", 1) for w in shlex.split(command)[2:])}
        argv = []
        for word in words:
            variable = VARIABLE.fullmatch(word)
            argv += shlex.split(settings[variable[1]]) if variable else [word]
        commands[command] = argv
    return commands


def parsed_quality_commands(blocks: bool = True) -> dict[str, argparse.Namespace]:
    parser = load_quality().arguments()
    parsed = {}
    for command, argv in make_quality_commands(blocks).items():
        try:
            parsed[command] = parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"bench/quality.py refuses `{command}`: {argv}")
    return parsed


def test_make_quality_commands_name_existing_variants():
    """A misspelt or removed variant fails only after setup, with an argparse error: the
    variants of the Makefile's defaults and of every `make quality` in bench/README.md must be
    bench/quality.py's, and its other options and config files must exist."""
    quality = load_quality()
    parsed = parsed_quality_commands()
    defaults = parsed["make quality"]
    assert len(parsed) >= 7, parsed  # the parse found the README's commands
    assert defaults.variants and defaults.fresh, "the defaults lost their variants"
    for command, args in parsed.items():
        unknown = [n for n in args.variants if n not in quality.VARIANTS]
        assert not unknown, f"{command}: {unknown}"
        assert all((ROOT / path).is_file() for path in args.config), command


def test_bench_readme_lists_every_report_with_the_command_writing_it():
    """bench/README.md is the index of bench/results/: every report there has its section, and
    every quality report is the --out of one of the README's `make quality` commands."""
    text = BENCH_README.read_text()
    reports = sorted(p.name for p in (QUALITY.parent / "results").glob("*.md"))
    assert reports and all(f"### results/{name}" in text for name in reports), reports
    indexed = parsed_quality_commands(blocks=False).values()  # the index: inline commands
    written = {(ROOT / args.out).resolve() for args in indexed}
    assert {p.parent for p in written} == {(QUALITY.parent / "results").resolve()}
    assert {p.name for p in written} == {n for n in reports if n.startswith("quality")}


def fake_fold_predictions(workdir: Path, folds: list[dict[str, tuple[float, float]]]) -> None:
    """Stage 1's test predictions, one window a recording, of fold models scoring species s0
    and s1 as given; the hidden truth: recA calls s0, recB calls s1."""
    stage = workdir / "predictions" / "stage1"
    stage.mkdir(parents=True)
    for fold, scores in enumerate(folds):
        rows = [
            {"recording_id": rec, "window": 0, "start": 0, "s0": s0, "s1": s1}
            for rec, (s0, s1) in scores.items()
        ]
        pd.DataFrame(rows).to_parquet(stage / f"fold{fold}_test.parquet")
    truth = workdir / "data" / "synthetic" / "test_truth.csv"
    truth.parent.mkdir(parents=True)
    truth.write_text("recording_id,species_id\nrecA,0\nrecB,1\n")


def test_fold_models_are_scored_one_by_one_and_averaged(tmp_path):
    """--folds: each fold model's test LWLRAP and their average's. A right model (1.0) and a
    wrong one (each clip's species ranked second: 0.5) average to a right ranking (1.0)."""
    for seed in (0, 1):
        workdir = tmp_path / f"seed{seed}"
        fake_run(workdir, {"stage1": 0.8, "round1": 0.85})
        right = {"recA": (0.9, 0.1), "recB": (0.1, 0.9)}
        wrong = {"recA": (0.2, 0.8), "recB": (0.8, 0.2)} if seed else right
        fake_fold_predictions(workdir, [right, wrong])
    text = summary(tmp_path, options=("--seeds", "0", "1", "--folds"))
    assert "| 0 | stage1 | 1.000, 1.000 | 1.000 | 1.000 | 1.000 |" in text
    assert "| 1 | stage1 | 1.000, 0.500 | 0.500 | 0.750 | 1.000 |" in text
    assert "- stage1: 4 fold models, 0.500 to 1.000 (std 0.250)" in text


def test_fold_scores_need_the_fold_predictions(tmp_path):
    fake_run(tmp_path / "seed0", {"stage1": 0.8, "round1": 0.85})
    done = run_summary(tmp_path, options=("--seeds", "0", "--folds"))
    assert done.returncode != 0
    assert "seed0/predictions/stage1: no fold*_test.parquet" in done.stderr


def test_teachers_table_splits_in_fold_and_out_of_fold_scores(tmp_path):
    """--teachers: recA (fold 0) calls s0 with a tp row and s1 without one; recB (fold 1) calls
    nothing. On recA the in-fold model (fold 1's, which trained on it) scores s1 0.2, the
    out-of-fold one (fold 0's) 0.8; on recB the in-fold model (fold 0's) scores 0.1, the
    out-of-fold one 0.3 (max over its two windows)."""
    workdir = tmp_path / "seed0"
    fake_run(workdir, {"stage1": 0.8, "round1": 0.85})
    (workdir / "folds.csv").write_text("recording_id,fold\nrecA,0\nrecB,1\n")
    stage = workdir / "predictions" / "round1"
    stage.mkdir(parents=True)
    scores = {  # fold model -> recording -> per window (s0, s1)
        0: {"recA": [(0.9, 0.8)], "recB": [(0.1, 0.1), (0.0, 0.0)]},
        1: {"recA": [(0.9, 0.2)], "recB": [(0.3, 0.0), (0.0, 0.3)]},
    }
    for fold, recordings in scores.items():
        rows = [
            {"recording_id": rec, "window": w, "start": 0, "s0": s0, "s1": s1}
            for rec, windows in recordings.items()
            for w, (s0, s1) in enumerate(windows)
        ]
        pd.DataFrame(rows).to_parquet(stage / f"fold{fold}_train.parquet")
    data = workdir / "data" / "synthetic"
    data.mkdir(parents=True)
    (data / "train_truth.csv").write_text("recording_id,species_id\nrecA,0\nrecA,1\n")
    (data / "train_tp.csv").write_text("recording_id,species_id\nrecA,0\n")
    text = summary(tmp_path, options=("--seeds", "0", "--teachers"))
    # unlabelled: recA s1 (in fold 0.2, out of fold 0.8, mean 0.5); absent: recB s0 and s1
    # (in fold 0.1 and 0.1, out of fold 0.3 and 0.3, mean 0.2 and 0.2)
    assert "| 0 | 1 | 0.200 | 0.800 | 0.500 | 2 | 0.100 | 0.300 | 0.200 |" in text
    assert "| mean | | 0.200 | 0.800 | 0.500 | | 0.100 | 0.300 | 0.200 |" in text


def test_teachers_table_needs_the_train_predictions(tmp_path):
    workdir = tmp_path / "seed0"
    fake_run(workdir, {"stage1": 0.8, "round1": 0.85})
    (workdir / "folds.csv").write_text("recording_id,fold\nrecA,0\nrecB,1\n")
    done = run_summary(tmp_path, options=("--seeds", "0", "--teachers"))
    assert done.returncode != 0
    assert "no train predictions of round1" in done.stderr and "fold0_train.parquet" in done.stderr


RFCX_SHAPED = ROOT / "bench" / "rfcx_shaped.yaml"


def leaves(tree: dict, prefix: str = "") -> set[str]:
    found = set()
    for key, value in tree.items():
        if isinstance(value, dict):
            found |= leaves(value, f"{prefix}{key}.")
        else:
            found.add(f"{prefix}{key}")
    return found


def test_rfcx_shaped_config_is_the_whole_benchmark_and_valid():
    """bench/rfcx_shaped.yaml sets every key bench/quality.yaml sets, so layered over it
    (bench/quality.py --config) the runs are config.yaml plus it alone; with each variant's
    switches the configuration passes the schema; its windows and labels are RFCx-shaped."""
    from sedcycle.windows import window_positions

    quality = load_quality()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    benchmark = yaml.safe_load(quality.CONFIG.read_text())
    shaped = yaml.safe_load(RFCX_SHAPED.read_text())
    missing = leaves(benchmark) - leaves(shaped)
    assert not missing, f"bench/rfcx_shaped.yaml leaves bench/quality.yaml's {missing}"
    layered = layered_configs(config, benchmark, shaped)
    assert layered == layered_configs(config, shaped)
    for variant, switches in quality.VARIANTS.items():
        run = layered_configs(layered, {"stage1": {"seed": 1}, "relabel": {"seed": 1}}, switches)
        errors = schema_errors(run)
        assert not errors, (variant, errors)
        assert run["relabel"]["pseudo_min_votes"] <= run["folds"]["n_folds"], variant
    assert (layered["n_species"], layered["folds"]["n_folds"]) == (24, 5)
    features = layered["features"]
    n_frames = int(layered["clip_seconds"] * features["sample_rate"] / features["hop_length"]) + 1
    windows = layered["windows"]
    assert len(window_positions(n_frames, windows["window"], windows["cover"])) >= 8
    assert 1 / 8 <= windows["window"] / n_frames <= 1 / 6  # about a seventh of the clip
    generator = layered["data"]["synthetic"]
    assert generator["tp_recording_fraction"] <= 0.3  # about a quarter with a tp row
    assert generator["fp_only_recording_fraction"] >= 0.6  # many with fp rows only
    assert generator["tp_fraction"] <= 0.25  # at least three quarters of the calls unlabelled


@pytest.mark.parametrize(
    ("data_file", "benchmark_file"),
    [("quality_shape.yaml", "quality.yaml"), ("rfcx_shaped_data.yaml", "rfcx_shaped.yaml")],
)
def test_data_file_is_its_benchmark_without_the_method(data_file, benchmark_file):
    """bench/quality_shape.yaml and bench/rfcx_shaped_data.yaml (with --method-defaults:
    config.yaml's method on a benchmark's data) hold their benchmark file's own values, every
    one but its method sections, and with the defaults' variants over config.yaml they pass
    the schema with no more votes than folds."""
    quality = load_quality()
    benchmark = yaml.safe_load((ROOT / "bench" / benchmark_file).read_text())
    data = yaml.safe_load((ROOT / "bench" / data_file).read_text())
    assert {key for key in benchmark if key not in {"stage1", "relabel"}} == set(data)
    for key, value in data.items():
        assert value == benchmark[key], key
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for variant in ("defaults", "defaults_ensemble_all_stages", "defaults_ensemble_rounds"):
        run = layered_configs(config, data, quality.VARIANTS[variant])
        errors = schema_errors(run)
        assert not errors, (variant, errors)
        assert run["relabel"]["pseudo_min_votes"] <= run["folds"]["n_folds"], variant


def test_rfcx_shaped_comments_give_the_statistics_of_its_draw():
    """The label statistics in bench/rfcx_shaped.yaml's comments are its own draw's."""
    from sedcycle.synthetic import draw_labels, label_statistics

    shaped = yaml.safe_load(RFCX_SHAPED.read_text())
    tables = draw_labels(
        n_species=shaped["n_species"],
        clip_seconds=shaped["clip_seconds"],
        **shaped["data"]["synthetic"],
    )
    statistics = label_statistics(tables)
    text = " ".join(RFCX_SHAPED.read_text().replace("#", " ").split())  # one line
    for key, shown in [
        ("recordings", "720 train recordings"),
        ("recordings_with_calls", "642 of them with a call"),
        ("recordings_with_tp", "180 with a tp row"),
        ("recordings_fp_only", "540 with fp rows only"),
        ("calls", "3959 calls"),
        ("tp_rows", "238 tp rows"),
        ("fp_rows", "1401 fp rows"),
    ]:
        assert shown in text and shown.startswith(str(statistics[key])), (key, statistics[key])
    assert statistics["recordings_unlabelled"] == 0 and "none without a label" in text
    assert f"{100 * statistics['unlabelled_call_share']:.1f} % of the calls" in text


def test_draws_run_every_seed_on_each_data_draw(tmp_path):
    quality = load_quality()
    runs = quality.make_runs([0, 1], [5, 6])
    assert [r.label for r in runs] == ["0/5", "1/5", "0/6", "1/6"]
    assert quality.make_runs([0, 1]) == [quality.Run(0), quality.Run(1)]
    workdir = quality.seed_dir(tmp_path, runs[3])
    assert workdir == tmp_path / "seed1_draw6"
    quality.seed_command(workdir, runs[3], 1, "stage2_then_strict")
    chosen = yaml.safe_load((workdir / "seed.yaml").read_text())
    assert chosen == {
        "stage1": {"seed": 1},
        "relabel": {"seed": 1},
        "data": {"synthetic": {"seed": 6}},
    }
    # without draws the data stay the configuration's
    quality.seed_command(tmp_path / "seed0", 0, 1)
    assert "data" not in yaml.safe_load((tmp_path / "seed0" / "seed.yaml").read_text())


def test_summary_over_draws_names_each_run_seed_and_draw(tmp_path):
    scores = {
        (0, 1): (0.60, 0.65),
        (1, 1): (0.62, 0.66),
        (0, 2): (0.70, 0.71),
        (1, 2): (0.71, 0.74),
    }
    for (seed, draw), (s1, r1) in scores.items():
        fake_run(tmp_path / f"seed{seed}_draw{draw}", {"stage1": s1, "round1": r1})
    text = summary(tmp_path, options=("--seeds", "0", "1", "--draws", "1", "2"))
    assert "--seeds 0 1 --draws 1 2 --root" in text
    assert "over training seeds 0, 1 and data draws (data.synthetic.seed) 1, 2" in text
    assert "| 0/1 | 0.6000 | 0.6500 |" in text and "| 1/2 | 0.7100 | 0.7400 |" in text
    assert "| stage1 | 0.657 ± 0.056 |" in text  # mean, std over the 4 runs
    assert "round1 above stage1: mean gain +0.0325" in text


REVIEW_SIM = ROOT / "bench" / "review_sim.yaml"


def method_defaults_run(quality, variant: str) -> dict:
    """The configuration of seed 1, draw 0 of ``variant`` under --method-defaults --config
    bench/review_sim.yaml: config.yaml, review_sim.yaml, the seed, the switches."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    chosen = {"stage1": {"seed": 1}, "relabel": {"seed": 1}, "data": {"synthetic": {"seed": 0}}}
    return layered_configs(
        config, yaml.safe_load(REVIEW_SIM.read_text()), chosen, quality.VARIANTS[variant]
    )


def test_method_defaults_layer_the_configs_over_config_yaml_alone(tmp_path):
    quality = load_quality()
    command = quality.seed_command(tmp_path / "seed1", 1, 1, "defaults", (REVIEW_SIM,), False)
    files = command[command.index("--configfile") + 1 :]
    # no bench/quality.yaml: the runs take config.yaml's method
    assert [Path(f).name for f in files] == [
        "config.yaml",
        "review_sim.yaml",
        "seed.yaml",
        "variant.yaml",
    ]
    assert quality.VARIANTS["defaults"] == {}
    # it needs --fresh: there is no recipe run to copy
    parser = quality.arguments()
    args = parser.parse_args(["--method-defaults", "--fresh", "--variants", "defaults"])
    assert args.method_defaults and args.fresh
    done = subprocess.run(
        [sys.executable, str(QUALITY), "--method-defaults", "--variants", "defaults"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--method-defaults needs --fresh" in done.stderr


def test_summary_over_method_defaults_names_config_yaml(tmp_path):
    for seed in range(3):
        fake_run(
            tmp_path / "defaults" / f"seed{seed}", {"stage1": 0.6 + seed / 100, "round1": 0.62}
        )
    text = summary(
        tmp_path,
        "defaults",
        options=("--fresh", "--method-defaults", "--config", str(REVIEW_SIM)),
    )
    assert "--method-defaults --config bench/review_sim.yaml --root" in text
    assert "config.yaml with bench/review_sim.yaml layered over it" in text
    assert "bench/quality.yaml" not in text


def test_defaults_variants_change_rounds_2_and_3_alone():
    """The hard pseudo-label variants over the defaults keep the defaults' stage 1 and round 1
    (so a copy of the defaults' run reruns rounds 2 and 3 alone) and differ from each other in
    one switch each."""
    quality = load_quality()
    defaults = method_defaults_run(quality, "defaults")
    variants = [v for v in quality.VARIANTS if v.startswith("defaults_oof_hard")]
    assert len(variants) == 3, variants
    for variant in variants:
        run = method_defaults_run(quality, variant)
        assert run["stage1"] == defaults["stage1"], variant
        assert run["relabel"]["rounds"][1] == defaults["relabel"]["rounds"][1], variant
        assert {k: v for k, v in run.items() if k != "relabel"} == {
            k: v for k, v in defaults.items() if k != "relabel"
        }
        for r in (2, 3):
            rounds = run["relabel"]["rounds"][r]
            assert rounds["use_pseudo"] and rounds["pseudo_out_of_fold"], variant
            assert rounds["soft_weight"] == 0.0, variant
    hard = method_defaults_run(quality, "defaults_oof_hard")["relabel"]["rounds"][2]
    assert "pseudo_targets" not in hard  # config.yaml's own: windows
    assert defaults["relabel"]["pseudo_targets"] == "windows"
    frames = method_defaults_run(quality, "defaults_oof_hard_frames")["relabel"]["rounds"][2]
    assert frames == {**hard, "pseudo_targets": "frames"}
    calibrated = method_defaults_run(quality, "defaults_oof_hard_calibrated_0.95")
    assert calibrated["relabel"]["rounds"][3] == {**hard, "pseudo_target_precision": 0.95}


@pytest.mark.parametrize(
    ("variant", "key", "value", "default"),
    [
        ("defaults_5_rounds", "n_rounds", 5, 3),
        ("defaults_relabel_min_steps_360", "min_steps", 360, 0),
        ("defaults_window_passes_0", "min_window_passes", 0, 1.0),
    ],
)
def test_rounds_variant_differs_from_the_defaults_in_one_relabel_key(variant, key, value, default):
    """defaults_5_rounds keeps every setting of the defaults but relabel.n_rounds (5), so a copy
    of the defaults' run keeps rounds 1-3 and trains rounds 4 and 5; defaults_relabel_min_steps_360
    keeps stage 1 and reruns the rounds at stage1.min_steps' floor, and defaults_window_passes_0
    (the defaults before one pass over the windows) without the window-pass floor."""
    quality = load_quality()
    defaults = method_defaults_run(quality, "defaults")
    run = method_defaults_run(quality, variant)
    assert run["relabel"][key] == value and defaults["relabel"][key] == default
    assert {**run, "relabel": {**run["relabel"], key: default}} == defaults


def test_min_steps_360_beside_the_window_passes_is_the_defaults_before_with_its_floor():
    """defaults_window_passes_0_min_steps_360 is defaults_window_passes_0 (the defaults before
    the window-pass floor) with relabel.min_steps 360 and nothing else: the variant first
    measured as defaults_relabel_min_steps_360, run again beside the window-pass default."""
    quality = load_quality()
    before = method_defaults_run(quality, "defaults_window_passes_0")
    run = method_defaults_run(quality, "defaults_window_passes_0_min_steps_360")
    assert run["relabel"]["min_steps"] == 360 and before["relabel"]["min_steps"] == 0
    assert run["relabel"]["min_window_passes"] == 0
    assert {**run, "relabel": {**run["relabel"], "min_steps": 0}} == before


def test_one_window_pass_is_the_defaults():
    """defaults_relabel_window_passes_1 (measured before it became the default) is now the
    defaults themselves."""
    quality = load_quality()
    defaults = method_defaults_run(quality, "defaults")
    assert method_defaults_run(quality, "defaults_relabel_window_passes_1") == defaults
    assert defaults["relabel"]["min_window_passes"] == 1.0


def test_weak_negatives_are_the_defaults_and_the_auto_variant_the_defaults_before():
    """defaults_weak_negatives_0.1 (measured before it became the default) is now the defaults
    themselves; defaults_unknown_weight_auto differs from them in unknown_weight alone."""
    quality = load_quality()
    defaults = method_defaults_run(quality, "defaults")
    assert method_defaults_run(quality, "defaults_weak_negatives_0.1") == defaults
    assert defaults["relabel"]["unknown_weight"] == 0.1
    run = method_defaults_run(quality, "defaults_unknown_weight_auto")
    assert run["relabel"]["unknown_weight"] == "auto"
    # no round overrides it: round 1 (tp/fp alone) and the soft-target rounds take it
    assert all("unknown_weight" not in r for r in run["relabel"]["rounds"].values())
    assert {k: v for k, v in run["relabel"].items() if k != "unknown_weight"} == {
        k: v for k, v in defaults["relabel"].items() if k != "unknown_weight"
    }
    assert run["stage1"] == defaults["stage1"]


@pytest.mark.parametrize(
    ("variant", "first"), [("defaults_ensemble_all_stages", 0), ("defaults_ensemble_rounds", 1)]
)
def test_ensemble_variants_average_the_stages_and_change_nothing_else(variant, first):
    quality = load_quality()
    defaults = method_defaults_run(quality, "defaults")
    run = method_defaults_run(quality, variant)
    stages = ["stage1", *(f"round{r}" for r in range(1, defaults["relabel"]["n_rounds"] + 1))]
    assert run["ensemble"]["stages"] == stages[first:] != defaults["ensemble"]["stages"]
    assert {k: v for k, v in run.items() if k != "ensemble"} == {
        k: v for k, v in defaults.items() if k != "ensemble"
    }


def test_seed_preset_variant_is_the_presets_method_at_the_data_scale():
    """seed_preset takes presets/seed.yaml's stage 1, rounds, post-processing and ensemble, but
    keeps the run's seeds, model and data sizes, and stage 1 as many steps as the data config's
    stage1.min_steps."""
    quality = load_quality()
    preset = yaml.safe_load((ROOT / "presets" / "seed.yaml").read_text())
    run = method_defaults_run(quality, "seed_preset")
    defaults = method_defaults_run(quality, "defaults")
    assert run["stage1"]["seed"] == run["relabel"]["seed"] == 1  # the run's, not the preset's 0
    assert run["model"] == defaults["model"] != {**defaults["model"], **preset["model"]}
    assert run["n_species"] == 8 and run["folds"]["n_folds"] == 3  # review_sim.yaml's
    assert run["stage1"]["crops"] == "grid" and run["stage1"]["mixup_alpha"] == 0.0
    assert run["stage1"]["epochs"] == 1
    assert run["stage1"]["min_steps"] == defaults["stage1"]["min_steps"] == 400
    for key, value in preset["relabel"].items():
        if key in ("seed", "rounds"):
            continue
        expected = 2 if key == "pseudo_min_votes" else value  # 2 of 3 folds (the source: 3 of 5)
        assert run["relabel"][key] == expected, key
    assert run["relabel"]["rounds"][1]["use_pseudo"] is False  # round 1 on tp/fp alone
    assert run["postprocess"]["prior_scaling"] is False
    assert run["ensemble"]["stages"] == ["last"]


def test_seed_preset_5_folds_is_seed_preset_with_the_sources_3_of_5_votes():
    """On 5 folds (bench/rfcx_shaped_data.yaml) the seed preset keeps presets/seed.yaml's own
    3 of 5 fold models a pseudo-label; everything else is seed_preset's."""
    quality = load_quality()
    preset = yaml.safe_load((ROOT / "presets" / "seed.yaml").read_text())
    data = yaml.safe_load((ROOT / "bench" / "rfcx_shaped_data.yaml").read_text())
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    runs = {
        variant: layered_configs(config, data, quality.VARIANTS[variant])
        for variant in ("seed_preset", "seed_preset_5_folds")
    }
    votes = runs["seed_preset_5_folds"]["relabel"].pop("pseudo_min_votes")
    assert votes == preset["relabel"]["pseudo_min_votes"] == 3 <= data["folds"]["n_folds"]
    assert runs["seed_preset"]["relabel"].pop("pseudo_min_votes") == 2
    assert runs["seed_preset_5_folds"] == runs["seed_preset"]
    assert not schema_errors(layered_configs(config, data, quality.VARIANTS["seed_preset_5_folds"]))


def test_tables_show_the_crop_precision_of_the_pseudo_targets(tmp_path):
    """The share of trained pseudo-positive (crop, species) targets with a true call in the
    crop (scores.csv pseudo_crop_precision) is a column of the variant's table and of the
    side-by-side one, beside the window-level pseudo precision and recall."""
    for seed in range(3):
        fake_run(tmp_path / "defaults" / f"seed{seed}", {"stage1": 0.6, "round1": 0.62})
        workdir = tmp_path / "defaults_oof_hard" / f"seed{seed}"
        fake_run(workdir, {"stage1": 0.6, "round1": 0.62, "round2": 0.64})
        scores = pd.read_csv(workdir / "scores.csv")
        last = scores["stage"] == "round2"
        scores.loc[last, ["pseudo_precision", "pseudo_recall"]] = [0.9, 0.5]
        scores.loc[last, "pseudo_crop_precision"] = 0.7 + seed / 10  # mean 0.8
        scores.to_csv(workdir / "scores.csv", index=False)
    text = summary(
        tmp_path, "defaults", "defaults_oof_hard", options=("--fresh", "--method-defaults")
    )
    assert "| round2: 0.640 ± 0.000 |  | 0.900 / 0.500 / 0.800 |" in text
    assert "&id" not in text and "*id" not in text  # switches without YAML anchors
    section = text[text.index("## defaults_oof_hard:") :]
    assert "pseudo crop-target precision" in section and "0.800 ± 0.100" in section


def test_bar_names_the_variants_meeting_it_run_by_run(tmp_path):
    """The bar: on every run the last round beats stage 1 by more than the spread and beats
    round 1; a mean gain is not enough when one run misses it."""
    stage1 = (0.60, 0.62, 0.61)  # std 0.01
    for seed, s1 in enumerate(stage1):
        # every run +0.05 over stage 1 and +0.02 over round 1: meets it
        fake_run(
            tmp_path / "defaults" / f"seed{seed}",
            {"stage1": s1, "round1": s1 + 0.03, "round2": s1 + 0.05},
        )
        # a larger mean gain, but run 0 gains less than the spread: misses it
        gain = 0.005 if seed == 0 else 0.2
        fake_run(
            tmp_path / "seed_preset" / f"seed{seed}",
            {"stage1": s1, "round1": s1, "round2": s1 + gain},
        )
    text = summary(tmp_path, "defaults", "seed_preset", options=("--fresh",))
    bar = text[text.index("## The bar") :]
    assert "| defaults | round2 | 0.6600 | +0.0500 | 0.0100 | yes (+0.0200) | **yes** |" in bar
    assert "| seed_preset | round2 |" in bar and bar.count("**no**") == 1
    assert "- Meeting the bar: defaults." in bar
    assert "- Best mean last round: seed_preset" in bar
    for seed, s1 in enumerate(stage1):  # now defaults falls below round 1 on run 2
        stages = {
            "stage1": s1,
            "round1": s1 + (0.06 if seed == 2 else 0.03),
            "round2": s1 + 0.05,
        }
        shutil.rmtree(tmp_path / "defaults" / f"seed{seed}")
        fake_run(tmp_path / "defaults" / f"seed{seed}", stages)
    text = summary(tmp_path, "defaults", "seed_preset", options=("--fresh",))
    assert "- Meeting the bar: **no variant**." in text
    assert "| no (-0.0100) | **no** |" in text


def test_submission_table_compares_the_ensemble_with_stage1_and_round1_run_by_run(tmp_path):
    for seed, s1 in enumerate((0.60, 0.62, 0.61)):
        fake_run(
            tmp_path / "defaults" / f"seed{seed}",
            {"stage1": s1, "round1": s1 + 0.02, "round2": s1 + 0.01, "ensemble": s1 + 0.01},
        )
        # the ensemble above round 1 on runs 1 and 2 alone
        ensemble = s1 + (0.01 if seed == 0 else 0.03)
        fake_run(
            tmp_path / "defaults_ensemble_all_stages" / f"seed{seed}",
            {"stage1": s1, "round1": s1 + 0.02, "round2": s1 + 0.01, "ensemble": ensemble},
        )
    text = summary(tmp_path, "defaults", "defaults_ensemble_all_stages", options=("--fresh",))
    table = text[text.index("## The submission") :]
    assert "| defaults | 0.6200 ± 0.0100 | yes (+0.0100) | no (-0.0100) | no (+0.0000) |" in table
    assert (
        "| defaults_ensemble_all_stages | 0.6333 ± 0.0208 | yes (+0.0100) | no (-0.0100) "
        "| no (+0.0000) |"
    ) in table
    for seed in range(3):  # runs without an ensemble row: no table
        for variant in ("defaults", "defaults_ensemble_all_stages"):
            shutil.rmtree(tmp_path / variant / f"seed{seed}")
            fake_run(tmp_path / variant / f"seed{seed}", {"stage1": 0.6, "round1": 0.61})
    text = summary(tmp_path, "defaults", "defaults_ensemble_all_stages", options=("--fresh",))
    assert "## The submission" not in text


def test_data_dir_skips_the_benchmark_config_under_method_defaults(tmp_path):
    """data.dir (where fold and teacher tables read the truth) follows the layering of the
    runs: bench/quality.yaml counts only when the runs layer it."""
    quality = load_quality()
    moved = tmp_path / "moved.yaml"
    moved.write_text("data:\n  dir: data/elsewhere\n")
    assert quality.data_dir([moved], recipe=False) == "data/elsewhere"
    benchmark = yaml.safe_load(quality.CONFIG.read_text())
    expected = benchmark.get("data", {}).get("dir", "data/synthetic")
    assert quality.data_dir([], recipe=True) == expected
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert quality.data_dir([], recipe=False) == config["data"].get("dir", "data/synthetic")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # one seed: no spread
def test_wall_minutes_come_from_the_call_that_ran_each_run(tmp_path, monkeypatch):
    """A call that finds a run finished (snakemake: "Nothing to be done") reports the minutes
    that the call which made it kept in the root, not its own seconds; --summary-only too."""
    quality = load_quality()
    log_text = {"defaults": "Finished job 0.\n", "defaults_oof_hard": "Finished job 0.\n"}

    def seed_command(workdir, seed, threads, variant, extra, recipe):
        return [sys.executable, "-c", f"print({log_text[variant]!r})"]

    for variant in log_text:
        fake_run(tmp_path / variant / "seed0", {"stage1": 0.6, "round1": 0.62})
    monkeypatch.setattr(quality, "seed_command", seed_command)
    monkeypatch.setattr(quality.time, "perf_counter", iter(range(0, 6000, 60)).__next__)
    out = tmp_path / "q.md"
    call = ["quality.py", "--root", str(tmp_path), "--seeds", "0", "--fresh"]
    call += ["--method-defaults", "--out", str(out), "--variants"]
    monkeypatch.setattr(sys, "argv", [*call, "defaults", "defaults_oof_hard"])
    quality.main()
    first = out.read_text()
    assert "defaults seed 0 1.0, defaults_oof_hard seed 0 1.0" in first
    # a second call: the defaults are finished, a new variant runs
    log_text["defaults"] = log_text["defaults_oof_hard"] = "Nothing to be done (all ...).\n"
    log_text["defaults_oof_hard_frames"] = "Finished job 0.\n"
    shutil.copytree(
        tmp_path / "defaults" / "seed0", tmp_path / "defaults_oof_hard_frames" / "seed0"
    )
    monkeypatch.setattr(quality.time, "perf_counter", iter(range(0, 6000, 120)).__next__)
    monkeypatch.setattr(sys, "argv", [*call, "defaults", "defaults_oof_hard_frames"])
    quality.main()
    second = out.read_text()  # this call's runs took 2 min each: the defaults' stay at 1
    assert "defaults seed 0 1.0, defaults_oof_hard_frames seed 0 2.0" in second
    assert "defaults_oof_hard seed" not in second  # a variant this report does not show
    kept = yaml.safe_load((tmp_path / "wall_minutes.json").read_text())
    assert set(kept) == {
        "defaults seed 0",
        "defaults_oof_hard seed 0",
        "defaults_oof_hard_frames seed 0",
    }
    monkeypatch.setattr(sys, "argv", [*call, "defaults", "defaults_oof_hard", "--summary-only"])
    quality.main()
    assert "defaults seed 0 1.0, defaults_oof_hard seed 0 1.0" in out.read_text()
