"""Raven selection tables written from events, for checking detections in Raven.

A table written here opens in Raven (Cornell's sound analysis software) over its recordings
and is read back exactly by :func:`sedcycle.annotations.read_raven`:

- the standard columns :data:`RAVEN_COLUMNS` (Selection 1..n, View ``Spectrogram 1``,
  Channel 1, Begin/End Time, Low/High Freq), then ``Species``, any extra columns, and
  ``Begin Path``, ``File Offset (s)``, ``Begin File``;
- rows sorted by recording, then begin;
- Begin/End Time cumulative over the table's recordings (the recordings that have a row,
  sorted by id), as Raven expects for a table over a list of files: a recording's offset is
  the sum of the durations of the recordings before it, so a one-recording table has
  Begin Time = File Offset (the event's begin within its recording);
- frequencies capped to [0, sample_rate / 2].

Times are written with 6 decimals, computed in whole microseconds so that File Offset +
(End Time - Begin Time) reads back as the event's end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from sedcycle.annotations import _recording_name
from sedcycle.files import atomic_path

RAVEN_COLUMNS = [
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
]
SPECIES = "Species"
BEGIN_PATH, FILE_OFFSET, BEGIN_FILE = "Begin Path", "File Offset (s)", "Begin File"
ROW_COLUMNS = ("recording_id", "begin", "end", "low_freq", "high_freq", "species")
VIEW, CHANNEL = "Spectrogram 1", 1
MICRO = 1_000_000  # times are written in whole microseconds (6 decimals)


def header(extra_columns: Sequence[str] = ()) -> list[str]:
    """The columns of a selection table with ``extra_columns``, in order."""
    return [*RAVEN_COLUMNS, SPECIES, *extra_columns, BEGIN_PATH, FILE_OFFSET, BEGIN_FILE]


def _micros(seconds: float) -> int:
    return round(seconds * MICRO)


def _seconds(micros: int) -> str:
    """Whole microseconds as seconds with 6 decimals, without float rounding."""
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), MICRO)
    return f"{sign}{whole}.{fraction:06d}"


def _hz(value: float, nyquist: float) -> str:
    return f"{min(max(value, 0.0), nyquist):.3f}"


def _text(value, column: str, where: str) -> str:
    """A cell's text; tabs and line breaks would break the table's rows and columns."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value)
    if any(c in text for c in "\t\r\n"):
        raise ValueError(f"{where}: {column} {text!r} holds a tab or line break")
    return text


def _check(
    rows: pd.DataFrame,
    durations: Mapping[str, float],
    audio_paths: Mapping[str, str],
    sample_rate: int,
    extra_columns: Sequence[str],
) -> None:
    if not sample_rate or sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    clashes = sorted(set(extra_columns) & set(header()))
    if clashes or len(set(extra_columns)) != len(extra_columns):
        raise ValueError(
            f"extra columns {list(extra_columns)} repeat a column or name a standard one {clashes}"
        )
    missing = [c for c in (*ROW_COLUMNS, *extra_columns) if c not in rows.columns]
    if missing:
        raise ValueError(
            f"selection rows without column(s) {missing} (they have {list(rows.columns)}; "
            f"needed: {list(ROW_COLUMNS)} and the extra columns {list(extra_columns)})"
        )
    for rec in sorted(set(rows["recording_id"].astype(str))):
        if rec not in durations:
            raise ValueError(f"recording {rec}: no duration given (durations)")
        if not math.isfinite(durations[rec]) or durations[rec] <= 0:
            raise ValueError(f"recording {rec}: duration {durations[rec]} s is not positive")
        if rec not in audio_paths:
            raise ValueError(f"recording {rec}: no audio path given (audio_paths)")
        name = Path(str(audio_paths[rec]).replace("\\", "/")).name
        if _recording_name(name) != rec:
            raise ValueError(
                f"recording {rec}: audio file {name} does not name it (Begin File must be "
                f"{rec} with an audio suffix)"
            )
    for index, row in rows.iterrows():
        where = f"selection row {index} ({row['recording_id']})"
        for column in ("begin", "end", "low_freq", "high_freq"):
            try:
                value = float(row[column])
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value):
                raise ValueError(f"{where}: {column} {row[column]!s} is not a finite number")
        if row["begin"] < 0:
            raise ValueError(f"{where}: begin {row['begin']} s is negative")
        if row["begin"] >= row["end"]:
            raise ValueError(f"{where}: begin {row['begin']} s is not before end {row['end']} s")
        duration = durations[str(row["recording_id"])]
        if _micros(float(row["end"])) > _micros(duration):
            raise ValueError(
                f"{where}: end {row['end']} s is past the recording's duration {duration} s"
            )
        if row["low_freq"] > row["high_freq"]:
            raise ValueError(
                f"{where}: low_freq {row['low_freq']} Hz above high_freq {row['high_freq']} Hz"
            )
        if pd.isna(row["species"]) or not str(row["species"]).strip():
            raise ValueError(f"{where}: empty species name")


def selection_lines(
    rows: pd.DataFrame,
    *,
    durations: Mapping[str, float],
    audio_paths: Mapping[str, str],
    sample_rate: int,
    extra_columns: Sequence[str] = (),
) -> list[str]:
    """The lines (header first, no line ends) of the selection table of ``rows``; see
    :func:`write_selection_table`."""
    extra_columns = list(extra_columns)
    _check(rows, durations, audio_paths, sample_rate, extra_columns)
    nyquist = sample_rate / 2
    rows = rows.assign(recording_id=rows["recording_id"].astype(str))
    # ties keep the rows' own order (events.csv's: species, then end)
    rows = rows.sort_values(["recording_id", "begin"], kind="stable")
    offsets, total = {}, 0
    for rec in sorted(set(rows["recording_id"])):
        offsets[rec] = total
        total += _micros(durations[rec])
    lines = ["\t".join(header(extra_columns))]
    for selection, (index, row) in enumerate(rows.iterrows(), start=1):
        where = f"selection row {index} ({row['recording_id']})"
        rec = row["recording_id"]
        begin, end = _micros(float(row["begin"])), _micros(float(row["end"]))
        path = str(audio_paths[rec])
        cells = [
            str(selection),
            VIEW,
            str(CHANNEL),
            _seconds(offsets[rec] + begin),
            _seconds(offsets[rec] + end),
            _hz(float(row["low_freq"]), nyquist),
            _hz(float(row["high_freq"]), nyquist),
            _text(str(row["species"]).strip(), "species", where),
            *(_text(row[c], c, where) for c in extra_columns),
            _text(path, BEGIN_PATH, where),
            _seconds(begin),
            Path(path.replace("\\", "/")).name,
        ]
        lines.append("\t".join(cells))
    return lines


def write_selection_table(
    rows: pd.DataFrame,
    path: str | Path,
    *,
    durations: Mapping[str, float],
    audio_paths: Mapping[str, str],
    sample_rate: int,
    extra_columns: Sequence[str] = (),
) -> None:
    """Write ``rows`` as a tab-separated Raven selection table at ``path`` (atomically).

    rows: recording_id, begin, end (seconds within the recording), low_freq, high_freq (Hz),
    species (a name), and the ``extra_columns`` (written after Species, in order).
    durations: seconds of each recording (for the cumulative Begin/End Time); audio_paths:
    each recording's audio file (Begin Path; its name is Begin File and must be the
    recording id with an audio suffix). Frequencies are capped to [0, sample_rate / 2].
    No rows: a table with the header alone.

    Raises ValueError for a missing column, a begin not before its end, a negative begin, an
    end past the recording's duration, low above high frequency, an empty species, or a
    recording without duration or audio path.
    """
    lines = selection_lines(
        rows,
        durations=durations,
        audio_paths=audio_paths,
        sample_rate=sample_rate,
        extra_columns=extra_columns,
    )
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
