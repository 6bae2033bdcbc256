"""Snakemake adapter: an audio clip of every item of a stage's review queue."""

from sedcycle.steps import log_to
from sedcycle.steps.review import review_clips

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    review_clips(sm.input.queue, sm.input.audio, sm.output[0], **sm.params)
