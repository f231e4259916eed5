#!/usr/bin/env bash
# Scale of a whole training step: scenarios/deepseek-v3.ini (61 layers, 256 routed + 1 shared
# experts top-8, node-limited to 4 nodes, EP64, hierarchical all-to-all) from 64 to 16,384
# GPUs, 16 micro-batches per data-parallel rank: pp = min(16, GPUs / 64), dp = GPUs / pp.
# Each size runs in its own process; prints GPUs, the simulated step time, tasks, engine
# events, wall and CPU time, peak memory (GNU time) and events per second.
#   tests/bench_step.sh [BIN] [MIN_GPUS] [MAX_GPUS] [EXTRA --set ARGS...]
# The scenario keeps its two reductions (run.replicas = 1, network.flow_quantum_us = 20);
# for the full simulation add --set run.replicas=0 --set network.flow_quantum_us=0, e.g.
#   tests/bench_step.sh ./moesim 2048 2048 --set run.replicas=0 --set network.flow_quantum_us=0
set -u
bin=${1:-./moesim}
min=${2:-64}
max=${3:-2048}
shift 3 2>/dev/null || shift $#
extra=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timer=/usr/bin/time
[ -x "$timer" ] || timer=""
printf '%8s %12s %12s %12s %9s %9s %10s %12s %s\n' GPUs step_s tasks events wall_s cpu_s peak_MiB \
  events/s "${extra[*]}"
for n in 64 128 256 512 1024 2048 4096 8192 16384; do
  [ "$n" -lt "$min" ] || [ "$n" -gt "$max" ] && continue
  pp=$((n / 64)); [ "$pp" -gt 16 ] && pp=16
  dp=$((n / pp))
  args=(run scenarios/deepseek-v3.ini --db "$tmp/s$n.db" --json --quiet
        --set cluster.nodes=$((n / 8)) --set parallel.pp=$pp
        --set training.global_batch=$((16 * dp)) "${extra[@]}")
  if [ -n "$timer" ]; then
    "$timer" -f '%e %U %S %M' -o "$tmp/time" "$bin" "${args[@]}" > "$tmp/out.json" 2> "$tmp/err" ||
      { echo "$n GPUs: failed: $(tail -n 1 "$tmp/err")"; continue; }
    read -r wall user sys peak < "$tmp/time"
  else
    start=$(date +%s.%N)
    "$bin" "${args[@]}" > "$tmp/out.json" 2> "$tmp/err" || { echo "$n GPUs: failed"; continue; }
    wall=$(echo "$(date +%s.%N) - $start" | bc); user=$wall; sys=0; peak=0
  fi
  step=$(sed -n 's/.*"step_time_s":[[:space:]]*\([0-9.e+-]*\).*/\1/p' "$tmp/out.json" | head -n 1)
  tasks=$(sed -n 's/.*"tasks":[[:space:]]*\([0-9.e+-]*\).*/\1/p' "$tmp/out.json")
  events=$(sed -n 's/.*"events":[[:space:]]*\([0-9.e+-]*\).*/\1/p' "$tmp/out.json")
  awk -v n="$n" -v st="$step" -v t="$tasks" -v e="$events" -v w="$wall" -v u="$user" -v s="$sys" -v p="$peak" \
    'BEGIN { printf "%8d %12.6f %12d %12d %9.2f %9.2f %10.0f %12.0f\n", n, st, t, e, w, u + s, p / 1024, e / w }'
done
