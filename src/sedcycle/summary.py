"""What a finished run prints last: its stages' scores from scores.csv as a short table, the
outputs it holds, and the command that builds the HTML report.

The Snakefile's ``onsuccess:`` handler calls :func:`print_run_summary`. Standard library only
and never imports Snakemake: it runs in the snakemake process, outside the jobs' environments.
A run that asked for other targets (features/train, predictions.csv) names only the outputs
it holds, and a summary that cannot be written never fails the run.
"""

from __future__ import annotations

import csv
import math
import os
import shlex
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

SCORES = "scores.csv"
# Outputs the summary names, in this order, when the run's DAG holds them.
OUTPUTS = (
    "submission.csv",
    "submission_by_recording.csv",
    "predictions.csv",
    "predictions_by_recording.csv",
    SCORES,
    "scores.json",
)
FIGURES = "figures/"
# As docs/evaluation.md runs it after `.venv/bin/snakemake --cores all`.
REPORT_COMMAND = ".venv/bin/snakemake --report report.html"
# The LWLRAP a stage is shown with: the test one where test truth exists, else out-of-fold
# against the tp labels (always there for a stage; docs/evaluation.md).
LWLRAP_COLUMNS = (
    ("test_lwlrap", "test LWLRAP", "fold models averaged on the test clips, vs test_truth.csv"),
    (
        "oof_tp_lwlrap",
        "OOF LWLRAP (tp)",
        "out-of-fold, vs the tp labels only (no test truth); it does not say which stage is "
        "better (docs/evaluation.md#without-test-truth)",
    ),
)
# test LWLRAP of random scores on the same test clips (mean, std), where test truth exists
RANDOM = ("random_lwlrap_mean", "random_lwlrap_std")
PSEUDO_COLUMNS = (("pseudo_count", "pseudo-labels"), ("pseudo_precision", "pseudo precision"))
# snakemake options a report needs from the run's command line (the rest: execution, targets)
ONE_VALUE = ("-s", "--snakefile", "-d", "--directory")
SEVERAL_VALUES = ("--configfile", "--configfiles", "-C", "--config")


def number(text: str | None) -> float | None:
    """A scores.csv cell as a float; None for an empty cell (not measured), nan or not a number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def decimal(value: float | None) -> str:
    """How the summary prints an LWLRAP or a precision: 3 decimals, '-' when not measured."""
    return "-" if value is None else f"{value:.3f}"


def count(value: float | None) -> str:
    return "-" if value is None else str(round(value))


def score_table(rows: list[dict[str, str]], prior_scaled: bool = False) -> list[str]:
    """The lines of the stage table for scores.csv's rows: stage, the LWLRAP (test where any
    stage has one, else out-of-fold on the tp labels), pseudo-label count and precision where
    any round has them; then a line saying which LWLRAP it is and, with test truth, how random
    scores do, which stages do no better (test_within_random) and which rounds fell below stage
    1 (test_below_stage1). ``prior_scaled``: submission.csv holds the ensemble's scores after
    prior scaling (postprocess.prior_scaling), said in a line with their test LWLRAP (the
    ensemble row's test_lwlrap_prior) where it is measured. [] when nothing is measured."""

    def first(key: str) -> float | None:
        """A column's first measured value (random_lwlrap_* are the same in every row)."""
        return next((v for v in (number(row.get(key)) for row in rows) if v is not None), None)

    def measured(key: str) -> bool:
        return first(key) is not None

    def marked(key: str) -> list[str]:
        """The stages whose flag column ``key`` is true (test_within_random, test_below_stage1)."""
        return [
            row.get("stage") or "?"
            for row in rows
            if (row.get(key) or "").strip().lower() == "true"
        ]

    shown = next((column for column in LWLRAP_COLUMNS if measured(column[0])), None)
    columns = [(shown[0], shown[1], decimal)] if shown else []
    for key, title in PSEUDO_COLUMNS:
        if measured(key):
            columns.append((key, title, count if key == "pseudo_count" else decimal))
    if not columns:
        return []
    cells = [["stage", *(title for _, title, _ in columns)]]
    for row in rows:
        cells.append([row.get("stage") or "?", *(f(number(row.get(k))) for k, _, f in columns)])
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    lines = []
    for line in cells:  # the stage left-aligned, the numbers right-aligned
        padded = [cell.rjust(width) for cell, width in zip(line, widths, strict=True)]
        lines.append("  ".join([line[0].ljust(widths[0]), *padded[1:]]))
    if shown:
        lines.append(f"{shown[1]}: {shown[2]}.")
    if prior_scaled:
        ensemble = next((row for row in rows if row.get("stage") == "ensemble"), {})
        scaled = number(ensemble.get("test_lwlrap_prior"))
        score = "" if scaled is None else f"; test LWLRAP {scaled:.3f}"
        lines.append(
            "submission.csv: the ensemble's scores, each species' scaled to its share of the "
            f"train labels (postprocess.prior_scaling){score}."
        )
    mean, std = (first(key) for key in RANDOM)
    if shown and shown[0] == "test_lwlrap" and mean is not None and std is not None:
        flagged = marked("test_within_random")
        verdict = f"no better: {', '.join(flagged)}" if flagged else "every stage does better"
        lines.append(f"Random scores: test LWLRAP {mean:.3f} +/- {std:.3f}; {verdict}.")
        below = marked("test_below_stage1")
        if below:
            lines.append(
                f"Below stage 1 by more than random's std: {', '.join(below)} (the rounds "
                "lowered the score here; docs/evaluation.md#when-the-rounds-lower-the-score)."
            )
    return lines


def read_scores(path: str | Path) -> list[dict[str, str]]:
    """scores.csv's rows (one per stage, then the ensemble), cells as written."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def report_command(argv: list[str] | None) -> str:
    """``snakemake --report report.html`` as the run was called: its snakemake, snakefile,
    working directory and config (--configfile, --config) kept, targets and execution options
    dropped. REPORT_COMMAND when the command line is unknown."""
    if not argv:
        return REPORT_COMMAND
    executable = [argv[0]]
    if os.path.basename(argv[0]) == "__main__.py":  # python -m snakemake
        executable = [sys.executable, "-m", "snakemake"]
    kept, taking = [], None  # taking: "one" or "several" values of the option just kept
    for word in argv[1:]:
        if taking and not word.startswith("-"):
            kept.append(word)
            taking = None if taking == "one" else taking
            continue
        taking, name = None, word.split("=", 1)[0]
        if name in ONE_VALUE + SEVERAL_VALUES:
            kept.append(word)
            if "=" not in word:  # --configfile=a.yaml holds its one value
                taking = "one" if name in ONE_VALUE else "several"
    # --report before the kept options: a --configfile takes every word after it
    return shlex.join([*executable, "--report", "report.html", *kept])


def run_summary(
    workdir: str | Path,
    outputs: Iterable[str] | None = None,
    report: str = REPORT_COMMAND,
    prior_scaling: bool = False,
) -> str:
    """The end-of-run summary of ``workdir``: the stage table of its scores.csv, the outputs it
    holds, and ``report``, the command that builds the HTML report (when the figures are there).
    ``prior_scaling``: the run's postprocess.prior_scaling (said with the table when the run
    holds submission.csv).

    outputs: the files the run's DAG holds (its targets and what they need, made now or
    already up to date); only those are named, so a run that asked for features/train says
    nothing of an older scores.csv. None: every output that exists. "" when nothing applies.
    """
    workdir = Path(workdir)
    wanted = None if outputs is None else {os.path.normpath(str(p)) for p in outputs}

    def made(path: str) -> bool:
        return (wanted is None or os.path.normpath(path) in wanted) and (workdir / path).exists()

    parts = []
    if made(SCORES):
        table = score_table(read_scores(workdir / SCORES), prior_scaling and made("submission.csv"))
        if table:
            title = f"Scores ({SCORES}; docs/evaluation.md explains every column):"
            parts.append("\n".join([title, *(f"  {line}" for line in table)]))
    files = [path for path in OUTPUTS if made(path)]
    if wanted is None:
        figures = sorted(f"{FIGURES}{p.name}" for p in (workdir / FIGURES).glob("*.png"))
    else:
        figures = sorted(p for p in wanted if p.startswith(FIGURES) and (workdir / p).exists())
    if files or figures:
        lines = [f"Outputs in {workdir.resolve()}:"]
        lines += [f"  {path}" for path in files]
        if figures:
            lines += textwrap.wrap(
                ", ".join(figures), width=96, initial_indent="  ", subsequent_indent="    "
            )
            lines.append(f"HTML report of the figures: {report}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def dag_outputs(workflow) -> set[str]:
    """The output files of every job of a finished Snakemake run's DAG: its targets and what
    they need, run now or already up to date (``workflow.dag.jobs``, each job's ``output``)."""
    return {str(path) for job in workflow.dag.jobs for path in job.output}


def print_run_summary(workflow, argv: list[str] | None = None, file=None) -> None:
    """Print :func:`run_summary` of the working directory for a finished run (the Snakefile's
    onsuccess). Never raises: the run has succeeded, so a problem is one line on stderr."""
    try:
        report = report_command(sys.argv if argv is None else argv)
        config = getattr(workflow, "config", None) or {}
        prior_scaling = bool(config.get("postprocess", {}).get("prior_scaling"))
        text = run_summary(Path.cwd(), dag_outputs(workflow), report, prior_scaling)
    except Exception as error:  # whatever it is, the run stays a success
        print(f"sedcycle: no end-of-run summary ({type(error).__name__}: {error})", file=sys.stderr)
        return
    if text:
        print(f"\n{text}", file=file or sys.stdout, flush=True)
