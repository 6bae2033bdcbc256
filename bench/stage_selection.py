"""Can a run pick its best stage from its own labels? Finished runs' out-of-fold scores against
their tp/fp tables, stage by stage, next to their test scores.

.venv/bin/python bench/stage_selection.py --group "LABEL=RUN_DIR:RUN_DIR:..." [--group ...]
    [--out bench/results/stage_selection.md]

Each RUN_DIR is one finished workflow run (a working directory with predictions/{stage}/
oof.parquet and test.parquet): a real-data benchmark run ({root}/{set}, tables in prepared/)
or a quality-benchmark run (tables in data/synthetic/). Nothing is trained.

Per stage (stage1, round1, ...), two numbers:
- ``labelled AP``: the stage's out-of-fold clip scores (each train clip scored by the one fold
  model that did not train on it) against the run's own tp/fp tables, the labels it trained
  on. A (clip, species) pair is positive where the clip has a tp row of the species, negative
  where it has an fp row of it and no tp row; other pairs are left out. The mean, over species
  with both, of the average precision over their labelled clips. What a user without test
  truth can compute.
- ``test``: the fold-averaged test clip scores against the test truth: LWLRAP where the run
  has two or more species, else mean AP (the real-data benchmark's verdict metric).

The rule put to the test, "submit the stage with the highest labelled AP" (ties: the earlier
stage; the last stage where no species has both a positive and a negative), is scored against
submitting the last round and stage 1, group by group.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import benchlib  # noqa: E402
from real_annotated import primary_metric, score, stage_names  # noqa: E402

from sedcycle import metrics  # noqa: E402
from sedcycle.evaluation import read_truth  # noqa: E402
from sedcycle.labels import presence_matrix, read_annotations  # noqa: E402

DEFAULT_OUT = ROOT / "bench" / "results" / "stage_selection.md"
# where a run keeps the tables it trained on: annotated runs, then synthetic ones
TABLE_DIRS = ("prepared", "data/synthetic")
# a difference of group means smaller than this is reported as level
LEVEL = 0.005


def labelled_ap(oof: pd.DataFrame, tp: pd.DataFrame, fp: pd.DataFrame) -> tuple[float, int]:
    """Mean over species of the average precision of ``oof`` (clip scores, index recording_id,
    one column per species) on the clips the tp/fp tables label for that species: positive
    with a tp row, negative with an fp row and no tp row. Species without both a positive and
    a negative are left out. Returns (mean, species counted); (nan, 0) when none is."""
    ids, n_species = oof.index.tolist(), oof.shape[1]
    positive = presence_matrix(tp, ids, n_species)
    negative = presence_matrix(fp, ids, n_species) & ~positive
    scores = oof.to_numpy(dtype=float)
    values = []
    for k in range(n_species):
        kept = positive[:, k] | negative[:, k]
        if positive[kept, k].any() and negative[kept, k].any():
            ap = metrics.per_class_average_precision(
                positive[kept, k : k + 1], scores[kept, k : k + 1]
            )
            values.append(float(ap[0]))
    return (float(np.mean(values)), len(values)) if values else (math.nan, 0)


def pick(values: dict[str, float]) -> str:
    """The stage with the highest value (ties: the earliest); the last where all are nan."""
    stages = list(values)
    known = [(v, -i) for i, v in enumerate(values.values()) if not math.isnan(v)]
    if not known:
        return stages[-1]
    return stages[-max(known)[1]]


@dataclass
class Run:
    path: Path
    labelled: dict[str, float]  # stage -> labelled AP
    test: dict[str, float]  # stage -> test score
    species_counted: int
    tp_lwlrap: dict[str, float]  # stage -> scores.csv's oof_tp_lwlrap (nan: one species)

    @property
    def chosen(self) -> str:
        return pick(self.labelled)

    @property
    def last(self) -> str:
        return list(self.test)[-1]


def evaluate(run: Path) -> Run:
    """One finished run's labelled AP and test score per stage. Raises FileNotFoundError naming
    the run when its tables or predictions are missing."""
    tables = next((run / d for d in TABLE_DIRS if (run / d / "train_tp.csv").exists()), None)
    if tables is None:
        raise FileNotFoundError(f"{run}: no train_tp.csv in {' or '.join(TABLE_DIRS)}")
    stages = [stage for stage in stage_names(run) if stage != "ensemble"]
    if stages[:1] != ["stage1"] or len(stages) < 2:
        raise FileNotFoundError(f"{run}: no finished stage 1 and round in scores.csv")
    predictions = run / "predictions"
    n = pd.read_parquet(predictions / "stage1" / "oof.parquet").shape[1] - 1  # recording_id
    tp, fp = (read_annotations(tables / f"train_{kind}.csv", n, math.inf) for kind in ("tp", "fp"))
    labelled, test, tp_lwlrap, counted = {}, {}, {}, 0
    for stage in stages:
        oof = pd.read_parquet(predictions / stage / "oof.parquet").set_index("recording_id")
        labelled[stage], counted = labelled_ap(oof, tp, fp)
        scores = pd.read_parquet(predictions / stage / "test.parquet").set_index("recording_id")
        truth = read_truth(str(tables / "test_truth.csv"), scores.index.tolist(), n)
        test[stage] = score(truth, scores.to_numpy())[primary_metric(n)]
        summary_json = run / "scores" / f"{stage}.json"
        tp_lwlrap[stage] = (
            json.loads(summary_json.read_text())["oof_tp"]["lwlrap"]
            if n >= 2 and summary_json.exists()
            else math.nan
        )
    return Run(run, labelled, test, counted, tp_lwlrap)


def fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def group_section(label: str, runs: list[Run]) -> list[str]:
    stages = list(runs[0].test)
    lines = [
        f"### {label}",
        "",
        "Each cell: labelled AP (out-of-fold, vs the run's tp/fp) / test score. "
        f"Species with both a tp and an fp label: {runs[0].species_counted}.",
        "",
        "| run | " + " | ".join(stages) + " | chosen | its test | last round's test |",
        "|---|" + "---:|" * len(stages) + "---|---:|---:|",
    ]
    for run in runs:
        cells = [f"{fmt(run.labelled[s])} / {fmt(run.test[s])}" for s in stages]
        lines.append(
            f"| {run.path.relative_to(ROOT) if run.path.is_relative_to(ROOT) else run.path} | "
            + " | ".join(cells)
            + f" | {run.chosen} | {fmt(run.test[run.chosen])} | {fmt(run.test[run.last])} |"
        )
    lines.append("")
    return lines


def summary(label: str, runs: list[Run]) -> dict:
    chosen = np.array([r.test[r.chosen] for r in runs])
    last = np.array([r.test[r.last] for r in runs])
    first = np.array([r.test["stage1"] for r in runs])
    best = np.array([max(r.test.values()) for r in runs])
    # does the labelled AP order stage 1 and the last round as the test score does?
    agree = sum(
        (r.labelled[r.last] > r.labelled["stage1"]) == (r.test[r.last] > r.test["stage1"])
        for r in runs
    )
    return {
        "label": label,
        "runs": len(runs),
        "stage1": first.mean(),
        "last": last.mean(),
        "chosen": chosen.mean(),
        "best": best.mean(),
        "diff": chosen.mean() - last.mean(),
        "agree": agree,
        "labelled_rise": sum(r.labelled[r.last] > r.labelled["stage1"] for r in runs),
        "test_rise": sum(r.test[r.last] > r.test["stage1"] for r in runs),
        "tp_rise": (
            sum(r.tp_lwlrap[r.last] > r.tp_lwlrap["stage1"] for r in runs)
            if not any(math.isnan(r.tp_lwlrap["stage1"]) for r in runs)
            else None
        ),
    }


def verdict(rows: list[dict]) -> list[str]:
    """The rule written before the numbers: the chosen stage would become the default iff in
    every group its mean test score is at least the last round's minus LEVEL, and in at least
    one group above it by more than LEVEL."""
    worse = [r for r in rows if r["diff"] < -LEVEL]
    better = [r for r in rows if r["diff"] > LEVEL]
    met = not worse and bool(better)
    lines = [
        f"Rule, written before these numbers were computed: choosing the stage by labelled AP "
        f"would replace submitting the last round iff in every group its mean test score is at "
        f"least the last round's minus {LEVEL} and in at least one group above it by more than "
        f"{LEVEL}.",
        "",
        f"**{'Met' if met else 'Not met'}.** "
        + (
            "Lower by more than that in: "
            + ", ".join(f"{r['label']} ({r['diff']:+.4f})" for r in worse)
            + ". "
            if worse
            else ""
        )
        + (
            "Higher by more than that in: "
            + ", ".join(f"{r['label']} ({r['diff']:+.4f})" for r in better)
            + "."
            if better
            else "Higher by more than that in no group."
        ),
    ]
    rises = sum(r["labelled_rise"] for r in rows)
    test_rises = sum(r["test_rise"] for r in rows)
    total = sum(r["runs"] for r in rows)
    agree = sum(r["agree"] for r in rows)
    lines += [
        "",
        f"Over all {total} runs the labelled AP of the last round is above stage 1's in {rises}, "
        f"the test score in {test_rises}; the two agree on which of the two is higher in "
        f"{agree} of {total}.",
    ]
    return lines


def report(groups: dict[str, list[Run]], command: str) -> str:
    now = datetime.datetime.now(datetime.UTC)
    rows = [summary(label, runs) for label, runs in groups.items()]
    lines = [
        f"<!-- generated by bench/stage_selection.py: {command} -->",
        "# Choosing the stage to submit from a run's own labels",
        "",
        f"Generated {now:%Y-%m-%d %H:%M} UTC at commit {benchlib.commit()} by `{command}`. "
        "Nothing trained: finished runs' predictions read again.",
        "",
        "Labelled AP: each stage's out-of-fold clip scores against the tp/fp tables the run "
        "trained on (positive: a tp row of the species in the clip; negative: an fp row and no "
        "tp row), the mean over species of the AP. Test: LWLRAP with two or more species, else "
        "mean AP, against the test truth. Chosen: the stage with the highest labelled AP. "
        "oof_tp_lwlrap: scores.csv's out-of-fold LWLRAP on the clips with a tp row, what a run "
        "without test truth prints (two or more species only). The rises count the runs whose "
        "last round is above their stage 1.",
        "",
        "| group | runs | stage 1 | last round | chosen stage | chosen - last | best stage "
        "(hindsight) | labelled AP rises stage 1 -> last | oof_tp_lwlrap rises | test rises |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['runs']} | {r['stage1']:.3f} | {r['last']:.3f} | "
            f"{r['chosen']:.3f} | {r['diff']:+.4f} | {r['best']:.3f} | "
            f"{r['labelled_rise']} of {r['runs']} | "
            + (f"{r['tp_rise']} of {r['runs']}" if r["tp_rise"] is not None else "n/a (1 species)")
            + f" | {r['test_rise']} of {r['runs']} |"
        )
    lines += ["", *verdict(rows), "", "## Runs", ""]
    for label, runs in groups.items():
        lines += group_section(label, runs)
    return "\n".join(lines).rstrip() + "\n"


def parse_group(text: str) -> tuple[str, list[Path]]:
    label, sep, dirs = text.partition("=")
    if not sep or not label.strip() or not dirs.strip():
        raise argparse.ArgumentTypeError(f"--group takes LABEL=RUN_DIR[:RUN_DIR...], got {text!r}")
    return label.strip(), [Path(d) for d in dirs.split(":") if d]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", type=parse_group, action="append", required=True)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    command = "bench/stage_selection.py " + " ".join(
        f'--group "{label}={":".join(str(d) for d in dirs)}"' for label, dirs in args.group
    )
    if args.out != DEFAULT_OUT:
        command += f" --out {args.out}"
    try:
        groups = {label: [evaluate(d) for d in dirs] for label, dirs in args.group}
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(groups, command))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
