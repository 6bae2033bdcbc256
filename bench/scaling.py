"""Predict-only at 1, 2, 4 and 8 shards (execution.shards), through SLURM or the local executor.

Generates a predict-only input folder with the synthetic generator (the demo's settings of
config.yaml), gets fold models once (trains the demo, or --models DIR, or with --quick untrained
checkpoints of the configured backbone), then runs `predictions.csv` once per shard count, each
in a fresh work folder, and writes a report: the wall time of each snakemake call, each job's
time and peak memory (the jobs' `benchmark:` files, columns s and max_rss), the job count, the
per-job overhead, the per-recording figures, and whether predictions.csv holds the same bytes at
every shard count. Every ratio is against the 1-shard run of the same call (the baseline).

    .venv/bin/python bench/scaling.py                   # 2,000 recordings, 1 2 4 8, SLURM
    .venv/bin/python bench/scaling.py --quick --executor local --root /tmp/x --out /tmp/x.md

SLURM runs use `.venv-cluster/bin/snakemake --profile profiles/slurm` (`make setup-cluster`)
and need a running SLURM (`make bench-scaling` starts and stops the local one-node SLURM of
tests/cluster). Every job is capped at --threads threads (default 1), in every run alike: the
scores' last digits depend on the thread count, and one-thread jobs run side by side on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sedcycle import synthetic  # noqa: E402
from sedcycle.recordings import audio_files, shard_of  # noqa: E402

LOCAL_SNAKEMAKE = Path(sys.executable).with_name("snakemake")
CLUSTER_SNAKEMAKE = ROOT / ".venv-cluster" / "bin" / "snakemake"
CONFIG = ROOT / "config.yaml"
# "... submitted with SLURM jobid 108 (log: .../slurm_logs/rule_predict_only_shard/0/108.log)";
# the wildcards folder is absent for a rule without wildcards, its last number is the shard
SUBMITTED = re.compile(
    r"submitted with SLURM jobid (\d+) \(log: \S+/rule_(\w+)/(?:(\S+)/)?\d+\.log\)"
)
# benchmarks/ path -> (rule, kind): kind "features" or "prediction" for the per-shard work
JOB_KINDS = {
    "extract_features": "features",
    "extract_features_shard": "features",
    "predict_only": "prediction",
    "predict_only_shard": "prediction",
    "gather_features": "gather",
    "gather_predict_only": "gather",
}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=int, default=2000, help="recordings to score")
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument(
        "--executor",
        choices=["slurm", "local"],
        default="slurm",
        help="slurm: profiles/slurm through .venv-cluster's snakemake; local: --cores CORES",
    )
    parser.add_argument("--cores", type=int, default=2, help="local executor's --cores")
    parser.add_argument("--threads", type=int, default=1, help="--max-threads of every job")
    parser.add_argument(
        "--models", type=Path, help="a folder of fold*.pt (a finished run's models/round3)"
    )
    parser.add_argument(
        "--untrained",
        action="store_true",
        help="untrained checkpoints of config.yaml's backbone instead of training the demo "
        "(the timing is the same network's; the scores mean nothing)",
    )
    parser.add_argument(
        "--tiny",
        type=int,
        default=None,
        help="recordings of the overhead run, predict-only over one tiny folder (default 4; "
        "0 with --quick: no such run)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("/tmp/sedcycle-scaling"),
        help="work folder: data, models and one run folder per shard count (data and models "
        "are kept and reused; the runs are rerun fresh)",
    )
    parser.add_argument("--out", type=Path, help="the report (default bench/results/scaling.md)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes (40 recordings, shards 1 2, untrained models, no overhead run): checks "
        "that it runs",
    )
    args = parser.parse_args()
    if args.tiny is None:
        args.tiny = 0 if args.quick else 4
    if args.quick:
        args.recordings = min(args.recordings, 40)
        args.shards = [1, 2] if args.shards == [1, 2, 4, 8] else args.shards
        args.untrained = args.untrained or args.models is None
    if 1 not in args.shards:
        parser.error("--shards must include 1: every ratio is against the 1-shard run")
    args.shards = sorted(set(args.shards))
    if args.out is None:
        args.out = args.root / "scaling.md" if args.quick else ROOT / "bench/results/scaling.md"
    return args


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{head} (uncommitted changes in the tree)" if dirty else head


def demo_settings() -> dict:
    config = yaml.safe_load(CONFIG.read_text())
    return config


def generate_input(root: Path, n: int, config: dict) -> Path:
    """``n`` synthetic recordings (the demo's generator settings and clip length) in
    root/data/test, the predict-only input folder; kept when a run made it already."""
    data = root / "data"
    gen = config["data"]["synthetic"]
    settings = {
        "n_train": 4,
        "n_test": n,
        "seed": gen["seed"],
        "tp_fraction": gen["tp_fraction"],
        "fp_fraction": gen["fp_fraction"],
        "fp_per_recording": gen["fp_per_recording"],
        "n_species": config["n_species"],
        "clip_seconds": config["clip_seconds"],
    }
    stamp = data / "settings.json"
    if stamp.exists() and json.loads(stamp.read_text()) == settings:
        return data / "test"
    shutil.rmtree(data, ignore_errors=True)
    started = time.perf_counter()
    synthetic.generate(data, n_jobs=os.cpu_count() or 1, **settings)
    print(f"generated {n} recordings in {time.perf_counter() - started:.0f} s", flush=True)
    stamp.write_text(json.dumps(settings))
    return data / "test"


def untrained_models(folder: Path, config: dict) -> Path:
    """One untrained checkpoint per fold of config.yaml's backbone (the network the demo trains)."""
    import torch

    from sedcycle.model import SEDModel, model_spec

    folder.mkdir(parents=True, exist_ok=True)
    for fold in range(config["folds"]["n_folds"]):
        path = folder / f"fold{fold}.pt"
        if not path.exists():
            torch.manual_seed(fold)
            model = SEDModel(config["model"]["backbone"], n_species=config["n_species"])
            torch.save({"model_spec": model_spec(model), "state_dict": model.state_dict()}, path)
    return folder


def trained_models(root: Path, config: dict, threads: int) -> Path:
    """The demo (config.yaml) trained in root/train, locally; its last round's fold models."""
    last = f"round{config['relabel']['n_rounds']}" if config["relabel"]["n_rounds"] else "stage1"
    targets = [f"models/{last}/fold{f}.pt" for f in range(config["folds"]["n_folds"])]
    workdir = root / "train"
    command = [str(LOCAL_SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile")]
    command += ["--directory", str(workdir), "--cores", str(os.cpu_count() or 1)]
    command += ["--max-threads", str(threads), *targets, "--configfile", str(CONFIG)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"training the demo failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    print(f"trained the demo in {time.perf_counter() - started:.0f} s", flush=True)
    return workdir / "models" / last


def run_command(args: argparse.Namespace, workdir: Path, own: Path) -> list[str]:
    if args.executor == "slurm":
        command = [str(CLUSTER_SNAKEMAKE), "--profile", str(ROOT / "profiles/slurm")]
        # as tests/cluster does: short jobs, poll early (the interval then grows by 10 s a poll)
        command += ["--slurm-init-seconds-before-status-checks", "2"]
    else:
        command = [str(LOCAL_SNAKEMAKE), "--cores", str(args.cores)]
    command += ["--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    command += ["--max-threads", str(args.threads), "predictions.csv"]
    return [*command, "--configfile", str(CONFIG), str(own)]


def slurm_times(job_ids: list[int]) -> dict[int, tuple[float, float]]:
    """SLURM's start and end (epoch seconds) of each job (MinJobAge keeps them in squeue)."""
    if not job_ids:
        return {}
    done = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%S|%e"]
        + ["--jobs=" + ",".join(map(str, job_ids))],
        capture_output=True,
        text=True,
    )
    times = {}
    for line in done.stdout.split():
        job, start, end = line.split("|")
        try:
            times[int(job)] = tuple(
                datetime.datetime.fromisoformat(t).timestamp() for t in (start, end)
            )
        except ValueError:
            continue
    return times


def job_table(workdir: Path, input_dir: Path, shards: int, submitted: dict) -> pd.DataFrame:
    """One row per job: rule, shard, recordings, benchmark s and max_rss, SLURM elapsed."""
    ids = list(audio_files(input_dir))
    counts = np.bincount([shard_of(rec, shards) for rec in ids], minlength=shards)
    rows = []
    for tsv in sorted((workdir / "benchmarks").rglob("*.tsv")):
        relative = tsv.relative_to(workdir / "benchmarks")
        rule = relative.parts[0].removesuffix(".tsv")
        if rule not in JOB_KINDS:
            continue
        match = re.match(r"(\d+)-of-\d+", tsv.stem)
        shard = int(match[1]) if match else None
        bench = pd.read_csv(tsv, sep="\t").iloc[0]
        slurm = submitted.get((rule, shard))
        rows.append(
            {
                "rule": rule,
                "kind": JOB_KINDS[rule],
                "shard": shard,
                "recordings": len(ids) if shard is None else int(counts[shard]),
                "s": float(bench["s"]),
                "max_rss": float(bench["max_rss"]),
                "slurm_s": slurm,
            }
        )
    return pd.DataFrame(rows)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_predict_only(
    args: argparse.Namespace, name: str, shards: int, input_dir: Path, models: Path
) -> dict:
    """predict-only of ``input_dir`` at ``shards`` shards in a fresh root/runs/``name``."""
    workdir = args.root / "runs" / name
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    own = workdir / "own.yaml"
    own.write_text(
        yaml.safe_dump(
            {
                "data": {"source": "rfcx", "dir": "no-such-folder"},  # no train data at all
                "predict": {"model_dir": str(models), "input_dir": str(input_dir)},
                "execution": {"shards": shards},
                "cluster": {"gpu": 0},  # CPU-only node: the jobs must not ask for a GPU
            }
        )
    )
    command = run_command(args, workdir, own)
    load_before = loadavg()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    load_after = loadavg()
    output = done.stdout + done.stderr
    (workdir / "snakemake.out").write_text(output)
    if done.returncode != 0:
        sys.exit(f"{name}: snakemake failed ({workdir}/snakemake.out):\n{output[-5000:]}")
    jobs = [(int(m[1]), m[2], m[3]) for m in SUBMITTED.finditer(output)]
    times = slurm_times([job for job, _, _ in jobs])
    submitted = {}
    for job, rule, wildcards in jobs:
        shard = re.findall(r"\d+", wildcards or "") if rule.endswith("_shard") else []
        if job in times:
            start, end = times[job]
            submitted[(rule, int(shard[-1]) if shard else None)] = end - start
    span = None
    if times:
        span = max(end for _, end in times.values()) - min(start for start, _ in times.values())
    table = job_table(workdir, input_dir, shards, submitted)
    counts = dict(
        re.findall(r"^(\w+)\s+(\d+)$", output.split("Job stats:")[1].split("total")[0], re.M)
    )
    print(f"{name}: {wall:.1f} s, jobs {counts}, load {load_before} -> {load_after}", flush=True)
    return {
        "name": name,
        "shards": shards,
        "wall": wall,
        "span": span,
        "load_before": load_before,
        "load_after": load_after,
        "jobs": table,
        "job_counts": {rule: int(n) for rule, n in counts.items()},
        "slurm_jobs": len(jobs),
        "sha_clips": sha256(workdir / "predictions.csv"),
        "sha_windows": sha256(workdir / "predictions_windows.parquet"),
        "clips_bytes": (workdir / "predictions.csv").stat().st_size,
        "windows_bytes": (workdir / "predictions_windows.parquet").stat().st_size,
        "windows_rows": len(pd.read_parquet(workdir / "predictions_windows.parquet")),
        "features_bytes": sum(
            p.stat().st_size for p in (workdir / "features/predict").rglob("*.npy")
        ),
        "workdir": workdir,
    }


def fit(points: pd.DataFrame) -> tuple[float, float]:
    """Least squares s = overhead + per_recording * recordings over the shard jobs."""
    if points["recordings"].nunique() < 2:
        row = points.iloc[0]
        return float("nan"), float(row["s"] / row["recordings"])
    slope, intercept = np.polyfit(points["recordings"], points["s"], 1)
    return float(intercept), float(slope)


def fmt(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def report(args, runs: list[dict], tiny: dict, facts: dict) -> str:
    base = runs[0]
    assert base["shards"] == 1
    slurm = args.executor == "slurm"
    lines = [
        "# Predict-only at 1 to 8 shards" + (" through SLURM" if slurm else " (local executor)"),
        "",
        f"Generated by `{facts['command']}`; every ratio is against the 1-shard run of this "
        "same call (the baseline), never an absolute bound.",
        "",
        "## Machine and setup",
        "",
        f"- {facts['date']}, commit {facts['commit']}",
        f"- {facts['cpu']}; `nproc` {facts['nproc']}, {facts['cores']} cores seen by Python, "
        f"{facts['memory_gib']:.0f} GiB memory",
        f"- executor: {facts['executor']}",
        f"- input: {args.recordings} synthetic recordings of {facts['clip_seconds']} s "
        f"({facts['audio_mb_per_recording']:.2f} MB of FLAC each), the demo's generator "
        f"settings; models: {facts['models']}",
        f"- every job capped at {args.threads} thread(s) (`--max-threads`), in every run",
        "- the machine is shared with other work: wall times include whatever else ran, as the "
        "load averages (/proc/loadavg, 1/5/15 min) before and after each run show",
        "",
        "## Runs",
        "",
        "| shards | jobs | wall s | speed-up vs 1 shard | SLURM span s | job s (sum) | "
        "job s ratio | slowest job s | peak RSS MB (max job) | RSS ratio | "
        "predictions.csv sha256 | same bytes as 1 shard | load before | load after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        jobs = run["jobs"]
        work = jobs[jobs["kind"] != "gather"]
        base_work = base["jobs"][base["jobs"]["kind"] != "gather"]
        peak, base_peak = work["max_rss"].max(), base_work["max_rss"].max()
        same = "yes" if run["sha_clips"] == base["sha_clips"] else "NO"
        lines.append(
            f"| {run['shards']} | {sum(run['job_counts'].values())} | {run['wall']:.1f} | "
            f"{base['wall'] / run['wall']:.2f} | {fmt(run['span'], 0)} | {work['s'].sum():.1f} | "
            f"{work['s'].sum() / base_work['s'].sum():.2f} | {work['s'].max():.1f} | "
            f"{peak:.0f} | {peak / base_peak:.2f} | `{run['sha_clips'][:16]}` | {same} | "
            f"{run['load_before']} | {run['load_after']} |"
        )
    identical = all(
        r["sha_clips"] == base["sha_clips"] and r["sha_windows"] == base["sha_windows"]
        for r in runs
    )
    lines += [
        "",
        "*wall s*: the whole snakemake call (DAG, submission, polling, gathering); "
        "*speed-up*: the 1-shard wall / this wall; "
        + (
            "*SLURM span*: the first job's start to the last job's end as SLURM records them "
            "(1 s steps), without the plugin's polling delay; "
            if slurm
            else ""
        )
        + "*job s*: the feature and prediction jobs' own time (their `benchmark:` s), summed; "
        "*job s ratio*: that sum / the 1-shard sum (the extra work that shards cost); "
        "*peak RSS*: the largest max_rss of one job.",
        "",
        f"predictions.csv and predictions_windows.parquet hold the same bytes at every shard "
        f"count: **{'yes' if identical else 'NO'}** (sha256 of predictions.csv "
        f"`{base['sha_clips']}`).",
        "",
        "## Jobs",
        "",
        "| shards | rule | shard | recordings | s | max_rss MB |"
        + (" SLURM elapsed s |" if slurm else ""),
        "|---|---|---|---|---|---|" + ("---|" if slurm else ""),
    ]
    for run in [*runs, tiny] if tiny else runs:
        for job in run["jobs"].itertuples():
            shard = "–" if job.shard is None or np.isnan(job.shard) else int(job.shard)
            label = run["shards"] if run is not tiny else f"1 (tiny, {args.tiny} recordings)"
            lines.append(
                f"| {label} | {job.rule} | {shard} | {job.recordings} | {job.s:.2f} | "
                f"{job.max_rss:.0f} |" + (f" {fmt(job.slurm_s, 0)} |" if slurm else "")
            )
    per = facts["per_recording"]
    lines += [
        "",
        "## Per-job overhead and per-recording work",
        "",
        "Two estimates of what a job pays before any work: (a) the job time of predict-only over "
        + (
            f"one tiny folder of {args.tiny} recordings (its own run, one shard)"
            if tiny
            else "one tiny folder (not run here: --tiny 0)"
        )
        + ", and (b) the "
        "intercept of a least-squares line s = overhead + per-recording time x recordings over "
        "every feature or prediction job of the runs above (1 job of all the recordings, then "
        "shards of about 1/2, 1/4, 1/8 of them); its slope is the per-recording time of one "
        "job at the thread cap above."
        + (
            " The SLURM elapsed time of a job adds what the job's own snakemake costs (it parses "
            "the workflow before it runs the step): the mean of SLURM elapsed - s over the jobs "
            f"is {fmt(facts['slurm_extra'])} s."
            if slurm
            else ""
        ),
        "",
        "| jobs | (a) tiny-shard job s | (b) fitted overhead s | per-recording s (slope) | "
        "per-recording s of the 1-shard job (its s / recordings) |",
        "|---|---|---|---|---|",
    ]
    for kind in ("features", "prediction"):
        p = per[kind]
        lines.append(
            f"| {kind} | {fmt(p['tiny'], 2)} | {fmt(p['overhead'], 2)} | {p['slope']:.4f} | "
            f"{p['one_job']:.4f} |"
        )
    lines += [
        "",
        f"Prediction is {facts['models_count']} fold models over "
        f"{facts['windows_per_recording']:.0f} windows a recording "
        f"({facts['s_per_window_model'] * 1000:.1f} ms per window and model, from the slope).",
        "",
        "## Sizes per recording (the 1-shard run)",
        "",
        "| file | bytes per recording |",
        "|---|---|",
        f"| input audio (FLAC, {facts['clip_seconds']} s) | "
        f"{facts['audio_mb_per_recording'] * 1e6:.0f} |",
        f"| features/predict (float16 log-mels) | {facts['features_per_recording']:.0f} |",
        f"| predictions.csv | {facts['clips_per_recording']:.1f} |",
        f"| predictions_windows.parquet | {facts['windows_per_recording_bytes']:.1f} |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    args = arguments()
    args.root.mkdir(parents=True, exist_ok=True)
    if args.executor == "slurm" and not CLUSTER_SNAKEMAKE.exists():
        sys.exit(f"{CLUSTER_SNAKEMAKE} is missing: run `make setup-cluster`")
    config = demo_settings()
    input_dir = generate_input(args.root, args.recordings, config)
    if args.models:
        models, models_note = args.models.resolve(), f"fold models of {args.models}"
    elif args.untrained:
        models = untrained_models(args.root / "untrained", config)
        models_note = f"untrained {config['model']['backbone']} checkpoints (timing only)"
    else:
        models = args.root / "train" / "models" / f"round{config['relabel']['n_rounds']}"
        if not all((models / f"fold{f}.pt").exists() for f in range(config["folds"]["n_folds"])):
            models = trained_models(args.root, config, args.threads)
        models_note = "the demo trained on config.yaml (its last round's fold models)"
    models_count = len(list(models.glob("fold*.pt")))
    runs = [run_predict_only(args, f"shards{n}", n, input_dir, models) for n in args.shards]
    tiny = None
    if args.tiny:
        tiny_dir = args.root / "tiny"
        shutil.rmtree(tiny_dir, ignore_errors=True)
        tiny_dir.mkdir()
        for path in list(audio_files(input_dir).values())[: args.tiny]:
            shutil.copyfile(path, tiny_dir / path.name)
        tiny = run_predict_only(args, "tiny", 1, tiny_dir, models)

    base = runs[0]
    per = {}
    all_jobs = pd.concat([run["jobs"] for run in runs], ignore_index=True)
    for kind in ("features", "prediction"):
        points = all_jobs[all_jobs["kind"] == kind]
        overhead, slope = fit(points)
        one = base["jobs"][base["jobs"]["kind"] == kind].iloc[0]
        per[kind] = {
            "tiny": float(tiny["jobs"][tiny["jobs"]["kind"] == kind]["s"].iloc[0])
            if tiny
            else None,
            "overhead": overhead,
            "slope": slope,
            "one_job": float(one["s"] / one["recordings"]),
        }
    extras = (all_jobs["slurm_s"] - all_jobs["s"]).dropna()
    windows_per_recording = base["windows_rows"] / args.recordings
    audio_bytes = sum(p.stat().st_size for p in audio_files(input_dir).values())
    facts = {
        "command": "make bench-scaling"
        if not args.quick and args.executor == "slurm" and args.recordings == 2000
        else " ".join(["bench/scaling.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "unknown CPU",
        ),
        "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "cores": os.cpu_count(),
        "memory_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
        "executor": (
            "SLURM (profiles/slurm through .venv-cluster's snakemake, one node, jobs side by "
            "side as its cores allow; `--slurm-init-seconds-before-status-checks 2`)"
            if args.executor == "slurm"
            else f"local (`--cores {args.cores}`)"
        ),
        "clip_seconds": config["clip_seconds"],
        "audio_mb_per_recording": audio_bytes / args.recordings / 1e6,
        "models": models_note,
        "models_count": models_count,
        "per_recording": per,
        "slurm_extra": float(extras.mean()) if len(extras) else None,
        "windows_per_recording": windows_per_recording,
        "s_per_window_model": per["prediction"]["slope"] / windows_per_recording / models_count,
        "features_per_recording": base["features_bytes"] / args.recordings,
        "clips_per_recording": base["clips_bytes"] / args.recordings,
        "windows_per_recording_bytes": base["windows_bytes"] / args.recordings,
    }
    text = report(args, runs, tiny, facts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"RESULT scaling: report in {args.out}")


if __name__ == "__main__":
    main()
