#!/usr/bin/env bash
# Stop the one-node SLURM of start_local_slurm.sh: cancel its jobs, then stop the daemons that
# script started (the pid files it recorded in $STATE_DIR/started), and only those.
# Root only. Safe to run when nothing is running.
#   --purge  also remove slurm.conf and the controller's and node's state and logs
set -uo pipefail

STATE_DIR=/run/sedcycle-slurm
[ "$(id -u)" -eq 0 ] || { echo "stop_local_slurm: must run as root" >&2; exit 1; }

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Jobs first, while the controller still runs, so that no slurmstepd or job is left behind.
if running /run/slurmctld.pid; then
  jobs="$(squeue --noheader --format=%A 2>/dev/null | tr '\n' ' ')"
  if [ -n "${jobs// /}" ]; then
    echo "cancelling jobs $jobs"
    # shellcheck disable=SC2086 # one argument per job id
    scancel $jobs 2>/dev/null || true
    for _ in $(seq 100); do
      [ -z "$(squeue --noheader --states=RUNNING,COMPLETING,PENDING 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
fi

stop() {  # $1: pid file. TERM, up to 10 s, then KILL.
  running "$1" || { rm -f "$1"; return 0; }
  local pid
  pid="$(cat "$1")"
  echo "stopping $(cat "/proc/$pid/comm" 2>/dev/null || echo process) (pid $pid)"
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  rm -f "$1"
}

if [ -f "$STATE_DIR/started" ]; then
  # slurmd before slurmctld before munged: the reverse of the order they were started in.
  for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    grep -qxF "$pidfile" "$STATE_DIR/started" && stop "$pidfile"
  done
  rm -f "$STATE_DIR/started"
fi

if [ "${1:-}" = "--purge" ]; then
  rm -rf /var/lib/slurm/slurmctld/* /var/lib/slurm/slurmd/* /var/log/slurm/*.log
  if head -n1 /etc/slurm/slurm.conf 2>/dev/null | grep -q "sedcycle tests/cluster"; then
    rm -f /etc/slurm/slurm.conf
  fi
fi
exit 0
