"""Snakemake adapter: one test clip's spectrogram under the last stage's framewise scores."""

from sedcycle.steps import log_to
from sedcycle.steps.report import clip_figure

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    clip_figure(
        list(sm.input.models),
        sm.input.features,
        sm.output[0],
        threads=sm.threads,
        test_truth=sm.input.test_truth[0] if sm.input.test_truth else None,
        **sm.params,
    )
