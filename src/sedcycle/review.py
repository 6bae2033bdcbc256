"""The review loop: a queue of the model's findings for a person to check, the verdicts read
back as tp/fp labels, and per-species detection thresholds fitted to the verdicts.

Candidates are (recording, window, species) of a stage's out-of-fold window scores on the
train recordings, the window's span in seconds; a (recording, species) window that overlaps
a tp or fp row, or an item of an earlier stage's verdicts, is no candidate. :func:`select`
draws the queue from them with a mix of strategies (:data:`STRATEGIES`):

- ``top``: the highest scores;
- ``margin``: the scores closest to the threshold;
- ``stratified``: equal numbers from :data:`N_BINS` fixed score bins of equal width on
  [0, 1] ([0, 0.2), [0.2, 0.4), ..., [0.8, 1]), at random within a bin; a bin with too few
  candidates leaves its share to the others (one from each bin in turn, highest bin first);
- ``random``: uniformly at random.

Verdicts (:data:`VERDICTS`): ``tp`` (the species calls in the span), ``fp`` (it does not),
``unsure`` (no label). :func:`fit_threshold` fits P(tp | score) by a 1-D logistic regression
(Newton / IRLS) and takes the lowest score whose fitted probability reaches the target
precision.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sedcycle.labels import ANNOTATION_COLUMNS

STRATEGIES = ("top", "margin", "stratified", "random")
VERDICTS = ("tp", "fp", "unsure")
N_BINS = 5
QUEUE_COLUMNS = [
    "item",
    "recording_id",
    "species_id",
    "species",
    "begin",
    "end",
    "low_freq",
    "high_freq",
    "score",
    "strategy",
    "verdict",
]
# what a verdict row adds to the RFCx columns in the round's labels files
LABEL_COLUMNS = [*ANNOTATION_COLUMNS, "stage", "item", "strategy", "score"]
SONGTYPE = 1  # verdict rows' songtype_id (RFCx's common song type; training ignores it)
THRESHOLD_COLUMNS = ["species_id", "start_threshold", "n_verdicts", "n_tp", "method"]
MIN_VERDICTS = 4  # fewer verdicts (tp + fp) of a species: the default threshold
# fit_threshold's methods of a species that keeps the default threshold, one per reason
DEFAULT_REASONS = (
    "default: too_few_verdicts",
    "default: only_tp",
    "default: only_fp",
    "default: score_not_increasing",
    "default: below_verdict_scores",
    "default: target_not_reached",
    "default: too_uncertain",
)
MIN_THRESHOLD = 0.01  # the lowest start threshold (0 would start an event at every frame)
# the largest standard error of a fitted threshold (delta method): a fit less sure than about
# +-0.2 (two standard errors) on the score scale keeps the default threshold
MAX_THRESHOLD_SE = 0.1
RIDGE = 1e-3  # fit_logistic's penalty on the slope
SPAN_TOLERANCE = 1e-3  # seconds: a verdict file's begin/end against the queue's


def window_seconds(frame: np.ndarray | float, n_frames: int, clip_seconds: float) -> np.ndarray:
    """Seconds of frame positions, the inverse of :func:`sedcycle.labels.time_to_frame`."""
    return np.asarray(frame, dtype=np.float64) * clip_seconds / n_frames


def candidates(
    scores: pd.DataFrame,
    *,
    n_frames: int,
    window: int,
    clip_seconds: float,
    exclude: pd.DataFrame | None = None,
    durations: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Every (recording, window, species) of out-of-fold window scores as a candidate item.

    scores: recording_id, window, start (frame), s0..s{n-1}. A window spans
    [start, start + window) frames, in seconds (end capped to the clip, or to the
    recording's duration in ``durations`` where the audio is shorter; a window starting past
    it is left out). ``exclude``: rows recording_id, species_id, t_min, t_max (tp, fp, earlier
    verdicts); a candidate of that recording and species whose span overlaps one (begin < t_max
    and t_min < end) is left out. Returns recording_id, species_id, begin, end, score.
    """
    columns = [c for c in scores.columns if c.startswith("s") and c[1:].isdigit()]
    if not columns:
        raise ValueError("window scores without species columns s0..s{n-1}")
    recs = scores["recording_id"].astype(str).to_numpy()
    begin = window_seconds(scores["start"].to_numpy(), n_frames, clip_seconds)
    end = np.minimum(
        window_seconds(scores["start"].to_numpy() + window, n_frames, clip_seconds), clip_seconds
    )
    if durations is not None:
        limit = np.array([min(durations[r], clip_seconds) for r in recs])
        end = np.minimum(end, limit)
    n = len(columns)
    table = pd.DataFrame(
        {
            "recording_id": np.repeat(recs, n),
            "species_id": np.tile(np.array([int(c[1:]) for c in columns]), len(recs)),
            "begin": np.repeat(begin, n),
            "end": np.repeat(end, n),
            "score": scores[columns].to_numpy(dtype=np.float64).reshape(-1),
        }
    )
    keep = table["begin"].to_numpy() < table["end"].to_numpy()
    if exclude is not None and len(exclude):
        keep &= ~overlapping(table, exclude)
    return table[keep].reset_index(drop=True)


def strategy_counts(budget: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Items per strategy: ``budget`` split by the shares (any positive numbers, divided by
    their sum) with the largest remainders rounded up, ties to the earlier strategy of
    :data:`STRATEGIES`. Raises ValueError for an unknown strategy, a negative share, or no
    positive share."""
    unknown = sorted(set(shares) - set(STRATEGIES))
    if unknown:
        raise ValueError(f"review.strategies: unknown strategy {unknown}; known: {STRATEGIES}")
    if any(v < 0 for v in shares.values()):
        raise ValueError(f"review.strategies: shares must be >= 0, got {dict(shares)}")
    total = sum(shares.values())
    if total <= 0:
        raise ValueError(f"review.strategies: no positive share in {dict(shares)}")
    exact = {s: budget * shares.get(s, 0) / total for s in STRATEGIES}
    counts = {s: math.floor(v) for s, v in exact.items()}
    rest = budget - sum(counts.values())
    order = sorted(STRATEGIES, key=lambda s: (-(exact[s] - counts[s]), STRATEGIES.index(s)))
    for s in order[:rest]:
        counts[s] += 1
    return counts


def _ordered(pool: pd.DataFrame, key: np.ndarray) -> np.ndarray:
    """Pool indices by ``key`` ascending, ties by recording, begin, species (deterministic)."""
    frame = pool[["recording_id", "begin", "species_id"]].assign(_key=key)
    return frame.sort_values(["_key", "recording_id", "begin", "species_id"], kind="stable").index


def score_bin(score: np.ndarray) -> np.ndarray:
    """The stratified strategy's bin of each score: 0..N_BINS-1, equal widths on [0, 1]."""
    return np.clip((np.asarray(score) * N_BINS).astype(np.int64), 0, N_BINS - 1)


def pick(
    pool: pd.DataFrame, strategy: str, n: int, threshold: float, rng: np.random.Generator
) -> pd.Index:
    """The index labels of ``n`` items of ``pool`` (all of it when it is smaller) that
    ``strategy`` picks."""
    n = min(n, len(pool))
    if n <= 0:
        return pool.index[:0]
    score = pool["score"].to_numpy()
    if strategy == "top":
        return _ordered(pool, -score)[:n]
    if strategy == "margin":
        return _ordered(pool, np.abs(score - threshold))[:n]
    if strategy == "random":
        return pool.index[np.sort(rng.choice(len(pool), size=n, replace=False))]
    if strategy == "stratified":
        bins = score_bin(score)
        queues = [
            list(pool.index[rng.permutation(np.flatnonzero(bins == b))]) for b in range(N_BINS)
        ]
        chosen: list = []
        while len(chosen) < n:
            for b in reversed(range(N_BINS)):
                if queues[b] and len(chosen) < n:
                    chosen.append(queues[b].pop(0))
        return pd.Index(chosen)
    raise ValueError(f"unknown review strategy {strategy!r}; known: {STRATEGIES}")


def select(
    pool: pd.DataFrame,
    budget: int,
    shares: Mapping[str, float],
    threshold: float,
    seed: int,
) -> pd.DataFrame:
    """``budget`` items of the candidates ``pool`` (recording_id, species_id, begin, end,
    score), each strategy of :data:`STRATEGIES` in turn taking its count
    (:func:`strategy_counts`) from what the earlier ones left, so no item is chosen twice.
    Returns the chosen rows with a ``strategy`` column. Fewer candidates than the budget:
    all of them, and a line on stderr saying so. ``seed`` makes the draws repeatable."""
    counts = strategy_counts(budget, shares)
    rng = np.random.default_rng(seed)
    pool = pool.reset_index(drop=True)
    left = pool
    parts = []
    for strategy in STRATEGIES:
        chosen = pick(left, strategy, counts[strategy], threshold, rng)
        parts.append(pool.loc[chosen].assign(strategy=strategy))
        left = left.drop(index=chosen)
    queue = pd.concat(parts)
    if len(queue) < budget:
        print(
            f"review: {len(pool)} candidate(s), fewer than the budget of {budget}: the queue "
            f"has {len(queue)} item(s)",
            file=sys.stderr,
        )
    return queue.reset_index(drop=True)


def make_queue(
    chosen: pd.DataFrame, stage: str, species: Sequence[str], bands: np.ndarray
) -> pd.DataFrame:
    """The queue table (:data:`QUEUE_COLUMNS`) of the chosen items, sorted by recording,
    begin and species; item ids ``{stage}-{n:04d}`` in that order; verdict empty."""
    queue = chosen.sort_values(["recording_id", "begin", "species_id"], kind="stable")
    queue = queue.reset_index(drop=True)
    queue.insert(0, "item", [f"{stage}-{i:04d}" for i in range(1, len(queue) + 1)])
    queue["species"] = [species[s] for s in queue["species_id"]]
    # bands: [n_species, 2] (low, high) Hz, sedcycle.events.species_bands
    queue["low_freq"] = bands[queue["species_id"].to_numpy(), 0]
    queue["high_freq"] = bands[queue["species_id"].to_numpy(), 1]
    queue["verdict"] = ""
    return queue[QUEUE_COLUMNS]


def _cells(path: Path) -> pd.DataFrame:
    """A verdict file's cells as text (empty cells ""), header on line 1."""
    sep = "\t" if path.suffix.lower() == ".txt" else ","
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: empty file (no header)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{path}: not a readable {'tab' if sep == chr(9) else 'comma'}-separated table: {error}"
        ) from None


def _recording_of(cells: pd.DataFrame) -> pd.Series | None:
    """The recording each row names: recording_id, else Raven's Begin File (its stem)."""
    if "recording_id" in cells:
        return cells["recording_id"].str.strip()
    if "Begin File" in cells:
        return cells["Begin File"].str.strip().map(lambda name: Path(name).stem)
    return None


def read_verdicts(
    path: str | Path, queue: pd.DataFrame, queue_path: str | Path = "queue"
) -> pd.DataFrame:
    """The verdicts of one filled-in table (the queue's csv, or its Raven table: ``.txt``,
    tab-separated) checked against the stage's queue. Needs the columns ``item`` and
    ``verdict`` (tp / fp / unsure, case and spaces ignored).

    Raises ValueError naming the file and (1-based, header = line 1) line for: an item not in
    the queue, a recording that is not the queue's (unknown, or not the item's), a species
    or span other than the item's (the queue was rebuilt since the table was filled), a
    missing or empty verdict, a value other than tp/fp/unsure, an item twice. Returns the
    queue's rows of the file's items with its verdicts (the queue's columns, plus ``source``:
    "file: line N").
    """
    path = Path(path)
    cells = _cells(path)
    missing = [c for c in ("item", "verdict") if c not in cells.columns]
    if missing:
        raise ValueError(
            f"{path}: no column {missing}; a verdict table is the review queue's csv or Raven "
            f"table with its verdict column filled in"
        )
    by_item = queue.set_index("item")
    recordings = set(queue["recording_id"].astype(str))
    named = _recording_of(cells)
    seen: dict[str, int] = {}
    rows = []
    for i, row in cells.iterrows():
        line = i + 2
        where = f"{path}: line {line}"
        item = row["item"].strip()
        if item not in by_item.index:
            raise ValueError(f"{where}: item {item!r} is not in the queue {queue_path}")
        if item in seen:
            raise ValueError(f"{where}: item {item} again (first on line {seen[item]})")
        seen[item] = line
        expected = by_item.loc[item]
        if named is not None:
            rec = named[i]
            if rec not in recordings:
                raise ValueError(
                    f"{where}: unknown recording {rec!r} (not in the queue {queue_path})"
                )
            if rec != str(expected["recording_id"]):
                raise ValueError(
                    f"{where}: item {item} is recording {expected['recording_id']} in the queue "
                    f"{queue_path}, not {rec}"
                )
        _check_same_item(row, expected, where, item, queue_path)
        verdict = row["verdict"].strip().lower()
        if not verdict:
            raise ValueError(f"{where}: item {item} has no verdict (tp, fp or unsure)")
        if verdict not in VERDICTS:
            raise ValueError(
                f"{where}: verdict {row['verdict']!r} of item {item}: must be tp, fp or unsure"
            )
        rows.append({**expected.to_dict(), "item": item, "verdict": verdict, "source": where})
    columns = [*QUEUE_COLUMNS, "source"]
    return pd.DataFrame(rows, columns=columns)


def _check_same_item(
    row: pd.Series, expected: pd.Series, where: str, item: str, queue_path
) -> None:
    """A csv's species_id/begin/end (where it has them) must be the queue item's."""
    problem = None
    if "species_id" in row and row["species_id"].strip() != str(int(expected["species_id"])):
        problem = f"species_id {row['species_id']!r}, the queue {int(expected['species_id'])}"
    for column in ("begin", "end"):
        if problem is None and column in row:
            try:
                value = float(row[column])
            except ValueError:
                value = math.nan
            if not abs(value - float(expected[column])) <= SPAN_TOLERANCE:
                problem = f"{column} {row[column]!r}, the queue {float(expected[column]):.6f}"
    if problem:
        raise ValueError(
            f"{where}: item {item} differs from the queue {queue_path} ({problem}): was the "
            f"queue rebuilt (its stage's models changed) after this table was filled?"
        )


def read_stage_verdicts(
    files: Sequence[str | Path], queue: pd.DataFrame, stage: str, queue_path
) -> pd.DataFrame:
    """The verdicts of every file of one stage, each item at most once over all of them."""
    tables = [read_verdicts(f, queue, queue_path) for f in files]
    if not tables:
        return pd.DataFrame(columns=[*QUEUE_COLUMNS, "source", "stage"])
    verdicts = pd.concat(tables, ignore_index=True)
    twice = verdicts["item"].duplicated(keep="first")
    if twice.any():
        row = verdicts[twice].iloc[0]
        first = verdicts[verdicts["item"] == row["item"]].iloc[0]
        raise ValueError(f"{row['source']}: item {row['item']} again (first in {first['source']})")
    return verdicts.assign(stage=stage)


def verdict_labels(verdicts: pd.DataFrame, verdict: str) -> pd.DataFrame:
    """The rows of one verdict (tp or fp) as RFCx label rows (:data:`LABEL_COLUMNS`): t_min,
    t_max the item's span, f_min, f_max its band, songtype_id :data:`SONGTYPE`."""
    rows = verdicts[verdicts["verdict"] == verdict]
    table = pd.DataFrame(
        {
            "recording_id": rows["recording_id"].astype(str),
            "species_id": rows["species_id"].astype(int),
            "songtype_id": SONGTYPE,
            "t_min": rows["begin"].astype(float),
            "f_min": rows["low_freq"].astype(float),
            "t_max": rows["end"].astype(float),
            "f_max": rows["high_freq"].astype(float),
            "stage": rows["stage"],
            "item": rows["item"],
            "strategy": rows["strategy"],
            "score": rows["score"].astype(float),
        }
    )
    return table[LABEL_COLUMNS].reset_index(drop=True)


def with_verdicts(labels: pd.DataFrame, verdicts: pd.DataFrame, verdict: str) -> pd.DataFrame:
    """A tp or fp table (RFCx columns) followed by the verdict rows of that kind; the data's
    rows keep stage, item, strategy and score empty."""
    data = labels.copy()
    for column in LABEL_COLUMNS[len(ANNOTATION_COLUMNS) :]:
        if column not in data:
            data[column] = pd.NA
    added = verdict_labels(verdicts, verdict)
    if not len(added):
        return data.reset_index(drop=True)
    return pd.concat([data, added], ignore_index=True)


def overlapping(items: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """Per item (recording_id, species_id, begin, end): whether a row of ``rows``
    (recording_id, species_id, t_min, t_max) of its recording and species overlaps its span
    (t_min < end and begin < t_max)."""
    calls = rows[["recording_id", "species_id", "t_min", "t_max"]].astype(
        {"recording_id": str, "species_id": int}
    )
    pairs = (
        items[["recording_id", "species_id"]].astype({"recording_id": str}).reset_index(drop=True)
    )
    joined = pairs.reset_index().merge(calls, on=["recording_id", "species_id"])
    index = joined["index"].to_numpy()
    hit = (joined["t_min"].to_numpy() < items["end"].to_numpy()[index]) & (
        items["begin"].to_numpy()[index] < joined["t_max"].to_numpy()
    )
    found = np.zeros(len(items), dtype=bool)
    found[index[hit]] = True
    return found


def answer_from_truth(queue: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """A simulated reviewer (benchmarks, tests): each queue item's verdict is ``tp`` when its
    species has a call in ``truth`` (recording_id, species_id, t_min, t_max) overlapping the
    item's span (begin, end), else ``fp``; never ``unsure``. The queue is returned in its order
    with the verdict column filled."""
    return queue.assign(verdict=np.where(overlapping(queue, truth), "tp", "fp"))


def _logistic_terms(
    score: np.ndarray, beta: np.ndarray, ridge: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At (a, b) = ``beta``: the design matrix [1, score], the fitted P(tp | score), and the
    Hessian of the negative penalised log-likelihood (``ridge`` * b^2 / 2 on the slope)."""
    x = np.column_stack([np.ones(len(score)), np.asarray(score, dtype=np.float64)])
    p = 1.0 / (1.0 + np.exp(-(x @ beta)))
    return x, p, (x.T * (p * (1 - p))) @ x + np.diag([0.0, ridge])


def fit_logistic(
    score: np.ndarray, tp: np.ndarray, ridge: float = RIDGE, max_iter: int = 100
) -> tuple[float, float]:
    """Intercept a and slope b of P(tp | score) = sigmoid(a + b * score), fitted by Newton's
    method (IRLS) on the log-likelihood with a small ridge penalty ``ridge`` * b^2 / 2 on the
    slope, which keeps a separable set's fit finite (its slope then grows as the penalty
    shrinks). Raises ValueError when Newton's method does not converge."""
    y = np.asarray(tp, dtype=np.float64)
    beta = np.zeros(2)
    for _ in range(max_iter):
        x, p, hessian = _logistic_terms(score, beta, ridge)
        gradient = x.T @ (y - p) - ridge * np.array([0.0, beta[1]])
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            return float(beta[0]), float(beta[1])
    raise ValueError(f"logistic fit did not converge in {max_iter} Newton steps")


def threshold_se(
    score: np.ndarray, a: float, b: float, threshold: float, ridge: float = RIDGE
) -> float:
    """The standard error of the score ``threshold`` = (logit(target) - a) / b where the fit
    (a, b) of :func:`fit_logistic` on ``score`` reaches the target, by the delta method: the
    gradient of the threshold in (a, b), (-1, -threshold) / b, through the inverse of the
    penalised log-likelihood's Hessian at the fit (the estimate's covariance)."""
    hessian = _logistic_terms(score, np.array([a, b]), ridge)[2]
    gradient = np.array([-1.0, -threshold]) / b
    return float(math.sqrt(max(gradient @ np.linalg.solve(hessian, gradient), 0.0)))


def fit_threshold(
    score: np.ndarray, tp: np.ndarray, target_precision: float, default: float
) -> tuple[float, str]:
    """A species' start threshold from its verdicts (score, tp True / fp False).

    The threshold is the lowest score whose fitted P(tp | score) reaches ``target_precision``:
    (logit(target) - a) / b for the fit of :func:`fit_logistic`, and at least
    :data:`MIN_THRESHOLD`. It is the precision at the threshold (of items scored there), not of
    everything above it, which is higher. The fit is evidence only between the lowest and the
    highest verdict's score: a threshold outside them is an extrapolation (a queue of top
    scores alone, nearly all tp, fits a curve that reaches the target far below every score it
    saw), so the species keeps the default; so does a threshold whose standard error
    (:func:`threshold_se`) is above :data:`MAX_THRESHOLD_SE`: a few verdicts a species fit a
    curve whose crossing could lie almost anywhere.

    Returns (threshold, method): ``logistic``, or ``default`` and the reason in the method:
    ``too_few_verdicts`` (< :data:`MIN_VERDICTS` tp + fp), ``only_tp``, ``only_fp``,
    ``score_not_increasing`` (fitted slope <= 0: a higher score is no likelier a tp),
    ``below_verdict_scores`` (the fit reaches the target below the lowest verdict's score),
    ``target_not_reached`` (the fit stays below the target up to the highest verdict's score),
    ``too_uncertain`` (standard error above :data:`MAX_THRESHOLD_SE`).
    """
    tp = np.asarray(tp, dtype=bool)
    if len(tp) < MIN_VERDICTS:
        return default, "default: too_few_verdicts"
    if tp.all():
        return default, "default: only_tp"
    if not tp.any():
        return default, "default: only_fp"
    a, b = fit_logistic(score, tp)
    if b <= 0:
        return default, "default: score_not_increasing"
    threshold = (math.log(target_precision / (1 - target_precision)) - a) / b
    score = np.asarray(score, dtype=np.float64)
    if threshold > score.max():
        return default, "default: target_not_reached"
    if threshold < score.min():
        return default, "default: below_verdict_scores"
    if threshold_se(score, a, b, threshold) > MAX_THRESHOLD_SE:
        return default, "default: too_uncertain"
    return max(threshold, MIN_THRESHOLD), "logistic"


def thresholds(
    verdicts: pd.DataFrame, n_species: int, target_precision: float, default: float
) -> pd.DataFrame:
    """One row a species 0..n-1 (:data:`THRESHOLD_COLUMNS`) from verdicts (species_id, score,
    verdict; unsure ignored): :func:`fit_threshold` of its tp and fp verdicts."""
    decided = verdicts[verdicts["verdict"].isin(["tp", "fp"])]
    rows = []
    for species in range(n_species):
        own = decided[decided["species_id"].astype(int) == species]
        is_tp = (own["verdict"] == "tp").to_numpy()
        threshold, method = fit_threshold(
            own["score"].to_numpy(dtype=float), is_tp, target_precision, default
        )
        rows.append((species, threshold, len(own), int(is_tp.sum()), method))
    return pd.DataFrame(rows, columns=THRESHOLD_COLUMNS)


def fitted_thresholds(table: pd.DataFrame) -> pd.DataFrame:
    """species_id,start_threshold of the species :func:`thresholds` fitted (method
    ``logistic``): the override table of the detections, whose other species keep their own
    default thresholds."""
    return table.loc[table["method"] == "logistic", ["species_id", "start_threshold"]]
