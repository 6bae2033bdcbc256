"""Inference: sedcycle.predict.predict_windows against the source's per-window loop, resnet18.

sedcycle: windows of several clips in one batch (16 = 2 clips; ``--batch-size``; the config's
predict.batch_size), channels_last, inference_mode, windows read through ClipStore's memory
maps; bf16 autocast measured as well (``amp="bf16"``). 1x is one full batch, so per-clip time
compares like with like across scales (batches of 64 measured ~7% slower per window here).
Baseline: one forward call per window per clip, fp32, NCHW, each clip np.load-ed whole.
Both score 60 s clips (128 x 3751 frames, 8 windows of 512). Target: >= 2x windows/s on CPU
with equal scores in fp32 (max |difference| printed). Also: the same pair on one torch thread,
the peak RSS of each (a fresh process per variant), and per-clip time at 1x, 4x, 16x the base
number of clips (must not grow: linear time).

    .venv/bin/python bench/inference.py [--quick] [--repeats N]
"""

from __future__ import annotations

import sys
from pathlib import Path

import baselines
import benchlib
import numpy as np
import torch

from sedcycle.clips import ClipStore
from sedcycle.model import SEDModel
from sedcycle.predict import predict_windows
from sedcycle.tables import species_columns
from sedcycle.windows import window_positions

N_SPECIES = 24
VARIANTS = ["sedcycle", "bf16", "baseline"]


class Setup:
    """Clips on disk, the two copies of one resnet18 (channels_last and NCHW), the windows."""

    def __init__(self, folder: Path, quick: bool, n_clips: int, batch_size: int) -> None:
        n_mels, n_frames, window, cover = (64, 300, 128, 16) if quick else (128, 3751, 512, 49)
        self.folder, self.shape, self.batch_size = folder, (n_mels, n_frames), batch_size
        self.ids = benchlib.random_clips(folder, n_clips, n_mels, n_frames)
        torch.manual_seed(0)
        self.fast = SEDModel("resnet18", N_SPECIES, channels_last=True).eval()
        self.plain = SEDModel("resnet18", N_SPECIES, channels_last=False).eval()
        self.plain.load_state_dict(self.fast.state_dict())
        self.positions = window_positions(n_frames, window, cover)

    def run(self, variant: str, ids: list[str]) -> np.ndarray:
        """Scores [len(ids) * n_windows, n_species] of one variant."""
        if variant == "baseline":
            return baselines.source_predict(self.plain, self.folder, ids, self.positions)
        amp = "bf16" if variant == "bf16" else "none"
        store = ClipStore(self.folder, ids)
        table = predict_windows(
            self.fast, store, ids, self.positions, self.batch_size, amp, progress=False
        )
        return table[species_columns(N_SPECIES)].to_numpy()


def main() -> None:
    parser = benchlib.arguments(__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16, help="predict_windows batch")
    parser.add_argument("--peak-rss", choices=VARIANTS, help=benchlib.PEAK_RSS_HELP)
    args = parser.parse_args()
    quick = args.quick
    if quick:
        torch.set_num_threads(1)  # a smoke test: spare the busy machine's barriers
    base, scales = (1, [1, 4]) if quick else (2, [1, 4, 16])
    baseline_scales = scales[:2]  # the per-window loop is slow: 1x and 4x only
    at = baseline_scales[-1]  # where ratios, equality and peak memory are taken
    repeats = args.repeats or (1 if quick else 3)
    if args.peak_rss:
        with benchlib.scratch("inference") as tmp:
            setup = Setup(tmp, quick, base * at, args.batch_size)
            setup.run(args.peak_rss, setup.ids)
        benchlib.report_peak_rss()
        return

    benchlib.header("inference: predict_windows vs one forward per window (resnet18)")
    with benchlib.scratch("inference") as tmp:
        setup = Setup(tmp, quick, base * scales[-1], args.batch_size)
        n_windows = len(setup.positions)
        n_mels, n_frames = setup.shape
        print(f"torch threads {torch.get_num_threads()}; clips {n_mels} x {n_frames}, {n_windows} "
              f"windows of {setup.positions[0, 1]} per clip; batch {args.batch_size}; {repeats} "
              "repeats, all variants and scales interleaved")  # fmt: skip
        variants = {
            (name, scale): (lambda name=name, ids=setup.ids[: base * scale]: setup.run(name, ids))
            for scale in scales
            for name in VARIANTS
            if name != "baseline" or scale in baseline_scales
        }
        # One torch thread: what is left when no core idles (the OpenMP barriers of many
        # small per-window calls suffer most on a busy machine).
        one_thread = torch.get_num_threads() == 1
        for name in ("sedcycle", "baseline"):
            if not one_thread:
                variants[f"{name} 1 thread", at] = lambda name=name: benchlib.on_one_thread(
                    lambda: setup.run(name, setup.ids[: base * at])
                )
        if not quick:
            for name in VARIANTS:  # warm up oneDNN's kernels
                setup.run(name, setup.ids[:base])
        times = benchlib.interleaved(variants, repeats, warmup=False)
        if one_thread:  # already on one thread: the same runs
            for name in ("sedcycle", "baseline"):
                times[f"{name} 1 thread", at] = times[name, at]
        outputs = {name: setup.run(name, setup.ids[: base * at]) for name in VARIANTS}
    diff = float(np.abs(outputs["sedcycle"] - outputs["baseline"]).max())
    bf16_diff = float(np.abs(outputs["bf16"] - outputs["baseline"]).max())

    per_clip: dict[str, dict[int, float]] = {}
    for (name, scale), t in times.items():
        per_clip.setdefault(name, {})[scale] = benchlib.median(t) / (base * scale)
    print("windows/s:")
    for scale in scales:
        rate = {name: n_windows / c[scale] for name, c in per_clip.items() if scale in c}
        cells = ", ".join(f"{name} {r:.1f}" for name, r in rate.items())
        n = base * scale
        print(f"  {scale:2d}x ({n:3d} clips, {n * n_windows:4d} windows): {cells}")

    def ratio(fast: str, slow: str = "baseline") -> float:
        return benchlib.paired_ratio(times[slow, at], times[fast, at])

    ratios = {
        "fp32": ratio("sedcycle"),
        "bf16": ratio("bf16"),
        "1 thread": ratio("sedcycle 1 thread", "baseline 1 thread"),
    }
    print(f"ratios at {at}x (baseline time / sedcycle time, median of paired repeats): "
          + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))  # fmt: skip
    print("per-clip seconds by scale (linear time keeps them from growing):")
    for name, by_scale in per_clip.items():
        if len(by_scale) > 1:
            top = max(by_scale)
            cells = ", ".join(f"{s}x {t:.3f}" for s, t in by_scale.items())
            print(f"  {name:9s} {cells}; per-clip {top}x/1x = {by_scale[top] / by_scale[1]:.2f}")
    # --quick only checks that the measurement runs, on one variant
    measured = VARIANTS[:1] if quick else VARIANTS
    extra = ["--batch-size", str(args.batch_size)] + (["--quick"] if quick else [])
    peaks = benchlib.peak_rss_of(Path(__file__), measured, extra)
    peaks = {name: peaks.get(name, float("nan")) for name in VARIANTS}
    print(f"peak RSS, a fresh process scoring {base * at} clips: "
          + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in peaks.items()))  # fmt: skip
    print(f"max |score difference| fp32 sedcycle vs baseline: {diff:.2e}")
    print(f"max |score difference| bf16 sedcycle vs fp32 baseline: {bf16_diff:.2e}")
    growth = per_clip["sedcycle"][scales[-1]] / per_clip["sedcycle"][1]
    benchlib.result(
        "inference",
        f"{n_windows / per_clip['sedcycle'][at]:.1f} vs {n_windows / per_clip['baseline'][at]:.1f} "
        f"windows/s, ratio {ratios['fp32']:.2f}x (bf16 {ratios['bf16']:.2f}x, one thread "
        f"{ratios['1 thread']:.2f}x); max score diff {diff:.1e}; per-clip {scales[-1]}x/1x "
        f"{growth:.2f}; peak RSS {peaks['sedcycle']:.0f} MiB (baseline {peaks['baseline']:.0f})",
        f"{benchlib.verdict(ratios['fp32'], 2)} (bf16: {benchlib.verdict(ratios['bf16'], 2)}); "
        f"equal scores {'met' if diff < 1e-4 else 'MISSED'}; {benchlib.linear(growth, scales[-1])}",
    )


if __name__ == "__main__":
    sys.exit(main())
