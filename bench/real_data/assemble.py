"""Assemble the real-data quality benchmark's sets from public GitHub repositories.

.venv/bin/python bench/real_data/assemble.py [--repo owner/name=GIT_DIR ...] [--sets piha ...]
    [--write-manifest]

Every file a set uses is named in ``bench/real_data/manifest.csv``: set, repository, commit,
path in the repository, sha256, split (train / test audio, or ``annotations``). Given each
repository's git directory (a clone: ``--repo owner/name=PATH``, its ``.git`` or a bare one;
default ``$SEDCYCLE_REPOS/owner+name``, or ``bench/real_data/repos/owner+name`` when unset),
the script reads each file at its commit with ``git cat-file``, checks its sha256 against the
manifest (a difference stops it, naming the file) and writes ``bench/real_data/sets/<set>/``:

- ``train/`` and ``test/``: the recordings, split by recording (never a recording's clips on
  both sides), renamed where the source name has spaces;
- ``train_annotations.csv``, ``test_annotations.csv``: the events as ``data.source: annotated``
  reads a csv (``recording,begin,end,species``), converted from the source's format;
- ``fully_annotated.txt`` where the source vouches for every species in each file.

``--write-manifest`` (re)writes the manifest from the set definitions below and the
repositories' files (the hashes then come from the files, so only run it on purpose).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.csv"
SETS_DIR = HERE / "sets"
# where clones are looked for without --repo: $SEDCYCLE_REPOS/owner+name (a clone or bare repo)
REPOS = Path(os.environ.get("SEDCYCLE_REPOS", HERE / "repos"))
MANIFEST_COLUMNS = ["set", "repository", "commit", "path", "sha256", "split"]
ANNOTATION_COLUMNS = ["recording", "begin", "end", "species"]


@dataclass(frozen=True)
class SourceFile:
    path: str  # in the repository
    split: str  # train | test | annotations
    name: str = ""  # file name under sets/<set>/<split>/ ("" keeps the source's)

    @property
    def target(self) -> str:
        return self.name or Path(self.path).name


@dataclass(frozen=True)
class RealSet:
    name: str
    repository: str
    commit: str
    licence: str
    description: str
    files: list[SourceFile]
    # (annotation bytes by repository path, recording stems by split) -> rows by split
    convert: Callable[[dict[str, bytes], dict[str, list[str]]], dict[str, list[dict]]]
    fully_annotated: bool = False  # every file judged for every species of the set
    notes: list[str] = field(default_factory=list)


# --- Screaming Piha (UCSD-E4E/PyHa): 11 recordings, every call marked in time -------------
PIHA_TEST = {3, 6, 9}  # every third recording by number; the rest train
PIHA_SPECIES = "Lipaugus vociferans"


def convert_pyha(annotations: dict[str, bytes], stems: dict[str, list[str]]) -> dict:
    """PyHa's manual labels (FOLDER, IN FILE, ..., OFFSET, DURATION, ..., MANUAL ID) -> events.
    Every row marks a Screaming Piha call ("bird" in MANUAL ID: the files are of that species)."""
    (data,) = annotations.values()
    rows = {split: [] for split in stems}
    where = {stem: split for split, names in stems.items() for stem in names}
    for line, row in enumerate(csv.DictReader(io.StringIO(data.decode("utf-8"))), start=2):
        stem = Path(row["IN FILE"].strip()).stem
        if stem not in where:
            raise ValueError(f"PyHa labels line {line}: {stem} is none of the set's recordings")
        begin = float(row["OFFSET"])
        end = begin + float(row["DURATION"])
        rows[where[stem]].append(
            {"recording": stem, "begin": begin, "end": end, "species": PIHA_SPECIES}
        )
    return rows


# --- Northern Bobwhite covey calls (GAMELab-UGA/NorthernBobwhiteCNN): 4 s clips -------------
BOBWHITE_SPECIES = "Colinus virginianus"
# the clip numbers of each site and kind in the repository (WLFW_AL's absences run 30-59)
BOBWHITE_NUMBERS = {
    (site, kind): range(30, 60) if (site, kind) == ("WLFW_AL", "Absence") else range(1, 31)
    for site in ("DiLane", "WLFW_AL", "WLFW_GA")
    for kind in ("Presence", "Absence")
}
BOBWHITE_SECONDS = 4.0  # every clip is 4 s (the source's README); checked against the wav


def bobwhite_files() -> list[SourceFile]:
    """The 180 clips, a quarter of each site's presence and absence clips (every 4th by its
    number) held out for test; renamed without spaces/brackets: {site}_{kind}_{nn}.wav, nn the
    clip's position 1..30 in its group."""
    files = []
    for (site, kind), numbers in BOBWHITE_NUMBERS.items():
        for position, number in enumerate(numbers, start=1):
            files.append(
                SourceFile(
                    f"TrainingClips-{kind}/{site}_TrainingClip_{kind} ({number}).wav",
                    "test" if position % 4 == 0 else "train",
                    f"{site}_{kind.lower()}_{position:02d}.wav",
                )
            )
    return files


def convert_bobwhite(annotations: dict[str, bytes], stems: dict[str, list[str]]) -> dict:
    """A presence clip holds a covey call somewhere in its 4 s: one event over the whole clip
    (the source marks no finer time); an absence clip has none."""
    return {
        split: [
            {"recording": s, "begin": 0.0, "end": BOBWHITE_SECONDS, "species": BOBWHITE_SPECIES}
            for s in names
            if "_presence_" in s
        ]
        for split, names in stems.items()
    }


SETS = {
    "piha": RealSet(
        name="piha",
        repository="UCSD-E4E/PyHa",
        commit="67256106d901f5b32af1356e2b2c177997e9b793",
        licence="CC BY-NC-SA 4.0 (the repository's LICENSE)",
        description=(
            "11 recordings of the Screaming Piha (Lipaugus vociferans), 7 s to 134 s, "
            "every call marked with onset and duration (ScreamingPiha_Manual_Labels.csv)"
        ),
        files=[
            *[
                SourceFile(f"TESTmp3/ScreamingPiha{n}.mp3", "test" if n in PIHA_TEST else "train")
                for n in range(1, 12)
            ],
            SourceFile("ScreamingPiha_Manual_Labels.csv", "annotations"),
        ],
        convert=convert_pyha,
        notes=["one species: LWLRAP does not apply (a single label per clip ranks first)"],
    ),
    "bobwhite": RealSet(
        name="bobwhite",
        repository="GAMELab-UGA/NorthernBobwhiteCNN",
        commit="e847346f7ad56270920959080f466793389e841f",
        licence="MIT (the repository's LICENSE)",
        description=(
            "180 clips of 4 s from three site groups: 90 with a Northern Bobwhite (Colinus "
            "virginianus) covey call, 90 without; labels per clip, no finer time"
        ),
        files=bobwhite_files(),
        convert=convert_bobwhite,
        fully_annotated=True,
        notes=[
            "one species: LWLRAP does not apply",
            "presence/absence per 4 s clip: an event spans the whole clip",
        ],
    ),
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def default_git_dir(repository: str) -> Path:
    """A clone of ``repository`` at REPOS/owner+name (e.g. ``git clone URL
    bench/real_data/repos/owner+name``)."""
    return REPOS / repository.replace("/", "+")


def read_blob(git_dir: Path, commit: str, path: str) -> bytes:
    """The file ``path`` at ``commit`` of the repository at ``git_dir``; a clear error when the
    repository, the commit or the file is missing."""
    if not git_dir.exists():
        raise FileNotFoundError(
            f"{git_dir}: no such git directory (clone the repository, pass --repo owner/name=PATH)"
        )
    result = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "blob", f"{commit}:{path}"],
        capture_output=True,
    )
    if result.returncode != 0:
        raise FileNotFoundError(
            f"{git_dir}: cannot read {path} at commit {commit}: "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout


def read_manifest(path: Path = MANIFEST) -> list[dict]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no manifest (run with --write-manifest once)")
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        if reader.fieldnames != MANIFEST_COLUMNS:
            raise ValueError(
                f"{path}: columns {reader.fieldnames}, expected {','.join(MANIFEST_COLUMNS)}"
            )
        return list(reader)


def write_manifest(rows: list[dict], path: Path = MANIFEST) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def manifest_rows(real_set: RealSet, git_dir: Path) -> list[dict]:
    return [
        {
            "set": real_set.name,
            "repository": real_set.repository,
            "commit": real_set.commit,
            "path": f.path,
            "sha256": sha256(read_blob(git_dir, real_set.commit, f.path)),
            "split": f.split,
        }
        for f in real_set.files
    ]


def check_file(row: dict, data: bytes, manifest: Path = MANIFEST) -> None:
    """Raise ValueError naming the file when ``data`` is not the manifest row's file."""
    found = sha256(data)
    if found != row["sha256"]:
        raise ValueError(
            f"{manifest}: {row['repository']}@{row['commit'][:12]}:{row['path']} (set "
            f"{row['set']}) has sha256 {found}, the manifest says {row['sha256']}: not the "
            "file the benchmark was measured on"
        )


def write_annotations(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=ANNOTATION_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in sorted(rows, key=lambda r: (r["recording"], r["begin"])):
            writer.writerow({**row, "begin": f"{row['begin']:.4f}", "end": f"{row['end']:.4f}"})


def assemble(
    real_set: RealSet, git_dir: Path, manifest: list[dict], out_root: Path = SETS_DIR
) -> Path:
    """Extract one set at its recorded commit, checking every file against ``manifest``."""
    rows = {r["path"]: r for r in manifest if r["set"] == real_set.name}
    defined = {f.path for f in real_set.files}
    if set(rows) != defined:
        missing, extra = sorted(defined - set(rows)), sorted(set(rows) - defined)
        raise ValueError(
            f"{MANIFEST}: set {real_set.name} lists other files than its definition "
            f"(not in the manifest: {missing[:3]}; not defined: {extra[:3]})"
        )
    out = out_root / real_set.name
    annotations, stems = {}, {"train": [], "test": []}
    for f in real_set.files:
        row = rows[f.path]
        if row["commit"] != real_set.commit or row["split"] != f.split:
            raise ValueError(
                f"{MANIFEST}: {f.path} of set {real_set.name} has commit {row['commit']} / "
                f"split {row['split']}, the definition {real_set.commit} / {f.split}"
            )
        data = read_blob(git_dir, row["commit"], row["path"])
        check_file(row, data)
        if f.split == "annotations":
            annotations[f.path] = data
            continue
        target = out / f.split / f.target
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
        stems[f.split].append(Path(f.target).stem)
    events = real_set.convert(annotations, stems)
    for split in ("train", "test"):
        write_annotations(events[split], out / f"{split}_annotations.csv")
    fully = out / "fully_annotated.txt"
    if real_set.fully_annotated:
        fully.write_text("".join(f"{s}\n" for s in sorted(stems["train"])))
    else:
        fully.unlink(missing_ok=True)
    return out


def parse_repos(values: list[str]) -> dict[str, Path]:
    repos = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or "/" not in name:
            raise SystemExit(f"--repo {value!r}: expected owner/name=PATH")
        repos[name] = Path(path)
    return repos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", action="append", default=[], help="owner/name=GIT_DIR")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--write-manifest", action="store_true")
    args = parser.parse_args(argv)
    repos = parse_repos(args.repo)

    def git_dir(real_set: RealSet) -> Path:
        return repos.get(real_set.repository, default_git_dir(real_set.repository))

    try:
        if args.write_manifest:
            kept = (
                [r for r in read_manifest() if r["set"] not in args.sets]
                if MANIFEST.exists()
                else []
            )
            new = [
                row for name in args.sets for row in manifest_rows(SETS[name], git_dir(SETS[name]))
            ]
            write_manifest(kept + new)
            print(f"{MANIFEST}: {len(new)} files of {', '.join(args.sets)}")
        manifest = read_manifest()
        for name in args.sets:
            out = assemble(SETS[name], git_dir(SETS[name]), manifest)
            print(f"{name}: {out}")
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
