"""Snakemake adapter: review/thresholds.csv, start thresholds fitted to every verdict."""

from sedcycle.steps import log_to
from sedcycle.steps.review import review_thresholds

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    review_thresholds(
        sm.output.thresholds,
        sm.output.detections,
        verdicts=list(sm.input.verdicts),
        queues=list(sm.input.queues),
        **sm.params,
    )
