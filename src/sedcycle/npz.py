"""Precomputed log-mel spectrograms as ``.npz`` files: import, export and validate.

An npz folder holds one ``{recording_id}.npz`` per recording, each with one array under a
configurable key: ``[n_mels, n_frames]`` real floats, ``n_frames = n_frames(clip_seconds)``
(128 x 3751 for 60 s at 32 kHz, hop 512). Importing writes exactly what the audio path
writes, ``{recording_id}.npy`` float16 plus ``manifest.csv``, so nothing downstream changes.

Values: the pipeline's own features are log-mel in dB (``10 log10(power)``, floored at the
clip's maximum minus ``top_db``). Every clip is then scaled to 0..1 by its own min and max
(``sedcycle.clips.ClipStore``), so any monotone log scale works (dB, natural log, log1p);
a linear power or amplitude spectrogram does not (its few loud bins would flatten the rest).
Values must be finite and fit float16 (|x| <= 65504).
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from sedcycle.files import atomic_path, write_csv

MANIFEST = "manifest.csv"
FLOAT16_MAX = float(np.finfo(np.float16).max)


def expected_frames(clip_seconds: float, sample_rate: int, hop_length: int) -> int:
    """Centred STFT frames of a clip; equals ``sedcycle.audio.n_frames`` (kept torch-free)."""
    return round(clip_seconds * sample_rate) // hop_length + 1


def list_npz(npz_dir: str | Path) -> dict[str, Path]:
    """Recording id (file stem) -> path of every ``.npz`` in ``npz_dir``, sorted by id."""
    npz_dir = Path(npz_dir)
    if not npz_dir.is_dir():
        raise FileNotFoundError(f"{npz_dir}: npz folder not found")
    paths = {p.stem: p for p in sorted(npz_dir.iterdir()) if p.suffix.lower() == ".npz"}
    if not paths:
        raise ValueError(f"{npz_dir}: no .npz file")
    return dict(sorted(paths.items()))


def read_spectrogram(path: str | Path, key: str, shape: tuple[int, int]) -> np.ndarray:
    """The array ``key`` of ``path``, checked; ValueError naming the file and the problem."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error})") from error
    with archive:
        if key not in archive.files:
            raise ValueError(f"{path}: no array '{key}' (it holds {sorted(archive.files)})")
        try:
            array = archive[key]
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
            raise ValueError(f"{path}: cannot read array '{key}' ({error})") from error
    if array.dtype.kind != "f":
        raise ValueError(f"{path}: '{key}' has dtype {array.dtype}, expected a float dtype")
    if array.shape != shape:
        raise ValueError(
            f"{path}: '{key}' has shape {array.shape}, expected {shape} (n_mels, n_frames)"
        )
    finite = np.isfinite(array)
    if not finite.all():
        raise ValueError(f"{path}: '{key}' holds {int((~finite).sum())} NaN or infinite value(s)")
    if np.abs(array).max() > FLOAT16_MAX:
        raise ValueError(
            f"{path}: '{key}' has values beyond float16's range (|x| > {FLOAT16_MAX:g}); "
            "store a log-scaled spectrogram"
        )
    return array


def import_npz(
    npz_dir: str | Path,
    out_dir: str | Path,
    key: str,
    n_mels: int,
    n_frames: int,
    progress: bool = True,
) -> pd.DataFrame:
    """Write ``out_dir/{id}.npy`` float16 + ``manifest.csv`` from every ``npz_dir/{id}.npz``.

    Every file is checked (key, dtype, shape ``(n_mels, n_frames)``, finite values); one
    ValueError then lists every bad file. Returns the manifest (recording_id, n_mels, n_frames).
    """
    paths = list_npz(npz_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    problems = []
    for recording_id, path in tqdm(
        paths.items(), desc="npz", file=sys.stderr, disable=not progress, mininterval=5
    ):
        try:
            array = read_spectrogram(path, key, (n_mels, n_frames))
        except ValueError as error:
            problems.append(str(error))
            continue
        with atomic_path(out_dir / f"{recording_id}.npy") as tmp, open(tmp, "wb") as file:
            np.save(file, array.astype(np.float16))
    if problems:
        raise ValueError(
            f"{len(problems)} of {len(paths)} .npz file(s) in {npz_dir} are unusable:\n"
            + "\n".join(problems)
        )
    manifest = pd.DataFrame({"recording_id": list(paths), "n_mels": n_mels, "n_frames": n_frames})
    write_csv(manifest, out_dir / MANIFEST, index=False)
    return manifest


def write_npz(path: str | Path, key: str, array: np.ndarray) -> None:
    """``np.savez_compressed(path, key=array)`` for any key (``file`` included), at ``path``."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def export_npz(
    features_dir: str | Path, out_dir: str | Path, key: str, progress: bool = True
) -> list[str]:
    """Write ``out_dir/{id}.npz`` (compressed, the float16 log-mel under ``key``) for every
    recording of a features folder's manifest; returns the recording ids."""
    features_dir, out_dir = Path(features_dir), Path(out_dir)
    manifest = pd.read_csv(features_dir / MANIFEST, dtype={"recording_id": str})
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = manifest["recording_id"].tolist()
    for recording_id in tqdm(ids, desc="npz", file=sys.stderr, disable=not progress, mininterval=5):
        array = np.load(features_dir / f"{recording_id}.npy")
        with atomic_path(out_dir / f"{recording_id}.npz") as tmp:
            write_npz(tmp, key, array)
    return ids
