"""Steps of detection: a stage's events on the test clips (events.csv and Raven selection
tables), and their event-level scores against the test truth.

Events come from :mod:`sedcycle.events` (framewise scores -> hysteresis events, scoring);
the tables from :func:`sedcycle.raven.write_selection_table`.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sedcycle.files import write_csv
from sedcycle.tables import species_names

DETECTION_COLUMNS = [
    "recording_id",
    "species_id",
    "species",
    "begin",
    "end",
    "low_freq",
    "high_freq",
    "max_score",
    "mean_score",
]
SCORE_EXTRAS = ["max_score", "mean_score"]  # the Raven tables' columns after Species
FLOAT_FORMAT = "%.6f"  # events.csv: the Raven tables' 6 decimals


def test_audio(audio_dir: str, recording_ids: list[str]) -> dict[str, str]:
    """Recording id -> absolute path of its audio file in ``audio_dir`` (the Raven tables'
    Begin Path); ValueError listing the recordings without one."""
    from sedcycle.recordings import audio_files

    try:
        files = audio_files(audio_dir)
    except ValueError as error:
        raise ValueError(
            f"{error}: the Raven tables name each test recording's audio file, so detections "
            "need the test audio"
        ) from error
    missing = [rec for rec in recording_ids if rec not in files]
    if missing:
        raise ValueError(
            f"{audio_dir}: no audio file for {len(missing)} test recording(s) with features, "
            f"e.g. {missing[:5]}"
        )
    return {rec: str(Path(files[rec]).resolve()) for rec in recording_ids}


def detect_events(
    model_paths: Sequence[str],
    features_dir: str,
    audio_dir: str,
    tp_csv: str,
    thresholds_csvs: Sequence[str],
    events_out: str,
    raven_dir: str,
    combined_out: str,
    *,
    n_species: int,
    clip_seconds: float,
    sample_rate: int,
    start_threshold: float,
    stop_threshold: float,
    min_duration: float,
    min_gap: float,
    window: int,
    cover: int,
    batch_size: int,
    amp: str,
    device: str,
    threads: int,
    species_csv: str | None = None,
) -> None:
    """Events of a stage's fold models on every test clip of ``features_dir``.

    Each clip's framewise scores (:func:`sedcycle.events.stage_clip_scores`: the mean over
    the models, the max over overlapping windows) become events as soon as they are
    computed (:func:`sedcycle.events.clip_events`, thresholds from ``thresholds_csvs``
    over the defaults). Writes ``events_out`` (:data:`DETECTION_COLUMNS`; a species' band is
    its train tp rows' span), one Raven table ``{recording_id}.selections.txt`` per recording
    with an event in ``raven_dir``, and the combined table ``combined_out`` (times cumulative
    over its recordings, in recording order).
    """
    import torch

    from sedcycle.clips import ClipStore
    from sedcycle.events import (
        clip_events,
        events_table,
        read_species_bands,
        read_thresholds,
        stage_clip_scores,
    )
    from sedcycle.predict import load_models
    from sedcycle.steps.data import feature_ids

    names = species_names(n_species, species_csv)
    thresholds = read_thresholds(thresholds_csvs, n_species, start_threshold, stop_threshold)
    bands = read_species_bands(tp_csv, n_species, clip_seconds, sample_rate)
    ids = feature_ids(features_dir)
    audio = test_audio(audio_dir, ids)
    torch.set_num_threads(threads)
    models = load_models(list(model_paths), device)
    if models[0].n_species != n_species:
        raise ValueError(
            f"{model_paths[0]}: the model scores {models[0].n_species} species, the run has "
            f"{n_species}"
        )
    print(
        f"{features_dir}: {len(ids)} test clips, {len(models)} fold model(s); thresholds "
        f"start {thresholds.start.tolist()} stop {thresholds.stop.tolist()}",
        file=sys.stderr,
    )
    found = [events_table()]
    if ids:
        store = ClipStore(features_dir, ids)
        for rec, scores in stage_clip_scores(models, store, ids, window, cover, batch_size, amp):
            found.append(clip_events(rec, scores, clip_seconds, thresholds, min_duration, min_gap))
    events = detection_table(pd.concat(found, ignore_index=True), names, bands)
    print(
        f"{len(events)} events in {events['recording_id'].nunique()} of {len(ids)} clips; "
        f"per species: {events['species'].value_counts().sort_index().to_dict()}",
        file=sys.stderr,
    )
    write_csv(events, events_out, index=False, float_format=FLOAT_FORMAT)
    write_raven_tables(events, raven_dir, combined_out, clip_seconds, audio, sample_rate)


def detection_table(events: pd.DataFrame, names: list[str], bands) -> pd.DataFrame:
    """events.csv's table of :func:`sedcycle.events.clip_events` rows: species names and
    bands added, sorted by recording, begin, species."""
    species = events["species_id"].to_numpy()
    table = events.assign(
        species=[names[s] for s in species],
        low_freq=bands[species, 0] if len(events) else [],
        high_freq=bands[species, 1] if len(events) else [],
    )
    table = table.sort_values(["recording_id", "begin", "species_id", "end"], kind="stable")
    return table[DETECTION_COLUMNS].reset_index(drop=True)


def write_raven_tables(
    events: pd.DataFrame,
    raven_dir: str,
    combined_out: str,
    clip_seconds: float,
    audio: dict[str, str],
    sample_rate: int,
) -> None:
    """One Raven table per recording with events in ``raven_dir`` (written in a temporary
    folder renamed at the end), and the combined table."""
    from sedcycle.raven import write_selection_table

    durations = dict.fromkeys(audio, float(clip_seconds))
    options = dict(
        durations=durations, audio_paths=audio, sample_rate=sample_rate, extra_columns=SCORE_EXTRAS
    )
    raven_dir = Path(raven_dir)
    tmp = raven_dir.with_name(f".{raven_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for rec, rows in events.groupby("recording_id", sort=True):
            write_selection_table(rows, tmp / f"{rec}.selections.txt", **options)
        if raven_dir.exists():
            shutil.rmtree(raven_dir)
        tmp.rename(raven_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_selection_table(events, combined_out, **options)
    print(f"{events['recording_id'].nunique()} Raven tables in {raven_dir}", file=sys.stderr)


def score_events(
    events_csv: str,
    truth_csv: str,
    scores_out: str,
    n_species: int,
    onset_tolerance: float,
    species_csv: str | None = None,
) -> None:
    """Event precision/recall/F1 of events.csv against the truth events (both criteria,
    overall and per species: :func:`sedcycle.events.score_events`)."""
    from sedcycle import events as ev

    names = species_names(n_species, species_csv)
    predicted = read_detections(events_csv)
    truth = ev.read_truth_events(truth_csv, n_species)
    scores = ev.score_events(predicted, truth, names, onset_tolerance)
    overall = scores[scores["species"] == "all"]
    print(overall.to_string(index=False), file=sys.stderr)
    write_csv(scores, scores_out, index=False)


def read_detections(path: str) -> pd.DataFrame:
    """An events.csv of :func:`detect_events` (recording ids as text)."""
    table = pd.read_csv(path, dtype={"recording_id": str, "species": str})
    missing = [c for c in DETECTION_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected {DETECTION_COLUMNS}")
    return table
