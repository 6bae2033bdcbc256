"""sedcycle: SED training with cycle re-labelling (RFCx 5th-place recipe) as a Snakemake DAG."""

import glob
import os
import re
import sys

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "report/workflow.rst"


validate(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"))

# The library's settings and annotation modules import only the standard library at module
# level: rules/common.smk builds the training params from sedcycle.settings' key lists.
sys.path.insert(0, os.path.join(workflow.basedir, "src"))
from sedcycle.settings import data_source

DATA = config["data"]["dir"].rstrip("/")
# The input (data.source), checked with the keys its mode needs, in sedcycle.settings.
SOURCE = data_source(config)
SYNTHETIC = SOURCE == "synthetic"
NPZ = SOURCE == "npz"
ANNOTATED = SOURCE == "annotated"
N_SPECIES = config["n_species"]
CLIP_SECONDS = config["clip_seconds"]
FOLDS = list(range(config["folds"]["n_folds"]))
N_ROUNDS = config["relabel"]["n_rounds"]
STAGES = ["stage1"] + [f"round{r}" for r in range(1, N_ROUNDS + 1)]
TEST_TRUTH = f"{DATA}/test_truth.csv"
# Annotated recordings: rule annotated_test_truth writes it from data.annotated.test_annotations.
TEST_ANNOTATIONS = config["data"]["annotated"]["test_annotations"]
HAS_TEST_TRUTH = (
    bool(TEST_ANNOTATIONS) if ANNOTATED else SYNTHETIC or os.path.exists(TEST_TRUTH)
)
# Hidden train truth (synthetic data): scores OOF predictions and pseudo-labels against it.
TRAIN_TRUTH = f"{DATA}/train_truth.csv"
HAS_TRAIN_TRUTH = SYNTHETIC or os.path.exists(TRAIN_TRUTH)
# Precomputed log-mel .npz files instead of audio: {NPZ_DIR}/{split}/{recording_id}.npz.
NPZ_DIR = (config["data"]["npz"]["dir"] or DATA).rstrip("/")
# Annotated recordings of any length/rate (data.source annotated): rule prepare_annotated
# cuts them into clips in the RFCx layout in data.dir; the species (sorted names) come from
# the annotations, read here at parse time, and replace config n_species.
if ANNOTATED:
    from sedcycle.annotations import species_names

    N_SPECIES = len(
        species_names(
            config["data"]["annotated"]["annotations"],
            config["data"]["annotated"]["species_column"],
        )
    )
# Predict-only on recordings of any length: cut predict.input_dir into clips first.
PREDICT_CLIPS = config["predict"]["clip_recordings"]
# GPUs each training/prediction job asks a scheduler for (resource `gpu`); 0 on CPU-only clusters.
GPUS = config["cluster"]["gpu"]
# Jobs per split for features and predictions (execution.shards): 1 keeps one job per split
# and per fold model; more adds shard jobs and a gather job that writes the same outputs.
SHARDS = config["execution"]["shards"]
if SHARDS > 1 and NPZ:
    raise ValueError(
        "config execution.shards > 1 shards feature extraction from audio, but data.source "
        "npz imports its .npz files in one job per split: set execution.shards: 1"
    )


wildcard_constraints:
    split="train|test|predict",
    fold=r"\d+",
    round=r"[1-9]\d*",
    stage=r"stage1|round[1-9]\d*",
    shard=r"\d+",


# Each rule runs workflow/scripts/{rule}.py, which calls the step {rule} of sedcycle.steps.
# The light table steps say `localrule: True`: they run in the snakemake process itself,
# never as cluster jobs.
include: "rules/common.smk"
include: "rules/data.smk"


# Features come from audio, or (data.source npz) from .npz files: rules/npz.smk.
if not NPZ:

    include: "rules/features.smk"


include: "rules/npz.smk"
include: "rules/stage1.smk"
include: "rules/relabel.smk"
include: "rules/review.smk"
include: "rules/ensemble.smk"
include: "rules/report.smk"
include: "rules/predict_only.smk"
include: "rules/detections_common.smk"
include: "rules/detections.smk"


rule all:
    default_target: True
    input:
        "submission.csv",
        "scores.json",
        ["submission_by_recording.csv"] if ANNOTATED else [],
        "scores.csv",
        rules.report_figures.output,
        rules.clip_figure.output,
    localrule: True


# The run ends with its scores (scores.csv) and outputs, and the command that builds the report:
# sedcycle.summary, which names only what this run's targets hold and never fails the run.
onsuccess:
    from sedcycle.summary import print_run_summary

    print_run_summary(workflow)
