"""Snakemake adapter: multilabel-stratified folds over the training recordings."""

from sedcycle.steps import log_to
from sedcycle.steps.data import make_folds

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    make_folds(
        sm.input.tp,
        sm.input.fp,
        sm.input.features,
        sm.output[0],
        clips_csv=sm.input.clips[0] if sm.input.clips else None,
        groups_csv=sm.input.groups[0] if sm.input.groups else None,
        **sm.params,
    )
