"""Snakemake adapter: per-recording scores (max over clips) of a per-clip score table."""

from sedcycle.steps import log_to
from sedcycle.steps.prediction import scores_by_recording

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    scores_by_recording(sm.input.clip_scores, sm.input.clips, sm.output[0])
