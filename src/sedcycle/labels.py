"""Annotations -> frame labels (+1 tp / -1 fp / 0 unknown) -> window targets."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sedcycle.settings import PSEUDO_TARGETS
from sedcycle.windows import crop

ANNOTATION_COLUMNS = [
    "recording_id",
    "species_id",
    "songtype_id",
    "t_min",
    "f_min",
    "t_max",
    "f_max",
]
POSITIVE, NEGATIVE, UNKNOWN = 1, -1, 0


def check_columns(table: pd.DataFrame, path: str | Path, required: list[str]) -> None:
    """Raise ValueError naming ``path`` and the columns of ``required`` that ``table`` lacks."""
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected {list(required)}")


def fail_rows(path: str | Path, rows: pd.Series, problem: str) -> None:
    """Raise ValueError naming ``path``, the (1-based, header = line 1) lines of the rows
    flagged in ``rows`` (the first 10) and the problem; nothing when no row is flagged."""
    if rows.any():
        lines = (np.flatnonzero(rows.to_numpy()) + 2).tolist()
        raise ValueError(f"{path}: line(s) {lines[:10]}: {problem}")


def check_species(path: str | Path, species: pd.Series, n_species: int) -> None:
    """species_id values (numeric) must be whole numbers in 0..n_species-1."""
    bad = (species != species.round()) | (species < 0) | (species >= n_species)
    fail_rows(path, bad | species.isna(), f"species_id outside 0..{n_species - 1}")


def read_annotations(path: str | Path, n_species: int, clip_seconds: float) -> pd.DataFrame:
    """Read a train_tp.csv / train_fp.csv, checking every row.

    A header-only or 0-byte file gives no rows (the latter with a warning on stderr); exact
    duplicate rows are dropped (counted on stderr). Raises ValueError naming the file, the
    (1-based, header = line 1) line and the problem.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype={"recording_id": str})
    except pd.errors.EmptyDataError:
        print(f"warning: {path} is empty (0 bytes): read as no rows", file=sys.stderr)
        return pd.DataFrame({c: pd.Series(dtype=float) for c in ANNOTATION_COLUMNS}).astype(
            {"recording_id": str, "species_id": int}
        )
    check_columns(table, path, ANNOTATION_COLUMNS)
    table = table[ANNOTATION_COLUMNS].copy()

    def fail(rows: pd.Series, problem: str) -> None:
        fail_rows(path, rows, problem)

    fail(table.isna().any(axis=1), "empty or missing value")
    numeric = table.columns[1:]
    converted = table[numeric].apply(pd.to_numeric, errors="coerce")
    fail(converted.isna().any(axis=1), "non-numeric value")
    table[numeric] = converted
    check_species(path, table["species_id"], n_species)
    table["species_id"] = table["species_id"].astype(int)
    fail(table["t_min"] > table["t_max"], "t_min > t_max")
    fail(
        (table["t_min"] < 0) | (table["t_min"] >= clip_seconds),
        f"t_min outside the clip (0..{clip_seconds} s)",
    )
    fail(
        table["t_max"] > clip_seconds + 1e-6,
        f"t_max past the end of the clip ({clip_seconds} s; is clip_seconds right?)",
    )
    unique = table.drop_duplicates().reset_index(drop=True)
    if len(unique) < len(table):
        print(f"{path}: dropped {len(table) - len(unique)} duplicate row(s)", file=sys.stderr)
    return unique


def check_recordings(table: pd.DataFrame, path: str | Path, audio_ids: list[str]) -> None:
    """Raise ValueError listing every recording of an annotation file that has no audio."""
    missing = sorted(set(table["recording_id"]) - set(audio_ids))
    if missing:
        raise ValueError(
            f"{path}: {len(missing)} recording(s) have no audio file (or their audio was "
            f"skipped as bad): {missing[:20]}"
        )


def time_to_frame(t: np.ndarray | float, n_frames: int, clip_seconds: float) -> np.ndarray:
    """The source's frame index ``int(n_frames * t / clip_seconds)``, clipped to the clip."""
    frames = (n_frames * np.asarray(t, dtype=np.float64) / clip_seconds).astype(np.int64)
    return np.clip(frames, 0, n_frames - 1)


class FrameLabels:
    """Per-recording frame labels [n_species, n_frames] int8 in {+1, -1, 0}, and the targets of
    crops of them (:meth:`crop_targets`).

    tp rows mark +1 and fp rows -1 from ``int(n * t_min / T)`` to ``int(n * t_max / T)``
    inclusive; where a tp and an fp of one species overlap, the verified tp wins.
    Pseudo-labels (:meth:`add_pseudo`) count only where tp/fp leave a species unknown: a
    person's rejection (fp) is never overridden by a model. They are kept apart from the tp/fp
    labels, so a crop's target can be told apart from what tp/fp alone make it.
    Recordings without any label are all-unknown and not stored.
    """

    def __init__(self, n_species: int, n_frames: int, clip_seconds: float):
        self.n_species, self.n_frames, self.clip_seconds = n_species, n_frames, clip_seconds
        self._labels: dict[str, np.ndarray] = {}  # tp/fp
        self._pseudo: dict[str, np.ndarray] = {}  # pseudo_targets "frames": frame labels
        # pseudo_targets "windows": (recording_id, start) -> targets [n_species]
        self._pseudo_windows: dict[tuple[str, int], np.ndarray] = {}
        self._pseudo_window: int | None = None  # the length of those windows

    @classmethod
    def from_annotations(
        cls, tp: pd.DataFrame, fp: pd.DataFrame, n_species: int, n_frames: int, clip_seconds: float
    ) -> FrameLabels:
        labels = cls(n_species, n_frames, clip_seconds)
        labels._mark(fp, NEGATIVE)
        labels._mark(tp, POSITIVE)
        return labels

    def _row(self, recording_id: str, table: dict[str, np.ndarray] | None = None) -> np.ndarray:
        table = self._labels if table is None else table
        if recording_id not in table:
            table[recording_id] = np.zeros((self.n_species, self.n_frames), dtype=np.int8)
        return table[recording_id]

    def _mark(self, rows: pd.DataFrame, value: int) -> None:
        first = time_to_frame(rows["t_min"].to_numpy(), self.n_frames, self.clip_seconds)
        last = time_to_frame(rows["t_max"].to_numpy(), self.n_frames, self.clip_seconds)
        species = rows["species_id"]
        for rec, sp, a, b in zip(rows["recording_id"], species, first, last, strict=True):
            self._row(rec)[sp, a : b + 1] = value

    def add_pseudo(self, pseudo: pd.DataFrame, targets: str = "frames") -> None:
        """Add pseudo-label windows (recording_id, species_id, start, end[, label]): +1 (label
        +1 or no label column), then -1 (label -1) where a species is still unknown.

        ``targets`` (relabel.pseudo_targets): "frames", the source's: the window's frames are
        marked, so every crop holding one of them (a +1 frame: any of them) takes the label;
        "windows": the label is the target of the crop that starts where the window starts
        (of its length), and of no other crop.
        """
        if targets not in PSEUDO_TARGETS:
            raise ValueError(
                f"pseudo_targets must be one of {', '.join(PSEUDO_TARGETS)}, got {targets!r}"
            )
        label = pseudo["label"] if "label" in pseudo else pd.Series(POSITIVE, index=pseudo.index)
        if targets == "windows" and len(pseudo):
            lengths = set((pseudo["end"] - pseudo["start"]).tolist()) | (
                {self._pseudo_window} if self._pseudo_window is not None else set()
            )
            if len(lengths) != 1:
                raise ValueError(f"pseudo-label windows of different lengths: {sorted(lengths)}")
            self._pseudo_window = int(lengths.pop())
        for value in (POSITIVE, NEGATIVE):
            rows = pseudo[label.to_numpy() == value]
            columns = [rows[c] for c in ("recording_id", "species_id", "start", "end")]
            for rec, species, start, end in zip(*columns, strict=True):
                if targets == "windows":
                    key = (rec, int(start))
                    if key not in self._pseudo_windows:
                        self._pseudo_windows[key] = np.zeros(self.n_species, dtype=np.int8)
                    if self._pseudo_windows[key][species] == UNKNOWN:
                        self._pseudo_windows[key][species] = value
                    continue
                span = self._row(rec, self._pseudo)[species, start : min(end, self.n_frames)]
                span[span == UNKNOWN] = value

    def _crop(self, table: dict[str, np.ndarray], rec: str, start: int, window: int):
        labels = table.get(rec)
        if labels is None:
            return np.zeros((self.n_species, window), dtype=np.int8)
        return crop(labels, start, window)

    def crop_targets(
        self, crops: list[tuple[str, int]], window: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The targets [n_crops, n_species] in {+1, -1, 0} of crops (recording_id, start frame)
        ``window`` frames long (zero-padded past the clip's end: padding is no label), and
        [n_crops, n_species] bool: which are +1 only because of a pseudo-label (not +1 from
        tp/fp alone).

        tp/fp first (:func:`window_target`: +1 with a positive frame in the crop, else -1 with a
        negative one); a species they leave unknown takes the pseudo-label: with "frames"
        pseudo-labels the target of the crop's frames, tp/fp and pseudo together (a +1 frame
        anywhere in the crop makes it +1); with "windows" ones, the label of the window that
        starts at the crop's start.
        """
        if self._pseudo_windows and window != self._pseudo_window:
            raise ValueError(
                f"crops of {window} frames, but the pseudo-labels' windows are "
                f"{self._pseudo_window} frames: a pseudo-label targets its own window alone"
            )
        targets = np.zeros((len(crops), self.n_species), dtype=np.int8)
        pseudo_only = np.zeros((len(crops), self.n_species), dtype=bool)
        for i, (rec, start) in enumerate(crops):
            base = self._crop(self._labels, rec, start, window)
            known = window_target(base)
            target = known
            if rec in self._pseudo:
                pseudo = self._crop(self._pseudo, rec, start, window)
                target = window_target(np.where(base == UNKNOWN, pseudo, base))
            voted = self._pseudo_windows.get((rec, int(start)))
            if voted is not None:
                target = np.where(known == UNKNOWN, voted, known)
            targets[i] = target
            pseudo_only[i] = (target == POSITIVE) & (known != POSITIVE)
        return targets, pseudo_only

    def __getitem__(self, recording_id: str) -> np.ndarray:
        """The recording's frame labels: tp/fp, and "frames" pseudo-labels where unknown."""
        labels = self._labels.get(recording_id)
        if labels is None:
            labels = np.zeros((self.n_species, self.n_frames), dtype=np.int8)
        pseudo = self._pseudo.get(recording_id)
        return labels if pseudo is None else np.where(labels == UNKNOWN, pseudo, labels)

    def unknown_pairs(self, recording_ids: list[str], window: int) -> int:
        """How many (recording, species) pairs of ``recording_ids`` have a stretch of ``window``
        frames (the whole clip where it is shorter) without a tp or fp frame: the pairs a crop
        can leave unknown, which alone pseudo-labels, soft targets and weak negatives act on.
        tp/fp alone (pseudo-labels are what fills them); a recording without a label counts
        every species."""
        span = min(window, self.n_frames)
        count = 0
        for rec in recording_ids:
            frames = self._labels.get(rec)
            if frames is None:
                count += self.n_species
                continue
            unlabelled = np.cumsum(frames == UNKNOWN, axis=1, dtype=np.int64)
            unlabelled = np.pad(unlabelled, ((0, 0), (1, 0)))
            stretch = unlabelled[:, span:] - unlabelled[:, :-span]  # unlabelled frames a window
            count += int((stretch.max(axis=1) >= span).sum())
        return count

    def __contains__(self, recording_id: str) -> bool:
        return recording_id in self._labels or recording_id in self._pseudo


def unknown_pairs_of(
    tp: pd.DataFrame,
    fp: pd.DataFrame,
    recording_ids: list[str],
    n_species: int,
    n_frames: int,
    clip_seconds: float,
    window: int,
    chunk: int = 256,
) -> int:
    """:meth:`FrameLabels.unknown_pairs` of ``recording_ids`` under the tp/fp tables, built
    ``chunk`` recordings at a time, so that thousands of recordings (RFCx's) never hold all
    their frame labels at once."""
    total = 0
    for first in range(0, len(recording_ids), chunk):
        ids = recording_ids[first : first + chunk]
        keep = set(ids)
        labels = FrameLabels.from_annotations(
            tp[tp["recording_id"].isin(keep)],
            fp[fp["recording_id"].isin(keep)],
            n_species,
            n_frames,
            clip_seconds,
        )
        total += labels.unknown_pairs(ids, window)
    return total


def window_target(frame_labels: np.ndarray) -> np.ndarray:
    """Targets [..., n_species] of windows of frame labels [..., n_species, window]:
    +1 if any positive frame, else -1 if any negative frame, else 0 (unknown)."""
    positive = (frame_labels == POSITIVE).any(axis=-1)
    negative = (frame_labels == NEGATIVE).any(axis=-1)
    return np.where(positive, POSITIVE, np.where(negative, NEGATIVE, UNKNOWN)).astype(np.int8)


def presence_matrix(
    annotations: pd.DataFrame, recording_ids: list[str], n_species: int
) -> np.ndarray:
    """Clip-level truth [n_recordings, n_species] bool: species with any row in the recording."""
    index = {rec: i for i, rec in enumerate(recording_ids)}
    truth = np.zeros((len(recording_ids), n_species), dtype=bool)
    rows = annotations[annotations["recording_id"].isin(index)]
    truth[rows["recording_id"].map(index).to_numpy(), rows["species_id"].to_numpy()] = True
    return truth
