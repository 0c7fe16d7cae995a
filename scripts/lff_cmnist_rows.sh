#!/usr/bin/env bash
# The rows of issue 28 on the lff-cmnist preset (docs/protocols.md): 7 methods x 4 conflict
# ratios x 5 seeds = 140 runs, on one GPU shared by N worker processes, into a results store
# in the folder given. Exports nothing: turn the store into committed records afterwards with
#   bench leaderboard --store STORE_DIR/results.sqlite --export   (into leaderboards/records)
#
# usage: scripts/lff_cmnist_rows.sh STORE_DIR [more bench sweep options]
#   WORKERS=16 (default) sets --workers; BENCH=bench (default) the command to run.
#   Options after the folder are passed to bench sweep and win over the ones below, e.g. the
#   CPU smoke test: scripts/lff_cmnist_rows.sh /tmp/rows --device cpu --images mnist-5k \
#     --seeds 1 --conflict-ratios 0.01 --epochs 1 --workers 1
# Rerunning the same command skips the runs already stored (bench sweep resumes).
set -euo pipefail
if [ $# -lt 1 ] || [ -z "$1" ]; then
    echo "usage: $0 STORE_DIR [more bench sweep options]" >&2
    exit 2
fi
out=$1
shift
mkdir -p "$out"
exec ${BENCH:-bench} sweep --protocol lff-cmnist \
    --methods erm,lff-paper,dfa,jtt,kmeans,groupdro,group-balanced \
    --conflict-ratios 0.005,0.01,0.02,0.05 --seeds 5 --images mnist \
    --device cuda --workers "${WORKERS:-16}" --store "$out/results.sqlite" "$@"
