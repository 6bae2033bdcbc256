"""The real-data quality benchmark's own logic (bench/real_data/assemble.py,
bench/real_annotated.py): the manifest check, the baselines and the verdicts. None of these
needs the fetched recordings or the network; the one that reads the assembled sets skips
without them."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from sedcycle.schedule import falling_warning

from .conftest import train_settings
from .workflow_runs import layered, schema_errors

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "real_data"))

import assemble  # noqa: E402
import real_annotated as bench  # noqa: E402


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.fixture
def source_repo(tmp_path: Path) -> tuple[Path, str]:
    """A git repository with two recordings and a labels csv, committed once."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    (repo / "a.wav").write_bytes(b"RIFF-a")
    (repo / "b.wav").write_bytes(b"RIFF-b")
    (repo / "labels.csv").write_text("file,start,stop\na.wav,1.0,2.5\nb.wav,0.5,1.0\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "data")
    return repo / ".git", git(repo, "rev-parse", "HEAD")


def toy_set(commit: str) -> assemble.RealSet:
    def convert(annotations, stems):
        (data,) = annotations.values()
        rows = list(csv.DictReader(data.decode().splitlines()))
        where = {s: split for split, names in stems.items() for s in names}
        out = {split: [] for split in stems}
        for row in rows:
            stem = {"a": "a", "b": "b_renamed"}[Path(row["file"]).stem]  # b is renamed
            out[where[stem]].append(
                {
                    "recording": stem,
                    "begin": float(row["start"]),
                    "end": float(row["stop"]),
                    "species": "toy",
                }
            )
        return out

    return assemble.RealSet(
        name="toy",
        repository="someone/toy",
        commit=commit,
        licence="none stated",
        description="two files",
        files=[
            assemble.SourceFile("a.wav", "train"),
            assemble.SourceFile("b.wav", "test", "b_renamed.wav"),
            assemble.SourceFile("labels.csv", "annotations"),
        ],
        convert=convert,
    )


def test_assemble_extracts_the_manifest_files_and_converts_the_labels(source_repo, tmp_path):
    git_dir, commit = source_repo
    toy = toy_set(commit)
    manifest = assemble.manifest_rows(toy, git_dir)
    assert manifest[0]["sha256"] == hashlib.sha256(b"RIFF-a").hexdigest()
    out = assemble.assemble(toy, git_dir, manifest, out_root=tmp_path / "sets")
    assert (out / "train" / "a.wav").read_bytes() == b"RIFF-a"
    assert (out / "test" / "b_renamed.wav").read_bytes() == b"RIFF-b"
    rows = list(csv.DictReader((out / "test_annotations.csv").open()))
    assert rows == [
        {"recording": "b_renamed", "begin": "0.5000", "end": "1.0000", "species": "toy"}
    ]


def test_assemble_stops_on_a_file_whose_sha256_differs_from_the_manifest(source_repo, tmp_path):
    git_dir, commit = source_repo
    toy = toy_set(commit)
    manifest = assemble.manifest_rows(toy, git_dir)
    # the repository's file changes under the same path and commit name in the manifest
    repo = git_dir.parent
    (repo / "b.wav").write_bytes(b"RIFF-b-changed")
    git(repo, "commit", "-q", "-am", "change b")
    changed = assemble.RealSet(**{**toy.__dict__, "commit": git(repo, "rev-parse", "HEAD")})
    for row in manifest:
        row["commit"] = changed.commit
    with pytest.raises(ValueError, match=r"b\.wav.*sha256"):
        assemble.assemble(changed, git_dir, manifest, out_root=tmp_path / "sets")


def test_assemble_names_a_missing_repository(tmp_path):
    toy = toy_set("0" * 40)
    with pytest.raises(FileNotFoundError, match="no such git directory"):
        assemble.manifest_rows(toy, tmp_path / "absent.git")


def test_constant_prior_scores_every_test_clip_with_the_train_share():
    train = np.array([[1, 0], [1, 1], [0, 0], [1, 0]], dtype=bool)
    prior = bench.constant_prior(train, n_test=3)
    np.testing.assert_allclose(prior, [[0.75, 0.25]] * 3)
    truth = np.array([[1, 0], [0, 1], [0, 0]], dtype=bool)
    result = bench.score(truth, prior)
    # a constant column ranks every clip alike: AP = share of positive clips (1/3 each)
    assert result["mean_ap"] == pytest.approx(1 / 3)
    # 0.75 >= 0.5 for species 0 on all 3 clips: 1 true of 3 predicted; species 1 never predicted
    assert result["precision"] == pytest.approx(1 / 3)
    assert result["recall"] == pytest.approx(1 / 2)


def test_score_leaves_lwlrap_out_with_one_species():
    truth = np.array([[1], [0], [1]], dtype=bool)
    result = bench.score(truth, np.array([[0.9], [0.1], [0.8]]))
    assert np.isnan(result["lwlrap"])
    assert result["mean_ap"] == pytest.approx(1.0)


def stage_scores(values: dict[str, float], metric: str = "lwlrap") -> dict[str, dict]:
    return {stage: {metric: value} for stage, value in values.items()}


RANDOM = {"lwlrap": (0.40, 0.05), "mean_ap": (0.30, 0.04)}


def test_verdict_passes_a_set_that_learns_and_keeps_stage1():
    stages = stage_scores({"stage1": 0.70, "round1": 0.72, "round2": 0.68, "round3": 0.71})
    v = bench.verdict(stages, RANDOM, "lwlrap")
    assert (v.stage1_above_random, v.final_above_random, v.no_round_below_stage1) == (
        True,
        True,
        True,
    )
    assert "no" not in " ".join(v.lines("round3")).replace("no round", "")


def test_verdict_says_no_for_a_planted_set_at_chance():
    # stage 1 within random's mean + std, the rounds no better
    stages = stage_scores({"stage1": 0.43, "round1": 0.44, "round2": 0.41, "round3": 0.42})
    v = bench.verdict(stages, RANDOM, "lwlrap")
    assert v.stage1_above_random is False and v.final_above_random is False
    lines = v.lines("round3")
    assert lines[0].endswith(": no") and lines[1].endswith(": no")


def test_verdict_names_the_rounds_that_fall_below_stage1():
    stages = stage_scores({"stage1": 0.70, "round1": 0.71, "round2": 0.62, "round3": 0.60})
    v = bench.verdict(stages, RANDOM, "lwlrap")
    assert v.no_round_below_stage1 is False
    assert v.below == ["round2", "round3"]
    assert v.lines("round3")[2].endswith("no (round2, round3)")


def test_verdict_uses_mean_ap_with_one_species():
    assert bench.primary_metric(1) == "mean_ap" and bench.primary_metric(2) == "lwlrap"
    stages = stage_scores({"stage1": 0.50, "round1": 0.30}, metric="mean_ap")
    v = bench.verdict(stages, RANDOM, "mean_ap")
    assert v.stage1_above_random is True and v.final_above_random is False


def test_a_set_too_small_gets_a_reason_instead_of_verdicts():
    truth = np.zeros((20, 2), dtype=bool)
    truth[:3, 0] = True
    reason = bench.too_small(truth)
    assert "3 true" in reason
    v = bench.verdict(stage_scores({"stage1": 0.9, "round1": 0.9}), RANDOM, "lwlrap", reason)
    assert v.lines("round1") == [f"- Too small to show it: {reason}."]
    assert bench.too_small(np.ones((12, 1), dtype=bool)).startswith("every test clip")
    enough = np.zeros((30, 2), dtype=bool)
    enough[:12, 0] = True
    assert bench.too_small(enough) == ""


def test_one_clip_drop_is_what_one_clip_ranked_worst_costs_from_a_perfect_ranking():
    """One species, P clips with it: a clip without it scored above all of them leaves the
    k-th call at precision k/(k+1), so AP falls by (1/P) * sum 1/(k+1); LWLRAP with one of S
    species a clip: that clip's label ranked last scores 1/S instead of 1, over N labels."""
    piha = np.zeros((25, 1), dtype=bool)
    piha[:21] = True  # Piha's test set: 21 clips with a call of 25
    expected = sum(1 / (k + 1) for k in range(1, 22)) / 21
    assert bench.one_clip_drop(piha, "mean_ap") == pytest.approx(expected)
    assert expected == pytest.approx(0.128, abs=5e-4)
    assert bench.one_clip_drop(np.ones((12, 1), dtype=bool), "mean_ap") == 0.0  # no negative
    one_label = np.zeros((75, 32), dtype=bool)
    one_label[np.arange(75), np.arange(75) % 32] = True
    assert bench.one_clip_drop(one_label, "lwlrap") == pytest.approx((1 - 1 / 32) / 75)


def test_resolution_says_when_one_clip_can_decide_a_verdict():
    random = {"mean_ap": (0.858, 0.056)}
    above = bench.resolution(0.128, random, "mean_ap")
    assert "lowers mean_ap by 0.128, more than the random std 0.056" in above
    assert "too small to show that verdict reliably" in above
    below = bench.resolution(0.013, {"lwlrap": (0.13, 0.022)}, "lwlrap")
    assert "less than the random std 0.022" in below and "too small" not in below


def test_random_baseline_is_seeded_and_near_the_positive_share_for_ap():
    truth = np.zeros((40, 1), dtype=bool)
    truth[:10, 0] = True
    first = bench.random_baseline(truth, draws=50)
    assert first["mean_ap"] == bench.random_baseline(truth, draws=50)["mean_ap"]
    assert np.isnan(first["lwlrap"][0])  # one species: no LWLRAP
    mean, std = first["mean_ap"]
    assert 0.15 < mean < 0.45 and std > 0


def set_yaml(name: str) -> dict:
    return yaml.safe_load((ROOT / "bench" / "real_data" / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", sorted(assemble.SETS))
def test_set_configs_leave_the_method_settings_to_config_yaml(name):
    config = set_yaml(name)
    assert set(config) <= {"data", "clip_seconds", "features", "folds"}, set(config)
    assert set(config.get("features", {})) <= {"sample_rate", "fmin", "fmax"}
    assert set(config.get("folds", {})) <= {"groups"}  # which files share a fold: data
    assert config["data"]["source"] == "annotated"
    paths = [config["data"]["annotated"].get(key) for key in bench.PATH_KEYS]
    for value in [*paths, config.get("folds", {}).get("groups")]:
        assert value is None or value.startswith(f"bench/real_data/sets/{name}/")


@pytest.mark.parametrize("name", sorted(assemble.SETS))
def test_set_configs_validate_layered_over_config_yaml(name):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert schema_errors(layered(config, set_yaml(name))) == []


@pytest.mark.parametrize(
    "variant", sorted(p.name for p in (ROOT / "bench/real_data/variants").glob("*.yaml"))
)
def test_variants_validate_and_pin_the_settings_auto_resolves(variant):
    """Each variant validates over config.yaml and a set, and writes out stage1.crops and
    relabel.unknown_weight, the settings whose "auto" defaults resolve from the fp/tp counts
    (which the no-negatives variants change), and stage1.min_steps, whose default changed
    after the first runs: a later change of the defaults leaves the measured runs what they
    were. stage1.crops auto written out is pinned too (it resolves from the set's own tables);
    a variant keeps it so to leave stage 1's params, and so its models, as the defaults'."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    extra = yaml.safe_load((ROOT / "bench/real_data/variants" / variant).read_text())
    assert schema_errors(layered(config, set_yaml("bobwhite"), extra)) == []
    if variant.startswith("no_negatives"):
        assert extra["data"]["annotated"]["negatives"] == "none"
        assert extra["stage1"]["crops"] != "auto"  # without fp rows: grid, written out
    assert extra["stage1"]["crops"] in ("events", "grid", "auto")
    assert isinstance(extra["stage1"]["min_steps"], int)  # the defaults' floor may change
    assert "unknown_weight" in extra["relabel"]


def test_variant_name_keeps_a_linked_folders_name_in_the_repository(tmp_path, monkeypatch):
    """A root or config inside the repository is named relative to it, also when it is a link
    to a folder elsewhere (a worktree linking the runs of the main checkout); one outside is
    named by its absolute real path."""
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    (repo / "bench").mkdir(parents=True)
    (elsewhere / "runs" / "piha").mkdir(parents=True)
    (repo / "bench" / "real_runs").symlink_to(elsewhere / "runs")
    monkeypatch.setattr(bench, "ROOT", repo)
    assert bench.variant_name(repo / "bench/real_runs/piha") == "bench/real_runs/piha"
    monkeypatch.chdir(repo)
    assert bench.variant_name(Path("bench/real_runs/piha")) == "bench/real_runs/piha"
    (tmp_path / "link").symlink_to(elsewhere)
    assert bench.variant_name(tmp_path / "link/runs") == str(elsewhere.resolve() / "runs")


@pytest.mark.parametrize(
    "seed_file", sorted(p.name for p in (ROOT / "bench/real_data/seeds").glob("*.yaml"))
)
def test_seed_files_set_the_training_seeds_alone_and_validate(seed_file):
    """A seed file (layered after a variant) changes stage 1's and the rounds' seeds, nothing
    else, to the number in its name."""
    seed = yaml.safe_load((ROOT / "bench/real_data/seeds" / seed_file).read_text())
    number = int(seed_file.removeprefix("seed").removesuffix(".yaml"))
    assert seed == {"stage1": {"seed": number}, "relabel": {"seed": number}}
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert schema_errors(layered(config, set_yaml("bobwhite"), seed)) == []


def test_set_config_makes_the_data_and_fold_groups_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    sets = tmp_path / "bench" / "real_data" / "sets" / "toy"
    sets.mkdir(parents=True)
    (sets / "train").mkdir()
    (sets / "groups.csv").write_text("recording_id,group\n")
    (tmp_path / "bench" / "real_data" / "toy.yaml").write_text(
        "data: {source: annotated, annotated: {recordings: bench/real_data/sets/toy/train}}\n"
        "folds: {groups: bench/real_data/sets/toy/groups.csv}\n"
    )
    config = yaml.safe_load(bench.set_config("toy", tmp_path / "run").read_text())
    assert config["folds"]["groups"] == str(sets / "groups.csv")
    assert config["data"]["annotated"]["recordings"] == str(sets / "train")
    (sets / "groups.csv").unlink()
    with pytest.raises(FileNotFoundError, match="folds.groups"):
        bench.set_config("toy", tmp_path / "run")


def manifest_files(real_set: assemble.RealSet, rows: list[dict]) -> list[assemble.SourceFile]:
    """The set's files as the manifest's rows define them: a set whose annotations list its
    audio places the manifest's audio paths by its own rule (split and name)."""
    if real_set.place is None:
        return real_set.files
    audio = [r["path"] for r in rows if r["split"] != "annotations"]
    return real_set.files + real_set.place(audio)


def test_the_manifest_lists_every_defined_file_once():
    rows = assemble.read_manifest()
    keys = [(r["set"], r["path"]) for r in rows]
    assert len(keys) == len(set(keys))
    for name, real_set in assemble.SETS.items():
        listed = {r["path"]: r for r in rows if r["set"] == name}
        files = manifest_files(real_set, list(listed.values()))
        assert set(listed) == {f.path for f in files}
        # the split column is the set definition's (for a listed set: its rule's)
        assert {f.path: f.split for f in files} == {p: r["split"] for p, r in listed.items()}
        assert {r["commit"] for r in listed.values()} == {real_set.commit}
        assert all(len(r["sha256"]) == 64 for r in listed.values())


def test_assembled_sets_match_the_manifest():
    if not assemble.SETS_DIR.exists():
        pytest.skip(
            f"{assemble.SETS_DIR} absent: run bench/real_data/assemble.py (needs the repos)"
        )
    manifest = assemble.read_manifest()
    for name, real_set in assemble.SETS.items():
        rows = [r for r in manifest if r["set"] == name]
        if not (assemble.SETS_DIR / name).exists():
            continue  # a set assembled alone (--sets): the others are not there
        targets = {f.path: f.target for f in manifest_files(real_set, rows)}
        for row in rows:
            if row["split"] == "annotations":
                continue
            path = assemble.SETS_DIR / name / row["split"] / targets[row["path"]]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"], path


def fake_run(
    workdir: Path,
    n_train: int,
    n_test: int,
    informative: bool,
    seed: int,
    window: int | None = None,
    fully_labelled: bool = False,
) -> None:
    """A finished run's files as evaluate_run reads them: 2 species, clips, truth, and each
    stage's fold-averaged test scores (informative: they track the truth; else uniform).
    ``window``: round 1's fold-0 checkpoint (its settings alone) and the train features'
    manifest (5 s clips of 50 frames), so that the unlabelled pairs are counted;
    ``fully_labelled``: fp rows mark both species absent throughout every train clip (tp wins
    where it says present)."""
    rng = np.random.default_rng(seed)
    data = workdir / "prepared"
    data.mkdir(parents=True)
    (data / "species.csv").write_text("species_id,name\n0,alpha\n1,beta\n")
    train_ids = [f"r{i}__0000" for i in range(n_train)]
    test_ids = [f"t{i}__0000" for i in range(n_test)]
    clips = ["recording_id,recording,split,start,end"]
    clips += [f"{c},{c[:-6]},train,0,5" for c in train_ids]
    clips += [f"{c},{c[:-6]},test,0,5" for c in test_ids]
    (data / "clips.csv").write_text("\n".join(clips) + "\n")
    tp = ["recording_id,species_id,songtype_id,t_min,f_min,t_max,f_max"]
    tp += [f"{c},{i % 2},1,0,0,1,100" for i, c in enumerate(train_ids)]
    (data / "train_tp.csv").write_text("\n".join(tp) + "\n")
    fp = tp[:1]
    if fully_labelled:
        fp += [f"{c},{sp},1,0,0,5,100" for c in train_ids for sp in (0, 1)]
    (data / "train_fp.csv").write_text("\n".join(fp) + "\n")
    if window is not None:
        (workdir / "models" / "round1").mkdir(parents=True)
        torch.save({"settings": {"window": window}}, workdir / "models" / "round1" / "fold0.pt")
        (workdir / "features" / "train").mkdir(parents=True)
        manifest = pd.DataFrame({"recording_id": train_ids, "n_mels": 8, "n_frames": 50})
        manifest.to_csv(workdir / "features" / "train" / "manifest.csv", index=False)
    truth = np.zeros((n_test, 2), dtype=bool)
    truth[np.arange(n_test), np.arange(n_test) % 2] = True
    rows = ["recording_id,species_id,t_min,t_max,f_min,f_max"]
    rows += [f"{c},{i % 2},0,1,0,100" for i, c in enumerate(test_ids)]
    (data / "test_truth.csv").write_text("\n".join(rows) + "\n")
    stages = ["stage1", "round1", "round2", "round3", "ensemble"]
    for stage in stages:
        scores = rng.random((n_test, 2))
        if informative:
            scores = 0.3 * scores + 0.7 * truth
        table = pd.DataFrame(scores, columns=["alpha", "beta"])
        table.insert(0, "recording_id", test_ids)
        (workdir / "predictions" / stage).mkdir(parents=True)
        table.to_parquet(workdir / "predictions" / stage / "test.parquet")
    pd.DataFrame({"stage": stages}).to_csv(workdir / "scores.csv", index=False)


def main_table(text: str, set_name: str) -> str:
    """A --compare report's section of ``set_name`` up to its submission and prior table."""
    section = text[text.index(f"## {set_name}") :].split("\n## ")[0]
    return section.split("\nSubmission and prior scaling")[0]


def test_report_of_fake_runs_says_yes_for_a_set_that_learns_and_no_for_a_planted_failure(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(bench, "SETS_DIR", tmp_path / "sets")
    fake_run(tmp_path / "runs" / "piha", n_train=20, n_test=30, informative=True, seed=1)
    fake_run(tmp_path / "runs" / "bobwhite", n_train=20, n_test=30, informative=False, seed=2)
    results = {name: bench.evaluate_run(tmp_path / "runs" / name) for name in ("piha", "bobwhite")}
    good, bad = results["piha"], results["bobwhite"]
    assert good["sizes"]["test_clips"] == 30 and good["sizes"]["species"] == 2
    # the constant prior (train shares 0.5 / 0.5) ranks nothing: LWLRAP of a tie
    assert good["prior"]["mean_ap"] == pytest.approx(0.5)
    assert good["stages"]["stage1"]["lwlrap"] > 0.95
    assert good["verdict"].stage1_above_random and good["verdict"].final_above_random
    assert bad["verdict"].stage1_above_random is False
    text = bench.report(results, "bench/real_annotated.py --summary-only")
    good_part, bad_part = text.split("## bobwhite")
    assert "more than its std (lwlrap): yes" in good_part
    assert "more than its std (lwlrap): no" in bad_part
    assert "| *random (200 draws)* |" in text and "| *constant prior* |" in text
    # 30 test clips of one species of 2 each: one clip ranked worst costs (1 - 1/2) / 30
    assert good["one_clip"] == pytest.approx(0.5 / 30)
    assert "one test clip ranked worst lowers lwlrap by 0.017, less than" in good_part


def labelled_set(tmp_path: Path) -> dict:
    """A set's data.annotated: 12 train recordings, 4 with species A, 4 with B, 4 without an
    event (listed as fully annotated, so known absent), test annotations apart."""
    recordings = tmp_path / "train"
    recordings.mkdir(parents=True)
    stems = [f"{kind}{i}" for kind in "abn" for i in range(4)]
    for stem in stems:
        (recordings / f"{stem}.wav").write_bytes(b"")
    rows = [f"{s},0.0,1.0,{s[0].upper()}" for s in stems if s[0] != "n"]
    rows += ["a0,2.0,3.0,A"]  # a second event of one recording
    (tmp_path / "train.csv").write_text("recording,begin,end,species\n" + "\n".join(rows) + "\n")
    (tmp_path / "fully.txt").write_text("".join(f"{s}\n" for s in stems if s[0] == "n"))
    (tmp_path / "test.csv").write_text("recording,begin,end,species\nt0,0.0,1.0,A\n")
    return {
        "recordings": str(recordings),
        "annotations": str(tmp_path / "train.csv"),
        "fully_annotated": str(tmp_path / "fully.txt"),
        "test_annotations": str(tmp_path / "test.csv"),
    }


def test_hidden_labels_are_a_seeded_share_of_each_species_stratum(tmp_path):
    """--hide-labels draws the fraction within recordings annotated with the same species
    (none being a stratum too), keeping at least one of each, so every species keeps a label;
    one seed gives one draw."""
    annotated = labelled_set(tmp_path)
    table = pd.read_csv(annotated["annotations"])
    stems = [p.stem for p in Path(annotated["recordings"]).iterdir()]
    hidden = bench.hidden_recordings(table, stems, 0.75, 0)
    assert len(hidden) == 9 and hidden == sorted(hidden)
    assert {s[0] for s in set(stems) - set(hidden)} == {"a", "b", "n"}  # one of each kept
    assert bench.hidden_recordings(table, stems, 0.75, 0) == hidden
    assert any(bench.hidden_recordings(table, stems, 0.75, seed) != hidden for seed in (1, 2, 3))
    assert bench.hidden_recordings(table, stems, 0.1, 0) == []  # round(0.4) of 4: none
    assert len(bench.hidden_recordings(table, ["a0", "b0"], 0.99, 0)) == 0  # strata of one
    for fraction in (0.0, 1.0):
        with pytest.raises(ValueError, match="fraction in \\(0, 1\\)"):
            bench.hidden_recordings(table, stems, fraction, 0)


def test_hide_labels_writes_the_kept_labels_and_the_run_records_them(tmp_path, monkeypatch):
    """The hidden recordings' annotation rows and fully_annotated lines go (into copies the
    run's config names); their audio and the test annotations stay. run_set records the draw
    in run_info.yaml, and the report says it."""
    annotated = labelled_set(tmp_path)
    before = dict(annotated)
    workdir = tmp_path / "run"
    bench.hide_labels(annotated, workdir, 0.75, 0)
    hidden = (workdir / "labels" / "hidden.txt").read_text().split()
    assert len(hidden) == 9
    # named relative to the run's folder, where snakemake runs: a copy of it names its own
    assert annotated["annotations"] == "labels/train_annotations.csv"
    assert annotated["fully_annotated"] == "labels/fully_annotated.txt"
    kept = pd.read_csv(workdir / annotated["annotations"])
    assert not set(kept["recording"]) & set(hidden)
    assert len(kept) == 1 + 1 + (1 if "a0" not in hidden else 0)  # a0 has two events
    fully = (workdir / annotated["fully_annotated"]).read_text().split()
    assert len(fully) == 1 and fully[0] not in hidden
    assert annotated["test_annotations"] == before["test_annotations"]
    assert annotated["recordings"] == before["recordings"]
    assert pd.read_csv(before["annotations"]).shape[0] == 9  # the set's own file untouched
    # the same draw again (a --start-from copy of the run) leaves the files and their times:
    # snakemake must not see the copy's labels as updated
    times = {p.name: p.stat().st_mtime_ns for p in (workdir / "labels").iterdir()}
    again = dict(before)
    bench.hide_labels(again, workdir, 0.75, 0)
    assert again == annotated
    assert times == {p.name: p.stat().st_mtime_ns for p in (workdir / "labels").iterdir()}
    other = dict(before)  # another draw rewrites them
    bench.hide_labels(other, workdir, 0.75, 1)
    assert (workdir / "labels" / "hidden.txt").read_text().split() != hidden

    def fake_set_config(name, workdir, hide=None):
        config = {"data": {"annotated": labelled_set(workdir.parent / "set")}}
        bench.hide_labels(config["data"]["annotated"], workdir, *hide)
        (workdir / "set.yaml").write_text(yaml.safe_dump(config))
        return workdir / "set.yaml"

    def fake_snakemake(command, **_):
        workdir = Path(command[command.index("--directory") + 1])
        (workdir / "scores.csv").write_text("stage\nstage1\n")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(bench.subprocess, "run", fake_snakemake)
    monkeypatch.setattr(bench, "code_state", lambda: {"commit": "abc1234", "uncommitted": []})
    monkeypatch.setattr(bench, "set_config", fake_set_config)
    workdir = bench.run_set("piha", tmp_path / "hidden", 1, hide=(0.75, 0))
    info = yaml.safe_load((workdir / "run_info.yaml").read_text())
    assert info["hidden"] == {"fraction": 0.75, "seed": 0, "recordings": 9, "of": 12}
    assert bench.hidden_text(info["hidden"]) == (
        "the annotations of 9 of the 12 train recordings left out (--hide-labels 0.75, "
        "--hide-seed 0)"
    )
    with pytest.raises(SystemExit):
        bench.main(["--sets", "piha", "--hide-labels", "1.5", "--root", str(tmp_path / "x")])


def test_a_variant_layers_its_configs_last_and_can_start_from_a_finished_run(tmp_path, monkeypatch):
    """--config files come after config.yaml and the set's config (so they win) and are
    recorded in run_info.yaml; --start-from copies the finished run (its outputs and
    snakemake's records) without its scores.csv, so snakemake redoes what the variant changes."""
    commands = []

    def fake_snakemake(command, **_):
        commands.append(command)
        workdir = Path(command[command.index("--directory") + 1])
        (workdir / "scores.csv").write_text("stage\nstage1\n")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(bench.subprocess, "run", fake_snakemake)
    monkeypatch.setattr(bench, "code_state", lambda: {"commit": "abc1234", "uncommitted": []})
    monkeypatch.setattr(bench, "set_config", lambda name, workdir, hide=None: workdir / "set.yaml")
    finished = tmp_path / "base" / "piha"
    (finished / "models").mkdir(parents=True)
    (finished / "models" / "fold0.pt").write_text("weights")
    (finished / ".snakemake").mkdir()
    (finished / "scores.csv").write_text("stage\nold\n")
    extra = tmp_path / "no_negatives.yaml"
    extra.write_text("data: {annotated: {negatives: none}}\n")
    workdir = bench.run_set("piha", tmp_path / "variant", 1, [extra], tmp_path / "base")
    (command,) = commands
    configs = command[command.index("--configfile") + 1 :]
    assert configs[1:] == [str(workdir / "set.yaml"), str(extra)]
    assert (workdir / "models" / "fold0.pt").read_text() == "weights"
    assert (workdir / ".snakemake").is_dir()
    info = yaml.safe_load((workdir / "run_info.yaml").read_text())
    assert info["configs"] == [str(extra)] and info["started_from"].endswith("base/piha")
    # a finished variant is not run again
    bench.run_set("piha", tmp_path / "variant", 1, [extra], tmp_path / "base")
    assert len(commands) == 1
    with pytest.raises(FileNotFoundError, match="no finished run"):
        bench.run_set("bobwhite", tmp_path / "variant", 1, [extra], tmp_path / "base")


def test_comparison_report_puts_the_variants_side_by_side(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "SETS_DIR", tmp_path / "sets")
    fake_run(tmp_path / "good" / "piha", n_train=20, n_test=30, informative=True, seed=1)
    fake_run(tmp_path / "bad" / "piha", n_train=20, n_test=30, informative=False, seed=2)
    code = {"commit": "abc1234", "uncommitted": [], "configs": ["variants/x.yaml"]}
    (tmp_path / "good" / "piha" / "run_info.yaml").write_text(yaml.safe_dump(code))
    logs = tmp_path / "good" / "piha" / "logs" / "stage1"
    logs.mkdir(parents=True)
    warning = falling_warning(train_settings(), "models/stage1/fold0.pt", [0.9, 0.8, 0.5, 0.3])
    (logs / "train_fold0.log").write_text(f"epoch 4/4 loss 0.3\n{warning}\n")
    (logs / "train_fold1.log").write_text("epoch 4/4 loss 0.2\n")
    out = tmp_path / "compare.md"
    argv = ["--sets", "piha", "--compare", f"good={tmp_path / 'good'}", f"bad={tmp_path / 'bad'}"]
    assert bench.main([*argv, "--out", str(out)]) == 0
    text = out.read_text()
    table = text[text.index("## piha") :]
    good = next(line for line in table.splitlines() if line.startswith("| good |"))
    bad = next(line for line in table.splitlines() if line.startswith("| bad |"))
    cells = [c.strip() for c in good.split("|")[1:-1]]
    assert cells[-6:-3] == ["yes", "yes", "yes"]
    assert cells[-2] == "1 of 2"  # stage-1 fold models whose loss was still falling
    assert cells[-1] == "–"  # no round-1 checkpoint: the unlabelled pairs are not counted
    assert [c.strip() for c in bad.split("|")[1:-1]][-6] == "no"
    assert "`variants/x.yaml`" in text and "| round1 | round2 | round3 |" in table
    assert "one test clip ranked worst lowers lwlrap by 0.017" in table.splitlines()[2]


@pytest.mark.parametrize("fully_labelled", [False, True])
def test_reports_count_the_train_pairs_left_unlabelled(tmp_path, monkeypatch, fully_labelled):
    """Each run's (train clip, species) pairs that tp/fp leave a window of unlabelled time, at
    round 1's window: with a tp of 1 s alone in each 5 s clip every pair is; with fp rows over
    every clip none is, and the reports say the rounds then have nothing to relabel."""
    monkeypatch.setattr(bench, "SETS_DIR", tmp_path / "sets")
    for name in ("a", "b"):
        fake_run(
            tmp_path / name / "piha", 20, 30, True, 1, window=20, fully_labelled=fully_labelled
        )
    result = bench.evaluate_run(tmp_path / "a" / "piha")
    assert result["unlabelled"] == ((0 if fully_labelled else 40), 40, 20)
    text = bench.report({"piha": result}, "bench/real_annotated.py --summary-only")
    counted = "tp/fp leave {} of the 40 (train clip, species) pairs a window (20 frames)"
    assert counted.format(0 if fully_labelled else 40) in text
    assert ("so the rounds have nothing to relabel" in text) == fully_labelled
    assert ("these are what the rounds relabel" in text) != fully_labelled
    out = tmp_path / "compare.md"
    argv = ["--sets", "piha", "--compare", f"group={tmp_path / 'a'}:{tmp_path / 'b'}"]
    assert bench.main([*argv, "--out", str(out)]) == 0
    compared = out.read_text()
    summary = next(line for line in compared.splitlines() if line.startswith("| **group"))
    assert summary.split("|")[-2].strip() == f"{0 if fully_labelled else 40} of 40"
    assert ("so the rounds have nothing to relabel" in compared) == fully_labelled


def test_comparison_groups_runs_into_a_summary_row_and_pairs_groups_run_by_run(
    tmp_path, monkeypatch
):
    """LABEL=ROOT:ROOT... makes one group: a row per run, a mean ± std row with how many of
    its runs meet each verdict, and a second group of as many runs paired with the first run
    by run (a group of another size is not). A root without a finished run is left out."""
    monkeypatch.setattr(bench, "SETS_DIR", tmp_path / "sets")
    for i, informative in enumerate((True, True, False)):
        fake_run(tmp_path / f"a{i}" / "piha", 20, 30, informative=informative, seed=10 + i)
    for i in range(3):
        fake_run(tmp_path / f"b{i}" / "piha", 20, 30, informative=True, seed=20 + i)
    (tmp_path / "empty").mkdir()
    out = tmp_path / "compare.md"
    a = ":".join(str(tmp_path / f"a{i}") for i in range(3))
    b = ":".join(str(tmp_path / f"b{i}") for i in range(3))
    short = f"{tmp_path / 'b0'}:{tmp_path / 'b1'}"
    argv = ["--sets", "piha", "--compare", f"base={a}", f"other={b}", f"short={short}"]
    argv += [f"none={tmp_path / 'empty'}"]
    assert bench.main([*argv, "--out", str(out)]) == 0
    text = out.read_text()
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in main_table(text, "piha").splitlines()
        if line.startswith("| ") and not line.startswith("| variant")
    }
    assert {"base: a0", "base: a1", "base: a2", "other: b0"} <= set(rows)
    assert not any(label.startswith("none") for label in rows)
    summary = rows["**base: mean ± std of 3 runs**"]
    assert summary[-2:] == ["0 of 0", "–"]  # no training logs nor checkpoints in the fake runs
    stage1 = [float(rows[f"base: a{i}"][0]) for i in range(3)]
    assert summary[0] == f"{np.mean(stage1):.3f} ± {np.std(stage1, ddof=1):.3f}"
    verdicts = [rows[f"base: a{i}"][5:8] for i in range(3)]
    assert verdicts[2][0] == "no"  # the uninformative run's stage 1 is not above random
    assert summary[5:8] == [f"{sum(v[k] == 'yes' for v in verdicts)} of 3" for k in range(3)]
    assert rows["**other: mean ± std of 3 runs**"][5:7] == ["3 of 3", "3 of 3"]
    other1 = [float(rows[f"other: b{i}"][0]) for i in range(3)]
    higher = sum(o > s for o, s in zip(other1, stage1, strict=True))
    diff = np.mean(other1) - np.mean(stage1)
    assert f"- other against base: stage 1 higher on {higher} of 3 ({diff:+.3f})" in text
    assert "- short against" not in text  # 2 runs: paired with no group of 3


def test_groups_on_other_labels_are_not_paired(tmp_path, monkeypatch):
    """Groups trained on other labels (another hidden draw, or every label against hidden
    ones) are not paired run by run; groups on the same labels are."""
    monkeypatch.setattr(bench, "SETS_DIR", tmp_path / "sets")
    hidden = {"draw0": {"fraction": 0.75, "seed": 0}, "draw1": {"fraction": 0.75, "seed": 1}}
    roots = {}
    groups = (("all", None), ("d0", "draw0"), ("d0b", "draw0"), ("d1", "draw1"))
    for g, (group, draw) in enumerate(groups):
        roots[group] = []
        for i in range(2):
            run = tmp_path / f"{group}{i}" / "piha"
            fake_run(run, 20, 30, informative=True, seed=60 + 2 * g + i)
            info = {"commit": "abc1234", "uncommitted": []}
            if draw:
                info["hidden"] = {**hidden[draw], "recordings": 10, "of": 20}
            (run / "run_info.yaml").write_text(yaml.safe_dump(info))
            roots[group].append(str(tmp_path / f"{group}{i}"))
    out = tmp_path / "compare.md"
    argv = ["--sets", "piha", "--compare"]
    argv += [f"{group}={':'.join(paths)}" for group, paths in roots.items()]
    assert bench.main([*argv, "--out", str(out)]) == 0
    paired = [line for line in out.read_text().splitlines() if " against " in line]
    assert [line.split(":")[0] for line in paired] == ["- d0b against d0"]


def test_comparison_names_each_sets_configs_where_they_differ(tmp_path, monkeypatch):
    """A root whose sets ran with different config files (one layered two, one their merge)
    lists them per set; sets that share them get one list."""
    monkeypatch.setattr(bench, "SETS_DIR", tmp_path / "sets")
    for name, configs in (("piha", ["v/a.yaml", "v/b.yaml"]), ("bobwhite", ["v/ab.yaml"])):
        fake_run(tmp_path / "mixed" / name, 20, 30, informative=True, seed=3)
        info = {"commit": "abc1234", "uncommitted": [], "configs": configs}
        (tmp_path / "mixed" / name / "run_info.yaml").write_text(yaml.safe_dump(info))
        fake_run(tmp_path / "same" / name, 20, 30, informative=True, seed=4)
        info["configs"] = ["v/c.yaml"]
        (tmp_path / "same" / name / "run_info.yaml").write_text(yaml.safe_dump(info))
    out = tmp_path / "compare.md"
    argv = ["--sets", "piha", "bobwhite", "--compare", f"mixed={tmp_path / 'mixed'}"]
    assert bench.main([*argv, f"same={tmp_path / 'same'}", "--out", str(out)]) == 0
    variants_table = out.read_text().split("\n## ")[0]  # label | root | configs | code
    rows = {
        cells[0]: cells[2]
        for cells in (
            [c.strip() for c in line.split("|")[1:-1]] for line in variants_table.splitlines()
        )
        if cells and cells[0] in ("mixed", "same")
    }
    assert rows["mixed"] == "piha: `v/a.yaml`, `v/b.yaml`<br>bobwhite: `v/ab.yaml`"
    assert rows["same"] == "`v/c.yaml`"


def test_groups_pair_only_complete_runs_and_keep_roots_of_one_name_apart(tmp_path, monkeypatch):
    """Roots of one name in different folders get a row each (named by their paths); a group
    missing a set's run at one root is summarised over the others but not paired, even when
    another group misses one too (the positions would no longer match)."""
    monkeypatch.setattr(bench, "SETS_DIR", tmp_path / "sets")
    for i in range(3):
        fake_run(tmp_path / f"x{i}" / "runs" / "piha", 20, 30, informative=True, seed=30 + i)
    for i in (0, 2):  # y1 has no finished piha run
        fake_run(tmp_path / f"y{i}" / "piha", 20, 30, informative=True, seed=40 + i)
    for i in (0, 1):  # z2 neither
        fake_run(tmp_path / f"z{i}" / "piha", 20, 30, informative=True, seed=50 + i)
    (tmp_path / "y1" / "piha").mkdir(parents=True)
    out = tmp_path / "compare.md"
    x = ":".join(str(tmp_path / f"x{i}" / "runs") for i in range(3))
    y = ":".join(str(tmp_path / f"y{i}") for i in range(3))
    z = ":".join(str(tmp_path / f"z{i}") for i in range(3))
    argv = ["--sets", "piha", "--compare", f"x={x}", f"y={y}", f"z={z}", "--out", str(out)]
    assert bench.main(argv) == 0
    text = out.read_text()
    section = main_table(text, "piha")
    x_rows = [line for line in section.splitlines() if line.startswith("| x: ")]
    assert len(x_rows) == 3 and len({row.split("|")[1] for row in x_rows}) == 3
    assert "| **y: mean ± std of 2 runs** |" in section
    assert "| **z: mean ± std of 2 runs** |" in section
    assert "against" not in section  # x is the only complete group: nothing to pair


def test_comparison_scores_each_submission_and_the_prior_scaled_stages(tmp_path, monkeypatch):
    """The second table of a --compare section: each run's submission (its ensemble stage)
    against its stage 1, and the scores.csv test_lwlrap_prior of stage 1 and of the last round
    (LWLRAP sets only), with a mean ± std row per group counting the runs above stage 1."""
    monkeypatch.setattr(bench, "SETS_DIR", tmp_path / "sets")
    priors = [(0.50, 0.55), (0.60, 0.58), (0.40, 0.45)]  # stage 1, round 3: up, down, up
    for i, (first, last) in enumerate(priors):
        workdir = tmp_path / f"v{i}" / "insects"
        fake_run(workdir, 20, 30, informative=True, seed=60 + i)
        scores = pd.read_csv(workdir / "scores.csv")
        scores["test_lwlrap_prior"] = [first, 0.0, 0.0, last, 0.0]
        scores.to_csv(workdir / "scores.csv", index=False)
    (tmp_path / "v0" / "insects" / "predictions" / "ensemble" / "test.parquet").unlink()
    scores = pd.read_csv(tmp_path / "v0" / "insects" / "scores.csv")
    scores[scores["stage"] != "ensemble"].to_csv(tmp_path / "v0" / "insects" / "scores.csv")
    roots = ":".join(str(tmp_path / f"v{i}") for i in range(3))
    out = tmp_path / "compare.md"
    argv = ["--sets", "insects", "--compare", f"v={roots}", "--out", str(out)]
    assert bench.main(argv) == 0
    text = out.read_text()
    results = [bench.evaluate_run(tmp_path / f"v{i}" / "insects") for i in range(3)]
    insects = text[text.index("## insects") :].split("\n## ")[0]
    table = insects.split("\nSubmission and prior scaling")[1]
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in table.splitlines()
        if line.startswith("| ") and not line.startswith("| variant")
    }
    # v0 has no ensemble: its submission cells say so, and the group's too
    assert rows["v: v0"][1:3] == ["–", "–"]
    for i in (1, 2):
        stages = results[i]["stages"]
        above = "yes" if stages["ensemble"]["lwlrap"] > stages["stage1"]["lwlrap"] else "no"
        assert rows[f"v: v{i}"][:3] == [
            f"{stages['stage1']['lwlrap']:.3f}",
            f"{stages['ensemble']['lwlrap']:.3f}",
            above,
        ]
    assert [rows[f"v: v{i}"][3:] for i in range(3)] == [
        ["0.500", "0.550", "yes"],
        ["0.600", "0.580", "no"],
        ["0.400", "0.450", "yes"],
    ]
    group = rows["**v: mean ± std of 3 runs**"]
    assert group[1:3] == ["–", "–"] and group[5] == "2 of 3"
    assert group[3] == f"{np.mean([0.5, 0.6, 0.4]):.3f} ± {np.std([0.5, 0.6, 0.4], ddof=1):.3f}"
    # where the metric is not LWLRAP (one species: mean AP) the prior columns stay empty
    line = bench.submission_lines({"v: v1": results[1]}, {}, "mean_ap")[-1]
    stages = results[1]["stages"]
    assert [c.strip() for c in line.split("|")[2:-1]] == [
        f"{stages['stage1']['mean_ap']:.3f}",
        f"{stages['ensemble']['mean_ap']:.3f}",
        "yes" if stages["ensemble"]["mean_ap"] > stages["stage1"]["mean_ap"] else "no",
        "–",
        "–",
        "–",
    ]
