"""ELECTRA pre-training throughput on one GPU: sequences/s and MFU, bfloat16 + XLA.

    bash bench/gpu.sh                       # the way to run it (finds or makes a Python first)
    python bench/gpu_throughput.py          # ELECTRA-Base, seq 128, batch 256, 120 s timed
    python bench/gpu_throughput.py --batch_size=512 --seconds=60
    python bench/gpu_throughput.py --smoke  # CPU, tiny config, XLA too: the same code path

`keras_electra.build_pretrainer` on `--config` (default ELECTRA-Base) with
`mixed_precision="bfloat16"` (Keras `mixed_bfloat16`), compiled with
`jit_compile=True` (XLA) and `steps_per_execution`, trained with `fit` on a
synthetic batch (random ids, full-length rows) repeated from a `tf.data`
pipeline: the whole ELECTRA step (masking, generator, sampling,
discriminator, AdamW, clipping) runs on the device. The first `fit` call
(tracing + XLA compilation) is timed apart; then `fit` calls of about
`--chunk_seconds` each run until `--seconds` have passed, and each call's
throughput is one sample (`fit` returns only once its last step's metrics
are on the host, so every sample is synchronised).

Prints JSON lines: the device (name, memory, driver from `nvidia-smi`), a
measured bf16 matmul rate (8192^3 products through TensorFlow), and the
result: `sequences_per_s` (median over samples; `_all` lists them),
`tokens_per_s`, `train_step_tflop` (`keras_electra.flops`, matmuls only,
forward + backward), `achieved_tflops`, and `mfu` against the dense bf16
datasheet peak of the GPU named (`peak_source` says which: H100 SXM and H200
989.4 TFLOP/s) and `mfu_vs_measured_matmul`. `meets_target`: at least 4,000
sequences/s (issue 8).
"""

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from gpu_device import datasheet_peak, nvidia_smi  # noqa: E402  (bench/)
from step_inputs import step_config, synthetic_batch  # noqa: E402  (bench/)

flags.DEFINE_string("config", "configs/electra_base.json", "ElectraConfig JSON.")
flags.DEFINE_integer("seq_length", 128, "Tokens per example.")
flags.DEFINE_integer("batch_size", 256, "Examples per step.")
flags.DEFINE_enum("dtype", "bfloat16", ["bfloat16", "float32"], "Compute dtype.")
flags.DEFINE_bool("jit_compile", True, "XLA.")
flags.DEFINE_integer("steps_per_execution", 10, "Steps per compiled call.")
flags.DEFINE_float("seconds", 120.0, "Timed seconds (after compilation).")
flags.DEFINE_float("chunk_seconds", 10.0, "Seconds per timed fit call (one sample).")
flags.DEFINE_float("peak_tflops", None, "Dense peak of the device (default: by its name).")
flags.DEFINE_integer("target_sequences_per_s", 4000, "The issue's target on one H100.")
flags.DEFINE_bool("smoke", False, "CPU smoke run: tiny config, batch 8, 15 s.")
FLAGS = flags.FLAGS


def measured_matmul_tflops(device, dtype, n, repeats=10):
    """TFLOP/s of n^3 products on `device` (median of `repeats` batches of 5)."""
    import tensorflow as tf

    with tf.device(device):
        a = tf.cast(tf.random.normal((n, n)), dtype)
        b = tf.cast(tf.random.normal((n, n)), dtype)

        @tf.function(jit_compile=True)
        def products(a, b):
            c = a
            for _ in range(5):
                c = tf.matmul(c, b) * tf.cast(1e-2, dtype)  # keeps values finite
            return tf.reduce_sum(tf.cast(c[:1, :1], tf.float32))

        float(products(a, b))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            float(products(a, b))  # the host read synchronises
            times.append(time.perf_counter() - start)
    return 5 * 2 * n ** 3 / statistics.median(times) / 1e12


def main(argv):
    del argv
    if FLAGS.smoke:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        FLAGS.config, FLAGS.batch_size, FLAGS.seconds = "configs/electra_tiny.json", 8, 15.0
        FLAGS.chunk_seconds, FLAGS.steps_per_execution = 5.0, 2
    import keras
    import tensorflow as tf

    from keras_electra.builders import build_pretrainer
    from keras_electra.config import ElectraConfig
    from keras_electra.flops import train_step_flops
    from keras_electra.training.optimizer import create_optimizer

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device_name, device = details.get("device_name", "GPU"), "/GPU:0"
    elif FLAGS.smoke:
        device_name, device = "CPU (smoke run)", "/CPU:0"
    else:
        print(json.dumps({"bench": "gpu_pretrain", "status": "failed",
                          "reason": "TensorFlow sees no GPU (tf.config.list_physical_devices); "
                                    "is this tensorflow[and-cuda] on a CUDA machine?"}))
        sys.exit(1)
    print(json.dumps({"bench": "gpu_device", "device": device_name, "gpus": len(gpus),
                      "nvidia_smi": nvidia_smi(), "tensorflow": tf.__version__,
                      "keras": keras.__version__}), flush=True)

    dtype = tf.bfloat16 if FLAGS.dtype == "bfloat16" else tf.float32
    matmul_n = 1024 if FLAGS.smoke else 8192
    matmul = measured_matmul_tflops(device, dtype, matmul_n, repeats=3 if FLAGS.smoke else 10)
    print(json.dumps({"bench": "gpu_matmul", "device": device_name, "dtype": FLAGS.dtype,
                      "n": matmul_n, "tflops": round(matmul, 3)}), flush=True)

    config = step_config(ElectraConfig.from_json(FLAGS.config), FLAGS.seq_length)
    config = config.with_overrides({"mixed_precision": FLAGS.dtype})
    batch = synthetic_batch(config, FLAGS.batch_size, FLAGS.seq_length)
    data = tf.data.Dataset.from_tensors({k: tf.constant(v) for k, v in batch.items()})
    data = data.repeat().prefetch(tf.data.AUTOTUNE)

    keras.utils.set_random_seed(0)
    pretrainer = build_pretrainer(config)
    spe = FLAGS.steps_per_execution
    pretrainer.compile(optimizer=create_optimizer(config, 100_000),
                       jit_compile=FLAGS.jit_compile, steps_per_execution=spe)

    def fit(steps):
        start = time.perf_counter()
        pretrainer.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
        return time.perf_counter() - start

    compile_s = fit(2 * spe)  # tracing + XLA compilation (+ 2 * spe steps)
    step_s = fit(2 * spe) / (2 * spe)  # a first estimate, to size the samples
    chunk = max(spe, int(FLAGS.chunk_seconds / step_s) // spe * spe)
    rates, timed, start = [], 0.0, time.perf_counter()
    while time.perf_counter() - start < FLAGS.seconds:
        seconds = fit(chunk)
        rates.append(chunk * FLAGS.batch_size / seconds)
        timed += seconds
    sequences_per_s = statistics.median(rates)
    flops = train_step_flops(config, FLAGS.batch_size, FLAGS.seq_length)
    achieved = flops * sequences_per_s / FLAGS.batch_size / 1e12
    peak, source = (FLAGS.peak_tflops, "--peak_tflops") if FLAGS.peak_tflops else \
        datasheet_peak(device_name)
    memory = None
    if gpus:
        memory = round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2 ** 30, 2)
    print(json.dumps({
        "bench": "gpu_pretrain", "device": device_name, "config": os.path.basename(FLAGS.config),
        "objective": getattr(config, "objective", "electra"), "batch_size": FLAGS.batch_size,
        "seq_length": FLAGS.seq_length, "dtype": FLAGS.dtype, "jit_compile": FLAGS.jit_compile,
        "steps_per_execution": spe, "sequences_per_s": round(sequences_per_s, 1),
        "sequences_per_s_all": [round(r, 1) for r in rates],
        "tokens_per_s": round(sequences_per_s * FLAGS.seq_length),
        "step_ms": round(1e3 * FLAGS.batch_size / sequences_per_s, 2),
        "train_step_tflop": round(flops / 1e12, 3), "achieved_tflops": round(achieved, 3),
        "peak_tflops": peak, "peak_source": source,
        "mfu": round(achieved / peak, 3) if peak else None,
        "measured_matmul_tflops": round(matmul, 3),
        "mfu_vs_measured_matmul": round(achieved / matmul, 3),
        "target_sequences_per_s": FLAGS.target_sequences_per_s,
        "meets_target": None if FLAGS.smoke else sequences_per_s >= FLAGS.target_sequences_per_s,
        "compile_s": round(compile_s, 1), "timed_s": round(timed, 1), "samples": len(rates),
        "peak_memory_gib": memory, "smoke": FLAGS.smoke}), flush=True)


if __name__ == "__main__":
    app.run(main)
