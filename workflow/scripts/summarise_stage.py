"""Snakemake adapter: OOF and test clip scores of one stage, and its scores."""

from sedcycle.steps import log_to
from sedcycle.steps.scoring import summarise_stage

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    summarise_stage(
        list(sm.input.train),
        list(sm.input.test),
        sm.input.folds,
        sm.input.tp,
        oof_out=sm.output.oof,
        test_out=sm.output.test,
        scores_out=sm.output.scores,
        test_truth=sm.input.test_truth[0] if sm.input.test_truth else None,
        train_truth=sm.input.train_truth[0] if sm.input.train_truth else None,
        **sm.params,
    )
