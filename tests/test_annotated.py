"""Annotated recordings of any length, rate and format (sedcycle.annotated, data.annotated).

Fixtures are generated here: a folder of Raven selection tables for recordings of 7 s, 31 s
and 95 s at 8, 44.1 and 96 kHz (wav, stereo flac, flac; an mp3 when soundfile can write
one), and a plain csv with species names.
"""

import re
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from sedcycle import annotated, annotations
from sedcycle.labels import read_annotations
from sedcycle.submission import name_species, recording_scores

from .workflow_runs import REPO, job_counts, snakemake

CLIP = 6.0
RAVEN_HEADER = [
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
    "Species",
]
HAS_MP3 = "MP3" in sf.available_formats()


def write_audio(path, seconds, rate, channels=1, seed=0, **kwargs):
    """Quiet noise with a tone; returns the samples written (float32 [n, channels])."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    t = np.arange(n) / rate
    wave = 0.1 * np.sin(2 * np.pi * min(1000.0, rate / 8) * t)[
        :, None
    ] + 0.01 * rng.standard_normal((n, channels))
    wave = wave.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, rate, **kwargs)
    return wave


def write_raven(path, rows, header=RAVEN_HEADER):
    """A Raven selection table: tab-separated, one line per selection (and view)."""
    lines = ["\t".join(header)]
    for i, row in enumerate(rows, start=1):
        values = {"Selection": str(i), "View": "Spectrogram 1", "Channel": "1", **row}
        lines.append("\t".join(str(values.get(column, "")) for column in header))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def event(begin, end, species, low=500, high=3000, **extra):
    return {
        "Begin Time (s)": begin,
        "End Time (s)": end,
        "Low Freq (Hz)": low,
        "High Freq (Hz)": high,
        "Species": species,
        **extra,
    }


def make_raven_set(root):
    """Train recordings of 3 lengths and rates with Raven tables, and 2 test recordings."""
    rec, tables, test = root / "recordings", root / "raven", root / "test"
    write_audio(rec / "short.wav", 7, 8000, subtype="PCM_16")
    write_audio(rec / "mid.flac", 31, 44100, channels=2, seed=1)
    write_audio(rec / "long.flac", 95, 96000, seed=2)
    write_raven(
        tables / "short.Table.1.selections.txt",
        [event(1.0, 2.0, "Bird A"), event(5.5, 6.5, "frog", low=100, high=800)],
    )
    # Raven lists each selection once per view: the Waveform row repeats the Spectrogram one.
    write_raven(
        tables / "mid.txt",
        [event(3.0, 4.0, "frog"), {**event(3.0, 4.0, "frog"), "View": "Waveform 1"}],
    )
    write_raven(
        tables / "long.Table.1.selections.txt",
        [event(11.0, 13.5, "Bird A"), event(90.0, 94.0, "owl"), event(40.0, 52.0, "frog")],
    )
    if HAS_MP3:
        write_audio(rec / "song.mp3", 12, 44100, seed=3)
        write_raven(tables / "song.txt", [event(0.5, 1.5, "owl")])
    write_audio(test / "t1.wav", 10, 22050, seed=4)
    write_audio(test / "t2.flac", 4, 48000, seed=5)
    return {"recordings": rec, "annotations": tables, "test_recordings": test}


@pytest.fixture(scope="module")
def raven(tmp_path_factory):
    root = tmp_path_factory.mktemp("raven")
    inputs = make_raven_set(root)
    counts = annotated.prepare(**inputs, out_dir=root / "prepared", clip_seconds=CLIP)
    return {**inputs, "out": root / "prepared", "counts": counts}


def test_n_clips_covers_the_recording_with_the_last_one_padded():
    assert annotated.n_clips(7, 6) == 2
    assert annotated.n_clips(12, 6) == 2
    assert annotated.n_clips(12.001, 6) == 3
    assert annotated.n_clips(0.5, 6) == 1
    assert annotated.n_clips(3600, 60) == 60


def test_split_event_puts_a_boundary_crossing_event_in_both_clips():
    assert annotated.split_event(1, 2, 6, 2) == [(0, 1, 2)]
    assert annotated.split_event(5.5, 6.5, 6, 2) == [(0, 5.5, 6), (1, 0, 0.5)]
    assert annotated.split_event(40, 52, 6, 16) == [(6, 4, 6), (7, 0, 6), (8, 0, 4)]
    assert annotated.split_event(4, 6, 6, 2) == [(0, 4, 6)]  # touching the boundary: no spill
    assert annotated.split_event(6, 7, 6, 2) == [(1, 0, 1)]


def test_raven_folder_gives_clips_split_labels_and_species(raven):
    out = raven["out"]
    species = pd.read_csv(out / "species.csv")
    assert species.to_dict("list") == {"species_id": [0, 1, 2], "name": ["Bird A", "frog", "owl"]}
    clips = pd.read_csv(out / "clips.csv")
    train = clips[clips["split"] == "train"]
    by_recording = train.groupby("recording")["recording_id"].apply(list).to_dict()
    assert by_recording["short"] == ["short__0000", "short__0001"]
    assert len(by_recording["mid"]) == 6 and len(by_recording["long"]) == 16
    assert by_recording["long"][-1] == "long__0015"
    long = train[train["recording"] == "long"]
    assert long["start"].tolist() == [6.0 * k for k in range(16)]
    assert (long["end"] - long["start"] == CLIP).all()
    test = clips[clips["split"] == "test"]
    assert test["recording_id"].tolist() == ["t1__0000", "t1__0001", "t2__0000"]

    tp = read_annotations(out / "train_tp.csv", n_species=3, clip_seconds=CLIP)
    rows = {
        (r.recording_id, r.species_id, round(r.t_min, 6), round(r.t_max, 6))
        for r in tp.itertuples()
    }
    expected = {
        ("short__0000", 0, 1.0, 2.0),
        ("short__0000", 1, 5.5, 6.0),
        ("short__0001", 1, 0.0, 0.5),
        ("mid__0000", 1, 3.0, 4.0),  # the Waveform duplicate is kept once
        ("long__0001", 0, 5.0, 6.0),
        ("long__0002", 0, 0.0, 1.5),
        ("long__0006", 1, 4.0, 6.0),
        ("long__0007", 1, 0.0, 6.0),
        ("long__0008", 1, 0.0, 4.0),
        ("long__0015", 2, 0.0, 4.0),
    }
    if HAS_MP3:
        expected.add(("song__0000", 2, 0.5, 1.5))
    assert rows == expected
    short = tp[tp["recording_id"] == "short__0001"].iloc[0]
    assert (short["f_min"], short["f_max"]) == (100, 800)
    fp = read_annotations(out / "train_fp.csv", n_species=3, clip_seconds=CLIP)
    fp_short = fp[fp["recording_id"].str.startswith("short__")]
    # data.annotated.negatives annotated_species (default), margin 1 s: Bird A (1-2 s) and
    # frog (5.5-6.5 s) are absent in short (7 s, 2 clips) outside [0, 3] and [4.5, 7.5] s
    assert {
        (r.recording_id, r.species_id, round(r.t_min, 6), round(r.t_max, 6))
        for r in fp_short.itertuples()
    } == {
        ("short__0000", 0, 3.0, 6.0),
        ("short__0001", 0, 0.0, 6.0),
        ("short__0000", 1, 0.0, 4.5),
        ("short__0001", 1, 1.5, 6.0),
    }
    sample = pd.read_csv(out / "sample_submission.csv")
    assert sample.columns.tolist() == ["recording_id", "s0", "s1", "s2"]
    assert sample["recording_id"].tolist() == test["recording_id"].tolist()


def test_clips_keep_the_native_rate_and_full_length(raven):
    out = raven["out"]
    for clip, rate in (("short__0001", 8000), ("mid__0002", 44100), ("long__0015", 96000)):
        info = sf.info(out / "train" / f"{clip}.flac")
        assert (info.samplerate, info.channels) == (rate, 1)
        assert info.frames == round(CLIP * rate)
    original, _ = sf.read(raven["recordings"] / "mid.flac", dtype="float32")
    clip, _ = sf.read(out / "train" / "mid__0002.flac", dtype="float32")
    start = round(2 * CLIP * 44100)
    expected = original[start : start + len(clip)].mean(axis=1)  # downmixed
    np.testing.assert_allclose(clip, expected, atol=2e-6)  # 24-bit quantisation
    last, _ = sf.read(out / "train" / "short__0001.flac", dtype="float32")
    short, _ = sf.read(raven["recordings"] / "short.wav", dtype="float32")
    np.testing.assert_allclose(last[:8000], short[48000:], atol=2e-6)  # its last 1 s of audio
    assert len(last) == 48000 and not last[8000:].any()  # then zero padding


def test_hour_long_file_is_read_one_clip_at_a_time(tmp_path, monkeypatch):
    rate = 384000
    write_audio(tmp_path / "bat.wav", 13, rate, subtype="FLOAT")
    sizes = []
    read = sf.SoundFile.read

    def recording_read(self, frames=-1, *args, **kwargs):
        sizes.append(frames)
        return read(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", recording_read)
    rows = annotated.cut_recording(tmp_path / "bat.wav", tmp_path / "clips", CLIP)
    assert [r["recording_id"] for r in rows] == ["bat__0000", "bat__0001", "bat__0002"]
    assert sizes == [round(CLIP * rate)] * 3  # never the whole file
    info = sf.info(tmp_path / "clips" / "bat__0002.flac")
    assert (info.samplerate, info.frames) == (rate, round(CLIP * rate))


def test_plain_csv_with_names(tmp_path):
    rec = tmp_path / "recordings"
    write_audio(rec / "a.wav", 8, 16000)
    write_audio(rec / "b.flac", 5, 32000)
    write_audio(tmp_path / "test" / "c.wav", 3, 16000)
    csv = tmp_path / "labels.csv"
    pd.DataFrame(
        {
            "recording": ["a.wav", "b", "a"],  # a file name or the stem
            "begin": [5.0, 0.0, 1.0],
            "end": [7.5, 1.0, 2.0],
            "species": ["Turdus merula", "Erithacus rubecula", "Turdus merula"],
        }
    ).to_csv(csv, index=False)
    assert annotations.species_names(csv) == ["Erithacus rubecula", "Turdus merula"]
    annotated.prepare(rec, csv, tmp_path / "test", tmp_path / "out", clip_seconds=CLIP)
    tp = pd.read_csv(tmp_path / "out" / "train_tp.csv")
    assert tp[
        ["recording_id", "species_id", "t_min", "t_max", "f_min", "f_max"]
    ].values.tolist() == [
        ["a__0000", 1, 1.0, 2.0, 0.0, 8000.0],  # no frequencies: 0 to the recording's Nyquist
        ["a__0000", 1, 5.0, 6.0, 0.0, 8000.0],
        ["a__0001", 1, 0.0, 1.5, 0.0, 8000.0],
        ["b__0000", 0, 0.0, 1.0, 0.0, 16000.0],
    ]
    assert pd.read_csv(tmp_path / "out" / "species.csv")["name"].tolist() == [
        "Erithacus rubecula",
        "Turdus merula",
    ]


def test_species_ids_do_not_depend_on_table_order(tmp_path):
    rows = [event(0, 1, "wren"), event(1, 2, "Apus apus"), event(2, 3, "kite")]
    one = write_raven(tmp_path / "one" / "x.txt", rows)
    two = write_raven(tmp_path / "two" / "x.txt", rows[::-1])
    assert annotations.species_names(one) == annotations.species_names(two)
    assert annotations.species_names(one) == ["Apus apus", "kite", "wren"]


def test_begin_file_column_names_the_recording(tmp_path):
    header = [*RAVEN_HEADER, "Begin File"]
    table = write_raven(
        tmp_path / "all.txt",
        [
            event(0, 1, "wren", **{"Begin File": "x.wav"}),
            event(0, 1, "kite", **{"Begin File": "y.flac"}),
        ],
        header=header,
    )
    events = annotated.resolve_recordings(annotations.read_events(table), ["x", "y"], "folder")
    assert [e.recording for e in events] == ["x", "y"]


def test_name_species_and_recording_scores():
    submission = pd.DataFrame(
        {
            "recording_id": ["a__0000", "a__0001", "b__0000"],
            "s0": [0.1, 0.7, 0.2],
            "s1": [0.9, 0.3, 0.4],
        }
    )
    named = name_species(submission, ["owl", "wren"])
    assert named.columns.tolist() == ["recording_id", "owl", "wren"]
    with pytest.raises(ValueError, match="number of species"):
        name_species(submission, ["owl"])
    clips = pd.DataFrame(
        {"recording_id": ["a__0000", "a__0001", "b__0000"], "recording": ["a", "a", "b"]}
    )
    per_recording = recording_scores(named, clips)
    assert per_recording.to_dict("list") == {
        "recording": ["a", "b"],
        "owl": [0.7, 0.2],
        "wren": [0.9, 0.4],
    }


# --- bad inputs (tests/BAD_INPUTS.md) ---


def write_test_annotations(path, rows=None):
    """A csv of the test recordings' events (make_raven_set's t1: 10 s, t2: 4 s)."""
    rows = rows or ["t1.wav,5.0,7.0,frog", "t2.flac,1.0,2.0,owl", "t2.flac,1.5,3.0,Bird A"]
    path.write_text("recording,begin,end,species\n" + "\n".join(rows) + "\n")
    return path


def test_test_annotations_give_test_truth_that_scoring_reads(raven, tmp_path):
    """write_test_truth splits the test recordings' events into the clips prepare cut, with
    the train annotations' species ids, in the columns the evaluation reads."""
    from sedcycle.evaluation import read_truth
    from sedcycle.synthetic import TRUTH_COLUMNS

    test_annotations = write_test_annotations(tmp_path / "test.csv")
    out = tmp_path / "test_truth.csv"
    n_rows = annotated.write_test_truth(
        test_annotations, raven["test_recordings"], raven["out"], CLIP, out=out
    )
    truth = pd.read_csv(out)
    assert truth.columns.tolist() == list(TRUTH_COLUMNS)  # the generator's test_truth.csv
    rows = {(r.recording_id, r.species_id, r.t_min, r.t_max) for r in truth.itertuples()}
    # species ids of the train annotations: Bird A 0, frog 1, owl 2; frog crosses a clip edge
    assert rows == {
        ("t1__0000", 1, 5.0, 6.0),
        ("t1__0001", 1, 0.0, 1.0),
        ("t2__0000", 2, 1.0, 2.0),
        ("t2__0000", 0, 1.5, 3.0),
    }
    assert n_rows == 4
    clips = ["t1__0000", "t1__0001", "t2__0000"]
    presence = read_truth(str(out), clips, 3)
    np.testing.assert_array_equal(presence, [[0, 1, 0], [0, 1, 0], [1, 0, 1]])
    assert not (raven["out"] / "test_truth.csv").exists()  # written where asked only


def test_test_annotation_problems_name_the_file(raven, tmp_path):
    unknown = write_test_annotations(
        tmp_path / "test.csv", ["t1.wav,1,2,frog", "t2.flac,1,2,heron", "t1.wav,3,4,bat"]
    )
    out = tmp_path / "truth.csv"
    with pytest.raises(
        ValueError,
        match=r"test\.csv: species \['bat', 'heron'\] not in the train annotations .*species\.csv",
    ):
        annotated.write_test_truth(unknown, raven["test_recordings"], raven["out"], CLIP, out=out)
    stray = write_test_annotations(tmp_path / "stray.csv", ["short.wav,1,2,frog"])
    with pytest.raises(ValueError, match=r"have no audio file in .*test"):
        annotated.write_test_truth(stray, raven["test_recordings"], raven["out"], CLIP, out=out)
    late = write_test_annotations(tmp_path / "late.csv", ["t2.flac,3,9,frog"])
    with pytest.raises(ValueError, match=r"late\.csv.*past the end of recording t2"):
        annotated.write_test_truth(late, raven["test_recordings"], raven["out"], CLIP, out=out)
    assert not out.exists()  # checked before anything is written


def test_clips_of_one_recording_share_a_fold(raven, tmp_path):
    from sedcycle.folds import assign_folds
    from sedcycle.steps.data import fold_groups

    out = raven["out"]
    clips = pd.read_csv(out / "clips.csv")
    train = clips.loc[clips["split"] == "train", "recording_id"].tolist()
    tp = read_annotations(out / "train_tp.csv", n_species=3, clip_seconds=CLIP)
    fp = tp.iloc[:0]
    groups = fold_groups(train, str(out / "clips.csv"), None)
    source_of = dict(zip(clips["recording_id"], clips["recording"], strict=True))
    assert groups == {clip: source_of[clip] for clip in train}
    folds = assign_folds(tp, fp, train, n_folds=3, seed=0, n_species=3, groups=groups)
    source = folds["recording_id"].map(groups)
    assert (folds.groupby(source)["fold"].nunique() == 1).all()
    assert folds["fold"].nunique() == 3
    # With folds.groups, a source recording's group (its site) decides.
    sites = tmp_path / "sites.csv"
    sites.write_text("recording_id,group\nshort,a\nmid,b\nlong,b\nsong,c\n")
    by_site = fold_groups(train, str(out / "clips.csv"), str(sites))
    assert by_site["long__0003"] == by_site["mid__0000"] == "b"
    sites.write_text("recording_id,group\nshort,a\nmid,b\n")
    with pytest.raises(
        ValueError, match=r"sites\.csv: 1 training recording.s. have no group: \['long'\]"
    ):
        fold_groups(
            [t for t in train if not t.startswith("song")], str(out / "clips.csv"), str(sites)
        )


def bad_set(tmp_path, rows, header=RAVEN_HEADER, table="x.txt"):
    write_audio(tmp_path / "rec" / "x.wav", 7, 8000)
    write_audio(tmp_path / "test" / "t.wav", 2, 8000)
    write_raven(tmp_path / "raven" / table, rows, header=header)
    return lambda: annotated.prepare(
        tmp_path / "rec", tmp_path / "raven", tmp_path / "test", tmp_path / "out", CLIP
    )


def test_raven_table_without_a_needed_column_names_file_and_column(tmp_path):
    header = [c for c in RAVEN_HEADER if c != "End Time (s)"]
    prepare = bad_set(tmp_path, [event(0, 1, "wren")], header=header)
    with pytest.raises(ValueError, match=r"x\.txt: Raven selection table without.*End Time \(s\)"):
        prepare()
    other = tmp_path / "other"
    write_raven(
        other / "x.txt", [{**event(0, 1, "wren"), "Art": "wren"}], header=[*RAVEN_HEADER, "Art"]
    )
    with pytest.raises(ValueError, match=r"'Spezies'"):
        annotations.species_names(other, species_column="Spezies")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (event(2.0, 2.0, "wren"), "begin 2.0 s is not before end 2.0 s"),
        (event(3.0, 1.0, "wren"), "begin 3.0 s is not before end 1.0 s"),
        (event("x", 1.0, "wren"), "Begin Time \\(s\\) 'x' is not a number"),
        (event(0.0, 1.0, ""), "empty species name"),
    ],
)
def test_bad_event_names_file_and_line(tmp_path, row, problem):
    prepare = bad_set(tmp_path, [event(0, 1, "wren"), row])
    with pytest.raises(ValueError, match=rf"x\.txt: line 3: {problem}"):
        prepare()
    assert not (tmp_path / "out").exists()  # nothing written


def test_event_past_the_recording_end_is_refused(tmp_path):
    prepare = bad_set(tmp_path, [event(6.5, 7.5, "wren")])
    with pytest.raises(
        ValueError,
        match=r"x\.txt: line 2: event ends at 7.5 s, past the end of recording x \(7.000 s\)",
    ):
        prepare()


def test_annotation_naming_a_recording_without_audio(tmp_path):
    prepare = bad_set(tmp_path, [event(0, 1, "wren")], table="ghost.Table.1.selections.txt")
    with pytest.raises(ValueError, match=r"1 annotated recording\(s\) have no audio file in .*rec"):
        prepare()
    csv = tmp_path / "labels.csv"
    csv.write_text("recording,begin,end,species\nx,0,1,wren\nnobody.wav,0,1,wren\n")
    with pytest.raises(ValueError, match=r"nobody: first at .*labels\.csv: line 3"):
        annotated.prepare(tmp_path / "rec", csv, tmp_path / "test", tmp_path / "out", CLIP)


def test_unreadable_audio_is_named(tmp_path):
    prepare = bad_set(tmp_path, [event(0, 1, "wren")])
    broken = tmp_path / "test" / "broken.flac"
    broken.write_bytes(b"fLaC" + bytes(100))
    with pytest.raises(ValueError, match=r"broken\.flac: cannot decode audio"):
        prepare()


def test_csv_without_species_column_is_named(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("recording,begin,end,name\nx,0,1,wren\n")
    with pytest.raises(
        ValueError, match=r"labels\.csv: annotation csv without column\(s\) \['species'\]"
    ):
        annotations.species_names(csv)


# --- the DAG end to end ---


def example_config(name):
    """docs/examples/{name}, the config file docs/own-data.md tells users to copy."""
    return yaml.safe_load((REPO / "docs" / "examples" / name).read_text())


@pytest.fixture(scope="module")
def annotated_run(tmp_path_factory):
    """docs/examples/annotated.yaml, its paths pointed at the fixture, on micro-sized training."""
    root = tmp_path_factory.mktemp("annotated_run")
    inputs = make_raven_set(root / "inputs")
    example = example_config("annotated.yaml")
    assert example["data"]["source"] == "annotated"
    for key, path in inputs.items():
        assert example["data"]["annotated"][key]  # a path to replace
        example["data"]["annotated"][key] = str(path)
    workdir = root / "run"
    workdir.mkdir()
    (workdir / "annotated.yaml").write_text(yaml.safe_dump(example))
    small = workdir / "small.yaml"
    small.write_text(yaml.safe_dump({"clip_seconds": CLIP, "stage1": {"epochs": 1}}))
    snakemake(workdir, configs=[workdir / "annotated.yaml", small])
    return {"workdir": workdir, "inputs": inputs, "configs": [workdir / "annotated.yaml", small]}


@pytest.mark.workflow
def test_annotated_recordings_run_end_to_end_with_species_names(annotated_run):
    workdir = annotated_run["workdir"]
    names = ["Bird A", "frog", "owl"]
    submission = pd.read_csv(workdir / "submission.csv")
    assert submission.columns.tolist() == ["recording_id", *names]
    assert submission["recording_id"].tolist() == ["t1__0000", "t1__0001", "t2__0000"]
    per_recording = pd.read_csv(workdir / "submission_by_recording.csv")
    assert per_recording.columns.tolist() == ["recording", *names]
    assert per_recording["recording"].tolist() == ["t1", "t2"]
    t1 = submission[submission["recording_id"].str.startswith("t1__")][names].max()
    np.testing.assert_allclose(per_recording.iloc[0][names].to_numpy(float), t1.to_numpy())
    assert (workdir / "prepared/species.csv").exists()
    features = pd.read_csv(workdir / "features/train/manifest.csv")
    assert len(features) == 24 + (2 if HAS_MP3 else 0)  # 2 + 6 + 16 clips (+ mp3: 2)


@pytest.mark.workflow
def test_predict_only_cuts_long_recordings_and_names_species(annotated_run):
    """Predict-only on the test recordings, cut into clips, reproduces the submission."""
    workdir = annotated_run["workdir"]
    predict = workdir / "predict.yaml"
    predict.write_text(
        yaml.safe_dump(
            {
                "predict": {
                    "model_dir": "models/round1",
                    "input_dir": str(annotated_run["inputs"]["test_recordings"]),
                    "clip_recordings": True,
                }
            }
        )
    )
    configs = [*annotated_run["configs"], predict]
    run = snakemake(workdir, "predictions_by_recording.csv", configs=configs)
    assert job_counts(run.stdout + run.stderr) == {  # the trained run is reused: no training
        "cut_recordings": 1,
        "extract_features": 1,
        "predict_only": 1,
        "scores_by_recording": 1,
    }
    for ours, theirs in (
        ("predictions.csv", "submission.csv"),
        ("predictions_by_recording.csv", "submission_by_recording.csv"),
    ):
        key = "recording_id" if ours == "predictions.csv" else "recording"
        mine = pd.read_csv(workdir / ours).sort_values(key).reset_index(drop=True)
        expected = pd.read_csv(workdir / theirs).sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, expected, atol=1e-6)
    clips = pd.read_csv(workdir / "predict_clips/clips.csv")
    assert clips["recording_id"].tolist() == ["t1__0000", "t1__0001", "t2__0000"]


@pytest.mark.workflow
def test_annotated_folds_keep_recordings_whole_and_test_annotations_give_test_scores(
    annotated_run, tmp_path
):
    """The clips of one recording share a fold; test_annotations: null (written out) changes
    nothing in the finished run; set, it writes the test truth and fills the test columns of
    scores.csv without cutting, extracting or training anything again."""
    workdir, configs = annotated_run["workdir"], annotated_run["configs"]
    folds = pd.read_csv(workdir / "folds.csv")
    source = folds["recording_id"].str.split("__").str[0]
    assert (folds.groupby(source)["fold"].nunique() == 1).all()
    assert folds["fold"].nunique() == 2
    assert pd.read_csv(workdir / "scores.csv")["test_lwlrap"].isna().all()  # no test truth
    off = {"data": {"annotated": {"test_annotations": None}}}
    assert job_counts(snakemake(workdir, "--dry-run", configs=[*configs, off]).stdout) == {}

    run = tmp_path / "run"
    shutil.copytree(workdir, run, symlinks=True)
    test_annotations = write_test_annotations(tmp_path / "test_annotations.csv")
    on = {"data": {"annotated": {"test_annotations": str(test_annotations)}}}
    result = snakemake(run, configs=[*configs, on])
    jobs = job_counts(result.stdout + result.stderr)
    assert jobs["annotated_test_truth"] == 1, jobs
    # the clips, features and models stay: only what reads the test truth reruns
    redone = [j for j in jobs if j.startswith(("prepare", "extract", "make_folds", "train"))]
    assert not redone and not any(j.startswith("predict") for j in jobs), jobs
    assert (run / "prepared/test_truth.csv").exists()
    scores = pd.read_csv(run / "scores.csv").set_index("stage")
    assert scores.index.tolist() == ["stage1", "round1", "ensemble"]
    assert scores["test_lwlrap"].between(0, 1).all()
    assert scores["random_lwlrap_mean"].notna().all()


def test_species_csv_that_disagrees_with_the_predictions_is_named(tmp_path):
    from sedcycle.steps.prediction import with_species_names

    species = tmp_path / "species.csv"
    species.write_text("species_id,name\n0,owl\n1,wren\n2,kite\n")
    table = pd.DataFrame({"recording_id": ["a"], "s0": [0.1], "s1": [0.2]})
    with pytest.raises(ValueError, match=r"species\.csv: 3 species names for score columns"):
        with_species_names(table, str(species))
    species.write_text("species_id,name\n1,owl\n0,wren\n")
    with pytest.raises(ValueError, match=r"species_id must be 0\.\.1 in order"):
        with_species_names(table, str(species))
    assert with_species_names(table, None) is table


@pytest.mark.parametrize(
    ("annotated", "problem"),
    [
        (
            {"source": "synthetic"},
            r"config data\.annotated\.recordings is set, but data\.source is synthetic",
        ),
        ({"annotated": {"test_recordings": None}}, "needs data.annotated.test_recordings"),
        ({"annotated": {"species_column": "Art"}}, r"without column\(s\) \['Art'\]"),
        (
            {"annotated": {"negative_margin": -1}},
            r"(?s)-1 is less than the minimum of 0.*\['annotated'\]\['negative_margin'\]",
        ),
        (
            {"annotated": {"negatives": "some"}},
            r"(?s)'some' is not one of .*\['annotated'\]\['negatives'\]",
        ),
    ],
)
def test_annotated_config_problems_stop_snakemake_before_any_job(tmp_path, annotated, problem):
    inputs = make_raven_set(tmp_path / "inputs")
    data = {
        "dir": "prepared",
        "source": annotated.get("source", "annotated"),
        "annotated": {k: str(v) for k, v in inputs.items()},
    }
    data["annotated"].update(annotated.get("annotated", {}))
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"data": data}))
    result = snakemake(tmp_path / "run", "--dry-run", configs=[config], check=False)
    assert result.returncode != 0
    assert re.search(problem, result.stdout + result.stderr)


def test_loud_float_audio_is_clipped_with_a_note_and_very_fast_rates_stay_float_wav(
    tmp_path, capsys
):
    loud = np.full((8000, 1), 1.5, dtype=np.float32)
    sf.write(tmp_path / "loud.wav", loud, 8000, subtype="FLOAT")
    annotated.cut_recording(tmp_path / "loud.wav", tmp_path / "clips", 1.0)
    assert "8000 sample(s) beyond full scale clipped" in capsys.readouterr().err
    assert sf.read(tmp_path / "clips" / "loud__0000.flac")[0].max() == pytest.approx(1.0, abs=1e-6)
    sf.write(tmp_path / "fast.wav", loud[:, 0], 700000, subtype="FLOAT")  # above FLAC's limit
    rows = annotated.cut_recording(tmp_path / "fast.wav", tmp_path / "clips", 0.01)
    assert [r["recording_id"] for r in rows] == ["fast__0000", "fast__0001"]
    info = sf.info(tmp_path / "clips" / "fast__0001.wav")
    assert (info.samplerate, info.subtype, info.frames) == (700000, "FLOAT", 7000)
    assert sf.read(tmp_path / "clips" / "fast__0000.wav")[0].max() == 1.5  # float: unclipped


def test_clips_below_the_feature_rate_are_upsampled_with_a_warning(raven, tmp_path, capsys):
    from sedcycle.audio import extract_features

    out = raven["out"]
    paths = [
        out / "train/short__0000.flac",
        out / "test/t1__0000.flac",
        out / "train/mid__0000.flac",
    ]
    extract_features(
        paths, tmp_path / "features", sample_rate=32000, clip_seconds=CLIP, progress=False
    )
    warnings = [line for line in capsys.readouterr().err.splitlines() if "WARNING" in line]
    assert len(warnings) == 1
    assert "2 file(s) recorded below features.sample_rate 32000 Hz were upsampled" in warnings[0]
    assert "8000 Hz: ['short__0000.flac']; 22050 Hz: ['t1__0000.flac']" in warnings[0]
    assert "mid__0000" not in warnings[0]  # 44.1 kHz: downsampled, no warning
