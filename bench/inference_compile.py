"""Inference, an fp32 path not adopted: torch.compile (inductor, weight freezing) of resnet18.

Not in `make bench` (compiling takes a minute or more). It answers whether compiling closes
the gap to bench/inference.py's fp32 target (>= 2x windows/s over one forward call per
window): the three variants below score the same windows (16 windows of 128 x 512, resnet18,
fp32), interleaved in one process.

  per-window  one NCHW forward call per window (the source's loop, bench/inference.py baseline)
  batched     one channels_last forward for all 16 (what predict_windows does)
  compiled    the batched call through torch.compile with inductor's freezing (oneDNN
              prepacked weights)

    .venv/bin/python bench/inference_compile.py [--repeats N] [--threads T]
"""

from __future__ import annotations

import argparse
import sys
import time

import benchlib
import torch

from sedcycle.model import SEDModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--windows", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import torch._inductor.config as inductor

    inductor.freezing = True
    benchlib.header("inference: torch.compile (inductor, freezing) vs eager, resnet18 fp32")
    torch.manual_seed(0)
    fast = SEDModel("resnet18", 24, channels_last=True).eval()
    plain = SEDModel("resnet18", 24, channels_last=False).eval()
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(args.windows, 128, 512)
    with torch.inference_mode():
        expected = fast(x)["framewise"]
        started = time.perf_counter()
        compiled = torch.compile(fast)
        got = compiled(x)["framewise"]
        compile_s = time.perf_counter() - started
        diff = float((got - expected).abs().max())
        variants = {
            "per-window": lambda: [plain(x[i : i + 1]) for i in range(len(x))],
            "batched": lambda: fast(x),
            "compiled": lambda: compiled(x),
        }
        times = benchlib.interleaved(variants, args.repeats)
    print(
        f"torch threads {args.threads}; {args.windows} windows; compile + first call "
        f"{compile_s:.1f} s; max |framewise difference| compiled vs eager {diff:.1e}"
    )
    for name, t in times.items():
        print(
            f"  {name:10s} {args.windows / benchlib.median(t):6.1f} windows/s  {benchlib.spread(t)}"
        )
    per_window = times["per-window"]
    batched = benchlib.paired_ratio(per_window, times["batched"])
    compiled_ratio = benchlib.paired_ratio(per_window, times["compiled"])
    over_eager = benchlib.paired_ratio(times["batched"], times["compiled"])
    benchlib.result(
        "inference (compiled)",
        f"batched {batched:.2f}x, compiled {compiled_ratio:.2f}x over per-window "
        f"(compiled/batched eager {over_eager:.2f}x); compile {compile_s:.0f} s; "
        f"max diff {diff:.1e}",
        benchlib.verdict(compiled_ratio, 2),
    )


if __name__ == "__main__":
    sys.exit(main())
