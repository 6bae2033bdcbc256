"""Snakemake adapter: ensemble the chosen stages and write submission.csv."""

from sedcycle.steps import log_to
from sedcycle.steps.data import skipped_recordings
from sedcycle.steps.prediction import ensemble

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    ensemble(
        list(sm.input.stages),
        sm.input.sample,
        sm.output.ensemble,
        sm.output.submission,
        skipped_audio=skipped_recordings(sm.input.features),
        species_csv=sm.input.species[0] if sm.input.species else None,
        tp_csv=sm.input.tp,
        folds_csv=sm.input.folds,
        **sm.params,
    )
