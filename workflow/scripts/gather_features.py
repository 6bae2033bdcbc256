"""Snakemake adapter: a split's features folder from its shards' (execution.shards)."""

from sedcycle.steps import log_to
from sedcycle.steps.data import gather_features

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    gather_features(list(sm.input.shards), sm.output[0], source=sm.params.source)
