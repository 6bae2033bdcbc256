"""bench/stage_selection.py: the labelled AP of a stage's out-of-fold scores against the run's
own tp/fp tables, the stage it would choose, and its report on finished runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .bench_scripts import load

bench = load("stage_selection")


def table(rows: list[tuple[str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "recording_id": r,
                "species_id": s,
                "songtype_id": 1,
                "t_min": 0.0,
                "f_min": 0.0,
                "t_max": 1.0,
                "f_max": 1.0,
            }
            for r, s in rows
        ]
    )


def oof_frame(scores: dict[str, list[float]]) -> pd.DataFrame:
    frame = pd.DataFrame(scores).T
    frame.columns = [f"s{k}" for k in range(frame.shape[1])]
    frame.index.name = "recording_id"
    return frame


def test_labelled_ap_scores_only_the_pairs_the_tables_label():
    oof = oof_frame(
        {"a": [0.9, 0.1], "b": [0.8, 0.7], "c": [0.3, 0.2], "d": [0.95, 0.6], "e": [0.99, 0.99]}
    )
    # species 0: a, c positive; b negative; d unlabelled (its 0.95 would rank first);
    # e has a tp and an fp row: positive. Ranked e, a, b, c: AP = (1 + 1 + 3/4) / 3
    # species 1: positive b; negatives a, c; no other row counts. b ranks first: AP 1
    tp = table([("a", 0), ("c", 0), ("e", 0), ("b", 1)])
    fp = table([("b", 0), ("e", 0), ("a", 1), ("c", 1)])
    value, counted = bench.labelled_ap(oof, tp, fp)
    assert counted == 2
    assert value == pytest.approx(((1 + 1 + 0.75) / 3 + 1.0) / 2)


def test_labelled_ap_leaves_out_species_without_a_positive_and_a_negative():
    oof = oof_frame({"a": [0.9, 0.1], "b": [0.2, 0.7]})
    # a's fp row of species 0 is overruled by its tp row: no negative of either species
    value, counted = bench.labelled_ap(oof, table([("a", 0), ("b", 1)]), table([("a", 0)]))
    assert counted == 0 and math.isnan(value)
    value, counted = bench.labelled_ap(oof, table([("a", 0)]), table([("b", 1)]))
    assert counted == 0 and math.isnan(value)
    value, counted = bench.labelled_ap(oof, table([("a", 0)]), table([("b", 0)]))
    assert (value, counted) == (1.0, 1)


def test_pick_takes_the_highest_the_earliest_of_ties_and_the_last_without_numbers():
    assert bench.pick({"stage1": 0.5, "round1": 0.7, "round2": 0.6}) == "round1"
    assert bench.pick({"stage1": 0.7, "round1": 0.7, "round2": 0.6}) == "stage1"
    assert bench.pick({"stage1": math.nan, "round1": 0.2, "round2": math.nan}) == "round1"
    assert bench.pick({"stage1": math.nan, "round1": math.nan}) == "round1"


def write_run(run: Path, oof: dict[str, np.ndarray], test: dict[str, np.ndarray]) -> None:
    """A finished run's predictions (3 train clips, 2 test clips, 2 species) and its tables."""
    tables = run / "prepared"
    tables.mkdir(parents=True)
    table([("t0", 0), ("t1", 1)]).to_csv(tables / "train_tp.csv", index=False)
    table([("t1", 0), ("t2", 0), ("t0", 1), ("t2", 1)]).to_csv(tables / "train_fp.csv", index=False)
    table([("x0", 0), ("x1", 1)]).to_csv(tables / "test_truth.csv", index=False)
    for stage in oof:
        folder = run / "predictions" / stage
        folder.mkdir(parents=True)
        for name, ids, values in (
            ("oof", ["t0", "t1", "t2"], oof[stage]),
            ("test", ["x0", "x1"], test[stage]),
        ):
            frame = pd.DataFrame(values, columns=["s0", "s1"])
            frame.insert(0, "recording_id", ids)
            frame.to_parquet(folder / f"{name}.parquet")
        (run / "scores").mkdir(exist_ok=True)
        (run / "scores" / f"{stage}.json").write_text(json.dumps({"oof_tp": {"lwlrap": 0.5}}))
    (run / "scores.csv").write_text("stage\n" + "".join(f"{s}\n" for s in [*oof, "ensemble"]))


GOOD_OOF = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.1]])  # every labelled pair right
BAD_OOF = np.array([[0.1, 0.9], [0.8, 0.2], [0.9, 0.9]])  # each positive ranked last: AP 1/3
GOOD_TEST = np.array([[0.9, 0.1], [0.1, 0.9]])
BAD_TEST = np.array([[0.1, 0.9], [0.9, 0.1]])


def test_the_report_chooses_by_labelled_ap_and_scores_it_on_the_test_truth(tmp_path):
    # run a: the labelled AP prefers round 1, whose test score is the worse: choosing loses
    write_run(
        tmp_path / "a",
        {"stage1": BAD_OOF, "round1": GOOD_OOF, "round2": BAD_OOF},
        {"stage1": GOOD_TEST, "round1": BAD_TEST, "round2": GOOD_TEST},
    )
    run = bench.evaluate(tmp_path / "a")
    assert run.labelled == pytest.approx({"stage1": 1 / 3, "round1": 1.0, "round2": 1 / 3})
    assert run.test == {"stage1": 1.0, "round1": 0.5, "round2": 1.0}
    assert run.chosen == "round1" and run.last == "round2"
    text = bench.report({"toy": [run]}, "cmd")
    row = next(line for line in text.splitlines() if line.startswith("| toy |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[1:7] == ["1", "1.000", "1.000", "0.500", "-0.5000", "1.000"]
    assert "**Not met.** Lower by more than that in: toy (-0.5000)" in text
    assert "| round1 | 0.500 | 1.000 |" in text  # the run's row: chosen, its test, the last's

    # b: it prefers the last round, rightly: level with submitting it; c: it prefers stage 1,
    # rightly, where the last round is worse: met
    for name, first, last, said in (
        (
            "b",
            (BAD_OOF, BAD_TEST),
            (GOOD_OOF, GOOD_TEST),
            "**Not met.** Higher by more than that in no group.",
        ),
        (
            "c",
            (GOOD_OOF, GOOD_TEST),
            (BAD_OOF, BAD_TEST),
            "**Met.** Higher by more than that in: toy (+0.5000).",
        ),
    ):
        write_run(
            tmp_path / name,
            {"stage1": first[0], "round1": last[0]},
            {"stage1": first[1], "round1": last[1]},
        )
        assert said in bench.report({"toy": [bench.evaluate(tmp_path / name)]}, "cmd")


def test_a_run_without_its_tables_is_an_error_naming_it(tmp_path, capsys):
    write_run(
        tmp_path / "a",
        {"stage1": GOOD_OOF, "round1": GOOD_OOF},
        {"stage1": GOOD_TEST, "round1": GOOD_TEST},
    )
    (tmp_path / "a" / "prepared" / "train_tp.csv").unlink()
    out = tmp_path / "report.md"
    assert bench.main(["--group", f"toy={tmp_path / 'a'}", "--out", str(out)]) == 1
    assert f"{tmp_path / 'a'}: no train_tp.csv" in capsys.readouterr().err
    assert not out.exists()


def test_group_takes_label_and_run_dirs():
    assert bench.parse_group("x=a:b") == ("x", [Path("a"), Path("b")])
    with pytest.raises(Exception, match="LABEL=RUN_DIR"):
        bench.parse_group("no-label")
