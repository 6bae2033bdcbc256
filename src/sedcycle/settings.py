"""The configuration as code: which config keys make a training job's settings, the settings
themselves (TrainSettings, stored in each checkpoint), and the input mode's checks.

Standard library only: the Snakefile imports it while it parses (rules/common.smk builds the
training rules' params with these key lists and round_params), before any job's environment
exists.
Defaults live in config.yaml alone (docs/configuration.md): TrainSettings' few defaults are
what the workflow means by leaving a key out of params, not config defaults (see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# config model.*: every training job's model, in params order (a reordered params dict reruns
# a finished job, so new keys go at the end of their list)
MODEL_KEYS = ("backbone", "pretrained", "pretrained_path", "amp", "channels_last", "device")
# config stage1.*: passed to every stage-1 job
STAGE1_KEYS = ("epochs", "batch_size", "lr", "fp_fraction", "seed")
# config relabel.* (after the round's relabel.rounds overrides): passed to every round's job
ROUND_KEYS = (
    "epochs",
    "batch_size",
    "lr",
    "fp_fraction",
    "labelled_crop_prob",
    "scale_positives",
    "unknown_weight",
    "seed",
)
# Optional switches: in params only when on (non-zero, true, or other than its SWITCH_OFF
# value), so a run from before a switch existed keeps its params and reruns nothing.
# TrainSettings' default for each is off.
STAGE1_SWITCHES = ("mixup_alpha", "crops", "min_steps")
ROUND_SWITCHES = (
    "soft_weight",
    "soft_out_of_fold",
    "pseudo_targets",
    "min_steps",
    "crops",
    "min_window_passes",
)
# relabel.unknown_weight "auto": each round's training job weighs its unknown pairs as
# negatives of relabel.few_negatives_weight when its tp/fp tables have fewer fp rows than tp
# rows, else not at all (:func:`resolve_unknown_weight`); few_negatives_weight is in params with
# "auto" alone, so a round with a numeric unknown_weight keeps its params
AUTO = "auto"
AUTO_KEYS = ("few_negatives_weight",)
# the off value of a switch that is not a number or a flag
SWITCH_OFF = {"crops": "events", "pseudo_targets": "frames"}
# stage1.crops and relabel.crops: "events" (crops around tp/fp events) or "grid" (every fixed
# window, whose overlap windows.cover the rule then passes as the setting `cover`); "auto": the
# training job resolves it from the tp/fp tables' row counts (:func:`resolve_crops`), so the
# rule passes `cover` with it too (grid without any fp row)
CROPS = ("events", "grid")
# relabel.pseudo_targets: "frames" (the source's: a crop is positive with any frame of a
# pseudo-positive window) or "windows" (a pseudo-label is the target of the grid window it was
# voted on alone; the rule then passes windows.cover as `cover`, the grid's overlap)
PSEUDO_TARGETS = ("frames", "windows")

# data.source: where the train and test data come from
SOURCES = ("synthetic", "rfcx", "npz", "annotated")
# keys of data.{source} that only that source reads, null unless it is the source
SOURCE_PATHS = {
    "npz": ("dir",),
    "annotated": (
        "recordings",
        "annotations",
        "test_recordings",
        "test_annotations",
        "fully_annotated",
    ),
}
# the ones it needs
REQUIRED_PATHS = {"annotated": ("recordings", "annotations", "test_recordings")}


@dataclass(frozen=True, kw_only=True)
class TrainSettings:
    """Everything one fold's training uses; stored in the checkpoint.

    The fields the workflow always passes (MODEL_KEYS, n_species, window, loss, STAGE1_KEYS)
    have no default: config.yaml holds theirs (per stage: stage 1 and the rounds differ), and a
    second set here could silently differ. The others default to what the workflow means by
    leaving them out: stage 1 crops every tp/fp event, unscaled, with no unknown pairs (the
    relabel rounds always pass these from relabel.*); a switch is off, and ``cover``, which
    the rule passes with grid crops or window pseudo-targets alone, unset; the last two are
    not config keys.
    tests/test_config_schema.py checks these lists against config.yaml.
    """

    # model.* (MODEL_KEYS), then the run's species count and windows.window
    backbone: str
    pretrained: bool
    pretrained_path: str | None
    amp: str  # "none" or "bf16"
    channels_last: bool
    device: str
    n_species: int
    window: int
    loss: str  # "clipwise" (stage 1) or "masked" (relabel rounds)
    # stage1.* or relabel.* (STAGE1_KEYS, ROUND_KEYS)
    epochs: int
    batch_size: int
    lr: float
    fp_fraction: float  # share of fp rows sampled as crops each epoch
    seed: int
    # relabel.* only (ROUND_KEYS): stage 1's values
    labelled_crop_prob: float = 1.0  # else a random crop of any training recording
    scale_positives: bool = False
    unknown_weight: float | str = 0.0  # masked loss: weight of BCE(logit, 0) on unknown pairs;
    # "auto": the training job resolves it (resolve_unknown_weight) before training
    # switches (STAGE1_SWITCHES, ROUND_SWITCHES): off
    mixup_alpha: float = 0.0  # clipwise loss: mix each batch with itself, lambda ~ Beta(a, a)
    crops: str = "events"  # "grid": every fixed window of every recording, each epoch;
    # "auto": the training job resolves it (resolve_crops) before training
    cover: int | None = None  # the grid's overlap (windows.cover): crops "grid", or a round's
    # pseudo_targets "windows"
    soft_weight: float = 0.0  # masked loss: weight of KL(teacher || model) on unknown pairs
    soft_out_of_fold: bool = False  # soft targets from the one fold model off each recording
    pseudo_targets: str = "frames"  # "windows": pseudo-labels target their own grid window alone
    min_steps: int = 0  # optimiser steps to reach at least: more epochs than `epochs` if needed
    min_window_passes: float = 0.0  # random crops to reach at least, in passes over the fold's
    # grid windows (``cover`` needed): more epochs than `epochs` if needed
    # with unknown_weight "auto" alone (AUTO_KEYS): its weight when fp rows < tp rows
    few_negatives_weight: float = 0.0
    # not config keys: the benchmarks' fixed epoch size; execution.resume_training (a script
    # reads it, not a param)
    samples_per_epoch: int | None = None  # None: one per labelled event
    resume: bool = True


def switches_on(section: dict[str, Any], switches: tuple[str, ...]) -> dict[str, Any]:
    """The optional switches of ``section`` that are on (see STAGE1_SWITCHES)."""
    return {
        key: section[key]
        for key in switches
        if (section[key] != SWITCH_OFF[key] if key in SWITCH_OFF else section[key])
    }


def with_grid_cover(switched: dict[str, Any], key: str, cover: int) -> dict[str, Any]:
    """``switched`` with the grid's overlap ``cover`` (windows.cover) where its crops (config
    ``key``: stage1.crops or relabel.crops) is on, "grid" or "auto" (which may resolve to the
    grid): only such a stage reads windows.cover, so only it reruns on it. Another crops value
    is refused, naming ``key``."""
    if "crops" not in switched:
        return switched
    if switched["crops"] not in (*CROPS, AUTO):
        raise ValueError(
            f"{key} must be one of {', '.join((*CROPS, AUTO))}, got {switched['crops']!r}"
        )
    return {**switched, "cover": cover}


def stage1_switches(section: dict[str, Any], cover: int) -> dict[str, Any]:
    """The switches of the stage1 settings ``section`` that are on (STAGE1_SWITCHES), and the
    grid's overlap ``cover`` (windows.cover) where its crops need it."""
    return with_grid_cover(switches_on(section, STAGE1_SWITCHES), "stage1.crops", cover)


def round_switches(section: dict[str, Any], cover: int) -> dict[str, Any]:
    """The switches of a relabel round's settings ``section`` that are on (ROUND_SWITCHES), and
    the grid's overlap ``cover`` (windows.cover) where they need it; with unknown_weight
    "auto", the AUTO_KEYS it reads.

    pseudo_targets shapes pseudo-labels' targets alone: a round without them
    (use_pseudo false) leaves it out, so changing it reruns no such round. crops "grid" or
    "auto", and min_window_passes (which counts the grid's windows), read the grid's overlap too.
    """
    switched = switches_on(section, ROUND_SWITCHES)
    weight = section.get("unknown_weight", 0.0)
    if weight == AUTO:
        switched.update({key: section[key] for key in AUTO_KEYS})
    elif isinstance(weight, str):
        raise ValueError(f"relabel.unknown_weight must be a number or {AUTO!r}, got {weight!r}")
    if not section["use_pseudo"]:
        switched.pop("pseudo_targets", None)
    if "pseudo_targets" in switched:
        if switched["pseudo_targets"] not in PSEUDO_TARGETS:
            raise ValueError(
                f"relabel.pseudo_targets must be one of {', '.join(PSEUDO_TARGETS)}, "
                f"got {switched['pseudo_targets']!r}"
            )
        switched["cover"] = cover
    if "min_window_passes" in switched:
        switched["cover"] = cover
    return with_grid_cover(switched, "relabel.crops", cover)


def model_params(config: dict[str, Any], n_species: int) -> dict[str, Any]:
    """A training job's model settings: config model.* (MODEL_KEYS), then the run's species
    count and windows.window."""
    return {
        **{key: config["model"][key] for key in MODEL_KEYS},
        "n_species": n_species,
        "window": config["windows"]["window"],
    }


def round_params(config: dict[str, Any], section: dict[str, Any], n_species: int) -> dict[str, Any]:
    """A relabel round's training job's params (TrainSettings' fields, in params order): the
    model's, the masked loss, relabel ``section``'s ROUND_KEYS (the round's settings after its
    relabel.rounds overrides), then its switches that are on, where it changes nothing in a run
    made before a switch existed (no rerun)."""
    return {
        **model_params(config, n_species),
        "loss": "masked",
        **{key: section[key] for key in ROUND_KEYS},
        **round_switches(section, config["windows"]["cover"]),
    }


def data_source(config: dict[str, Any]) -> str:
    """config data.source, checked with the keys its mode needs or excludes.

    Raises ValueError naming the key: an unknown source, a path the source needs but is null
    (annotated: recordings, annotations, test_recordings), a path only another source reads
    (e.g. data.annotated.recordings with data.source rfcx), or predict.clip_recordings, which
    cuts audio, with npz.
    """
    data = config["data"]
    source = data["source"]
    if source not in SOURCES:
        raise ValueError(
            f"config data.source is {source!r}: it must be one of {', '.join(SOURCES)}"
        )
    for key in REQUIRED_PATHS.get(source, ()):
        if not data[source][key]:
            raise ValueError(f"config data.source {source} needs data.{source}.{key}")
    for other, keys in SOURCE_PATHS.items():
        for key in keys:
            if other != source and data[other][key]:
                raise ValueError(
                    f"config data.{other}.{key} is set, but data.source is {source}: "
                    f"set data.source: {other}, or data.{other}.{key}: null"
                )
    if source == "npz" and config["predict"]["clip_recordings"]:
        raise ValueError(
            "config predict.clip_recordings cuts audio: it needs data.source other than npz"
        )
    return source


def resolve_crops(settings: TrainSettings, n_tp: int, n_fp: int) -> tuple[str, str]:
    """The crops a stage trains on, and a line for its log naming its config key: stage1.crops
    with stage 1's clipwise loss, relabel.crops with a round's masked loss.

    "events" and "grid" are kept. "auto" is "grid" when the tp/fp tables hold
    no fp row (no known negative), else "events": stage 1 counts every unlabelled pair as
    absent, but event crops show it unlabelled time only around fp events (and other species'
    events), so without fp rows, as in one-species annotated data without negatives, every
    crop holds a call and it learns "present everywhere"; every fixed window of every
    recording shows it the unlabelled time too. With some fp rows event crops did better
    (a real set with 70 fp rows to 243 tp rows: bench/results/real_annotated_few_negatives.md),
    and with RFCx-style labels (more fp rows than tp rows) it is "events", as before the
    setting had "auto". In a round (relabel.crops) the grid's unlabelled time is weighed by
    unknown_weight (and learns the soft targets), where event crops without fp rows hold a call
    in every labelled crop.
    """
    crops = settings.crops
    stage1 = settings.loss == "clipwise"
    key = "stage1.crops" if stage1 else "relabel.crops"
    if crops != AUTO:
        return crops, f"{key} {crops}"
    if n_fp == 0:
        unlabelled = (
            "unlabelled time counted absent" if stage1 else "unlabelled time seen as unknown pairs"
        )
        return "grid", (
            f"{key} auto: no fp row ({n_tp} tp rows), so grid (every fixed window, {unlabelled})"
        )
    return "events", f"{key} auto: {n_fp} fp rows, so events"


def resolve_unknown_weight(settings: TrainSettings, n_tp: int, n_fp: int) -> tuple[float, str]:
    """The unknown pairs' weight a round trains with, and a line for its log.

    A number is kept. "auto" (relabel.unknown_weight) is ``few_negatives_weight`` when the
    round's tables hold fewer fp rows (known negatives) than tp rows, else 0: with few or no
    negatives the masked loss sees mostly positives and can drift to "everything present",
    and weak negatives on the unknown pairs hold it back; with plenty of negatives (the
    RFCx-style data) it changes nothing.
    """
    weight = settings.unknown_weight
    if weight != AUTO:
        if isinstance(weight, str):
            raise ValueError(f"unknown_weight must be a number or {AUTO!r}, got {weight!r}")
        return float(weight), f"unknown_weight {weight:g}"
    few = n_fp < n_tp
    resolved = float(settings.few_negatives_weight) if few else 0.0
    return resolved, (
        f"unknown_weight auto: {n_fp} fp rows "
        + ("<" if few else ">=")
        + f" {n_tp} tp rows, so unknown pairs weigh {resolved:g} as negatives"
        + (" (few_negatives_weight)" if few else "")
    )
