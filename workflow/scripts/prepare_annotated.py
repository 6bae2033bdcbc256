"""Snakemake adapter: cut annotated recordings into the RFCx layout (sedcycle.annotated)."""

from pathlib import Path

from sedcycle.steps import log_to
from sedcycle.steps.data import prepare_annotated

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    prepare_annotated(
        sm.input.recordings,
        sm.input.annotations,
        sm.input.test_recordings,
        Path(sm.output.tp).parent,
        threads=sm.threads,
        fully_annotated=sm.input.fully_annotated[0] if sm.input.fully_annotated else None,
        **sm.params,
    )
