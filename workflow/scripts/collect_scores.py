"""Snakemake adapter: gather every stage's scores into scores.json."""

from sedcycle.steps import collect_scores, log_to

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    collect_scores(
        dict(zip(sm.params.stages, sm.input.stages, strict=True)),
        sm.output[0],
        sm.params.n_species,
        ensemble_test=sm.input.ensemble,
        test_truth=sm.input.test_truth[0] if sm.input.test_truth else None,
    )
