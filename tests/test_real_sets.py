"""The insects set of the real-data benchmark (InsectSet32, bench/real_data/assemble.py) on a
small fake listing: which files it takes from the dataset's csvs, the split by original
recording, the names, the conversion of per-file labels to events and what assemble writes.
None needs the repository."""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench" / "real_data"))

import assemble  # noqa: E402

HEADER = "file_name,species,class_ID,data_set,original_file_name\n"
# (species, original file name as the csvs spell it); the Cicadidae names are percent-encoded
ORTHOPTERA = [
    ("Grylluscampestris", "dat008-008.wav"),
    ("Grylluscampestris", "dat008-009.M.wav"),
    ("Grylluscampestris", "Take11.M.wav"),
    ("Grylluscampestris", "Take21.wav"),
    ("Grylluscampestris", "Take21-1.wav"),  # a part of Take21
    ("Nemobiussylvestris", "Take16.wav"),  # left out (INSECTS_LEFT_OUT)
    ("Nemobiussylvestris", "Take23.wav"),
    ("Nemobiussylvestris", "dat004-031.M.wav"),
]
CICADIDAE = [
    ("Platypleuraplumosa", "MHV%20321%20P.plumosa%20Ghwarriepoort%20River%20%231.wav"),
    ("Platypleuraplumosa", "MHV%20321%20P.plumosa%20Ghwarriepoort%20River%20%232.wav"),
    ("Platypleuraplumosa", "MHV%201021%20P.plumosa%20nr%20Addo%20N.P..wav"),
    ("Platypleuraplumosa", "MHV%20329%20P.plumosa%20Steydtlerville%20%231.wav"),
    ("Platypleuraplumosa", "MHV%20329%20P.plumosa%20Steydtlerville%20%235a.wav"),
    ("Platypleuraplumosa", "MHV%20501%20P.plumosa%20Fort%20Brown.wav"),
    ("Platypleuraplumosa", "MHV%20540%20P.plumosa%20Fish%20River%20Bridge.wav"),
    # the same original recording filed under a second species
    ("Pycnasemiclara", "MHV%20321%20P.plumosa%20Ghwarriepoort%20River%20%231_0.wav"),
    ("Pycnasemiclara", "MHV%20916%20P.semiclara%20nr%20Amajuba.wav"),
    ("Pycnasemiclara", "MHV%20925%20P.semiclara%20nr%20Grasskop%20%231.wav"),
    (
        "Platypleuradivisa",
        "MHV%20954%20P.divisa%20nr%20Harrismith%20%28same%20as%20MHV%20990%29.wav",
    ),
    ("Platypleuradivisa", "MHV%20515%20P.divisa%20S%20of%20Whittlesey%20%231.wav"),
]


def listing(rows: list[tuple[str, str]]) -> bytes:
    lines = [f"{sp}_{name},{sp},0,train,{name}\n" for sp, name in rows]
    return (HEADER + "".join(lines)).encode()


def fake_annotations() -> dict[str, bytes]:
    return {
        "data/Orthoptera.csv": listing(ORTHOPTERA),
        "data/Cicadidae.csv": listing(CICADIDAE),
    }


def test_the_csvs_list_the_files_less_the_left_out_ones():
    paths = assemble.insects_paths(fake_annotations())
    assert len(paths) == len(ORTHOPTERA) + len(CICADIDAE) - 1
    assert "data/Orthoptera/Nemobiussylvestris/Nemobiussylvestris_Take16.wav" not in paths
    assert "data/Orthoptera/Grylluscampestris/Grylluscampestris_Take21-1.wav" in paths
    assert (
        "data/Cicadidae/Pycnasemiclara/"
        "Pycnasemiclara_MHV%20916%20P.semiclara%20nr%20Amajuba.wav" in paths
    )


@pytest.mark.parametrize(
    "name, recording",
    [
        ("Platypleuraplumosa_MHV%20329%20P.plumosa%20Steydtlerville%20%235a.wav", "MHV 329"),
        (
            "Platypleuradivisa_MHV%20954%20P.divisa%20nr%20Harrismith%20"
            "%28same%20as%20MHV%20990%29.wav",
            "MHV 990",
        ),
        ("Grylluscampestris_Take21-1.wav", "Take21"),
        ("Grylluscampestris_dat008-009.M.wav", "dat008-009"),
        ("Chorthippusbiguttulus_dat001-020.M.wav.M.wav", "dat001-020"),
    ],
)
def test_original_recording_of_a_file(name, recording):
    species = name.split("_")[0]
    order = "Cicadidae" if "MHV" in name else "Orthoptera"
    assert assemble.insects_recording(f"data/{order}/{species}/{name}") == recording


def test_split_keeps_original_recordings_on_one_side_and_every_species_on_both():
    paths = assemble.insects_paths(fake_annotations())
    split = assemble.insects_split(paths)
    assert split == assemble.insects_split(list(reversed(paths)))  # order-free
    sides: dict[str, set[str]] = {}
    species: dict[str, set[str]] = {}
    for path, side in split.items():
        sides.setdefault(assemble.insects_recording(path), set()).add(side)
        species.setdefault(Path(path).parent.name, set()).add(side)
    assert all(len(s) == 1 for s in sides.values()), sides
    assert all(s == {"train", "test"} for s in species.values()), species
    # plumosa's recordings in natural order: MHV 321, 329, 501, 540, 1021: the 4th tests
    assert sides["MHV 540"] == {"test"} and sides["MHV 321"] == {"train"}
    # MHV 321 (placed by plumosa) keeps its side under Pycna semiclara, whose own two
    # recordings (fewer than 4) send the last, MHV 925, to test
    assert sides["MHV 925"] == {"test"} and sides["MHV 916"] == {"train"}
    # a take and its part, two tracks of one tape: the take's parts share a side
    assert sides["Take21"] == {"train"} and len(split) == 19


def test_a_species_with_one_original_recording_is_refused():
    rows = [("Kikihiamuta", "05_Kikihia_muta_North.wav")] + CICADIDAE[:3]
    paths = assemble.insects_paths(
        {"data/Orthoptera.csv": listing([]), **{"data/Cicadidae.csv": listing(rows)}}
    )
    with pytest.raises(ValueError, match="Kikihiamuta.*one on each side"):
        assemble.insects_split(paths)


def test_names_have_no_spaces_percent_signs_or_dots_and_clashes_are_refused():
    files = assemble.insects_files(assemble.insects_paths(fake_annotations()))
    names = {Path(f.path).name: f.target for f in files}
    assert (
        names["Platypleuraplumosa_MHV%201021%20P.plumosa%20nr%20Addo%20N.P..wav"]
        == "Platypleuraplumosa_MHV_1021_P_plumosa_nr_Addo_N_P.wav"
    )
    assert names["Grylluscampestris_Take21-1.wav"] == "Grylluscampestris_Take21-1.wav"
    for target in names.values():
        assert Path(target).stem.replace("_", "").replace("-", "").isalnum(), target
    clash = [
        "data/Orthoptera/Grylluscampestris/Grylluscampestris_Take11.M.wav",
        "data/Orthoptera/Grylluscampestris/Grylluscampestris_Take11%20M.wav",
    ]
    with pytest.raises(ValueError, match="several files would be named"):
        assemble.insects_files(clash)


def write_wav(path: Path, seconds: float, rate: int = 8000) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.zeros(int(seconds * rate), dtype=np.float32), rate, "FLOAT")
    return path.read_bytes()


def test_a_file_becomes_one_event_over_its_whole_length_with_the_csvs_species(tmp_path):
    annotations = fake_annotations()
    files = assemble.insects_files(assemble.insects_paths(annotations))
    recordings: dict[str, dict[str, Path]] = {"train": {}, "test": {}}
    lengths = {}
    for i, f in enumerate(files):
        lengths[Path(f.target).stem] = 1.5 + i
        target = tmp_path / f.split / f.target
        write_wav(target, lengths[Path(f.target).stem])
        recordings[f.split][Path(f.target).stem] = target
    events = assemble.convert_insects(annotations, recordings)
    for split in ("train", "test"):
        assert sorted(r["recording"] for r in events[split]) == sorted(recordings[split])
        for row in events[split]:
            assert row["begin"] == 0.0
            assert row["end"] == pytest.approx(lengths[row["recording"]])
            assert row["recording"].startswith(f"{row['species']}_")


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_assemble_writes_the_listed_set_with_fold_groups_and_known_absences(tmp_path):
    """A repository shaped like InsectSet32: the manifest and the set come from its csvs;
    groups.csv gives the train files of one original recording one group."""
    repo = tmp_path / "repo"
    for csv_path, data in fake_annotations().items():
        (repo / csv_path).parent.mkdir(parents=True, exist_ok=True)
        (repo / csv_path).write_bytes(data)
    for path in assemble.insects_paths(fake_annotations()):
        write_wav(repo / path, 2.0)
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "data")
    insects = dataclasses.replace(assemble.SETS["insects"], commit=git(repo, "rev-parse", "HEAD"))
    manifest = assemble.manifest_rows(insects, repo / ".git")
    assert len(manifest) == 2 + 19
    out = assemble.assemble(insects, repo / ".git", manifest, out_root=tmp_path / "sets")
    train = sorted(p.stem for p in (out / "train").iterdir())
    assert (out / "fully_annotated.txt").read_text().split() == train
    groups = dict(csv.reader((out / "groups.csv").open()))
    assert groups.pop("recording_id") == "group" and sorted(groups) == train
    assert groups["Platypleuraplumosa_MHV_321_P_plumosa_Ghwarriepoort_River_1"] == "MHV 321"
    assert groups["Grylluscampestris_Take21-1"] == groups["Grylluscampestris_Take21"]
    rows = list(csv.DictReader((out / "test_annotations.csv").open()))
    assert {r["recording"] for r in rows} == {p.stem for p in (out / "test").iterdir()}
    assert all(r["end"] == "2.0000" for r in rows)
    # a manifest missing a listed file is refused before any audio is written
    with pytest.raises(ValueError, match="lists other files than its definition"):
        assemble.assemble(insects, repo / ".git", manifest[:-1], out_root=tmp_path / "again")
