"""Snakemake adapter: train one fold of stage 1 (tp/fp labels, clipwise loss)."""

from sedcycle.steps import log_to
from sedcycle.steps.training import train_stage1

sm = snakemake  # noqa: F821 - injected by the script directive
# resume only decides how the job recovers, not its result: kept out of params
fold, resume = int(sm.wildcards.fold), sm.config["execution"]["resume_training"]
with log_to(sm.log[0]):
    train_stage1(**sm.input, **sm.output, **sm.params, fold=fold, resume=resume, threads=sm.threads)
