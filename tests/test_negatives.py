"""Known absences from annotations (sedcycle.negatives, data.annotated.negatives).

The fixture: clips of 6 s; ``a`` (20 s, 4 clips, the last padded to 24 s) with Bird at
2-3 s and 8-13 s (crossing the 12 s clip boundary) and frog at 14-15 s; ``b`` (7 s, 2 clips)
without events; ``c`` (6 s, 1 clip) with owl at 0.5-1 s. Species ids: Bird 0, frog 1, owl 2.
"""

import pandas as pd
import pytest

from sedcycle import annotated, negatives
from sedcycle.annotations import Event

from .test_annotated import CLIP, write_audio

EVENTS = [
    ("a", 2.0, 3.0, "Bird"),
    ("a", 8.0, 13.0, "Bird"),
    ("a", 14.0, 15.0, "frog"),
    ("c", 0.5, 1.0, "owl"),
]
TP = {
    ("a__0000", 0, 2.0, 3.0),
    ("a__0001", 0, 2.0, 6.0),
    ("a__0002", 0, 0.0, 1.0),
    ("a__0002", 1, 2.0, 3.0),
    ("c__0000", 2, 0.5, 1.0),
}
# annotated_species, margin 1 s: Bird absent in a outside [1, 4] and [7, 14] s, frog outside
# [13, 16] s, owl in c outside [0, 2] s
ANNOTATED_SPECIES = {
    ("a__0000", 0, 0.0, 1.0),
    ("a__0000", 0, 4.0, 6.0),
    ("a__0001", 0, 0.0, 1.0),
    ("a__0002", 0, 2.0, 6.0),
    ("a__0003", 0, 0.0, 6.0),  # 18-20 s and the padding to 24 s
    ("a__0000", 1, 0.0, 6.0),
    ("a__0001", 1, 0.0, 6.0),
    ("a__0002", 1, 0.0, 1.0),
    ("a__0002", 1, 4.0, 6.0),
    ("a__0003", 1, 0.0, 6.0),
    ("c__0000", 2, 2.0, 6.0),
}
# all_species adds every species not annotated in a recording, over all its clips
NOT_ANNOTATED = {
    *{(f"a__000{k}", 2, 0.0, 6.0) for k in range(4)},
    *{(f"b__000{k}", s, 0.0, 6.0) for k in range(2) for s in range(3)},
    ("c__0000", 0, 0.0, 6.0),
    ("c__0000", 1, 0.0, 6.0),
}


def spans(table):
    return {
        (r.recording_id, r.species_id, round(r.t_min, 6), round(r.t_max, 6))
        for r in table.itertuples()
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("negatives")
    write_audio(root / "rec" / "a.wav", 20, 8000)
    write_audio(root / "rec" / "b.wav", 7, 8000)
    write_audio(root / "rec" / "c.wav", 6, 8000)
    write_audio(root / "test" / "t.wav", 3, 8000)
    labels = root / "labels.csv"
    pd.DataFrame(EVENTS, columns=["recording", "begin", "end", "species"]).to_csv(
        labels, index=False
    )
    return root


def prepare(root, name, **settings):
    out = root / name
    annotated.prepare(root / "rec", root / "labels.csv", root / "test", out, CLIP, **settings)
    return spans(pd.read_csv(out / "train_tp.csv")), pd.read_csv(out / "train_fp.csv")


def test_annotated_species_is_the_default_and_splits_absence_around_events(inputs):
    tp, fp = prepare(inputs, "default")
    assert tp == TP
    assert spans(fp) == ANNOTATED_SPECIES
    assert (fp["f_min"] == 0).all() and (fp["f_max"] == 4000).all()  # the full band
    assert not fp["recording_id"].str.startswith("b__").any()  # no events: no absence


def test_all_species_adds_species_not_annotated_and_recordings_without_events(inputs):
    tp, fp = prepare(inputs, "all", negatives="all_species")
    assert tp == TP
    assert spans(fp) == ANNOTATED_SPECIES | NOT_ANNOTATED


def test_none_writes_no_absence(inputs):
    tp, fp = prepare(inputs, "none", negatives="none")
    assert tp == TP
    assert fp.empty and fp.columns.tolist()[:4] == [
        "recording_id",
        "species_id",
        "songtype_id",
        "t_min",
    ]


def test_fully_annotated_recordings_get_all_species(inputs):
    listing = inputs / "full.txt"
    listing.write_text("# annotated for every species\nb.wav\n\n")
    tp, fp = prepare(inputs, "full", negatives="none", fully_annotated=listing)
    assert tp == TP
    assert spans(fp) == {row for row in NOT_ANNOTATED if row[0].startswith("b__")}
    table = inputs / "full.csv"
    table.write_text("recording,note\nc,all species\n")
    _, fp = prepare(inputs, "full_csv", fully_annotated=table)
    assert spans(fp) == ANNOTATED_SPECIES | {
        row for row in NOT_ANNOTATED if row[0].startswith("c__")
    }
    table.write_text("recording\nc\nzzz\n")
    with pytest.raises(ValueError, match=r"full\.csv \(data\.annotated\.fully_annotated\).*zzz"):
        prepare(inputs, "bad_list", fully_annotated=table)


def test_margin_zero_makes_everything_outside_the_events_absent(inputs):
    _, fp = prepare(inputs, "margin0", negative_margin=0)
    bird = {row for row in spans(fp) if row[0].startswith("a__") and row[1] == 0}
    assert bird == {
        ("a__0000", 0, 0.0, 2.0),
        ("a__0000", 0, 3.0, 6.0),
        ("a__0001", 0, 0.0, 2.0),  # 6-8 s; 8-13 s crosses into a__0002
        ("a__0002", 0, 1.0, 6.0),
        ("a__0003", 0, 0.0, 6.0),
    }


def test_margin_wider_than_the_gaps_leaves_nothing_between_events():
    events = [
        Event("r", 1.0, 2.0, None, None, "x", "l: 1"),
        Event("r", 5.0, 6.0, None, None, "x", "l: 2"),
    ]
    rows = negatives.negative_rows(events, {"r": 6.0}, {"r": 8000}, 6.0, {"x": 0}, margin=2.0)
    assert [(r["t_min"], r["t_max"]) for r in rows] == []
    rows = negatives.negative_rows(events, {"r": 6.0}, {"r": 8000}, 6.0, {"x": 0}, margin=1.0)
    assert [(r["t_min"], r["t_max"]) for r in rows] == [(3.0, 4.0)]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"negative_margin": -0.5}, r"data\.annotated\.negative_margin must be >= 0 .*-0\.5"),
        ({"negative_margin": float("nan")}, r"data\.annotated\.negative_margin must be >= 0"),
        ({"negatives": "some"}, r"data\.annotated\.negatives must be one of .*'some'"),
    ],
)
def test_bad_settings_name_the_key_before_any_audio_is_cut(inputs, settings, problem):
    with pytest.raises(ValueError, match=problem):
        prepare(inputs, "bad", **settings)
    assert not (inputs / "bad").exists()
