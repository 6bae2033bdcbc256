"""The review loop with a simulated reviewer: do a few dozen verdicts a round lift the rounds,
and more than the same budget spent at random? `make bench-review` runs it and writes
bench/results/review_sim.md and review_sim.png.

    .venv/bin/python bench/review_sim.py [--seeds 0 1 2] [--arms none mix ...] [--summary-only]

Every run is config.yaml's method with bench/review_sim.yaml's data (labelled as RFCx is) and
the seed's ``stage1.seed``, ``relabel.seed`` and ``review.seed``. Per seed, arm ``none`` runs
the workflow without review (`scores.csv` and `detections`), in ``{root}/seed{s}/none``. Every
other arm starts as a copy of that finished run, so its stage 1 is the same model, and then
for each stage a round follows (stage1, round1, ...) builds the stage's review queue
(``review.budget`` items, the arm's strategy shares), answers it from the hidden train truth
(``sedcycle.review.answer_from_truth``) into ``verdicts/{stage}/reviewer.csv``, and goes on,
so each round trains on the verdicts of the stages before it; at the end `scores.csv` and
`detections` (whose thresholds are then fitted to the verdicts). A finished arm is not run
again, so ``--summary-only`` rewrites the report from finished runs. ``--workers`` workflows at once
(arm by arm, then seed by seed), each on ``--cores`` cores, one thread a job.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import threading
import time
from pathlib import Path

import benchlib
import pandas as pd
import yaml

from sedcycle.review import DEFAULT_REASONS, STRATEGIES, answer_from_truth

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "bench" / "review_sim.yaml"
DEFAULT_ROOT = ROOT / "bench" / "review_runs"
DEFAULT_OUT = ROOT / "bench" / "results" / "review_sim.md"
# arm -> the review.strategies shares it sets (every strategy named: configs merge key by key);
# None: no review; {}: config.yaml's mix
ARMS: dict[str, dict[str, float] | None] = {
    "none": None,
    "random": {s: float(s == "random") for s in STRATEGIES},
    "mix": {},
    "margin": {s: float(s == "margin") for s in STRATEGIES},
    "top": {s: float(s == "top") for s in STRATEGIES},
    "stratified": {s: float(s == "stratified") for s in STRATEGIES},
}
TARGETS = ("scores.csv", "detections")


def arm_config(workdir: Path, arm: str, seed: int) -> Path:
    """Write ``workdir/run.yaml``: the seed, and for a reviewing arm its strategies and its
    verdicts folder ``workdir/verdicts`` (made here: review.verdicts must exist), as an
    absolute path: snakemake reads it from inside ``workdir`` (--directory), so a relative
    --root would name a folder that is not there."""
    chosen: dict = {"stage1": {"seed": seed}, "relabel": {"seed": seed}, "review": {"seed": seed}}
    if ARMS[arm] is not None:
        verdicts = (workdir / "verdicts").absolute()
        verdicts.mkdir(parents=True, exist_ok=True)
        chosen["review"]["verdicts"] = str(verdicts)
        if ARMS[arm]:
            chosen["review"]["strategies"] = ARMS[arm]
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "run.yaml"
    path.write_text(yaml.safe_dump(chosen))
    return path


def snakemake(
    workdir: Path, targets: list[str], cores: str, log: Path, config: Path = CONFIG
) -> None:
    """One workflow call in ``workdir`` (config.yaml, ``config``, run.yaml), appended to
    ``log``; SystemExit naming the log on failure."""
    command = benchlib.workflow_command(
        workdir, cores, [config, workdir / "run.yaml"], targets, max_threads=1
    )
    with open(log, "a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"{workdir}: snakemake failed, see {log}")


def stages(workdir: Path, data: Path = CONFIG) -> list[str]:
    """The run's stages in order (stage1, round1, ...), from its resolved config."""
    config = {}
    for path in (ROOT / "config.yaml", data, workdir / "run.yaml"):
        benchlib.merge(config, yaml.safe_load(path.read_text()))
    return ["stage1", *(f"round{r}" for r in range(1, config["relabel"]["n_rounds"] + 1))]


def run_arm(root: Path, seed: int, arm: str, cores: str, config: Path = CONFIG) -> float | None:
    """Run one arm of one seed (nothing when finished), ``config`` layered over config.yaml;
    its wall minutes, None if it was."""
    workdir = root / f"seed{seed}" / arm
    if (workdir / "done").exists():
        return None
    started = time.perf_counter()
    log = root / f"seed{seed}_{arm}.log"
    if arm != "none" and not workdir.exists():
        base = root / f"seed{seed}" / "none"
        if not (base / "done").exists():
            raise SystemExit(f"arm {arm} of seed {seed} needs the finished run {base} first")
        shutil.copytree(base, workdir, symlinks=True)  # copy2: modification times kept
        (workdir / "done").unlink()
    workdir.mkdir(parents=True, exist_ok=True)
    arm_config(workdir, arm, seed)
    if ARMS[arm] is not None:
        truth = pd.read_csv(workdir / "data/synthetic/train_truth.csv", dtype={"recording_id": str})
        for stage in stages(workdir, config)[:-1]:
            answered = workdir / "verdicts" / stage / "reviewer.csv"
            if answered.exists():
                continue
            queue_csv = f"review/{stage}/queue.csv"
            snakemake(workdir, [queue_csv], cores, log, config)
            queue = pd.read_csv(workdir / queue_csv, dtype={"recording_id": str, "verdict": str})
            answered.parent.mkdir(parents=True, exist_ok=True)
            answer_from_truth(queue, truth).to_csv(answered, index=False)
    snakemake(workdir, list(TARGETS), cores, log, config)
    (workdir / "done").write_text("")
    return (time.perf_counter() - started) / 60


# --- the report -------------------------------------------------------------------------------


def arm_scores(workdir: Path) -> pd.DataFrame:
    """Per stage of a finished run: test LWLRAP, event F1, precision and recall (onset
    criterion, all species), and the verdicts its training had (those of the stages before
    it) with their tp share."""
    scores = pd.read_csv(workdir / "scores.csv").set_index("stage")
    names = [s for s in scores.index if s != "ensemble"]
    rows = []
    verdicts = n_tp = 0
    for stage in names:
        events = pd.read_csv(workdir / "detections" / stage / "event_scores.csv")
        event = events.query("criterion == 'onset' and species == 'all'").iloc[0]
        rows.append(
            {
                "stage": stage,
                "test_lwlrap": scores.loc[stage, "test_lwlrap"],
                "event_f1": event["f1"],
                "event_precision": event["precision"],
                "event_recall": event["recall"],
                "verdicts": verdicts,
                "verdicts_tp": n_tp,
            }
        )
        answered = workdir / "verdicts" / stage / "reviewer.csv"
        if answered.exists():
            table = pd.read_csv(answered)
            verdicts += len(table)
            n_tp += int((table["verdict"] == "tp").sum())
    return pd.DataFrame(rows)


def collect(root: Path, seeds: list[int], arms: list[str]) -> pd.DataFrame:
    """Every finished (seed, arm)'s :func:`arm_scores`, long, with seed and arm columns."""
    tables = []
    for seed in seeds:
        for arm in arms:
            workdir = root / f"seed{seed}" / arm
            if (workdir / "done").exists():
                tables.append(arm_scores(workdir).assign(seed=seed, arm=arm))
    if not tables:
        raise SystemExit(f"no finished run under {root}")
    return pd.concat(tables, ignore_index=True)


def mean_std(values: pd.Series) -> str:
    if len(values) < 2:
        return f"{values.mean():.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"


def table_lines(scores: pd.DataFrame) -> list[str]:
    """One row per arm and stage: verdicts used, tp share, LWLRAP, event F1 (mean ± std),
    event precision and recall (means)."""
    lines = [
        "| arm | stage | seeds | verdicts trained on | of them tp | test LWLRAP | event F1 "
        "| event precision | event recall |",
        "|---|---|---:|---:|---:|---|---|---:|---:|",
    ]
    for (arm, stage), group in scores.groupby(["arm", "stage"], sort=False):
        tp_share = group["verdicts_tp"].sum() / max(group["verdicts"].sum(), 1)
        lines.append(
            f"| {arm} | {stage} | {len(group)} | {group['verdicts'].mean():.0f} | "
            f"{tp_share:.0%} | {mean_std(group['test_lwlrap'])} | {mean_std(group['event_f1'])} "
            f"| {group['event_precision'].mean():.3f} | {group['event_recall'].mean():.3f} |"
        )
    return lines


def threshold_lines(root: Path, seeds: list[int], arms: list[str]) -> list[str]:
    """Per reviewing arm, over its finished seeds: how the detection thresholds were chosen
    (review/thresholds.csv's ``method``: fitted, or the default and why), species by seed."""
    lines = [
        "| arm | species x seeds | fitted | "
        + " | ".join(reason.removeprefix("default: ") for reason in DEFAULT_REASONS)
        + " |",
        "|---|---:|---:|" + "---:|" * len(DEFAULT_REASONS),
    ]
    for arm in arms:
        tables = [
            pd.read_csv(path)
            for seed in seeds
            if (root / f"seed{seed}" / arm / "done").exists()
            and (path := root / f"seed{seed}" / arm / "review" / "thresholds.csv").exists()
        ]
        if not tables:
            continue
        methods = pd.concat(tables)["method"].value_counts()
        cells = [methods.get(m, 0) for m in ("logistic", *DEFAULT_REASONS)]
        lines.append(f"| {arm} | {sum(methods)} | " + " | ".join(map(str, cells)) + " |")
    return lines if len(lines) > 2 else []


def gains(scores: pd.DataFrame, stage: str, arm: str, against: str, column: str) -> pd.Series:
    """Per seed: ``arm``'s ``column`` at ``stage`` minus ``against``'s (seeds both finished)."""
    table = scores[scores["stage"] == stage].pivot(index="seed", columns="arm", values=column)
    if arm not in table or against not in table:
        return pd.Series(dtype=float)
    return (table[arm] - table[against]).dropna()


def verdict_lines(scores: pd.DataFrame, arms: list[str]) -> list[str]:
    """Paired over seeds, at the last round: each reviewing arm against no review and against
    random selection, in LWLRAP and event F1; and whether the round beats stage 1."""
    last = [s for s in scores["stage"].unique() if s.startswith("round")][-1]
    lines = []
    for column, name in (("test_lwlrap", "test LWLRAP"), ("event_f1", "event F1")):
        lines.append(f"{last}, {name}, per seed (gain over the named arm):")
        lines.append("")
        for arm in arms:
            if arm == "none":
                continue
            for against in ("none", "random"):
                if against == arm:
                    continue
                gain = gains(scores, last, arm, against, column)
                if gain.empty:
                    continue
                beats = "yes" if (gain > 0).all() else "no"
                lines.append(
                    f"- {arm} above {against} on every seed: **{beats}** "
                    f"({', '.join(f'{g:+.4f}' for g in gain)}; mean {gain.mean():+.4f})"
                )
        lines.append("")
    return lines


def plot(scores: pd.DataFrame, path: Path) -> None:
    """Test LWLRAP and event F1 per stage, one line per arm (means over seeds); the x labels
    give the verdicts a reviewing arm's stage trained on."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    means = scores.groupby(["arm", "stage"], sort=False)[
        ["verdicts", "test_lwlrap", "event_f1"]
    ].mean()
    stages = list(dict.fromkeys(scores["stage"]))
    reviewing = [a for a in scores["arm"].unique() if a != "none"]
    labels = stages
    if reviewing:
        verdicts = means.loc[reviewing[0], "verdicts"]
        labels = [f"{s}\n({verdicts[s]:.0f})" for s in stages]
    for arm in scores["arm"].unique():
        rows = means.loc[arm].reindex(stages)
        for axis, column in zip(axes, ("test_lwlrap", "event_f1"), strict=True):
            axis.plot(range(len(stages)), rows[column], marker="o", label=arm)
    for axis, title in zip(axes, ("test LWLRAP", "event F1 (onset)"), strict=True):
        axis.set_xticks(range(len(stages)), labels)
        axis.set_xlabel("stage (verdicts a reviewing arm trained on)")
        axis.set_title(f"{title}, mean over seeds")
        axis.grid(alpha=0.3)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def shown(path: Path) -> Path:
    """``path`` as the report names it: relative to the repository when inside it."""
    path = path.resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def write_report(
    root: Path,
    seeds: list[int],
    arms: list[str],
    out: Path,
    minutes: dict[str, float],
    data: Path = CONFIG,
) -> str:
    scores = collect(root, seeds, arms)
    arms = [a for a in arms if a in set(scores["arm"])]
    config = yaml.safe_load(data.read_text())
    command = f"python bench/review_sim.py --seeds {' '.join(map(str, seeds))} --arms "
    command += " ".join(arms)
    if data.resolve() != CONFIG:
        command += f" --config {shown(data)} --root {shown(root)} --out {shown(out)}"
    defaults = yaml.safe_load((ROOT / "config.yaml").read_text())["review"]
    synthetic = config["data"]["synthetic"]
    image = out.with_suffix(".png")
    plot(scores, image)
    finished = scores.groupby("arm", sort=False)["seed"].nunique()
    lines = [
        "# The review loop with a simulated reviewer",
        "",
        f"`{command}`; {benchlib.machine()}.",
        "",
        f"Data: {shown(data)}, labelled as RFCx is: {synthetic['n_train']} train "
        f"recordings of {config['clip_seconds']} s, "
        f"{synthetic['tp_recording_fraction']:.0%} with tp rows and the rest fp rows "
        f"only, ~94 % of the calls unlabelled; {synthetic['n_test']} test recordings, "
        f"{config['n_species']} species, {config['folds']['n_folds']} folds. Method: "
        "config.yaml's defaults. A reviewing arm checks "
        f"{defaults['budget']} items (review.budget) after each stage a round follows, chosen "
        "by its strategy (mix: config.yaml's "
        f"{', '.join(f'{k} {v:g}' for k, v in defaults['strategies'].items())}); the reviewer "
        "answers from the hidden truth (tp: a true call of the species overlaps the item's "
        "span). Stage 1 is the same model in every arm of a seed; the seeds are training seeds "
        "(stage1, relabel and review seeds) on one data draw. Event F1: onset within "
        "0.5 s, all species, detections with config.yaml's thresholds, or with verdicts the "
        "thresholds fitted to them. Seeds finished per arm: "
        + ", ".join(f"{arm} {finished[arm]}" for arm in arms)
        + ".",
        "",
        *table_lines(scores),
        "",
        f"![test LWLRAP and event F1 against verdicts]({image.name})",
        "",
        "## Verdicts",
        "",
        *verdict_lines(scores, arms),
    ]
    fitted = threshold_lines(root, seeds, arms)
    if fitted:
        lines += [
            "## Detection thresholds fitted to the verdicts",
            "",
            "Each reviewing arm's review/thresholds.csv after its last stage (every verdict), "
            f"at review.target_precision {defaults['target_precision']:g}: species fitted, and "
            "species left at the default threshold by reason (docs/review.md), counted over "
            "species and seeds. Written at commit "
            f"{benchlib.commit()}.",
            "",
            *fitted,
            "",
        ]
    if minutes:
        lines.append(
            "Wall minutes of each run (two at a time on 2 cores; a run without review includes "
            "making and featurising the data, a reviewing arm only what it reran): "
            + ", ".join(f"{k} {v:.1f}" for k, v in minutes.items())
            + "."
        )
    text = "\n".join(lines).rstrip() + "\n"
    out.write_text(text)
    return text


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--config",
        type=Path,
        default=CONFIG,
        help="the data (and settings) layered over config.yaml: default bench/review_sim.yaml; "
        "bench/rfcx_shaped_data.yaml for RFCx's size (24 species, 5 folds, 720 train recordings)",
    )
    parser.add_argument(
        "--cores", default="1", help="snakemake --cores of each workflow (a number or all)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="workflows at once (default 2: one a core)"
    )
    parser.add_argument(
        "--summary-only", action="store_true", help="only rewrite the report from finished runs"
    )
    return parser


def run_all(
    root: Path, seeds: list[int], arms: list[str], cores: str, workers: int, config: Path = CONFIG
) -> dict:
    """Every (seed, arm) run, ``config`` layered over config.yaml, ``workers`` at a time
    (threads, each a workflow on ``cores`` cores): the next is the first of arm order, then
    seed order, that can start (a reviewing arm waits for its seed's run without review).
    Returns wall minutes per run that ran."""
    pending = [(seed, arm) for arm in arms for seed in seeds]
    finished: set[tuple[int, str]] = set()
    failed: list[BaseException] = []
    minutes: dict[str, float] = {}
    lock = threading.Condition()

    def next_task() -> tuple[int, str] | None:
        with lock:
            while pending and not failed:
                for task in pending:
                    seed, arm = task
                    if arm == "none" or (seed, "none") in finished:
                        pending.remove(task)
                        return task
                lock.wait()
            return None

    def worker() -> None:
        while (task := next_task()) is not None:
            seed, arm = task
            try:
                took = run_arm(root, seed, arm, cores, config)
            except BaseException as error:  # SystemExit too: stop the others' next starts
                with lock:
                    failed.append(error)
                    lock.notify_all()
                return
            with lock:
                finished.add(task)
                if took is not None:
                    minutes[f"seed{seed}/{arm}"] = took
                    print(f"seed {seed} {arm}: {took:.1f} min", flush=True)
                lock.notify_all()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    return minutes


def main() -> None:
    args = arguments().parse_args()
    arms = ["none", *[a for a in args.arms if a != "none"]]
    kept = args.root / "wall_minutes.json"  # every run's wall minutes, kept for --summary-only
    if args.summary_only:
        minutes = benchlib.kept_minutes(kept)
    else:
        args.root.mkdir(parents=True, exist_ok=True)
        ran = run_all(args.root, args.seeds, arms, args.cores, args.workers, args.config)
        minutes = benchlib.keep_minutes(kept, ran)
    print(write_report(args.root, args.seeds, arms, args.out, minutes, args.config))


if __name__ == "__main__":
    main()
