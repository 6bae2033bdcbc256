"""Snakemake adapter: the tp/fp tables a round trains on (data + earlier stages' verdicts)."""

from sedcycle.steps import log_to
from sedcycle.steps.review import review_labels

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    review_labels(
        sm.input.tp,
        sm.input.fp,
        sm.output.tp,
        sm.output.fp,
        verdicts=list(sm.input.verdicts),
        queues=list(sm.input.queues),
        **sm.params,
    )
