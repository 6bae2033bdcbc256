"""What each job asks a scheduler for (read from a dry run): GPUs for training and prediction,
switched off by `cluster.gpu: 0` without rerunning anything."""

import re

import pytest
import yaml

from .workflow_runs import REPO, snakemake

pytestmark = pytest.mark.workflow


def resources_by_rule(workdir, *configs):
    """Rule -> {resource: value} of the jobs a dry run of the micro config plans."""
    profile = ["--profile", REPO / "profiles/local", "--dry-run"]  # cores and threads from it
    output = snakemake(workdir, *profile, configs=configs, cores=None, threads=()).stdout
    found = {}
    for block in re.split(r"^(?:local)?rule ", output, flags=re.M)[1:]:
        rule = block.split(":", 1)[0]
        line = re.search(r"^\s+resources: (.*)$", block, re.M)
        pairs = (item.split("=", 1) for item in line[1].split(", ")) if line else ()
        found[rule] = dict(pairs)
    return found


def test_training_and_prediction_ask_for_a_gpu_unless_switched_off(tmp_path):
    default = resources_by_rule(tmp_path)
    cpu_only = tmp_path / "cpu.yaml"
    cpu_only.write_text(yaml.safe_dump({"cluster": {"gpu": 0}}))
    switched_off = resources_by_rule(tmp_path, cpu_only)
    for rule in ("train_stage1", "train_round", "predict"):
        assert default[rule]["gpu"] == "1", rule
        assert switched_off[rule]["gpu"] == "0", rule
        assert int(default[rule]["mem_mb"]) > 0 and int(default[rule]["runtime"]) > 0
    assert "gpu" not in default["extract_features"]
    assert int(default["extract_features"]["runtime"]) > 0
