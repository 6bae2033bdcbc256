# The input data: the synthetic generator, or annotated recordings cut into clips
# (data.annotated), write the RFCx layout into data.dir.

if SYNTHETIC:

    rule make_synthetic:
        output:
            train=directory(f"{DATA}/train"),
            test=directory(f"{DATA}/test"),
            tp=f"{DATA}/train_tp.csv",
            fp=f"{DATA}/train_fp.csv",
            sample=f"{DATA}/sample_submission.csv",
            train_truth=TRAIN_TRUTH,
            test_truth=TEST_TRUTH,
        log:
            "logs/make_synthetic.log",
        benchmark:
            "benchmarks/make_synthetic.tsv"
        localrule: True
        conda:
            "../envs/audio.yaml"
        # the share settings only when set: a run from before they existed keeps its params
        params:
            **{
                key: config["data"]["synthetic"][key]
                for key in ("tp_recording_fraction", "fp_only_recording_fraction")
                if config["data"]["synthetic"][key] is not None
            },
            n_train=config["data"]["synthetic"]["n_train"],
            n_test=config["data"]["synthetic"]["n_test"],
            seed=config["data"]["synthetic"]["seed"],
            tp_fraction=config["data"]["synthetic"]["tp_fraction"],
            fp_fraction=config["data"]["synthetic"]["fp_fraction"],
            fp_per_recording=config["data"]["synthetic"]["fp_per_recording"],
            n_species=N_SPECIES,
            clip_seconds=CLIP_SECONDS,
        script:
            "../workflow/scripts/make_synthetic.py"


# Recordings whose annotations name every species present (all_species negatives there).
FULLY_ANNOTATED = config["data"]["annotated"]["fully_annotated"]


if ANNOTATED:

    rule prepare_annotated:
        input:
            recordings=config["data"]["annotated"]["recordings"],
            annotations=config["data"]["annotated"]["annotations"],
            test_recordings=config["data"]["annotated"]["test_recordings"],
            fully_annotated=[FULLY_ANNOTATED] if FULLY_ANNOTATED else [],
        output:
            train=directory(f"{DATA}/train"),
            test=directory(f"{DATA}/test"),
            tp=f"{DATA}/train_tp.csv",
            fp=f"{DATA}/train_fp.csv",
            sample=f"{DATA}/sample_submission.csv",
            species=f"{DATA}/species.csv",
            clips=f"{DATA}/clips.csv",
        log:
            "logs/prepare_annotated.log",
        benchmark:
            "benchmarks/prepare_annotated.tsv"
        conda:
            "../envs/audio.yaml"
        threads: 2
        resources:
            mem_mb=4000,
        params:
            clip_seconds=CLIP_SECONDS,
            species_column=config["data"]["annotated"]["species_column"],
            negatives=config["data"]["annotated"]["negatives"],
            negative_margin=config["data"]["annotated"]["negative_margin"],
        script:
            "../workflow/scripts/prepare_annotated.py"


if ANNOTATED and TEST_ANNOTATIONS:

    # The test recordings' annotations, split into the clips prepare_annotated cut: a rule of
    # their own, so that adding or changing them reruns the scores, not the training.
    rule annotated_test_truth:
        input:
            test_annotations=TEST_ANNOTATIONS,
            test_recordings=config["data"]["annotated"]["test_recordings"],
            species=f"{DATA}/species.csv",
            clips=f"{DATA}/clips.csv",
        output:
            TEST_TRUTH,
        log:
            "logs/annotated_test_truth.log",
        benchmark:
            "benchmarks/annotated_test_truth.tsv"
        localrule: True
        conda:
            "../envs/audio.yaml"
        params:
            clip_seconds=CLIP_SECONDS,
            species_column=config["data"]["annotated"]["species_column"],
        script:
            "../workflow/scripts/annotated_test_truth.py"
