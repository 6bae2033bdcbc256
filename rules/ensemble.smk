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
    conda:
        "../envs/tables.yaml"
    params:
        prior_scaling=config["postprocess"]["prior_scaling"],
        n_species=N_SPECIES,
        clip_seconds=CLIP_SECONDS,
    script:
        "../workflow/scripts/ensemble.py"


if ANNOTATED:

    rule submission_by_recording:
        input:
            clip_scores="submission.csv",
            clips=f"{DATA}/clips.csv",
        output:
            "submission_by_recording.csv",
        log:
            "logs/submission_by_recording.log",
        benchmark:
            "benchmarks/submission_by_recording.tsv"
        localrule: True
        conda:
            "../envs/tables.yaml"
        script:
            "../workflow/scripts/by_recording.py"
