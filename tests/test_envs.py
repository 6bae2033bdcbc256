"""The conda environments pin the same versions as requirements.lock (what CI installs)."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def locked_versions():
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version.strip()
    return pins


def test_every_conda_pin_equals_the_lock():
    locked = locked_versions()
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        pins = [p for p in pip if "==" in p]
        assert pins, env
        for pin in pins:
            name, version = pin.split("==")
            assert locked.get(name.lower()) == version, f"{env.name}: {pin} vs lock"


def test_every_pip_entry_is_an_exact_pin():
    # Snakemake copies an env file into .snakemake/conda/ before `conda env create`, and conda
    # runs pip from the copy's folder: a relative path (`-e ..`) would miss this repository.
    for env in sorted((REPO / "envs").glob("*.yaml")):
        spec = yaml.safe_load(env.read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        for entry in pip:
            assert re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+]+", entry), f"{env.name}: {entry}"


def test_every_rule_with_a_script_names_an_existing_env():
    for smk in (REPO / "rules").glob("*.smk"):
        text = smk.read_text()
        assert text.count("script:") == text.count("conda:"), smk.name
        for line in text.splitlines():
            if line.strip().startswith('"../envs/'):
                assert (smk.parent / line.strip().strip('"')).exists(), line
