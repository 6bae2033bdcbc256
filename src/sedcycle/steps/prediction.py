"""Steps of prediction: window scores of the train and test splits by each fold model, the
ensemble and submission, predict-only scores of new recordings, and per-recording scores of
clips cut from longer recordings.

Both predicting steps go through :func:`sedcycle.predict.load_models` and
:func:`sedcycle.predict.predict_folder`.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from sedcycle import evaluation
from sedcycle.annotated import read_species
from sedcycle.files import write_csv, write_parquet
from sedcycle.labels import read_annotations
from sedcycle.steps.data import feature_ids
from sedcycle.submission import make_submission, mean_scores, name_species, recording_scores
from sedcycle.tables import clip_scores, score_columns


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

    from sedcycle.predict import load_models, predict_folder

    torch.set_num_threads(threads)
    models = load_models([model_path], device)
    for split, features_dir in features.items():
        ids = feature_ids(features_dir)
        (scores,) = predict_folder(
            models, features_dir, ids, window, covers[split], batch_size, amp
        )
        write_parquet(scores, outputs[split])


def predict_shard(model_path: str, features: dict[str, str], outputs: dict[str, str], **settings):
    """:func:`predict` of one shard's features (execution.shards), for
    :func:`gather_predictions`; a split whose shard holds no recording gets a table without
    rows."""
    predict(model_path, features, outputs, **settings)


def gather_predictions(shards: dict[str, list[str]], outputs: dict[str, str]) -> None:
    """One fold model's window scores of each split from its shards' tables
    (:func:`predict_shard`), in recording order: the bytes :func:`predict` writes in one job."""
    from sedcycle.shards import in_recording_order

    for split, paths in shards.items():
        table = in_recording_order([pd.read_parquet(p) for p in paths], f"{split} predictions")
        print(f"{split}: {len(table)} windows from {len(paths)} shards", file=sys.stderr)
        write_parquet(table, outputs[split])


def predict_only(
    model_paths: list[str],
    features_dir: str,
    clips_out: str,
    windows_out: str,
    species_csv: str | None = None,
    **settings,
) -> None:
    """Scores of new recordings by every fold model of a trained stage, averaged over models.

    ``windows_out``: the mean window scores (recording_id, window, start, s0..); ``clips_out``
    (csv, sorted by recording_id): the mean over models of each model's max over windows,
    as the stage's ``test.parquet`` and the submission compute it; its columns are the
    species names of ``species_csv`` when given, else s0..s{n-1}. ``settings``: window,
    cover, batch_size, amp, device, threads (:func:`predict_only_tables`).
    """
    windows, clips = predict_only_tables(model_paths, features_dir, **settings)
    write_parquet(windows, windows_out)
    write_csv(with_species_names(clips, species_csv), clips_out, index=False)


def predict_only_tables(
    model_paths: list[str],
    features_dir: str,
    window: int,
    cover: int,
    batch_size: int,
    amp: str,
    device: str,
    threads: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """predict-only's mean window scores and clip scores (recording_id, s0..; sorted by
    recording_id) of a features folder's recordings."""
    import torch

    from sedcycle.predict import load_models, predict_folder

    torch.set_num_threads(threads)
    models = load_models(model_paths, device)
    ids = sorted(feature_ids(features_dir))
    tables = predict_folder(models, features_dir, ids, window, cover, batch_size, amp)
    columns = score_columns(tables[0])
    windows = tables[0].copy()
    windows[columns] = sum(t[columns].to_numpy() for t in tables) / len(tables)
    clips = mean_scores([clip_scores(t) for t in tables]).sort_index()
    return windows, clips.reset_index(names="recording_id")


def predict_only_shard(
    model_paths: list[str], features_dir: str, clips_out: str, windows_out: str, **settings
) -> None:
    """:func:`predict_only_tables` of one shard's features, both as parquet, for
    :func:`gather_predict_only` (tables without rows when the shard holds no recording)."""
    windows, clips = predict_only_tables(model_paths, features_dir, **settings)
    write_parquet(windows, windows_out)
    write_parquet(clips, clips_out)


def gather_predict_only(
    clip_shards: list[str],
    window_shards: list[str],
    clips_out: str,
    windows_out: str,
    species_csv: str | None = None,
) -> None:
    """predictions.csv and the window scores from the shards' (:func:`predict_only_shard`),
    in recording order: the bytes :func:`predict_only` writes in one job."""
    from sedcycle.shards import in_recording_order

    windows = in_recording_order([pd.read_parquet(p) for p in window_shards], "predict windows")
    clips = in_recording_order([pd.read_parquet(p) for p in clip_shards], "predict clips")
    print(f"{len(clips)} recordings from {len(clip_shards)} shards", file=sys.stderr)
    write_parquet(windows, windows_out)
    write_csv(with_species_names(clips, species_csv), clips_out, index=False)


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


def scores_by_recording(clip_csv: str, clips_csv: str, out_csv: str) -> None:
    """Per-recording scores (max over its clips) of a per-clip table (submission.csv,
    predictions.csv); ``clips_csv`` maps each clip to its recording."""
    table = pd.read_csv(clip_csv, dtype={"recording_id": str})
    clips = pd.read_csv(clips_csv, dtype={"recording_id": str, "recording": str})
    scores = recording_scores(table, clips)
    print(f"{len(table)} clips -> {len(scores)} recordings", file=sys.stderr)
    write_csv(scores, out_csv, index=False)
