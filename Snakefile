"""sedcycle: SED training with cycle re-labelling (RFCx 5th-place recipe) as a Snakemake DAG."""

import os

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config.yaml")


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


wildcard_constraints:
    split="train|test",
    fold=r"\d+",
    round=r"[1-9]\d*",
    stage=r"stage1|round[1-9]\d*",


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/features.smk"
include: "rules/stage1.smk"
include: "rules/relabel.smk"
include: "rules/ensemble.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        "submission.csv",
        "scores.json",
