"""Peak resident memory of a pre-training run: keras_electra vs transformers (PyTorch).

    python bench/pretrain_memory.py --config=configs/electra_small.json \
        --batch_size=32 --seq_length=128 --steps=10 --dtype=float32 [--remat]

Runs `bench/pretrain_step.py` with its default `--isolate`: each side trains
in a fresh process of its own, so one side's allocations never count for
the other, and the peak RSS of that process (`wait4`'s `ru_maxrss`: model,
optimizer state, activations, framework runtime) is that side's. Prints one
JSON line with both peaks and their ratio. (`pretrain_step.py` reports the
same peaks next to its timings; `bench/run_all.py` takes them from there.)
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
flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"], "Compute dtype of both sides.")
flags.DEFINE_bool("remat", False, "Both sides recompute encoder blocks in the backward pass.")
flags.DEFINE_enum("torch_compile", "false", ["false", "true", "both"],
                  "PyTorch side: eager, torch.compile, or both (the faster one's RSS).")
FLAGS = flags.FLAGS

STEP_BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrain_step.py")


def main(argv):
    del argv
    command = [sys.executable, STEP_BENCH, f"--config={FLAGS.config}",
               f"--batch_size={FLAGS.batch_size}", f"--seq_length={FLAGS.seq_length}",
               f"--steps={FLAGS.steps}", "--repeats=1", "--warmup=2", f"--dtype={FLAGS.dtype}",
               f"--torch_compile={FLAGS.torch_compile}", "--isolate", "--nomfu",
               "--remat" if FLAGS.remat else "--noremat"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        raise SystemExit(f"pretrain_step.py failed: {result.stderr[-2000:]}")
    step = json.loads(result.stdout.strip().splitlines()[-1])
    keras_mb, torch_mb = step["keras_electra_peak_rss_mb"], step["transformers_torch_peak_rss_mb"]
    print(json.dumps({
        "bench": "pretrain_memory", "config": os.path.basename(FLAGS.config),
        "batch_size": FLAGS.batch_size, "seq_length": FLAGS.seq_length, "dtype": FLAGS.dtype,
        "remat": FLAGS.remat,
        "steps": FLAGS.steps, "torch_variant": step.get("torch_variant"),
        "keras_electra_peak_rss_mb": keras_mb,
        "transformers_torch_peak_rss_mb": torch_mb,
        "rss_ratio_vs_transformers": round(keras_mb / torch_mb, 2),
        "keras_electra_ms": step.get("keras_electra_ms"),
        "transformers_torch_ms": step.get("transformers_torch_ms"),
    }))


if __name__ == "__main__":
    app.run(main)
