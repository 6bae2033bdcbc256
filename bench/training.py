"""Training: sedcycle.train.train_fold against the source's plain loop, resnet18, stage 1.

sedcycle: train_fold as the workflow runs it (channels_last, windows through ClipStore's
memory maps), in fp32 and with bf16 autocast. Baseline: fp32, NCHW, each window from an
np.load of its whole clip (bench/baselines.py). Same seed, crops, Adam and cosine schedule on
both sides, so the per-step losses must match in fp32. Target: >= 1.5x windows/s, loss curves
matching. Also: peak RSS of each.

    .venv/bin/python bench/training.py [--quick] [--repeats N]
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import replace
from pathlib import Path

import baselines
import benchlib
import numpy as np
import pandas as pd
import torch

import sedcycle.train
from sedcycle.clips import ClipStore
from sedcycle.labels import ANNOTATION_COLUMNS, FrameLabels
from sedcycle.train import TrainSettings, labelled_events, train_fold

N_SPECIES = 24


def annotations(ids: list[str], clip_seconds: float, seed: int = 0) -> tuple[pd.DataFrame, ...]:
    """Two tp and one fp call per clip, of random species and times."""
    rng = np.random.default_rng(seed)
    rows = {"tp": [], "fp": []}
    for rec in ids:
        for kind in ("tp", "tp", "fp"):
            t_min = rng.uniform(0, clip_seconds - 3)
            species = int(rng.integers(0, N_SPECIES))
            rows[kind].append((rec, species, 1, t_min, 1000.0, t_min + 2.0, 4000.0))
    return tuple(pd.DataFrame(rows[k], columns=ANNOTATION_COLUMNS) for k in ("tp", "fp"))


@contextlib.contextmanager
def recorded_losses(into: list[float]):
    """Record each step's loss of train_fold (stage 1's clipwise BCE)."""
    original = sedcycle.train.clipwise_bce

    def recording(logits, targets):
        loss = original(logits, targets)
        into.append(loss.item())
        return loss

    sedcycle.train.clipwise_bce = recording
    try:
        yield into
    finally:
        sedcycle.train.clipwise_bce = original


VARIANTS = {"sedcycle fp32": "none", "sedcycle bf16": "bf16", "baseline": None}


class Setup:
    """Clips and labels on disk and in memory, and the run settings."""

    def __init__(self, folder: Path, quick: bool) -> None:
        n_mels, n_frames, clip_seconds = (64, 300, 4.8) if quick else (128, 3751, 60.0)
        self.folder, self.n_mels = folder, n_mels
        self.settings = TrainSettings(
            backbone="resnet18",
            pretrained=False,
            pretrained_path=None,
            amp="none",  # each variant sets its own
            channels_last=True,
            n_species=N_SPECIES,
            window=128 if quick else 512,
            loss="clipwise",
            epochs=2,
            batch_size=4 if quick else 16,
            samples_per_epoch=4 if quick else 32,
            lr=1e-3,
            fp_fraction=0.5,
            seed=0,
            device="cpu",
            resume=False,
        )
        self.ids = benchlib.random_clips(folder, 4 if quick else 8, n_mels, n_frames)
        tp, fp = annotations(self.ids, clip_seconds)
        self.labels = FrameLabels.from_annotations(tp, fp, N_SPECIES, n_frames, clip_seconds)
        self.events = labelled_events(tp, fp, n_frames, clip_seconds)

    def run(self, variant: str, settings: TrainSettings | None = None) -> list[float]:
        """Train once; returns the per-step losses."""
        settings = settings or self.settings
        if VARIANTS[variant] is None:
            return baselines.source_train(
                settings, self.folder, self.labels, self.events, self.ids, self.folder / "b.pt"
            )
        steps: list[float] = []
        with recorded_losses(steps), contextlib.redirect_stderr(io.StringIO()):
            train_fold(
                replace(settings, amp=VARIANTS[variant]),
                ClipStore(self.folder, self.ids),
                self.labels,
                self.events,
                self.ids,
                self.folder / "fast.pt",
                progress=False,
            )
        return steps


def main() -> None:
    parser = benchlib.arguments(__doc__.splitlines()[0])
    parser.add_argument("--peak-rss", choices=list(VARIANTS), help=benchlib.PEAK_RSS_HELP)
    args = parser.parse_args()
    quick = args.quick
    repeats = args.repeats or (1 if quick else 3)
    if quick:
        torch.set_num_threads(1)  # a smoke test: spare the busy machine's barriers
    if args.peak_rss:
        with benchlib.scratch("training") as tmp:
            Setup(tmp, quick).run(args.peak_rss)
        benchlib.report_peak_rss()
        return

    benchlib.header("training: train_fold vs the source's fp32 NCHW loop (resnet18)")
    with benchlib.scratch("training") as tmp:
        setup = Setup(tmp, quick)
        settings = setup.settings
        n_windows = settings.epochs * settings.samples_per_epoch
        s = settings
        print(f"torch threads {torch.get_num_threads()}; windows {setup.n_mels} x {s.window}, "
              f"batch {s.batch_size}, {s.epochs} epochs x {s.samples_per_epoch} = {n_windows} "
              f"windows per run; {repeats} interleaved repeats")  # fmt: skip
        if not quick:
            warm = replace(settings, epochs=1, samples_per_epoch=settings.batch_size)
            for variant in VARIANTS:
                setup.run(variant, warm)
        losses: dict[str, list[float]] = {}

        def timed(variant: str) -> None:
            losses[variant] = setup.run(variant)

        variants = {name: (lambda name=name: timed(name)) for name in VARIANTS}
        # One torch thread: what is left when no core idles; the same losses, not recorded.
        one_thread = torch.get_num_threads() == 1
        for name in VARIANTS:
            if not one_thread:
                variants[f"{name} 1 thread"] = lambda name=name: benchlib.on_one_thread(
                    lambda: setup.run(name)
                )
        times = benchlib.interleaved(variants, repeats, warmup=False)
        if one_thread:  # already on one thread: the same runs
            for name in VARIANTS:
                times[f"{name} 1 thread"] = times[name]

    rate = {name: n_windows / benchlib.median(t) for name, t in times.items()}
    ratio = benchlib.paired_ratio(times["baseline"], times["sedcycle fp32"])
    bf16_ratio = benchlib.paired_ratio(times["baseline"], times["sedcycle bf16"])
    one = {
        amp: benchlib.paired_ratio(times["baseline 1 thread"], times[f"sedcycle {amp} 1 thread"])
        for amp in ("fp32", "bf16")
    }
    for name, r in rate.items():
        print(f"  {name:23s} {r:6.2f} windows/s  per run {benchlib.spread(times[name])}")
    print(f"ratios on one torch thread: fp32 {one['fp32']:.2f}x, bf16 {one['bf16']:.2f}x")
    print("per-step loss:")
    for name in ("baseline", "sedcycle fp32", "sedcycle bf16"):
        print(f"  {name:14s} " + " ".join(f"{x:.5f}" for x in losses[name]))
    reference = np.array(losses["baseline"])
    diff = float(np.abs(np.array(losses["sedcycle fp32"]) - reference).max())
    bf16_diff = float(np.abs(np.array(losses["sedcycle bf16"]) - reference).max())
    print(f"max |loss difference| fp32 vs baseline: {diff:.2e}; bf16 vs baseline: {bf16_diff:.2e}")
    # --quick only checks that the measurement runs, on one variant
    measured = list(VARIANTS)[:1] if quick else list(VARIANTS)
    peaks = benchlib.peak_rss_of(Path(__file__), measured, ["--quick"] if quick else [])
    peaks = {name: peaks.get(name, float("nan")) for name in VARIANTS}
    print(f"peak RSS, a fresh process training {n_windows} windows: "
          + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in peaks.items()))  # fmt: skip
    print(f"ratio (windows/s sedcycle fp32 / baseline): {ratio:.2f}x; bf16 {bf16_ratio:.2f}x")
    match = diff <= 1e-3 * float(np.abs(reference).max())
    benchlib.result(
        "training",
        f"{rate['sedcycle fp32']:.1f} (bf16 {rate['sedcycle bf16']:.1f}) vs "
        f"{rate['baseline']:.1f} windows/s, ratio {ratio:.2f}x (bf16 {bf16_ratio:.2f}x; one "
        f"thread {one['fp32']:.2f}x, bf16 {one['bf16']:.2f}x); "
        f"max loss diff fp32 {diff:.1e}, bf16 {bf16_diff:.1e}; "
        f"peak RSS {peaks['sedcycle fp32']:.0f} MiB (baseline {peaks['baseline']:.0f})",
        f"{benchlib.verdict(ratio, 1.5)} (bf16: {benchlib.verdict(bf16_ratio, 1.5)}); "
        f"losses match {'met' if match else 'MISSED'}",
    )


if __name__ == "__main__":
    main()
