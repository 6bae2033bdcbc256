"""Sliding windows over a clip's frames: positions, and cutting features or labels into them."""

from __future__ import annotations

import math

import numpy as np


def window_positions(n_frames: int = 3751, window: int = 512, cover: int = 49) -> np.ndarray:
    """Start/end frames of the overlapping windows that tile a clip.

    Each window starts at the previous end minus ``cover``; the last one may run past
    ``n_frames`` (its tail is zero-padded by :func:`split_windows`).

    Returns an int array [n_windows, 2] of ``[start, end)`` pairs; 3751/512/49 gives
    ``[[0, 512], [463, 975], ..., [3241, 3753]]``.
    """
    if window <= 0 or n_frames <= 0:
        raise ValueError(f"window ({window}) and n_frames ({n_frames}) must be positive")
    if not 0 <= cover < window:
        raise ValueError(f"cover must be in [0, window={window}), got {cover}")
    step = window - cover
    n_windows = 1 if n_frames <= window else math.ceil((n_frames - window) / step) + 1
    starts = np.arange(n_windows, dtype=np.int64) * step
    return np.stack([starts, starts + window], axis=1)


def split_windows(array: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Cut the last axis of ``array`` [..., n_frames] into windows [n_windows, ..., window].

    Frames past the end of the clip are zero-padded, as the source did.
    """
    window = int(positions[0, 1] - positions[0, 0])
    return np.stack([crop(array, int(start), window) for start in positions[:, 0]])


def crop(array: np.ndarray, start: int, window: int) -> np.ndarray:
    """One window [..., window] of ``array`` [..., n_frames] starting at ``start``, zero-padded."""
    n_frames = array.shape[-1]
    stop = min(start + window, n_frames)
    out = np.zeros((*array.shape[:-1], window), dtype=array.dtype)
    out[..., : stop - start] = array[..., start:stop]
    return out
