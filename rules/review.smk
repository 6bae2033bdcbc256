# The review loop (docs/review.md): a queue of each stage's findings for a person to check,
# the verdicts as tp/fp labels of the rounds after that stage, thresholds fitted to them.

REVIEW = config["review"]
# review.verdicts: {folder}/{stage}/*.csv or *.txt, filled-in queues; null: off, and the
# rounds read data.dir's tp/fp as without this file (no job added, nothing reruns).
VERDICTS = REVIEW["verdicts"].rstrip("/") if REVIEW["verdicts"] else None
VERDICT_SUFFIXES = (".csv", ".txt")


def found_verdicts():
    """Stage -> its verdict files, sorted; checked once when the Snakefile is read."""
    if VERDICTS is None:
        return {}
    if not os.path.isdir(VERDICTS):
        raise ValueError(f"config review.verdicts {VERDICTS}: no such folder")
    found = {}
    for name in sorted(os.listdir(VERDICTS)):
        path = os.path.join(VERDICTS, name)
        if name.startswith("."):
            continue
        if not os.path.isdir(path) or name not in STAGES:
            raise ValueError(
                f"config review.verdicts: {path} is not a stage folder of this run "
                f"({', '.join(STAGES)}); verdict tables go in {VERDICTS}/<stage>/"
            )
        files = []
        for file in sorted(os.listdir(path)):
            if file.startswith("."):
                continue
            if not file.lower().endswith(VERDICT_SUFFIXES):
                raise ValueError(
                    f"{os.path.join(path, file)}: not a verdict table (.csv: the queue's csv, "
                    f".txt: its Raven table)"
                )
            files.append(os.path.join(path, file))
        if files:
            found[name] = files
    return found


VERDICT_FILES = found_verdicts()


def stages_before(stage):
    """The stages before ``stage`` (stage1, round1, ...): whose verdicts it learns from."""
    if stage not in STAGES:
        raise ValueError(f"{stage} is not a stage of this run ({', '.join(STAGES)})")
    return STAGES[: STAGES.index(stage)]


def verdicts_before(stage):
    """The verdict files of the stages before ``stage``, in stage order."""
    return [f for s in stages_before(stage) for f in VERDICT_FILES.get(s, [])]


def queues_before(stage):
    """The queues those verdicts are read against: one per stage with verdict files."""
    return [f"review/{s}/queue.csv" for s in stages_before(stage) if s in VERDICT_FILES]


def round_labels(round_number, kind):
    """The tp or fp table round ``round_number`` trains on: data.dir's, or with verdicts of a
    stage before the round labels/round{r}_{kind}.csv (data.dir's rows + the verdicts).
    """
    if not verdicts_before(f"round{round_number}"):
        return f"{DATA}/train_{kind}.csv"
    return f"labels/round{round_number}_{kind}.csv"


def review_stages():
    """The stages the target `review` queues: every stage a round follows (stage1 alone when
    relabel.n_rounds is 0; its verdicts then feed no round)."""
    return STAGES[:-1] or STAGES


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


def all_verdicts(wildcards=None):
    if VERDICTS is None:
        raise ValueError(
            "review/thresholds.csv is fitted to verdicts: set review.verdicts"
        )
    return [f for s in STAGES for f in VERDICT_FILES.get(s, [])]


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
