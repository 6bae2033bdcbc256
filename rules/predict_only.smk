# Predict-only: score new recordings (predict.input_dir, features split `predict`) with the
# fold models of a trained stage (predict.model_dir). Needs no train data, csv or generator.
# predict.clip_recordings: recordings of any length are cut into clips first, and
# predictions_by_recording.csv holds each recording's max over its clips (rule
# scores_by_recording, rules/ensemble.smk).


# execution.shards > 1: one job per shard of the new recordings' features, then
# gather_predict_only writes predictions.csv. A shard job reruns only when its recordings
# change, so a growing input_dir scores only the shards its new recordings fall in.
if SHARDS == 1:

    rule predict_only:
        input:
            models=predict_models,
            features="features/predict",
            species=predict_species,
        output:
            clips="predictions.csv",
            windows="predictions_windows.parquet",
        log:
            "logs/predict_only.log",
        benchmark:
            "benchmarks/predict_only.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 2
        resources:
            mem_mb=8000,
            runtime=60,
            gpu=GPUS,
        params:
            window=config["windows"]["window"],
            cover=config["windows"]["test_cover"],
            batch_size=config["predict"]["batch_size"],
            amp=config["model"]["amp"],
            device=config["model"]["device"],
        script:
            "../workflow/scripts/predict_only.py"

else:

    rule predict_only_shard:
        input:
            models=predict_models,
            features=FEATURE_SHARD.replace("{split}", "predict"),
        output:
            clips=f"{PREDICT_ONLY_SHARD}_clips.parquet",
            windows=f"{PREDICT_ONLY_SHARD}_windows.parquet",
        log:
            f"logs/predict_only_shard/{{shard}}-of-{SHARDS}.log",
        benchmark:
            f"benchmarks/predict_only_shard/{{shard}}-of-{SHARDS}.tsv"
        conda:
            "../envs/torch.yaml"
        threads: 2
        resources:
            mem_mb=8000,
            runtime=60,
            gpu=GPUS,
        params:
            window=config["windows"]["window"],
            cover=config["windows"]["test_cover"],
            batch_size=config["predict"]["batch_size"],
            amp=config["model"]["amp"],
            device=config["model"]["device"],
        script:
            "../workflow/scripts/predict_only_shard.py"

    rule gather_predict_only:
        input:
            clips=every_shard(f"{PREDICT_ONLY_SHARD}_clips.parquet"),
            windows=every_shard(f"{PREDICT_ONLY_SHARD}_windows.parquet"),
            species=predict_species,
        output:
            clips="predictions.csv",
            windows="predictions_windows.parquet",
        log:
            "logs/gather_predict_only.log",
        benchmark:
            "benchmarks/gather_predict_only.tsv"
        localrule: True
        conda:
            "../envs/tables.yaml"
        script:
            "../workflow/scripts/gather_predict_only.py"


if PREDICT_CLIPS:

    rule cut_recordings:
        input:
            audio=predict_input_dir,
        output:
            audio=directory("predict_clips/audio"),
            clips="predict_clips/clips.csv",
        log:
            "logs/cut_recordings.log",
        benchmark:
            "benchmarks/cut_recordings.tsv"
        conda:
            "../envs/audio.yaml"
        threads: 2
        params:
            clip_seconds=CLIP_SECONDS,
        script:
            "../workflow/scripts/cut_recordings.py"
