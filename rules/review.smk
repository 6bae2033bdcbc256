# The review loop (docs/review.md): a queue of each stage's findings for a person to check,
# the verdicts as tp/fp labels of the rounds after that stage, thresholds fitted to them.


include: "review_common.smk"


rule review_queue:
    input:
        predictions=expand("predictions/{{stage}}/fold{fold}_train.parquet", fold=FOLDS),
        folds="folds.csv",
        features="features/train",
        tp=f"{DATA}/train_tp.csv",
        fp=f"{DATA}/train_fp.csv",
        # data.source npz has no audio: the queue csv alone (no Raven table, no clips)
        audio=[] if NPZ else f"{DATA}/train",
        species=[f"{DATA}/species.csv"] if ANNOTATED else [],
        verdicts=lambda w: verdicts_before(w.stage),
        queues=lambda w: queues_before(w.stage),
    output:
        **({} if NPZ else {"selections": "review/{stage}/queue.selections.txt"}),
        queue="review/{stage}/queue.csv",
    log:
        "logs/{stage}/review_queue.log",
    benchmark:
        "benchmarks/{stage}/review_queue.tsv"
    conda:
        "../envs/audio.yaml"
    params:
        n_species=N_SPECIES,
        clip_seconds=CLIP_SECONDS,
        window=config["windows"]["window"],
        sample_rate=config["features"]["sample_rate"],
        budget=REVIEW["budget"],
        strategies=REVIEW["strategies"],
        threshold=REVIEW["threshold"],
        seed=REVIEW["seed"],
    script:
        "../workflow/scripts/review_queue.py"


# A rule of its own: review.clip_padding recuts the clips alone, never the queue (which the
# verdicts are read against) nor the rounds.
if not NPZ:

    rule review_clips:
        input:
            queue="review/{stage}/queue.csv",
            audio=f"{DATA}/train",
        output:
            directory("review/{stage}/clips"),
        log:
            "logs/{stage}/review_clips.log",
        benchmark:
            "benchmarks/{stage}/review_clips.tsv"
        conda:
            "../envs/audio.yaml"
        params:
            clip_padding=REVIEW["clip_padding"],
        script:
            "../workflow/scripts/review_clips.py"


rule review_labels:
    input:
        tp=f"{DATA}/train_tp.csv",
        fp=f"{DATA}/train_fp.csv",
        verdicts=lambda w: verdicts_before(f"round{w.round}"),
        queues=lambda w: queues_before(f"round{w.round}"),
    output:
        tp="labels/round{round}_tp.csv",
        fp="labels/round{round}_fp.csv",
    log:
        "logs/round{round}/review_labels.log",
    benchmark:
        "benchmarks/round{round}/review_labels.tsv"
    localrule: True
    conda:
        "../envs/tables.yaml"
    params:
        n_species=N_SPECIES,
        clip_seconds=CLIP_SECONDS,
    script:
        "../workflow/scripts/review_labels.py"


rule review_thresholds:
    input:
        verdicts=all_verdicts,
        queues=lambda w: [f"review/{s}/queue.csv" for s in STAGES if s in VERDICT_FILES],
    output:
        thresholds="review/thresholds.csv",
        # the fitted species alone (species_id,start_threshold): detection_thresholds' table
        detections="review/detection_thresholds.csv",
    log:
        "logs/review_thresholds.log",
    benchmark:
        "benchmarks/review_thresholds.tsv"
    localrule: True
    conda:
        "../envs/tables.yaml"
    params:
        n_species=N_SPECIES,
        target_precision=REVIEW["target_precision"],
        # a species without a fit: the detections' own start threshold
        default_threshold=config["detections"]["start_threshold"],
    script:
        "../workflow/scripts/review_thresholds.py"


rule review:
    input:
        expand("review/{stage}/queue.csv", stage=review_stages()),
        []
        if NPZ
        else expand("review/{stage}/queue.selections.txt", stage=review_stages()),
        [] if NPZ else expand("review/{stage}/clips", stage=review_stages()),
    localrule: True
