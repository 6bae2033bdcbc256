"""Snakemake adapter: a stage's events on the test clips, as events.csv and Raven tables."""

from sedcycle.steps import log_to
from sedcycle.steps.detections import detect_events

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    detect_events(
        list(sm.input.models),
        sm.input.features,
        sm.input.audio,
        sm.input.tp,
        list(sm.input.thresholds),
        events_out=sm.output.events,
        raven_dir=sm.output.raven,
        combined_out=sm.output.combined,
        species_csv=sm.input.species[0] if sm.input.species else None,
        threads=sm.threads,
        **sm.params,
    )
