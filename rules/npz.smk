# Precomputed log-mel spectrograms: import {NPZ_DIR}/{split}/*.npz as features/{split}
# (data.source npz; rules/features.smk is then not included), and export features as npz.


if NPZ:

    rule import_npz:
        input:
            npz=split_source,
        output:
            directory("features/{split}"),
        log:
            "logs/import_npz/{split}.log",
        benchmark:
            "benchmarks/import_npz/{split}.tsv"
        conda:
            "../envs/audio.yaml"
        params:
            key=config["data"]["npz"]["key"],
            n_mels=config["features"]["n_mels"],
            sample_rate=config["features"]["sample_rate"],
            hop_length=config["features"]["hop_length"],
            clip_seconds=CLIP_SECONDS,
        script:
            "../workflow/scripts/import_npz.py"


rule export_npz:
    input:
        features="features/{split}",
    output:
        directory("npz/{split}"),
    log:
        "logs/export_npz/{split}.log",
    benchmark:
        "benchmarks/export_npz/{split}.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        key=config["data"]["npz"]["key"],
    script:
        "../workflow/scripts/export_npz.py"
