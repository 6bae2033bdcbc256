"""Annotated recordings of any length, rate and format -> the RFCx layout the DAG reads.

Annotations (Raven selection tables or a csv) are read by :mod:`sedcycle.annotations`.
Each recording is cut into clips of ``clip_seconds`` (the last one zero-padded), read block
by block so an hour at 384 kHz never sits in memory, and each event is split into the clips
it overlaps. Species names map to ids 0..n-1 in sorted order (``species.csv``).

Only the standard library is imported at module level (audio modules load inside the
functions that cut audio).
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from sedcycle.annotations import Event, read_events
from sedcycle.recordings import audio_files

# An event may end this far past the recording's last sample (rounding in the annotation tool).
END_TOLERANCE_S = 0.01
FLAC_MAX_RATE = 655350  # the FLAC format's limit; faster rates are written as float WAV


def clip_id(recording: str, index: int) -> str:
    """The recording id of a recording's ``index``-th clip: ``{recording}__{index:04d}``."""
    return f"{recording}__{index:04d}"


def n_clips(duration_s: float, clip_seconds: float) -> int:
    """Clips of ``clip_seconds`` that cover ``duration_s`` (the last one padded); at least 1."""
    return max(1, math.ceil(duration_s / clip_seconds - 1e-9))


def split_event(
    begin: float, end: float, clip_seconds: float, clips: int
) -> list[tuple[int, float, float]]:
    """(clip index, t_min, t_max relative to that clip) for each clip that the event overlaps.

    An event crossing a clip boundary appears in both clips; one that only touches a boundary
    does not spill into the next clip.
    """
    pieces = []
    first = max(0, math.floor(begin / clip_seconds))
    last = min(clips - 1, math.ceil(end / clip_seconds) - 1)
    for index in range(first, last + 1):
        start = index * clip_seconds
        lo = max(begin, start) - start
        hi = min(end, start + clip_seconds) - start
        if hi - lo > 1e-9:
            pieces.append((index, max(0.0, lo), min(clip_seconds, hi)))
    return pieces


def recording_files(folder: str | Path) -> dict[str, Path]:
    """:func:`sedcycle.recordings.audio_files`, whose names may not contain ``__``."""
    files = audio_files(folder)
    for name, path in files.items():
        if "__" in name:  # clip ids are {recording}__{k}: keep them unambiguous
            raise ValueError(f"{path}: a recording name may not contain '__' (clip ids use it)")
    return files


def resolve_recordings(events: Iterable[Event], recordings: Iterable[str], folder) -> list[Event]:
    """Events with their recording named; raises listing events whose recording has no audio.

    A Raven table without ``Begin File`` belongs to the recording whose name the table's file
    name is, or starts with followed by a dot (the longest such name).
    """
    names = sorted(set(recordings), key=len, reverse=True)
    resolved, unknown = [], {}
    for event in events:
        name = event.recording
        if name is None:
            table = event.table.removesuffix(".txt")
            name = next((n for n in names if table == n or table.startswith(n + ".")), None)
            if name is None:
                unknown.setdefault(f"{event.table} (table name)", event.source)
                continue
        elif name not in names:
            unknown.setdefault(name, event.source)
            continue
        resolved.append(replace(event, recording=name))
    if unknown:
        listing = "\n  ".join(f"{name}: first at {source}" for name, source in unknown.items())
        raise ValueError(
            f"{len(unknown)} annotated recording(s) have no audio file in {folder}:\n  {listing}"
        )
    return resolved


def _audio_info(path: Path):
    import soundfile as sf

    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise ValueError(f"{path}: cannot decode audio ({error})") from error
    if info.frames <= 0 or info.samplerate <= 0:
        raise ValueError(f"{path}: audio has no samples")
    return info


def cut_recording(path: str | Path, out_dir: str | Path, clip_seconds: float) -> list[dict]:
    """Write ``{recording}__{k:04d}.flac`` mono clips of ``clip_seconds`` at the native rate.

    Reads one clip at a time. The last clip is zero-padded to full length. Samples are
    written as 24-bit FLAC (noise floor -144 dBFS, far below a log-mel's 80 dB range;
    values beyond full scale are clipped), or as float WAV above FLAC's 655,350 Hz.
    Returns one row per clip: recording_id, recording, start, end (seconds).
    """
    import numpy as np
    import soundfile as sf

    from sedcycle.files import atomic_path

    path, out_dir = Path(path), Path(out_dir)
    info = _audio_info(path)
    rate = info.samplerate
    clip_samples = round(clip_seconds * rate)
    clips = n_clips(info.frames / rate, clip_seconds)
    flac = rate <= FLAC_MAX_RATE
    rows, clipped = [], 0
    try:
        with sf.SoundFile(path) as audio:
            for index in range(clips):
                block = audio.read(clip_samples, dtype="float32", always_2d=True)
                if index > 0 and len(block) == 0:
                    break  # the header overstated the length (some mp3): no empty clips
                wave = np.zeros(clip_samples, dtype=np.float32)
                wave[: len(block)] = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
                name = clip_id(path.stem, index)
                target = out_dir / f"{name}.{'flac' if flac else 'wav'}"
                with atomic_path(target) as tmp:
                    if flac:
                        clipped += int(np.count_nonzero(np.abs(wave) > 1.0))
                        sf.write(tmp, np.clip(wave, -1.0, 1.0), rate, "PCM_24", format="FLAC")
                    else:
                        sf.write(tmp, wave, rate, "FLOAT", format="WAV")
                start = index * clip_seconds
                rows.append(
                    {
                        "recording_id": name,
                        "recording": path.stem,
                        "start": start,
                        "end": start + clip_seconds,
                    }
                )
    except (sf.LibsndfileError, RuntimeError) as error:
        raise ValueError(f"{path}: cannot decode audio ({error})") from error
    if clipped:
        print(f"{path}: {clipped} sample(s) beyond full scale clipped to +-1", file=sys.stderr)
    return rows


def cut_files(
    paths: list[Path], out_dir: str | Path, clip_seconds: float, threads: int = 1
) -> list[dict]:
    """:func:`cut_recording` of every file into ``out_dir`` (``threads`` files at a time)."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        cut = pool.map(lambda path: cut_recording(path, out_dir, clip_seconds), paths)
        return [row for rows in cut for row in rows]


def cut_folder(
    folder: str | Path, out_dir: str | Path, clips_csv: str | Path, clip_seconds: float, threads=1
) -> int:
    """Cut every recording of ``folder`` into clips in ``out_dir``; ``clips_csv`` maps clip ->
    recording (recording_id, recording, start, end). Returns the number of clips."""
    import pandas as pd

    from sedcycle.files import write_csv

    files = recording_files(folder)
    for path in files.values():
        _audio_info(path)  # every unreadable file named before any is cut
    rows = cut_files(list(files.values()), out_dir, clip_seconds, threads)
    write_csv(
        pd.DataFrame(rows, columns=["recording_id", "recording", "start", "end"]),
        clips_csv,
        index=False,
    )
    print(f"{len(files)} recordings -> {len(rows)} clips of {clip_seconds} s", file=sys.stderr)
    return len(rows)


def label_rows(
    events: list[Event],
    durations: dict[str, float],
    rates: dict[str, int],
    clip_seconds: float,
    species: dict[str, int] | None = None,
) -> list[dict]:
    """train_tp.csv rows: each event split into the clips it overlaps, species by name.

    ``species``: name -> id (None: the events' names in sorted order). Raises ValueError
    naming the annotation line for an event past its recording's end.
    """
    if species is None:
        species = {name: i for i, name in enumerate(sorted({e.species for e in events}))}
    rows = []
    for event in events:
        duration = durations[event.recording]
        if event.end > duration + END_TOLERANCE_S:
            raise ValueError(
                f"{event.source}: event ends at {event.end} s, past the end of recording "
                f"{event.recording} ({duration:.3f} s)"
            )
        clips = n_clips(duration, clip_seconds)
        low = 0.0 if event.low_freq is None else event.low_freq
        high = rates[event.recording] / 2 if event.high_freq is None else event.high_freq
        for index, t_min, t_max in split_event(
            event.begin, min(event.end, duration), clip_seconds, clips
        ):
            rows.append(
                {
                    "recording_id": clip_id(event.recording, index),
                    "species_id": species[event.species],
                    "songtype_id": 1,
                    "t_min": t_min,
                    "f_min": low,
                    "t_max": t_max,
                    "f_max": high,
                }
            )
    return rows


def prepare(
    recordings: str | Path,
    annotations: str | Path,
    test_recordings: str | Path,
    out_dir: str | Path,
    clip_seconds: float,
    species_column: str = "Species",
    threads: int = 1,
    negatives: str = "annotated_species",
    negative_margin: float = 1.0,
    fully_annotated: str | Path | None = None,
) -> dict[str, int]:
    """Write the RFCx layout of annotated recordings into ``out_dir``.

    ``train/`` and ``test/`` clips, ``train_tp.csv`` (events split per clip),
    ``train_fp.csv`` (known absences by ``negatives``, ``negative_margin`` and the recordings
    listed in ``fully_annotated``: :mod:`sedcycle.negatives`), ``sample_submission.csv``
    (test clips, s0..s{n-1} zeros), ``species.csv`` (species_id,name) and ``clips.csv``
    (recording_id, recording, split, start, end); the test recordings' annotations are
    :func:`write_test_truth`'s, a step of their own, so that adding them retrains nothing.
    Every annotation and setting is checked before any audio is cut. Returns counts.
    """
    import pandas as pd

    from sedcycle.files import write_csv
    from sedcycle.labels import ANNOTATION_COLUMNS
    from sedcycle.negatives import check, negative_rows, read_recording_list
    from sedcycle.tables import species_columns

    check(negatives, negative_margin)
    out_dir = Path(out_dir)
    train_files = recording_files(recordings)
    test_files = recording_files(test_recordings)
    full = [] if fully_annotated is None else read_recording_list(fully_annotated, train_files)
    events = read_events(annotations, species_column)
    if not events:
        raise ValueError(f"{annotations}: no annotated event")
    events = resolve_recordings(events, train_files, recordings)
    infos = {name: _audio_info(path) for name, path in {**train_files, **test_files}.items()}
    for name in train_files:
        if name in test_files:
            raise ValueError(
                f"{name}: in both {recordings} and {test_recordings} (clip ids must be unique)"
            )
    durations = {name: info.frames / info.samplerate for name, info in infos.items()}
    rates = {name: info.samplerate for name, info in infos.items()}
    # Dedupe on what the labels keep (Raven repeats a selection per view).
    tp = pd.DataFrame(
        label_rows(events, durations, rates, clip_seconds), columns=ANNOTATION_COLUMNS
    ).drop_duplicates()
    names = sorted({e.species for e in events})
    fp = pd.DataFrame(
        negative_rows(
            events,
            {name: durations[name] for name in train_files},
            rates,
            clip_seconds,
            {n: i for i, n in enumerate(names)},
            negatives,
            negative_margin,
            full,
        ),
        columns=ANNOTATION_COLUMNS,
    )

    clip_rows = [
        {**row, "split": split}
        for split, files in (("train", train_files), ("test", test_files))
        for row in cut_files(list(files.values()), out_dir / split, clip_seconds, threads)
    ]
    clips = pd.DataFrame(clip_rows, columns=["recording_id", "recording", "split", "start", "end"])
    # An mp3 whose header overstated its length may yield fewer clips: keep labels in range.
    tp = tp[tp["recording_id"].isin(set(clips["recording_id"]))]
    fp = fp[fp["recording_id"].isin(set(clips["recording_id"]))]
    test_ids = clips.loc[clips["split"] == "test", "recording_id"]
    sample = pd.DataFrame(0.0, index=range(len(test_ids)), columns=species_columns(len(names)))
    sample.insert(0, "recording_id", test_ids.to_numpy())
    write_csv(
        tp.sort_values(["recording_id", "t_min", "species_id"]),
        out_dir / "train_tp.csv",
        index=False,
    )
    write_csv(
        fp.sort_values(["recording_id", "species_id", "t_min"]),
        out_dir / "train_fp.csv",
        index=False,
    )
    write_csv(sample, out_dir / "sample_submission.csv", index=False)
    write_csv(
        pd.DataFrame({"species_id": range(len(names)), "name": names}),
        out_dir / "species.csv",
        index=False,
    )
    write_csv(clips, out_dir / "clips.csv", index=False)
    counts = {
        "train_recordings": len(train_files),
        "test_recordings": len(test_files),
        "train_clips": int((clips["split"] == "train").sum()),
        "test_clips": len(test_ids),
        "events": len(events),
        "tp_rows": len(tp),
        "fp_rows": len(fp),
        "species": len(names),
    }
    print(", ".join(f"{v} {k}" for k, v in counts.items()), file=sys.stderr)
    return counts


def write_test_truth(
    test_annotations: str | Path,
    test_recordings: str | Path,
    prepared: str | Path,
    clip_seconds: float,
    species_column: str = "Species",
    out: str | Path | None = None,
) -> int:
    """``test_truth.csv`` (recording_id, species_id, t_min, t_max, f_min, f_max per test clip,
    the columns the evaluation reads) from the test recordings' annotations (the formats of
    the train annotations), each event split into the clips :func:`prepare` cut into
    ``prepared`` (its ``species.csv`` gives the ids, its ``clips.csv`` the clips). Checked
    before anything is written: every event names a test recording and ends within it, every
    species is one of the train annotations'. ``out``: ``prepared/test_truth.csv`` unless
    given. Returns the number of rows."""
    import pandas as pd

    from sedcycle.files import write_csv
    from sedcycle.labels import ANNOTATION_COLUMNS
    from sedcycle.synthetic import TRUTH_COLUMNS

    prepared = Path(prepared)
    names = read_species(prepared / "species.csv")
    test_files = recording_files(test_recordings)
    events = resolve_recordings(
        read_events(test_annotations, species_column), test_files, test_recordings
    )
    unknown = sorted({e.species for e in events} - set(names))
    if unknown:
        first = next(e.source for e in events if e.species == unknown[0])
        raise ValueError(
            f"{test_annotations}: species {unknown} not in the train annotations (their species: "
            f"{prepared / 'species.csv'}; a model cannot score them; first at {first})"
        )
    used = {e.recording for e in events}
    infos = {name: _audio_info(path) for name, path in test_files.items() if name in used}
    durations = {name: info.frames / info.samplerate for name, info in infos.items()}
    rates = {name: info.samplerate for name, info in infos.items()}
    rows = label_rows(events, durations, rates, clip_seconds, {n: i for i, n in enumerate(names)})
    truth = pd.DataFrame(rows, columns=ANNOTATION_COLUMNS).drop_duplicates()
    clips = pd.read_csv(prepared / "clips.csv", dtype={"recording_id": str})
    # An mp3 whose header overstated its length may have yielded fewer clips: keep those cut.
    truth = truth[
        truth["recording_id"].isin(set(clips.loc[clips["split"] == "test", "recording_id"]))
    ]
    write_csv(
        truth.sort_values(["recording_id", "t_min", "species_id"])[list(TRUTH_COLUMNS)],
        Path(out) if out is not None else prepared / "test_truth.csv",
        index=False,
    )
    print(f"{len(truth)} test truth rows from {len(events)} events", file=sys.stderr)
    return len(truth)


def read_species(path: str | Path) -> list[str]:
    """Names of a ``species.csv`` in species_id order; checks ids are 0..n-1."""
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    ids = [int(row["species_id"]) for row in rows]
    if ids != list(range(len(rows))):
        raise ValueError(f"{path}: species_id must be 0..{len(rows) - 1} in order, got {ids[:10]}")
    return [row["name"] for row in rows]
