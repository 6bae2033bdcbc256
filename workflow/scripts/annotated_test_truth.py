"""Snakemake adapter: the test truth of annotated test recordings (sedcycle.annotated)."""

from pathlib import Path

from sedcycle.steps import log_to
from sedcycle.steps.data import annotated_test_truth

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    annotated_test_truth(
        sm.input.test_annotations,
        sm.input.test_recordings,
        Path(sm.input.species).parent,
        sm.output[0],
        **sm.params,
    )
