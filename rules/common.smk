# Helper functions for the .smk files: stage names, per-round and training settings, inputs.

# Which config keys make a training job's settings: one list, shared with TrainSettings.
from sedcycle.settings import (
    STAGE1_KEYS,
    model_params,
    round_params,
    stage1_switches,
)
from sedcycle.recordings import shard_files


def round_config(round_number):
    """relabel settings of one round: the defaults, then that round's overrides."""
    overrides = config["relabel"].get("rounds", {})
    merged = {
        k: v for k, v in config["relabel"].items() if k not in ("rounds", "n_rounds")
    }
    merged.update(overrides.get(round_number, overrides.get(str(round_number), {})))
    return merged


def calibration_inputs(wildcards):
    """The pseudo_labels job's inputs for relabel.pseudo_target_precision: the tp/fp tables
    the round trains on and the train features (their manifest: frames a clip); none when the
    round leaves it null."""
    if round_config(int(wildcards.round))["pseudo_target_precision"] is None:
        return {}
    return {
        "tp": round_labels(wildcards.round, "tp"),
        "fp": round_labels(wildcards.round, "fp"),
        "features": "features/train",
    }


def pseudo_threshold(wildcards):
    """The pseudo_labels job's threshold param: relabel.pseudo_threshold, or with the round's
    pseudo_target_precision set {default, target_precision, clip_seconds} (one param, so that
    the rounds that leave it null keep their params and rerun nothing)."""
    settings = round_config(int(wildcards.round))
    if settings["pseudo_target_precision"] is None:
        return settings["pseudo_threshold"]
    return {
        "default": settings["pseudo_threshold"],
        "target_precision": settings["pseudo_target_precision"],
        "clip_seconds": CLIP_SECONDS,
    }


def previous_stage(round_number):
    round_number = int(round_number)
    return "stage1" if round_number == 1 else f"round{round_number - 1}"


def fold_models(stage):
    """A stage's fold checkpoints, in fold order."""
    return expand("models/{stage}/fold{fold}.pt", stage=stage, fold=FOLDS)


def stage1_settings():
    stage1 = config["stage1"]
    return {
        **model_params(config, N_SPECIES),
        "loss": "clipwise",
        **{key: stage1[key] for key in STAGE1_KEYS},
        # only when on: a run from before the switch existed keeps its params (no rerun);
        # the grid's overlap (windows.cover) only with grid (or auto) crops
        **stage1_switches(stage1, config["windows"]["cover"]),
    }


def round_settings(round_number):
    # switches only when on: a run from before the switch existed keeps its params (no rerun);
    # pseudo_targets (and the grid's overlap it reads) only in rounds with pseudo-labels
    return round_params(config, round_config(round_number), N_SPECIES)


def ensemble_stages():
    stages = [STAGES[-1] if s == "last" else s for s in config["ensemble"]["stages"]]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise ValueError(
            f"config ensemble.stages names {unknown}, but this run has only {STAGES} "
            f"(relabel.n_rounds = {N_ROUNDS})"
        )
    return stages


def predict_input_dir(wildcards=None):
    """predict.input_dir, the recordings that predictions.csv scores."""
    if not config["predict"]["input_dir"]:
        raise ValueError(
            "predictions.csv needs config predict.input_dir: the folder to score"
        )
    return config["predict"]["input_dir"].rstrip("/")


def predict_species(wildcards=None):
    """The species.csv naming predictions.csv's columns: predict.species_csv, or in
    annotated mode this run's own; none: s0..s{n-1}."""
    if config["predict"]["species_csv"]:
        return [config["predict"]["species_csv"]]
    return [f"{DATA}/species.csv"] if ANNOTATED else []


def split_source(wildcards):
    """The folder a split's features come from."""
    if wildcards.split == "predict":
        if PREDICT_CLIPS:
            return "predict_clips/audio"
        return predict_input_dir()
    return f"{NPZ_DIR if NPZ else DATA}/{wildcards.split}"


# execution.shards > 1: what each shard job writes, by split or fold, {shard} 0..SHARDS-1.
FEATURE_SHARD = f"shards/features/{{split}}/{{shard}}-of-{SHARDS}"
PREDICTION_SHARD = f"shards/predictions/{{stage}}/fold{{fold}}/{{shard}}-of-{SHARDS}"
PREDICT_ONLY_SHARD = f"shards/predict_only/{{shard}}-of-{SHARDS}"


def every_shard(pattern, **wildcards):
    """``pattern`` (with {shard}) for every shard, its other wildcards filled in."""
    return expand(pattern, shard=range(SHARDS), **wildcards)


def generated_split(split):
    """Whether a rule of this run writes the split's audio folder (generator, annotated
    recordings cut into clips, predict.clip_recordings) rather than the user."""
    if split == "predict":
        return PREDICT_CLIPS
    return SYNTHETIC or ANNOTATED


def shard_audio(wildcards):
    """The audio of one feature shard: the shard's own files of a folder the user gave, so
    recordings added there rerun only the shards they fall in; the folder itself when this
    run writes it (the job then takes the folder's recordings of its shard)."""
    folder = split_source(wildcards)
    if generated_split(wildcards.split):
        return [folder]
    files = shard_files(folder, int(wildcards.shard), SHARDS)
    return [str(files[rec]) for rec in sorted(files)]


def predict_models(wildcards):
    """The fold*.pt checkpoints of predict.model_dir, in fold order."""
    model_dir = config["predict"]["model_dir"]
    if not model_dir:
        raise ValueError(
            "predictions.csv needs config predict.model_dir: a folder of fold*.pt checkpoints "
            "such as models/round3 of a finished run"
        )
    model_dir = model_dir.rstrip("/")
    # A stage of this very run (models/round3 in its working directory): trained if missing.
    stage = re.fullmatch(r"models/(stage1|round[1-9]\d*)", os.path.normpath(model_dir))
    if stage and stage[1] in STAGES:
        return fold_models(stage[1])
    found = glob.glob(os.path.join(glob.escape(model_dir), "fold*.pt"))
    folds = sorted(
        (int(m[1]), path)
        for path in found
        if (m := re.fullmatch(r"fold(\d+)\.pt", os.path.basename(path)))
    )
    if not folds:
        problem = (
            "no fold<N>.pt in it" if os.path.isdir(model_dir) else "no such folder"
        )
        raise ValueError(f"config predict.model_dir {model_dir}: {problem}")
    return [path for _, path in folds]
