#!/usr/bin/env bash
# Starts a single-node Slurm (munged, slurmctld, slurmd) for the integration
# test of `refugelab study --executor slurm`. State, spool, logs and pid files
# live under $1 (a temporary folder); the pids are written to $1/pids so that
# slurm-down.sh stops exactly the daemons started here.
set -euo pipefail
base=$1
mkdir -p "$base"/{state,spool,log,munge,run}
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
# munge: a fresh key, socket and pid file under $base.
mungekey --create --keyfile="$base/munge/munge.key" --force
chmod 0400 "$base/munge/munge.key"
munged --force --key-file="$base/munge/munge.key" --socket="$base/munge/munge.socket" \
  --pid-file="$base/munge/munged.pid" --log-file="$base/log/munged.log" --seed-file="$base/munge/seed"
cat > "$base/slurm.conf" <<CONF
ClusterName=refugelab-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$base/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool
SlurmctldPidFile=$base/run/slurmctld.pid
SlurmdPidFile=$base/run/slurmd.pid
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$base/log/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF=$base/slurm.conf
slurmctld -f "$base/slurm.conf"
slurmd -f "$base/slurm.conf"
for i in $(seq 1 60); do
  if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    for f in "$base/munge/munged.pid" "$base/run/slurmctld.pid" "$base/run/slurmd.pid"; do cat "$f"; done > "$base/pids"
    echo "slurm up: $(sinfo -h -o '%P %D %T %C')"
    exit 0
  fi
  sleep 1
done
echo "slurm did not come up; logs:" >&2
tail -n 20 "$base"/log/*.log >&2 || true
exit 1
