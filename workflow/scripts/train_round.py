"""Snakemake adapter: train one fold of a relabel round (pseudo-labels, masked loss)."""

from sedcycle.steps import log_to
from sedcycle.steps.training import train_round

sm = snakemake  # noqa: F821 - injected by the script directive
# resume only decides how the job recovers, not its result: kept out of params
fold, resume = int(sm.wildcards.fold), sm.config["execution"]["resume_training"]
with log_to(sm.log[0]):
    train_round(**sm.input, **sm.output, **sm.params, fold=fold, resume=resume, threads=sm.threads)
