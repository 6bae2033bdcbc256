"""Snakemake adapter: train one fold of stage 1 or of a relabel round."""

from sedcycle.steps import log_to, train

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    train(
        sm.input.features,
        sm.input.tp,
        sm.input.fp,
        sm.input.folds,
        fold=int(sm.wildcards.fold),
        out_path=sm.output.model,
        # resume only decides how the job recovers, not its result: kept out of params
        settings={**sm.params.settings, "resume": sm.config["execution"]["resume_training"]},
        clip_seconds=sm.params.clip_seconds,
        threads=sm.threads,
        pseudo=sm.input.get("pseudo"),
        init_from=sm.input.get("init"),
        teacher=sm.input.get("teacher"),
        history_out=sm.output.history,
    )
