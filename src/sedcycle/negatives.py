"""Known absences (train_fp.csv rows) from annotations of presences (data.annotated.negatives).

``annotated_species``: in a recording, each species annotated there is absent outside its
events widened by ``margin`` seconds on each side. ``all_species``: also every species of
the run not annotated in a recording is absent over the whole recording (a recording
without events: every species). ``none``: no absence. Absent time is split into the clips
it overlaps (a clip's zero padding past the recording's end counts as absent), one row per
clip, species and absent span. Imports only the standard library and sedcycle modules that
do the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from sedcycle.annotated import clip_id, n_clips, split_event
from sedcycle.annotations import Event

MODES = ("none", "annotated_species", "all_species")


def check(mode: str, margin: float) -> None:
    """Raise ValueError naming the setting for an unknown mode or a negative margin."""
    if mode not in MODES:
        raise ValueError(f"data.annotated.negatives must be one of {list(MODES)}, got {mode!r}")
    if not margin >= 0:  # NaN too
        raise ValueError(f"data.annotated.negative_margin must be >= 0 seconds, got {margin}")


def absent_spans(
    events: Iterable[tuple[float, float]], end: float, margin: float
) -> list[tuple[float, float]]:
    """The parts of [0, ``end``] outside every (begin, end) event widened by ``margin``."""
    spans, start = [], 0.0
    for begin, stop in sorted(events):
        if begin - margin > start:
            spans.append((start, min(begin - margin, end)))
        start = max(start, stop + margin)
        if start >= end:
            break
    if start < end:
        spans.append((start, end))
    return [(lo, hi) for lo, hi in spans if hi - lo > 1e-9]


def negative_rows(
    events: list[Event],
    durations: dict[str, float],
    rates: dict[str, int],
    clip_seconds: float,
    species: dict[str, int],
    mode: str = "annotated_species",
    margin: float = 1.0,
    fully_annotated: Iterable[str] = (),
) -> list[dict]:
    """train_fp.csv rows for the recordings of ``durations`` (over the full band).

    ``species``: name -> id of the run. ``fully_annotated``: recordings that get the
    ``all_species`` rule whatever ``mode`` says.
    """
    check(mode, margin)
    if mode == "none" and not fully_annotated:
        return []
    by_recording: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for event in events:
        spans = by_recording.setdefault(event.recording, {}).setdefault(event.species, [])
        spans.append((event.begin, event.end))
    full = set(fully_annotated)
    rows = []
    for recording in sorted(durations):
        clips = n_clips(durations[recording], clip_seconds)
        end = clips * clip_seconds  # the padded end of the last clip
        annotated = by_recording.get(recording, {})
        rule = "all_species" if recording in full else mode
        if rule == "none":
            continue
        for name, species_id in sorted(species.items(), key=lambda item: item[1]):
            if name in annotated:
                spans = absent_spans(annotated[name], end, margin)
            elif rule == "all_species":
                spans = [(0.0, end)]
            else:
                continue
            for begin, stop in spans:
                for index, t_min, t_max in split_event(begin, stop, clip_seconds, clips):
                    rows.append(
                        {
                            "recording_id": clip_id(recording, index),
                            "species_id": species_id,
                            "songtype_id": 1,
                            "t_min": t_min,
                            "f_min": 0.0,
                            "t_max": t_max,
                            "f_max": rates[recording] / 2,
                        }
                    )
    return rows


def read_recording_list(path: str, recordings: Iterable[str]) -> list[str]:
    """Recording names of a txt (one a line; blank lines and ``#`` comments skipped) or a csv
    (its ``recording`` column). Raises ValueError naming the file for a name without audio."""
    import csv

    with open(path, newline="", encoding="utf-8") as file:
        if str(path).endswith(".csv"):
            reader = csv.DictReader(file)
            if "recording" not in (reader.fieldnames or []):
                raise ValueError(f"{path}: csv without a 'recording' column")
            names = [row["recording"].strip() for row in reader]
        else:
            names = [line.split("#", 1)[0].strip() for line in file]
    names = [name for name in names if name]
    # a file name with its audio suffix names the recording too
    known = set(recordings)
    names = [n if n in known else n.rsplit(".", 1)[0] for n in names]
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(
            f"{path} (data.annotated.fully_annotated): {len(unknown)} name(s) without a train "
            f"recording: {unknown[:10]}"
        )
    return names
