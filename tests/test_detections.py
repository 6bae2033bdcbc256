"""Detections: a stage's events on the test clips as events.csv and Raven selection tables
(sedcycle.steps.detections), and the workflow's detect_events / score_events rules."""

import numpy as np
import pandas as pd
import pytest

from sedcycle import events
from sedcycle.annotations import read_raven
from sedcycle.steps.detections import (
    DETECTION_COLUMNS,
    detect_events,
    read_detections,
    score_events,
)

from . import workflow_runs

N_SPECIES = 4
CLIP = 6.0
RATE = 8000
STAGES = ("stage1", "round1")  # the micro config's stages


def raven_events(path):
    """A Raven table read back by the project's reader, as events.csv's columns."""
    return pd.DataFrame(
        [
            (e.recording, e.species, e.begin, e.end, e.low_freq, e.high_freq)
            for e in read_raven(path)
        ],
        columns=["recording_id", "species", "begin", "end", "low_freq", "high_freq"],
    )


def assert_same_events(table, written):
    """events.csv rows (``written``) and a Raven table's (``table``), in the same order."""
    assert table["recording_id"].tolist() == written["recording_id"].tolist()
    assert table["species"].tolist() == written["species"].tolist()
    for column in ("begin", "end", "low_freq", "high_freq"):
        np.testing.assert_allclose(table[column], written[column], atol=1e-6)


def save_model(path, seed):
    """A fold checkpoint of a small model whose head is scaled so that scores spread over
    0..1 (an untrained head scores ~0.5 everywhere)."""
    import torch

    from sedcycle.model import SEDModel, model_spec

    torch.manual_seed(seed)
    model = SEDModel("mobilenetv3_small_050", n_species=N_SPECIES)
    with torch.no_grad():
        model.segment.weight.mul_(1e4)
    torch.save({"model_spec": model_spec(model), "state_dict": model.state_dict()}, path)
    return str(path)


@pytest.fixture
def stage(tmp_path):
    """Features and (empty) audio files of 5 test clips, two fold models, a tp table."""
    rng = np.random.default_rng(1)
    features, audio = tmp_path / "features", tmp_path / "audio"
    features.mkdir()
    audio.mkdir()
    ids = [f"clip{i}" for i in range(5)]
    for rec in ids:
        np.save(features / f"{rec}.npy", rng.normal(-40, 10, (64, 200)).astype(np.float16))
        (audio / f"{rec}.flac").write_bytes(b"")
    pd.DataFrame({"recording_id": ids, "n_mels": 64, "n_frames": 200}).to_csv(
        features / "manifest.csv", index=False
    )
    tp = tmp_path / "train_tp.csv"
    tp.write_text(
        "recording_id,species_id,songtype_id,t_min,f_min,t_max,f_max\n"
        "t0,1,1,0.5,600,1.5,1500\nt1,1,1,2.0,400,3.0,1200\nt2,3,1,1.0,2000,2.0,9000\n"
    )
    models = [save_model(tmp_path / f"fold{f}.pt", seed=f) for f in range(2)]
    return {"root": tmp_path, "features": features, "audio": audio, "tp": tp, "models": models}


def run_detect(stage, thresholds=(), **overrides):
    root = stage["root"]
    settings = dict(
        n_species=N_SPECIES,
        clip_seconds=CLIP,
        sample_rate=RATE,
        start_threshold=0.5,
        stop_threshold=0.3,
        min_duration=0.1,
        min_gap=0.1,
        window=64,
        cover=16,
        batch_size=8,
        amp="none",
        device="cpu",
        threads=1,
    )
    outputs = {
        "events_out": str(root / "out/events.csv"),
        "raven_dir": str(root / "out/raven"),
        "combined_out": str(root / "out/all.selections.txt"),
    }
    detect_events(
        stage["models"],
        str(stage["features"]),
        str(stage["audio"]),
        str(stage["tp"]),
        list(thresholds),
        **outputs,
        **{**settings, **overrides},
    )
    return root / "out"


def test_events_of_a_stage_are_its_framewise_events_written_as_raven_tables(stage):
    out = run_detect(stage)
    written = read_detections(out / "events.csv")
    assert written.columns.tolist() == DETECTION_COLUMNS
    assert written["recording_id"].nunique() >= 2 and written["species_id"].nunique() >= 2

    # the events are the hysteresis events of the two models' mean framewise scores
    from sedcycle.clips import ClipStore
    from sedcycle.predict import framewise_clip, load_models

    models = load_models(stage["models"])
    ids = [f"clip{i}" for i in range(5)]
    store = ClipStore(stage["features"], ids)
    expected = pd.concat(
        [
            events.clip_events(
                rec,
                framewise_clip(models, store, rec, 64, 16),
                CLIP,
                events.default_thresholds(N_SPECIES, 0.5, 0.3),
                0.1,
                0.1,
            )
            for rec in ids
        ]
    ).sort_values(["recording_id", "begin", "species_id"], kind="stable")
    assert written[["recording_id", "species_id"]].values.tolist() == (
        expected[["recording_id", "species_id"]].values.tolist()
    )
    for column in ("begin", "end", "max_score", "mean_score"):
        np.testing.assert_allclose(written[column], expected[column], atol=2e-5)

    # names as submission.csv's columns; bands from train_tp.csv (species 3's capped at
    # Nyquist in the Raven tables only), the full band without tp rows
    assert set(written["species"]) <= {f"s{i}" for i in range(N_SPECIES)}
    assert (written["species"] == "s" + written["species_id"].astype(str)).all()
    bands = {0: (0, 4000), 1: (400, 1500), 2: (0, 4000), 3: (2000, 9000)}
    assert [bands[s] for s in written["species_id"]] == list(
        zip(written["low_freq"], written["high_freq"], strict=True)
    )

    # one table per recording with events, and the combined one, read back as events.csv
    tables = sorted(p.name for p in (out / "raven").iterdir())
    assert tables == [f"{rec}.selections.txt" for rec in sorted(set(written["recording_id"]))]
    capped = written.assign(high_freq=written["high_freq"].clip(upper=RATE / 2))
    for rec, rows in capped.groupby("recording_id"):
        assert_same_events(raven_events(out / "raven" / f"{rec}.selections.txt"), rows)
    assert_same_events(raven_events(out / "all.selections.txt"), capped)
    header = (out / "all.selections.txt").read_text().split("\n")[0].split("\t")
    assert header[7:10] == ["Species", "max_score", "mean_score"]
    assert str(stage["audio"].resolve()) in (out / "all.selections.txt").read_text()


def test_thresholds_table_changes_only_the_species_it_lists(stage):
    default = read_detections(run_detect(stage) / "events.csv")
    path = stage["root"] / "thresholds.csv"
    path.write_text("species_id,start_threshold,stop_threshold\n2,0.9,0.8\n")
    strict = read_detections(run_detect(stage, [str(path)]) / "events.csv")
    others = [t[t["species_id"] != 2].reset_index(drop=True) for t in (default, strict)]
    pd.testing.assert_frame_equal(*others)
    assert (strict["species_id"] == 2).any()
    assert (strict.loc[strict["species_id"] == 2, "max_score"] >= 0.9).all()
    assert (
        not default[default["species_id"] == 2]
        .reset_index(drop=True)
        .equals(strict[strict["species_id"] == 2].reset_index(drop=True))
    )


def test_no_event_gives_header_only_tables(stage):
    out = run_detect(stage, min_duration=CLIP + 1)
    assert read_detections(out / "events.csv").empty
    assert list((out / "raven").iterdir()) == []
    assert read_raven(out / "all.selections.txt") == []


def test_test_clips_without_audio_are_refused(stage):
    (stage["audio"] / "clip3.flac").unlink()
    with pytest.raises(ValueError, match=r"no audio file for 1 test recording\(s\).*clip3"):
        run_detect(stage)


# -- the workflow: the micro config's run of `snakemake detections` ----------------------


# The micro config (synthetic data with test truth, stage 1 and one round), its round
# trained without pseudo-labels: the stage-1 predictions they are voted on are jobs that the
# detections do not need.
NO_PSEUDO = {"relabel": {"use_pseudo": False}}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The micro config's `detections` target run once."""
    workdir = tmp_path_factory.mktemp("detections")
    run = workflow_runs.snakemake(workdir, "detections", configs=[NO_PSEUDO])
    return workdir, workflow_runs.job_counts(run.stdout + run.stderr)


def planned(workdir, **detections):
    """Rule -> job count that `detections` would run with these detections settings."""
    configs = [NO_PSEUDO, {"detections": detections}] if detections else [NO_PSEUDO]
    run = workflow_runs.snakemake(workdir, "detections", "--dry-run", configs=configs)
    return workflow_runs.job_counts(run.stdout)


@pytest.mark.workflow
def test_detections_write_every_stages_events_tables_and_scores(finished):
    workdir, jobs = finished
    assert jobs["detect_events"] == len(STAGES) and jobs["score_events"] == len(STAGES)
    assert jobs["train_stage1"] == 2 and jobs["train_round"] == 2
    assert "ensemble" not in jobs and "collect_scores" not in jobs  # not the whole run
    truth = events.read_truth_events(workdir / "data/synthetic/test_truth.csv", 24)
    for stage in STAGES:
        out = workdir / "detections" / stage
        written = read_detections(out / "events.csv")
        assert written.columns.tolist() == DETECTION_COLUMNS
        assert (out / "raven").is_dir() and (workdir / f"logs/{stage}/detect_events.log").exists()
        assert (workdir / f"benchmarks/{stage}/detect_events.tsv").exists()
        nyquist = written.assign(high_freq=written["high_freq"].clip(upper=16000))
        assert_same_events(raven_events(out / "all.selections.txt"), nyquist)
        per_recording = [raven_events(p) for p in sorted((out / "raven").glob("*.txt"))]
        assert len(per_recording) == written["recording_id"].nunique()
        if per_recording:
            assert_same_events(pd.concat(per_recording, ignore_index=True), nyquist)
        # event_scores.csv: the scorer's values of events.csv against test_truth.csv
        scores = pd.read_csv(out / "event_scores.csv", keep_default_na=False, na_values=[""])
        expected = events.score_events(written, truth, [f"s{i}" for i in range(24)], 0.5)
        pd.testing.assert_frame_equal(scores, expected, check_dtype=False)
        assert scores.loc[scores["species"] == "all", "n_truth"].tolist() == [len(truth)] * 2


@pytest.mark.workflow
def test_detections_rerun_nothing_and_a_threshold_reruns_only_detection(finished):
    workdir, _ = finished
    assert planned(workdir) == {}
    assert planned(workdir, start_threshold=0.6) == {
        "detect_events": len(STAGES),
        "score_events": len(STAGES),
        "detections": 1,
    }
    assert planned(workdir, onset_tolerance=0.25) == {"score_events": len(STAGES), "detections": 1}


def test_event_scores_step_writes_the_scorers_table(tmp_path):
    written = tmp_path / "events.csv"
    pd.DataFrame(
        [("007", 1, "s1", 1.0, 2.0, 0.0, 8000.0, 0.9, 0.7)], columns=DETECTION_COLUMNS
    ).to_csv(written, index=False)
    truth = tmp_path / "truth.csv"
    truth.write_text("recording_id,species_id,t_min,t_max\n007,1,1.2,2.0\n007,0,3.0,4.0\n")
    out = tmp_path / "event_scores.csv"
    score_events(str(written), str(truth), str(out), n_species=2, onset_tolerance=0.5)
    table = pd.read_csv(out).set_index(["criterion", "species"])
    assert table.loc[("onset", "all"), ["n_truth", "n_pred", "tp"]].tolist() == [2, 1, 1]
    assert table.loc[("iou", "s1"), "recall"] == 1.0 and table.loc[("iou", "s0"), "recall"] == 0


def test_species_names_are_the_csv_s_or_s0_to_sn_and_must_match_the_run(tmp_path):
    from sedcycle.tables import species_names

    assert species_names(3) == ["s0", "s1", "s2"]
    csv = tmp_path / "species.csv"
    csv.write_text("species_id,name\n0,Apus apus\n1,wren\n")
    assert species_names(2, str(csv)) == ["Apus apus", "wren"]
    with pytest.raises(ValueError, match=f"{csv}: 2 species, but the run has 3"):
        species_names(3, str(csv))
