# The input data: the synthetic generator writes the RFCx layout into data.dir.

if SYNTHETIC:

    rule synthetic_data:
        output:
            train=directory(f"{DATA}/train"),
            test=directory(f"{DATA}/test"),
            tp=f"{DATA}/train_tp.csv",
            fp=f"{DATA}/train_fp.csv",
            sample=f"{DATA}/sample_submission.csv",
            train_truth=TRAIN_TRUTH,
            test_truth=TEST_TRUTH,
        log:
            "logs/synthetic_data.log",
        benchmark:
            "benchmarks/synthetic_data.tsv"
        conda:
            "../envs/audio.yaml"
        params:
            n_train=config["data"]["synthetic"]["n_train"],
            n_test=config["data"]["synthetic"]["n_test"],
            seed=config["data"]["synthetic"]["seed"],
            n_species=N_SPECIES,
            clip_seconds=CLIP_SECONDS,
        script:
            "../workflow/scripts/make_synthetic.py"
