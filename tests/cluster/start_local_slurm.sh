#!/usr/bin/env bash
# Start a one-node SLURM on this machine for tests/cluster: Debian's slurm-wlm and munge,
# slurmctld + slurmd, no accounting daemon, no cgroups. Installs the packages when missing,
# writes /etc/slurm/slurm.conf for this host and waits until the node is idle.
# Root only. Every daemon it starts is recorded in $STATE_DIR/started, so that
# stop_local_slurm.sh stops those and nothing else. Safe to run twice.
#
#   SLURM_PARTITION  partition name (default: debug)
#   SLURM_WAIT_S     seconds to wait for the node to become idle (default: 60)
set -euo pipefail

PARTITION="${SLURM_PARTITION:-debug}"
WAIT_S="${SLURM_WAIT_S:-60}"
STATE_DIR=/run/sedcycle-slurm
CONF=/etc/slurm/slurm.conf
MARK="# written by sedcycle tests/cluster/start_local_slurm.sh"
NODE="$(hostname -s)"
START=$SECONDS

say() { echo "[start_local_slurm +$((SECONDS - START))s] $*"; }
die() { echo "start_local_slurm: $*" >&2; exit 1; }
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts daemons)"

# 1. packages: --no-install-recommends keeps it to the daemons and the client commands.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
  || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
  command -v apt-get >/dev/null || die "slurm-wlm is not installed and there is no apt-get"
  say "apt-get install slurm-wlm munge"
  export DEBIAN_FRONTEND=noninteractive
  install_packages() { apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null; }
  install_packages || { apt-get update -q >/dev/null && install_packages; }
fi

# 2. never overwrite a slurm.conf that this script did not write (a real cluster's, say).
if [ -e "$CONF" ] && ! head -n1 "$CONF" | grep -qxF "$MARK"; then
  die "$CONF exists and was not written by this script; not touching it"
fi
getent hosts "$NODE" >/dev/null || die "host name $NODE does not resolve (add it to /etc/hosts)"
mkdir -p "$STATE_DIR"
touch "$STATE_DIR/started"
record() { grep -qxF "$1" "$STATE_DIR/started" || echo "$1" >>"$STATE_DIR/started"; }

# 3. munge: the package creates the key; create one if it did not.
install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
install -d -o munge -g munge -m 0711 /var/lib/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "starting munged"
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged
  record /run/munge/munged.pid
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null || die "munge does not work"

# 4. slurm.conf for this host: topology from `slurmd -C`, memory 90 % of what it reports so
# that the node is never drained for low memory. MinJobAge keeps finished jobs visible to
# squeue for 10 min: the snakemake plugin polls squeue (there is no slurmdbd for sacct).
hardware="$(slurmd -C | head -n1)"
topology="$(grep -oE '(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+' \
  <<<"$hardware" | tr '\n' ' ')"
memory_mb=$(($(grep -oE 'RealMemory=[0-9]+' <<<"$hardware" | cut -d= -f2) * 9 / 10))
mkdir -p /etc/slurm /var/lib/slurm/slurmd /var/lib/slurm/slurmctld /var/log/slurm
chown slurm:slurm /var/lib/slurm/slurmctld /var/log/slurm
new_conf="$(mktemp)"
cat >"$new_conf" <<EOF
$MARK
ClusterName=sedcycle-test
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
KillWait=5
NodeName=$NODE NodeAddr=127.0.0.1 ${topology}RealMemory=$memory_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
if ! cmp -s "$new_conf" "$CONF"; then
  say "writing $CONF"
  install -m 0644 "$new_conf" "$CONF"
  # A running controller would keep the old configuration: restart what we started.
  for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
    if running "$pidfile"; then
      pid="$(cat "$pidfile")"
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
fi
rm -f "$new_conf"

# 5. daemons; -c starts the controller without the jobs of an earlier test run.
if ! running /run/slurmctld.pid; then
  say "starting slurmctld"
  /usr/sbin/slurmctld -c
  record /run/slurmctld.pid
fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.1; done
if ! running /run/slurmd.pid; then
  say "starting slurmd"
  /usr/sbin/slurmd
  record /run/slurmd.pid
fi

# 6. wait for the node; a node left down by an earlier run is resumed.
state=""
deadline=$((SECONDS + WAIT_S))
while [ "$SECONDS" -lt "$deadline" ]; do
  state="$(sinfo --noheader --nodes="$NODE" --format=%t 2>/dev/null | head -n1 || true)"
  case "$state" in
    idle | mix | alloc) break ;;
    down* | drain* | drng* | fail*) scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 0.5
done
case "$state" in
  idle | mix | alloc) ;;
  *)
    scontrol show node "$NODE" >&2 || true
    tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
    die "node $NODE is '$state' after ${WAIT_S}s"
    ;;
esac
say "node $NODE is $state; partition $PARTITION; daemons: $(tr '\n' ' ' <"$STATE_DIR/started")"
