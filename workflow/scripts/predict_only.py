"""Snakemake adapter: predictions.csv for new recordings from a trained stage's fold models."""

from sedcycle.steps import log_to
from sedcycle.steps.prediction import predict_only

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    predict_only(
        list(sm.input.models),
        sm.input.features,
        clips_out=sm.output.clips,
        windows_out=sm.output.windows,
        threads=sm.threads,
        species_csv=sm.input.species[0] if sm.input.species else None,
        **sm.params,
    )
