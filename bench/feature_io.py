"""Feature I/O: a training window from float16 .npy through a memory map (ClipStore.window)
against np.load of a savez_compressed float32 clip (the source's npz data set), then a crop.

Both return the same window scaled to 0..1 by the clip's min and max; a fresh ClipStore per
repeat, so sedcycle pays its first look at each clip (the min/max pass) every time. Files sit
in the page cache on both sides: this measures decoding and copying, not the disk.
Target: >= 10x windows/s.

    .venv/bin/python bench/feature_io.py [--quick] [--repeats N]
"""

from __future__ import annotations

import benchlib
import numpy as np

from sedcycle.clips import ClipStore
from sedcycle.windows import crop

N_MELS, N_FRAMES, WINDOW = 128, 3751, 512


def npz_window(path, start: int) -> np.ndarray:
    """The baseline: load the whole compressed clip, scale it, crop the window."""
    clip = np.load(path)["logmel"]
    low, high = float(clip.min()), float(clip.max())
    return crop((clip - low) / max(high - low, 1e-6), start, WINDOW)


def main() -> None:
    args = benchlib.arguments(__doc__.splitlines()[0]).parse_args()
    n_clips, per_clip = (2, 4) if args.quick else (16, 8)
    repeats = args.repeats or (1 if args.quick else 5)
    benchlib.header("feature I/O: ClipStore.window (float16 .npy mmap) vs np.load(npz) + crop")
    rng = np.random.default_rng(0)
    with benchlib.scratch("io") as tmp:
        ids = [f"clip{i:03d}" for i in range(n_clips)]
        for rec in ids:
            # log-mel-like values: -80..0 dB with structure, so compression is realistic
            clip = -80 * rng.random((N_MELS, 1)) * rng.random((1, N_FRAMES))
            clip += rng.normal(0, 3, (N_MELS, N_FRAMES))
            np.save(tmp / f"{rec}.npy", clip.astype(np.float16))
            np.savez_compressed(tmp / f"{rec}.npz", logmel=clip.astype(np.float32))
        npy_mb = sum((tmp / f"{r}.npy").stat().st_size for r in ids) / n_clips / 2**20
        npz_mb = sum((tmp / f"{r}.npz").stat().st_size for r in ids) / n_clips / 2**20
        plan = [(rec, int(rng.integers(0, N_FRAMES - WINDOW))) for rec in ids] * per_clip
        rng.shuffle(plan)

        def ours() -> list[np.ndarray]:
            store = ClipStore(tmp, ids)
            return [store.window(rec, start, WINDOW) for rec, start in plan]

        def baseline() -> list[np.ndarray]:
            return [npz_window(tmp / f"{rec}.npz", start) for rec, start in plan]

        diff = max(float(np.abs(a - b).max()) for a, b in zip(ours(), baseline(), strict=True))
        times = benchlib.interleaved({"sedcycle": ours, "npz": baseline}, repeats)

        def whole_npy():
            return [np.asarray(np.load(tmp / f"{r}.npy", mmap_mode="r"), np.float32) for r in ids]

        def whole_npz():
            return [np.load(tmp / f"{r}.npz")["logmel"] for r in ids]

        whole = benchlib.interleaved({"npy": whole_npy, "npz": whole_npz}, repeats)

    n = len(plan)
    rate = {name: n / benchlib.median(t) for name, t in times.items()}
    ratio = benchlib.paired_ratio(times["npz"], times["sedcycle"])
    whole_ratio = benchlib.paired_ratio(whole["npz"], whole["npy"])
    print(f"{n_clips} clips [{N_MELS} x {N_FRAMES}], {n} windows of {WINDOW} frames, "
          f"{repeats} interleaved repeats")  # fmt: skip
    print(f"file size per clip: float16 .npy {npy_mb:.2f} MiB, float32 npz {npz_mb:.2f} MiB")
    for name, label in (("sedcycle", "sedcycle ClipStore.window"), ("npz", "np.load(npz) + crop")):
        print(f"{label:26s} {rate[name]:10.1f} windows/s (per repeat {spread(times, name)})")
    print(f"max |difference| of the scaled windows: {diff:.2e} (float16 storage; 0..1 scale)")
    print(f"whole clips (float32 in memory): npy mmap {whole_ratio:.1f}x faster than npz")
    print(f"ratio (windows/s sedcycle / npz): {ratio:.1f}x")
    benchlib.result(
        "feature I/O",
        f"{rate['sedcycle']:.0f} vs {rate['npz']:.0f} windows/s, ratio {ratio:.1f}x "
        f"(whole clip {whole_ratio:.1f}x)",
        benchlib.verdict(ratio, 10),
    )


def spread(times: dict[str, list[float]], name: str) -> str:
    return benchlib.spread(times[name])


if __name__ == "__main__":
    main()
