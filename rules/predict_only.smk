# Predict-only: score new recordings (predict.input_dir, features split `predict`) with the
# fold models of a trained stage (predict.model_dir). Needs no train data, csv or generator.
# predict.clip_recordings: recordings of any length are cut into clips first, and
# predictions_by_recording.csv holds each recording's max over its clips (rule
# scores_by_recording, rules/ensemble.smk).


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
