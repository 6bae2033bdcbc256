"""Snakemake adapter: window scores of one shard of the train and test splits by one fold
model (execution.shards)."""

from sedcycle.steps import log_to
from sedcycle.steps.prediction import predict_shard

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    predict_shard(
        sm.input.model,
        features={"train": sm.input.train, "test": sm.input.test},
        outputs={"train": sm.output.train, "test": sm.output.test},
        window=sm.params.window,
        covers={"train": sm.params.cover, "test": sm.params.test_cover},
        batch_size=sm.params.batch_size,
        amp=sm.params.amp,
        device=sm.params.device,
        threads=sm.threads,
    )
