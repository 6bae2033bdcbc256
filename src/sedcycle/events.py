"""Events from framewise scores, and event-level scores against truth events.

A clip's framewise scores [n_species, n_frames] become events by hysteresis, per species:

1. an event starts at a frame whose score is >= the species' start threshold and goes on
   while the score stays >= its stop threshold (stop <= start); frames before the first
   frame >= start are not part of it, even when they are >= stop;
2. events of one species separated by a gap shorter than ``min_gap`` seconds are merged
   (the gap's frames become part of the event);
3. events shorter than ``min_duration`` seconds are dropped.

Frame i covers [i, i + 1) * frame_seconds, with frame_seconds = clip_seconds / n_frames. An
event's max_score and mean_score are the max and mean of its species' scores over its frames.

Event-level scoring matches predicted and truth events one to one, greedily by IoU (time
intersection over union): pairs of the same recording and species that pass the criterion,
best IoU first (then the closer onset), each event in at most one pair. Criteria:

- ``onset``: |predicted begin - truth begin| <= onset_tolerance seconds;
- ``iou``: IoU >= 0.5.

precision = tp / n_pred, recall = tp / n_truth, f1 = 2 tp / (n_pred + n_truth) (NaN where
the denominator is 0).

:func:`stage_clip_scores` runs fold models over test clips and yields each clip's framewise
scores as soon as they are complete, so a split's framewise scores are never all in memory.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sedcycle.labels import check_columns, check_species, fail_rows, read_annotations

EVENT_COLUMNS = ["recording_id", "species_id", "begin", "end", "max_score", "mean_score"]
TRUTH_COLUMNS = ["recording_id", "species_id", "t_min", "t_max"]
THRESHOLD_COLUMNS = ("start_threshold", "stop_threshold")
CRITERIA = ("onset", "iou")
IOU_MIN = 0.5
SCORE_COLUMNS = [
    "criterion",
    "species",
    "n_truth",
    "n_pred",
    "tp",
    "precision",
    "recall",
    "f1",
]


@dataclass(frozen=True)
class Thresholds:
    """Per-species start and stop thresholds (arrays [n_species])."""

    start: np.ndarray
    stop: np.ndarray


def check_threshold_pair(start: float, stop: float, where: str) -> None:
    """start in (0, 1], stop in (0, start]; ValueError naming ``where`` otherwise."""
    if not (math.isfinite(start) and 0 < start <= 1):
        raise ValueError(f"{where}: start threshold {start} is not in (0, 1]")
    if not (math.isfinite(stop) and 0 < stop <= start):
        raise ValueError(f"{where}: stop threshold {stop} is not in (0, start threshold {start}]")


def default_thresholds(n_species: int, start: float, stop: float) -> Thresholds:
    """Every species' thresholds ``start`` and ``stop``."""
    check_threshold_pair(start, stop, "detections.start_threshold / stop_threshold")
    return Thresholds(np.full(n_species, float(start)), np.full(n_species, float(stop)))


def read_thresholds(
    paths: Sequence[str | Path], n_species: int, start: float, stop: float
) -> Thresholds:
    """Thresholds of every species: ``start``/``stop`` by default, then each csv's rows
    (``species_id,start_threshold[,stop_threshold]``) in order, a later file overriding an
    earlier one for the species it names. A row without a stop threshold (no column or an
    empty cell) stops at min(``stop``, its start threshold).

    Raises ValueError naming the file and line of an unknown species id, a species listed
    twice in one file, or a threshold that is not a number in (0, 1] with stop <= start.
    """
    thresholds = default_thresholds(n_species, start, stop)
    starts, stops = thresholds.start.copy(), thresholds.stop.copy()
    for path in paths:
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise ValueError(f"{path}: cannot read the thresholds table ({error})") from error
        table.columns = [c.strip() for c in table.columns]
        check_columns(table, path, ["species_id", "start_threshold"])
        unknown = [c for c in table.columns if c not in ("species_id", *THRESHOLD_COLUMNS)]
        if unknown:
            raise ValueError(
                f"{path}: unknown column(s) {unknown}; expected species_id,start_threshold"
                "[,stop_threshold]"
            )
        species = pd.to_numeric(table["species_id"].str.strip(), errors="coerce")
        check_species(path, species, n_species)
        fail_rows(path, species.duplicated(), "species_id listed twice")
        for line, (species_id, row) in enumerate(
            zip(species.astype(int), table.to_dict("records"), strict=True), start=2
        ):
            where = f"{path}: line {line}"
            begin = _threshold(row["start_threshold"], "start_threshold", where)
            given = (row.get("stop_threshold") or "").strip()
            end = _threshold(given, "stop_threshold", where) if given else min(stop, begin)
            check_threshold_pair(begin, end, where)
            starts[species_id], stops[species_id] = begin, end
    return Thresholds(starts, stops)


def _threshold(value: str, column: str, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {column} {value!r} is not a number") from None


def hysteresis(scores: np.ndarray, start: float, stop: float) -> list[tuple[int, int]]:
    """Frame spans [first, last + 1) of one species' scores [n_frames]: from a frame >= start
    on, while frames stay >= stop (stop <= start)."""
    scores = np.asarray(scores)
    above_stop = np.concatenate([[False], scores >= stop, [False]]).astype(np.int8)
    edges = np.diff(above_stop)
    run_starts, run_ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    onsets = np.flatnonzero(scores >= start)
    # the first frame >= start in each run of frames >= stop (if any) begins an event there
    first = np.searchsorted(onsets, run_starts)
    spans = []
    for k, run_end in zip(first, run_ends, strict=True):
        if k < len(onsets) and onsets[k] < run_end:
            spans.append((int(onsets[k]), int(run_end)))
    return spans


def merge_spans(spans: list[tuple[int, int]], max_gap_frames: float) -> list[tuple[int, int]]:
    """Spans (sorted) joined where the gap between them is < ``max_gap_frames`` frames."""
    merged: list[tuple[int, int]] = []
    for first, stop in spans:
        if merged and first - merged[-1][1] < max_gap_frames:
            merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((first, stop))
    return merged


def clip_events(
    recording_id: str,
    scores: np.ndarray,
    clip_seconds: float,
    thresholds: Thresholds,
    min_duration: float = 0.0,
    min_gap: float = 0.0,
) -> pd.DataFrame:
    """Events (:data:`EVENT_COLUMNS`, by species then begin) of one clip's framewise scores
    [n_species, n_frames]; see the module docstring."""
    scores = np.asarray(scores, dtype=np.float64)
    n_species, n_frames = scores.shape
    if len(thresholds.start) != n_species:
        raise ValueError(
            f"{recording_id}: {n_species} species of scores, thresholds for {len(thresholds.start)}"
        )
    frame_seconds = clip_seconds / n_frames
    rows = []
    for species in range(n_species):
        spans = hysteresis(scores[species], thresholds.start[species], thresholds.stop[species])
        # gaps and durations in seconds, compared in frames (exact for whole frames)
        spans = merge_spans(spans, min_gap / frame_seconds - 1e-9)
        for first, stop in spans:
            if (stop - first) * frame_seconds < min_duration - 1e-9:
                continue
            frames = scores[species, first:stop]
            rows.append(
                (
                    recording_id,
                    species,
                    first * frame_seconds,
                    stop * frame_seconds,
                    float(frames.max()),
                    float(frames.mean()),
                )
            )
    return events_table(rows)


def events_table(rows=()) -> pd.DataFrame:
    """An events table of :data:`EVENT_COLUMNS` and their dtypes (also without rows)."""
    table = pd.DataFrame(list(rows), columns=EVENT_COLUMNS)
    return table.astype(
        {
            "recording_id": object,
            "species_id": np.int64,
            "begin": float,
            "end": float,
            "max_score": float,
            "mean_score": float,
        }
    )


def species_bands(tp: pd.DataFrame, n_species: int, sample_rate: float) -> np.ndarray:
    """[n_species, 2] (low, high) Hz of each species: min f_min and max f_max of its tp rows
    (read by :func:`sedcycle.labels.read_annotations`), (0, sample_rate / 2) without any."""
    bands = np.tile([0.0, sample_rate / 2], (n_species, 1))
    for species, rows in tp.groupby("species_id"):
        bands[int(species)] = (rows["f_min"].min(), rows["f_max"].max())
    return bands


def read_species_bands(
    tp_csv: str | Path, n_species: int, clip_seconds: float, sample_rate: float
) -> np.ndarray:
    """:func:`species_bands` of a train_tp.csv (each row checked)."""
    return species_bands(read_annotations(tp_csv, n_species, clip_seconds), n_species, sample_rate)


def read_truth_events(path: str | Path, n_species: int) -> pd.DataFrame:
    """Truth events (recording_id, species_id, begin, end) of a truth csv with
    recording_id,species_id,t_min,t_max; ValueError naming the file and lines of bad rows."""
    table = pd.read_csv(path, dtype={"recording_id": str})
    check_columns(table, path, TRUTH_COLUMNS)
    times = table[["t_min", "t_max"]].apply(pd.to_numeric, errors="coerce")
    fail_rows(path, times.isna().any(axis=1), "t_min or t_max is not a number")
    fail_rows(path, times["t_min"] >= times["t_max"], "t_min is not before t_max")
    species = pd.to_numeric(table["species_id"], errors="coerce")
    check_species(path, species, n_species)
    return pd.DataFrame(
        {
            "recording_id": table["recording_id"].astype(str),
            "species_id": species.astype(np.int64),
            "begin": times["t_min"].astype(float),
            "end": times["t_max"].astype(float),
        }
    )


def iou(a_begin: float, a_end: float, b_begin: float, b_end: float) -> float:
    """Intersection over union of two time spans."""
    inter = max(0.0, min(a_end, b_end) - max(a_begin, b_begin))
    union = max(a_end, b_end) - min(a_begin, b_begin)
    return inter / union if union > 0 else 0.0


def match_events(
    pred: pd.DataFrame, truth: pd.DataFrame, criterion: str, onset_tolerance: float = 0.5
) -> list[tuple[int, int]]:
    """One-to-one matches (prediction row, truth row), positions in the tables; both have
    recording_id, species_id, begin, end. Pairs of one recording and species that pass
    ``criterion`` (onset: |begin difference| <= onset_tolerance; iou: IoU >= 0.5) are taken
    greedily by IoU, highest first (ties: smaller onset difference, then row order)."""
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; expected one of {CRITERIA}")
    truth_groups = truth.groupby(["recording_id", "species_id"], sort=False).indices
    candidates = []
    pred_groups = pred.groupby(["recording_id", "species_id"], sort=False).indices
    for key, pred_rows in pred_groups.items():
        truth_rows = truth_groups.get(key)
        if truth_rows is None:
            continue
        for p in pred_rows:
            pb, pe = pred["begin"].iat[p], pred["end"].iat[p]
            for t in truth_rows:
                tb, te = truth["begin"].iat[t], truth["end"].iat[t]
                overlap, onset = iou(pb, pe, tb, te), abs(pb - tb)
                if criterion == "onset" and onset > onset_tolerance + 1e-9:
                    continue
                if criterion == "iou" and overlap < IOU_MIN - 1e-9:
                    continue
                candidates.append((-overlap, onset, int(p), int(t)))
    matches, used_pred, used_truth = [], set(), set()
    for _, _, p, t in sorted(candidates):
        if p in used_pred or t in used_truth:
            continue
        used_pred.add(p)
        used_truth.add(t)
        matches.append((p, t))
    return sorted(matches)


def _ratio(a: int, b: int) -> float:
    return a / b if b else math.nan


def score_events(
    pred: pd.DataFrame,
    truth: pd.DataFrame,
    species_names: Sequence[str],
    onset_tolerance: float = 0.5,
) -> pd.DataFrame:
    """Event precision, recall and F1 (:data:`SCORE_COLUMNS`) for each criterion, over all
    species (species ``all``) and per species (its name, species_id order)."""
    if "all" in species_names:
        raise ValueError("a species named 'all' cannot be told from the all-species rows")
    pred = pred.reset_index(drop=True)
    truth = truth.reset_index(drop=True)
    rows = []
    for criterion in CRITERIA:
        matches = match_events(pred, truth, criterion, onset_tolerance)
        matched_species = pred["species_id"].to_numpy()[[p for p, _ in matches]]
        groups = [("all", None)] + list(enumerate(species_names))
        for item in groups:
            name, species = (item[0], None) if item[1] is None else (item[1], item[0])
            n_truth = len(truth) if species is None else int((truth["species_id"] == species).sum())
            n_pred = len(pred) if species is None else int((pred["species_id"] == species).sum())
            tp = len(matches) if species is None else int((matched_species == species).sum())
            rows.append(
                (
                    criterion,
                    name,
                    n_truth,
                    n_pred,
                    tp,
                    _ratio(tp, n_pred),
                    _ratio(tp, n_truth),
                    _ratio(2 * tp, n_pred + n_truth),
                )
            )
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def stage_clip_scores(
    models: list,
    store,
    recording_ids: list[str],
    window: int,
    cover: int,
    batch_size: int = 64,
    amp: str = "none",
    progress: bool = True,
) -> Iterator[tuple[str, np.ndarray]]:
    """(recording_id, framewise scores [n_species, n_frames]) of each clip, in order: the
    mean over ``models`` of sigmoid(framewise logits), each model's scores of a frame being
    the max over the windows (``window`` frames overlapping by ``cover``) that cover it, as
    :func:`sedcycle.predict.framewise_clip` computes them for the report's figure.

    Windows of consecutive clips share batches of ``batch_size`` (the last one padded, as
    :func:`sedcycle.predict.predict_windows` does); a clip is yielded, and its scores
    dropped, as soon as its last window is scored.
    """
    import torch
    from tqdm import tqdm

    from sedcycle.windows import window_positions

    n_species = models[0].n_species
    devices = [next(model.parameters()).device for model in models]
    for model in models:
        model.eval()
    jobs = []  # (recording index, start frame, last window of the clip?)
    frames = []
    for index, rec in enumerate(recording_ids):
        n_frames = store.n_frames(rec)
        frames.append(n_frames)
        positions = window_positions(n_frames, window, cover)
        jobs += [(index, int(s), k == len(positions) - 1) for k, (s, _) in enumerate(positions)]
    pending: dict[int, np.ndarray] = {}  # recording index -> per-model scores
    bar = tqdm(
        total=len(recording_ids),
        desc="framewise",
        disable=not progress,
        file=sys.stderr,
        mininterval=5,
        ascii=True,
        unit="clip",
    )
    with bar, torch.inference_mode():
        for first in range(0, len(jobs), batch_size):
            batch = jobs[first : first + batch_size]
            windows = [store.window(recording_ids[i], start, window) for i, start, _ in batch]
            padding = [np.zeros_like(windows[0])] * (batch_size - len(batch))
            x = torch.from_numpy(np.stack(windows + padding))
            probs = []
            for model, device in zip(models, devices, strict=True):
                with torch.autocast(device.type, torch.bfloat16, enabled=amp == "bf16"):
                    framewise = model(x.to(device))["framewise"].float()
                probs.append(torch.sigmoid(framewise[: len(batch)]).cpu().numpy())
            for row, (index, start, last) in enumerate(batch):
                n_frames = frames[index]
                if index not in pending:
                    pending[index] = np.zeros((len(models), n_species, n_frames), np.float32)
                stop = min(start + window, n_frames)
                span = pending[index][:, :, start:stop]
                for m, model_probs in enumerate(probs):
                    np.maximum(span[m], model_probs[row, :, : stop - start], out=span[m])
                if last:
                    scores = pending.pop(index).mean(axis=0)
                    bar.update(1)
                    yield recording_ids[index], scores
