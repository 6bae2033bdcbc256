"""The end-of-run summary (sedcycle.summary) on small scores.csv tables of each kind: with test
truth (synthetic data), without it (an RFCx folder, annotated recordings), with and without
pseudo-label columns; and what a run of other targets prints."""

import io
import re
import shlex
import sys
from types import SimpleNamespace

import pytest

from sedcycle.summary import REPORT_COMMAND, print_run_summary, report_command, run_summary

HEADER = (
    "stage,test_lwlrap,test_precision,test_recall,test_lwlrap_prior,oof_lwlrap,oof_precision,"
    "oof_recall,oof_tp_lwlrap,pseudo_count,pseudo_new,pseudo_precision,pseudo_recall,"
    "pseudo_negatives,pseudo_negative_error,test_within_random,random_lwlrap_mean,"
    "random_lwlrap_std,test_below_stage1"
)
# As collect_scores writes them (float_format %.6g, empty where not measured): a synthetic run
WITH_TRUTH = f"""{HEADER}
stage1,0.18068,0.0666667,0.222222,0.240158,0.232541,0.101695,0.27907,0.188053,,,,,,,True,0.19,0.02,
round1,0.231022,0.0285714,0.111111,0.18229,0.229342,0.0973451,0.255814,0.18891,80,74,0.1,0.186047,0,,False,0.19,0.02,False
round2,0.1875,0.0333333,0.111111,0.16424,0.224415,0.0915493,0.302326,0.188465,81,74,0.1,0.186047,0,,True,0.19,0.02,False
ensemble,0.2875,0.0333333,0.111111,,,,,,,,,,,,False,0.19,0.02,
"""  # noqa: E501
# an RFCx folder without test_truth.csv and train_truth.csv: no ensemble row, no precision
WITHOUT_TRUTH = f"""{HEADER}
stage1,,,,,,,,0.412345,,,,,,
round1,,,,,,,,0.5,12,3,,,0,
"""
# stage 1 alone (relabel.n_rounds: 0), from a scores.csv without the pseudo columns
NO_PSEUDO = """stage,test_lwlrap,oof_tp_lwlrap
stage1,0.7,0.61
ensemble,0.7125,
"""
FIGURES = ["figures/lwlrap.png", "figures/species_ap.png", "figures/test_clip.png"]
ALL = ["submission.csv", "scores.csv", "scores.json", *FIGURES, "features/train", "folds.csv"]


def finished(path, scores, outputs=ALL):
    """A working directory holding ``outputs`` (empty files) and ``scores`` as scores.csv."""
    for name in outputs:
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text("")
    (path / "scores.csv").write_text(scores)
    return path


def table_rows(text):
    """The header's column titles, and stage -> the cells of its row, of the stage table."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["stage"])
    rows = {}
    for line in lines[start + 1 :]:
        if not line.startswith("  ") or ":" in line:
            break
        cells = line.split()
        rows[cells[0]] = cells[1:]
    return [title.strip() for title in lines[start].split("  ") if title.strip()], rows


def test_with_truth_shows_test_lwlrap_and_pseudo_label_quality(tmp_path):
    text = run_summary(finished(tmp_path, WITH_TRUTH), ALL)
    header, rows = table_rows(text)
    assert header == ["stage", "test LWLRAP", "pseudo-labels", "pseudo precision"]
    assert rows == {
        "stage1": ["0.181", "-", "-"],
        "round1": ["0.231", "80", "0.100"],
        "round2": ["0.188", "81", "0.100"],
        "ensemble": ["0.287", "-", "-"],  # 0.2875 in binary is a bit less
    }
    assert "test LWLRAP: fold models averaged on the test clips, vs test_truth.csv." in text
    assert "Random scores: test LWLRAP 0.190 +/- 0.020; no better: stage1, round2." in text
    assert "OOF" not in text


def test_every_stage_better_than_random_is_said(tmp_path):
    scores = WITH_TRUTH.replace("True", "False")
    assert "every stage does better." in run_summary(finished(tmp_path, scores), ALL)


def test_without_truth_shows_out_of_fold_lwlrap_on_tp_labels_and_counts(tmp_path):
    text = run_summary(finished(tmp_path, WITHOUT_TRUTH), ALL)
    header, rows = table_rows(text)
    assert header == ["stage", "OOF LWLRAP (tp)", "pseudo-labels"]  # no precision: no truth
    assert rows == {"stage1": ["0.412", "-"], "round1": ["0.500", "12"]}
    assert (
        "OOF LWLRAP (tp): out-of-fold, vs the tp labels only (no test truth); it does not say "
        "which stage is better (docs/evaluation.md#without-test-truth)." in text
    )
    assert "Random" not in text


def test_table_without_pseudo_columns(tmp_path):
    text = run_summary(finished(tmp_path, NO_PSEUDO), ALL)
    header, rows = table_rows(text)
    assert header == ["stage", "test LWLRAP"]
    assert rows == {"stage1": ["0.700"], "ensemble": ["0.713"]}


def test_paths_and_report_command_follow_the_table(tmp_path):
    text = run_summary(finished(tmp_path, WITH_TRUTH), ALL, report="snakemake --report x.html")
    assert text.index("Scores (scores.csv") < text.index(f"Outputs in {tmp_path.resolve()}:")
    named = set(re.split(r"[\s,]+", text))
    assert named >= {"submission.csv", "scores.csv", "scores.json", *FIGURES}
    assert "features/train" not in named and "folds.csv" not in named
    assert text.splitlines()[-1] == "HTML report of the figures: snakemake --report x.html"


def test_a_run_of_other_targets_says_nothing_of_an_older_scores_csv(tmp_path):
    """snakemake features/train beside an earlier run's outputs: nothing of this run to say."""
    assert run_summary(finished(tmp_path, WITH_TRUTH), ["features/train", "folds.csv"]) == ""


def test_submission_alone_names_the_submission_only(tmp_path):
    text = run_summary(finished(tmp_path, WITH_TRUTH), ["submission.csv", "folds.csv"])
    assert text.splitlines()[1:] == ["  submission.csv"]
    assert "Scores" not in text and "report" not in text


def test_predict_only_names_its_predictions(tmp_path):
    outputs = ["predictions.csv", "predictions_by_recording.csv", "features/predict"]
    (tmp_path / "features/predict").mkdir(parents=True)
    for name in outputs[:2]:
        (tmp_path / name).write_text("")
    text = run_summary(tmp_path, [*outputs, "predictions_windows.parquet"])
    assert text.splitlines()[1:] == ["  predictions.csv", "  predictions_by_recording.csv"]


def test_outputs_of_the_dag_that_do_not_exist_are_not_named(tmp_path):
    finished(tmp_path, WITH_TRUTH, outputs=["submission.csv"])
    text = run_summary(tmp_path, ["submission.csv", "scores.csv", "figures/lwlrap.png"])
    assert "figures/" not in text and "report" not in text and "Scores" in text


def test_empty_scores_csv_gives_no_table(tmp_path):
    """bench/dag.py touches empty outputs (snakemake --touch also ends in onsuccess)."""
    text = run_summary(finished(tmp_path, ""), ALL)
    assert "Scores" not in text and "  scores.csv" in text


def test_without_outputs_every_existing_output_is_named(tmp_path):
    text = run_summary(finished(tmp_path, WITH_TRUTH))
    assert "round2" in text and "figures/lwlrap.png" in text and "folds.csv" not in text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([".venv/bin/snakemake", "--cores", "all"], ".venv/bin/snakemake --report report.html"),
        (
            ["snakemake", "-c", "4", "submission.csv", "--configfile", "a.yaml", "b c.yaml"],
            "snakemake --report report.html --configfile a.yaml 'b c.yaml'",
        ),
        (
            ["/v/snakemake", "--snakefile", "/r/Snakefile", "--directory", "/w", "-j", "2",
             "--configfile=a.yaml", "scores.csv", "--config", "folds={n_folds: 2}", "--keep-going"],
            "/v/snakemake --report report.html --snakefile /r/Snakefile --directory /w "
            "--configfile=a.yaml --config 'folds={n_folds: 2}'",
        ),
        (["snakemake", "-d", "w", "-s", "S", "x.csv"], "snakemake --report report.html -d w -s S"),
        ([], REPORT_COMMAND),
    ],
)  # fmt: skip
def test_report_command_keeps_the_run_s_snakefile_directory_and_config(argv, expected):
    assert report_command(argv) == expected


def test_report_command_of_python_m_snakemake():
    command = report_command(["/x/snakemake/__main__.py", "--profile", "p", "all"])
    assert shlex.split(command) == [sys.executable, "-m", "snakemake", "--report", "report.html"]


def fake_workflow(*outputs):
    """What print_run_summary reads of Snakemake's workflow: dag.jobs, each with its output."""
    return SimpleNamespace(dag=SimpleNamespace(jobs=[SimpleNamespace(output=list(outputs))]))


def test_print_run_summary_prints_the_summary_of_the_working_directory(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(finished(tmp_path, WITH_TRUTH))
    print_run_summary(fake_workflow(*ALL), argv=["snakemake", "--cores", "1"])
    out = capsys.readouterr().out
    assert "round2" in out and "snakemake --report report.html" in out


def test_print_run_summary_prints_nothing_when_nothing_applies(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    print_run_summary(fake_workflow("features/train"), argv=["snakemake"])
    assert capsys.readouterr() == ("", "")


def test_a_cell_that_is_not_a_number_shows_as_not_measured(tmp_path):
    text = run_summary(finished(tmp_path, "stage,test_lwlrap\nstage1,oops\nround1,0.5\n"), ALL)
    assert table_rows(text)[1] == {"stage1": ["-"], "round1": ["0.500"]}


@pytest.mark.parametrize("broken", ["dag", "scores"])
def test_print_run_summary_never_raises(tmp_path, monkeypatch, broken):
    """A summary that cannot be made is one line on stderr, no traceback: the run succeeded."""
    monkeypatch.chdir(finished(tmp_path, WITH_TRUTH))
    if broken == "scores":  # unreadable: a folder
        (tmp_path / "scores.csv").unlink()
        (tmp_path / "scores.csv").mkdir()
    workflow = SimpleNamespace() if broken == "dag" else fake_workflow(*ALL)
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    print_run_summary(workflow, argv=["snakemake"], file=out)
    assert out.getvalue() == ""
    assert err.getvalue().startswith("sedcycle: no end-of-run summary (")
    assert len(err.getvalue().splitlines()) == 1 and "Traceback" not in err.getvalue()


def test_rounds_below_stage_one_by_more_than_random_std_are_named(tmp_path):
    # WITH_TRUTH's rounds are above stage 1 (0.231, 0.1875 against 0.18068): no line
    assert "Below stage 1" not in run_summary(finished(tmp_path, WITH_TRUTH), ALL)
    # round2 0.1875 -> 0.15 (below stage 1 by 0.031 > std 0.02), marked so by collect_scores
    lower = WITH_TRUTH.replace("round2,0.1875,", "round2,0.15,")
    marked = lower.replace(",0.02,False\nensemble", ",0.02,True\nensemble")
    assert marked.count(",True\nensemble") == 1
    text = run_summary(finished(tmp_path, marked), ALL)
    assert (
        "Below stage 1 by more than random's std: round2 (the rounds lowered the score here; "
        "docs/evaluation.md#when-the-rounds-lower-the-score)." in text
    )
    # the summary names what scores.csv marks (test_below_stage1), it does not recompute it
    assert "Below stage 1" not in run_summary(finished(tmp_path, lower), ALL)
    # without test truth there is nothing to compare
    assert "Below stage 1" not in run_summary(finished(tmp_path, WITHOUT_TRUTH), ALL)


def test_a_prior_scaled_submission_is_said_with_its_test_lwlrap(tmp_path):
    scaled = WITH_TRUTH.replace(
        "ensemble,0.2875,0.0333333,0.111111,,", "ensemble,0.2875,0.03,0.1,0.3125,"
    )
    text = run_summary(finished(tmp_path, scaled), ALL, prior_scaling=True)
    assert (
        "submission.csv: the ensemble's scores, each species' scaled to its share of the train "
        "labels (postprocess.prior_scaling); test LWLRAP 0.312." in text
    )
    assert "prior_scaling" not in run_summary(tmp_path, ALL)  # off: nothing said
    # no submission.csv among the run's outputs: nothing said of it
    assert "submission.csv" not in run_summary(tmp_path, ["scores.csv"], prior_scaling=True)
    # without test truth: said, without a score
    text = run_summary(finished(tmp_path / "rfcx", WITHOUT_TRUTH), ALL, prior_scaling=True)
    assert "labels (postprocess.prior_scaling)." in text


def test_print_run_summary_reads_prior_scaling_from_the_run_s_config(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(finished(tmp_path, WITH_TRUTH))
    workflow = fake_workflow(*ALL)
    print_run_summary(workflow, argv=["snakemake"])
    assert "postprocess.prior_scaling" not in capsys.readouterr().out
    workflow.config = {"postprocess": {"prior_scaling": True}}
    print_run_summary(workflow, argv=["snakemake"])
    assert "(postprocess.prior_scaling)" in capsys.readouterr().out
