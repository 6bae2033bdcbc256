"""Steps of the input data: the synthetic dataset, annotated recordings cut into clips, log-mel
features (from audio or precomputed .npz) and their export, and the folds.

A features folder holds one ``{recording_id}.npy`` per recording, ``manifest.csv`` and, when
audio was skipped as bad, ``bad_audio.csv``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from sedcycle.files import write_csv
from sedcycle.labels import check_recordings, read_annotations
from sedcycle.recordings import audio_files, shard_files, shard_of

MANIFEST = "manifest.csv"
BAD_AUDIO = "bad_audio.csv"  # recordings skipped with data.on_bad_audio: skip (if any)


def feature_ids(features_dir: str | Path) -> list[str]:
    """Recording ids listed in a features folder's manifest, in order."""
    manifest = pd.read_csv(Path(features_dir) / MANIFEST, dtype={"recording_id": str})
    return manifest["recording_id"].tolist()


def skipped_recordings(features_dir: str | Path) -> list[str]:
    """Recordings whose audio the features step skipped as bad (data.on_bad_audio: skip)."""
    path = Path(features_dir) / BAD_AUDIO
    if not path.exists():
        return []
    return pd.read_csv(path, dtype={"recording_id": str})["recording_id"].tolist()


def make_synthetic(out_dir: str | Path, n_species: int, clip_seconds: float, **settings) -> None:
    """The synthetic RFCx dataset in ``out_dir`` (:func:`sedcycle.synthetic.generate`)."""
    from sedcycle import synthetic

    synthetic.generate(Path(out_dir), n_species=n_species, clip_seconds=clip_seconds, **settings)


def prepare_annotated(
    recordings: str,
    annotations: str,
    test_recordings: str,
    out_dir: str,
    clip_seconds: float,
    species_column: str,
    threads: int = 1,
    negatives: str = "annotated_species",
    negative_margin: float = 1.0,
    fully_annotated: str | None = None,
) -> None:
    """The RFCx layout in ``out_dir`` from annotated recordings (sedcycle.annotated.prepare),
    with known absences in ``train_fp.csv`` by ``negatives`` (sedcycle.negatives)."""
    from sedcycle.annotated import prepare

    prepare(
        recordings,
        annotations,
        test_recordings,
        out_dir,
        clip_seconds,
        species_column,
        threads,
        negatives=negatives,
        negative_margin=negative_margin,
        fully_annotated=fully_annotated,
    )


def annotated_test_truth(
    test_annotations: str,
    test_recordings: str,
    prepared: str,
    out: str,
    clip_seconds: float,
    species_column: str,
) -> None:
    """``out`` (test_truth.csv) from the test recordings' annotations, split into the clips
    prepare_annotated cut into ``prepared`` (sedcycle.annotated.write_test_truth)."""
    from sedcycle.annotated import write_test_truth

    write_test_truth(test_annotations, test_recordings, prepared, clip_seconds, species_column, out)


def cut_recordings(audio_dir: str, out_dir: str, clips_csv: str, clip_seconds: float, threads=1):
    """Recordings of any length cut into clips of ``clip_seconds`` (sedcycle.annotated)."""
    from sedcycle.annotated import cut_folder

    cut_folder(audio_dir, out_dir, clips_csv, clip_seconds, threads)


def extract_features(
    audio_dir: str | Path, out_dir: str | Path, clip_seconds: float, threads: int, **settings
) -> None:
    """Log-mel features of every recording in ``audio_dir`` plus ``manifest.csv``."""
    files = audio_files(audio_dir)
    good = write_features(
        [files[rec] for rec in sorted(files)], out_dir, clip_seconds, threads, **settings
    )
    if good.empty:
        raise ValueError(f"{audio_dir}: no readable audio file")
    write_csv(good, Path(out_dir) / MANIFEST, index=False)


def extract_features_shard(
    audio: list[str],
    out_dir: str | Path,
    shard: int,
    shards: int,
    clip_seconds: float,
    threads: int,
    **settings,
) -> None:
    """Log-mel features of one shard's recordings plus its ``manifest.csv`` (empty when the
    shard holds none), for :func:`gather_features`.

    ``audio``: the shard's audio files, or one folder whose recordings of ``shard`` are taken.
    """
    if len(audio) == 1 and Path(audio[0]).is_dir():
        files = shard_files(audio[0], shard, shards)
    else:
        files = {Path(path).stem: Path(path) for path in audio}
        strays = sorted(rec for rec in files if shard_of(rec, shards) != shard)
        if strays:
            raise ValueError(f"recordings {strays[:5]} are not in shard {shard} of {shards}")
    print(f"shard {shard} of {shards}: {len(files)} recording(s)", file=sys.stderr)
    good = write_features(
        [files[rec] for rec in sorted(files)], out_dir, clip_seconds, threads, **settings
    )
    write_csv(good, Path(out_dir) / MANIFEST, index=False)


def write_features(
    paths: list[Path], out_dir: str | Path, clip_seconds: float, threads: int, **settings
) -> pd.DataFrame:
    """Log-mel features of ``paths`` in ``out_dir`` and ``bad_audio.csv`` if any was skipped;
    returns the manifest of the written ones (recording_id, n_mels, n_frames)."""
    import torch

    from sedcycle import audio

    torch.set_num_threads(threads)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = audio.extract_features(paths, out_dir, clip_seconds=clip_seconds, **settings)
    bad = manifest[manifest["problem"] != ""]
    if len(bad):  # only then: a features folder from audio or npz otherwise looks the same
        print(
            f"skipped {len(bad)} bad audio file(s), listed in {out_dir / BAD_AUDIO}",
            file=sys.stderr,
        )
        write_csv(bad[["recording_id", "problem"]], out_dir / BAD_AUDIO, index=False)
    return manifest[manifest["problem"] == ""].drop(columns="problem")


def gather_features(shard_dirs: list[str], out_dir: str | Path, source: str) -> None:
    """One features folder from the shards' (:func:`extract_features_shard`): their feature
    files hard-linked, their manifests and bad-audio lists in recording order, as
    :func:`extract_features` writes them for ``source`` in one job."""
    from sedcycle.shards import in_recording_order, link_files

    def table(shard_dir: str, name: str) -> pd.DataFrame:
        path = Path(shard_dir) / name
        if not path.exists():
            return pd.DataFrame()
        return pd.read_csv(path, dtype={"recording_id": str}, keep_default_na=False)

    out_dir = Path(out_dir)
    bad = [table(d, BAD_AUDIO) for d in shard_dirs]
    if any(len(b) for b in bad):
        bad = in_recording_order(bad, f"{source} bad audio")
        print(
            f"skipped {len(bad)} bad audio file(s), listed in {out_dir / BAD_AUDIO}",
            file=sys.stderr,
        )
        write_csv(bad, out_dir / BAD_AUDIO, index=False)
    manifests = [table(d, MANIFEST) for d in shard_dirs]
    if not any(len(m) for m in manifests):
        raise ValueError(f"{source}: no readable audio file")
    manifest = in_recording_order(manifests, str(source))
    files = {
        f"{rec}.npy": Path(shard_dir) / f"{rec}.npy"
        for shard_dir, shard in zip(shard_dirs, manifests, strict=True)
        for rec in shard.get("recording_id", [])
    }
    link_files(sorted(files), files, out_dir)
    print(f"{len(manifest)} recordings from {len(shard_dirs)} shards", file=sys.stderr)
    write_csv(manifest, out_dir / MANIFEST, index=False)


def import_npz(
    npz_dir: str | Path,
    out_dir: str | Path,
    key: str,
    n_mels: int,
    sample_rate: int,
    hop_length: int,
    clip_seconds: float,
) -> None:
    """Features of one split from precomputed ``{id}.npz`` log-mels (no audio decoded)."""
    from sedcycle import npz

    n_frames = npz.expected_frames(clip_seconds, sample_rate, hop_length)
    manifest = npz.import_npz(npz_dir, out_dir, key, n_mels, n_frames)
    print(f"{len(manifest)} recordings imported from {npz_dir}", file=sys.stderr)


def export_npz(features_dir: str | Path, out_dir: str | Path, key: str) -> None:
    """One ``{id}.npz`` per recording of a features folder, the log-mel under ``key``."""
    from sedcycle import npz

    ids = npz.export_npz(features_dir, out_dir, key)
    print(f"{len(ids)} recordings exported to {out_dir}", file=sys.stderr)


def make_folds(
    tp_csv: str,
    fp_csv: str,
    features_dir: str,
    out_csv: str,
    n_species: int,
    clip_seconds: float,
    n_folds: int,
    seed: int,
    clips_csv: str | None = None,
    groups_csv: str | None = None,
) -> None:
    """folds.csv: multilabel-stratified folds over the training recordings.

    clips_csv (annotated recordings cut into clips): the clips of one source recording share
    a fold. groups_csv (recording_id,group; in annotated mode recording_id is the source
    recording): the recordings of one group share a fold.
    """
    from sedcycle.folds import assign_folds

    tp = read_annotations(tp_csv, n_species, clip_seconds)
    fp = read_annotations(fp_csv, n_species, clip_seconds)
    ids = feature_ids(features_dir)
    skipped = set(skipped_recordings(features_dir))
    if skipped:
        print(
            f"dropping tp/fp rows of {len(skipped)} recording(s) skipped as bad audio",
            file=sys.stderr,
        )
        tp = tp[~tp["recording_id"].isin(skipped)]
        fp = fp[~fp["recording_id"].isin(skipped)]
    check_recordings(tp, tp_csv, ids)
    check_recordings(fp, fp_csv, ids)
    unlabelled = len(set(ids) - set(tp["recording_id"]) - set(fp["recording_id"]))
    print(f"{len(ids)} recordings, {unlabelled} without any tp/fp row", file=sys.stderr)
    groups = fold_groups(ids, clips_csv, groups_csv)
    if groups is not None:
        print(f"{len(ids)} recordings in {len(set(groups.values()))} groups", file=sys.stderr)
    table = assign_folds(
        tp, fp, ids, n_folds=n_folds, seed=seed, n_species=n_species, groups=groups
    )
    write_csv(table, out_csv, index=False)


def fold_groups(
    ids: list[str], clips_csv: str | None, groups_csv: str | None
) -> dict[str, str] | None:
    """recording id -> the group whose recordings share a fold; None: each its own.

    A clip's group is its source recording (``clips_csv``: recording_id, recording), or that
    recording's group in ``groups_csv``; without clips, a recording's group in ``groups_csv``.
    """
    from sedcycle.folds import read_groups

    if clips_csv is None:
        return None if groups_csv is None else read_groups(groups_csv, ids)
    clips = pd.read_csv(clips_csv, dtype={"recording_id": str, "recording": str})
    source = dict(zip(clips["recording_id"], clips["recording"], strict=True))
    absent = [rid for rid in ids if rid not in source]
    if absent:
        raise ValueError(f"{clips_csv}: {len(absent)} clip(s) missing: {absent[:5]}")
    if groups_csv is None:
        return {rid: source[rid] for rid in ids}
    group_of = read_groups(groups_csv, sorted({source[rid] for rid in ids}))
    return {rid: group_of[source[rid]] for rid in ids}
