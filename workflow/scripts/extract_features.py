"""Snakemake adapter: log-mel features of one split (sedcycle.audio)."""

from sedcycle.steps import log_to
from sedcycle.steps.data import extract_features

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    settings = {k: v for k, v in sm.params.features.items()}
    settings["threads"] = sm.threads
    settings["on_bad_audio"] = sm.params.on_bad_audio
    extract_features(sm.input.audio, sm.output[0], clip_seconds=sm.params.clip_seconds, **settings)
