"""Snakemake adapter: write the synthetic RFCx dataset (sedcycle.synthetic)."""

from pathlib import Path

from sedcycle.steps import log_to
from sedcycle.steps.data import make_synthetic

with log_to(snakemake.log[0]):  # noqa: F821 - snakemake is injected by the script directive
    make_synthetic(Path(snakemake.output.tp).parent, **snakemake.params)  # noqa: F821
