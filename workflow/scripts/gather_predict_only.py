"""Snakemake adapter: predictions.csv and its window scores from the shards'."""

from sedcycle.steps import log_to
from sedcycle.steps.prediction import gather_predict_only

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    gather_predict_only(
        list(sm.input.clips),
        list(sm.input.windows),
        clips_out=sm.output.clips,
        windows_out=sm.output.windows,
        species_csv=sm.input.species[0] if sm.input.species else None,
    )
