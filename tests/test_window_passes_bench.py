"""bench/window_passes.py: where relabel.min_window_passes binds, counted as training counts."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from sedcycle.crops import fold_events, fold_recordings, fold_schedule, labelled_events

from .bench_scripts import load

window_passes = load("window_passes")

# 24 recordings of 4.8 s (300 frames: 3 windows of 128 overlapping by 20), 2 folds
DATA = {
    "n_species": 3,
    "clip_seconds": 4.8,
    "windows": {"window": 128, "cover": 20},
    "folds": {"n_folds": 2},
}


def tables():
    ids = [f"rec{i:02d}" for i in range(24)]
    tp = pd.DataFrame(
        {
            "recording_id": ids[:8],
            "species_id": [i % 3 for i in range(8)],
            "t_min": 1.0,
            "t_max": 2.0,
            "f_min": 500.0,
            "f_max": 2000.0,
        }
    )
    fp = tp.assign(recording_id=ids[8:16], t_min=2.5, t_max=3.0)
    folds = pd.DataFrame({"recording_id": ids, "fold": [i % 2 for i in range(24)]})
    return tp, fp, folds


def write_run(tmp_path):
    tp, fp, folds = tables()
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    tp.to_csv(run / "data" / "train_tp.csv", index=False)
    fp.to_csv(run / "data" / "train_fp.csv", index=False)
    folds.to_csv(run / "folds.csv", index=False)
    config = tmp_path / "data.yaml"
    config.write_text(yaml.safe_dump({**DATA, "data": {"dir": "data"}}))
    return run, config


def test_a_runs_folds_get_the_training_jobs_counts(tmp_path):
    """12 training recordings x 3 windows = 36 a fold; the default round's crops (every tp
    event, a quarter of the fp events) are 4 tp + 1 fp = 5, half of them random: 2.5 an epoch,
    0.21 passes in 3 epochs; one pass asks for ceil(36 / 2.5) = 15 epochs, as fold_schedule
    (the training job's count) says."""
    run, config = write_run(tmp_path)
    rows = window_passes.run_rows("tiny", run, [config], 1.0)
    assert [r["fold"] for r in rows] == [0, 1]
    tp, fp, folds = tables()
    merged = window_passes.merged(config)
    settings = window_passes.round_settings(merged, 1.0, len(tp), len(fp))
    events = labelled_events(tp, fp, 300, 4.8)
    for row in rows:
        ids = fold_recordings(folds, row["fold"])
        trained = fold_schedule(fold_events(events, ids), ids, 300, settings)[0]
        assert row["recordings"] == 12 and row["windows"] == 36
        assert row["random crops an epoch"] == 2.5 and row["epochs"] == 3
        assert row["passes"] == pytest.approx(3 * 2.5 / 36)
        assert row["epochs at the floor"] == trained == math.ceil(36 / 2.5) == 15


def test_the_report_is_written_and_a_missing_run_named(tmp_path, capsys):
    run, config = write_run(tmp_path)
    out = tmp_path / "passes.md"
    window_passes.main(["--run", "tiny", str(run), str(config), "--out", str(out)])
    report = out.read_text()
    assert "| tiny | 0 | 12 | 36 | 2.5 | 3 | 0.21 | 15 |" in report
    with pytest.raises(SystemExit, match="elsewhere: .*folds.csv.* missing"):
        window_passes.main(["--run", "elsewhere", str(tmp_path / "none"), str(config)])


def test_config_yamls_floor_leaves_the_demo_and_lengthens_rfcx_shaped_rounds():
    """config.yaml's relabel.min_window_passes (1) asks for no more than the demo's 3 epochs
    (about 2.4 passes in them) nor the quality benchmark's data (about 3), while at RFCx's
    shape (bench/rfcx_shaped_data.yaml: 576 recordings x 8 windows a fold, about 240 random
    crops an epoch) each round trains 20 epochs."""
    passes = yaml.safe_load((window_passes.ROOT / "config.yaml").read_text())["relabel"][
        "min_window_passes"
    ]
    bench = window_passes.ROOT / "bench"
    demo = window_passes.synthetic_rows("demo", window_passes.ROOT / "config.yaml", passes)
    shape = window_passes.synthetic_rows("shape", bench / "quality_shape.yaml", passes)
    for row in demo + shape:
        assert row["epochs at the floor"] == row["epochs"] == 3 and row["passes"] > 2
    rfcx = window_passes.synthetic_rows("rfcx", bench / "rfcx_shaped_data.yaml", passes)
    assert len(rfcx) == 5
    for row in rfcx:
        assert row["passes"] < 0.2 and row["epochs at the floor"] == 20


def test_crops_auto_resolves_as_the_training_job_does(tmp_path):
    """relabel.crops auto with no fp row is the grid (sedcycle.settings.resolve_crops): every
    window of the fold once an epoch, so 3 epochs are 3 passes and the floor adds nothing;
    with fp rows it is event crops (the first test's counts)."""
    run, config = write_run(tmp_path)
    (run / "data" / "train_fp.csv").write_text("recording_id,species_id,t_min,t_max,f_min,f_max\n")
    auto = tmp_path / "auto.yaml"
    auto.write_text(yaml.safe_dump({"relabel": {"crops": "auto"}}))
    for row in window_passes.run_rows("grid", run, [config, auto], 1.0):
        assert row["windows"] == row["random crops an epoch"] == 36
        assert row["passes"] == 3 and row["epochs at the floor"] == row["epochs"] == 3
    run, config = write_run(tmp_path / "events")
    rows = window_passes.run_rows("events", run, [config, auto], 1.0)
    assert [r["random crops an epoch"] for r in rows] == [2.5, 2.5]
