"""sedcycle: SED training with cycle re-labelling (RFCx 5th-place recipe) as a Snakemake DAG."""

import glob
import os
import re

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "report/workflow.rst"


validate(config, os.path.join(workflow.basedir, "schemas", "config.schema.yaml"))

DATA = config["data"]["dir"].rstrip("/")
SYNTHETIC = config["data"]["synthetic"]["enabled"]
N_SPECIES = config["n_species"]
CLIP_SECONDS = config["clip_seconds"]
FOLDS = list(range(config["folds"]["n_folds"]))
N_ROUNDS = config["relabel"]["n_rounds"]
STAGES = ["stage1"] + [f"round{r}" for r in range(1, N_ROUNDS + 1)]
TEST_TRUTH = f"{DATA}/test_truth.csv"
HAS_TEST_TRUTH = SYNTHETIC or os.path.exists(TEST_TRUTH)
# Hidden train truth (synthetic data): scores OOF predictions and pseudo-labels against it.
TRAIN_TRUTH = f"{DATA}/train_truth.csv"
HAS_TRAIN_TRUTH = SYNTHETIC or os.path.exists(TRAIN_TRUTH)
# Precomputed log-mel .npz files instead of audio: {NPZ_DIR}/{split}/{recording_id}.npz.
NPZ = config["data"]["npz"]["enabled"]
NPZ_DIR = (config["data"]["npz"]["dir"] or DATA).rstrip("/")
if NPZ and SYNTHETIC:
    raise ValueError(
        "config data.npz.enabled needs data.synthetic.enabled: false "
        "(the generator writes audio, not .npz)"
    )
# GPUs each training/prediction job asks a scheduler for (resource `gpu`); 0 on CPU-only clusters.
GPUS = config["cluster"]["gpu"]


wildcard_constraints:
    split="train|test|predict",
    fold=r"\d+",
    round=r"[1-9]\d*",
    stage=r"stage1|round[1-9]\d*",


# Light table steps run in the snakemake process itself, never as cluster jobs.
localrules:
    all,
    synthetic_data,
    folds,
    pseudo_labels,
    summarise_stage,
    ensemble,
    scores,


include: "rules/common.smk"
include: "rules/data.smk"


# Features come from audio, or (data.npz.enabled) from .npz files: rules/npz.smk.
if not NPZ:

    include: "rules/features.smk"


include: "rules/npz.smk"
include: "rules/stage1.smk"
include: "rules/relabel.smk"
include: "rules/ensemble.smk"
include: "rules/report.smk"
include: "rules/predict_only.smk"


rule all:
    default_target: True
    input:
        "submission.csv",
        "scores.json",
        "scores.csv",
        rules.report_figures.output,
        rules.clip_figure.output,
