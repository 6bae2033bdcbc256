# Log-mel features from audio, one float16 .npy per recording, plus a manifest.csv per split.
# Split `predict` is predict.input_dir, the recordings that predictions.csv scores. With
# data.source npz, rules/npz.smk imports precomputed log-mels instead.


# execution.shards > 1: one job per shard of a split (the recordings whose id hashes to it),
# then gather_features links the shards' files into features/{split}, as one job writes it.
if SHARDS == 1:

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

else:

    rule extract_features_shard:
        input:
            audio=shard_audio,
        output:
            directory(FEATURE_SHARD),
        log:
            f"logs/extract_features_shard/{{split}}/{{shard}}-of-{SHARDS}.log",
        benchmark:
            f"benchmarks/extract_features_shard/{{split}}/{{shard}}-of-{SHARDS}.tsv"
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
            shard=lambda w: int(w.shard),
            shards=SHARDS,
        script:
            "../workflow/scripts/extract_features_shard.py"

    rule gather_features:
        input:
            shards=lambda w: every_shard(FEATURE_SHARD, split=w.split),
        output:
            directory("features/{split}"),
        log:
            "logs/gather_features/{split}.log",
        benchmark:
            "benchmarks/gather_features/{split}.tsv"
        localrule: True
        conda:
            "../envs/tables.yaml"
        params:
            source=split_source,
        script:
            "../workflow/scripts/gather_features.py"
