# Log-mel features, one float16 .npy per recording, plus a manifest.csv per split.


rule features:
    input:
        audio=f"{DATA}/{{split}}",
    output:
        directory("features/{split}"),
    params:
        features=config["features"],
        clip_seconds=CLIP_SECONDS,
    threads: 2
    log:
        "logs/features/{split}.log",
    benchmark:
        "benchmarks/features/{split}.tsv"
    script:
        "../workflow/scripts/extract_features.py"
