import numpy as np
import pandas as pd
import pytest

from sedcycle.labels import (
    ANNOTATION_COLUMNS,
    FrameLabels,
    check_recordings,
    presence_matrix,
    read_annotations,
    time_to_frame,
    unknown_pairs_of,
    window_target,
)


def rows(*records):
    return pd.DataFrame(records, columns=ANNOTATION_COLUMNS)


def write(tmp_path, table, name="train_tp.csv"):
    path = tmp_path / name
    table.to_csv(path, index=False)
    return path


def test_frame_index_is_the_sources_int_rule():
    assert time_to_frame(30.0, 3751, 60.0) == int(3751 * 30 / 60)
    assert time_to_frame(60.0, 3751, 60.0) == 3750  # clipped to the last frame
    assert time_to_frame(0.9999, 3751, 60.0) == 62


def test_tp_marks_positive_fp_negative_and_tp_wins_overlap():
    tp = rows(("a", 1, 1, 1.0, 100, 2.0, 2000))
    fp = rows(("a", 1, 1, 1.5, 100, 3.0, 2000), ("a", 2, 4, 0.0, 100, 0.5, 2000))
    labels = FrameLabels.from_annotations(tp, fp, n_species=3, n_frames=60, clip_seconds=6.0)
    a = labels["a"]
    assert a.shape == (3, 60) and a.dtype == np.int8
    assert (a[1, 10:21] == 1).all()  # tp 1.0..2.0 s = frames 10..20 inclusive
    assert (a[1, 21:31] == -1).all()  # fp beyond the tp
    assert (a[2, 0:6] == -1).all() and (a[0] == 0).all()
    assert (labels["unlabelled"] == 0).all() and "unlabelled" not in labels


def test_unknown_pairs_are_those_with_a_window_of_unlabelled_time():
    """A (recording, species) pair counts when some window-long stretch has no tp/fp frame: a
    gap shorter than the window does not, a recording without a label counts every species,
    a clip shorter than the window counts only if wholly unlabelled, pseudo-labels change
    nothing (they fill such pairs; the count is of what tp/fp leave)."""
    tp = rows(("a", 0, 1, 0.0, 100, 5.9, 2000))  # frames 0..59: species 0 labelled throughout
    fp = rows(
        ("a", 1, 1, 0.0, 100, 2.0, 2000),  # species 1: frames 0..20 and 29..59 (gap of 8)
        ("a", 1, 1, 2.9, 100, 5.9, 2000),
        ("a", 2, 1, 0.0, 100, 2.0, 2000),  # species 2: frames 0..20 and 31..59 (gap of 10)
        ("a", 2, 1, 3.1, 100, 5.9, 2000),
    )
    labels = FrameLabels.from_annotations(tp, fp, n_species=3, n_frames=60, clip_seconds=6.0)
    assert labels.unknown_pairs(["a"], 10) == 1  # species 2's gap holds a window
    assert labels.unknown_pairs(["a"], 11) == 0  # no gap holds 11 frames
    assert labels.unknown_pairs(["a"], 8) == 2  # species 1's gap too
    assert labels.unknown_pairs(["a", "unlabelled"], 10) == 1 + 3
    assert labels.unknown_pairs(["a", "unlabelled"], 100) == 0 + 3  # the whole clip, shorter
    labels.add_pseudo(
        pd.DataFrame({"recording_id": ["a"], "species_id": [2], "start": [21], "end": [31]})
    )
    assert labels.unknown_pairs(["a"], 10) == 1


def test_unknown_pairs_from_the_tables_are_the_same_a_chunk_at_a_time():
    """unknown_pairs_of builds the frame labels a chunk of recordings at a time: the count is
    FrameLabels.unknown_pairs' over all of them, whatever the chunk."""
    tp = rows(("a", 0, 1, 0.0, 100, 5.9, 2000), ("c", 1, 1, 1.0, 100, 2.0, 2000))
    fp = rows(("a", 1, 1, 0.0, 100, 5.9, 2000), ("b", 0, 1, 0.0, 100, 5.9, 2000))
    ids = ["a", "b", "c", "d"]
    whole = FrameLabels.from_annotations(tp, fp, 2, 60, 6.0).unknown_pairs(ids, 10)
    assert whole == 0 + 1 + 2 + 2  # a labelled throughout; b's species 1; c, d both species
    for chunk in (1, 2, 3, 256):
        assert unknown_pairs_of(tp, fp, ids, 2, 60, 6.0, 10, chunk=chunk) == whole


def test_pseudo_positive_never_overrides_a_rejection():
    fp = rows(("a", 0, 1, 0.0, 100, 0.4, 2000))
    labels = FrameLabels.from_annotations(rows(), fp, 1, 20, 2.0)
    labels.add_pseudo(
        pd.DataFrame({"recording_id": ["a"], "species_id": [0], "start": [0], "end": [10]})
    )
    assert labels["a"][0, :5].tolist() == [-1] * 5
    assert labels["a"][0, 5:10].tolist() == [1] * 5 and labels["a"][0, 10:].tolist() == [0] * 10


def test_pseudo_negatives_fill_only_unknown_frames_after_positives():
    tp = rows(("a", 0, 1, 0.0, 100, 0.2, 2000))  # frames 0..2 of species 0
    labels = FrameLabels.from_annotations(tp, rows(), 2, 20, 2.0)
    labels.add_pseudo(
        pd.DataFrame(
            {
                "recording_id": ["a", "a", "a"],
                "species_id": [0, 1, 1],
                "start": [0, 0, 5],
                "end": [10, 10, 15],
                "label": [-1, 1, -1],
            }
        )
    )
    assert labels["a"][0].tolist() == [1] * 3 + [-1] * 7 + [0] * 10  # a tp stays positive
    assert labels["a"][1].tolist() == [1] * 10 + [-1] * 5 + [0] * 5  # positive wins overlap


def test_window_target_priority():
    frames = np.array([[0, 1, -1], [0, -1, 0], [0, 0, 0]], dtype=np.int8)
    assert window_target(frames).tolist() == [1, -1, 0]


def test_presence_matrix():
    table = rows(("a", 2, 1, 0, 0, 1, 1), ("b", 0, 1, 0, 0, 1, 1), ("x", 1, 1, 0, 0, 1, 1))
    assert presence_matrix(table, ["a", "b", "c"], 3).astype(int).tolist() == [
        [0, 0, 1],
        [1, 0, 0],
        [0, 0, 0],
    ]


def test_read_annotations_accepts_good_and_empty(tmp_path):
    good = write(tmp_path, rows(("a", 3, 1, 1.0, 100.0, 2.0, 900.0)))
    assert read_annotations(good, 24, 60.0)["species_id"].tolist() == [3]
    empty = write(tmp_path, rows(), "train_fp.csv")
    assert read_annotations(empty, 24, 60.0).empty
    zero = tmp_path / "zero.csv"
    zero.write_bytes(b"")
    assert read_annotations(zero, 24, 60.0).columns.tolist() == ANNOTATION_COLUMNS


def test_duplicates_are_dropped_and_counted(tmp_path, capsys):
    path = write(tmp_path, rows(*[("a", 3, 1, 1.0, 100.0, 2.0, 900.0)] * 3))
    assert len(read_annotations(path, 24, 60.0)) == 1
    assert "dropped 2 duplicate" in capsys.readouterr().err


def test_recordings_without_audio_are_all_listed(tmp_path):
    table = rows(("a", 1, 1, 0, 0, 1, 1), ("zz", 1, 1, 0, 0, 1, 1), ("yy", 1, 1, 0, 0, 1, 1))
    with pytest.raises(ValueError, match=r"tp.csv: 2 recording\(s\) have no audio.*'yy', 'zz'"):
        check_recordings(table, "tp.csv", ["a", "b"])
    check_recordings(table.iloc[:1], "tp.csv", ["a"])


@pytest.mark.parametrize(
    "record, message",
    [
        (("a", 24, 1, 1.0, 100, 2.0, 900), "species_id outside 0..23"),
        (("a", 1, 1, 3.0, 100, 2.0, 900), "t_min > t_max"),
        (("a", 1, 1, 1.0, 100, 61.0, 900), "past the end"),
        (("a", 1, 1, "x", 100, 2.0, 900), "non-numeric"),
        (("a", 1, 1, None, 100, 2.0, 900), "missing value"),
    ],
)
def test_read_annotations_names_file_line_and_problem(tmp_path, record, message):
    path = write(tmp_path, rows(("ok", 1, 1, 1.0, 100, 2.0, 900), record))
    with pytest.raises(ValueError, match=message) as error:
        read_annotations(path, 24, 60.0)
    assert str(path) in str(error.value) and "line(s) [3]" in str(error.value)


def test_read_annotations_missing_column(tmp_path):
    path = tmp_path / "tp.csv"
    path.write_text("recording_id,species_id\na,1\n")
    with pytest.raises(ValueError, match="missing column"):
        read_annotations(path, 24, 60.0)


def pseudo_rows(*records):
    """(recording_id, species_id, start, label) rows of 10-frame pseudo-label windows."""
    table = pd.DataFrame(records, columns=["recording_id", "species_id", "start", "label"])
    return table.assign(end=table["start"] + 10)


def test_window_pseudo_labels_target_their_own_window_and_never_beat_tp_or_fp():
    """Frames 0..19 (2 s): species 0 has a tp at frames 0..2, species 1 an fp at frames 5..6;
    pseudo-labels of the windows at 0 and 10."""
    tp = rows(("a", 0, 1, 0.0, 100, 0.2, 2000))
    fp = rows(("a", 1, 1, 0.5, 100, 0.6, 2000))
    found = pseudo_rows(("a", 0, 0, -1), ("a", 1, 0, 1), ("a", 2, 0, 1), ("a", 2, 0, -1))
    found = pd.concat([found, pseudo_rows(("a", 2, 10, -1), ("b", 0, 10, 1))])
    crops = [("a", 0), ("a", 10), ("a", 5), ("b", 10), ("b", 0), ("c", 0)]
    labels = FrameLabels.from_annotations(tp, fp, 3, 20, 2.0)
    labels.add_pseudo(found, "windows")
    targets, pseudo_only = labels.crop_targets(crops, 10)
    assert targets.tolist() == [
        [1, -1, 1],  # tp and fp win; species 2 positive (its positive beats its negative)
        [0, 0, -1],
        [0, -1, 0],  # a crop at another start: tp/fp alone, however much it overlaps
        [1, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
    ]
    assert np.argwhere(pseudo_only).tolist() == [[0, 2], [3, 0]]
    # the frame labels hold tp/fp alone: window pseudo-labels mark no frame
    assert labels["a"][2].tolist() == [0] * 20 and "b" not in labels


def test_frame_pseudo_labels_target_every_crop_with_one_of_their_frames():
    """The source's: a crop at 5 holds frames 5..9 of the pseudo-positive window at 0, and is
    positive although the call may lie in frames 0..4; an fp crop turned +1 counts as +1 only
    because of the pseudo-label."""
    fp = rows(("a", 1, 1, 0.5, 100, 0.6, 2000))  # frames 5..6
    labels = FrameLabels.from_annotations(rows(), fp, 2, 20, 2.0)
    labels.add_pseudo(pseudo_rows(("a", 0, 0, 1), ("a", 1, 0, 1)), "frames")
    targets, pseudo_only = labels.crop_targets([("a", 0), ("a", 5), ("a", 10)], 10)
    assert targets.tolist() == [[1, 1], [1, 1], [0, 0]]
    assert pseudo_only.tolist() == [[True, True], [True, True], [False, False]]
    assert labels["a"][1].tolist() == [1] * 5 + [-1] * 2 + [1] * 3 + [0] * 10
    assert "a" in labels


def test_pseudo_targets_are_checked():
    labels = FrameLabels(1, 20, 2.0)
    with pytest.raises(ValueError, match="pseudo_targets must be one of frames, windows"):
        labels.add_pseudo(pseudo_rows(("a", 0, 0, 1)), "crops")
    labels.add_pseudo(pseudo_rows(("a", 0, 0, 1)), "windows")
    with pytest.raises(ValueError, match="crops of 12 frames, but the pseudo-labels' windows"):
        labels.crop_targets([("a", 0)], 12)
    longer = pseudo_rows(("a", 0, 5, 1)).assign(end=20)
    with pytest.raises(ValueError, match=r"windows of different lengths: \[10, 15\]"):
        labels.add_pseudo(longer, "windows")
