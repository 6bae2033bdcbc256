"""Load: the feature step over up to 2,000 60 s clips keeps its memory bounded.

Baseline in the same run: the same step over the smallest count. Prints, per clip count, the
wall time, clips/s and the child process's peak RSS, then the ratio of peak RSS at the largest
count to the smallest (1.0 = memory does not grow with the number of clips).
Clips are hard links to a few synthetic recordings, so the audio costs no generation time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import arguments, machine, result

SCRIPT = """
import sys, torch
from sedcycle.steps.data import extract_features
extract_features(sys.argv[1], sys.argv[2], clip_seconds=60.0, threads=2)
"""


def run_extract(audio_dir: Path, out_dir: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one feature step in a fresh process."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(audio_dir), str(out_dir)], stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise RuntimeError(f"feature step failed with status {status}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def main() -> None:
    args = arguments(__doc__.splitlines()[0]).parse_args()
    counts = [4, 16] if args.quick else [100, 500, 2000]
    from sedcycle.synthetic import generate

    print("# load: feature step memory vs number of clips")
    print(f"# {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        generate(tmp / "source", n_train=8, n_test=1, clip_seconds=60.0, seed=0)
        sources = sorted((tmp / "source" / "train").glob("*.flac"))
        rows = []
        for count in counts:
            audio = tmp / f"audio{count}"
            audio.mkdir()
            for i in range(count):
                os.link(sources[i % len(sources)], audio / f"clip{i:05d}.flac")
            seconds, peak = run_extract(audio, tmp / f"features{count}")
            rows.append((count, seconds, peak))
            print(
                f"{count:5d} clips: {seconds:7.1f} s, {count / seconds:6.2f} clips/s, "
                f"peak RSS {peak:7.0f} MiB",
                flush=True,
            )
            for path in (tmp / f"features{count}").glob("*.npy"):
                path.unlink()
        (small, _, small_peak), (large, _, large_peak) = rows[0], rows[-1]
        small_rate, large_rate = rows[0][0] / rows[0][1], rows[-1][0] / rows[-1][1]
        memory, speed = large_peak / small_peak, large_rate / small_rate
        summary = (
            f"{small}->{large} clips of 60 s: peak RSS {small_peak:.0f}->{large_peak:.0f} MiB "
            f"(ratio {memory:.2f}x), clips/s ratio {speed:.2f}x"
        )
        result("load", summary, "bounded memory: " + ("met" if memory <= 1.2 else "MISSED"))


if __name__ == "__main__":
    main()
