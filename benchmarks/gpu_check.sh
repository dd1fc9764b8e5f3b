#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU, cupy and numpy (gast may come as a wheel in .whl/):
# the cupy half of the test suite on the GPU, then the GPU benchmark table. About five minutes at most.
# Logs and the table go to $1 (default: a fresh temporary folder).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export SOURCEGRAD_GENERATED_DIR="${SOURCEGRAD_GENERATED_DIR:-$(mktemp -d)}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import cupy, numpy, gast; print('cupy', cupy.__version__, 'numpy', numpy.__version__, 'gast', gast.__version__)"
# The tests that take a device run once per device; `-k cupy` picks their cupy halves (and the GPU-only tests).
parallel=()
python3 -c "import xdist" 2>/dev/null && parallel=(-n 12)
timeout -s INT -k 30 240 python3 -m pytest -q -p no:cacheprovider -k cupy "${parallel[@]}" -rfE tests 2>&1 | tee "$out/tests.log"
tests=${PIPESTATUS[0]}
timeout 200 python3 benchmarks/gpu.py --profile --output "$out/gpu_table.md" 2>&1 | tee "$out/benchmark.log"
bench=${PIPESTATUS[0]}
echo "tests exit $tests, benchmark exit $bench"
exit $(( tests || bench ))
