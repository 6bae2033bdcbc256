# Predict-only: score new recordings (predict.input_dir, features split `predict`) with the
# fold models of a trained stage (predict.model_dir). Needs no train data, csv or generator.


rule predict_only:
    input:
        models=predict_models,
        features="features/predict",
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
