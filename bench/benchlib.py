"""Shared helpers of the benchmarks: interleaved timing, peak RSS, the machine, result lines.

Machines are noisy (2 shared cores here): every benchmark interleaves the repeats of the
variants it compares (A B, then B A, ...), reports medians, and takes its ratio as the median
of the per-repeat ratios, so a slow spell of the machine hits both sides of a ratio alike.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
# what snakemake prints when a call finds every target up to date (it ran no job)
NOTHING_TO_BE_DONE = "Nothing to be done"


def workflow_command(
    workdir: Path,
    cores: int | str,
    configs: list[Path],
    target: str | list[str] = "scores.csv",
    max_threads: int | None = None,
) -> list[str]:
    """The repository's workflow run in ``workdir`` for ``target`` (one, or a list): config.yaml,
    then ``configs`` layered over it; ``max_threads`` caps every job's threads (--max-threads)."""
    return [
        str(SNAKEMAKE),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
        *([target] if isinstance(target, str) else target),
        "--configfile",
        str(ROOT / "config.yaml"),
        *map(str, configs),
        *(["--max-threads", str(max_threads)] if max_threads else []),
    ]


def arguments(description: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every benchmark takes (--quick, --repeats)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, one repeat: checks that it runs"
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per variant")
    return parser


def merge(base: dict, extra: dict) -> None:
    """Update ``base`` with ``extra`` key by key, as snakemake layers config files."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    """One line naming the machine: CPU, cores, memory, load, date, Python and torch."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory = float("nan")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = f"Python {platform.python_version()}"
    if "torch" in sys.modules:
        versions += f", torch {sys.modules['torch'].__version__}"
    return (
        f"{cpu_model()}, nproc {os.cpu_count()}, {memory:.0f} GiB, load average {load}, "
        f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {versions}"
    )


def commit() -> str:
    """The repository's HEAD commit, short ("unknown" outside a git checkout)."""
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() or "unknown"


class Timings(dict):
    """Wall seconds per variant (the dict itself) and process CPU seconds (``.cpu``)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__({name: [] for name in names})
        self.cpu: dict[str, list[float]] = {name: [] for name in names}


def interleaved(
    variants: dict[str, Callable[[], object]], repeats: int, warmup: bool = True
) -> Timings:
    """Time each variant ``repeats`` times, the order reversed every other repeat.

    Returns wall seconds per variant, with the process CPU seconds (all threads) in ``.cpu``.
    """
    names = list(variants)
    if warmup:
        for name in names:
            variants[name]()
    times = Timings(names)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            cpu, start = time.process_time(), time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)
            times.cpu[name].append(time.process_time() - cpu)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def paired_ratio(slow: list[float], fast: list[float]) -> float:
    """Median over repeats of slow/fast: how many times faster ``fast`` is."""
    return statistics.median(s / f for s, f in zip(slow, fast, strict=True))


def spread(values: list[float]) -> str:
    """'median (min..max)' in seconds."""
    return f"{median(values):.3f} s ({min(values):.3f}..{max(values):.3f})"


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A temporary folder for the benchmark's synthetic inputs, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"sedcycle-bench-{name}-") as folder:
        yield Path(folder)


def result(stage: str, summary: str, verdict: str) -> None:
    """The line ``make bench`` collects: ``RESULT <stage> | <summary> | <verdict>``."""
    print(f"RESULT {stage} | {summary} | {verdict}", flush=True)


def verdict(value: float, target: float, *, at_least: bool = True, unit: str = "x") -> str:
    met = value >= target if at_least else value < target
    sign = ">=" if at_least else "<"
    return f"target {sign} {target:g}{unit}: {'met' if met else 'MISSED'}"


LINEAR_SLACK = 1.3  # per-clip time at the largest scale over the smallest, allowing for noise


def linear(growth: float, top: int) -> str:
    """Verdict on per-clip time at ``top`` x clips over 1x: linear time keeps it near 1."""
    met = "met" if growth <= LINEAR_SLACK else "MISSED"
    return f"linear {met} (per-clip {top}x/1x <= {LINEAR_SLACK})"


def header(title: str) -> None:
    print(f"# {title}\n# {machine()}", flush=True)


def on_one_thread(run: Callable[[], object]) -> object:
    """``run()`` with torch on one thread: the rate that is left when no core idles (OpenMP
    barriers wait on descheduled threads when other jobs share the cores)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run()
    finally:
        torch.set_num_threads(threads)


def random_clips(folder: Path, n: int, n_mels: int = 128, n_frames: int = 3751) -> list[str]:
    """Write ``n`` float16 log-mel-like clips ``{folder}/clipNNNN.npy``; returns their ids."""
    import numpy as np

    rng = np.random.default_rng(0)
    ids = [f"clip{i:04d}" for i in range(n)]
    for rec in ids:
        np.save(folder / f"{rec}.npy", rng.normal(-40, 12, (n_mels, n_frames)).astype(np.float16))
    return ids


PEAK_RSS_HELP = "run only this variant once and print its process's peak RSS (internal)"


def report_peak_rss() -> None:
    """Print this process's peak RSS for :func:`peak_rss_of`.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over exec, so a child forked
    from a big parent would report at least the parent's size.
    """
    print(f"PEAK_RSS_MIB {(_status_kib('VmHWM') or 0) / 1024:.1f}")


def peak_rss_of(script: Path, variants: list[str], extra: list[str]) -> dict[str, float]:
    """Peak RSS in MiB of ``script --peak-rss VARIANT``, each variant in a fresh process: the
    memory a workflow job doing that would need (interpreter, torch, model, data)."""
    import subprocess

    peaks = {}
    for variant in variants:
        done = subprocess.run(
            [sys.executable, str(script), "--peak-rss", variant, *extra],
            capture_output=True,
            text=True,
            check=True,
        )
        lines = [x for x in done.stdout.splitlines() if x.startswith("PEAK_RSS_MIB ")]
        peaks[variant] = float(lines[-1].split()[1]) if lines else float("nan")
    return peaks


def kept_minutes(kept: Path) -> dict[str, float]:
    """The wall minutes kept in ``kept`` (json), none if it is not there."""
    return json.loads(kept.read_text()) if kept.exists() else {}


def keep_minutes(kept: Path, ran: dict[str, float]) -> dict[str, float]:
    """Add the wall minutes of the runs that ran to ``kept`` (json), read again just before
    writing: another call of the benchmark on the same root may have added its own while
    these ran, and they stay. Returns every kept run's minutes."""
    minutes = kept_minutes(kept) | ran
    kept.write_text(json.dumps(minutes, indent=1))
    return minutes
