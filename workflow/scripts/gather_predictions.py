"""Snakemake adapter: one fold model's train and test window scores from its shards'."""

from sedcycle.steps import log_to
from sedcycle.steps.prediction import gather_predictions

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    gather_predictions(
        shards={"train": list(sm.input.train), "test": list(sm.input.test)},
        outputs={"train": sm.output.train, "test": sm.output.test},
    )
