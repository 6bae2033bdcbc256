"""Snakemake adapter: event precision/recall/F1 of a stage's events against the test truth."""

from sedcycle.steps import log_to
from sedcycle.steps.detections import score_events

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    score_events(
        sm.input.events,
        sm.input.truth,
        sm.output[0],
        species_csv=sm.input.species[0] if sm.input.species else None,
        **sm.params,
    )
