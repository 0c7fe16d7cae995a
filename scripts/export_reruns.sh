#!/usr/bin/env bash
# Reruns into the committed leaderboard, in the order the checks need (issue 25 item 5, issue 27
# item 3): snapshot the store a queue may still be writing, measure each rerun's drift against
# the record it replaces, export records and kept weights (the zoo), re-measure the LLC of the
# zoo models the committed file lacks at the calibrated settings, then regenerate the pages.
#   STORE=runs/selection.sqlite DATA_ROOT=../shared/data bash scripts/export_reruns.sh
# WORKERS=2 splits the LLC re-measurement into that many one-thread processes.
# NEW_ROWS=1 exports runs that replace no record (a new method's row): no drift to measure.
set -euo pipefail
STORE=${STORE:?set STORE to the reruns store}
DATA=${DATA_ROOT:-../shared/data}
WORKERS=${WORKERS:-2}
PY=${PY:-python}
SNAP=$(mktemp -d)/reruns.sqlite
export OMP_NUM_THREADS=1
sqlite3 "$STORE" ".backup '$SNAP'"                   # consistent while a writer runs
cp -r "${STORE%.sqlite}.weights" "${SNAP%.sqlite}.weights"
if [ "${NEW_ROWS:-0}" = 1 ]; then
  bench leaderboard --export --store "$SNAP" --out leaderboards --readme README.md
else
  $PY scripts/rerun_drift.py --rerun "$SNAP"
  bench leaderboard --export --store "$SNAP" --replace-committed --out leaderboards --readme README.md
fi
LLC=leaderboards/records/llc-remeasured.json
parts=() pids=()
for ((i = 0; i < WORKERS; i++)); do
  parts+=("${SNAP%.sqlite}-llc$i.json")
  $PY scripts/llc_remeasure.py --zoo leaderboards/models --data-root "$DATA" --update "$LLC" \
    --shard "$i/$WORKERS" --out "${parts[-1]}" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done      # set -e stops on a failed shard
$PY scripts/llc_remeasure.py --merge "${parts[@]}" --out "$LLC"
bench leaderboard --no-store --out leaderboards --readme README.md
echo "exported from $SNAP; check: pytest tests/test_docs_claims.py tests/test_leaderboard_golden.py tests/test_zoo.py"
