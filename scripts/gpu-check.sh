#!/usr/bin/env bash
# GPU energy cross-check. On a machine with an NVIDIA GPU, its driver and a built lem:
#   1. logs the GPU's total-energy counter with nvidia-smi every 100 ms, independently of lem;
#   2. runs a ≥ 60 s experiment on GPU 0 (the embedded llama.cpp server, CUDA build, all layers
#      offloaded, the tiny model unless MODEL=... is given);
#   3. interpolates nvidia-smi's counter at lem's recorded measure-phase boundaries (the result's
#      wall-clock anchor + boundary times) and prints lem's window energy, the independent energy
#      and their ratio (1.000 = agreement).
# Usage: scripts/gpu-check.sh [results-dir]
#   env: MODEL (a GGUF; default the tiny model), GPU=0, RATE=20 requests/s, PROMPTS=1300 (the
#   window is PROMPTS/RATE ≈ 65 s), GPU_LAYERS=max, BASELINE_S=10, IDLE_SETTLE_S=2,
#   NVIDIA_SMI=nvidia-smi
set -euo pipefail
cd "$(dirname "$0")/.."
NVIDIA_SMI=${NVIDIA_SMI:-nvidia-smi}
command -v "$NVIDIA_SMI" >/dev/null || { echo "gpu-check: $NVIDIA_SMI not found: this check needs an NVIDIA GPU and driver" >&2; exit 2; }
LEM=${LEM:-"node packages/cli/bin/run.js"}
OUT=${1:-$(mktemp -d)}
GPU=${GPU:-0}
RATE=${RATE:-20}
PROMPTS=${PROMPTS:-1300}
GPU_LAYERS=${GPU_LAYERS:-max}
BASELINE_S=${BASELINE_S:-10}
IDLE_SETTLE_S=${IDLE_SETTLE_S:-2}
mkdir -p "$OUT"
MODEL=${MODEL:-$OUT/tiny.gguf}
[ -f "$MODEL" ] || $LEM llamacpp tiny-model "$MODEL"

cat > "$OUT/gpu-check.yaml" <<YAML
name: gpu-check
description: GPU energy cross-check against nvidia-smi (open loop, ≥ 60 s window)
backend: llamacpp
model: $MODEL
gpus: [$GPU]
dataset: {kind: synthetic, input_tokens: 64, n_prompts: $PROMPTS}
workload: {request_rate: $RATE, max_output_tokens: 64}
warmup: {mode: fixed, requests: 20}
measure: {baseline_s: $BASELINE_S, idle_settle_s: $IDLE_SETTLE_S, meters: [nvml]}
llamacpp: {gpu_layers: $GPU_LAYERS, parallel: 8}
YAML

SMI_LOG="$OUT/nvidia-smi.csv"
"$NVIDIA_SMI" -i "$GPU" --query-gpu=timestamp,total_energy_consumption --format=csv,noheader,nounits -lms 100 > "$SMI_LOG" &
SMI_PID=$!
trap 'kill $SMI_PID 2>/dev/null || true' EXIT
sleep 1
$LEM experiment "$OUT/gpu-check.yaml" --results-dir "$OUT/results" --json > "$OUT/experiment.json"
sleep 1
kill $SMI_PID 2>/dev/null || true

python3 - "$OUT/experiment.json" "$SMI_LOG" <<'PY'
import json, sys, datetime
run = json.load(open(sys.argv[1]))
result = json.load(open(run["runDir"] + "/result.json"))
m = result["metrics"]
anchor = result["clock"]["wallMs"]           # epoch ms at the run's monotonic origin
# lem's window energy is the difference of the counter reads at the measure phase's boundaries:
# compare over exactly that interval (it brackets the request window by a few milliseconds).
edges = {b["label"]: b["atMs"] for b in result["boundaries"]}
start = anchor + edges["measure:start"]
end = anchor + edges["measure:end"]
points = []
for line in open(sys.argv[2]):
    parts = [p.strip() for p in line.split(",")]
    if len(parts) < 2 or not parts[1].replace(".", "", 1).isdigit():
        continue
    t = datetime.datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp() * 1000
    points.append((t, float(parts[1])))      # mJ
points.sort()
def at(t):
    for (t0, e0), (t1, e1) in zip(points, points[1:]):
        if t0 <= t <= t1:
            return e0 + (e1 - e0) * (t - t0) / (t1 - t0) if t1 > t0 else e0
    raise SystemExit(f"gpu-check: nvidia-smi's log does not cover {t}")
smi_j = (at(end) - at(start)) / 1000
lem_j = m["energy"]["energyJ"]
print(json.dumps({
    "gpu": [g for g in result.get("provenance", {}).get("gpus", [])],
    "windowS": round(m["window"]["durationS"], 3),
    "lemEnergyJ": lem_j,
    "lemUncertaintyJ": m["energy"].get("uncertaintyJ"),
    "nvidiaSmiEnergyJ": round(smi_j, 3),
    "ratioLemOverSmi": round(lem_j / smi_j, 4) if lem_j and smi_j else None,
    "note": "nvidia-smi's clock is the system wall clock; lem's edges are its monotonic window mapped through one wall-clock anchor",
}, indent=2))
PY
