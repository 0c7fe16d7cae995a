#!/usr/bin/env bash
# Issue 27 on the CPU, one process at a time (docs/llc-calibration.md, second amendment):
# calibration stage A (erm and jtt seed 0, A1 and A2) and B, the remeasurement of every kept
# r = 0.05 model of STORE at the pick, llc-guard's validation grid (seed 0), an ERM cost
# reference, the guard's pick, then its 5 seeds with every diagnostic.
#   STORE=runs/selection.sqlite DATA_ROOT=../shared/data OUT=runs/llc bash scripts/llc_cpu_queue.sh
set -u
STORE=${STORE:?set STORE to the reruns store}
DATA=${DATA_ROOT:-../shared/data}
OUT=${OUT:?set OUT}
PY=${PY:-python}
export OMP_NUM_THREADS=1
mkdir -p "$OUT/cal" "$OUT/logs"
log() { echo "$(date -u +%FT%TZ) $*" >> "$OUT/logs/queue.log"; }
CAL="$PY scripts/llc_calibration.py"
common="--store $STORE --data-root $DATA --device cpu --out $OUT/cal"
log start
$CAL trace $common --models erm:0,jtt:0 --setting A1 > "$OUT/logs/cal-a1.log" 2>&1; log "A1 rc=$?"
$CAL trace $common --models erm:0,jtt:0 --setting A2 > "$OUT/logs/cal-a2.log" 2>&1; log "A2 rc=$?"
$CAL analyse --out "$OUT/cal" --pick "$OUT/pick-a.json" > "$OUT/logs/cal-analyse-a.log" 2>&1; log "analyse A rc=$?"
$CAL check $common --models erm:0,jtt:0 --pick "$OUT/pick-a.json" > "$OUT/logs/cal-b.log" 2>&1; log "B rc=$?"
$CAL analyse --out "$OUT/cal" --pick "$OUT/pick.json" > "$OUT/logs/cal-analyse.log" 2>&1; log "analyse rc=$?"
settings=$("$PY" -c "import json; print(json.dumps(json.load(open('$OUT/pick.json'))['settings']))")
$PY scripts/llc_remeasure.py --store "$STORE" --data-root "$DATA" --settings "$settings" \
  --out "$OUT/llc-remeasured.json" > "$OUT/logs/remeasure.log" 2>&1; log "remeasure rc=$?"
run="$PY -m bench run --source mnist --conflict-ratio 0.05 --data-root $DATA --device cpu"
for sets in "top_fraction=0.05 upweight=5" "top_fraction=0.05 upweight=20" \
            "top_fraction=0.2 upweight=5" "top_fraction=0.2 upweight=20"; do
  set -- $sets
  $run --method llc-guard --seeds 1 --diagnostics none --set "$1" --set "$2" \
    --store "$OUT/guard-grid.sqlite" >> "$OUT/logs/guard-grid.log" 2>&1; log "guard $sets rc=$?"
done
$run --method erm --seeds 1 --diagnostics none --store "$OUT/guard-grid.sqlite" \
  >> "$OUT/logs/guard-grid.log" 2>&1; log "erm reference rc=$?"
$PY scripts/llc_guard_pick.py --store "$OUT/guard-grid.sqlite" --out "$OUT/guard-pick.json" \
  > "$OUT/logs/guard-pick.log" 2>&1; log "pick rc=$?"
chosen=$("$PY" -c "import json; h=json.load(open('$OUT/guard-pick.json'))['hparams']; print(' '.join(f'--set {k}={v}' for k, v in h.items()))")
$run --method llc-guard --seeds 5 --workers 1 $chosen --store "$OUT/guard.sqlite" \
  > "$OUT/logs/guard-final.log" 2>&1; log "guard final rc=$?"
log done
