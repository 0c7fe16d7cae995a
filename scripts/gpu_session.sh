#!/usr/bin/env bash
# One device session (an H200 with 16 cores, about 9 minutes of work) for issues 25 and 27,
# side by side, stopped after LIMIT seconds and packed into $OUT (the device tool brings back
# at most 8 files). Everything it makes is a results store, a JSON file or a log: the
# leaderboard, the zoo and the docs are built from them afterwards, on the development machine.
#
#   OUT=folder bash scripts/gpu_session.sh          (from the repository root)
#
#   reruns   issue 25's r = 0.05 rows (erm, jtt, kmeans, groupdro, lff, dfr, group-balanced,
#            seeds 0-4, default diagnostics, eager steps) into STORE, which holds the reruns the
#            CPU finished: the sweep resumes it and trains only the seeds it lacks
#   calibrate  issue 27's stages A and B (docs/llc-calibration.md) on STORE's seed-0/1 models
#   guard    llc-guard's validation grid (seeds 0 and 1) and its pick (scripts/llc_guard_pick.py)
#   remeasure  every kept r = 0.05 model of STORE at the picked settings, once the reruns and
#            the calibration have both ended (if they end in time)
#
# A smoke run on a CPU, over a store of one-epoch mnist-5k runs of erm, jtt, kmeans and
# group-balanced (seeds 0, 1), before spending device time on it:
#   OUT=/tmp/o STORE=/tmp/s/r.sqlite DEVICE=cpu SOURCE=mnist-5k EPOCHS=1 STEPS=260 SEEDS=2 \
#     WORKERS=1 METHODS=erm LIMIT=600 bash scripts/gpu_session.sh
set -u
OUT=${OUT:?set OUT to the folder that comes back}
LIMIT=${LIMIT:-480}                       # seconds of work before everything is stopped
STORE=${STORE:-.gpu/selection.sqlite}     # kept weights beside it: <store without .sqlite>.weights/
DEVICE=${DEVICE:-cuda}
SOURCE=${SOURCE:-mnist}
DATA=${DATA_ROOT:-datasets/data}          # the MNIST files the package ships
METHODS=${METHODS:-erm,jtt,kmeans,groupdro,lff,dfr,group-balanced}
SEEDS=${SEEDS:-5}
WORKERS=${WORKERS:-9}
STEPS=${STEPS:-700}
EPOCHS=${EPOCHS:-}                        # empty: each method's own
PY=${PY:-python3}
WORK=${WORK:-/tmp/gpu-session}
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
export BENCH_CACHE_DIR=${BENCH_CACHE_DIR:-$WORK/cache}
mkdir -p "$OUT" "$WORK/logs" "$WORK/cal" "$WORK/guard"
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
log() { echo "[$(elapsed)s] $*" | tee -a "$WORK/logs/driver.log"; }
epochs=()
[ -n "$EPOCHS" ] && epochs=(--epochs "$EPOCHS")

# --- install: the wheels carried in .whl (devinterp), then this checkout --------------------
if ls .whl/*.whl > /dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$WORK/site" .whl/*.whl > "$WORK/logs/install.log" 2>&1 \
    && export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$PY" -c "import bench.methods, bench.datasets" 2> /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation -e . \
    >> "$WORK/logs/install.log" 2>&1 || log "pip install -e . failed (see install.log)"
fi
"$PY" -c "import bench.methods, bench.datasets, devinterp, torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" \
  2>&1 | tee -a "$WORK/logs/driver.log"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >> "$WORK/logs/driver.log" 2>&1
nproc >> "$WORK/logs/driver.log"

# --- the jobs, each in its own process group so that the stop reaches its workers -----------
declare -A PIDS
start() {   # start NAME COMMAND...: runs COMMAND in a new session, logs to logs/NAME.log
  local name=$1; shift
  setsid bash -c "$*" > "$WORK/logs/$name.log" 2>&1 < /dev/null &
  PIDS[$name]=$!
  log "start $name (pid ${PIDS[$name]})"
}
alive() { kill -0 "${PIDS[$1]}" 2> /dev/null; }
stop_all() {
  for name in "${!PIDS[@]}"; do
    if alive "$name"; then log "stop $name"; kill -TERM -- "-${PIDS[$name]}" 2> /dev/null; fi
  done
  sleep 10
  for name in "${!PIDS[@]}"; do kill -KILL -- "-${PIDS[$name]}" 2> /dev/null; done
}

CAL="$PY scripts/llc_calibration.py"
common="--store $STORE --data-root $DATA --device $DEVICE --out $WORK/cal"
start reruns "$PY -m bench sweep --methods $METHODS --seeds $SEEDS --conflict-ratios 0.05 \
  --source $SOURCE --data-root $DATA --store $STORE --workers $WORKERS --device $DEVICE ${epochs[*]}"
start calibrate "
  $CAL trace $common --steps $STEPS --models erm:0,jtt:0 --setting A1 > $WORK/logs/cal-a1a.log 2>&1 &
  $CAL trace $common --steps $STEPS --models kmeans:0,group-balanced:0 --setting A1 > $WORK/logs/cal-a1b.log 2>&1 &
  $CAL trace $common --steps $STEPS --models erm:1,jtt:1 --setting A1 > $WORK/logs/cal-a1c.log 2>&1 &
  $CAL trace $common --steps $STEPS --models erm:0,jtt:0 --setting A2 > $WORK/logs/cal-a2.log 2>&1 &
  $CAL trace $common --steps $STEPS --models erm:0,jtt:0 --setting A3 > $WORK/logs/cal-a3.log 2>&1 &
  wait
  $CAL analyse --out $WORK/cal --pick $WORK/pick-a.json || exit 1
  $CAL check $common --models erm:0,jtt:0 --pick $WORK/pick-a.json
  $CAL analyse --out $WORK/cal --pick $WORK/pick.json"
guard_run="$PY -m bench run --method llc-guard --source $SOURCE --conflict-ratio 0.05 \
  --data-root $DATA --device $DEVICE --diagnostics none --store $WORK/guard/grid.sqlite ${epochs[*]}"
start guard "
  $guard_run --seeds 2 --workers 2 --set top_fraction=0.05 --set upweight=5 > $WORK/logs/guard-0.log 2>&1 &
  $guard_run --seeds 2 --workers 2 --set top_fraction=0.05 --set upweight=20 > $WORK/logs/guard-1.log 2>&1 &
  $guard_run --seeds 2 --workers 2 --set top_fraction=0.2 --set upweight=5 > $WORK/logs/guard-2.log 2>&1 &
  $guard_run --seeds 2 --workers 2 --set top_fraction=0.2 --set upweight=20 > $WORK/logs/guard-3.log 2>&1 &
  wait
  $PY scripts/llc_guard_pick.py --store $WORK/guard/grid.sqlite --out $WORK/guard/pick.json"

remeasured=no
while [ "$(elapsed)" -lt "$LIMIT" ]; do
  if [ $remeasured = no ] && ! alive reruns && ! alive calibrate && [ -f "$WORK/pick.json" ]; then
    settings=$("$PY" -c "import json; print(json.dumps(json.load(open('$WORK/pick.json'))['settings']))")
    log "remeasure at $settings"
    start remeasure "
      for i in 0 1 2 3 4 5; do
        $PY scripts/llc_remeasure.py --store $STORE --data-root $DATA --device $DEVICE \
          --settings '$settings' --shard \$i/6 --out $WORK/part-\$i.json > $WORK/logs/remeasure-\$i.log 2>&1 &
      done
      wait
      $PY scripts/llc_remeasure.py --merge $WORK/part-*.json --out $WORK/llc-remeasured.json"
    remeasured=yes
  fi
  busy=no
  for name in "${!PIDS[@]}"; do alive "$name" && busy=yes; done
  [ $busy = no ] && break
  sleep 5
done
stop_all
for name in "${!PIDS[@]}"; do log "$name: $(tail -n 2 "$WORK/logs/$name.log" | tr '\n' ' ')"; done

# --- pack: stores and weights; LLC files; logs (three files) ---------------------------------
weights="${STORE%.sqlite}.weights"
tar czf "$OUT/reruns.tgz" "$STORE" "$weights" 2> /dev/null
tar czf "$OUT/llc.tgz" -C "$WORK" cal guard $(cd "$WORK" && ls pick*.json llc-remeasured.json 2> /dev/null)
log "packed after $(elapsed)s"
tar czf "$OUT/logs.tgz" -C "$WORK" logs
