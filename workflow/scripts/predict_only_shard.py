"""Snakemake adapter: predict-only scores of one shard of the new recordings."""

from sedcycle.steps import log_to
from sedcycle.steps.prediction import predict_only_shard

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    predict_only_shard(
        list(sm.input.models),
        sm.input.features,
        clips_out=sm.output.clips,
        windows_out=sm.output.windows,
        threads=sm.threads,
        **sm.params,
    )
