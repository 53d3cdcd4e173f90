#!/usr/bin/env bash
# The GPU checks in one go, for a machine with a CUDA device: the GPU-marked tests and the benchmarks (here and in
# paper/benchmarks) on --device cuda. Results (JSON, logs) go to $OUT (default runs/gpu); compare them with the same scripts'
# CPU output (docs/results/benchmarks/). Takes about 5 minutes on an H100.
#
#     bash benchmarks/gpu_suite.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu}
mkdir -p "$OUT"
export PYTHONPATH=src:paper/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
step() { echo "== $1 ($(date +%T))"; }
step device
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; } | tee "$OUT/device.txt"
step "GPU tests"
timeout 240 python3 -m pytest -q -m gpu tests/gpu/test_gpu.py -p no:cacheprovider 2>&1 | tee "$OUT/pytest_gpu.log" | tail -4
step "sm_loss"
timeout 120 python3 paper/benchmarks/sm_loss.py --device cuda --rounds 11 --no-torchebm > "$OUT/sm_loss_cuda.json"
step "cost growth"
timeout 180 python3 paper/benchmarks/cost_growth.py --device cuda --dims 64 128 256 512 1024 2048 \
    --sides 64 128 256 512 1024 2048 --exact-max 1024 > "$OUT/cost_growth_cuda.json"
step "denoise 512x512"
timeout 120 python3 benchmarks/denoise.py --device cuda --repeats 3 > "$OUT/denoise_cuda.json"
step "train FoE 5x5x24"
timeout 240 python3 paper/benchmarks/train_foe.py --device cuda > "$OUT/train_foe_cuda.json"
step done
