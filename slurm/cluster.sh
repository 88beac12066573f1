#!/usr/bin/env bash
# A private single-node Slurm cluster for tests and CI (docs: slurm/README.md). Everything it has
# lives under DIR (the argument, else $LEM_SLURM_DIR): munge key and socket, slurm.conf, gres.conf,
# state, spool, logs and pid files. Nothing is written to /etc; every Slurm command finds the
# cluster through SLURM_CONF.
#
#   slurm/cluster.sh start [DIR]   start munged, slurmctld and slurmd, wait until the node is idle,
#                                  print `export SLURM_CONF=DIR/slurm.conf` on stdout; a running
#                                  cluster is reused
#   slurm/cluster.sh env [DIR]     print that line if the cluster answers (exit 1 if not)
#   slurm/cluster.sh stop [DIR]    cancel every job, stop the daemons by their pid files, remove
#                                  what they left under DIR; safe to call twice
#
# The node is this machine under its real name, CPUs and memory (`slurmd -C`), with two GPUs
# declared as a GRES over two device files in DIR/dev (see write_conf): jobs asking `--gres=gpu:1` get one
# of them (no real device). At least 2 CPUs are declared so two one-GPU, one-CPU jobs run at once.
#
# Needs root and Debian's slurm-wlm and munge (exit 2 with how to install them when missing).
# Ports: slurmctld $LEM_SLURM_PORT (default 16817), slurmd the next one; on loopback only.
# Only the export line goes to stdout, so `eval "$(slurm/cluster.sh start DIR)"` works.
set -euo pipefail
cmd=${1:-}
dir=${2:-${LEM_SLURM_DIR:-}}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|env|stop DIR   (or set LEM_SLURM_DIR)" >&2
  exit 2
fi
dir=$(realpath -m "$dir")
conf="$dir/slurm.conf"
ctld_port=${LEM_SLURM_PORT:-16817}
slurmd_port=$((ctld_port + 1))

answers() { SLURM_CONF=$conf timeout 5 sinfo -h -o %T >/dev/null 2>&1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
node_state() { SLURM_CONF=$conf timeout 5 sinfo -h -N -o %T 2>/dev/null | head -n 1; }

# Stops the process of pid file $1: TERM, up to 10 s, then KILL.
stop_pidfile() {
  alive "$1" || return 0
  local pid
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

write_conf() {
  # slurmd -C: "NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105" on its first line.
  local probe node cpus mem
  probe=$(slurmd -C | head -n 1)
  node=$(sed -n 's/.*NodeName=\([^ ]*\).*/\1/p' <<<"$probe")
  cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$probe")
  mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$probe")
  # Two parallel one-CPU jobs need two CPUs; on a one-CPU machine slurmd is told to trust the
  # file over the hardware.
  local overrides=""
  if [ "$cpus" -lt 2 ]; then cpus=2; overrides="SlurmdParameters=config_overrides"; fi
  mkdir -p "$dir"/{munge,state,spool,log,dev}
  # Slurm sets SLURM_JOB_GPUS and CUDA_VISIBLE_DEVICES only for GRES files that are devices, so
  # the two "GPUs" are character devices with the numbers of /dev/null and /dev/zero (harmless
  # to open); where mknod is refused (a nodev mount) they are empty files, and jobs still get
  # their GPU by count (SLURM_GPUS_ON_NODE) but without those variables.
  rm -f "$dir/dev/nvidia0" "$dir/dev/nvidia1"
  if ! { mknod "$dir/dev/nvidia0" c 1 3 && mknod "$dir/dev/nvidia1" c 1 5; } 2>/dev/null; then
    echo "cluster.sh: mknod refused under $dir; the GPUs are empty files (no CUDA_VISIBLE_DEVICES in jobs)" >&2
    rm -f "$dir/dev/nvidia0" "$dir/dev/nvidia1"
    touch "$dir/dev/nvidia0" "$dir/dev/nvidia1"
  fi
  cat >"$dir/gres.conf" <<GRES
AutoDetect=off
NodeName=$node Name=gpu File=$dir/dev/nvidia[0-1]
GRES
  cat >"$conf" <<CONF
ClusterName=lemtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd.%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# The cgroup plugins fail on these hosts' hybrid cgroup layout.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
# Finished jobs stay visible to scontrol show job for 5 min (no accounting, so no sacct).
MinJobAge=300
KillWait=5
GresTypes=gpu
# A job in lem-urgent preempts (cancels) jobs of lem on the node: how a test sees PREEMPTED.
PreemptType=preempt/partition_prio
PreemptMode=CANCEL
$overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:2 State=UNKNOWN
PartitionName=lem Nodes=$node Default=YES MaxTime=INFINITE State=UP PriorityTier=1
PartitionName=lem-urgent Nodes=$node MaxTime=INFINITE State=UP PriorityTier=2 PreemptMode=OFF
CONF
}

start_munge() {
  alive "$dir/munge/munged.pid" && return 0
  [ -f "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key" --force >/dev/null
  chmod 700 "$dir/munge"
  chmod 600 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
}

port_taken() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

stop_cluster() {
  if answers; then
    # A job step whose slurmd is gone lingers as slurmstepd and ignores SIGTERM: cancel first.
    SLURM_CONF=$conf scancel --full --quiet --user=root 2>/dev/null || true
    for _ in $(seq 1 100); do
      [ -z "$(SLURM_CONF=$conf squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  stop_pidfile "$dir/slurmd.pid"
  stop_pidfile "$dir/slurmctld.pid"
  stop_pidfile "$dir/munge/munged.pid"
  rm -rf "$dir/munge" "$dir/state" "$dir/spool" "$dir/dev" "$dir/slurm.conf" "$dir/gres.conf" \
    "$dir/slurmd.pid" "$dir/slurmctld.pid"
  [ "${1:-}" = keep-log ] || rm -rf "$dir/log"
  rmdir "$dir" 2>/dev/null || true
}

case "$cmd" in
  start)
    [ "$(id -u)" -eq 0 ] || { echo "cluster.sh: the Slurm daemons run as root here" >&2; exit 2; }
    for bin in slurmctld slurmd sinfo sbatch munged mungekey; do
      command -v "$bin" >/dev/null || {
        echo "cluster.sh: no $bin. Try: apt-get install -y slurm-wlm munge" >&2
        exit 2
      }
    done
    if alive "$dir/slurmctld.pid" && alive "$dir/slurmd.pid" && answers; then
      echo "export SLURM_CONF=$conf"
      exit 0
    fi
    # Half a cluster (a daemon died, a previous run was killed): start over, keeping its logs.
    if [ -f "$dir/slurmctld.pid" ] || [ -f "$dir/slurmd.pid" ] || [ -f "$dir/munge/munged.pid" ]; then
      echo "cluster.sh: restarting the cluster under $dir" >&2
      stop_cluster keep-log
    fi
    for p in "$ctld_port" "$slurmd_port"; do
      if port_taken "$p"; then
        echo "cluster.sh: port $p is taken. Try: LEM_SLURM_PORT=<free port> $0 start $dir" >&2
        exit 1
      fi
    done
    write_conf
    start_munge
    export SLURM_CONF=$conf
    slurmctld
    slurmd
    # Idle means slurmctld answers, slurmd registered and its GRES matched (else INVAL/DRAIN).
    state=""
    for _ in $(seq 1 300); do
      state=$(node_state)
      [ "$state" = idle ] && break
      sleep 0.1
    done
    if [ "$state" != idle ]; then
      echo "cluster.sh: the node is '${state:-not answering}' after 30 s; logs in $dir/log:" >&2
      tail -n 5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 2>/dev/null || true
      exit 1
    fi
    echo "export SLURM_CONF=$conf"
    ;;
  env)
    answers || { echo "cluster.sh: no Slurm answers with SLURM_CONF=$conf" >&2; exit 1; }
    echo "export SLURM_CONF=$conf"
    ;;
  stop) stop_cluster ;;
  *)
    echo "usage: $0 start|env|stop DIR" >&2
    exit 2
    ;;
esac
