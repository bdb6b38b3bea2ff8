#!/usr/bin/env bash
# Stops the daemons slurm-up.sh started, by the process ids it recorded,
# and waits (up to 10 s) until they have exited.
base=$1
pids=()
for f in "$base/run/slurmd.pid" "$base/run/slurmctld.pid" "$base/munge/munged.pid"; do
  if [ -f "$f" ]; then
    p=$(cat "$f")
    kill "$p" 2>/dev/null && pids+=("$p")
  fi
done
for i in $(seq 1 50); do
  alive=0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && exit 0
  sleep 0.2
done
echo "slurm-down: daemons still running after 10 s: ${pids[*]}" >&2
