"""Where does relabel.min_window_passes bind? For each data set, each fold's grid windows and
the random crops a round takes an epoch, so the passes over the windows that a round of
relabel.epochs makes, and the epochs a floor of --passes asks for. Nothing is trained.

.venv/bin/python bench/window_passes.py --run NAME DIR [CONFIG ...] [--run ...]
    [--synthetic NAME CONFIG ...] [--passes 1.0] [--out bench/results/window_passes.md]

--run: a workflow run's directory DIR (its folds.csv and, under data.dir, its train_tp.csv and
train_fp.csv: a finished run, or one made up to the `folds.csv` target), with the config files
it was run with layered over config.yaml (clip length, windows, the round settings).
--synthetic: a synthetic data config (e.g. bench/quality_shape.yaml) layered over config.yaml:
its tables are drawn without audio (sedcycle.synthetic.draw_labels) and its folds assigned as
the workflow's make_folds does.

The counts are those of sedcycle.crops.fold_schedule, what each round's training job logs: a
fold's windows are its training recordings times the grid positions (windows.window,
windows.cover); its random crops an epoch the 1 - labelled_crop_prob share of the crops around
every tp event and a fp_fraction sample of fp events (all of a grid epoch). The round's settings
are relabel.* without per-round overrides.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from dataclasses import replace
from pathlib import Path

import benchlib
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sedcycle.audio import n_frames as clip_frames  # noqa: E402
from sedcycle.crops import (  # noqa: E402
    fold_events,
    fold_recordings,
    fold_schedule,
    labelled_events,
    sample_epoch,
    window_counts,
)
from sedcycle.folds import assign_folds  # noqa: E402
from sedcycle.schedule import training_epochs  # noqa: E402
from sedcycle.settings import TrainSettings, resolve_crops, round_params  # noqa: E402
from sedcycle.synthetic import draw_labels  # noqa: E402


def merged(*paths: Path) -> dict:
    """config.yaml with ``paths`` layered over it, as snakemake --configfile merges them."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for path in paths:
        benchlib.merge(config, yaml.safe_load(Path(path).read_text()) or {})
    return config


def round_settings(config: dict, passes: float, n_tp: int, n_fp: int) -> TrainSettings:
    """A round's settings as its training job gets them (sedcycle.settings.round_params of
    relabel.*), with min_window_passes ``passes`` and the grid's overlap windows.cover;
    relabel.crops "auto" resolved from ``n_tp`` and ``n_fp`` rows, as the training job does."""
    params = round_params(config, config["relabel"], config["n_species"])
    settings = TrainSettings(
        **{**params, "min_window_passes": passes, "cover": config["windows"]["cover"]}
    )
    return replace(settings, crops=resolve_crops(settings, n_tp, n_fp)[0])


def fold_rows(
    name: str, tp: pd.DataFrame, fp: pd.DataFrame, folds: pd.DataFrame, config: dict, passes: float
) -> list[dict]:
    """One row a fold: its windows, random crops an epoch, passes in relabel.epochs, epochs."""
    clip_seconds = config["clip_seconds"]
    n_frames = clip_frames(
        clip_seconds, config["features"]["sample_rate"], config["features"]["hop_length"]
    )
    settings = round_settings(config, passes, len(tp), len(fp))
    events = labelled_events(tp, fp, n_frames, clip_seconds)
    rows = []
    for fold in sorted(folds["fold"].unique()):
        ids = fold_recordings(folds, int(fold))
        own = fold_events(events, ids)
        # the training job's count (fold_schedule), and what epochs and min_steps alone ask
        epochs, batches, _ = fold_schedule(own, ids, n_frames, settings)
        base = training_epochs(settings, batches)
        plan = sample_epoch(own, ids, n_frames, settings, 0)
        windows, random_crops = window_counts(ids, n_frames, len(plan), settings)
        rows.append(
            {
                "set": name,
                "fold": int(fold),
                "recordings": len(ids),
                "windows": windows,
                "random crops an epoch": random_crops,
                "epochs": base,
                "passes": base * random_crops / windows,
                "epochs at the floor": epochs,
            }
        )
    return rows


def run_rows(name: str, directory: Path, configs: list[Path], passes: float) -> list[dict]:
    config = merged(*configs)
    data = Path(config["data"]["dir"])
    data = data if data.is_absolute() else directory / data
    missing = [p for p in (directory / "folds.csv", data / "train_tp.csv") if not p.exists()]
    if missing:
        raise SystemExit(f"{name}: {', '.join(map(str, missing))} missing (run it to folds.csv)")
    ids = {"recording_id": str}
    tp = pd.read_csv(data / "train_tp.csv", dtype=ids)
    fp = pd.read_csv(data / "train_fp.csv", dtype=ids)
    folds = pd.read_csv(directory / "folds.csv", dtype=ids)
    return fold_rows(name, tp, fp, folds, config, passes)


def synthetic_rows(name: str, data_config: Path, passes: float) -> list[dict]:
    config = merged(data_config)
    synthetic = config["data"]["synthetic"]
    tables = draw_labels(
        n_species=config["n_species"],
        clip_seconds=config["clip_seconds"],
        **synthetic,
    )
    folds = config["folds"]
    assigned = assign_folds(
        tables["train_tp"],
        tables["train_fp"],
        tables["train_ids"],
        folds["n_folds"],
        folds["seed"],
        config["n_species"],
    )
    return fold_rows(name, tables["train_tp"], tables["train_fp"], assigned, config, passes)


def table(rows: list[dict]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for key in columns:
            value = row[key]
            cells.append(
                f"{value:.2f}"
                if key == "passes"
                else (f"{value:g}" if isinstance(value, (int, float)) else str(value))
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", nargs="+", action="append", default=[], metavar="NAME DIR")
    parser.add_argument("--synthetic", nargs=2, action="append", default=[], metavar="NAME")
    parser.add_argument("--passes", type=float, default=1.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    rows = []
    for run in args.run:
        if len(run) < 2:
            parser.error("--run takes NAME DIR [CONFIG ...]")
        rows += run_rows(run[0], Path(run[1]), [Path(c) for c in run[2:]], args.passes)
    for name, config in args.synthetic:
        rows += synthetic_rows(name, Path(config), args.passes)
    if not rows:
        parser.error("give at least one --run or --synthetic")
    command = " ".join(["bench/window_passes.py", *(argv if argv is not None else sys.argv[1:])])
    report = "\n\n".join(
        [
            "# Passes over the windows a round makes",
            f"`{command}` ({datetime.date.today()}): per fold, its training recordings, their "
            "grid windows, the random crops a round takes an epoch, the passes over the windows "
            "those make in relabel.epochs (`epochs`), and the epochs "
            f"`relabel.min_window_passes: {args.passes:g}` asks for (`epochs at the floor`; more "
            "than `epochs` where it binds). Nothing trained; the counts are the training "
            "jobs' own (sedcycle.crops.fold_schedule).",
            table(rows),
        ]
    )
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
