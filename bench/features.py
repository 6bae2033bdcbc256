"""Features: sedcycle.audio.extract_features against librosa, on 60 s 48 kHz FLAC clips.

sedcycle: decode + soxr resample + log-mel (torch.stft, banded mel product), one clip per
worker thread, float16 .npy written. Baseline: librosa.load(sr=32000) + melspectrogram +
power_to_db per clip, the same float16 .npy written. Target: >= 3x clips/s, max |diff|
< 0.01 dB (float32 outputs, before the float16 file). Also: where one clip's time goes, and
per-clip time at 1x, 4x, 16x the base number of clips (must stay flat: linear growth).

    .venv/bin/python bench/features.py [--quick] [--repeats N]
"""

from __future__ import annotations

import contextlib
import io
import shutil
import time
from pathlib import Path

import benchlib
import librosa
import numpy as np
import soundfile as sf
import soxr
import torch

from sedcycle import synthetic
from sedcycle.audio import LogMel, extract_features, load_audio

SR = 32000
MEL = dict(n_fft=2048, hop_length=512, n_mels=128)


def librosa_features(paths: list[Path], out_dir: Path, clip_seconds: float) -> None:
    """The baseline: librosa's own load, mel and dB, one clip at a time."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in paths:
        np.save(
            out_dir / f"{path.stem}.npy", librosa_log_mel(path, clip_seconds).astype(np.float16)
        )


def librosa_log_mel(path: Path, clip_seconds: float) -> np.ndarray:
    wave, _ = librosa.load(path, sr=SR)
    wave = librosa.util.fix_length(wave, size=round(clip_seconds * SR))
    power = librosa.feature.melspectrogram(y=wave, sr=SR, center=True, pad_mode="constant", **MEL)
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=80.0)


def quietly(function, *args, **kwargs):
    """Call ``function`` with its stderr notes (e.g. 'N file(s) resampled') dropped."""
    with contextlib.redirect_stderr(io.StringIO()):
        return function(*args, **kwargs)


def make_clips(folder: Path, n_unique: int, clip_seconds: float) -> list[Path]:
    synthetic.generate(
        folder / "synthetic", n_train=n_unique, n_test=1, clip_seconds=clip_seconds, seed=0
    )
    return sorted((folder / "synthetic" / "train").glob("*.flac"))


def clip_set(folder: Path, unique: list[Path], n: int) -> list[Path]:
    """``n`` clips named apart, copies of the unique synthetic clips in turn."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"clip{i:04d}.flac"
        shutil.copyfile(unique[i % len(unique)], path)
        paths.append(path)
    return paths


def stage_times(path: Path, clip_seconds: float, repeats: int) -> list[tuple[str, float]]:
    """Median single-thread milliseconds of each step of one clip, both pipelines."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    native, rate = sf.read(path, dtype="float32")
    wave = load_audio(path, SR, clip_seconds)
    log_mel = LogMel()
    steps = {
        "decode FLAC (soundfile)": lambda: sf.read(path, dtype="float32"),
        "resample 48k->32k (soxr HQ)": lambda: soxr.resample(native, rate, SR, quality="HQ"),
        "sedcycle LogMel (1 clip, 1 thread)": lambda: log_mel(torch.from_numpy(wave)[None]),
        "librosa.load(sr=32000)": lambda: librosa.load(path, sr=SR),
        "librosa melspectrogram + power_to_db": lambda: librosa.power_to_db(
            librosa.feature.melspectrogram(y=wave, sr=SR, **MEL), ref=1.0, amin=1e-10, top_db=80
        ),
    }
    with torch.inference_mode():
        times = benchlib.interleaved(steps, repeats)
    torch.set_num_threads(threads)
    return [(name, 1000 * benchlib.median(t)) for name, t in times.items()]


def main() -> None:
    args = benchlib.arguments(__doc__.splitlines()[0]).parse_args()
    quick = args.quick
    clip_seconds = 5.0 if quick else 60.0
    base, scales = (1, [1, 4]) if quick else (2, [1, 4, 16])
    repeats = args.repeats or (1 if quick else 3)
    benchlib.header("features: extract_features vs librosa")
    with benchlib.scratch("features") as tmp:
        start = time.perf_counter()
        unique = make_clips(tmp, 1 if quick else 4, clip_seconds)
        seconds = time.perf_counter() - start
        print(f"{len(unique)} synthetic clips of {clip_seconds:g} s at 48 kHz written in ", end="")
        print(f"{seconds:.1f} s; torch threads {torch.get_num_threads()}")

        print("\nwhere one clip's time goes (median ms, one thread):")
        for name, ms in stage_times(unique[0], clip_seconds, 3 if quick else 7):
            print(f"  {name:40s} {ms:8.1f}")

        # Equality: both float32 log-mels, then the float16 files each writes.
        diffs = []
        with torch.inference_mode():
            for path in unique[:2]:
                ours = LogMel()(torch.from_numpy(load_audio(path, SR, clip_seconds))[None])[0]
                diffs.append(np.abs(ours.numpy() - librosa_log_mel(path, clip_seconds)).max())
        max_diff = float(max(diffs))

        per_clip: dict[str, dict[int, float]] = {"sedcycle": {}, "librosa": {}}
        cpu_per_clip: dict[str, dict[int, float]] = {"sedcycle": {}, "librosa": {}}
        ratios: dict[int, float] = {}
        print(f"\nclips/s ({repeats} interleaved repeats, median; {base} clip(s) = 1x):")
        for scale in scales:
            n = base * scale
            paths = clip_set(tmp / f"audio{n}", unique, n)
            variants = {
                "sedcycle": lambda p=paths, n=n: quietly(
                    extract_features, p, tmp / f"ours{n}", clip_seconds=clip_seconds, progress=False
                ),
                "librosa": lambda p=paths, n=n: librosa_features(p, tmp / f"base{n}", clip_seconds),
            }
            times = benchlib.interleaved(variants, repeats, warmup=scale == scales[0])
            for name, t in times.items():
                per_clip[name][scale] = benchlib.median(t) / n
                cpu_per_clip[name][scale] = benchlib.median(times.cpu[name]) / n
            ratios[scale] = benchlib.paired_ratio(times["librosa"], times["sedcycle"])
            rate = {name: n / benchlib.median(t) for name, t in times.items()}
            cpu = {name: c[scale] for name, c in cpu_per_clip.items()}
            print(
                f"  {scale:2d}x ({n:3d} clips): sedcycle {rate['sedcycle']:6.2f} clips/s, "
                f"librosa {rate['librosa']:6.2f} clips/s, ratio {ratios[scale]:.2f}x; "
                f"CPU s/clip sedcycle {cpu['sedcycle']:.3f}, librosa {cpu['librosa']:.3f}"
            )
        last = scales[-1]
        ours16 = np.load(tmp / f"ours{base * last}" / "clip0000.npy").astype(np.float32)
        theirs16 = np.load(tmp / f"base{base * last}" / "clip0000.npy").astype(np.float32)
        file_diff = float(np.abs(ours16 - theirs16).max())

    print("\nper-clip seconds by scale (linear growth keeps them flat):")
    for name, by_scale in per_clip.items():
        cells = ", ".join(f"{s}x {t:.3f}" for s, t in by_scale.items())
        growth = by_scale[last] / by_scale[scales[0]]
        print(f"  {name:9s} {cells}; per-clip {last}x/1x = {growth:.2f}")
    print(f"\nmax |sedcycle - librosa| log-mel: {max_diff:.5f} dB (float32; target < 0.01 dB)")
    print(f"max |diff| of the float16 files each writes: {file_diff:.4f} dB (float16 rounding)")
    ratio = ratios[last]
    cpu_ratio = cpu_per_clip["librosa"][last] / cpu_per_clip["sedcycle"][last]
    print(
        f"CPU-time ratio (librosa / sedcycle CPU seconds per clip, all threads): {cpu_ratio:.2f}x;"
        " the wall ratio adds what parallel clips gain from idle cores"
    )
    print(f"ratio (clips/s sedcycle / librosa, at {last}x): {ratio:.2f}x")
    growth = per_clip["sedcycle"][last] / per_clip["sedcycle"][scales[0]]
    benchlib.result(
        "features",
        f"{1 / per_clip['sedcycle'][last]:.2f} vs {1 / per_clip['librosa'][last]:.2f} clips/s, "
        f"ratio {ratio:.2f}x (CPU time {cpu_ratio:.2f}x); max diff {max_diff:.4f} dB; "
        f"per-clip {last}x/1x {growth:.2f}",
        f"{benchlib.verdict(ratio, 3)}; diff {'met' if max_diff < 0.01 else 'MISSED'}; "
        + benchlib.linear(growth, last),
    )


if __name__ == "__main__":
    main()
