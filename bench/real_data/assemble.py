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
- ``fully_annotated.txt`` where the source vouches for every species in each file;
- ``groups.csv`` (``recording_id,group``, for ``folds.groups``) where several train files come
  from one original recording, so that they share a fold.

``--write-manifest`` (re)writes the manifest from the set definitions below and the
repositories' files (the hashes then come from the files, so only run it on purpose).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

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
    # (annotation bytes by repository path, {split: {recording stem: its extracted file}})
    # -> rows by split
    convert: Callable[[dict[str, bytes], dict[str, dict[str, Path]]], dict[str, list[dict]]]
    fully_annotated: bool = False  # every file judged for every species of the set
    notes: list[str] = field(default_factory=list)
    # a set whose annotation files list its audio (``files`` then names the annotation files):
    # (annotation bytes by repository path) -> the audio's repository paths, and (those paths)
    # -> their SourceFiles (split and name)
    listed: Callable[[dict[str, bytes]], list[str]] | None = None
    place: Callable[[list[str]], list[SourceFile]] | None = None
    # (an audio file's repository path) -> its original recording: groups.csv makes the train
    # files of one original recording share a fold (folds.groups); None: no groups.csv
    group: Callable[[str], str] | None = None

    def all_files(self, annotations: dict[str, bytes]) -> list[SourceFile]:
        """Every file of the set, given its annotation files' bytes by repository path (read
        at the set's commit; unused unless the annotations list the audio)."""
        if self.listed is None:
            return self.files
        return self.files + self.place(self.listed(annotations))


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


# --- InsectSet32 (juliankraft/TermPaper1-Ecoacoustics): 32 species of Orthoptera and cicadas --
# data/{Orthoptera,Cicadidae}.csv list the files (file_name = {species}_{original_file_name},
# under data/{order}/{species}/), one species each: the set's curators removed the files with
# sounds of several species, so every other species is a known absence.
INSECTS_CSVS = {"data/Orthoptera.csv": "data/Orthoptera", "data/Cicadidae.csv": "data/Cicadidae"}
# listed, but their blobs were not in the copy of the repository the set was built from
INSECTS_LEFT_OUT = frozenset(
    f"data/Orthoptera/Nemobiussylvestris/Nemobiussylvestris_Take{n}.wav" for n in (16, 17, 20)
)
INSECTS_TEST_EVERY = 4  # every 4th original recording of a species (natural name order) tests


def insects_csv_rows(annotations: dict[str, bytes]) -> list[dict]:
    """The rows of InsectSet32's csvs, each with ``path``: the file in the repository."""
    rows = []
    for csv_path, folder in INSECTS_CSVS.items():
        for row in csv.DictReader(io.StringIO(annotations[csv_path].decode("utf-8"))):
            rows.append({**row, "path": f"{folder}/{row['species']}/{row['file_name']}"})
    return rows


def insects_paths(annotations: dict[str, bytes]) -> list[str]:
    """The audio files the csvs list, less INSECTS_LEFT_OUT (the repository's 4 unlisted wavs
    are not used)."""
    return [r["path"] for r in insects_csv_rows(annotations) if r["path"] not in INSECTS_LEFT_OUT]


def insects_original(path: str) -> str:
    """The source recording's name of a file: its name without the ``{species}_`` prefix,
    percent-decoded (``MHV%20274`` -> ``MHV 274``)."""
    species = Path(path).parent.name
    name = unquote(Path(path).name)
    if not name.startswith(f"{species}_"):
        raise ValueError(f"{path}: the file name does not start with its species {species}_")
    return name[len(species) + 1 :]


def insects_recording(path: str) -> str:
    """The original recording a file comes from: ``MHV <n>`` for the Global Cicada Sound
    Collection's names (its files ``#1``..``#5``, ``#2_0`` share the number; ``(same as MHV
    <m>)`` names m), otherwise the name without its ``.M``/``.wav`` endings and a take's ``-<n>``
    part (``Take21-1`` is Take21). The same name under two species is one recording."""
    name = insects_original(path)
    mhv = re.search(r"same as MHV (\d+)", name) or re.match(r"MHV (\d+)", name)
    if mhv:
        return f"MHV {mhv.group(1)}"
    return re.sub(r"^(Take\d+)-\d+$", r"\1", re.sub(r"(\.M|\.wav)+$", "", name))


def natural(name: str) -> list:
    """Sort key: digit runs as numbers (MHV 321 before MHV 1021)."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def insects_split(paths: list[str]) -> dict[str, str]:
    """Train/test by original recording (:func:`insects_recording`), so one recording's clips
    never sit on both sides. Per species (in name order), its original recordings not placed
    by an earlier species, in natural name order: every INSECTS_TEST_EVERY-th goes to test, the
    last one when there are fewer; a recording listed under two species keeps the side the
    first gave it. Raises ValueError for a species left on one side."""
    recordings: dict[str, set[str]] = {}
    for path in paths:
        recordings.setdefault(Path(path).parent.name, set()).add(insects_recording(path))
    side: dict[str, str] = {}
    for species in sorted(recordings):
        new = sorted((r for r in recordings[species] if r not in side), key=natural)
        for position, recording in enumerate(new, start=1):
            last = len(new) < INSECTS_TEST_EVERY and position == len(new)
            test = position % INSECTS_TEST_EVERY == 0 or last
            side[recording] = "test" if test else "train"
        sides = {side[r] for r in recordings[species]}
        if sides != {"train", "test"}:
            raise ValueError(
                f"species {species}: original recordings {sorted(recordings[species])} all go "
                f"to {sides.pop()}; it needs one on each side"
            )
    return {path: side[insects_recording(path)] for path in paths}


def insects_name(path: str) -> str:
    """The file's name under sets/insects/: {species}_{original name} with every run of
    characters other than letters, digits and '-' made one '_' (no spaces, '%', '#' or dots)."""
    stem = insects_original(path).removesuffix(".wav")
    return f"{Path(path).parent.name}_{re.sub(r'[^A-Za-z0-9-]+', '_', stem).strip('_')}.wav"


def insects_files(paths: list[str]) -> list[SourceFile]:
    """The audio's SourceFiles: the split of :func:`insects_split`, the name of
    :func:`insects_name`; raises ValueError when two files would get one name."""
    split = insects_split(paths)
    files = [SourceFile(p, split[p], insects_name(p)) for p in sorted(paths)]
    names = [f.name for f in files]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"insects: several files would be named {twice[:3]}")
    return files


def convert_insects(annotations: dict[str, bytes], recordings: dict[str, dict]) -> dict:
    """A file holds its species (the csvs' ``species``) somewhere: one event over the whole
    file, whose length is read from the extracted audio (the source marks no finer time)."""
    import soundfile

    species = {
        Path(insects_name(r["path"])).stem: r["species"] for r in insects_csv_rows(annotations)
    }
    rows = {split: [] for split in recordings}
    for split, files in recordings.items():
        for stem, path in files.items():
            end = soundfile.info(str(path)).duration
            rows[split].append(
                {"recording": stem, "begin": 0.0, "end": end, "species": species[stem]}
            )
    return rows


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
    "insects": RealSet(
        name="insects",
        repository="juliankraft/TermPaper1-Ecoacoustics",
        commit="c0108393079d2ae8ae07f5775cd9baef1a37b883",
        licence="CC BY 4.0, copyright held by the recordists (the dataset's data/README.txt)",
        description=(
            "InsectSet32: 328 recordings (1-39 s, most 10 s) of 32 species, 9 Orthoptera and "
            "23 cicadas, one species per file; labels per file, no finer time"
        ),
        files=[SourceFile(path, "annotations") for path in INSECTS_CSVS],
        convert=convert_insects,
        fully_annotated=True,
        listed=insects_paths,
        place=insects_files,
        group=insects_recording,
        notes=[
            "labels per file: an event spans the whole file",
            "3 listed files (Nemobius sylvestris Take16, 17, 20) left out: not in the copy of "
            "the repository the set was built from",
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


def annotation_blobs(real_set: RealSet, git_dir: Path) -> dict[str, bytes]:
    """The set's annotation files at its commit, by repository path."""
    return {
        f.path: read_blob(git_dir, real_set.commit, f.path)
        for f in real_set.files
        if f.split == "annotations"
    }


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
        for f in real_set.all_files(annotation_blobs(real_set, git_dir))
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

    def other_files(missing: set[str], extra: set[str]) -> ValueError:
        return ValueError(
            f"{MANIFEST}: set {real_set.name} lists other files than its definition "
            f"(not in the manifest: {sorted(missing)[:3]}; not defined: {sorted(extra)[:3]})"
        )

    def read(f: SourceFile) -> bytes:
        row = rows[f.path]
        if row["commit"] != real_set.commit or row["split"] != f.split:
            raise ValueError(
                f"{MANIFEST}: {f.path} of set {real_set.name} has commit {row['commit']} / "
                f"split {row['split']}, the definition {real_set.commit} / {f.split}"
            )
        data = read_blob(git_dir, row["commit"], row["path"])
        check_file(row, data)
        return data

    known = {f.path for f in real_set.files}  # before the annotations list any audio
    if not known <= set(rows):
        raise other_files(known - set(rows), set())
    annotations = {f.path: read(f) for f in real_set.files if f.split == "annotations"}
    files = real_set.all_files(annotations)
    defined = {f.path for f in files}
    if set(rows) != defined:
        raise other_files(defined - set(rows), set(rows) - defined)
    out = out_root / real_set.name
    recordings: dict[str, dict[str, Path]] = {"train": {}, "test": {}}
    for f in files:
        if f.split == "annotations":
            continue
        data = read(f)
        target = out / f.split / f.target
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
        recordings[f.split][Path(f.target).stem] = target
    events = real_set.convert(annotations, recordings)
    for split in ("train", "test"):
        write_annotations(events[split], out / f"{split}_annotations.csv")
    fully = out / "fully_annotated.txt"
    if real_set.fully_annotated:
        fully.write_text("".join(f"{s}\n" for s in sorted(recordings["train"])))
    else:
        fully.unlink(missing_ok=True)
    groups = out / "groups.csv"
    if real_set.group is not None:
        write_groups(
            {Path(f.target).stem: real_set.group(f.path) for f in files if f.split == "train"},
            groups,
        )
    else:
        groups.unlink(missing_ok=True)
    return out


def write_groups(groups: dict[str, str], path: Path) -> None:
    """groups.csv for folds.groups: recording_id (the recording's file stem), group."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["recording_id", "group"])
        writer.writerows(sorted(groups.items()))


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
