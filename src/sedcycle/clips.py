"""Access to stored log-mel clips: memory-mapped windows scaled as the model expects."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sedcycle.windows import crop


class ClipStore:
    """Log-mel clips ``{features_dir}/{recording_id}.npy`` (float16 [n_mels, n_frames]).

    Windows are read through a memory map, so a crop never loads the whole clip. Each clip is
    scaled to 0..1 by its own min and max: the source standardised and then min-max scaled,
    which is the same affine map as min-max alone. Zero padding past the end is then the
    clip's minimum.
    """

    def __init__(self, features_dir: str | Path, recording_ids: list[str]):
        self.features_dir = Path(features_dir)
        self.paths = {rec: self.features_dir / f"{rec}.npy" for rec in recording_ids}
        missing = [str(p) for p in self.paths.values() if not p.exists()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} feature file(s) missing, e.g. {missing[:3]}")
        self._arrays: dict[str, np.ndarray] = {}
        self._range: dict[str, tuple[float, float]] = {}

    def clip(self, recording_id: str) -> np.ndarray:
        """The memory-mapped float16 clip [n_mels, n_frames]."""
        if recording_id not in self._arrays:
            self._arrays[recording_id] = np.load(self.paths[recording_id], mmap_mode="r")
        return self._arrays[recording_id]

    def n_frames(self, recording_id: str) -> int:
        return self.clip(recording_id).shape[-1]

    def _scale(self, recording_id: str) -> tuple[float, float]:
        if recording_id not in self._range:
            # float16 reductions are not vectorised: converting first is 2.5x faster (exact)
            clip = np.asarray(self.clip(recording_id), dtype=np.float32)
            low, high = float(clip.min()), float(clip.max())
            self._range[recording_id] = (low, max(high - low, 1e-6))
        return self._range[recording_id]

    def window(self, recording_id: str, start: int, window: int) -> np.ndarray:
        """Frames [start, start + window) scaled to 0..1, zero-padded past the end; float32."""
        low, span = self._scale(recording_id)
        raw = np.asarray(self.clip(recording_id)[:, start : start + window], dtype=np.float32)
        return crop((raw - low) / span, 0, window)
