"""Shared fixtures: small feature folders and annotations written on the fly."""

import numpy as np
import pandas as pd
import pytest

from sedcycle.labels import ANNOTATION_COLUMNS
from sedcycle.settings import TrainSettings

from .workflow_runs import micro_rfcx_run

N_SPECIES = 3
N_FRAMES = 300
CLIP_SECONDS = 4.8  # 300 frames at hop 512 / 32 kHz is about 4.8 s


@pytest.fixture
def feature_dir(tmp_path):
    """Six random log-mel clips [32 mels, 300 frames] with a loud band where species 0 calls."""
    rng = np.random.default_rng(0)
    out = tmp_path / "features"
    out.mkdir()
    ids = [f"rec{i}" for i in range(6)]
    for i, rec in enumerate(ids):
        clip = rng.normal(-60, 5, size=(32, N_FRAMES)).astype(np.float16)
        if i % 2 == 0:
            clip[20:24, 100:140] = -10
        np.save(out / f"{rec}.npy", clip)
    pd.DataFrame({"recording_id": ids, "n_mels": 32, "n_frames": N_FRAMES}).to_csv(
        out / "manifest.csv", index=False
    )
    return out


@pytest.fixture
def annotations():
    """tp rows for species 0 where its band is loud; fp rows for species 1."""
    t_min, t_max = 100 * CLIP_SECONDS / N_FRAMES, 140 * CLIP_SECONDS / N_FRAMES
    tp = pd.DataFrame(
        [(f"rec{i}", 0, 1, t_min, 500.0, t_max, 900.0) for i in (0, 2, 4)],
        columns=ANNOTATION_COLUMNS,
    )
    fp = pd.DataFrame(
        [(f"rec{i}", 1, 1, 0.5, 500.0, 1.0, 900.0) for i in (1, 3)], columns=ANNOTATION_COLUMNS
    )
    return tp, fp


@pytest.fixture(scope="session")
def rfcx(tmp_path_factory):
    """The micro DAG on an RFCx folder (generator off), run once for the session: the tests of
    tests/test_own_data.py read it (its kill/resume test copies it)."""
    return micro_rfcx_run(tmp_path_factory.mktemp("own"))


def train_settings(**overrides):
    """A fold's TrainSettings for the training tests: a tiny model on the small store's
    species, ``overrides`` on top."""
    base = dict(
        backbone="mobilenetv3_small_050",
        pretrained=False,
        pretrained_path=None,
        amp="none",
        channels_last=True,
        device="auto",
        n_species=N_SPECIES,
        window=128,
        epochs=2,
        batch_size=4,
        lr=1e-3,
        fp_fraction=0.5,
        seed=3,
        loss="masked",
        labelled_crop_prob=1.0,
    )
    return TrainSettings(**{**base, **overrides})
