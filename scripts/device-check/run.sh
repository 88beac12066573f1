#!/usr/bin/env bash
# lem's GPU device check, one self-contained file: this script with its payload appended
# (Node's binary, lem's production files, the Python server, logger and report, xz-compressed;
# built by scripts/device-check/pack.mjs). Needs only bash and a Python with PyTorch and
# transformers: no Node.js, nothing fetched.
#
#   OUT=<folder> bash lem-device-check.run
#
# 1. unpacks the payload under /tmp (Python's lzma: no xz needed);
# 2. checks the GPU (nvidia-smi, PyTorch's CUDA);
# 3. starts the independent NVML logger (logger.py: 20 ms, its own process and clock);
# 4. starts the inference server (server.py: a random-weight Llama on the GPU, batched);
# 5. runs `lem experiment` against it: backend openai on loopback, the nvml meter, gpus [0],
#    an open-loop window of WINDOW_S (≥ 60 s by default);
# 6. writes to $OUT: report.md and report.json (lem beside the logger), run.log, and raw.tar.gz
#    (lem's run folder, the logger's samples, the server's log).
#
# Exit: 0 the report agrees (within AGREE_PCT); 3 the report was written and does not agree, or
# the counter never moved; 2 bad input or no GPU; 1 a step failed (run.log says which).
#
# Settings (environment): MODEL (server shape: 3b, 1b or tiny; default 3b), MAX_BATCH (256),
# RATE (requests/s, 48), WINDOW_S (65), INPUT_TOKENS (512), OUTPUT_TOKENS (128), WARMUP (32
# requests), BASELINE_S (10), IDLE_SETTLE_S (2), GPU (0), LOGGER_INTERVAL_MS (20), AGREE_PCT (1),
# PYTHON (python3), SERVER_TIMEOUT_S (600), DEVICE_CHECK_WORK (the folder to unpack into; default
# a new one under /tmp), DEVICE_CHECK_DEVICE (cuda, or cpu to try the kit where there is no GPU:
# the server then runs on the CPU and $LEM_NVML_LIBRARY must name an NVML library to read).
set -euo pipefail

PAYLOAD_OFFSET=0000000000 # pack.mjs writes this script's length here: the payload starts there

SELF=$(readlink -f "$0")
PYTHON=${PYTHON:-python3}
MODEL=${MODEL:-3b}
MAX_BATCH=${MAX_BATCH:-256}
RATE=${RATE:-48}
WINDOW_S=${WINDOW_S:-65}
INPUT_TOKENS=${INPUT_TOKENS:-512}
OUTPUT_TOKENS=${OUTPUT_TOKENS:-128}
WARMUP=${WARMUP:-32}
BASELINE_S=${BASELINE_S:-10}
IDLE_SETTLE_S=${IDLE_SETTLE_S:-2}
GPU=${GPU:-0}
LOGGER_INTERVAL_MS=${LOGGER_INTERVAL_MS:-20}
AGREE_PCT=${AGREE_PCT:-1}
SERVER_TIMEOUT_S=${SERVER_TIMEOUT_S:-600}
DEVICE=${DEVICE_CHECK_DEVICE:-cuda}

# Bad input: a stable code, what is wrong, and a Try line; exit 2.
refuse() {
  echo "device-check: $1: $2" >&2
  echo "  Try: $3" >&2
  exit 2
}

# A step that failed: its code, the last lines of its log; exit 1 (the EXIT trap still keeps what was measured).
failed() {
  log "$1: $2"
  if [ -n "${3:-}" ]; then { echo "---- the last lines of $3:"; tail -n 30 "$3" 2>&1; } | tee -a "$OUT/run.log" >&2; fi
  exit 1
}

log() { echo "[$(date -u +%H:%M:%S)] device-check: $*" | tee -a "$OUT/run.log" >&2; }

check_input() {
  [ -n "${OUT:-}" ] || refuse E_DEVICE_CHECK_OUT 'OUT is not set: the report is written to $OUT' "OUT=\$(mktemp -d) bash $0"
  mkdir -p "$OUT" 2>/dev/null && [ -w "$OUT" ] || refuse E_DEVICE_CHECK_OUT "OUT=$OUT is not a folder this user can write" 'OUT=<a writable folder>'
  [ "$PAYLOAD_OFFSET" -gt 0 ] || refuse E_DEVICE_CHECK_UNPACKED "$0 is the template, not a packed bundle" 'node scripts/device-check/pack.mjs, then run .device-check/lem-device-check.run'
  for v in MAX_BATCH RATE WINDOW_S INPUT_TOKENS OUTPUT_TOKENS WARMUP BASELINE_S IDLE_SETTLE_S GPU LOGGER_INTERVAL_MS AGREE_PCT SERVER_TIMEOUT_S; do
    [[ "${!v}" =~ ^[0-9]+([.][0-9]+)?$ ]] || refuse E_DEVICE_CHECK_SETTING "$v=${!v} is not a number" "$v=<a number>, or unset it for the default"
  done
  case "$MODEL" in 3b | 1b | tiny) ;; *) refuse E_DEVICE_CHECK_SETTING "MODEL=$MODEL is not a model shape" 'MODEL=3b, MODEL=1b or MODEL=tiny' ;; esac
  case "$DEVICE" in cuda | cpu) ;; *) refuse E_DEVICE_CHECK_SETTING "DEVICE_CHECK_DEVICE=$DEVICE is neither cuda nor cpu" 'DEVICE_CHECK_DEVICE=cuda (the default)' ;; esac
  if [ "$DEVICE" = cuda ] && ! command -v nvidia-smi >/dev/null; then
    refuse E_DEVICE_CHECK_NO_GPU 'nvidia-smi is not here: this check needs an NVIDIA GPU and its driver' 'run it where a GPU is, or DEVICE_CHECK_DEVICE=cpu LEM_NVML_LIBRARY=<an NVML library> to try the kit itself'
  fi
  if [ "$DEVICE" = cpu ] && [ -z "${LEM_NVML_LIBRARY:-}" ]; then
    refuse E_DEVICE_CHECK_NVML 'DEVICE_CHECK_DEVICE=cpu without LEM_NVML_LIBRARY: there is no GPU to read' 'LEM_NVML_LIBRARY=<an NVML library with NVML ABI, e.g. a fake>'
  fi
  command -v "$PYTHON" >/dev/null || refuse E_DEVICE_CHECK_PYTHON "no $PYTHON here" 'PYTHON=<a python3 with PyTorch and transformers>'
  probe_torch
}

# One import of torch tells both whether this Python can run the kit and what it sees of CUDA (torch.json).
probe_torch() {
  local status=0
  TORCH_INFO=$("$PYTHON" - "$DEVICE" 2>/dev/null <<'PY'
import json, sys
try:
    import torch, transformers
except ImportError:
    sys.exit(3)
info = {"torch": torch.__version__, "transformers": transformers.__version__, "cuda": torch.version.cuda, "cudaAvailable": torch.cuda.is_available()}
if torch.cuda.is_available():
    info["device"] = torch.cuda.get_device_name(0)
print(json.dumps(info))
sys.exit(0 if sys.argv[1] == "cpu" or torch.cuda.is_available() else 4)
PY
) || status=$?
  [ "$status" -ne 3 ] && [ -n "$TORCH_INFO" ] || refuse E_DEVICE_CHECK_PYTHON "$PYTHON cannot import torch and transformers" 'PYTHON=<a python3 with PyTorch and transformers> (in lem'"'"'s repository, scripts/device-check/python-env.sh makes one for the CPU)'
  [ "$status" -eq 0 ] || refuse E_DEVICE_CHECK_NO_GPU "PyTorch sees no CUDA device" 'run it where a GPU is, or DEVICE_CHECK_DEVICE=cpu to try the kit itself'
}

unpack() {
  if [ -n "${DEVICE_CHECK_WORK:-}" ]; then WORK=$DEVICE_CHECK_WORK; else WORK=$(mktemp -d /tmp/lem-device-check.XXXXXX) MADE_WORK=1; fi
  mkdir -p "$WORK"
  log "unpacking into $WORK"
  "$PYTHON" - "$SELF" "$PAYLOAD_OFFSET" "$WORK" <<'PY' || failed E_DEVICE_CHECK_PAYLOAD "the payload of $SELF does not unpack (a truncated copy?)"
import sys, tarfile
path, offset, dest = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "rb") as f:
    f.seek(offset)
    with tarfile.open(fileobj=f, mode="r|xz") as tar:
        tar.extractall(dest, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
PY
  chmod 755 "$WORK/node"
  LEM=("$WORK/node" "$WORK/lem/bin/run.js")
  "${LEM[@]}" --version >"$WORK/node.log" 2>&1 || failed E_DEVICE_CHECK_NODE "Node's binary or lem does not start here" "$WORK/node.log"
  log "lem: $(cat "$WORK/node.log")"
}

check_gpu() {
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=index,name,uuid,driver_version,memory.total,power.limit,power.draw,temperature.gpu,pstate --format=csv >"$WORK/gpu.csv" 2>&1 || true
    cat "$WORK/gpu.csv" >>"$OUT/run.log"
  fi
  echo "$TORCH_INFO" >"$WORK/torch.json"
  log "PyTorch: $(cat "$WORK/torch.json")"
  [ -n "${LEM_NVML_LIBRARY:-}" ] || find_nvml
}

# lem (koffi) and the logger (pynvml) both dlopen libnvidia-ml.so.1: where the loader's path lacks
# the driver's folder (a container may mount it elsewhere), that folder is added for both.
find_nvml() {
  local dir
  "$PYTHON" -c 'import ctypes; ctypes.CDLL("libnvidia-ml.so.1")' 2>/dev/null && return 0
  for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/cuda/lib64 /usr/lib/wsl/lib; do
    if [ -e "$dir/libnvidia-ml.so.1" ]; then
      export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      log "libnvidia-ml.so.1 is in $dir, not on the loader's path: added to LD_LIBRARY_PATH"
      return 0
    fi
  done
  refuse E_DEVICE_CHECK_NVML 'libnvidia-ml.so.1 (the NVIDIA driver'"'"'s NVML library) is nowhere to be loaded' 'LEM_NVML_LIBRARY=<the path of libnvidia-ml.so.1>'
}

# Waits until FILE has a line matching PATTERN, while PID lives, at most SECONDS.
wait_for_line() {
  local file=$1 pattern=$2 pid=$3 seconds=$4 waited=0
  until grep -q "$pattern" "$file" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$waited" -lt $((seconds * 10)) ] || return 1
    sleep 0.1
    waited=$((waited + 1))
  done
}

start_logger() {
  "$PYTHON" "$WORK/check/logger.py" --gpu "$GPU" --interval-ms "$LOGGER_INTERVAL_MS" --out "$WORK/logger.csv" --summary "$WORK/logger.json" >"$WORK/logger.log" 2>&1 &
  LOGGER_PID=$!
  wait_for_line "$WORK/logger.log" '"event": "sampling"' "$LOGGER_PID" 60 || failed E_DEVICE_CHECK_LOGGER 'the NVML logger did not start' "$WORK/logger.log"
  log "logger: $(head -n 1 "$WORK/logger.log")"
}

start_server() {
  local device=$DEVICE
  [ "$device" = cpu ] || device="cuda:$GPU"
  CUDA_DEVICE_ORDER=PCI_BUS_ID "$PYTHON" "$WORK/check/server.py" --port 0 --model "$MODEL" --device "$device" --max-batch "$MAX_BATCH" --max-context $((INPUT_TOKENS + OUTPUT_TOKENS + 64)) >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  wait_for_line "$WORK/server.log" '"event": "ready"' "$SERVER_PID" "$SERVER_TIMEOUT_S" || failed E_DEVICE_CHECK_SERVER 'the inference server did not become ready' "$WORK/server.log"
  BASE_URL=$(sed -n 's/.*"event": "ready", "url": "\([^"]*\)".*/\1/p' "$WORK/server.log" | head -n 1)
  SERVED=$(sed -n 's/.*"event": "ready".*"name": "\([^"]*\)".*/\1/p' "$WORK/server.log" | head -n 1)
  log "server: $(grep '"event": "model"' "$WORK/server.log" | head -n 1)"
}

write_experiment() {
  local prompts
  prompts=$("$PYTHON" -c "import math; print(max(1, math.ceil($RATE * $WINDOW_S)))")
  cat >"$WORK/experiment.yaml" <<YAML
name: device-check
description: lem's nvml meter beside an independent NVML logger, on a random-weight Llama ($MODEL)
backend: openai
model: $SERVED
base_url: $BASE_URL
gpus: [$GPU]
dataset: {kind: synthetic, input_tokens: $INPUT_TOKENS, n_prompts: $prompts}
# concurrency: the warm-up's (the measured window is open loop): one batch, not WARMUP one by one.
workload: {request_rate: $RATE, concurrency: $WARMUP, max_output_tokens: $OUTPUT_TOKENS, request_timeout_s: 600}
warmup: {mode: fixed, requests: $WARMUP}
measure: {baseline_s: $BASELINE_S, idle_settle_s: $IDLE_SETTLE_S, meters: [nvml]}
YAML
}

run_lem() {
  log "lem experiment: $RATE requests/s for about $WINDOW_S s, $INPUT_TOKENS tokens in, $OUTPUT_TOKENS out"
  mkdir -p "$WORK/home"
  (cd "$WORK" && LEM_PROJECT_ROOT="$WORK" LEM_DATA_DIR="$WORK/home/data" LEM_CACHE_DIR="$WORK/home/cache" LEM_LOCK_DIR="$WORK/home/locks" \
    "${LEM[@]}" experiment "$WORK/experiment.yaml" --results-dir "$WORK/results" --json >"$WORK/experiment.json" 2>"$WORK/lem.log") ||
    failed E_DEVICE_CHECK_LEM 'lem experiment failed' "$WORK/lem.log"
}

stop_all() {
  [ -z "${LOGGER_PID:-}" ] || { kill -TERM "$LOGGER_PID" 2>/dev/null || true; wait "$LOGGER_PID" 2>/dev/null || true; }
  if [ -n "${SERVER_PID:-}" ]; then
    [ -z "${BASE_URL:-}" ] || "$PYTHON" -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())" "${BASE_URL%/v1}/stats" >"$WORK/server-stats.json" 2>/dev/null || true
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  LOGGER_PID='' SERVER_PID=''
}

# Whatever happened, what was measured leaves with the report: lem's folder, the logger's samples, the logs.
keep_raw() {
  stop_all
  [ -n "${WORK:-}" ] && [ -d "$WORK" ] || return 0
  tar -C "$WORK" -czf "$OUT/raw.tar.gz" --ignore-failed-read $(cd "$WORK" && ls -d results logger.csv logger.json logger.log server.log server-stats.json lem.log experiment.yaml experiment.json gpu.csv torch.json report.log 2>/dev/null) 2>/dev/null || true
  # A folder this script made goes once its raw files are in raw.tar.gz (DEVICE_CHECK_WORK is kept).
  [ -z "${MADE_WORK:-}" ] || rm -rf "$WORK"
}

report() {
  local status=0
  "$PYTHON" "$WORK/check/report.py" --work "$WORK" --out "$OUT" --agree-pct "$AGREE_PCT" >"$WORK/report.log" 2>&1 || status=$?
  cat "$WORK/report.log" >>"$OUT/run.log"
  [ "$status" -eq 0 ] || [ "$status" -eq 3 ] || failed E_DEVICE_CHECK_REPORT 'the report could not be written' "$WORK/report.log"
  log "report: $OUT/report.md ($([ "$status" -eq 0 ] && echo 'lem and the logger agree' || echo 'they do not agree'))"
  return "$status"
}

main() {
  check_input
  : >"$OUT/run.log"
  trap keep_raw EXIT
  unpack
  check_gpu
  start_logger
  start_server
  write_experiment
  run_lem
  sleep 1 # the logger's samples go on past lem's last read, so that every edge lies between two of them
  stop_all
  report
}

main "$@"
exit
