"""Snakemake adapter: window scores of one split by one fold model."""

from sedcycle.steps import log_to, predict

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    predict(sm.input.model, sm.input.features, sm.output[0], threads=sm.threads, **sm.params)
