"""One function per workflow step, taking plain paths and settings.

The Snakemake scripts in workflow/scripts/ only unpack ``snakemake.input/params`` and call
these, so every step can be run and tested without Snakemake.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd

from sedcycle import evaluation, metrics
from sedcycle.annotated import read_species
from sedcycle.files import write_csv, write_json, write_parquet
from sedcycle.labels import (
    FrameLabels,
    check_columns,
    check_recordings,
    check_species,
    presence_matrix,
    read_annotations,
)
from sedcycle.pseudo import out_of_fold_scores, pseudo_negatives, pseudo_positives
from sedcycle.submission import make_submission, mean_scores, name_species, recording_scores
from sedcycle.tables import clip_scores, score_columns

# Steps that need torch (features, training, prediction) import it inside the function:
# torch + timm cost ~5 s per job, which the light steps of the DAG should not pay.

AUDIO_SUFFIXES = (".flac", ".wav", ".mp3", ".ogg")
MANIFEST = "manifest.csv"
BAD_AUDIO = "bad_audio.csv"  # recordings skipped with data.on_bad_audio: skip (if any)


@contextmanager
def log_to(path: str | Path) -> Iterator[None]:
    """Send stderr (progress bars, messages, the traceback of a failure) to a rule's log."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as log:
        saved, sys.stderr = sys.stderr, log
        try:
            yield
        except BaseException:
            traceback.print_exc(file=log)
            raise
        finally:
            sys.stderr = saved


def list_recordings(audio_dir: str | Path) -> list[str]:
    """Recording ids (file stems) of the audio files in ``audio_dir``, sorted."""
    audio_dir = Path(audio_dir)
    if not audio_dir.is_dir():
        raise FileNotFoundError(f"{audio_dir}: audio folder not found")
    ids = sorted(p.stem for p in audio_dir.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not ids:
        raise ValueError(f"{audio_dir}: no audio file ({', '.join(AUDIO_SUFFIXES)})")
    return ids


def feature_ids(features_dir: str | Path) -> list[str]:
    """Recording ids listed in a features folder's manifest, in order."""
    manifest = pd.read_csv(Path(features_dir) / MANIFEST, dtype={"recording_id": str})
    return manifest["recording_id"].tolist()


def make_synthetic(out_dir: str | Path, n_species: int, clip_seconds: float, **settings) -> None:
    from sedcycle import synthetic

    synthetic.generate(Path(out_dir), n_species=n_species, clip_seconds=clip_seconds, **settings)


def extract(
    audio_dir: str | Path, out_dir: str | Path, clip_seconds: float, threads: int, **settings
) -> None:
    """Log-mel features of every recording in ``audio_dir`` plus ``manifest.csv``."""
    import torch

    from sedcycle import audio

    torch.set_num_threads(threads)
    ids = list_recordings(audio_dir)
    paths = {p.stem: p for p in Path(audio_dir).iterdir() if p.stem in set(ids)}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = audio.extract_features(
        [paths[rec] for rec in ids], out_dir, clip_seconds=clip_seconds, **settings
    )
    bad = manifest[manifest["problem"] != ""]
    if len(bad):  # only then: a features folder from audio or npz otherwise looks the same
        print(
            f"skipped {len(bad)} bad audio file(s), listed in {out_dir / BAD_AUDIO}",
            file=sys.stderr,
        )
        write_csv(bad[["recording_id", "problem"]], out_dir / BAD_AUDIO, index=False)
    good = manifest[manifest["problem"] == ""].drop(columns="problem")
    if good.empty:
        raise ValueError(f"{audio_dir}: no readable audio file")
    write_csv(good, out_dir / MANIFEST, index=False)


def make_folds(
    tp_csv: str,
    fp_csv: str,
    features_dir: str,
    out_csv: str,
    n_species: int,
    clip_seconds: float,
    n_folds: int,
    seed: int,
) -> None:
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
    table = assign_folds(tp, fp, ids, n_folds=n_folds, seed=seed, n_species=n_species)
    write_csv(table, out_csv, index=False)


def train(
    features_dir: str,
    tp_csv: str,
    fp_csv: str,
    folds_csv: str,
    fold: int,
    out_path: str,
    settings: dict,
    clip_seconds: float,
    threads: int,
    pseudo: str | None = None,
    init_from: str | None = None,
    history_out: str | None = None,
    teacher: list[str] | None = None,
) -> None:
    """Train fold ``fold`` on every other fold's recordings (tp/fp labels, plus pseudo-labels).

    ``teacher``: the previous stage's fold model checkpoints, in fold order, whose mean clipwise
    probability on each crop is the soft target of its unknown pairs when
    ``settings["soft_weight"]`` > 0 (with ``soft_out_of_fold``: the probability of the one
    model that never trained on the crop's recording).

    ``history_out``: a csv of the per-epoch mean training loss and learning rate (the report's
    loss curves); the checkpoint holds the same history.
    """
    import torch

    from sedcycle.clips import ClipStore
    from sedcycle.train import Teacher, TrainSettings, labelled_events, resolve_device, train_fold

    torch.set_num_threads(threads)
    known = {f.name for f in fields(TrainSettings)}
    unknown = set(settings) - known
    if unknown:
        raise ValueError(f"unknown training setting(s) {sorted(unknown)}")
    settings = TrainSettings(**settings)
    table = pd.read_csv(folds_csv, dtype={"recording_id": str})
    train_ids = table.loc[table["fold"] != fold, "recording_id"].tolist()
    store = ClipStore(features_dir, train_ids)
    n_frames = store.n_frames(train_ids[0])
    tp = read_annotations(tp_csv, settings.n_species, clip_seconds)
    fp = read_annotations(fp_csv, settings.n_species, clip_seconds)
    labels = FrameLabels.from_annotations(tp, fp, settings.n_species, n_frames, clip_seconds)
    if pseudo:
        pseudo_rows = pd.read_parquet(pseudo)
        labels.add_pseudo(pseudo_rows[pseudo_rows["recording_id"].isin(set(train_ids))])
    events = labelled_events(tp, fp, n_frames, clip_seconds)
    teacher_models = None
    if teacher:
        fold_of = (
            dict(zip(table["recording_id"], table["fold"].astype(int), strict=True))
            if settings.soft_out_of_fold
            else None
        )
        teacher_models = Teacher.from_checkpoints(
            list(teacher), resolve_device(settings.device), fold_of
        )
    history = train_fold(
        settings,
        store,
        labels,
        events,
        train_ids,
        out_path,
        init_from=init_from,
        teacher=teacher_models,
    )
    if history_out:
        write_csv(pd.DataFrame(history, columns=["epoch", "loss", "lr"]), history_out, index=False)


def predict(
    model_path: str,
    features: dict[str, str],
    outputs: dict[str, str],
    window: int,
    covers: dict[str, int],
    batch_size: int,
    amp: str,
    device: str,
    threads: int,
) -> None:
    """Window scores of every recording of each features folder (split) by one fold model.

    features, outputs, covers: per split name (train uses the training windows, test its
    own overlap).
    """
    import torch

    from sedcycle.clips import ClipStore
    from sedcycle.model import load_model
    from sedcycle.predict import predict_windows
    from sedcycle.train import resolve_device
    from sedcycle.windows import window_positions

    torch.set_num_threads(threads)
    model = load_model(model_path, resolve_device(device))
    for split, features_dir in features.items():
        ids = feature_ids(features_dir)
        store = ClipStore(features_dir, ids)
        positions = window_positions(store.n_frames(ids[0]), window, covers[split])
        print(f"{split}: {len(ids)} recordings x {len(positions)} windows", file=sys.stderr)
        scores = predict_windows(model, store, ids, positions, batch_size, amp)
        write_parquet(scores, outputs[split])


def evaluate(truth: np.ndarray, scores: np.ndarray) -> dict:
    """LWLRAP, precision and recall at 0.5 of clip scores against clip truth."""
    kept = truth.any(axis=1)
    return {
        "lwlrap": metrics.lwlrap(truth[kept], scores[kept]),
        **metrics.precision_recall(truth, scores, threshold=0.5),
        "n_recordings": int(kept.sum()),
    }


def summarise_stage(
    train_predictions: list[str],
    test_predictions: list[str],
    folds_csv: str,
    tp_csv: str,
    n_species: int,
    clip_seconds: float,
    oof_out: str,
    test_out: str,
    scores_out: str,
    test_truth: str | None = None,
    train_truth: str | None = None,
) -> None:
    """Out-of-fold and fold-averaged test clip scores of one stage, and their scores.

    scores: ``oof_tp`` (OOF against the tp labels), and where the hidden truth exists ``oof``
    (OOF against train truth), ``test``, ``test_prior`` (after per-class prior scaling) and
    ``test_species_ap`` (AP per species; null for a species absent from the test truth).
    """
    table = pd.read_csv(folds_csv, dtype={"recording_id": str}).set_index("recording_id")
    per_fold = [clip_scores(pd.read_parquet(p)) for p in train_predictions]
    oof = pd.concat(
        [scores.loc[table.index[table["fold"] == fold]] for fold, scores in enumerate(per_fold)]
    ).loc[table.index]
    test = mean_scores([clip_scores(pd.read_parquet(p)) for p in test_predictions])
    write_parquet(oof.reset_index(), oof_out)
    write_parquet(test.reset_index(), test_out)
    tp = read_annotations(tp_csv, n_species, clip_seconds)
    labelled = [rec for rec in oof.index if rec in set(tp["recording_id"])]
    result = {
        "oof_tp": evaluate(presence_matrix(tp, labelled, n_species), oof.loc[labelled].to_numpy())
    }
    if train_truth:
        result["oof"] = score_against_truth(oof, train_truth, n_species)
    if test_truth:
        result["test"] = score_against_truth(test, test_truth, n_species)
        prior = evaluation.label_prior(tp, oof.index.tolist(), n_species)
        scaled = evaluation.prior_scale(test, prior)
        result["test_prior"] = score_against_truth(scaled, test_truth, n_species)
        truth = read_truth(test_truth, test.index.tolist(), n_species)
        ap = metrics.per_class_average_precision(truth, test.to_numpy())
        result["test_species_ap"] = [None if np.isnan(v) else float(v) for v in ap]
    write_json(result, scores_out)


def read_truth(truth_csv: str, recording_ids: list[str], n_species: int) -> np.ndarray:
    """Clip truth [n_recordings, n_species] from a truth csv (recording_id, species_id, ...).

    Raises ValueError naming the file when a column is missing or a species is out of range.
    """
    truth = pd.read_csv(truth_csv, dtype={"recording_id": str})
    check_columns(truth, truth_csv, ["recording_id", "species_id"])
    check_species(truth_csv, pd.to_numeric(truth["species_id"], errors="coerce"), n_species)
    truth["species_id"] = truth["species_id"].astype(int)
    return presence_matrix(truth, recording_ids, n_species)


def score_against_truth(scores: pd.DataFrame, truth_csv: str, n_species: int) -> dict:
    truth = read_truth(truth_csv, scores.index.tolist(), n_species)
    return evaluate(truth, scores.to_numpy())


def make_pseudo(
    train_predictions: list[str],
    out_path: str,
    window: int,
    threshold: float,
    min_votes: int,
    negative_threshold: float | None = None,
    out_of_fold: bool = False,
    folds_csv: str | None = None,
) -> None:
    """One round's pseudo-labels: positives, plus negatives when ``negative_threshold`` is set.

    train_predictions: fold k's model's window scores of every train recording, k = 0, 1, ...
    ``out_of_fold``: each recording is labelled by the one model that never trained on it
    (its fold in ``folds_csv``), so a model never votes for labels it learnt; ``min_votes``
    is then unused (one vote).
    """
    tables = [pd.read_parquet(p) for p in train_predictions]
    if out_of_fold:
        if folds_csv is None:
            raise ValueError("out-of-fold pseudo-labels need the folds table")
        folds = pd.read_csv(folds_csv, dtype={"recording_id": str})
        tables = [out_of_fold_scores(tables, folds.set_index("recording_id")["fold"])]
        min_votes = 1
    pseudo = pseudo_positives(tables, window, threshold, min_votes)
    print(f"{len(pseudo)} pseudo-positive windows from {len(tables)} models", file=sys.stderr)
    if negative_threshold is not None:
        if negative_threshold >= threshold:
            raise ValueError(
                f"relabel.pseudo_negative_threshold ({negative_threshold}) must be below "
                f"relabel.pseudo_threshold ({threshold})"
            )
        negatives = pseudo_negatives(tables, window, negative_threshold)
        print(
            f"{len(negatives)} pseudo-negative windows (all < {negative_threshold})",
            file=sys.stderr,
        )
        pseudo = pd.concat([pseudo, negatives], ignore_index=True)
    write_parquet(pseudo, out_path)


def skipped_recordings(features_dir: str | Path) -> list[str]:
    """Recordings whose audio the features step skipped as bad (data.on_bad_audio: skip)."""
    path = Path(features_dir) / BAD_AUDIO
    if not path.exists():
        return []
    return pd.read_csv(path, dtype={"recording_id": str})["recording_id"].tolist()


def ensemble(
    stage_tests: list[str],
    sample_submission: str,
    ensemble_out: str,
    submission_out: str,
    skipped_audio: list[str] = (),
    prior_scaling: bool = False,
    tp_csv: str | None = None,
    folds_csv: str | None = None,
    n_species: int | None = None,
    clip_seconds: float | None = None,
    species_csv: str | None = None,
) -> None:
    """Average the chosen stages' test scores and write the submission in sample order.

    With ``prior_scaling`` the submission's scores are scaled per class
    (:func:`sedcycle.evaluation.prior_scale`, prior from the tp rows of the recordings in
    ``folds_csv``); ``ensemble_out`` keeps the unscaled mean. Test recordings skipped as bad
    audio score 0 for every species (logged). With ``species_csv`` (species_id,name), the
    submission's columns are the species names.
    """
    tables = [pd.read_parquet(p).set_index("recording_id") for p in stage_tests]
    scores = mean_scores(tables)
    write_parquet(scores.reset_index(), ensemble_out)
    if prior_scaling:
        tp = read_annotations(tp_csv, n_species, clip_seconds)
        train_ids = pd.read_csv(folds_csv, dtype={"recording_id": str})["recording_id"].tolist()
        prior = evaluation.label_prior(tp, train_ids, n_species)
        print(f"per-class prior scaling, prior {np.round(prior, 3).tolist()}", file=sys.stderr)
        scores = evaluation.prior_scale(scores, prior)
    if skipped_audio:
        print(
            f"{len(skipped_audio)} skipped test recording(s) score 0: {skipped_audio[:10]}",
            file=sys.stderr,
        )
        zeros = pd.DataFrame(
            0.0, index=pd.Index(skipped_audio, name="recording_id"), columns=scores.columns
        )
        scores = pd.concat([scores, zeros])
    submission = make_submission(scores, sample_submission)
    write_csv(with_species_names(submission, species_csv), submission_out, index=False)


def with_species_names(table: pd.DataFrame, species_csv: str | None) -> pd.DataFrame:
    """``table`` with s0..s{n-1} renamed to the names of ``species_csv`` (unchanged if None)."""
    if not species_csv:
        return table
    try:
        return name_species(table, read_species(species_csv))
    except ValueError as error:
        raise ValueError(f"{species_csv}: {error}") from error


def cut_recordings(audio_dir: str, out_dir: str, clips_csv: str, clip_seconds: float, threads=1):
    """Recordings of any length cut into clips of ``clip_seconds`` (sedcycle.annotated)."""
    from sedcycle.annotated import cut_folder

    cut_folder(audio_dir, out_dir, clips_csv, clip_seconds, threads)


def prepare_annotated(
    recordings: str,
    annotations: str,
    test_recordings: str,
    out_dir: str,
    clip_seconds: float,
    species_column: str,
    threads: int = 1,
) -> None:
    """The RFCx layout in ``out_dir`` from annotated recordings (sedcycle.annotated.prepare)."""
    from sedcycle.annotated import prepare

    prepare(
        recordings, annotations, test_recordings, out_dir, clip_seconds, species_column, threads
    )


def scores_by_recording(clip_csv: str, clips_csv: str, out_csv: str) -> None:
    """Per-recording scores (max over its clips) of a per-clip table (submission.csv,
    predictions.csv); ``clips_csv`` maps each clip to its recording."""
    table = pd.read_csv(clip_csv, dtype={"recording_id": str})
    clips = pd.read_csv(clips_csv, dtype={"recording_id": str, "recording": str})
    scores = recording_scores(table, clips)
    print(f"{len(table)} clips -> {len(scores)} recordings", file=sys.stderr)
    write_csv(scores, out_csv, index=False)


def collect_scores(
    stage_scores: dict[str, str],
    out_path: str,
    n_species: int,
    ensemble_test: str | None = None,
    test_truth: str | None = None,
    csv_out: str | None = None,
    pseudo: dict[str, str] | None = None,
    pseudo_windows: dict[str, str] | None = None,
    tp_csv: str | None = None,
    train_truth: str | None = None,
    features_dir: str | None = None,
    window: int = 512,
    clip_seconds: float = 60.0,
) -> None:
    """scores.json (and scores.csv, one row per stage): every stage's scores, the ensemble's
    test score when truth exists, and each round's pseudo-label quality.

    pseudo / pseudo_windows: per round stage name, its pseudo/round{r}.parquet and one of the
    previous stage's train prediction tables (the windows the pseudo-labels were chosen from).
    """
    result = {stage: json.loads(Path(path).read_text()) for stage, path in stage_scores.items()}
    if ensemble_test and test_truth:
        scores = pd.read_parquet(ensemble_test).set_index("recording_id")
        result["ensemble"] = {"test": score_against_truth(scores, test_truth, n_species)}
    if pseudo:
        tp = read_annotations(tp_csv, n_species, clip_seconds)
        truth = pd.read_csv(train_truth, dtype={"recording_id": str}) if train_truth else None
        n_frames = int(pd.read_csv(Path(features_dir) / MANIFEST)["n_frames"].iloc[0])
        for stage, path in pseudo.items():
            windows = pd.read_parquet(pseudo_windows[stage], columns=["recording_id", "start"])
            quality = evaluation.pseudo_quality(
                pd.read_parquet(path), windows, tp, window, n_frames, clip_seconds, truth
            )
            result[stage]["pseudo"] = {k: None if v != v else v for k, v in quality.items()}
    write_json(result, out_path)
    if csv_out:
        write_csv(evaluation.score_table(result), csv_out, index=False, float_format="%.6g")


def import_npz_features(
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


def export_npz_features(features_dir: str | Path, out_dir: str | Path, key: str) -> None:
    """One ``{id}.npz`` per recording of a features folder, the log-mel under ``key``."""
    from sedcycle import npz

    ids = npz.export_npz(features_dir, out_dir, key)
    print(f"{len(ids)} recordings exported to {out_dir}", file=sys.stderr)


def predict_only(
    model_paths: list[str],
    features_dir: str,
    clips_out: str,
    windows_out: str,
    window: int,
    cover: int,
    batch_size: int,
    amp: str,
    device: str,
    threads: int,
    species_csv: str | None = None,
) -> None:
    """Scores of new recordings by every fold model of a trained stage, averaged over models.

    ``windows_out``: the mean window scores (recording_id, window, start, s0..); ``clips_out``
    (csv, sorted by recording_id): the mean over models of each model's max over windows,
    as the stage's ``test.parquet`` and the submission compute it; its columns are the
    species names of ``species_csv`` when given, else s0..s{n-1}.
    """
    import torch

    from sedcycle.clips import ClipStore
    from sedcycle.model import load_model
    from sedcycle.predict import predict_windows
    from sedcycle.train import resolve_device
    from sedcycle.windows import window_positions

    torch.set_num_threads(threads)
    if not model_paths:
        raise ValueError("no fold*.pt checkpoint to predict with")
    models = {path: load_model(path, resolve_device(device)) for path in model_paths}
    species = {str(path): model.n_species for path, model in models.items()}
    if len(set(species.values())) > 1:
        raise ValueError(f"the fold checkpoints disagree on n_species: {species}")
    ids = sorted(feature_ids(features_dir))
    store = ClipStore(features_dir, ids)
    positions = window_positions(store.n_frames(ids[0]), window, cover)
    print(
        f"{len(ids)} recordings x {len(positions)} windows, {len(models)} fold models",
        file=sys.stderr,
    )
    tables = []
    for path, model in models.items():
        print(f"predicting with {path}", file=sys.stderr)
        tables.append(predict_windows(model, store, ids, positions, batch_size, amp))
    columns = score_columns(tables[0])
    windows = tables[0].copy()
    windows[columns] = sum(t[columns].to_numpy() for t in tables) / len(tables)
    clips = mean_scores([clip_scores(t) for t in tables]).sort_index()
    write_parquet(windows, windows_out)
    clips = with_species_names(clips.reset_index(names="recording_id"), species_csv)
    write_csv(clips, clips_out, index=False)


def report_figures(
    scores_json: str,
    scores_csv: str,
    histories: dict[str, list[str]],
    outputs: dict[str, str],
) -> None:
    """The report's table figures: LWLRAP per stage, per-species AP heatmap, pseudo-label
    quality per round, training loss curves (outputs: lwlrap, species_ap, pseudo, losses)."""
    from sedcycle import plots

    scores = json.loads(Path(scores_json).read_text())
    table = pd.read_csv(scores_csv)
    stages = [s for s in table["stage"] if s != "ensemble"]
    plots.lwlrap_per_stage(table, outputs["lwlrap"])
    plots.species_ap_heatmap(scores, stages, outputs["species_ap"])
    plots.pseudo_quality(table, outputs["pseudo"])
    plots.loss_curves(histories, outputs["losses"])


def framewise_clip(models: list, store, recording_id: str, window: int, cover: int) -> np.ndarray:
    """Framewise scores [n_species, n_frames] of one clip: each model's sigmoid(framewise) over
    overlapping windows (max where windows overlap), averaged over the models."""
    import torch

    from sedcycle.windows import window_positions

    n_frames = store.n_frames(recording_id)
    positions = window_positions(n_frames, window, cover)
    x = torch.from_numpy(np.stack([store.window(recording_id, s, window) for s, _ in positions]))
    total = np.zeros((models[0].n_species, n_frames), dtype=np.float32)
    for model in models:
        device = next(model.parameters()).device
        with torch.inference_mode():
            probs = torch.sigmoid(model(x.to(device))["framewise"]).float().cpu().numpy()
        clip = np.zeros_like(total)
        for (start, _), window_probs in zip(positions, probs, strict=True):
            stop = min(start + window, n_frames)
            span = clip[:, start:stop]
            np.maximum(span, window_probs[:, : stop - start], out=span)
        total += clip
    return total / len(models)


def clip_figure(
    model_paths: list[str],
    features_dir: str,
    out_path: str,
    window: int,
    cover: int,
    clip_seconds: float,
    threads: int,
    test_truth: str | None = None,
) -> None:
    """Spectrogram of one test clip under its framewise scores by the given fold models.

    The clip: the test recording with the most species in the truth (first by id on ties), or
    the first test recording by id without truth.
    """
    import torch

    from sedcycle import plots
    from sedcycle.clips import ClipStore
    from sedcycle.labels import time_to_frame
    from sedcycle.model import load_model

    torch.set_num_threads(threads)
    ids = sorted(feature_ids(features_dir))
    truth = None
    recording_id = ids[0]
    if test_truth:
        truth = pd.read_csv(test_truth, dtype={"recording_id": str})
        truth = truth[truth["recording_id"].isin(set(ids))]
        if len(truth):
            counts = truth.groupby("recording_id")["species_id"].nunique()
            recording_id = sorted(counts.index[counts == counts.max()])[0]
    store = ClipStore(features_dir, [recording_id])
    models = [load_model(path, "cpu") for path in model_paths]
    framewise = framewise_clip(models, store, recording_id, window, cover)
    n_frames = framewise.shape[1]
    calls = None
    if truth is not None:
        calls = truth[truth["recording_id"] == recording_id].copy()
        calls["first"] = time_to_frame(calls["t_min"].to_numpy(), n_frames, clip_seconds)
        calls["last"] = time_to_frame(calls["t_max"].to_numpy(), n_frames, clip_seconds)
    logmel = np.asarray(store.clip(recording_id), dtype=np.float32)
    title = f"test clip {recording_id}: mean of {len(models)} fold model(s)"
    plots.clip_scores_figure(logmel, framewise, out_path, title, calls)
