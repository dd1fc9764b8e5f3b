#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU, cupy and numpy (gast and pytest may come as wheels in .whl/):
# the device-parametrised tests on the GPU, then the GPU benchmark table. About five minutes at most.
set -euo pipefail
cd "$(dirname "$0")/.."
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export SOURCEGRAD_GENERATED_DIR="${SOURCEGRAD_GENERATED_DIR:-$(mktemp -d)}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
timeout 180 python3 -m pytest -q tests/test_device.py -x
timeout 240 python3 benchmarks/gpu.py
