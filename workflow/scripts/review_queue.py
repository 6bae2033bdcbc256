"""Snakemake adapter: one stage's review queue (csv and Raven table)."""

from sedcycle.steps import log_to
from sedcycle.steps.review import review_queue

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    review_queue(
        list(sm.input.predictions),
        sm.input.folds,
        sm.input.features,
        sm.input.tp,
        sm.input.fp,
        sm.output.queue,
        stage=sm.wildcards.stage,
        audio=sm.input.audio or None,
        species_csv=sm.input.species[0] if sm.input.species else None,
        verdicts=list(sm.input.verdicts),
        queues=list(sm.input.queues),
        selections=getattr(sm.output, "selections", None),
        **sm.params,
    )
