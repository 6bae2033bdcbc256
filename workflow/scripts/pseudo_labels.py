"""Snakemake adapter: pseudo-positive windows for one relabel round."""

from sedcycle.steps import log_to
from sedcycle.steps.training import pseudo_labels

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    pseudo_labels(list(sm.input.predictions), sm.output[0], folds_csv=sm.input.folds, **sm.params)
