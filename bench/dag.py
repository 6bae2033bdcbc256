"""DAG: wall time of Snakemake calls with nothing to do, on the 5 folds x 4 rounds DAG.

The default config (5 folds) with ``relabel.n_rounds`` set to ``--rounds`` (default 4: stage 1
and 4 relabel rounds, 66 jobs), through a config file layered over config.yaml. In a scratch working
directory: ``snakemake -n`` while it is empty (plans every job); then every output the DAG
lists (``--summary``) is created empty and ``snakemake --touch`` orders their times, which
makes a finished workdir without running a job; there, the dry run and a real no-op rerun
(``snakemake --cores 1``, "Nothing to be done") are timed. ``--workdir DIR`` times those two
on a real finished run instead (e.g. after ``make demo``). Each call is a fresh process timed
from outside: interpreter start, Snakefile parsing, config validation, DAG. A real call is only
made after a dry run said there is nothing to do. Target: no-op rerun under 5 s wall.

    .venv/bin/python bench/dag.py [--quick] [--repeats N] [--rounds N] [--workdir DIR]
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import benchlib

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TARGETS = ["submission.csv", "scores.json"]
ROUNDS_CONFIG = "bench_rounds.yaml"  # written into a scratch workdir: relabel.n_rounds


def snakemake(workdir: Path, *extra: str) -> tuple[float, str]:
    """Wall seconds and output (stdout, then stderr) of one snakemake call on ``workdir``."""
    command = [str(SNAKEMAKE), "--snakefile", str(benchlib.ROOT / "Snakefile")]
    command += ["--directory", str(workdir)]
    if (workdir / ROUNDS_CONFIG).exists():  # before the targets: --configfile takes several
        command += ["--configfile", str(workdir / ROUNDS_CONFIG)]
    command += ["--cores", "1", *extra, *TARGETS]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout + done.stderr


def make_finished(workdir: Path) -> int:
    """Create every output of the DAG (empty files, and folders for outputs without a suffix,
    the ``directory()`` ones) and let ``snakemake --touch`` order their times. Returns the
    number of outputs."""
    _, summary = snakemake(workdir, "--summary")
    lines = summary.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("output_file\t")) + 1
    outputs = [line.split("\t")[0] for line in lines[start:] if "\t" in line]
    for name in outputs:
        path = workdir / name
        if path.suffix:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        else:
            path.mkdir(parents=True, exist_ok=True)
    _, touched = snakemake(workdir, "--touch")
    if "not touched" in touched:
        raise RuntimeError(f"snakemake --touch left outputs out:\n{touched}")
    return len(outputs)


def time_no_op(workdir: Path, repeats: int) -> tuple[list[float], list[float]]:
    """(dry run, real no-op rerun) wall seconds, interleaved; refuses a workdir with work."""
    dry, real = [], []
    for _ in range(repeats):
        seconds, output = snakemake(workdir, "-n")
        if benchlib.NOTHING_TO_BE_DONE not in output:
            raise RuntimeError(f"{workdir} is not finished; a real call would run jobs:\n{output}")
        dry.append(seconds)
        seconds, output = snakemake(workdir)
        if benchlib.NOTHING_TO_BE_DONE not in output:
            raise RuntimeError(f"the no-op rerun did something:\n{output}")
        real.append(seconds)
    return dry, real


def main() -> None:
    parser = benchlib.arguments(__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="a finished run's working directory")
    parser.add_argument("--rounds", type=int, default=4, help="relabel rounds (scratch DAG)")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    benchlib.header("DAG: snakemake calls with nothing to do")
    plan = ""
    if args.workdir:
        where = f"finished run {args.workdir}"
        _, output = snakemake(args.workdir.resolve(), "-n")
        if benchlib.NOTHING_TO_BE_DONE not in output:
            match = re.search(r"^total\s+(\d+)", output, flags=re.MULTILINE)
            print(f"{args.workdir} is not finished: {match.group(1) if match else '?'} jobs to do")
            benchlib.result("DAG", f"{where}: not finished, not timed", "not measured")
            return
        dry, real = time_no_op(args.workdir.resolve(), repeats)
    else:
        with benchlib.scratch("dag") as workdir:
            (workdir / ROUNDS_CONFIG).write_text(f"relabel:\n  n_rounds: {args.rounds}\n")
            plan_times, jobs = [], -1
            for _ in range(repeats):
                seconds, output = snakemake(workdir, "-n")
                plan_times.append(seconds)
                match = re.search(r"^total\s+(\d+)", output, flags=re.MULTILINE)
                jobs = int(match.group(1)) if match else -1
            print(
                f"empty workdir, snakemake -n: {jobs} jobs planned, {benchlib.spread(plan_times)}"
            )
            start = time.perf_counter()
            n_outputs = make_finished(workdir)
            print(f"{n_outputs} outputs created and touched in {time.perf_counter() - start:.1f} s")
            dry, real = time_no_op(workdir, repeats)
            where = f"touched workdir, 5 folds x {args.rounds} rounds"
            plan = f"; dry run of all {jobs} jobs {benchlib.median(plan_times):.2f} s"
    print(f"{where}, snakemake -n: {benchlib.spread(dry)}")
    print(f"{where}, no-op rerun:  {benchlib.spread(real)}")
    noop = benchlib.median(real)
    print(f"ratio (no-op rerun wall / 5 s target): {noop / 5:.2f}")
    benchlib.result(
        "DAG",
        f"no-op rerun {noop:.2f} s, dry run {benchlib.median(dry):.2f} s ({where}){plan}; "
        f"ratio to target {noop / 5:.2f}",
        benchlib.verdict(noop, 5, at_least=False, unit=" s"),
    )


if __name__ == "__main__":
    main()
