"""Snakemake adapter: the report's figures from scores.json, scores.csv and loss histories."""

from sedcycle.steps import log_to
from sedcycle.steps.report import report_figures

sm = snakemake  # noqa: F821 - injected by the script directive
stages = sm.params.stages
per_stage = len(sm.input.histories) // len(stages)
with log_to(sm.log[0]):
    report_figures(
        sm.input.json,
        sm.input.csv,
        {
            stage: list(sm.input.histories[i * per_stage : (i + 1) * per_stage])
            for i, stage in enumerate(stages)
        },
        dict(sm.output.items()),
    )
