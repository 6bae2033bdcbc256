# Ensemble of the chosen stages' fold models, and the submission in sample_submission order.


rule ensemble:
    input:
        stages=expand("predictions/{stage}/test.parquet", stage=ensemble_stages()),
        sample=f"{DATA}/sample_submission.csv",
        features="features/test",
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
