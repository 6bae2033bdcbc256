# Relabel rounds: pseudo-labels from the previous stage's fold models, masked-loss training.


rule pseudo_labels:
    input:
        # relabel.pseudo_target_precision set: the labels its thresholds are calibrated on
        unpack(calibration_inputs),
        predictions=lambda w: expand(
            "predictions/{stage}/fold{fold}_train.parquet",
            stage=previous_stage(w.round),
            fold=FOLDS,
        ),
        folds="folds.csv",
        # Not read: see summarise_stage (a fold model lost to a failed job is rebuilt).
        models=lambda w: fold_models(previous_stage(w.round)),
    output:
        "pseudo/round{round}.parquet",
    log:
        "logs/round{round}/pseudo_labels.log",
    benchmark:
        "benchmarks/round{round}/pseudo_labels.tsv"
    localrule: True
    conda:
        "../envs/tables.yaml"
    params:
        window=config["windows"]["window"],
        threshold=pseudo_threshold,
        min_votes=lambda w: round_config(int(w.round))["pseudo_min_votes"],
        negative_threshold=lambda w: round_config(int(w.round))[
            "pseudo_negative_threshold"
        ],
        out_of_fold=lambda w: round_config(int(w.round))["pseudo_out_of_fold"],
    script:
        "../workflow/scripts/pseudo_labels.py"


rule train_round:
    input:
        unpack(
            lambda w: (
                {"init": f"models/{previous_stage(w.round)}/fold{w.fold}.pt"}
                if round_config(int(w.round))["init_from_previous"]
                else {}
            )
        ),
        features="features/train",
        # data.dir's tp/fp, or with review verdicts of an earlier stage labels/round{r}_*.csv
        tp=lambda w: round_labels(w.round, "tp"),
        fp=lambda w: round_labels(w.round, "fp"),
        folds="folds.csv",
        # a round with use_pseudo: false trains on tp/fp alone (the source's stage 2)
        pseudo=lambda w: (
            f"pseudo/round{w.round}.parquet"
            if round_config(int(w.round))["use_pseudo"]
            else []
        ),
        # soft_weight > 0: the previous stage's fold models give the unknown pairs' soft targets
        teacher=lambda w: (
            fold_models(previous_stage(w.round))
            if round_config(int(w.round))["soft_weight"]
            else []
        ),
    output:
        model="models/round{round}/fold{fold}.pt",
        history="models/round{round}/fold{fold}.history.csv",
    log:
        "logs/round{round}/train_fold{fold}.log",
    benchmark:
        "benchmarks/round{round}/train_fold{fold}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=GPUS,
    params:
        settings=lambda w: round_settings(int(w.round)),
        clip_seconds=CLIP_SECONDS,
    script:
        "../workflow/scripts/train_round.py"
