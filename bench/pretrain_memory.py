"""Peak resident memory of a pre-training run: keras_electra vs transformers (PyTorch).

    python bench/pretrain_memory.py --config=configs/electra_small.json \
        --batch_size=32 --seq_length=128 --steps=10

Each side trains in a fresh process of its own (`bench/pretrain_step.py`
with only that side), so one side's allocations never count for the other;
the peak RSS of that process (`wait4`'s `ru_maxrss`: model, optimizer
state, activations, framework runtime) is printed as one JSON line with the
ratio.
"""

import json
import os
import subprocess
import sys

from absl import app, flags

flags.DEFINE_string("config", "configs/electra_small.json", "ElectraConfig JSON.")
flags.DEFINE_integer("batch_size", 32, "Examples per step.")
flags.DEFINE_integer("seq_length", 128, "Tokens per example.")
flags.DEFINE_integer("steps", 10, "Training steps per side.")
FLAGS = flags.FLAGS

STEP_BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrain_step.py")


def peak_rss_mb(side):
    """Runs one side of `pretrain_step.py`; returns (peak RSS in MB, its JSON record)."""
    command = [sys.executable, STEP_BENCH, f"--config={FLAGS.config}",
               f"--batch_size={FLAGS.batch_size}", f"--seq_length={FLAGS.seq_length}",
               f"--steps={FLAGS.steps}", "--repeats=1", "--warmup=2",
               "--keras" if side == "keras" else "--nokeras",
               "--torch" if side == "torch" else "--notorch"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env=env, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        raise SystemExit(f"{side} side failed (status {status}): {output[-2000:]}")
    return usage.ru_maxrss / 1024, json.loads(output.strip().splitlines()[-1])


def main(argv):
    del argv
    keras_mb, keras_record = peak_rss_mb("keras")
    torch_mb, torch_record = peak_rss_mb("torch")
    print(json.dumps({
        "bench": "pretrain_memory", "config": os.path.basename(FLAGS.config),
        "batch_size": FLAGS.batch_size, "seq_length": FLAGS.seq_length, "dtype": "float32",
        "steps": FLAGS.steps, "keras_electra_peak_rss_mb": round(keras_mb),
        "transformers_torch_peak_rss_mb": round(torch_mb),
        "rss_ratio_vs_transformers": round(keras_mb / torch_mb, 2),
        "keras_electra_ms": keras_record.get("keras_electra_ms"),
        "transformers_torch_ms": torch_record.get("transformers_torch_ms"),
    }))


if __name__ == "__main__":
    app.run(main)
