"""Raven selection tables written from events (sedcycle.raven) and read back by
sedcycle.annotations.read_raven."""

import pandas as pd
import pytest

from sedcycle.annotations import read_raven
from sedcycle.raven import RAVEN_COLUMNS, write_selection_table

RATE = 16000  # Nyquist 8000 Hz
DURATIONS = {"b_rec": 10.0, "a_rec": 7.5, "c_rec": 60.0, "unused": 3.0}
PATHS = {rec: f"/data/test/{rec}.flac" for rec in DURATIONS}


def events():
    """Events of three recordings, out of order, with times that need 6 decimals."""
    return pd.DataFrame(
        [
            ("c_rec", 12.345678, 13.5, 500.0, 2500.0, "s3", 0.91),
            ("b_rec", 4.0, 4.25, 100.0, 9000.0, "s1", 0.55),  # high above Nyquist
            ("a_rec", 1.000001, 2.999999, 0.0, 8000.0, "s0", 0.7),
            ("b_rec", 0.1, 0.9, 300.0, 400.0, "s2", 0.62),
            ("a_rec", 0.5, 7.5, 1000.0, 1200.0, "s1", 0.8),  # ends at the recording's end
        ],
        columns=["recording_id", "begin", "end", "low_freq", "high_freq", "species", "max_score"],
    )


def write(rows, path, **options):
    settings = dict(durations=DURATIONS, audio_paths=PATHS, sample_rate=RATE)
    write_selection_table(rows, path, **{**settings, **options})
    return path


def table_lines(path):
    text = path.read_text()
    assert text.endswith("\n")
    return [line.split("\t") for line in text.rstrip("\n").split("\n")]


def test_combined_table_reads_back_the_events(tmp_path):
    rows = events()
    path = write(rows, tmp_path / "all.selections.txt", extra_columns=["max_score"])
    back = pd.DataFrame(
        [
            (e.recording, e.begin, e.end, e.low_freq, e.high_freq, e.species)
            for e in read_raven(path)
        ],
        columns=["recording_id", "begin", "end", "low_freq", "high_freq", "species"],
    )
    expected = rows.assign(high_freq=rows["high_freq"].clip(upper=RATE / 2))
    expected = expected.sort_values(["recording_id", "begin"]).reset_index(drop=True)
    assert back["recording_id"].tolist() == expected["recording_id"].tolist()
    assert back["species"].tolist() == expected["species"].tolist()
    for column in ("begin", "end", "low_freq", "high_freq"):
        assert back[column].to_numpy() == pytest.approx(expected[column].to_numpy(), abs=1e-6)


def test_table_format_is_ravens_with_cumulative_times(tmp_path):
    rows = events().assign(verdict="")
    path = write(rows, tmp_path / "t.txt", extra_columns=["max_score", "verdict"])
    header, *body = table_lines(path)
    assert header[:7] == RAVEN_COLUMNS
    assert header[7:] == [
        "Species",
        "max_score",
        "verdict",
        "Begin Path",
        "File Offset (s)",
        "Begin File",
    ]
    table = pd.DataFrame(body, columns=header)
    assert table["Selection"].tolist() == ["1", "2", "3", "4", "5"]
    assert set(table["View"]) == {"Spectrogram 1"} and set(table["Channel"]) == {"1"}
    assert set(table["verdict"]) == {""}
    # sorted by recording, then begin; offsets: a_rec 0, b_rec 7.5, c_rec 7.5 + 10
    assert table["Begin File"].tolist() == [
        "a_rec.flac",
        "a_rec.flac",
        "b_rec.flac",
        "b_rec.flac",
        "c_rec.flac",
    ]
    assert table["Begin Path"].tolist() == [PATHS[f[:5]] for f in table["Begin File"]]
    assert table["File Offset (s)"].tolist() == [
        "0.500000",
        "1.000001",
        "0.100000",
        "4.000000",
        "12.345678",
    ]
    assert table["Begin Time (s)"].tolist() == [
        "0.500000",
        "1.000001",
        "7.600000",
        "11.500000",
        "29.845678",
    ]
    assert table["End Time (s)"].tolist() == [
        "7.500000",
        "2.999999",
        "8.400000",
        "11.750000",
        "31.000000",
    ]
    assert table["High Freq (Hz)"].astype(float).max() == RATE / 2
    assert table.loc[3, "High Freq (Hz)"] == "8000.000"  # 9000 Hz capped at Nyquist
    assert table["max_score"].tolist() == ["0.8", "0.7", "0.62", "0.55", "0.91"]


def test_one_recording_table_has_begin_time_equal_to_file_offset(tmp_path):
    rows = events()
    path = write(rows[rows["recording_id"] == "c_rec"], tmp_path / "c_rec.selections.txt")
    header, *body = table_lines(path)
    table = pd.DataFrame(body, columns=header)
    assert table["Begin Time (s)"].tolist() == table["File Offset (s)"].tolist() == ["12.345678"]
    assert table["End Time (s)"].tolist() == ["13.500000"]
    (event,) = read_raven(path)
    assert (event.recording, event.begin, event.end) == ("c_rec", 12.345678, 13.5)


def test_negative_low_frequency_is_written_as_zero(tmp_path):
    rows = events().head(1).assign(low_freq=-50.0)
    header, row = table_lines(write(rows, tmp_path / "t.txt"))
    assert row[header.index("Low Freq (Hz)")] == "0.000"


def test_no_rows_gives_the_header_alone(tmp_path):
    path = write(events().iloc[:0], tmp_path / "empty.txt", extra_columns=["max_score"])
    (header,) = table_lines(path)
    assert header[:7] == RAVEN_COLUMNS and header[-3:] == [
        "Begin Path",
        "File Offset (s)",
        "Begin File",
    ]
    assert read_raven(path) == []


def test_reader_takes_the_recording_from_begin_path_without_begin_file(tmp_path):
    path = write(events(), tmp_path / "all.txt")
    lines = table_lines(path)
    drop = lines[0].index("Begin File")
    path.write_text("\n".join("\t".join(line[:drop]) for line in lines) + "\n")
    assert [e.recording for e in read_raven(path)] == ["a_rec", "a_rec", "b_rec", "b_rec", "c_rec"]
    assert [e.begin for e in read_raven(path)][2:4] == pytest.approx([0.1, 4.0], abs=1e-9)


@pytest.mark.parametrize(
    "change, options, message",
    [
        (lambda r: r.drop(columns="species"), {}, r"without column\(s\) \['species'\]"),
        (lambda r: r, {"extra_columns": ["mean_score"]}, r"\['mean_score'\]"),
        (lambda r: r.assign(end=r["begin"]), {}, "is not before end"),
        (lambda r: r.assign(begin=-1.0), {}, "begin -1.0 s is negative"),
        (lambda r: r.assign(end=float("nan")), {}, "end nan is not a finite number"),
        (lambda r: r.assign(low_freq=5000.0, high_freq=100.0), {}, "above high_freq"),
        (lambda r: r.assign(species=" "), {}, "empty species name"),
        (lambda r: r.assign(species="a\tb"), {}, "holds a tab"),
        (lambda r: r.assign(recording_id="zz"), {}, "recording zz: no duration given"),
        (
            lambda r: r,
            {"audio_paths": {k: v for k, v in PATHS.items() if k != "a_rec"}},
            "recording a_rec: no audio path given",
        ),
        (
            lambda r: r,
            {"audio_paths": {**PATHS, "a_rec": "/x/other.wav"}},
            "audio file other.wav does not name it",
        ),
        (lambda r: r.assign(end=r["end"] + 60), {}, "past the recording's duration"),
        (lambda r: r, {"sample_rate": 0}, "sample_rate must be positive"),
        (lambda r: r, {"extra_columns": ["Species"]}, "name a standard one"),
    ],
)
def test_bad_input_is_refused_naming_the_problem(tmp_path, change, options, message):
    path = tmp_path / "t.txt"
    path.write_text("before\n")
    with pytest.raises(ValueError, match=message):
        write(change(events()), path, **options)
    assert path.read_text() == "before\n"  # nothing half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


def test_rows_of_one_begin_keep_their_order(tmp_path):
    rows = pd.DataFrame(
        [
            ("a_rec", 2.0, 3.0, 0.0, 100.0, "s5"),
            ("a_rec", 1.0, 4.0, 0.0, 100.0, "s1"),
            ("a_rec", 2.0, 2.5, 0.0, 100.0, "s0"),
        ],
        columns=["recording_id", "begin", "end", "low_freq", "high_freq", "species"],
    )
    back = read_raven(write(rows, tmp_path / "t.txt"))
    assert [(e.begin, e.species) for e in back] == [(1.0, "s1"), (2.0, "s5"), (2.0, "s0")]
