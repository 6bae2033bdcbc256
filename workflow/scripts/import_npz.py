"""Snakemake adapter: features of one split from precomputed .npz log-mels (sedcycle.npz)."""

from sedcycle.steps import log_to
from sedcycle.steps.data import import_npz

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    import_npz(sm.input.npz, sm.output[0], **sm.params)
