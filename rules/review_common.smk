# Helper functions of rules/review.smk (the review loop, docs/review.md): where a run's verdict
# tables are, and which tp/fp tables each round trains on.

REVIEW = config["review"]
# review.verdicts: {folder}/{stage}/*.csv or *.txt, filled-in queues; null: off, and the
# rounds read data.dir's tp/fp as without this file (no job added, nothing reruns).
VERDICTS = os.path.normpath(REVIEW["verdicts"]) if REVIEW["verdicts"] else None
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


def all_verdicts(wildcards=None):
    """Every stage's verdict files (review/thresholds.csv's input); refused with none set."""
    if VERDICTS is None:
        raise ValueError(
            "review/thresholds.csv is fitted to verdicts: set review.verdicts"
        )
    return [f for s in STAGES for f in VERDICT_FILES.get(s, [])]
