#!/usr/bin/env bash
# Issue 27 on one GPU, in parallel processes (about 8 minutes on an H200 with 16 cores):
#   calibrate   stage A/B of docs/llc-calibration.md on the reruns' kept models -> pick.json
#               (done on the CPU on 2026-12-04: the pick is bench.diagnostics.llc.CALIBRATED;
#               not in the default PARTS any more)
#   remeasure   every kept run of the store at the calibrated settings -> llc-remeasured.json
#   trajectory  the LLC after every epoch: erm (20 epochs), jtt, kmeans, group-balanced
#   guard       llc-guard: validation grid (seeds 0, 1) -> pick -> 5 seeds, all diagnostics
# Usage, from the repository root:
#   STORE=runs/selection.sqlite DATA_ROOT=shared/data OUT=$OUT bash scripts/llc_device.sh
# STORE's kept weights must sit beside it (<store>.weights/). PARTS selects parts
# (default all); each part logs to $OUT/logs/. Nothing is written to STORE.
set -u
PY=${PY:-python}
STORE=${STORE:?set STORE to the results store of the reruns}
DATA=${DATA_ROOT:-shared/data}
OUT=${OUT:?set OUT to the output folder}
PARTS=${PARTS:-remeasure trajectory guard}
export OMP_NUM_THREADS=1
export BENCH_CACHE_DIR=${BENCH_CACHE_DIR:-/tmp/bench-cache-llc27}   # outside $OUT: large
mkdir -p "$OUT/logs" "$OUT/cal"
T0=$(date +%s)
log() { echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/logs/driver.log"; }
want() { case " $PARTS " in *" $1 "*) return 0;; esac; return 1; }
"$PY" -c "import devinterp, torch; assert torch.cuda.is_available()" \
  || { log "needs devinterp and a CUDA build of torch"; exit 2; }
CAL="$PY scripts/llc_calibration.py"
GUARD_GRID="--set top_fraction=0.05 --set upweight=5|--set top_fraction=0.05 --set upweight=20|--set top_fraction=0.2 --set upweight=5|--set top_fraction=0.2 --set upweight=20"

log "splits for seeds 0-4 (one process per seed, so no two write one cache file)"
for s in 0 1 2 3 4; do
  "$PY" -c "from bench.data import new_data_spec, prepare_splits; prepare_splits(new_data_spec(source='mnist', conflict_ratio=0.05, seed=$s), data_root='$DATA')" &
done
wait

calibrate() {
  local common="--store $STORE --data-root $DATA --device cuda --out $OUT/cal"
  $CAL trace $common --models erm:0,jtt:0 --setting A1 > "$OUT/logs/cal-a1a.log" 2>&1 &
  $CAL trace $common --models kmeans:0,group-balanced:0 --setting A1 > "$OUT/logs/cal-a1b.log" 2>&1 &
  $CAL trace $common --models erm:1,jtt:1 --setting A1 > "$OUT/logs/cal-a1c.log" 2>&1 &
  $CAL trace $common --models erm:0,jtt:0 --setting A2 > "$OUT/logs/cal-a2.log" 2>&1 &
  $CAL trace $common --models erm:0,jtt:0 --setting A3 > "$OUT/logs/cal-a3.log" 2>&1 &
  wait
  $CAL analyse --out "$OUT/cal" --pick "$OUT/pick-a.json" > "$OUT/logs/cal-analyse-a.log" 2>&1 || return 1
  $CAL check $common --models erm:0,jtt:0 --pick "$OUT/pick-a.json" > "$OUT/logs/cal-b.log" 2>&1
  $CAL analyse --out "$OUT/cal" --pick "$OUT/pick.json" > "$OUT/logs/cal-analyse.log" 2>&1
}

remeasure() {   # $1: store, $2: output file; four shards in parallel, calibrated settings
  for i in 0 1 2 3; do
    "$PY" scripts/llc_remeasure.py --store "$1" --data-root "$DATA" --device cuda \
      --shard $i/4 --out "$OUT/part-$(basename "$2" .json)-$i.json" \
      > "$OUT/logs/remeasure-$(basename "$2" .json)-$i.log" 2>&1 &
  done
  wait
  "$PY" scripts/llc_remeasure.py --merge "$OUT"/part-"$(basename "$2" .json)"-*.json --out "$2" \
    >> "$OUT/logs/remeasure-$(basename "$2" .json)-0.log" 2>&1
}

trajectory() {
  local common="--data-root $DATA --device cuda --probe"      # the calibrated settings
  "$PY" scripts/llc_trajectory.py --method erm --set epochs=20 --seeds 0 $common --csv "$OUT/traj-erm20-0.csv" > "$OUT/logs/traj-erm-0.log" 2>&1 &
  "$PY" scripts/llc_trajectory.py --method erm --set epochs=20 --seeds 1 $common --csv "$OUT/traj-erm20-1.csv" > "$OUT/logs/traj-erm-1.log" 2>&1 &
  "$PY" scripts/llc_trajectory.py --method jtt --seeds 0 $common --csv "$OUT/traj-jtt-0.csv" > "$OUT/logs/traj-jtt-0.log" 2>&1 &
  "$PY" scripts/llc_trajectory.py --method jtt --seeds 1 $common --csv "$OUT/traj-jtt-1.csv" > "$OUT/logs/traj-jtt-1.log" 2>&1 &
  "$PY" scripts/llc_trajectory.py --method kmeans --seeds 0 $common --csv "$OUT/traj-kmeans-0.csv" > "$OUT/logs/traj-kmeans-0.log" 2>&1 &
  "$PY" scripts/llc_trajectory.py --method group-balanced --seeds 0 $common --csv "$OUT/traj-gb-0.csv" > "$OUT/logs/traj-gb-0.log" 2>&1 &
  wait
  "$PY" scripts/llc_trajectory.py --from-csv "$OUT"/traj-*.csv --png "$OUT/llc-trajectory.png" \
    > "$OUT/llc-trajectory.md" 2> "$OUT/logs/traj-plot.log"
}

guard() {
  local run="$PY -m bench run --source mnist --conflict-ratio 0.05 --data-root $DATA --device cuda"
  local i=0
  IFS='|' read -ra grid <<< "$GUARD_GRID"
  for sets in "${grid[@]}"; do
    $run --method llc-guard --seeds 2 --workers 2 --diagnostics none $sets \
      --store "$OUT/guard-grid.sqlite" > "$OUT/logs/guard-grid-$i.log" 2>&1 &
    i=$((i + 1))
  done
  # ERM under the same load, for the guard's cost relative to ERM
  $run --method erm --seeds 2 --workers 2 --diagnostics none --store "$OUT/erm-cost.sqlite" \
    > "$OUT/logs/erm-cost.log" 2>&1 &
  wait
  "$PY" scripts/llc_guard_pick.py --store "$OUT/guard-grid.sqlite" --out "$OUT/guard-pick.json" \
    > "$OUT/logs/guard-pick.log" 2>&1 || return 1
  local chosen; chosen=$("$PY" -c "import json; h=json.load(open('$OUT/guard-pick.json'))['hparams']; print(' '.join(f'--set {k}={v}' for k, v in h.items()))")
  log "guard pick: $chosen"
  $run --method llc-guard --seeds 5 --workers 5 --diagnostics all $chosen \
    --store "$OUT/guard.sqlite" > "$OUT/logs/guard-final.log" 2>&1
}

if want calibrate || want remeasure; then
  ( want calibrate && { calibrate; log "calibrate rc=$?"; }
    want remeasure && { remeasure "$STORE" "$OUT/llc-remeasured.json"; log "remeasure rc=$?"; } ) &
fi
want trajectory && { ( trajectory; log "trajectory rc=$?" ) & }
want guard && { ( guard; log "guard rc=$?"
  [ -f "$OUT/guard.sqlite" ] && remeasure "$OUT/guard.sqlite" "$OUT/llc-remeasured-guard.json" ) & }
wait
rm -f "$OUT"/part-*.json
if [ -f "$OUT/llc-remeasured.json" ]; then
  stores="$STORE"; files="$OUT/llc-remeasured.json"
  [ -f "$OUT/llc-remeasured-guard.json" ] && { stores="$stores $OUT/guard.sqlite"; files="$files $OUT/llc-remeasured-guard.json"; }
  "$PY" scripts/llc_equal_budget.py --store $stores --remeasured $files > "$OUT/llc-equal-budget.md" 2> "$OUT/logs/equal-budget.log"
fi
log "done"
