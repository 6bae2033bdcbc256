"""Snakemake adapter: one .npz per recording of a split's features (sedcycle.npz)."""

from sedcycle.steps import export_npz_features, log_to

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    export_npz_features(sm.input.features, sm.output[0], sm.params.key)
