"""Every `snakemake ...` and `make ...` command in the fenced code blocks of README.md and
docs/*.md is dry-run, so that a documented command that no longer runs fails a test.

snakemake commands run with --dry-run in a temporary working directory that holds links to
the repository's docs/ and profiles/ and placeholders for every input their config files
(docs/examples/*.yaml) name; make commands run with `make -n` in the repository.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_FENCES = {"bash", "sh", "shell", "console"}
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
CLUSTER_SNAKEMAKE = REPO / ".venv-cluster" / "bin" / "snakemake"
SPECIES = ("owl", "wren")


def shell_blocks(text):
    """(first line number, body) of each fenced bash/sh/shell/console block of a markdown text."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        fence = re.fullmatch(r"\s*(`{3,})\s*([\w-]*).*", lines[i])
        if not fence:
            i += 1
            continue
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence[1]):
            body.append(lines[i])
            i += 1
        if fence[2].lower() in SHELL_FENCES:
            blocks.append((start + 1, "\n".join(body)))
        i += 1
    return blocks


def commands(block):
    """The make and snakemake commands of a shell block: (line offset, words), continuation
    lines joined, comments and a leading `$ ` prompt dropped."""
    found, pending, pending_at = [], "", 0
    for number, line in enumerate(block.splitlines()):
        stripped = line.strip()
        if not pending:
            pending_at = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical, pending = pending + stripped, ""
        logical = logical.removeprefix("$ ")
        words = shlex.split(logical, comments=True)
        if not words:
            continue
        program = os.path.basename(words[0])
        if program in ("make", "snakemake"):
            found.append((pending_at, words))
    return found


def documented_commands():
    """(where, words) of every make and snakemake command of README.md and docs/*.md."""
    found = []
    for doc in DOCS:
        for start, block in shell_blocks(doc.read_text()):
            for offset, words in commands(block):
                found.append((f"{doc.relative_to(REPO)}:{start + offset}", words))
    return found


def config_files(words):
    """The words a snakemake command reads as config files: every word after --configfile up
    to the next option (snakemake 9 takes them all, targets included)."""
    files, reading = [], False
    for word in words[1:]:
        if word in ("--configfile", "--configfiles"):
            reading = True
        elif word.startswith("-"):
            reading = False
        elif reading:
            files.append(word)
    return files


def problems(words):
    """What is wrong with a documented command before it runs: a target after --configfile."""
    if os.path.basename(words[0]) != "snakemake":
        return []
    return [
        f"{word!r} follows --configfile, so snakemake reads it as a config file: "
        "put targets before --configfile"
        for word in config_files(words)
        if not word.endswith(CONFIG_SUFFIXES)
    ]


def placeholders(workdir, config):
    """Create the inputs a config file names, relative to workdir, as empty stand-ins."""
    data = config.get("data", {})
    source = data.get("source")
    if source in ("rfcx", "npz"):
        root = workdir / data.get("dir", "data/synthetic")
        for split in ("train", "test"):
            (root / split).mkdir(parents=True, exist_ok=True)
        header = "recording_id,species_id,songtype_id,t_min,f_min,t_max,f_max\n"
        for name in ("train_tp.csv", "train_fp.csv"):
            (root / name).write_text(header)
        (root / "sample_submission.csv").write_text("recording_id,s0\n")
    if source == "npz" and data.get("npz", {}).get("dir"):
        for split in ("train", "test"):
            (workdir / data["npz"]["dir"] / split).mkdir(parents=True, exist_ok=True)
    annotated = data.get("annotated", {})
    for key in ("recordings", "test_recordings"):
        if annotated.get(key):
            (workdir / annotated[key]).mkdir(parents=True, exist_ok=True)
    if annotated.get("annotations"):
        path = workdir / annotated["annotations"]
        rows = [f"x.wav,{i},{i + 1},{name}" for i, name in enumerate(SPECIES)]
        if path.suffix == ".csv":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("recording,begin,end,species\n" + "\n".join(rows) + "\n")
        else:
            column = annotated.get("species_column", "Species")
            table = path if path.suffix == ".txt" else path / "x.Table.1.selections.txt"
            table.parent.mkdir(parents=True, exist_ok=True)
            lines = [f"Selection\tView\tBegin Time (s)\tEnd Time (s)\t{column}"]
            lines += [f"{i}\tSpectrogram 1\t{i}\t{i + 1}\t{s}" for i, s in enumerate(SPECIES, 1)]
            table.write_text("\n".join(lines) + "\n")
    predict = config.get("predict", {})
    if predict.get("model_dir"):
        model_dir = workdir / predict["model_dir"]
        model_dir.mkdir(parents=True, exist_ok=True)
        for fold in range(5):
            (model_dir / f"fold{fold}.pt").touch()
    if predict.get("input_dir"):
        (workdir / predict["input_dir"]).mkdir(parents=True, exist_ok=True)
    if predict.get("species_csv"):
        species = workdir / predict["species_csv"]
        species.parent.mkdir(parents=True, exist_ok=True)
        species.write_text(
            "species_id,name\n" + "".join(f"{i},{s}\n" for i, s in enumerate(SPECIES))
        )


def slurm_profile_without_plugin(workdir):
    """profiles/slurm without its executor and plugin settings, for a machine without
    .venv-cluster: the command's other options and its DAG are still checked."""
    profiles = workdir / "profiles"
    profiles.unlink()
    shutil.copytree(REPO / "profiles", profiles)
    settings = yaml.safe_load((profiles / "slurm" / "config.yaml").read_text())
    settings = {
        key: value
        for key, value in settings.items()
        if key != "executor" and not key.startswith("slurm-")
    }
    (profiles / "slurm" / "config.yaml").write_text(yaml.safe_dump(settings))


def dry_run_argv(words, workdir):
    """The snakemake command as a dry run in workdir (--report FILE dropped: a report needs a
    finished run), with its config files' inputs made as placeholders."""
    for name in config_files(words):
        config = yaml.safe_load((REPO / name).read_text()) if (REPO / name).is_file() else None
        assert config is not None, f"{name}: no such config file in the repository"
        placeholders(workdir, config)
    program = SNAKEMAKE
    if words[0].startswith(".venv-cluster/"):
        if CLUSTER_SNAKEMAKE.exists():
            program = CLUSTER_SNAKEMAKE
        else:
            slurm_profile_without_plugin(workdir)
    argv, rest = [str(program)], iter(words[1:])
    for word in rest:
        if word == "--report":
            assert next(rest, "").endswith((".html", ".zip")), "--report needs a file name"
            continue
        argv.append(word)
    return [*argv, "--snakefile", str(REPO / "Snakefile"), "--dry-run"]


def named_rules(words):
    """The rule names a snakemake command sets resources or threads for."""
    names, option = [], None
    for word in words[1:]:
        if word.startswith("-"):
            option = word
        elif option in ("--set-resources", "--set-threads"):
            names.append(re.split(r"[:=]", word, maxsplit=1)[0])
    return names


def workflow_rules(workdir):
    """The rule names of the workflow with the default config."""
    argv = [str(SNAKEMAKE), "--list-rules", "--snakefile", str(REPO / "Snakefile")]
    result = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return set(result.stdout.split())


COMMANDS = documented_commands()


def test_the_docs_document_commands():
    """The extractor finds the README's two commands and the docs' snakemake calls."""
    found = {" ".join(words) for _, words in COMMANDS}
    assert {"make demo", "make test"} <= found
    assert any(os.path.basename(words[0]) == "snakemake" for _, words in COMMANDS)


@pytest.mark.parametrize("where,words", COMMANDS, ids=[where for where, _ in COMMANDS])
def test_documented_command_dry_runs(where, words, tmp_path):
    assert not problems(words), f"{where}: {problems(words)}"
    if words[0] == "make":
        argv, cwd = ["make", "-n", *words[1:]], REPO
    else:
        for folder in ("docs", "profiles", "presets"):
            (tmp_path / folder).symlink_to(REPO / folder)
        argv, cwd = dry_run_argv(words, tmp_path), tmp_path
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)
    output = (result.stdout + result.stderr)[-3000:]
    assert result.returncode == 0, f"{where}: {shlex.join(words)}\n{output}"
    if named_rules(words):  # snakemake ignores a rule name that no rule has
        unknown = set(named_rules(words)) - workflow_rules(tmp_path)
        assert not unknown, f"{where}: no rule named {sorted(unknown)}"


PLANTED = """
Text.

```bash
make demo   # a comment
.venv/bin/snakemake --cores all --configfile docs/examples/rfcx.yaml \\
  submission.csv
echo not a command
```

```yaml
# not a shell block: make nothing
```
"""


def test_extractor_and_checker_catch_a_target_after_configfile():
    (start, block), *others = shell_blocks(PLANTED)
    assert not others and start == 5
    found = commands(block)
    assert [words[0] for _, words in found] == ["make", ".venv/bin/snakemake"]
    assert found[0][1] == ["make", "demo"]
    bad = found[1][1]
    assert bad[-1] == "submission.csv"
    assert config_files(bad) == ["docs/examples/rfcx.yaml", "submission.csv"]
    assert "submission.csv" in problems(bad)[0]
    good = [".venv/bin/snakemake", "--cores", "all", "submission.csv"]
    good += ["--configfile", "docs/examples/rfcx.yaml", "--dry-run"]
    assert not problems(good)
    tuned = ["snakemake", "--set-resources", "predict:runtime=60", "--set-threads", "x=8", "-n"]
    assert named_rules(tuned) == ["predict", "x"]


def test_a_command_that_cannot_run_fails_its_dry_run(tmp_path):
    """A planted command naming a missing target: the same dry run as the docs' commands
    exits non-zero, so its parametrized test would fail."""
    argv = dry_run_argv([".venv/bin/snakemake", "--cores", "1", "no_such_target.csv"], tmp_path)
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "no_such_target.csv" in result.stderr + result.stdout


def test_example_configs_use_relative_paths():
    """The docs' example configs name inputs relative to the working directory, so that a
    dry run (and a reader) can put them anywhere."""
    examples = sorted((REPO / "docs" / "examples").glob("*.yaml"))
    assert examples
    for example in examples:
        for line in example.read_text().splitlines():
            value = line.split("#")[0]
            assert not re.search(r":\s*/|\.\./", value), f"{example.name}: {line}"


def test_relative_links_point_at_files_in_the_repository():
    """Every relative link of README.md and docs/*.md names a file or folder of the repository
    (an anchor after `#` is not checked)."""
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (doc.parent / target.split("#")[0]).resolve()
            assert path.is_relative_to(REPO), f"{doc.name}: {target} is outside the repository"
            assert path.exists(), f"{doc.name}: {target} does not exist"
