"""Snakemake adapter: gather every stage's scores into scores.json and scores.csv."""

from sedcycle.steps import log_to
from sedcycle.steps.scoring import collect_scores

sm = snakemake  # noqa: F821 - injected by the script directive
rounds = sm.params.pseudo_rounds
with log_to(sm.log[0]):
    collect_scores(
        dict(zip(sm.params.stages, sm.input.stages, strict=True)),
        sm.output.json,
        sm.params.n_species,
        ensemble_test=sm.input.ensemble,
        test_truth=sm.input.test_truth[0] if sm.input.test_truth else None,
        csv_out=sm.output.csv,
        pseudo=dict(zip(rounds, sm.input.pseudo, strict=True)),
        pseudo_windows=dict(zip(rounds, sm.input.pseudo_windows, strict=True)),
        tp_csv=sm.input.tp,
        train_truth=sm.input.train_truth[0] if sm.input.train_truth else None,
        features_dir=sm.input.features,
        window=sm.params.window,
        clip_seconds=sm.params.clip_seconds,
        round_settings=sm.params.round_settings,
        folds_csv=sm.input.folds,
        fp_csv=sm.input.fp,
    )
