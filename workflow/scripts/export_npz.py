"""Snakemake adapter: one .npz per recording of a split's features (sedcycle.npz)."""

from sedcycle.steps import log_to
from sedcycle.steps.data import export_npz

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    export_npz(sm.input.features, sm.output[0], sm.params.key)
