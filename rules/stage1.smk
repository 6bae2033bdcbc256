# Folds, stage 1 (clipwise BCE) training, and the per-fold predictions every stage shares.


rule make_folds:
    input:
        tp=f"{DATA}/train_tp.csv",
        fp=f"{DATA}/train_fp.csv",
        features="features/train",
        # annotated: clips of one source recording share a fold
        clips=[f"{DATA}/clips.csv"] if ANNOTATED else [],
        # folds.groups: recordings of one group share a fold
        groups=[config["folds"]["groups"]] if config["folds"]["groups"] else [],
    output:
        "folds.csv",
    log:
        "logs/make_folds.log",
    benchmark:
        "benchmarks/make_folds.tsv"
    localrule: True
    conda:
        "../envs/tables.yaml"
    params:
        n_folds=config["folds"]["n_folds"],
        seed=config["folds"]["seed"],
        n_species=N_SPECIES,
        clip_seconds=CLIP_SECONDS,
    script:
        "../workflow/scripts/make_folds.py"


rule train_stage1:
    input:
        features="features/train",
        tp=f"{DATA}/train_tp.csv",
        fp=f"{DATA}/train_fp.csv",
        folds="folds.csv",
    output:
        model="models/stage1/fold{fold}.pt",
        history="models/stage1/fold{fold}.history.csv",
    log:
        "logs/stage1/train_fold{fold}.log",
    benchmark:
        "benchmarks/stage1/train_fold{fold}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=GPUS,
    params:
        settings=stage1_settings(),
        clip_seconds=CLIP_SECONDS,
    script:
        "../workflow/scripts/train_stage1.py"


# execution.shards > 1: one job per shard of the train and test features and fold model,
# then gather_predictions puts each fold's tables together, as one job writes them.
if SHARDS == 1:

    rule predict:
        input:
            model="models/{stage}/fold{fold}.pt",
            train="features/train",
            test="features/test",
        output:
            train="predictions/{stage}/fold{fold}_train.parquet",
            test="predictions/{stage}/fold{fold}_test.parquet",
        log:
            "logs/{stage}/predict_fold{fold}.log",
        benchmark:
            "benchmarks/{stage}/predict_fold{fold}.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 2
        resources:
            mem_mb=8000,
            runtime=60,
            gpu=GPUS,
        params:
            window=config["windows"]["window"],
            cover=config["windows"]["cover"],
            test_cover=config["windows"]["test_cover"],
            batch_size=config["predict"]["batch_size"],
            amp=config["model"]["amp"],
            device=config["model"]["device"],
        script:
            "../workflow/scripts/predict.py"

else:

    rule predict_shard:
        input:
            model="models/{stage}/fold{fold}.pt",
            train=FEATURE_SHARD.replace("{split}", "train"),
            test=FEATURE_SHARD.replace("{split}", "test"),
        output:
            train=f"{PREDICTION_SHARD}_train.parquet",
            test=f"{PREDICTION_SHARD}_test.parquet",
        log:
            f"logs/{{stage}}/predict_shard_fold{{fold}}/{{shard}}-of-{SHARDS}.log",
        benchmark:
            f"benchmarks/{{stage}}/predict_shard_fold{{fold}}/{{shard}}-of-{SHARDS}.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 2
        resources:
            mem_mb=8000,
            runtime=60,
            gpu=GPUS,
        params:
            window=config["windows"]["window"],
            cover=config["windows"]["cover"],
            test_cover=config["windows"]["test_cover"],
            batch_size=config["predict"]["batch_size"],
            amp=config["model"]["amp"],
            device=config["model"]["device"],
        script:
            "../workflow/scripts/predict_shard.py"

    rule gather_predictions:
        input:
            train=lambda w: every_shard(
                f"{PREDICTION_SHARD}_train.parquet", stage=w.stage, fold=w.fold
            ),
            test=lambda w: every_shard(
                f"{PREDICTION_SHARD}_test.parquet", stage=w.stage, fold=w.fold
            ),
        output:
            train="predictions/{stage}/fold{fold}_train.parquet",
            test="predictions/{stage}/fold{fold}_test.parquet",
        log:
            "logs/{stage}/gather_predictions_fold{fold}.log",
        benchmark:
            "benchmarks/{stage}/gather_predictions_fold{fold}.tsv"
        localrule: True
        conda:
            "../envs/tables.yaml"
        script:
            "../workflow/scripts/gather_predictions.py"


rule summarise_stage:
    input:
        train=expand("predictions/{{stage}}/fold{fold}_train.parquet", fold=FOLDS),
        test=expand("predictions/{{stage}}/fold{fold}_test.parquet", fold=FOLDS),
        # Not read: a fold model deleted by a failed retraining must be rebuilt (and its
        # predictions with it) even when its old predictions are still there.
        models=expand("models/{{stage}}/fold{fold}.pt", fold=FOLDS),
        folds="folds.csv",
        tp=f"{DATA}/train_tp.csv",
        test_truth=[TEST_TRUTH] if HAS_TEST_TRUTH else [],
        train_truth=[TRAIN_TRUTH] if HAS_TRAIN_TRUTH else [],
    output:
        oof="predictions/{stage}/oof.parquet",
        test="predictions/{stage}/test.parquet",
        scores="scores/{stage}.json",
    log:
        "logs/{stage}/summarise.log",
    benchmark:
        "benchmarks/{stage}/summarise.tsv"
    localrule: True
    conda:
        "../envs/tables.yaml"
    params:
        n_species=N_SPECIES,
        clip_seconds=CLIP_SECONDS,
    script:
        "../workflow/scripts/summarise_stage.py"
