# Detections: events per stage (rules/detections_common.smk holds their settings).


rule detect_events:
    input:
        models=lambda w: fold_models(w.stage),
        features="features/test",
        # the Raven tables' Begin Path: each test clip's audio file
        audio=f"{DATA}/test",
        tp=f"{DATA}/train_tp.csv",
        thresholds=lambda w: detection_thresholds(w.stage),
        species=[f"{DATA}/species.csv"] if ANNOTATED else [],
    output:
        events="detections/{stage}/events.csv",
        raven=directory("detections/{stage}/raven"),
        combined="detections/{stage}/all.selections.txt",
    log:
        "logs/{stage}/detect_events.log",
    benchmark:
        "benchmarks/{stage}/detect_events.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=GPUS,
    params:
        n_species=N_SPECIES,
        clip_seconds=CLIP_SECONDS,
        sample_rate=config["features"]["sample_rate"],
        start_threshold=DETECTIONS["start_threshold"],
        stop_threshold=DETECTIONS["stop_threshold"],
        min_duration=DETECTIONS["min_duration"],
        min_gap=DETECTIONS["min_gap"],
        window=config["windows"]["window"],
        cover=config["windows"]["test_cover"],
        batch_size=config["predict"]["batch_size"],
        amp=config["model"]["amp"],
        device=config["model"]["device"],
    script:
        "../workflow/scripts/detect_events.py"


rule score_events:
    input:
        events="detections/{stage}/events.csv",
        truth=TEST_TRUTH,
        species=[f"{DATA}/species.csv"] if ANNOTATED else [],
    output:
        "detections/{stage}/event_scores.csv",
    log:
        "logs/{stage}/score_events.log",
    benchmark:
        "benchmarks/{stage}/score_events.tsv"
    localrule: True
    conda:
        "../envs/tables.yaml"
    params:
        n_species=N_SPECIES,
        onset_tolerance=DETECTIONS["onset_tolerance"],
    script:
        "../workflow/scripts/score_events.py"


rule detections:
    input:
        expand("detections/{stage}/events.csv", stage=STAGES),
        expand("detections/{stage}/raven", stage=STAGES),
        expand("detections/{stage}/all.selections.txt", stage=STAGES),
        (
            expand("detections/{stage}/event_scores.csv", stage=STAGES)
            if HAS_TEST_TRUTH
            else []
        ),
    localrule: True
