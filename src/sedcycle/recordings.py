"""The recordings of an audio folder: its files with an audio suffix, by recording id (stem).

Standard library only: :mod:`sedcycle.annotations` uses it, and the Snakefile imports that
module at parse time in whatever environment Snakemake runs.
"""

from __future__ import annotations

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
