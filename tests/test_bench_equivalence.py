"""sedcycle's fast paths give the numbers of the benchmarks' baselines (bench/baselines.py).

Tiny sizes, fp32: batched channels_last predict_windows equals one NCHW forward per window,
and train_fold's per-step losses equal the source's plain loop on the same batches.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

import sedcycle.train
from sedcycle.clips import ClipStore
from sedcycle.labels import FrameLabels
from sedcycle.model import SEDModel
from sedcycle.predict import predict_windows
from sedcycle.tables import species_columns
from sedcycle.train import TrainSettings, labelled_events, train_fold
from sedcycle.windows import window_positions

from .conftest import CLIP_SECONDS, N_FRAMES, N_SPECIES

# bench/ is no package: its scripts run from their folder, so it goes on sys.path here.
# A plain import, so that a broken bench/baselines.py fails this test instead of skipping it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import baselines  # noqa: E402

IDS = [f"rec{i}" for i in range(6)]


def test_batched_predict_windows_equals_a_per_window_loop(feature_dir):
    torch.manual_seed(0)
    fast = SEDModel("resnet18", N_SPECIES, channels_last=True).eval()
    plain = SEDModel("resnet18", N_SPECIES, channels_last=False).eval()
    plain.load_state_dict(fast.state_dict())
    positions = window_positions(N_FRAMES, 128, 16)  # the last window runs past the end
    table = predict_windows(
        fast, ClipStore(feature_dir, IDS), IDS, positions, batch_size=5, progress=False
    )
    reference = baselines.source_predict(plain, feature_dir, IDS, positions)
    assert reference.shape == (len(IDS) * len(positions), N_SPECIES)
    np.testing.assert_allclose(
        table[species_columns(N_SPECIES)].to_numpy(), reference, rtol=0, atol=1e-5
    )


def test_train_fold_losses_equal_the_plain_loop(tmp_path, feature_dir, annotations, monkeypatch):
    tp, fp = annotations
    labels = FrameLabels.from_annotations(tp, fp, N_SPECIES, N_FRAMES, CLIP_SECONDS)
    events = labelled_events(tp, fp, N_FRAMES, CLIP_SECONDS)
    settings = TrainSettings(
        backbone="resnet18", pretrained=False, pretrained_path=None, amp="none",
        channels_last=True, device="cpu", n_species=N_SPECIES, window=128, loss="clipwise",
        epochs=2, batch_size=4, samples_per_epoch=8, lr=1e-3, fp_fraction=0.5, seed=1,
        resume=False,
    )  # fmt: skip
    losses = []
    original = sedcycle.train.clipwise_bce

    def recording(logits, targets):
        loss = original(logits, targets)
        losses.append(loss.item())
        return loss

    monkeypatch.setattr(sedcycle.train, "clipwise_bce", recording)
    store = ClipStore(feature_dir, IDS)
    train_fold(settings, store, labels, events, IDS, tmp_path / "fast.pt", progress=False)
    monkeypatch.undo()
    reference = baselines.source_train(settings, feature_dir, labels, events, IDS)
    assert len(losses) == len(reference) == 4
    np.testing.assert_allclose(losses, reference, rtol=1e-4, atol=1e-6)
