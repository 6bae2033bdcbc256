"""Snakemake adapter: log-mel features of one shard of a split (execution.shards)."""

from sedcycle.steps import log_to
from sedcycle.steps.data import extract_features_shard

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    extract_features_shard(
        list(sm.input.audio),
        sm.output[0],
        shard=sm.params.shard,
        shards=sm.params.shards,
        clip_seconds=sm.params.clip_seconds,
        threads=sm.threads,
        on_bad_audio=sm.params.on_bad_audio,
        **sm.params.features,
    )
