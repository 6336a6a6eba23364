#!/bin/bash
# Runs every benchmark at the sizes recorded in docs/perf/*.md and writes
# the tables (.txt) and JSON into a folder. Usage, from the project root on
# a machine with GPUs, after building into BUILD (default build-gpu):
#   bash bench/gpu-figures.sh [OUTDIR] [part...]
# parts: tasks gpu algorithms scaling collectives info (default: all).
set -uo pipefail
out=${1:-bench-results}; shift || true
parts=${*:-tasks gpu algorithms scaling collectives info}
b=${BUILD:-build-gpu}
export NCCL_NVLS_ENABLE=0
mkdir -p "$out"
ngpu=$(nvidia-smi -L 2>/dev/null | wc -l)
rc=0
run() { # name, command...
    local name=$1; shift
    echo "== $name: $*" | tee "$out/$name.txt"
    timeout 400 "$@" --json "$out/$name.json" 2>&1 | tee -a "$out/$name.txt"
    local r=${PIPESTATUS[0]}
    [ "$r" = 0 ] || [ "$r" = 77 ] || rc=1
}
for p in $parts; do
    case $p in
    tasks) run task_overhead "$b/bench/task_overhead/task_overhead" \
               --tasks 1000000 --reps 7 ;;
    gpu) run gpu_tasks "$b/bench/gpu_tasks/gpu_tasks" --tasks 100000 \
             --chain 10000 --allocs 100000 --reps 7 ;;
    algorithms) run algorithms "$b/bench/algorithms/bench_algorithms" \
                    --min-log 20 --max-log 30 --host-max-log 26 ;;
    scaling) [ "$ngpu" -gt 1 ] && run algorithms_scaling \
                 "$b/bench/algorithms/bench_algorithms" --no-host \
                 --min-log 31 --max-log 31 --devices "$ngpu" ;;
    collectives) run collectives "$b/bench/collectives/coll_bench" \
                     --max-bytes 1073741824 --iters 20 --reps 5 ;;
    info) "$b/tools/flo-info" --bandwidth > "$out/flo-info.txt" 2>&1 ;;
    esac
done
exit $rc
