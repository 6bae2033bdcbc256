# Ensemble of the chosen stages' fold models, and the submission in sample_submission order
# (columns named by species.csv for annotated recordings, plus per-recording scores).


rule ensemble:
    input:
        stages=expand("predictions/{stage}/test.parquet", stage=ensemble_stages()),
        sample=f"{DATA}/sample_submission.csv",
        features="features/test",
        species=[f"{DATA}/species.csv"] if ANNOTATED else [],
        tp=f"{DATA}/train_tp.csv",
        folds="folds.csv",
    output:
        ensemble="predictions/ensemble/test.parquet",
        submission="submission.csv",
    log:
        "logs/ensemble.log",
    benchmark:
        "benchmarks/ensemble.tsv"
    localrule: True
    conda:
        "../envs/tables.yaml"
    params:
        prior_scaling=config["postprocess"]["prior_scaling"],
        n_species=N_SPECIES,
        clip_seconds=CLIP_SECONDS,
    script:
        "../workflow/scripts/ensemble.py"


# Per-recording scores (each species' max over a recording's clips) of a per-clip table of
# recordings cut into clips: submission.csv (annotated recordings) and predictions.csv
# (predict.clip_recordings), with the clips.csv that maps their clips to recordings.
BY_RECORDING_CLIPS = {
    **({"submission": f"{DATA}/clips.csv"} if ANNOTATED else {}),
    **({"predictions": "predict_clips/clips.csv"} if PREDICT_CLIPS else {}),
}

if BY_RECORDING_CLIPS:

    rule scores_by_recording:
        input:
            clip_scores="{table}.csv",
            clips=lambda w: BY_RECORDING_CLIPS[w.table],
        output:
            "{table}_by_recording.csv",
        log:
            "logs/scores_by_recording/{table}.log",
        benchmark:
            "benchmarks/scores_by_recording/{table}.tsv"
        wildcard_constraints:
            table="|".join(BY_RECORDING_CLIPS),
        localrule: True
        conda:
            "../envs/tables.yaml"
        script:
            "../workflow/scripts/scores_by_recording.py"
