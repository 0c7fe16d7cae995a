#!/usr/bin/env bash
# One device session (an H200 with 16 cores, about 9 minutes of work) for what the CPU could
# not finish of issues 25, 27 and 28, side by side, stopped after LIMIT seconds and packed into
# $OUT (the device tool brings back at most 8 files). Everything it makes is a results store, a
# JSON/CSV file or a log: the leaderboard, the zoo and the docs are built from them afterwards,
# on the development machine (scripts/export_reruns.sh for the reruns).
#
#   OUT=folder bash scripts/gpu_session.sh          (from the repository root)
#
#   reruns   issue 25/27's r = 0.05 rows with kept weights (erm, jtt, kmeans, groupdro, lff, dfr,
#            group-balanced, color-kl, ablate-texture, greyscale, seeds 0-4, and erm at 20
#            epochs, the budget of jtt's and kmeans' reported stage), default diagnostics, into
#            STORE, which holds the reruns the CPU finished: the sweep resumes it and trains only
#            the seeds it lacks; then r = 0.02 and 0.01 (erm, jtt, kmeans, groupdro, 3 seeds)
#   llc      scripts/llc_device.sh parts trajectory and guard (issue 27 items 4 and 5)
#   lff      issue 28's rows on the lff-cmnist preset (scripts/lff_cmnist_rows.sh), LFF_WORKERS
#            processes, LFF_ARGS appended (e.g. "--methods dfa --seeds 3"); then, if LFF_THEN
#            is set and the first sweep's duration fits again before LIMIT, a second sweep
#            with LFF_THEN appended instead (e.g. "--methods dfa --first-seed 3 --seeds 2")
#   remeasure  every kept r = 0.05 model of STORE at the calibrated LLC settings, once the r =
#            0.05 reruns have ended (if they end in time)
#
# issue 28's dfa rows, as run on 2026-12-05 (an H100, 16 cores: 12 runs in 5.5 minutes):
#   OUT=$OUT JOBS=lff LIMIT=515 LFF_WORKERS=12 \
#     LFF_ARGS="--methods dfa --conflict-ratios 0.005,0.01,0.02,0.05 --seeds 3" bash scripts/gpu_session.sh
#
# A smoke run on a CPU, over a store of one-epoch mnist-5k runs, before spending device time:
#   OUT=/tmp/o STORE=/tmp/s/r.sqlite DEVICE=cpu SOURCE=mnist-5k EPOCHS=1 SEEDS=1 WORKERS=1 \
#     METHODS=erm JOBS=reruns LIMIT=600 bash scripts/gpu_session.sh
set -u
OUT=${OUT:?set OUT to the folder that comes back}
LIMIT=${LIMIT:-480}                       # seconds of work before everything is stopped
STORE=${STORE:-.gpu/selection.sqlite}     # kept weights beside it: <store without .sqlite>.weights/
DEVICE=${DEVICE:-cuda}
SOURCE=${SOURCE:-mnist}
DATA=${DATA_ROOT:-datasets/data}          # the MNIST files the package ships
METHODS=${METHODS:-erm,jtt,kmeans,groupdro,lff,dfr,group-balanced,color-kl,ablate-texture,greyscale}
SEEDS=${SEEDS:-5}
WORKERS=${WORKERS:-8}
JOBS=${JOBS:-reruns llc lff}
EPOCHS=${EPOCHS:-}                        # empty: each method's own
MPS=${MPS:-1}                             # 1: start CUDA MPS for the GPU's processes
LFF_WORKERS=${LFF_WORKERS:-4}
LFF_ARGS=${LFF_ARGS:-}
LFF_THEN=${LFF_THEN:-}
PY=${PY:-python3}
WORK=${WORK:-/tmp/gpu-session}
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
export BENCH_CACHE_DIR=${BENCH_CACHE_DIR:-$WORK/cache}
mkdir -p "$OUT" "$WORK/logs" "$WORK/llc" "$WORK/lff"
T0=$(date +%s)
export T0 LIMIT   # the lff job's second sweep reads them
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
"$PY" -c "import bench.methods, bench.datasets, torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" \
  2>&1 | tee -a "$WORK/logs/driver.log"
"$PY" -c "import devinterp" 2> /dev/null || log "no devinterp: the llc job and LLC diagnostics need .whl"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >> "$WORK/logs/driver.log" 2>&1
# CUDA MPS lets the small kernels of many processes run at once instead of taking turns; if
# its daemon will not start, or a client cannot reach the GPU through it, run without it.
# (The dfa rows of 2026-12-05 ran with it: docs/performance.md.)
if [ "$DEVICE" = cuda ] && [ "$MPS" = 1 ]; then
  export CUDA_MPS_PIPE_DIRECTORY=$WORK/mps CUDA_MPS_LOG_DIRECTORY=$WORK/mps-log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  if command -v nvidia-cuda-mps-control > /dev/null && nvidia-cuda-mps-control -d \
      && timeout 60 "$PY" -c "import torch; torch.ones(1).cuda().sum().item()"; then
    log "CUDA MPS on"
  else
    echo quit | nvidia-cuda-mps-control 2> /dev/null
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
    log "CUDA MPS off"
  fi
fi
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

want() { case " $JOBS " in *" $1 "*) return 0;; esac; return 1; }
sweep="$PY -m bench sweep --source $SOURCE --data-root $DATA --store $STORE --device $DEVICE"
want reruns && start reruns "
  $sweep --methods $METHODS --seeds $SEEDS --conflict-ratios 0.05 --workers $WORKERS ${epochs[*]}
  $sweep --methods erm --epochs 20 --seeds $SEEDS --conflict-ratios 0.05 --workers $WORKERS
  echo r0.05-done > $WORK/r005.done
  $sweep --methods erm,jtt,kmeans,groupdro --seeds 3 --conflict-ratios 0.02,0.01 \
    --diagnostics color,gradcam --workers $WORKERS ${epochs[*]}"
want llc && start llc "PARTS='trajectory guard' STORE=$STORE DATA_ROOT=$DATA OUT=$WORK/llc \
  PY=$PY bash scripts/llc_device.sh"
rows="WORKERS=$LFF_WORKERS BENCH='$PY -m bench' bash scripts/lff_cmnist_rows.sh $WORK/lff --device $DEVICE"
want lff && start lff "
  first=\$(date +%s)
  $rows $LFF_ARGS
  took=\$(( \$(date +%s) - first ))
  if [ -n '$LFF_THEN' ] && [ \$(( \$(date +%s) - T0 + took )) -lt $LIMIT ]; then
    echo second sweep after \$took s; $rows $LFF_THEN
  fi"

remeasured=no
while [ "$(elapsed)" -lt "$LIMIT" ]; do
  if [ $remeasured = no ] && [ -f "$WORK/r005.done" ]; then
    log "remeasure at the calibrated settings"
    start remeasure "
      for i in 0 1 2 3; do
        $PY scripts/llc_remeasure.py --store $STORE --data-root $DATA --device $DEVICE \
          --shard \$i/4 --out $WORK/part-\$i.json > $WORK/logs/remeasure-\$i.log 2>&1 &
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

# --- pack: stores and weights; LLC files; issue 28's store; logs (four files) ----------------
weights="${STORE%.sqlite}.weights"
tar czf "$OUT/reruns.tgz" "$STORE" "$weights" 2> /dev/null
tar czf "$OUT/llc.tgz" -C "$WORK" llc $(cd "$WORK" && ls llc-remeasured.json 2> /dev/null)
# the store apart from its kept weights: 1-2 MB a run, they could push one file past the
# 16 MiB that the device tool brings back, and the records need only the store; the weights'
# own file comes back only while it is under that limit (12 dfa runs: 23 MB, left out)
tar czf "$OUT/lff.tgz" -C "$WORK" --exclude='*.weights' lff
tar czf "$OUT/lff-weights.tgz" -C "$WORK" lff 2> /dev/null
log "packed after $(elapsed)s"
tar czf "$OUT/logs.tgz" -C "$WORK" logs
if [ -n "${CUDA_MPS_PIPE_DIRECTORY:-}" ]; then echo quit | nvidia-cuda-mps-control 2> /dev/null; fi
