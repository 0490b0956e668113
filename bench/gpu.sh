#!/usr/bin/env bash
# ELECTRA-Base pre-training throughput on one GPU: bfloat16 + XLA, seq 128, batch 256,
# about two minutes of timed steps after compilation. Prints JSON lines (device,
# measured bf16 matmul TFLOP/s, then sequences/s, tokens/s and MFU); see
# bench/gpu_throughput.py. Target (issue 8): >= 4,000 sequences/s on one H100.
#
#   bash bench/gpu.sh                      # on the GPU machine, from anywhere
#   bash bench/gpu.sh --smoke              # CPU smoke test of the same path (< 2 min)
#   bash bench/gpu.sh --batch_size=512     # any other flag goes to gpu_throughput.py
#
# Python: the first of $PYTHON, .venv/bin/python, .venv-gpu/bin/python, python3 that
# imports tensorflow, keras, keras_hub and tensorflow_text. With none, it creates
# .venv-gpu with tensorflow[and-cuda] (the version requirements.txt pins) and
# requirements.txt; that needs a package index (a few minutes, ~3 GB with the CUDA
# wheels). A machine with no network needs those brought along instead.
#
# The GPU machines lent to this project have PyTorch and JAX but no TensorFlow and no
# package index: there, bench/gpu_keras_jax.py measures the same towers on Keras 3's
# JAX backend beside PyTorch (results: bench/results/gpu_keras_jax_h200.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}" PYTHONUNBUFFERED=1

smoke=()
args=()
for arg in "$@"; do
  if [[ $arg == --smoke ]]; then smoke=(--smoke); else args+=("$arg"); fi
done

has_tf() {
  command -v "$1" >/dev/null 2>&1 &&
    "$1" -c "import tensorflow, keras, keras_hub, tensorflow_text" >/dev/null 2>&1
}

python=""
for candidate in "${PYTHON:-}" .venv/bin/python .venv-gpu/bin/python python3; do
  if [[ -n $candidate ]] && has_tf "$candidate"; then python=$candidate; break; fi
done
if [[ -z $python ]]; then
  tf_version=$(sed -n 's/^tensorflow==//p' requirements.txt)
  echo "bench/gpu.sh: no Python with TensorFlow here; creating .venv-gpu" \
       "(tensorflow[and-cuda]==$tf_version)" >&2
  if ! { python3 -m venv .venv-gpu &&
         .venv-gpu/bin/pip install -q --upgrade pip &&
         .venv-gpu/bin/pip install -q "tensorflow[and-cuda]==$tf_version" -r requirements.txt; }
  then
    echo '{"bench": "gpu_pretrain", "status": "failed", "reason": "no Python with' \
         'TensorFlow; installing tensorflow[and-cuda] + requirements.txt failed"}'
    exit 1
  fi
  python=.venv-gpu/bin/python
fi
version=$("$python" -c 'import tensorflow as tf; print(tf.__version__)')
echo "bench/gpu.sh: $python (tensorflow $version)" >&2
exec "$python" bench/gpu_throughput.py ${smoke[@]+"${smoke[@]}"} ${args[@]+"${args[@]}"}
