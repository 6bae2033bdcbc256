"""Annotations -> frame labels (+1 tp / -1 fp / 0 unknown) -> window targets."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

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
    """Per-recording frame labels [n_species, n_frames] int8 in {+1, -1, 0}.

    tp rows mark +1 and fp rows -1 from ``int(n * t_min / T)`` to ``int(n * t_max / T)``
    inclusive; where a tp and an fp of one species overlap, the verified tp wins.
    Pseudo-positive windows add +1 only on frames that are still unknown: a person's
    rejection (fp) is never overridden by a model.
    Recordings without any label are all-unknown and not stored.
    """

    def __init__(self, n_species: int, n_frames: int, clip_seconds: float):
        self.n_species, self.n_frames, self.clip_seconds = n_species, n_frames, clip_seconds
        self._labels: dict[str, np.ndarray] = {}

    @classmethod
    def from_annotations(
        cls, tp: pd.DataFrame, fp: pd.DataFrame, n_species: int, n_frames: int, clip_seconds: float
    ) -> FrameLabels:
        labels = cls(n_species, n_frames, clip_seconds)
        labels._mark(fp, NEGATIVE)
        labels._mark(tp, POSITIVE)
        return labels

    def _row(self, recording_id: str) -> np.ndarray:
        if recording_id not in self._labels:
            self._labels[recording_id] = np.zeros((self.n_species, self.n_frames), dtype=np.int8)
        return self._labels[recording_id]

    def _mark(self, rows: pd.DataFrame, value: int) -> None:
        first = time_to_frame(rows["t_min"].to_numpy(), self.n_frames, self.clip_seconds)
        last = time_to_frame(rows["t_max"].to_numpy(), self.n_frames, self.clip_seconds)
        species = rows["species_id"]
        for rec, sp, a, b in zip(rows["recording_id"], species, first, last, strict=True):
            self._row(rec)[sp, a : b + 1] = value

    def add_pseudo(self, pseudo: pd.DataFrame) -> None:
        """Mark pseudo-label windows (recording_id, species_id, start, end[, label]) where unknown:
        +1 (label +1 or no label column), then -1 (label -1) on what is still unknown."""
        label = pseudo["label"] if "label" in pseudo else pd.Series(POSITIVE, index=pseudo.index)
        for value in (POSITIVE, NEGATIVE):
            rows = pseudo[label.to_numpy() == value]
            columns = [rows[c] for c in ("recording_id", "species_id", "start", "end")]
            for rec, species, start, end in zip(*columns, strict=True):
                span = self._row(rec)[species, start : min(end, self.n_frames)]
                span[span == UNKNOWN] = value

    def __getitem__(self, recording_id: str) -> np.ndarray:
        labels = self._labels.get(recording_id)
        if labels is None:
            return np.zeros((self.n_species, self.n_frames), dtype=np.int8)
        return labels

    def __contains__(self, recording_id: str) -> bool:
        return recording_id in self._labels


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
