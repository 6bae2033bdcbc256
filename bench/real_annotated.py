"""The real-data quality benchmark: the workflow with config.yaml's defaults on small public
annotated sets of real animal recordings (bench/real_data/), then one report of each stage's
test scores against two baselines measured on the same test clips.

.venv/bin/python bench/real_annotated.py [--sets piha bobwhite insects] [--root bench/real_runs]
    [--config extra.yaml ...] [--start-from ROOT] [--hide-labels 0.75 [--hide-seed 0]]
    [--summary-only] [--out bench/results/real_annotated.md]

bench/real_data/assemble.py must have written bench/real_data/sets/ first (`make real-data`
runs both). Each set runs in ``{root}/{set}``: ``snakemake --cores 2 scores.csv --configfile
config.yaml bench/real_data/{set}.yaml`` (its paths made absolute), then each ``--config`` file
layered over both (a variant of the method or of the data's negatives: give it its own
``--root`` and ``--out``; ``--start-from`` copies a finished root's run of each set first, so
that only the jobs the variant changes run again); a set whose run has a scores.csv is not run
again, and the sets run one after another. ``--hide-labels`` leaves out the labels of a share of
each set's train recordings (:func:`hide_labels`), so that the rounds have calls to find.

The report gives per set its sizes and, per stage, test LWLRAP (two or more species), mean AP
over species, precision and recall at 0.5 of the fold-averaged clip scores, computed here from
predictions/{stage}/test.parquet against the run's test_truth.csv with sedcycle's metrics,
next to two baselines: uniform random scores (mean ± std over seeded draws) and a constant
prior (each species' share of the train clips as every test clip's score), and how many train
(clip, species) pairs the tp/fp tables leave a window without a label (what the rounds can
relabel).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench" / "real_data"))

import benchlib  # noqa: E402
from assemble import MANIFEST, SETS, SETS_DIR  # noqa: E402

from sedcycle import metrics  # noqa: E402
from sedcycle.evaluation import read_truth  # noqa: E402
from sedcycle.labels import read_annotations, unknown_pairs_of  # noqa: E402
from sedcycle.schedule import STILL_FALLING  # noqa: E402

DEFAULT_ROOT = ROOT / "bench" / "real_runs"
DEFAULT_OUT = ROOT / "bench" / "results" / "real_annotated.md"
RANDOM_DRAWS = 200
RANDOM_SEED = 0
# below this many true (clip, species) test labels a set cannot show a difference: say so
MIN_TEST_LABELS = 10
PATH_KEYS = ("recordings", "annotations", "test_recordings", "test_annotations", "fully_annotated")


# ---------------------------------------------------------------- scores and baselines
def mean_ap(truth: np.ndarray, scores: np.ndarray) -> float:
    """Mean over species with a positive test clip of their average precision."""
    ap = metrics.per_class_average_precision(truth, scores)
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else math.nan


def score(truth: np.ndarray, scores: np.ndarray) -> dict:
    """LWLRAP (clips with a true species; nan with fewer than 2 species), mean AP, precision
    and recall at 0.5 of clip ``scores`` against clip ``truth`` [clips, species]."""
    truth = np.asarray(truth, dtype=bool)
    kept = truth.any(axis=1)
    lwlrap = (
        metrics.lwlrap(truth[kept], scores[kept])
        if truth.shape[1] >= 2 and kept.any()
        else math.nan
    )
    return {
        "lwlrap": lwlrap,
        "mean_ap": mean_ap(truth, scores),
        **metrics.precision_recall(truth, scores, threshold=0.5),
        # (clip, species) pairs scored >= 0.5: all of them means the scores only rank
        "called": float(np.sum(np.asarray(scores) >= 0.5)),
    }


def random_baseline(truth: np.ndarray, draws: int = RANDOM_DRAWS, seed: int = RANDOM_SEED) -> dict:
    """Mean and std of :func:`score` of uniform random scores over ``draws`` seeded draws:
    {metric: (mean, std)}."""
    rng = np.random.default_rng(seed)
    values = [score(truth, rng.random(truth.shape)) for _ in range(draws)]
    return {
        k: (float(np.mean([v[k] for v in values])), float(np.std([v[k] for v in values])))
        for k in values[0]
    }


def constant_prior(train_truth: np.ndarray, n_test: int) -> np.ndarray:
    """Each species' share of the train clips holding it, as the score of every test clip
    [n_test, species]: the best a model can do that ignores the audio."""
    prior = np.asarray(train_truth, dtype=bool).mean(axis=0)
    return np.tile(prior, (n_test, 1))


# ---------------------------------------------------------------- verdicts
@dataclass
class Verdict:
    metric: str  # lwlrap | mean_ap
    stage1_above_random: bool | None
    final_above_random: bool | None
    no_round_below_stage1: bool | None
    below: list[str]  # rounds below stage 1 by more than the random std
    reason: str  # why the set cannot show it ("" when it can)

    def lines(self, final: str) -> list[str]:
        if self.reason:
            return [f"- Too small to show it: {self.reason}."]
        yes = {True: "yes", False: "no"}
        below = f" ({', '.join(self.below)})" if self.below else ""
        return [
            f"- stage 1 above random by more than its std ({self.metric}): "
            f"{yes[self.stage1_above_random]}",
            f"- {final} (the last round) above random by more than its std: "
            f"{yes[self.final_above_random]}",
            f"- no round below stage 1 by more than that std: "
            f"{yes[self.no_round_below_stage1]}{below}",
        ]


def primary_metric(n_species: int) -> str:
    return "lwlrap" if n_species >= 2 else "mean_ap"


def too_small(truth: np.ndarray) -> str:
    """Why a test truth [clips, species] cannot separate a model from random ("" if it can)."""
    n_labels = int(np.asarray(truth, dtype=bool).sum())
    if n_labels < MIN_TEST_LABELS:
        return f"{n_labels} true (clip, species) test labels, fewer than {MIN_TEST_LABELS}"
    if np.asarray(truth, dtype=bool).all():
        return "every test clip holds every species: any scores rank them perfectly"
    return ""


def one_clip_drop(truth: np.ndarray, metric: str) -> float:
    """How much one test clip can lower ``metric`` (lwlrap | mean_ap) from a perfect ranking of
    test ``truth`` [clips, species]: the largest drop over clips when that clip alone is ranked
    worst (its true species below every other score, its absent species above every other).
    With one species, a clip without it scored above every clip with it. A verdict threshold
    below this can turn on a single clip's rank."""
    truth = np.asarray(truth, dtype=bool)
    # distinct scores (models' are), true pairs above absent ones: a tie would count as one
    # threshold and hide the clip's rank
    distinct = np.arange(truth.size, dtype=float).reshape(truth.shape) / truth.size
    perfect = 2.0 * truth + distinct
    best = score(truth, perfect)[metric]
    drops = []
    for clip in range(len(truth)):
        worst = perfect.copy()
        worst[clip] = np.where(truth[clip], -1.0 - distinct[clip], 3.0 + distinct[clip])
        drops.append(best - score(truth, worst)[metric])
    return float(max(drops, default=0.0))


def resolution(one_clip: float, random: dict, metric: str) -> str:
    """A sentence on what one test clip can do to the verdicts' ``metric`` against the
    threshold they use (the random baseline's std)."""
    std = random[metric][1]
    return (
        f"From a perfect ranking, one test clip ranked worst lowers {metric} by {one_clip:.3f}, "
        + (
            f"more than the random std {std:.3f}: a round below stage 1 by that std can be one "
            "clip's rank, so this test set is too small to show that verdict reliably."
            if one_clip > std
            else f"less than the random std {std:.3f}: no verdict here turns on one clip."
        )
    )


def round_stages(stages: dict[str, dict]) -> list[str]:
    """The relabel rounds among a run's ``stages`` (round1, round2, ... in their order)."""
    return [s for s in stages if s.startswith("round")]


def verdict(stages: dict[str, dict], random: dict, metric: str, reason: str = "") -> Verdict:
    """The benchmark's verdicts on one set: ``stages`` maps stage1, round1.. (in order) to
    :func:`score` dicts; ``random`` is :func:`random_baseline`."""
    if reason:
        return Verdict(metric, None, None, None, [], reason)
    mean, std = random[metric]
    rounds = round_stages(stages)
    first, final = stages["stage1"][metric], stages[rounds[-1]][metric] if rounds else math.nan
    below = [r for r in rounds if stages[r][metric] < first - std]
    return Verdict(
        metric,
        bool(first > mean + std),
        bool(final > mean + std),
        not below,
        below,
        "",
    )


# ---------------------------------------------------------------- running a set
def set_config(name: str, workdir: Path, hide: tuple[float, int] | None = None) -> Path:
    """The run's config: bench/real_data/{name}.yaml with its data paths (PATH_KEYS of
    data.annotated, and folds.groups) made absolute; ``hide`` (fraction, seed):
    :func:`hide_labels`."""
    source = ROOT / "bench" / "real_data" / f"{name}.yaml"
    config = yaml.safe_load(source.read_text())
    paths = [(config["data"]["annotated"], f"data.annotated.{key}", key) for key in PATH_KEYS]
    paths.append((config.get("folds") or {}, "folds.groups", "groups"))
    for section, label, key in paths:
        if section.get(key):
            path = ROOT / section[key]
            if not path.exists():
                raise FileNotFoundError(
                    f"{source}: {label} {path} does not exist (run "
                    "bench/real_data/assemble.py first)"
                )
            section[key] = str(path)
    workdir.mkdir(parents=True, exist_ok=True)
    if hide is not None:
        hide_labels(config["data"]["annotated"], workdir, *hide)
    out = workdir / "set.yaml"
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def hidden_text(hidden: dict) -> str:
    """run_info.yaml's ``hidden`` (:func:`run_set`) as the reports say it."""
    return (
        f"the annotations of {hidden['recordings']} of the {hidden['of']} train recordings left "
        f"out (--hide-labels {hidden['fraction']:g}, --hide-seed {hidden['seed']})"
    )


def hidden_recordings(annotations: pd.DataFrame, stems: list[str], fraction: float, seed: int):
    """The train recordings (file stems) whose labels a run leaves out: ``fraction`` of them,
    drawn with ``seed`` within each stratum of recordings annotated with the same species (none
    being one), each stratum keeping at least one recording, so every species keeps a label."""
    if not 0 < fraction < 1:
        raise ValueError(f"--hide-labels takes a fraction in (0, 1), got {fraction}")
    species = annotations.groupby("recording")["species"].agg(lambda s: "|".join(sorted(set(s))))
    strata: dict[str, list[str]] = {}
    for stem in sorted(stems):
        strata.setdefault(species.get(stem, ""), []).append(stem)
    rng = np.random.default_rng(seed)
    hidden = []
    for key in sorted(strata):
        members = strata[key]
        count = min(round(fraction * len(members)), len(members) - 1)
        hidden += [members[i] for i in sorted(rng.permutation(len(members))[:count])]
    return sorted(hidden)


def hide_labels(annotated: dict, workdir: Path, fraction: float, seed: int) -> None:
    """Leave out the labels of :func:`hidden_recordings`: their rows of the train annotations
    and their lines of ``fully_annotated`` go, into copies in ``{workdir}/labels/`` that
    ``annotated`` (the set config's data.annotated) then names, relative to ``workdir`` (where
    snakemake runs), so a copy of the run (``--start-from``) names the same files; the
    recordings stay, unlabelled, as RFCx's train recordings without a tp row do. The test
    annotations are untouched. A file whose text is already what it would write is left as it
    is (its time too: a copied run does not see its labels as updated). Writes
    ``{workdir}/labels/hidden.txt`` (the hidden stems)."""
    table = pd.read_csv(annotated["annotations"], dtype={"recording": str})
    stems = [p.stem for p in sorted(Path(annotated["recordings"]).iterdir()) if p.is_file()]
    hidden = hidden_recordings(table, stems, fraction, seed)
    labels = workdir / "labels"
    labels.mkdir(parents=True, exist_ok=True)

    def write(name: str, text: str) -> str:
        path = labels / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        return f"labels/{name}"

    write("hidden.txt", "".join(f"{stem}\n" for stem in hidden))
    kept = table[~table["recording"].isin(set(hidden))]
    annotated["annotations"] = write("train_annotations.csv", kept.to_csv(index=False))
    if annotated.get("fully_annotated"):
        listed = Path(annotated["fully_annotated"]).read_text().split()
        kept_list = [stem for stem in listed if stem not in set(hidden)]
        annotated["fully_annotated"] = write(
            "fully_annotated.txt", "".join(f"{s}\n" for s in kept_list)
        )


WORKFLOW_PATHS = ("Snakefile", "config.yaml", "rules", "workflow", "src", "schemas")


def code_state() -> dict:
    """The commit and the workflow files that differ from it (uncommitted work) right now."""
    changed = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", *WORKFLOW_PATHS],
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    return {
        "commit": benchlib.commit(),
        "uncommitted": sorted(line[3:] for line in changed if line.strip()),
        "recorded": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def run_set(
    name: str,
    root: Path,
    cores: int,
    extra: list[Path] | None = None,
    start_from: Path | None = None,
    hide: tuple[float, int] | None = None,
) -> Path:
    """Run set ``name`` in ``{root}/{name}`` unless it has finished there; ``extra``: configs
    layered over the set's (recorded in run_info.yaml as ``configs``). ``start_from``: a root
    whose finished run of the set is copied first (outputs, times and snakemake's records), so
    that the run redoes only the jobs whose params or inputs ``extra`` changes. ``hide``
    (fraction, seed): the labels of that fraction of the train recordings are left out
    (:func:`hide_labels`; recorded in run_info.yaml as ``hidden``)."""
    workdir = root / name
    if (workdir / "scores.csv").exists():
        print(f"{name}: finished run in {workdir}, not run again", flush=True)
        return workdir
    extra = [Path(p).resolve() for p in extra or []]
    info = code_state() | ({"configs": [variant_name(p) for p in extra]} if extra else {})
    if start_from is not None:
        source = Path(start_from) / name
        if not (source / "scores.csv").exists():
            raise FileNotFoundError(f"{name}: no finished run in {source} to start from")
        if workdir.exists():
            shutil.rmtree(workdir)
        shutil.copytree(source, workdir, symlinks=True)
        for stale in ("scores.csv", "run_info.yaml", "snakemake.log"):
            (workdir / stale).unlink(missing_ok=True)
        info["started_from"] = variant_name(source)
    workdir.mkdir(parents=True, exist_ok=True)
    config = set_config(name, workdir, hide)
    if hide is not None:
        hidden = (workdir / "labels" / "hidden.txt").read_text().split()
        stems = Path(yaml.safe_load(config.read_text())["data"]["annotated"]["recordings"])
        info["hidden"] = {
            "fraction": hide[0],
            "seed": hide[1],
            "recordings": len(hidden),
            "of": sum(1 for p in stems.iterdir() if p.is_file()),
        }
    (workdir / "run_info.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
    command = benchlib.workflow_command(workdir, cores, [config, *extra])
    print(f"{name}: {' '.join(command)}", flush=True)
    with open(workdir / "snakemake.log", "w") as log:
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise RuntimeError(f"{name}: snakemake failed (exit {result.returncode}), see {log.name}")
    return workdir


def variant_name(path: Path) -> str:
    """A --config file or a root as the report names it: relative to the repository when
    inside it, by its own path (a link inside the repository to a folder elsewhere keeps its
    name in the repository), else absolute."""
    path = Path(os.path.abspath(path))
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.resolve())


# ---------------------------------------------------------------- reading a finished run
def clip_scores(path: Path) -> pd.DataFrame:
    table = pd.read_parquet(path)
    return table.set_index("recording_id") if "recording_id" in table.columns else table


def stage_names(workdir: Path) -> list[str]:
    stages = pd.read_csv(workdir / "scores.csv")["stage"].tolist()
    return [s for s in stages if s != "ensemble"] + (["ensemble"] if "ensemble" in stages else [])


def prior_scaled(workdir: Path) -> dict[str, float]:
    """Each stage's test LWLRAP after per-class prior scaling (each species' scores scaled to
    its share of the train labels, ``postprocess.prior_scaling``), as the run's scores.csv gives it
    (test_lwlrap_prior); {} where it has none."""
    table = pd.read_csv(workdir / "scores.csv")
    if "test_lwlrap_prior" not in table:
        return {}
    pairs = zip(table["stage"], table["test_lwlrap_prior"], strict=True)
    return {stage: float(value) for stage, value in pairs if pd.notna(value)}


def train_truth(data: Path, n_species: int) -> np.ndarray:
    """Clip truth of the train clips from train_tp.csv (every event in every clip it overlaps;
    every train clip a row, from clips.csv)."""
    clips = pd.read_csv(data / "clips.csv", dtype=str)
    ids = clips.loc[clips["split"] == "train", "recording_id"].tolist()
    tp = pd.read_csv(data / "train_tp.csv", dtype={"recording_id": str})
    truth = np.zeros((len(ids), n_species), dtype=bool)
    index = {r: i for i, r in enumerate(ids)}
    for rec, sp in zip(tp["recording_id"], tp["species_id"].astype(int), strict=True):
        truth[index[rec], sp] = True
    return truth


def evaluate_run(workdir: Path) -> dict:
    """Sizes, per-stage scores, baselines and the verdict of one finished run."""
    data = workdir / "prepared"
    species = pd.read_csv(data / "species.csv")["name"].tolist()
    n = len(species)
    stages = {}
    for stage in stage_names(workdir):
        scores = clip_scores(workdir / "predictions" / stage / "test.parquet")
        truth = read_truth(str(data / "test_truth.csv"), scores.index.tolist(), n)
        stages[stage] = score(truth, scores.to_numpy())
    ids = scores.index.tolist()
    truth = read_truth(str(data / "test_truth.csv"), ids, n)
    train = train_truth(data, n)
    prior = score(truth, constant_prior(train, len(ids)))
    random = random_baseline(truth)
    metric = primary_metric(n)
    clips = pd.read_csv(data / "clips.csv", dtype=str)
    sizes = {
        "species": n,
        "train_recordings": clips.loc[clips["split"] == "train", "recording"].nunique(),
        "test_recordings": clips.loc[clips["split"] == "test", "recording"].nunique(),
        "train_clips": int((clips["split"] == "train").sum()),
        "test_clips": int((clips["split"] == "test").sum()),
        "train_positive_clips": int(train.any(axis=1).sum()),
        "test_positive_clips": int(truth.any(axis=1).sum()),
        "test_labels": int(truth.sum()),
    }
    info = workdir / "run_info.yaml"
    return {
        "code": yaml.safe_load(info.read_text()) if info.exists() else None,
        "species": species,
        "sizes": sizes,
        "stages": stages,
        "random": random,
        "prior": prior,
        "prior_scaled": prior_scaled(workdir),
        "verdict": verdict(
            {k: v for k, v in stages.items() if k != "ensemble"}, random, metric, too_small(truth)
        ),
        "still_falling": still_falling(workdir / "logs" / "stage1"),
        "one_clip": one_clip_drop(truth, metric),
        "unlabelled": unlabelled_pairs(workdir, n),
    }


def unlabelled_pairs(workdir: Path, n_species: int) -> tuple[int, int, int] | None:
    """(train (clip, species) pairs that the run's tp/fp tables leave a window of unlabelled
    time, all train pairs, the window in frames): what the rounds can relabel
    (:func:`sedcycle.labels.unknown_pairs_of`; pseudo-labels, soft targets and weak
    negatives act on those pairs alone). The window is the one round 1 trained with (its fold-0
    checkpoint); None for a run without one."""
    import torch

    checkpoint = workdir / "models" / "round1" / "fold0.pt"
    if not checkpoint.exists():
        return None
    window = int(
        torch.load(checkpoint, map_location="cpu", weights_only=True)["settings"]["window"]
    )
    data = workdir / "prepared"
    clips = pd.read_csv(data / "clips.csv", dtype={"recording_id": str})
    train = clips[clips["split"] == "train"]
    clip_seconds = float((train["end"].astype(float) - train["start"].astype(float)).max())
    manifest = pd.read_csv(workdir / "features" / "train" / "manifest.csv")
    n_frames = int(manifest["n_frames"].iloc[0])
    tp, fp = (
        read_annotations(data / f"train_{kind}.csv", n_species, clip_seconds)
        for kind in ("tp", "fp")
    )
    ids = train["recording_id"].tolist()
    unknown = unknown_pairs_of(tp, fp, ids, n_species, n_frames, clip_seconds, window)
    return unknown, len(ids) * n_species, window


def unlabelled_line(result: dict) -> str:
    """The report's line on what the rounds could relabel in a run (:func:`unlabelled_pairs`)."""
    found = result.get("unlabelled")
    if found is None:
        return "Unlabelled pairs: not counted (the run has no round-1 checkpoint)."
    unknown, pairs, window = found
    line = (
        f"Unlabelled pairs: tp/fp leave {unknown} of the {pairs} (train clip, species) pairs a "
        f"window ({window} frames) without a label"
    )
    if unknown:
        return line + ": these are what the rounds relabel."
    return (
        line + ", so the rounds have nothing to relabel (pseudo-labels, soft targets and weak "
        "negatives act on unlabelled pairs alone): each trains on stage 1's labels again, and "
        "its verdicts measure more training, not relabelling."
    )


def still_falling(logs: Path) -> tuple[int, int]:
    """(fold models whose training log warns that the loss was still falling at the last
    epoch, fold models) of a stage's training logs (train_fold{f}.log)."""
    found = sorted(logs.glob("train_fold*.log"))
    return sum(STILL_FALLING in p.read_text() for p in found), len(found)


def events(name: str) -> dict:
    out = {}
    for split in ("train", "test"):
        path = SETS_DIR / name / f"{split}_annotations.csv"
        out[split] = len(pd.read_csv(path)) if path.exists() else 0
    return out


# ---------------------------------------------------------------- the report
def fmt(value: float) -> str:
    return (
        "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"
    )


def fmt_runs(values: list[float]) -> str:
    """A group's values over its runs: the one value, or mean ± std (sample, ddof 1)."""
    if len(values) == 1:
        return fmt(values[0])
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def fmt_random(pair: tuple[float, float]) -> str:
    mean, std = pair
    return "–" if math.isnan(mean) else f"{mean:.3f} ± {std:.3f}"


def set_section(name: str, result: dict) -> list[str]:
    real_set, sizes = SETS[name], result["sizes"]
    n_events = events(name)
    lines = [
        f"## {name}",
        "",
        f"{real_set.description}. Source: {real_set.repository} at "
        f"{real_set.commit[:12]}; licence {real_set.licence}.",
        "",
        "| | train | test |",
        "|---|---:|---:|",
        f"| recordings | {sizes['train_recordings']} | {sizes['test_recordings']} |",
        f"| clips | {sizes['train_clips']} | {sizes['test_clips']} |",
        f"| clips with a call | {sizes['train_positive_clips']} | {sizes['test_positive_clips']} |",
        f"| annotated events | {n_events['train']} | {n_events['test']} |",
        "",
        f"Species: {sizes['species']} ({', '.join(result['species'])}).",
    ]
    code = result["code"]
    if code is None:
        lines.append("Code: not recorded (no run_info.yaml in the run's directory).")
    else:
        dirty = code["uncommitted"]
        lines.append(
            f"Code: commit {code['commit']} (recorded {code['recorded']}), "
            + (
                f"with uncommitted changes to {len(dirty)} workflow files "
                f"({', '.join(dirty[:6])}{', ...' if len(dirty) > 6 else ''})."
                if dirty
                else "no uncommitted workflow changes."
            )
        )
        if code.get("note"):
            lines.append(f"({code['note']}.)")
        if code.get("hidden"):
            lines.append(f"Labels hidden: {hidden_text(code['hidden'])}.")
    lines += [f"Note: {note}." for note in real_set.notes]
    lines += [
        "",
        f"| stage | test LWLRAP | mean AP | precision@0.5 | recall@0.5 | pairs >= 0.5 "
        f"(of {sizes['test_clips'] * sizes['species']}; {sizes['test_labels']} true) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for stage, s in result["stages"].items():
        lines.append(
            f"| {stage} | {fmt(s['lwlrap'])} | {fmt(s['mean_ap'])} | {fmt(s['precision'])} | "
            f"{fmt(s['recall'])} | {s['called']:.0f} |"
        )
    r, p = result["random"], result["prior"]
    lines += [
        f"| *random ({RANDOM_DRAWS} draws)* | {fmt_random(r['lwlrap'])} | "
        f"{fmt_random(r['mean_ap'])} | {fmt_random(r['precision'])} | {fmt_random(r['recall'])} "
        f"| {r['called'][0]:.0f} |",
        f"| *constant prior* | {fmt(p['lwlrap'])} | {fmt(p['mean_ap'])} | {fmt(p['precision'])} "
        f"| {fmt(p['recall'])} | {p['called']:.0f} |",
        "",
    ]
    final = round_stages(result["stages"])
    lines += result["verdict"].lines(final[-1] if final else "the last round")
    if not result["verdict"].reason:
        metric = result["verdict"].metric
        lines.append(f"- {resolution(result['one_clip'], result['random'], metric)}")
    return lines + ["", unlabelled_line(result), ""]


def report(results: dict[str, dict], command: str) -> str:
    now = datetime.datetime.now(datetime.UTC)
    lines = [
        f"<!-- generated by bench/real_annotated.py: {command} -->",
        "# Real-data quality benchmark: config.yaml's defaults on annotated recordings",
        "",
        f"Generated {now:%Y-%m-%d %H:%M} UTC at commit {benchlib.commit()} by `{command}`; files "
        f"checked against `{MANIFEST.relative_to(ROOT)}` (`bench/real_data/assemble.py`).",
        "",
        "Each set runs the whole workflow (`data.source: annotated`, config.yaml's method "
        "settings unchanged: 3 folds, stage 1, 3 relabel rounds) on its train recordings and "
        "scores the fold models' mean on its held-out test recordings (split by recording). "
        "Scores are per clip: test LWLRAP over clips with a call (two or more species only), "
        "average precision per species averaged over species, micro precision and recall of "
        "scores >= 0.5. Baselines on the same test clips: uniform random scores "
        f"(mean ± std over {RANDOM_DRAWS} draws, seed {RANDOM_SEED}) and a constant prior "
        "(each species' share of the train clips as every clip's score; its AP is the share of "
        "test clips with the species, its precision/recall 0 when the share is below 0.5). "
        "Verdicts use test LWLRAP, or mean AP with one species, against the random std.",
        "",
        "| set | repository | commit | licence | species | train / test recordings |",
        "|---|---|---|---|---:|---|",
    ]
    for name, result in results.items():
        real_set, sizes = SETS[name], result["sizes"]
        lines.append(
            f"| {name} | {real_set.repository} | {real_set.commit[:12]} | {real_set.licence} | "
            f"{sizes['species']} | {sizes['train_recordings']} / {sizes['test_recordings']} |"
        )
    lines.append("")
    for name, result in results.items():
        lines += set_section(name, result)
    return "\n".join(lines)


def comparison_report(
    variants: dict[str, dict[str, dict]],
    command: str,
    groups: dict[str, list[str]] | None = None,
) -> str:
    """Variants side by side: ``variants`` maps a label to {set: :func:`evaluate_run`}, each
    variant's runs of the same sets and test clips. Per set, each variant's verdict metric by
    stage, the random baseline, the verdicts and how many test pairs its last round calls
    present (>= 0.5: all of them is the drift to "everything present"). ``groups`` maps a
    label to several of ``variants``' labels (runs of one variant, e.g. training seeds): each
    gets a mean ± std row and how many of its runs meet each verdict, and is paired run by run
    (in the order given) with each earlier group of as many runs. Below, per set, each run's
    submission and prior-scaled scores against its stage 1 (:func:`submission_lines`)."""
    now = datetime.datetime.now(datetime.UTC)
    lines = [
        f"<!-- generated by bench/real_annotated.py: {command} -->",
        "# Real-data quality benchmark: variants side by side",
        "",
        f"Generated {now:%Y-%m-%d %H:%M} UTC at commit {benchlib.commit()} by `{command}`.",
        "",
        "Each variant is the real-data benchmark (bench/results/real_annotated.md: the whole "
        "workflow on each set's train recordings, scored on its held-out test recordings) with "
        "its config files layered over config.yaml and the set's config. Verdicts as there: "
        "stage 1 and the last round above random by more than the random std, no round below "
        "stage 1 by more than that std.",
        "",
        "| variant | root | configs | code |",
        "|---|---|---|---|",
    ]
    for label, results in variants.items():
        some = next(iter(results.values()))
        each = {
            name: ", ".join(f"`{c}`" for c in (r["code"] or {}).get("configs", [])) or "none"
            for name, r in results.items()
        }
        configs = (
            next(iter(each.values()))
            if len(set(each.values())) == 1
            else "<br>".join(f"{name}: {listed}" for name, listed in each.items())
        )
        runs = []
        for name, result in results.items():
            code = result["code"] or {}
            dirty = code.get("uncommitted")
            runs.append(
                f"{name}: commit {code.get('commit', '?')}"
                + (f" with uncommitted {', '.join(dirty)}" if dirty else "")
                + (f"; copied from {code['started_from']}" if code.get("started_from") else "")
                + (f"; {code['note']}" if code.get("note") else "")
                + (f"; labels hidden: {hidden_text(code['hidden'])}" if code.get("hidden") else "")
            )
        lines.append(f"| {label} | {some['root']} | {configs} | {'<br>'.join(runs)} |")
    lines.append("")
    names = [n for n in SETS if any(n in r for r in variants.values())]
    yes = {True: "yes", False: "no", None: "–"}
    for name in names:
        runs = {label: results[name] for label, results in variants.items() if name in results}
        first = next(iter(runs.values()))
        metric = first["verdict"].metric
        rounds = max((round_stages(r["stages"]) for r in runs.values()), key=len)
        n_pairs = first["sizes"]["test_clips"] * first["sizes"]["species"]
        lines += [
            f"## {name}",
            "",
            f"Test {metric} ({first['sizes']['test_clips']} test clips, "
            f"{first['sizes']['test_labels']} true pairs of {n_pairs}). "
            + resolution(first["one_clip"], first["random"], metric),
            "",
            "| variant | stage1 | "
            + " | ".join(rounds)
            + " | random | stage 1 > random | last > random | no round below stage 1 "
            + f"| last round pairs >= 0.5 (of {n_pairs}) | stage-1 folds with loss still falling "
            + "| train pairs left unlabelled |",
            "|---|" + "---:|" * (len(rounds) + 2) + "---|---|---|---:|---:|---:|",
        ]
        for label, result in runs.items():
            stages, v = result["stages"], result["verdict"]
            last = round_stages(stages)
            below = f" ({', '.join(v.below)})" if v.below else ""
            lines.append(
                f"| {label} | {fmt(stages['stage1'][metric])} | "
                + " | ".join(fmt(stages[r][metric]) if r in stages else "–" for r in rounds)
                + f" | {fmt_random(result['random'][metric])} | {yes[v.stage1_above_random]} | "
                f"{yes[v.final_above_random]} | {yes[v.no_round_below_stage1]}{below} | "
                f"{stages[last[-1]]['called']:.0f} | {falling(result)} | "
                f"{unlabelled_cell(result)} |"
                if last
                else f"| {label} | {fmt(stages['stage1'][metric])} | (no rounds) |"
            )
        summaries = {
            group: [runs[label] for label in members if label in runs]
            for group, members in (groups or {}).items()
        }
        summaries = {group: found for group, found in summaries.items() if found}
        for group, found in summaries.items():
            lines.append(group_row(group, found, metric, rounds))
        # pairs by position: only groups with a run of this set for every root
        complete = {
            group: found
            for group, found in summaries.items()
            if len(found) == len((groups or {})[group])
        }
        lines += paired_lines(complete, metric)
        lines += submission_lines(runs, summaries, metric)
        found = [r.get("unlabelled") for r in runs.values()]
        if all(f is not None and f[0] == 0 for f in found):
            lines += ["", unlabelled_line(first)]
        lines.append("")
    return "\n".join(lines)


def submission_lines(
    runs: dict[str, dict], groups: dict[str, list[dict]], metric: str
) -> list[str]:
    """A second table: each run's submission (its ``ensemble`` stage, the fold models of the
    stages ``ensemble.stages`` averages) against its stage 1 and, where the metric is LWLRAP,
    stage 1 and the last round after per-class prior scaling (:func:`prior_scaled`); a mean ±
    std row per group with how many of its runs score above stage 1. [] without ensembles."""
    if not any("ensemble" in r["stages"] for r in runs.values()):
        return []

    def prior(run: dict, stage: str) -> float:
        if metric != "lwlrap":
            return math.nan
        if stage == "last":
            stage = (round_stages(run["stages"]) or ["stage1"])[-1]
        return run.get("prior_scaled", {}).get(stage, math.nan)

    def cells(found: list[dict]) -> list[str]:
        values = {
            "stage1": [r["stages"]["stage1"][metric] for r in found],
            "submission": [r["stages"].get("ensemble", {}).get(metric, math.nan) for r in found],
            "prior1": [prior(r, "stage1") for r in found],
            "prior_last": [prior(r, "last") for r in found],
        }

        def show(name: str) -> str:
            got = values[name]
            return "–" if any(math.isnan(v) for v in got) else fmt_runs(got)

        def above(name: str, reference: str) -> str:
            pairs = list(zip(values[name], values[reference], strict=True))
            if any(math.isnan(a) or math.isnan(b) for a, b in pairs):
                return "–"
            higher = sum(a > b for a, b in pairs)
            return ("yes" if higher else "no") if len(pairs) == 1 else f"{higher} of {len(pairs)}"

        return [
            show("stage1"),
            show("submission"),
            above("submission", "stage1"),
            show("prior1"),
            show("prior_last"),
            above("prior_last", "prior1"),
        ]

    lines = [
        "",
        "Submission and prior scaling: `submission` is the run's ensemble (the fold models of "
        "the stages `ensemble.stages` averages: the last round's by default) scored as above; "
        "the prior-scaled columns are the run's scores.csv `test_lwlrap_prior` (each species' "
        "test scores scaled to its share of the train labels, `postprocess.prior_scaling`), "
        "LWLRAP sets only.",
        "",
        "| variant | stage1 | submission | submission > stage 1 | stage1, prior-scaled "
        "| last round, prior-scaled | last > stage 1, prior-scaled |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    for label, run in runs.items():
        lines.append(f"| {label} | " + " | ".join(cells([run])) + " |")
    for group, found in groups.items():
        name = f"**{group}: mean ± std of {len(found)} run{'s' if len(found) > 1 else ''}**"
        lines.append(f"| {name} | " + " | ".join(cells(found)) + " |")
    return lines


def group_row(group: str, runs: list[dict], metric: str, rounds: list[str]) -> str:
    """A group's summary row: mean ± std (sample, ddof 1) over its runs of each stage's
    ``metric``, and how many of them meet each verdict."""

    def spread(stage: str) -> str:
        values = [r["stages"][stage][metric] for r in runs if stage in r["stages"]]
        return "–" if len(values) < len(runs) else fmt_runs(values)

    def count(field: str) -> str:
        return f"{sum(bool(getattr(r['verdict'], field)) for r in runs)} of {len(runs)}"

    finals = [round_stages(r["stages"]) for r in runs]
    called = [r["stages"][last[-1]]["called"] for r, last in zip(runs, finals, strict=True) if last]
    return (
        f"| **{group}: mean ± std of {len(runs)} run{'s' if len(runs) > 1 else ''}** | "
        f"{spread('stage1')} | "
        + " | ".join(spread(r) for r in rounds)
        + f" | {fmt_random(runs[0]['random'][metric])} | {count('stage1_above_random')} | "
        f"{count('final_above_random')} | {count('no_round_below_stage1')} | "
        f"{np.mean(called):.1f} | {falling(*runs)} | {unlabelled_cell(*runs)} |"
    )


def unlabelled_cell(*runs: dict) -> str:
    """'u of n': the train (clip, species) pairs tp/fp leave a window of unlabelled time
    (:func:`unlabelled_pairs`), where the runs agree; '–' where not counted, 'varies'."""
    found = {tuple(r["unlabelled"][:2]) if r.get("unlabelled") else None for r in runs}
    if len(found) > 1:
        return "varies"
    only = found.pop()
    return "–" if only is None else f"{only[0]} of {only[1]}"


def falling(*runs: dict) -> str:
    """'k of n': the runs' stage-1 fold models whose loss was still falling at the end."""
    warned, total = (sum(r["still_falling"][i] for r in runs) for i in (0, 1))
    return f"{warned} of {total}"


def train_labels_of(run: dict) -> tuple | None:
    """Which train labels a run had: None for every label, else the hidden fraction and draw
    (run_info.yaml's ``hidden``)."""
    hidden = (run.get("code") or {}).get("hidden")
    return None if not hidden else (hidden.get("fraction"), hidden.get("seed"))


def paired_lines(groups: dict[str, list[dict]], metric: str) -> list[str]:
    """Each group paired run by run (in the order its roots are given) with each earlier
    group of as many runs, trained run by run on the same labels (the same hidden draw, or
    every label): how many of its runs score higher in stage 1 and in the last round, and the
    mean difference. Runs on other labels are not paired: their differences mean nothing."""
    labels = list(groups)
    pairs = [
        (label, earlier)
        for i, label in enumerate(labels)
        for earlier in labels[:i]
        if len(groups[label]) == len(groups[earlier])
        and all(
            train_labels_of(run) == train_labels_of(ref)
            for run, ref in zip(groups[label], groups[earlier], strict=True)
        )
    ]
    if not pairs:
        return []
    lines = ["", "Paired run by run (the roots in the order given):", ""]
    for label, earlier in pairs:
        parts = []
        for stage, name in (("stage1", "stage 1"), ("last", "last round")):
            diffs = [
                last_or(run, stage, metric) - last_or(ref, stage, metric)
                for run, ref in zip(groups[label], groups[earlier], strict=True)
            ]
            higher = sum(d > 0 for d in diffs)
            parts.append(f"{name} higher on {higher} of {len(diffs)} ({np.mean(diffs):+.3f})")
        lines.append(f"- {label} against {earlier}: " + "; ".join(parts))
    return lines


def last_or(run: dict, stage: str, metric: str) -> float:
    """``metric`` of ``stage``, or of the run's last round for "last"."""
    if stage == "last":
        stage = (round_stages(run["stages"]) or ["stage1"])[-1]
    return run["stages"][stage][metric]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--config",
        type=Path,
        action="append",
        default=[],
        help="a config layered over each set's (repeatable); use its own --root and --out",
    )
    parser.add_argument(
        "--start-from",
        type=Path,
        help="a root of finished runs to copy each set's run from (redoes what --config changes)",
    )
    parser.add_argument(
        "--hide-labels",
        type=float,
        metavar="FRACTION",
        help="leave out the labels of this fraction of each set's train recordings (drawn within "
        "recordings of the same species, each keeping one), as RFCx's unlabelled recordings",
    )
    parser.add_argument("--hide-seed", type=int, default=0, help="the draw of --hide-labels")
    parser.add_argument("--summary-only", action="store_true", help="report finished runs only")
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="LABEL=ROOT",
        help="report finished runs of several roots side by side (runs nothing); "
        "LABEL=ROOT:ROOT... makes the roots' runs one group (e.g. training seeds): a row each, "
        "a mean ± std row, and each group paired run by run with each earlier one of as many runs",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.hide_labels is not None and not 0 < args.hide_labels < 1:
        parser.error(f"--hide-labels takes a fraction in (0, 1), got {args.hide_labels}")
    command = "bench/real_annotated.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.compare:
        variants, groups = {}, {}
        for item in args.compare:
            label, _, roots = item.partition("=")
            if not roots:
                parser.error(f"--compare takes LABEL=ROOT or LABEL=ROOT:ROOT..., got {item!r}")
            roots = roots.split(":")
            if len(roots) > 1:
                names = [Path(root).name for root in roots]
                if len(set(names)) < len(names):  # roots of one name in different folders
                    names = [variant_name(Path(root)) for root in roots]
                groups[label] = [f"{label}: {name}" for name in names]
            for row, root in zip(groups.get(label, [label]), roots, strict=True):
                runs = {
                    n: Path(root) / n for n in args.sets if (Path(root) / n / "scores.csv").exists()
                }
                if not runs:
                    print(f"{row}: no finished run in {root}, left out", file=sys.stderr)
                    continue
                variants[row] = {
                    n: evaluate_run(w) | {"root": variant_name(Path(root))} for n, w in runs.items()
                }
        if not variants:
            return no_report("no finished run to compare")
        return write_report(args.out, comparison_report(variants, command.strip(), groups))
    results = {}
    for name in args.sets:
        workdir = args.root / name
        if not args.summary_only:
            hide = None if args.hide_labels is None else (args.hide_labels, args.hide_seed)
            run_set(name, args.root, args.cores, args.config, args.start_from, hide)
        if not (workdir / "scores.csv").exists():
            print(f"{name}: no finished run in {workdir}, left out of the report", file=sys.stderr)
            continue
        results[name] = evaluate_run(workdir)
    if not results:
        return no_report("no finished run to report")
    return write_report(args.out, report(results, command.strip()))


def no_report(why: str) -> int:
    """The exit status of a call with nothing to report, ``why`` on stderr."""
    print(f"error: {why}", file=sys.stderr)
    return 1


def write_report(out: Path, text: str) -> int:
    """Write a report to ``out`` (its folder made), say so; the exit status."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
