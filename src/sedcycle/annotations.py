"""Annotations: Raven selection tables and plain csv tables -> events with species names.

A Raven selection table is tab-separated (``*.txt``), one per recording or with a
``Begin File`` column naming each event's recording; a plain csv has the columns
``recording,begin,end,species[,low_freq,high_freq]``. Species names map to ids 0..n-1 in
sorted order.

Only the standard library is imported: the Snakefile reads the species names at parse time
(:func:`species_names`) in whatever environment Snakemake runs.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from sedcycle.recordings import AUDIO_SUFFIXES

RAVEN_BEGIN, RAVEN_END = "Begin Time (s)", "End Time (s)"
RAVEN_LOW, RAVEN_HIGH = "Low Freq (Hz)", "High Freq (Hz)"
RAVEN_FILE = "Begin File"
RAVEN_PATH = "Begin Path"  # the recording when there is no Begin File column
RAVEN_OFFSET = "File Offset (s)"  # the begin within the recording (Begin Time: the file list's)
CSV_COLUMNS = ("recording", "begin", "end", "species")
CSV_FREQ = ("low_freq", "high_freq")


@dataclass(frozen=True)
class Event:
    """One annotated event: times in seconds from the recording's start, Hz (None: unknown)."""

    recording: str | None  # None: the Raven table's own name says (resolved later)
    begin: float
    end: float
    low_freq: float | None
    high_freq: float | None
    species: str
    source: str  # "file: line N", for error messages
    table: str = ""  # the Raven table's file name (matching a recording by name)


def _number(value: str | None, column: str, source: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: {column} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{source}: {column} {value!r} is not a finite number")
    return number


def _optional(value: str | None, column: str, source: str) -> float | None:
    return None if value is None or value.strip() == "" else _number(value, column, source)


def _event(recording, begin, end, low, high, species, source, table="") -> Event:
    species = (species or "").strip()
    if not species:
        raise ValueError(f"{source}: empty species name")
    if species == "recording_id":
        raise ValueError(f"{source}: 'recording_id' cannot be a species name (a submission column)")
    if begin < 0:
        raise ValueError(f"{source}: begin {begin} s is negative")
    if begin >= end:
        raise ValueError(f"{source}: begin {begin} s is not before end {end} s")
    if low is not None and high is not None and low > high:
        raise ValueError(f"{source}: low frequency {low} Hz above high frequency {high} Hz")
    return Event(recording, begin, end, low, high, species, source, table)


def _rows(path: Path, delimiter: str) -> tuple[list[str], list[dict]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file, delimiter=delimiter)
            return [c.strip() for c in reader.fieldnames or []], [
                {(k or "").strip(): v for k, v in row.items()} for row in reader
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path}: cannot read annotation table ({error})") from error


def _recording_name(value: str) -> str:
    """A recording name from a file name or path: the stem when it has an audio suffix."""
    name = Path(value.strip().replace("\\", "/")).name
    return Path(name).stem if Path(name).suffix.lower() in AUDIO_SUFFIXES else name


def read_raven(path: str | Path, species_column: str = "Species") -> list[Event]:
    """The events of one Raven selection table (tab-separated, header line first).

    Raven lists a selection once per view (Spectrogram 1, Waveform 1): identical events are
    kept once by :func:`prepare`. A ``Begin File`` column names each row's recording, else a
    ``Begin Path`` column; without either, the table's file name does (``{recording}.txt`` or
    ``{recording}.Table.1.selections.txt``). With a ``File Offset (s)`` column (a table over a
    list of files, whose Begin/End Time run on over the files), an event begins at its File
    Offset and lasts End Time - Begin Time.
    """
    path = Path(path)
    header, rows = _rows(path, "\t")
    missing = [c for c in (RAVEN_BEGIN, RAVEN_END, species_column) if c not in header]
    if missing:
        raise ValueError(
            f"{path}: Raven selection table without column(s) {missing} (its columns: "
            f"{header}; the species column is data.annotated.species_column)"
        )
    events = []
    for line, row in enumerate(rows, start=2):
        source = f"{path}: line {line}"
        recording = row.get(RAVEN_FILE) or row.get(RAVEN_PATH) or None
        begin = _number(row[RAVEN_BEGIN], RAVEN_BEGIN, source)
        end = _number(row[RAVEN_END], RAVEN_END, source)
        if RAVEN_OFFSET in header:
            offset = _number(row[RAVEN_OFFSET], RAVEN_OFFSET, source)
            begin, end = offset, offset + (end - begin)
        events.append(
            _event(
                _recording_name(recording) if recording else None,
                begin,
                end,
                _optional(row.get(RAVEN_LOW), RAVEN_LOW, source),
                _optional(row.get(RAVEN_HIGH), RAVEN_HIGH, source),
                row[species_column],
                source,
                path.name,
            )
        )
    return events


def read_csv(path: str | Path) -> list[Event]:
    """The events of a plain csv: recording,begin,end,species and optional low_freq,high_freq."""
    path = Path(path)
    header, rows = _rows(path, ",")
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ValueError(
            f"{path}: annotation csv without column(s) {missing} (its columns: {header}; "
            f"expected {list(CSV_COLUMNS)} and optionally {list(CSV_FREQ)})"
        )
    events = []
    for line, row in enumerate(rows, start=2):
        source = f"{path}: line {line}"
        if not (row["recording"] or "").strip():
            raise ValueError(f"{source}: empty recording name")
        events.append(
            _event(
                _recording_name(row["recording"]),
                _number(row["begin"], "begin", source),
                _number(row["end"], "end", source),
                _optional(row.get("low_freq"), "low_freq", source),
                _optional(row.get("high_freq"), "high_freq", source),
                row["species"],
                source,
            )
        )
    return events


def read_events(annotations: str | Path, species_column: str = "Species") -> list[Event]:
    """Events of a folder of Raven tables (``*.txt``), one Raven table, or one ``.csv``."""
    path = Path(annotations)
    if path.is_dir():
        tables = sorted(path.glob("*.txt"))
        if not tables:
            raise ValueError(f"{path}: no Raven selection table (*.txt) in the folder")
        return [event for table in tables for event in read_raven(table, species_column)]
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: annotations not found (a folder of Raven tables or a csv)"
        )
    if path.suffix.lower() == ".csv":
        return read_csv(path)
    return read_raven(path, species_column)


def species_names(annotations: str | Path, species_column: str = "Species") -> list[str]:
    """The sorted species names of the annotations; species id = position in this list."""
    names = sorted({event.species for event in read_events(annotations, species_column)})
    if not names:
        raise ValueError(f"{annotations}: no annotated event, so no species to train on")
    return names
