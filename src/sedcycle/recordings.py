"""The recordings of an audio folder: its files with an audio suffix, by recording id (stem),
and the shard each recording belongs to (execution.shards).

Standard library only: :mod:`sedcycle.annotations` uses it, and the Snakefile imports that
module at parse time in whatever environment Snakemake runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

AUDIO_SUFFIXES = (".flac", ".wav", ".mp3", ".ogg")


def audio_files(folder: str | Path) -> dict[str, Path]:
    """Recording id (file stem) -> audio file of ``folder`` (suffix in any case), by file name.

    Raises FileNotFoundError when the folder is missing, ValueError when it holds no audio
    file or two audio files share a stem.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: audio folder not found")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        if path.stem in files:
            raise ValueError(f"{folder}: {files[path.stem].name} and {path.name} share a name")
        files[path.stem] = path
    if not files:
        raise ValueError(f"{folder}: no audio file ({', '.join(AUDIO_SUFFIXES)})")
    return files


def shard_of(recording_id: str, shards: int) -> int:
    """The shard (0..shards-1) of a recording: a hash of its id modulo ``shards``.

    Stable: it depends on the id alone, never on the other recordings, so recordings added to
    a folder leave the others in their shards (and their shards' jobs alone).
    """
    if shards < 1:
        raise ValueError(f"execution.shards must be >= 1, got {shards}")
    digest = hashlib.blake2b(recording_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_files(folder: str | Path, shard: int, shards: int) -> dict[str, Path]:
    """Recording id -> audio file of ``folder``'s recordings in ``shard`` (of ``shards``)."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not one of execution.shards {shards}")
    return {
        rec: path for rec, path in audio_files(folder).items() if shard_of(rec, shards) == shard
    }
