#!/usr/bin/env bash
# Stops the daemons slurm-up.sh started, by the process ids it recorded.
base=$1
for f in "$base/run/slurmd.pid" "$base/run/slurmctld.pid" "$base/munge/munged.pid"; do
  [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
done
