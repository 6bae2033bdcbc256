# Log-mel features from audio, one float16 .npy per recording, plus a manifest.csv per split.
# Split `predict` is predict.input_dir, the recordings that predictions.csv scores. With
# data.source npz, rules/npz.smk imports precomputed log-mels instead.


rule extract_features:
    input:
        audio=split_source,
    output:
        directory("features/{split}"),
    log:
        "logs/extract_features/{split}.log",
    benchmark:
        "benchmarks/extract_features/{split}.tsv"
    conda:
        "../envs/audio.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        features=config["features"],
        clip_seconds=CLIP_SECONDS,
        on_bad_audio=config["data"]["on_bad_audio"],
    script:
        "../workflow/scripts/extract_features.py"
