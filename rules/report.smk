# scores.json: every stage's OOF and test scores, and the ensemble's test score.


rule scores:
    input:
        stages=expand("scores/{stage}.json", stage=STAGES),
        ensemble="predictions/ensemble/test.parquet",
        test_truth=[TEST_TRUTH] if HAS_TEST_TRUTH else [],
    output:
        "scores.json",
    log:
        "logs/scores.log",
    benchmark:
        "benchmarks/scores.tsv"
    conda:
        "../envs/tables.yaml"
    params:
        stages=STAGES,
        n_species=N_SPECIES,
    script:
        "../workflow/scripts/collect_scores.py"
