"""The workflow on a real one-node SLURM through profiles/slurm.

A fold whose training process is killed fails the run with its logs named, a rerun submits only
what is missing, every training job is a SLURM job, and the submission equals a local run's.
Opt-in (`make test-cluster`, `pytest -m cluster` or SEDCYCLE_CLUSTER_TEST=1), root only: it
installs Debian's slurm-wlm and munge, starts munged, slurmctld and slurmd with
start_local_slurm.sh, and stops them with stop_local_slurm.sh at the end, whatever happened.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
import yaml

from ..workflow_runs import REPO, job_counts, snakemake_command

HERE = Path(__file__).resolve().parent
CLUSTER_SNAKEMAKE = REPO / ".venv-cluster" / "bin" / "snakemake"
LOCAL_SNAKEMAKE = Path(sys.executable).with_name("snakemake")
RUN_TIMEOUT_S = 420
# One thread per job, in both runs: two jobs share the 2-CPU node, so folds run side by side,
# and the local run computes with the same thread count as the cluster run.
ONE_THREAD = ["--set-threads"] + [
    f"{r}=1" for r in ("extract_features", "train_stage1", "train_round", "predict")
]
TRAINING_JOBS = {
    ("train_stage1", "0"),
    ("train_stage1", "1"),
    ("train_round", "1_0"),
    ("train_round", "1_1"),
}
KILLED = ("train_stage1", "1")  # the job whose training process the test kills
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+/rule_(\w+)/(\S+)/\d+\.log)\)")

pytestmark = pytest.mark.cluster


def skip_reason(config):
    markexpr = config.getoption("markexpr") or ""
    requested = os.environ.get("SEDCYCLE_CLUSTER_TEST") == "1" or re.search(
        r"(?<!not )\bcluster\b", markexpr
    )
    if not requested:
        return "opt-in: it installs and starts a local SLURM; run `make test-cluster` as root"
    if os.geteuid() != 0:
        return "needs root: it apt-installs slurm-wlm and munge and starts munged/slurmctld/slurmd"
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        return "needs apt-get to install Debian's slurm-wlm and munge"
    return None


def recorded_daemon_pids():
    started = Path("/run/sedcycle-slurm/started")
    pidfiles = started.read_text().split() if started.exists() else []
    return [int(Path(f).read_text()) for f in pidfiles if Path(f).exists()]


@pytest.fixture(scope="module")
def slurm(request):
    reason = skip_reason(request.config)
    if reason:
        pytest.skip(reason)
    subprocess.run(["make", "-C", str(REPO), "--quiet", "setup-cluster"], check=True)
    try:
        subprocess.run(["bash", str(HERE / "start_local_slurm.sh")], check=True, timeout=300)
        daemons = recorded_daemon_pids()
        yield
    finally:
        subprocess.run(["bash", str(HERE / "stop_local_slurm.sh")], timeout=120)
    alive = [pid for pid in daemons if Path(f"/proc/{pid}").exists()]
    assert not alive, f"slurm daemons still running after stop_local_slurm.sh: {alive}"


def pids_with_open(path):
    """Processes holding ``path`` open: the training script writes its rule log."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and any(
                os.readlink(fd) == str(path) for fd in (proc / "fd").iterdir()
            ):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


class Snakemake:
    """A snakemake process writing to ``output``, stopped with SIGINT past RUN_TIMEOUT_S."""

    def __init__(self, command, output):
        self.output = output
        with open(output, "w") as out:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.deadline = time.monotonic() + RUN_TIMEOUT_S

    def wait(self, while_running=lambda: None):
        """Exit code and output, once it ends."""
        while self.proc.poll() is None and time.monotonic() < self.deadline:
            while_running()
            time.sleep(0.2)
        if self.proc.poll() is None:
            # SIGTERM leaves a hanging snakemake hanging; SIGINT stops it and scancels its jobs.
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=60)
            pytest.fail(f"snakemake ran past {RUN_TIMEOUT_S}s:\n{self.output.read_text()[-4000:]}")
        return self.proc.returncode, self.output.read_text()

    def kill(self):
        """The last resort: its whole process group (its local jobs with it)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def runs(slurm, tmp_path_factory):
    """A local run; a SLURM run whose fold-1 stage-1 training is killed; the SLURM rerun."""
    base = tmp_path_factory.mktemp("cluster")
    local, cluster = base / "local", base / "cluster"
    cpu_only = base / "cpu.yaml"  # the test node has no GPU: jobs must not ask for one
    cpu_only.write_text(yaml.safe_dump({"cluster": {"gpu": 0}}))
    on_slurm = ["--profile", str(REPO / "profiles/slurm")]
    on_slurm += ["--slurm-init-seconds-before-status-checks", "2"]  # short jobs: poll early
    # the micro config, then cpu_only; the profiles give the cores, ONE_THREAD the threads
    command = partial(snakemake_command, configs=[cpu_only], cores=None, threads=ONE_THREAD)

    fold1_log = cluster / "logs/stage1/train_fold1.log"
    killed = []

    def kill_fold1_training():
        if not killed and (pids := pids_with_open(fold1_log)):
            for pid in pids:
                os.kill(pid, signal.SIGKILL)  # as the OOM killer would
            killed.extend(pids)

    started = time.monotonic()
    processes = []
    try:
        # The local run goes on beside the SLURM runs, which spend much of their time waiting.
        local_run = Snakemake(
            command(local, "--profile", REPO / "profiles/local", executable=LOCAL_SNAKEMAKE),
            base / "local.out",
        )
        processes.append(local_run)
        processes.append(
            Snakemake(
                command(cluster, *on_slurm, executable=CLUSTER_SNAKEMAKE),
                base / "failed.out",
            )
        )
        failed = processes[-1].wait(kill_fold1_training)
        assert killed, "the training job of fold 1 was never seen running"
        models_after_failure = {p: p.stat().st_mtime_ns for p in cluster.glob("models/*/*.pt")}
        processes.append(
            Snakemake(
                command(cluster, *on_slurm, executable=CLUSTER_SNAKEMAKE),
                base / "rerun.out",
            )
        )
        rerun = processes[-1].wait()
        code, output = local_run.wait()
        assert code == 0, output[-4000:]
    finally:
        for process in processes:
            process.kill()
    print(f"local run beside two SLURM runs: {time.monotonic() - started:.0f} s")
    return {
        "local": local,
        "cluster": cluster,
        "failed": failed,
        "rerun": rerun,
        "models_after_failure": models_after_failure,
    }


def submissions(output):
    """(slurm job id, rule, wildcards, slurm log) of every job the run sent to sbatch."""
    return [(int(m[1]), m[3], m[4], Path(m[2])) for m in SUBMITTED.finditer(output)]


def slurm_states(job_ids):
    """SLURM's own record (MinJobAge keeps finished jobs in squeue): id -> (state, start, end)."""
    listing = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T|%S|%e"]
        + ["--jobs=" + ",".join(map(str, job_ids))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = (line.split("|") for line in listing.split())
    return {int(i): (state, start, end) for i, state, start, end in rows}


def test_killed_training_job_fails_the_run_and_names_its_logs(runs):
    code, output = runs["failed"]
    assert code != 0, output[-3000:]
    assert "Error in rule train_stage1" in output
    assert "logs/stage1/train_fold1.log" in output  # the rule's log, with the traceback
    (slurm_log,) = [log for _, rule, wc, log in submissions(output) if (rule, wc) == KILLED]
    assert str(slurm_log) in output.split("Error in rule train_stage1")[1]  # the job's SLURM log
    assert slurm_log.exists()
    # keep-going: fold 0 finished in the same run and was predicted
    assert (runs["cluster"] / "predictions/stage1/fold0_test.parquet").exists()


def test_rerun_submits_only_what_is_missing(runs):
    code, output = runs["rerun"]
    assert code == 0, output[-3000:]
    counts = job_counts(output)
    assert counts["train_stage1"] == 1 and counts["train_round"] == 2, counts
    assert [wc for _, rule, wc, _ in submissions(output) if rule == "train_stage1"] == ["1"]
    for model, mtime in runs["models_after_failure"].items():
        assert model.stat().st_mtime_ns == mtime, f"{model} was trained again"


def test_every_training_job_went_through_sbatch(runs):
    jobs = submissions(runs["failed"][1]) + submissions(runs["rerun"][1])
    training = [(job_id, rule, wc) for job_id, rule, wc, _ in jobs if rule.startswith("train")]
    assert {(rule, wc) for _, rule, wc in training} == TRAINING_JOBS
    (killed,) = [
        job_id for job_id, rule, wc, _ in submissions(runs["failed"][1]) if (rule, wc) == KILLED
    ]
    states = slurm_states([job_id for job_id, _, _ in training])
    for job_id, rule, wc in training:
        expected = "FAILED" if job_id == killed else "COMPLETED"
        assert states[job_id][0] == expected, (rule, wc, states[job_id])
    # the light table steps are localrules: they never reach SLURM
    assert {rule for _, rule, _, _ in jobs} == {
        "extract_features",
        "train_stage1",
        "predict",
        "train_round",
    }


def test_folds_of_a_round_run_side_by_side(runs):
    ids = {
        wc: job_id for job_id, rule, wc, _ in submissions(runs["rerun"][1]) if rule == "train_round"
    }
    states = slurm_states(ids.values())
    (_, start0, end0), (_, start1, end1) = states[ids["1_0"]], states[ids["1_1"]]
    assert start0 < end1 and start1 < end0, states  # ISO times compare as strings


def test_submission_equals_the_local_run(runs):
    local = (runs["local"] / "submission.csv").read_bytes()
    assert (runs["cluster"] / "submission.csv").read_bytes() == local
