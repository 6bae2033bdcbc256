# Log-mel features, one float16 .npy per recording, plus a manifest.csv per split.


rule features:
    input:
        audio=f"{DATA}/{{split}}",
    output:
        directory("features/{split}"),
    log:
        "logs/features/{split}.log",
    benchmark:
        "benchmarks/features/{split}.tsv"
    threads: 2
    params:
        features=config["features"],
        clip_seconds=CLIP_SECONDS,
    conda:
        "../envs/audio.yaml"
    script:
        "../workflow/scripts/extract_features.py"
