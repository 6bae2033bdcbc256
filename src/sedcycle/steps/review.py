"""Steps of the review loop: a stage's review queue (csv, Raven table, audio clips), the
labels a round trains on (tp/fp plus the verdicts of the stages before it), and the detection
thresholds fitted to every verdict.

A verdict file's stage is the name of its folder (``{review.verdicts}/{stage}/``), and a
stage's queue is ``review/{stage}/queue.csv``: the steps take both by path.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sedcycle import review
from sedcycle.events import species_bands
from sedcycle.files import write_csv
from sedcycle.labels import read_annotations
from sedcycle.pseudo import out_of_fold_scores
from sedcycle.steps.data import MANIFEST
from sedcycle.tables import species_names


def read_queue(path: str | Path) -> pd.DataFrame:
    queue = pd.read_csv(path, dtype={"recording_id": str, "item": str, "verdict": str})
    return queue.fillna({"verdict": ""})


def stage_verdicts(verdict_files: Sequence[str], queues: Sequence[str]) -> pd.DataFrame:
    """Every verdict of the files, each read against its stage's queue (the stage: the
    file's folder name; the queue: the one of ``queues`` in ``review/{stage}/``)."""
    queue_of = {Path(q).parent.name: q for q in queues}
    by_stage: dict[str, list[str]] = {}
    for path in verdict_files:
        by_stage.setdefault(Path(path).parent.name, []).append(path)
    tables = []
    for stage, files in sorted(by_stage.items()):
        if stage not in queue_of:
            raise ValueError(f"{files[0]}: no review queue of stage {stage} among {list(queues)}")
        queue = read_queue(queue_of[stage])
        found = review.read_stage_verdicts(files, queue, stage, queue_of[stage])
        counts = found["verdict"].value_counts().to_dict()
        print(
            f"{stage}: {len(found)} verdict(s) in {len(files)} file(s): {counts}", file=sys.stderr
        )
        tables.append(found)
    if not tables:
        return pd.DataFrame(columns=[*review.QUEUE_COLUMNS, "source", "stage"])
    return pd.concat(tables, ignore_index=True)


def review_queue(
    predictions: Sequence[str],
    folds: str,
    features: str,
    tp: str,
    fp: str,
    queue: str,
    *,
    stage: str,
    n_species: int,
    clip_seconds: float,
    window: int,
    sample_rate: int,
    budget: int,
    strategies: dict[str, float],
    threshold: float,
    seed: int,
    audio: str | None = None,
    species_csv: str | None = None,
    verdicts: Sequence[str] = (),
    queues: Sequence[str] = (),
    selections: str | None = None,
) -> None:
    """The review queue of one stage: ``review.budget`` items of its out-of-fold window scores
    on the train recordings (:func:`sedcycle.review.select`), none overlapping a tp or fp row
    or an item of an earlier stage's ``verdicts`` (read against their ``queues``).

    predictions: fold k's window scores of every train recording, k = 0, 1, ...; features: the
    train features folder (its manifest gives the frames a clip). Writes ``queue`` (csv);
    with ``audio`` (the train audio folder) also ``selections``, a Raven selection table over
    the recordings' audio (spans capped to each recording's duration). Without audio
    (data.source npz) the csv alone: asking for the table raises ValueError.
    """
    if audio is None and selections:
        raise ValueError(
            "the review queue's Raven table needs the train audio; data.source npz has none "
            "(the queue csv alone is written)"
        )
    manifest = pd.read_csv(Path(features) / MANIFEST, dtype={"recording_id": str})
    n_frames = int(manifest["n_frames"].iloc[0])
    fold_of = pd.read_csv(folds, dtype={"recording_id": str}).set_index("recording_id")["fold"]
    scores = out_of_fold_scores([pd.read_parquet(p) for p in predictions], fold_of)
    tp_rows = read_annotations(tp, n_species, clip_seconds)
    fp_rows = read_annotations(fp, n_species, clip_seconds)
    earlier = stage_verdicts(verdicts, queues)
    exclude = pd.concat(
        [
            tp_rows[["recording_id", "species_id", "t_min", "t_max"]],
            fp_rows[["recording_id", "species_id", "t_min", "t_max"]],
            earlier[["recording_id", "species_id"]].assign(
                t_min=earlier["begin"].astype(float), t_max=earlier["end"].astype(float)
            ),
        ],
        ignore_index=True,
    )
    files, info = {}, {}
    if audio is not None:
        import soundfile as sf

        from sedcycle.recordings import audio_files

        files = audio_files(audio)
        missing = sorted(set(scores["recording_id"]) - set(files))
        if missing:
            raise ValueError(f"{audio}: no audio file of train recording(s) {missing[:10]}")
        for rec in sorted(set(scores["recording_id"])):
            info[rec] = sf.info(files[rec])
    durations = {rec: i.duration for rec, i in info.items()} if info else None
    pool = review.candidates(
        scores,
        n_frames=n_frames,
        window=window,
        clip_seconds=clip_seconds,
        exclude=exclude,
        durations=durations,
    )
    print(
        f"{stage}: {len(pool)} candidate items ({len(scores)} windows x {n_species} species, "
        f"{len(exclude)} labelled spans excluded)",
        file=sys.stderr,
    )
    chosen = review.select(pool, budget, strategies, threshold, seed)
    names = species_names(n_species, species_csv)
    bands = species_bands(tp_rows, n_species, sample_rate)
    table = review.make_queue(chosen, stage, names, bands)
    print(f"{stage}: {table['strategy'].value_counts().to_dict()}", file=sys.stderr)
    if audio is not None:
        from sedcycle.raven import write_selection_table

        recs = sorted(set(table["recording_id"]))
        write_selection_table(
            table,
            selections,
            durations={rec: info[rec].duration for rec in recs},
            audio_paths={rec: str(files[rec].resolve()) for rec in recs},
            sample_rate=max(info[rec].samplerate for rec in recs) if recs else sample_rate,
            extra_columns=("item", "score", "strategy", "verdict"),
        )
    write_csv(table, queue, index=False)


def review_clips(queue: str, audio: str, clips: str, *, clip_padding: float) -> None:
    """``clips/{item}.wav`` for every item of a review queue: its span +- ``clip_padding``
    seconds of its train recording's audio (cut to the recording), at the file's own rate
    and channels. The folder appears whole or not at all (written beside it, then renamed)."""
    import soundfile as sf
    from tqdm import tqdm

    from sedcycle.recordings import audio_files

    table = read_queue(queue)
    files = audio_files(audio)
    missing = sorted(set(table["recording_id"]) - set(files))
    if missing:
        raise ValueError(f"{audio}: no audio file of queued recording(s) {missing[:10]}")
    out = Path(clips)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for row in tqdm(table.itertuples(), total=len(table), desc="clips", file=sys.stderr):
            path = files[row.recording_id]
            rate = sf.info(path).samplerate
            start = max(int((row.begin - clip_padding) * rate), 0)
            stop = int(round((row.end + clip_padding) * rate))
            wave, rate = sf.read(path, start=start, stop=stop, dtype="float32", always_2d=True)
            sf.write(tmp / f"{row.item}.wav", wave, rate, subtype="PCM_16")
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def review_labels(
    tp: str,
    fp: str,
    tp_out: str,
    fp_out: str,
    *,
    n_species: int,
    clip_seconds: float,
    verdicts: Sequence[str] = (),
    queues: Sequence[str] = (),
) -> None:
    """The tp and fp tables a round trains on: the data's rows, then the tp (fp) verdicts of
    the stages before it as tp (fp) rows (:data:`sedcycle.review.LABEL_COLUMNS`: the RFCx
    columns, then stage, item, strategy, score). ``unsure`` verdicts are left out."""
    found = stage_verdicts(verdicts, queues)
    for path, kind, out in ((tp, "tp", tp_out), (fp, "fp", fp_out)):
        data = read_annotations(path, n_species, clip_seconds)
        table = review.with_verdicts(data, found, kind)
        print(
            f"{out}: {len(data)} rows of {path} + {len(table) - len(data)} {kind} verdict(s)",
            file=sys.stderr,
        )
        write_csv(table, out, index=False)


def review_thresholds(
    out: str,
    detections_out: str | None = None,
    *,
    n_species: int,
    target_precision: float,
    default_threshold: float,
    verdicts: Sequence[str] = (),
    queues: Sequence[str] = (),
) -> None:
    """review/thresholds.csv: each species' start threshold fitted to its tp and fp verdicts
    of every stage (the score: the item's out-of-fold score in its stage's queue); see
    :func:`sedcycle.review.fit_threshold`. ``detections_out``: the species fitted alone
    (species_id,start_threshold), for the detections' thresholds."""
    found = stage_verdicts(verdicts, queues)
    table = review.thresholds(found, n_species, target_precision, default_threshold)
    for row in table.itertuples():
        print(
            f"species {row.species_id}: {row.start_threshold:.4f} ({row.method}, "
            f"{row.n_tp} tp of {row.n_verdicts})",
            file=sys.stderr,
        )
    write_csv(table, out, index=False)
    if detections_out:
        write_csv(review.fitted_thresholds(table), detections_out, index=False)
