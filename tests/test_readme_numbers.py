"""The README's measured numbers are the generated reports' (bench/results/), not hand-copied
figures that drift from them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
FLAT = " ".join(README.split())  # the README on one line: sentences whatever their wrapping
RESULTS = ROOT / "bench" / "results"


def section_cells(report: Path, variant: str, column: int = 1) -> dict[str, str]:
    """A cell per stage of ``variant``'s table in a bench/quality.py report: the first
    (test LWLRAP, 'mean ± std'), or column ``column`` (1 the first after the stage)."""
    text = report.read_text()
    match = re.search(rf"^## {re.escape(variant)}: .*?\n\n(\|.*?)\n\n", text, re.M | re.S)
    assert match, f"{report.name} has no section {variant}"
    rows = [line.split("|")[1:-1] for line in match[1].splitlines()[2:]]
    return {cells[0].strip(): cells[column].strip() for cells in rows}


def per_run_lwlrap(report: Path, variant: str) -> dict[str, list[float]]:
    """The 'Test LWLRAP per seed' rows of ``variant``'s section of a bench/quality.py report:
    run label -> the stages' scores in the table's order."""
    text = report.read_text()
    section = text.split(f"\n## {variant}: ", 1)[1].split("\n## ", 1)[0]
    table = section.split("Test LWLRAP per seed:", 1)[1].strip().splitlines()[2:]
    rows = [line.split("|")[1:-1] for line in table if line.startswith("| ")]
    return {cells[0].strip(): [float(c) for c in cells[1:]] for cells in rows}


def submission_rows(report: Path) -> dict[str, list[str]]:
    """The rows of a bench/quality.py report's submission table ("## The submission"): variant
    -> its cells after the variant (mean ± std, then the run-by-run comparisons)."""
    table = report.read_text().split("## The submission", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1:-1] for line in table.splitlines()[2:]]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


def stage1_verdict(report: Path, stage: str) -> tuple[float, float, str]:
    """A bench/quality.py report's verdict line on ``stage`` against stage 1 (the first such
    line: the first variant's): mean gain and seed spread, rounded to 3 decimals, and whether
    the gain is more than the spread ("yes" or "no")."""
    verdict = re.search(
        rf"- {stage} above stage1: mean gain \+(\d\.\d+) .*?seed spread \(std\) (\d\.\d+): "
        r"\*\*(yes|no)\*\*",
        report.read_text(),
    )
    assert verdict, f"{report.name} has no {stage} verdict line"
    return round(float(verdict[1]), 3), round(float(verdict[2]), 3), verdict[3]


def test_section_cells_reads_a_report_table(tmp_path):
    report = tmp_path / "r.md"
    report.write_text(
        "# Q\n\n## v: `{}`\n\n| stage | test LWLRAP | x |\n|---|---|---|\n"
        "| stage1 | 0.800 ± 0.010 | 1 |\n| round1 | 0.810 ± 0.020 | 2 |\n\n- verdict\n"
    )
    assert section_cells(report, "v") == {"stage1": "0.800 ± 0.010", "round1": "0.810 ± 0.020"}
    with pytest.raises(AssertionError, match="no section w"):
        section_cells(report, "w")


def test_quality_table_numbers_are_the_headline_reports():
    """The quality-benchmark row: the defaults' cells of bench/results/quality_method_defaults.md,
    and the sentence on the defaults before (unknown_weight auto) there: a higher round 3 on
    every seed, by at most 0.004, both meeting the bar."""
    report = RESULTS / "quality_method_defaults.md"
    defaults = section_cells(report, "defaults")
    expected = (
        f"stage 1 {defaults['stage1']}, round 1 {defaults['round1']}, "
        f"round 3 {defaults['round3']} (3 seeds)"
    )
    assert expected in README
    before = section_cells(report, "defaults_unknown_weight_auto")["round3"].split(" ± ")[0]
    now = defaults["round3"].split(" ± ")[0]
    assert f"(round 3 {now} against {before}, lower on each of the 3 seeds by at most" in FLAT
    runs = per_run_lwlrap(report, "defaults")
    runs_before = per_run_lwlrap(report, "defaults_unknown_weight_auto")
    losses = [runs_before[seed][3] - runs[seed][3] for seed in runs]
    assert len(losses) == 3 and all(0 < loss <= 0.004 for loss in losses)
    assert "- Meeting the bar: defaults, defaults_unknown_weight_auto" in report.read_text()
    assert "and both meet the bar there" in FLAT
    recipe = section_cells(RESULTS / "quality.md", "recipe")
    stage1, round3 = (recipe[s].split(" ± ")[0] for s in ("stage1", "round3"))
    assert f"fell from {stage1} (stage 1) to {round3} (round 3)" in README


def test_ensemble_numbers_are_the_method_defaults_report():
    """The README's reason to keep ensemble.stages [last]: the submission rows of
    bench/results/quality_method_defaults.md, every stage against the last round alone."""
    rows = submission_rows(RESULTS / "quality_method_defaults.md")
    every, last = rows["defaults_ensemble_all_stages"][0], rows["defaults"][0]
    assert f"it scored {every} against the last round's {last}, below it on 2 of the 3" in FLAT
    seeds = per_run_lwlrap(RESULTS / "quality_method_defaults.md", "defaults_ensemble_all_stages")
    assert len(seeds) == 3 and sum(row[-1] < row[-2] for row in seeds.values()) == 2  # < round3


def real_cells(report: str, set_name: str, row: str) -> list[str]:
    """The cells of row ``row`` (a stage, or a variant of a --compare report) in ``set_name``'s
    section of a bench/real_annotated.py report."""
    section = report.split(f"\n## {set_name}\n")[1].split("\n## ")[0]
    line = next(line for line in section.splitlines() if line.startswith(f"| {row} |"))
    return [cell.strip() for cell in line.split("|")[2:-1]]


def real_resolution(report: str, set_name: str) -> str:
    """How much one test clip can lower a perfect score in ``set_name``'s section of a
    bench/real_annotated.py report (its resolution line), as printed."""
    section = report.split(f"\n## {set_name}\n")[1].split("\n## ")[0]
    found = re.search(r"one test clip ranked worst lowers \w+ by (\d\.\d+), (more|less)", section)
    assert found, f"{set_name} has no resolution line"
    return found[1]


def test_real_recordings_numbers_are_the_real_data_reports():
    report = (RESULTS / "real_annotated.md").read_text()
    insects = {row: real_cells(report, "insects", row)[0] for row in ("stage1", "round2", "round3")}
    random = real_cells(report, "insects", "*random (200 draws)*")[0]
    assert (
        f"test LWLRAP stage 1 {insects['stage1']}, round 2 {insects['round2']}, round 3 "
        f"{insects['round3']} (random {random})"
    ) in FLAT
    piha = {row: real_cells(report, "piha", row)[1] for row in ("stage1", "round1", "round3")}
    assert (
        f"test AP stage 1 {piha['stage1']}, round 1 {piha['round1']}, round 3 {piha['round3']} "
        f"(random {real_cells(report, 'piha', '*random (200 draws)*')[1]})"
    ) in FLAT
    bobwhite = " → ".join(real_cells(report, "bobwhite", row)[1] for row in ("stage1", "round3"))
    assert f"Northern Bobwhite clips, one species, {bobwhite} (random" in FLAT
    verdicts = {
        name: report.split(f"\n## {name}\n")[1]
        .split("\n## ")[0]
        .count("no round below stage 1 by more than that std: no")
        for name in ("insects", "piha", "bobwhite")
    }
    assert verdicts == {"insects": 1, "piha": 1, "bobwhite": 0}  # "on two of the three"
    assert "on two of the three a round fell below stage 1" in FLAT
    assert f"lowers a perfect AP by {real_resolution(report, 'piha')}, more than" in FLAT
    assert f"LWLRAP by at most {real_resolution(report, 'insects')} from a perfect" in FLAT
    defaults = (RESULTS / "real_annotated_defaults.md").read_text()
    insects_group = real_cells(defaults, "insects", "**defaults, 2 threads: mean ± std of 3 runs**")
    assert (
        f"its test LWLRAP went from {insects_group[0]} in stage 1 to {insects_group[3]} in round 3"
    ) in FLAT
    assert insects_group[7] == "2 of 3"  # meet "no round below stage 1": 1 of 3 fails
    assert "more than random's std on 1 of the 3 runs (seed 0's round 2)" in FLAT
    assert real_cells(defaults, "insects", "defaults, 2 threads: real_runs")[7] == "no (round2)"
    earlier = (RESULTS / "real_annotated_earlier_defaults.md").read_text()
    before = [real_cells(earlier, "insects", row)[0] for row in ("stage1", "round3")]
    assert f"went from {before[0]} in stage 1 to {before[1]} in round 3" in FLAT

    def stage1_to_round3(report: str, group: str, set_name: str) -> str:
        cells = real_cells(report, set_name, f"**{group}: mean ± std of 3 runs**")
        return f"{cells[0]} → {cells[3]}"

    two, one = "defaults, 2 threads", "defaults, 1 thread"
    bobwhite = [stage1_to_round3(defaults, group, "bobwhite") for group in (two, one)]
    assert f"stage 1 → round 3 {bobwhite[0]} on 2 threads and {bobwhite[1]} on 1" in FLAT
    piha = [stage1_to_round3(defaults, group, "piha") for group in (two, one)]
    assert f"Piha did not: {piha[0]} on 2 threads, {piha[1]} on 1" in FLAT
    for name in ("bobwhite", "piha"):
        random = real_cells(report, name, "*random (200 draws)*")[1]
        assert f"on 1 (random {random})" in FLAT
    below = {
        (name, group): real_cells(defaults, name, f"**{group}: mean ± std of 3 runs**")[7]
        for name in ("piha", "bobwhite")
        for group in (two, one)
    }
    assert below == {
        ("piha", two): "1 of 3",  # meeting "no round below stage 1": 2 of 3 fail
        ("piha", one): "3 of 3",
        ("bobwhite", two): "3 of 3",
        ("bobwhite", one): "3 of 3",
    }
    assert "Bobwhite met every verdict on every run" in FLAT
    assert (
        "on 2 threads its rounds fell below stage 1 by more than random's std on 2 of the 3" in FLAT
    )
    bobwhite_runs = [
        real_cells(defaults, "bobwhite", f"{group}: {root}")[5:8]
        for group, roots in (
            (two, ("real_runs", "defaults_seed1", "defaults_seed2")),
            (one, ("defaults_1thread", "defaults_1thread_seed1", "defaults_1thread_seed2")),
        )
        for root in roots
    ]
    assert bobwhite_runs == [["yes"] * 3] * 6
    grid = (RESULTS / "real_annotated_rounds_grid.md").read_text()
    fails = {
        group: real_cells(grid, "bobwhite", f"**{group}: mean ± std of 3 runs**")[7]
        for group in ("rounds on event crops", "rounds on the grid")
    }
    assert fails == {"rounds on event crops": "2 of 3", "rounds on the grid": "2 of 3"}
    assert "fails one verdict in 6 runs (Bobwhite" in FLAT and "fails one as well (seed 2)" in FLAT
    assert real_cells(grid, "bobwhite", "rounds on the grid: nn_weak_grid_seed2")[7].startswith(
        "no"
    )
    assert real_cells(grid, "bobwhite", "rounds on event crops: nn_weak_seed1")[7].startswith("no")
    assert all(
        real_cells(grid, "piha", f"**{group}: mean ± std of 3 runs**")[7] == "3 of 3"
        for group in ("rounds on event crops", "rounds on the grid")
    )


def test_round_step_floor_numbers_are_the_report_s():
    """The README's sentence on relabel.min_steps 90: Bobwhite's round 3 over the 3 seeds
    without and with the floor, from bench/results/real_annotated_relabel_min_steps.md, and
    the floor lower on every seed (why it is not the default)."""
    report = (RESULTS / "real_annotated_relabel_min_steps.md").read_text()
    groups = ("defaults, 1 thread", "relabel.min_steps 90, 1 thread")
    round3 = [
        real_cells(report, "bobwhite", f"**{group}: mean ± std of 3 runs**")[3] for group in groups
    ]
    assert f"Bobwhite's round 3 fell from {round3[0]} to {round3[1]} on 1 thread" in FLAT
    assert "last round higher on 0 of 3" in report.split("\n## bobwhite\n")[1]


def test_unlabelled_pairs_of_the_real_sets_are_the_report_s():
    """The README's counts of the (train clip, species) pairs that the real sets' tp/fp leave
    a window without a label: each set's "Unlabelled pairs" line of
    bench/results/real_annotated.md, every one 0 (the rounds have nothing to relabel)."""
    report = (RESULTS / "real_annotated.md").read_text()
    pairs = {}
    for set_name in ("insects", "piha", "bobwhite"):
        section = report.split(f"\n## {set_name}\n")[1].split("\n## ")[0]
        found = re.search(r"tp/fp leave (\d+) of the (\d+) \(train clip, species\) pairs", section)
        assert found and found[1] == "0", set_name
        assert "so the rounds have nothing to relabel" in section
        pairs[set_name] = found[2]
    assert (
        f"lines: 0 of {pairs['insects']} insects pairs, 0 of {pairs['piha']} Piha, "
        f"0 of {pairs['bobwhite']} Bobwhite)"
    ) in FLAT


def test_hidden_labels_numbers_are_the_report_s():
    """The README's sentence on the real sets with 75 % of the train recordings' labels
    hidden: each set's stage 1 and round 3 over the 3 seeds, from
    bench/results/real_annotated_hidden_labels.md, and the insects' round 3 lower than its
    stage 1 on every seed."""
    report = (RESULTS / "real_annotated_hidden_labels.md").read_text()
    group = {"insects": "75 % hidden, 2 threads", "piha": "75 % hidden, 1 thread"}
    group["bobwhite"] = group["piha"]
    cells = {
        name: real_cells(report, name, f"**{label}: mean ± std of 3 runs**")
        for name, label in group.items()
    }
    stage1, round3 = ({n: c[i] for n, c in cells.items()} for i in (0, 3))
    draw1 = real_cells(
        report, "insects", "**75 % hidden (draw 1), 2 threads: mean ± std of 3 runs**"
    )
    assert (
        f"the insects' test LWLRAP went from {stage1['insects']} in stage 1 to "
        f"{round3['insects']} in round 3, lower on every seed (on a second draw of the hidden "
        f"recordings {draw1[0]} to {draw1[3]}); Piha {stage1['piha']} to {round3['piha']}; "
        f"Bobwhite {stage1['bobwhite']} to {round3['bobwhite']}."
    ) in FLAT
    runs = [
        real_cells(report, "insects", f"75 % hidden, 2 threads: hidden_labels_insects{suffix}")
        for suffix in ("", "_seed1", "_seed2")
    ]
    assert all(float(run[3]) < float(run[0]) for run in runs)
    assert "With the labels of 75 % of the train recordings hidden" in FLAT


def test_stage_one_step_floor_in_the_rounds_numbers_are_the_report_s():
    """The README's sentence on relabel.min_steps 360: Bobwhite's round 3 over the 3 seeds with
    the floor, from bench/results/real_annotated_relabel_min_steps_360.md, against the same
    defaults as the 90 floor's report, and the seed whose round 3 fails a verdict."""
    report = (RESULTS / "real_annotated_relabel_min_steps_360.md").read_text()
    defaults, floor = (
        real_cells(report, "bobwhite", f"**{group}: mean ± std of 3 runs**")[3]
        for group in ("defaults, 1 thread", "relabel.min_steps 360, 1 thread")
    )
    assert f"Bobwhite's round 3 fell from {defaults} to" in FLAT
    assert (
        f"Bobwhite's round 3 fell to {floor}, below stage 1 by more than random's std on seed 1"
        in FLAT
    )
    assert real_cells(
        report, "bobwhite", "relabel.min_steps 360, 1 thread: relabel_min_steps_360_seed1"
    )[7].startswith("no")
    assert real_cells(report, "bobwhite", "defaults, 1 thread: defaults_1thread_seed1")[
        7
    ].startswith("yes")


def demo_seed_scores() -> dict[int, dict[str, float]]:
    """seed -> {stage: test LWLRAP} of bench/results/demo_seeds.md's seed rows."""
    report = (RESULTS / "demo_seeds.md").read_text()
    header = next(line for line in report.splitlines() if line.startswith("| seed |"))
    stages = [c.strip() for c in header.split("|")[2:-3]]
    rows = [line.split("|")[1:-1] for line in report.splitlines() if re.match(r"\| \d+ \|", line)]
    return {
        int(row[0]): {stage: float(c) for stage, c in zip(stages, row[1:], strict=False)}
        for row in rows
    }


def test_demo_output_in_the_readme_is_seed_0_of_the_demo_seeds_report():
    """The README shows the end of a real `make demo` (training seed 0, config.yaml as it is):
    its stage scores are seed 0's row of bench/results/demo_seeds.md."""
    scores = demo_seed_scores()[0]
    stages, values = list(scores), list(scores.values())
    shown = dict(re.findall(r"^  (stage1|round\d+) +(\d\.\d{3})$", README, re.M))
    assert shown, "the README shows no demo output"
    assert set(shown) == set(stages)
    for stage, value in zip(stages, values, strict=True):
        # the README's 3 decimals of the report's 4 (both rounded from scores.csv)
        assert abs(float(shown[stage]) - value) <= 0.00055, stage


def test_demo_seed_ranges_in_the_readme_are_the_demo_seeds_report():
    """The README's sentence on the demo over seeds gives stage 1's and round 3's lowest and
    highest score of bench/results/demo_seeds.md's seed rows."""
    seeds = demo_seed_scores()
    assert len(seeds) >= 3

    def span(stage: str) -> str:
        values = [scores[stage] for scores in seeds.values()]
        return f"{min(values):.3f} to {max(values):.3f}"

    assert f"stage 1 scores {span('stage1')} and round 3 {span('round3')}:" in FLAT


def review_cells(report: Path) -> dict[tuple[str, str], list[str]]:
    """(arm, stage) -> the cells after them in bench/review_sim.py's table."""
    rows = [line.split("|")[1:-1] for line in report.read_text().splitlines()]
    return {
        (cells[0].strip(), cells[1].strip()): [c.strip() for c in cells[2:]]
        for cells in rows
        if len(cells) > 2 and cells[1].strip().startswith(("stage", "round"))
    }


def review_section() -> str:
    """The README's "Review loop" section on one line."""
    return " ".join(README.split("### Review loop", 1)[1].split("\n## ", 1)[0].split())


def last_round(cells: dict[tuple[str, str], list[str]]) -> str:
    """The last round of a :func:`review_cells` table."""
    return max(stage for _, stage in cells if stage.startswith("round"))


def verdict_block(report: Path, stage: str, name: str) -> str:
    """The per-seed verdict lines of ``stage`` in metric ``name`` (e.g. "test LWLRAP") of a
    bench/review_sim.py report."""
    return report.read_text().split(f"{stage}, {name}, per seed", 1)[1].split("\n\n", 2)[1]


def test_review_numbers_are_the_simulated_reviewer_report_s():
    flat = review_section()
    cells = review_cells(RESULTS / "review_sim.md")
    last = last_round(cells)
    lwlrap = {arm: cells[(arm, last)][3] for arm in ("none", "mix", "random", "margin")}
    f1 = {arm: cells[(arm, last)][4] for arm in ("none", "mix")}
    assert (
        f"no review {lwlrap['none']}, the default mix {lwlrap['mix']}, random "
        f"{lwlrap['random']}, margin alone {lwlrap['margin']}" in flat
    )
    assert f"(no review {f1['none']}, the mix {f1['mix']})" in flat
    fitted = review_fitted(RESULTS / "review_sim.md")
    assert "seldom do" in flat and sum(fitted.values()) < len(fitted) * 24 / 4
    assert f"{cells[('mix', last)][1]} verdicts by {last.replace('round', 'round ')}" in flat
    # "no selection strategy beat no review, or random selection, on every seed" (LWLRAP)
    lwlrap = verdict_block(RESULTS / "review_sim.md", last, "test LWLRAP")
    assert lwlrap.startswith("- ") and "on every seed: **yes**" not in lwlrap


def test_review_numbers_at_rfcx_size_are_the_report_s():
    """The README's RFCx-size review paragraph: bench/results/review_sim_rfcx_shaped.md's
    round-3 LWLRAP and tp shares, event F1, and its per-seed verdicts."""
    flat = review_section()
    report = RESULTS / "review_sim_rfcx_shaped.md"
    cells = review_cells(report)
    last = last_round(cells)
    lwlrap = {arm: cells[(arm, last)][3] for arm in ("none", "random", "mix", "margin", "top")}
    tp = {arm: cells[(arm, last)][2] for arm in lwlrap}
    f1 = {arm: cells[(arm, last)][4] for arm in ("none", "mix", "margin")}
    assert (
        f"no review {lwlrap['none']}, random ({tp['random']} tp) {lwlrap['random']}, the "
        f"default mix ({tp['mix']}) {lwlrap['mix']}, margin alone ({tp['margin']}) "
        f"{lwlrap['margin']}, top ({tp['top']}) {lwlrap['top']};" in flat
    )
    # "review lowered round 3's test LWLRAP, the more so the more of its verdicts were tp"
    means = [float(lwlrap[arm].split(" ± ")[0]) for arm in lwlrap]
    assert means == sorted(means, reverse=True)
    assert [float(tp[arm].rstrip("%")) for arm in lwlrap] == sorted(
        float(tp[arm].rstrip("%")) for arm in lwlrap
    )
    assert f"({f1['mix']} and {f1['margin']} against {f1['none']})" in flat
    block = {name: verdict_block(report, last, name) for name in ("test LWLRAP", "event F1")}
    # "no strategy was above no review, or random selection, on every seed"
    assert block["test LWLRAP"].startswith("- ") and "**yes**" not in block["test LWLRAP"]
    # event F1: the mix and margin above no review on every seed, not above random
    for arm in ("mix", "margin"):
        assert f"- {arm} above none on every seed: **yes**" in block["event F1"]
        assert f"- {arm} above random on every seed: **no**" in block["event F1"]


def review_fitted(report: Path) -> dict[str, int]:
    """arm -> species fitted, from bench/review_sim.py's fitted-thresholds table."""
    table = report.read_text().split("## Detection thresholds fitted", 1)[1]
    rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): int(cells[2]) for cells in rows[1:]}


def side_by_side(report: Path) -> dict[str, list[str]]:
    """The test LWLRAP cells ('mean ± std') per stage of each variant in a bench/quality.py
    report's side-by-side table, keyed by variant: the stage columns, then the last round."""
    text = report.read_text()
    table = text.split("## Switches:", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1:-1] for line in table.splitlines()[2:]]
    return {cells[0].strip(): [c.strip() for c in cells[2:-3]] for cells in rows}


def test_rfcx_label_shape_numbers_are_the_reports():
    """The README's RFCx-label-shape row and paragraph: bench/results/quality_review_sim.md's
    numbers, and its bar verdict (no variant met it; the defaults had the best last round)."""
    report = RESULTS / "quality_review_sim.md"
    # made before unknown_weight 0.1 became the default: the defaults are its weak variant
    for variant in ("defaults_weak_negatives_0.1", "seed_preset"):
        cells = section_cells(report, variant)
        expected = (
            f"stage 1 {cells['stage1']}, round 1 {cells['round1']}, round 3 {cells['round3']}"
        )
        assert expected in FLAT, variant
    rows = side_by_side(report)
    stages = ["stage1", "round1", "round2", "round3"]
    assert rows["defaults"][: len(stages)] == [section_cells(report, "defaults")[s] for s in stages]
    round3 = {variant: cells[3].split(" ± ")[0] for variant, cells in rows.items()}
    assert f"out-of-fold model scored lower ({round3['defaults_oof_hard']})" in FLAT
    assert f"`relabel.pseudo_target_precision`: {round3['defaults_oof_hard_calibrated_0.95']})" in (
        FLAT
    )
    assert f"(`frames`: {round3['defaults_oof_hard_frames']})" in FLAT
    assert f"from stage 1 on ({rows['seed_preset'][0].split(' ± ')[0]})" in FLAT
    text = report.read_text()
    assert "- Meeting the bar: **no variant**." in text and "no variant met the bar" in FLAT
    # the best mean last round: the weak negatives, by less than 0.001 over the defaults before
    weak = "defaults_weak_negatives_0.1"
    assert f"- Best mean last round: {weak} (" in text
    means = dict(re.findall(r"^\| (\S+) \| round3 \| ([0-9.]+) \|", text, re.M))
    assert 0 < float(means[weak]) - float(means["defaults"]) < 0.001
    assert (
        f"(`relabel.unknown_weight` 0.1: {round3[weak]}) and the defaults before them "
        f"({round3['defaults']}, less than 0.001 below)"
    ) in FLAT
    precision = {
        v: section_cells(report, v, 4)["round3"].split(" ± ")[0] for v in (weak, "defaults")
    }
    assert f"precision at 0.5 {precision[weak]} against {precision['defaults']}" in FLAT
    # the submission table: every stage's models averaged, against the last round's
    rows = submission_rows(report)
    everything, last = rows["defaults_ensemble_all_stages"], rows["defaults"]
    assert everything[1].startswith("yes") and everything[2].startswith("yes")
    gains = (everything[1].split("(")[1][:-1], everything[2].split("(")[1][:-1])
    assert (
        f"scored {everything[0]} against the last round's {last[0]}, above stage 1 and round 1 "
        f"on every run (by at least {gains[0]} and {gains[1]})"
    ) in FLAT


VARIANTS_REPORT = RESULTS / "quality_rfcx_shaped_variants.md"


def variant_section(report: Path, variant: str) -> str:
    """``variant``'s section of a bench/quality.py report (its tables and verdict lines)."""
    return report.read_text().split(f"\n## {variant}: ", 1)[1].split("\n## ", 1)[0]


def readme_variant_rows() -> dict[str, list[str]]:
    """The README's table of the variants at RFCx's size: variant -> its cells after "what it
    changes" (test LWLRAP, above stage 1, above round 1)."""
    header = "| variant | what it changes | test LWLRAP |"
    assert header in README, "the README has no table of the variants at RFCx's size"
    table = README.split(header, 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    rows = [line.split("|")[1:-1] for line in table]
    return {cells[0].strip().strip("`"): [c.strip() for c in cells[2:]] for cells in rows}


def test_rfcx_size_numbers_are_the_variants_report():
    """The README's RFCx-size row, variant table and sentences: bench/results/
    quality_rfcx_shaped_variants.md (every variant on the same 6 runs): the defaults' and the
    seed preset's cells, the runs the defaults' round 3 was above stage 1 and round 1 on, the
    mean gain and the spread, each variant's submission row, and that no variant meets the bar."""
    report = VARIANTS_REPORT
    text = report.read_text()
    cells = section_cells(report, "defaults")
    assert (
        f"stage 1 {cells['stage1']}, round 1 {cells['round1']}, round 3 {cells['round3']} "
        "(3 seeds × 2 data draws"
    ) in FLAT
    preset = section_cells(report, "seed_preset_5_folds")
    assert (
        f"stage 1 {preset['stage1']}, round 1 {preset['round1']}, round 3 {preset['round3']} "
        "(the same 6 runs)"
    ) in FLAT
    runs = per_run_lwlrap(report, "defaults")  # stage1, round1, round2, round3, ensemble
    assert len(runs) == 6
    assert all(scores[3] > scores[0] and scores[3] > scores[1] for scores in runs.values())
    assert "round 3 was above stage 1 and above round 1 on all 6 runs" in FLAT
    gain, spread, met = stage1_verdict(report, "round3")
    assert met == "no"
    assert "- Meeting the bar: **no variant**." in text
    assert (
        "no variant meets the bar of beating stage 1 by more than the spread between runs "
        f"({spread:.3f})"
    ) in FLAT
    assert f"by +{gain:.3f} over stage 1 on average" in FLAT
    # the table: one row per variant of the report, its submission cells as the report has them
    shown = readme_variant_rows()
    submission = submission_rows(report)
    assert set(shown) == set(submission)
    for variant, row in shown.items():
        assert row == submission[variant][:3], variant
    # the seed preset: stage 1 calls nothing at 0.5, round 3 below round 1 on every run
    assert section_cells(report, "seed_preset_5_folds", 5)["stage1"] == "0.000 ± 0.000"
    assert "The seed preset's stage 1 finds no test call at 0.5" in FLAT
    runs = per_run_lwlrap(report, "seed_preset_5_folds")
    assert len(runs) == 6 and all(scores[3] < scores[1] for scores in runs.values())
    precision = section_cells(report, "seed_preset_5_folds", 7)["round3"].split(" ± ")[0]
    assert f"(precision {precision} in round 3) take round 3 below round 1 on every run" in FLAT
    # the best mean last round, and the weak negatives' precision against the defaults before
    best = re.search(r"- Best mean last round: (\S+) \(", text)[1]
    assert best == "defaults_relabel_min_steps_360"
    longer = section_cells(report, best)["round3"]
    mean_gain = float(re.search(r"mean gain \+(\d\.\d+)", variant_section(report, best))[1])
    runs = per_run_lwlrap(report, best)
    gains = {run: scores[3] - scores[0] for run, scores in runs.items()}
    short = [run for run, gain in gains.items() if gain <= spread]
    assert len(runs) == 6 and min(gains.values()) > 0 and len(short) == 1
    assert mean_gain > spread
    # the smallest gain as the report gives it (from the unrounded scores)
    smallest = re.search(r"\((\+\d\.\d+)\)", submission_rows(report)[best][1])[1]
    assert (
        f"round 3 scored {longer}, above stage 1 by +{mean_gain:.3f} on average, more than the "
        f"spread, and by more than the spread on 5 of the 6 runs (run {short[0]}: "
        f"{smallest}), so it misses the bar by one run"
    ) in FLAT
    assert "Five rounds had the best mean before it" in FLAT
    precision = {
        v: section_cells(report, v, 4)["round3"].split(" ± ")[0]
        for v in ("defaults", "defaults_unknown_weight_auto")
    }
    assert (
        f"test precision at 0.5 in round 3 {precision['defaults']} against "
        f"{precision['defaults_unknown_weight_auto']} without them"
    ) in FLAT


def test_five_rounds_on_the_quality_benchmark_numbers_are_the_report_s():
    """The README's reason the defaults keep 3 rounds: round 5 against round 3 on the quality
    benchmark (bench/results/quality_method_defaults_5_rounds.md), its cells and the seeds
    where round 5 is lower; a lower mean is what the sentence says."""
    report = RESULTS / "quality_method_defaults_5_rounds.md"
    cells = section_cells(report, "defaults_5_rounds")
    runs = per_run_lwlrap(report, "defaults_5_rounds")  # stage1, round1..round5, ensemble
    assert len(runs) == 3
    lower = sum(scores[5] < scores[3] for scores in runs.values())
    assert (
        f"round 5 scored {cells['round5']} against round 3's {cells['round3']}, lower on "
        f"{lower} of the 3 seeds, so the defaults keep 3 rounds"
    ) in FLAT
    mean = {stage: float(cells[stage].split(" ± ")[0]) for stage in ("round3", "round5")}
    assert mean["round5"] < mean["round3"]
    # the round-3 runs are the defaults' own (rounds 4 and 5 were added to copies of them)
    defaults = per_run_lwlrap(report, "defaults")
    assert {run: scores[:4] for run, scores in runs.items()} == {
        run: scores[:4] for run, scores in defaults.items()
    }


def test_stage_selection_numbers_are_the_report_s():
    """The README's sentence on choosing a stage from a run's own labels: the hidden-label
    insects runs' rises of labelled AP and of the test score from stage 1 to the last round, and
    how often the two agree over all runs, from bench/results/stage_selection.md."""
    report = (RESULTS / "stage_selection.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| insects, 75 % hidden |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    labelled, test = cells[7], cells[9]
    agree = re.search(r"the two agree on which of the two is higher in (\d+) of (\d+)\.", report)
    assert agree, "stage_selection.md has no agreement line"
    assert (
        f"rose from stage 1 to round 3 on {labelled} while the test score rose on {test}, and "
        f"over {agree[2]} benchmark runs the two agreed on which of stage 1 and the last round "
        f"was better in {agree[1]}"
    ) in FLAT


def test_hidden_unknown_weight_numbers_are_the_report_s():
    """The README's sentence on relabel.unknown_weight 1 and 0 on the hidden-label insects:
    their round 3 over the 3 seeds, from bench/results/real_annotated_hidden_unknown_weight.md,
    both below the same runs' stage 1."""
    report = (RESULTS / "real_annotated_hidden_unknown_weight.md").read_text()
    cells = {
        (w, draw): real_cells(
            report, "insects", f"**unknown_weight {w}{draw}: mean ± std of 3 runs**"
        )
        for w in ("1", "0")
        for draw in ("", ", draw 1")
    }
    round3 = {key: row[3] for key, row in cells.items()}
    assert (
        f"did not rescue the insects' rounds: round 3 {round3['1', '']} and {round3['0', '']}, and "
        f"on the second draw {round3['1', ', draw 1']} and {round3['0', ', draw 1']} "
        "([bench/results/real_annotated_hidden_unknown_weight.md]"
    ) in FLAT
    assert all(float(row[3].split()[0]) < float(row[0].split()[0]) for row in cells.values())


def test_hidden_rounds_grid_numbers_are_the_report_s():
    """The README's sentence on relabel.crops grid on the hidden-label insects: how many runs'
    round 1 is above their stage 1, and round 3 over the 3 seeds of each draw, from
    bench/results/real_annotated_hidden_rounds_grid.md."""
    report = (RESULTS / "real_annotated_hidden_rounds_grid.md").read_text()
    label = "every window (relabel.crops grid)"
    runs = [
        real_cells(report, "insects", f"{label}{draw}: hidden_rounds_grid{tag}_insects{suffix}")
        for draw, tag in (("", ""), (", draw 1", "_draw1"))
        for suffix in ("", "_seed1", "_seed2")
    ]
    above = sum(float(run[1]) > float(run[0]) for run in runs)
    first, second = (
        real_cells(report, "insects", f"**{label}{draw}: mean ± std of 3 runs**")
        for draw in ("", ", draw 1")
    )
    assert (
        f"lifted round 1 above stage 1 on {above} of {len(runs)} runs, but the rounds with soft "
        f"targets gave it back: round 3 {first[3]} on the first draw and {second[3]} on the second"
    ) in FLAT


def test_hidden_variants_numbers_are_the_report_s():
    """The README's sentences on the four hidden-label variants and on the defaults' runs made
    again: round 3 of each group of bench/results/real_annotated_hidden_variants.md, how many
    runs each variant's round 3 is below the defaults' (paired seed by seed), how many runs'
    submission beats their stage 1 when every stage is averaged, and the defaults' first draw
    there against bench/results/real_annotated_hidden_labels.md's."""
    report = (RESULTS / "real_annotated_hidden_variants.md").read_text()

    def group(label, draw):
        return real_cells(report, "insects", f"**{label}{draw}: mean ± std of 3 runs**")

    def runs(label, root, draw, tag):
        return [
            real_cells(report, "insects", f"{label}{draw}: {root}{tag}_insects{suffix}")
            for suffix in ("", "_seed1", "_seed2")
        ]

    draws = (("", ""), (", draw 1", "_draw1"))
    defaults = [run for d, t in draws for run in runs("the defaults", "hidden_labels", d, t)]
    below = {}
    for label, root in (
        ("relabel.min_steps 360", "hidden_min_steps_360"),
        ("no soft targets", "hidden_soft_weight_0"),
        ("soft targets x3", "hidden_soft_weight_3"),
    ):
        variant = [run for d, t in draws for run in runs(label, root, d, t)]
        below[label] = sum(
            float(v[3]) < float(d[3]) for v, d in zip(variant, defaults, strict=True)
        )
    min_steps = [group("relabel.min_steps 360", d)[3] for d, _ in draws]
    soft = [group("no soft targets", d)[3] for d, _ in draws]
    base = [group("the defaults", d)[3] for d, _ in draws]
    assert (
        f"scored below the defaults' round 3 on {below['relabel.min_steps 360']} of 6 runs "
        f"({min_steps[0]} and {min_steps[1]} against {base[0]} and {base[1]} on the two draws), "
        f"and so did rounds without soft targets ({soft[0]} and {soft[1]}, on "
        f"{below['no soft targets']} of 6)"
    ) in FLAT
    heavy = [run for d, t in draws for run in runs("soft targets x3", "hidden_soft_weight_3", d, t)]
    above = sum(float(h[3]) > float(d[3]) for h, d in zip(heavy, defaults, strict=True))
    means = [group("soft targets x3", d)[3] for d, _ in draws]
    assert (
        f"soft targets weighing 3 were above the defaults on {above} of 6 "
        f"({means[0]} and {means[1]}: no difference shown)"
    ) in FLAT
    assert above < 5 and below["soft targets x3"] < 5  # the rule: 5 of 6 either way
    # the submission table: "submission > stage 1" per run of every stage averaged
    table = report.split("Submission and prior scaling")[1]
    averaged = [
        line.split("|")[4].strip()
        for line in table.splitlines()
        if line.startswith("| every stage averaged") and "mean ± std" not in line
    ]
    assert len(averaged) == 6
    assert f"into the submission scored above stage 1 on {averaged.count('yes')} of the 6" in FLAT
    now = group("the defaults", "")
    before = real_cells(
        (RESULTS / "real_annotated_hidden_labels.md").read_text(),
        "insects",
        "**75 % hidden, 2 threads: mean ± std of 3 runs**",
    )
    assert (
        f"stage 1 → round 3: {now[0]} → {now[3]} there, {before[0]} → {before[3]} before"
    ) in FLAT
