# scores.json / scores.csv: every stage's OOF and test scores, the ensemble's test score, and
# each round's pseudo-label quality (against the hidden train truth where it exists).

ROUNDS = STAGES[1:]
# rounds that train on pseudo-labels (relabel.use_pseudo)
PSEUDO_ROUNDS = [s for s in ROUNDS if round_config(int(s[5:]))["use_pseudo"]]


rule collect_scores:
    input:
        stages=expand("scores/{stage}.json", stage=STAGES),
        ensemble="predictions/ensemble/test.parquet",
        test_truth=[TEST_TRUTH] if HAS_TEST_TRUTH else [],
        train_truth=[TRAIN_TRUTH] if HAS_TRAIN_TRUTH else [],
        pseudo=[f"pseudo/{stage}.parquet" for stage in PSEUDO_ROUNDS],
        # the windows each round's pseudo-labels were chosen from
        pseudo_windows=[
            f"predictions/{previous_stage(stage[5:])}/fold0_train.parquet"
            for stage in PSEUDO_ROUNDS
        ],
        tp=f"{DATA}/train_tp.csv",
        # with folds.csv and each round's training settings: the crops each fold trained on,
        # replayed for the pseudo-labels' crop-level precision
        fp=f"{DATA}/train_fp.csv",
        folds="folds.csv",
        features="features/train",
    output:
        json="scores.json",
        csv="scores.csv",
    log:
        "logs/collect_scores.log",
    benchmark:
        "benchmarks/collect_scores.tsv"
    localrule: True
    conda:
        "../envs/tables.yaml"
    params:
        stages=STAGES,
        pseudo_rounds=PSEUDO_ROUNDS,
        round_settings={
            stage: round_settings(int(stage[5:])) for stage in PSEUDO_ROUNDS
        },
        n_species=N_SPECIES,
        window=config["windows"]["window"],
        clip_seconds=CLIP_SECONDS,
    script:
        "../workflow/scripts/collect_scores.py"


# The figures of `snakemake --report report.html` (captions in report/).
rule report_figures:
    input:
        json="scores.json",
        csv="scores.csv",
        histories=expand(
            "models/{stage}/fold{fold}.history.csv", stage=STAGES, fold=FOLDS
        ),
    output:
        lwlrap=report(
            "figures/lwlrap.png", caption="../report/lwlrap.rst", category="Scores"
        ),
        species_ap=report(
            "figures/species_ap.png",
            caption="../report/species_ap.rst",
            category="Scores",
        ),
        pseudo=report(
            "figures/pseudo_labels.png",
            caption="../report/pseudo_labels.rst",
            category="Pseudo-labels",
        ),
        losses=report(
            "figures/loss_curves.png",
            caption="../report/loss_curves.rst",
            category="Training",
        ),
    log:
        "logs/report_figures.log",
    benchmark:
        "benchmarks/report_figures.tsv"
    conda:
        "../envs/tables.yaml"
    params:
        stages=STAGES,
    script:
        "../workflow/scripts/report_figures.py"


rule clip_figure:
    input:
        models=fold_models(STAGES[-1]),
        features="features/test",
        test_truth=[TEST_TRUTH] if HAS_TEST_TRUTH else [],
    output:
        report(
            "figures/test_clip.png",
            caption="../report/test_clip.rst",
            category="Predictions",
        ),
    log:
        "logs/clip_figure.log",
    benchmark:
        "benchmarks/clip_figure.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    params:
        window=config["windows"]["window"],
        cover=config["windows"]["test_cover"],
        clip_seconds=CLIP_SECONDS,
    script:
        "../workflow/scripts/clip_figure.py"
