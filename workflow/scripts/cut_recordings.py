"""Snakemake adapter: cut the recordings to predict into clips (sedcycle.annotated)."""

from sedcycle.steps import log_to
from sedcycle.steps.data import cut_recordings

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    cut_recordings(
        sm.input.audio, sm.output.audio, sm.output.clips, threads=sm.threads, **sm.params
    )
