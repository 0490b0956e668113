"""ELECTRA pre-training on one GPU without TensorFlow: keras_electra's towers on Keras 3's
JAX backend (XLA) beside the PyTorch + transformers step, same config, same GPU, same run.

    python bench/gpu_keras_jax.py                    # ELECTRA-Base, seq 128, batch 256, bf16
    python bench/gpu_keras_jax.py --seconds=30 --sides=keras_jax,torch_compiled
    python bench/gpu_keras_jax.py --smoke            # CPU, tiny config: the same code paths
    python bench/gpu_keras_jax.py --sides=keras_jax --rng=rbg --profile_dir=/tmp/prof

Why this exists beside `bench/gpu.sh` (the TensorFlow path, `build_pretrainer`
+ `fit(jit_compile=True)`): the GPU machines lent to this project carry
PyTorch and JAX but not TensorFlow, have no package index, and take at most
64 MiB of files per call, so `tensorflow[and-cuda]` (~3 GB) cannot reach them.
Keras 3 and keras-hub are small pure-Python wheels, and keras_electra's towers
are plain Keras: on the JAX backend they run as they are, compiled by XLA,
the compiler `gpu.sh` uses through TensorFlow. The objective (masking,
sampling, losses) is restated in `keras.ops` (`bench/keras_jax_electra_step.py`);
the optimizer is Keras' AdamW with global-norm clipping at the config's
`clip_norm`. What this measures is the package's model code and Keras on an
H100/H200, not TensorFlow's runtime.

Sides (each in its own process, one after another, so they never share the
GPU's memory): `keras_jax` (`fit(jit_compile=True)`, `mixed_bfloat16`),
`torch` (`bench/torch_electra_step.py`, eager, SDPA attention, bf16 autocast,
fused AdamW) and `torch_compiled` (its loss under `torch.compile`). Each warms
up (compilation timed apart), then repeats timed chunks of about
`--chunk_seconds` (each ends synchronised: Keras' epoch-end logs are read on
the host; `torch.cuda.synchronize()`) until `--seconds` have passed; the median
chunk is the result.

Prints JSON lines: the device and a measured bf16 matmul rate (8192^3, JAX),
one line per side (`sequences_per_s`, `tokens_per_s`, `mfu` against the
datasheet dense bf16 peak and against the measured matmul, peak device
memory, compile seconds), and a `gpu_pretrain_summary` line with the ratios
(`keras_jax_vs_best_torch`) and the issue's target (>= 4,000 sequences/s).

`--rng=rbg` gives the Keras side's random numbers (dropout masks, masking and
sampling noise) to XLA's `RngBitGenerator` (Philox on GPUs) instead of JAX's
default threefry, which XLA computes as many integer ops per number: the
step draws about 1.6 billion dropout numbers at ELECTRA-Base batch 256.
`--dropout=0` bounds what dropout costs (it is not ELECTRA's objective then).
`--profile_dir` traces one execution (`steps_per_execution` steps) of each side
after its timing and prints a `gpu_profile` JSON line: GPU kernel time per
kind (GEMMs, cuDNN fused attention, the rest) and the top kernels.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from absl import app, flags  # noqa: E402

from gpu_device import datasheet_peak, nvidia_smi  # noqa: E402
from light_import import light_import  # noqa: E402
from step_inputs import step_config, synthetic_batch  # noqa: E402

flags.DEFINE_string("config", os.path.join(os.path.dirname(HERE), "configs/electra_base.json"),
                    "ElectraConfig JSON.")
flags.DEFINE_integer("seq_length", 128, "Tokens per example.")
flags.DEFINE_integer("batch_size", 256, "Examples per step.")
flags.DEFINE_enum("dtype", "bfloat16", ["bfloat16", "float32"], "Compute dtype.")
flags.DEFINE_list("sides", ["keras_jax", "torch", "torch_compiled"], "Sides to time, in order.")
flags.DEFINE_string("run_side", None, "Internal: time this one side in this process.")
flags.DEFINE_integer("steps_per_execution", 10, "Keras side: compile(steps_per_execution=...).")
flags.DEFINE_float("seconds", 60.0, "Timed seconds per side (after compilation).")
flags.DEFINE_float("chunk_seconds", 8.0, "Seconds per timed chunk (one sample).")
flags.DEFINE_float("side_timeout", 600.0, "Seconds before a side's process is killed.")
flags.DEFINE_integer("target_sequences_per_s", 4000, "The issue's target on one H100.")
flags.DEFINE_bool("smoke", False, "CPU smoke run: tiny config, batch 8, 6 s per side.")
flags.DEFINE_enum("rng", "threefry", ["threefry", "rbg"],
                  "Keras side: JAX random-bit generator (see the module docstring).")
flags.DEFINE_string("profile_dir", None,
                    "Trace one execution of each side here (jax.profiler, torch.profiler).")
flags.DEFINE_integer("top_kernels", 25, "Kernels listed in the profile summary.")
flags.DEFINE_float("dropout", None, "Override the config's dropout (0 bounds what it costs).")
flags.DEFINE_bool("measure_matmul", True, "Measure the bf16 matmul rate first (~20 s).")
FLAGS = flags.FLAGS


def _config():
    config = step_config(light_import("config").ElectraConfig.from_json(FLAGS.config),
                         FLAGS.seq_length)
    if FLAGS.dropout is not None:
        config = config.with_overrides({"dropout": FLAGS.dropout})
    return config


GEMM_KERNEL = re.compile(r"gemm|nvjet|cutlass|xmma|cublas", re.IGNORECASE)
ATTENTION_KERNEL = re.compile(r"fmha|flash|attention", re.IGNORECASE)


def kernel_summary(kernels, top):
    """`{name: [ms, count]}` of GPU kernels -> totals by kind and the `top` slowest."""
    ranked = sorted(kernels.items(), key=lambda kv: -kv[1][0])
    total = gemm = attention = 0.0
    for name, (ms, _) in kernels.items():
        total += ms
        if GEMM_KERNEL.search(name):
            gemm += ms
        elif ATTENTION_KERNEL.search(name):
            attention += ms
    return {"gpu_ms": round(total, 1), "gemm_ms": round(gemm, 1),
            "fused_attention_ms": round(attention, 1),
            "other_ms": round(total - gemm - attention, 1),
            "kernels": [[name[:160], round(ms, 2), n] for name, (ms, n) in ranked[:top]]}


def _chunks(run, step_s):
    """Times `run(n)` (n steps, synchronised) in chunks until `--seconds` pass; step/s each."""
    rates, start = [], time.perf_counter()
    while time.perf_counter() - start < FLAGS.seconds:
        steps = max(1, int(FLAGS.chunk_seconds / step_s))
        begin = time.perf_counter()
        steps = run(steps)
        rates.append(steps / (time.perf_counter() - begin))
    return rates


# ---------------------------------------------------------------------------- sides

def use_rbg_keys():
    """Makes Keras' JAX random ops use `rbg` keys (XLA's RngBitGenerator).

    Keras draws raw `uint32[2]` seeds from its `SeedGenerator`s and hands them
    to `jax.random`, which reads a raw key as the default (threefry) kind; an
    `rbg` key holds four words. Each drawn seed becomes one `rbg` key (its two
    words, then the same two mixed with a constant), used once for its bits.
    """
    import jax
    import jax.numpy as jnp
    from keras.src.backend.jax import random as keras_jax_random

    draw = keras_jax_random.jax_draw_seed

    def rbg_key(seed):
        seed = draw(seed)
        if jnp.issubdtype(seed.dtype, jax.dtypes.prng_key):
            return seed
        words = jnp.asarray(seed).astype(jnp.uint32)
        return jax.random.wrap_key_data(
            jnp.concatenate([words, words ^ jnp.uint32(0x9E3779B9)]), impl="rbg")

    keras_jax_random.jax_draw_seed = rbg_key


def profile_summary(trace_dir, top):
    """Top GPU kernels of the trace `jax.profiler` wrote under `trace_dir`.

    Reads the Chrome-format `*.trace.json.gz` it writes beside its `.xplane.pb`.

    Returns `kernel_summary` (GPU kernel time in total and by kind, the top
    kernels as `[name, ms, count]`) and each trace line's total time,
    over the trace's GPU stream threads (process names holding "GPU", thread
    names holding "Stream", else all the GPU's threads), the derived "XLA
    Ops"/"Modules" lines left out.
    """
    import collections
    import glob
    import gzip

    path = sorted(glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"),
                            recursive=True))[-1]  # the latest run's
    with gzip.open(path, "rt") as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    process, thread = {}, {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "process_name":
            process[e["pid"]] = e["args"]["name"]
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            thread[(e["pid"], e["tid"])] = e["args"]["name"]
    lines = collections.Counter()
    kernels = collections.defaultdict(lambda: [0.0, 0])
    gpu = [key for key, name in thread.items() if "GPU" in process.get(key[0], "")]
    streams = {key for key in gpu if "Stream" in thread[key]} or set(gpu)
    for e in events:
        if e.get("ph") != "X":
            continue
        where = (process.get(e["pid"], ""), thread.get((e["pid"], e["tid"]), ""))
        lines[" / ".join(where)] += e.get("dur", 0) / 1e3
        if (e["pid"], e["tid"]) in streams:
            kernels[e["name"]][0] += e.get("dur", 0) / 1e3
            kernels[e["name"]][1] += 1
    return {"trace": os.path.relpath(path, trace_dir),
            "lines_ms": {k: round(v, 1) for k, v in lines.most_common(6)},
            **kernel_summary(kernels, top)}


def keras_jax_side(config, batch):
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import keras
    import numpy as np

    from keras_jax_electra_step import ElectraStepModel

    if FLAGS.rng == "rbg":
        use_rbg_keys()
    keras.config.set_dtype_policy("mixed_bfloat16" if FLAGS.dtype == "bfloat16" else "float32")
    keras.utils.set_random_seed(0)
    model = ElectraStepModel(config)
    optimizer = keras.optimizers.AdamW(
        learning_rate=config.learning_rate, weight_decay=config.weight_decay,
        epsilon=config.adam_epsilon, global_clipnorm=config.clip_norm)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    spe = FLAGS.steps_per_execution
    model.compile(optimizer=optimizer, jit_compile=True, steps_per_execution=spe)
    # One epoch = one execution of `spe` steps on the same batch.
    data = {k: np.concatenate([v] * spe) for k, v in batch.items()}

    def run(steps):
        epochs = max(1, steps // spe)
        model.fit(data, batch_size=FLAGS.batch_size, epochs=epochs, shuffle=False, verbose=0)
        return epochs * spe

    start = time.perf_counter()
    run(spe)  # tracing + XLA compilation
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    run(2 * spe)
    rates = _chunks(run, (time.perf_counter() - start) / (2 * spe))
    profile = None
    if FLAGS.profile_dir:
        with jax.profiler.trace(FLAGS.profile_dir):
            run(spe)
        profile = profile_summary(FLAGS.profile_dir, FLAGS.top_kernels)
        profile["steps"] = spe
    device = jax.devices()[0]
    stats = device.memory_stats() or {}
    return rates, {"compile_s": round(compile_s, 1), "jax_version": jax.__version__,
                   "keras_version": keras.__version__, "jax_device": device.device_kind,
                   "steps_per_execution": spe, "rng": FLAGS.rng, "profile": profile,
                   "peak_memory_gib": round(stats["peak_bytes_in_use"] / 2 ** 30, 2)
                   if "peak_bytes_in_use" in stats else None,
                   "parameters": model.count_params()}


def torch_side(config, batch, compile_loss):
    import torch

    from torch_electra_step import build_torch_step

    device = "cuda" if torch.cuda.is_available() else "cpu"
    step, info = build_torch_step(config, FLAGS.dtype, compile_loss, device=device)
    inputs = [torch.tensor(batch[k], dtype=torch.long, device=device)
              for k in ("input_ids", "input_mask", "segment_ids")]
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def run(steps):
        for _ in range(steps):
            step(*inputs)
        sync()
        return steps

    start = time.perf_counter()
    run(3)  # allocation, cuDNN/cuBLAS heuristics, the whole compile under torch.compile
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    run(3)
    rates = _chunks(run, (time.perf_counter() - start) / 3)
    if FLAGS.profile_dir and device == "cuda":
        try:  # the timing above stands whatever the profiler does
            info["profile"] = torch_profile(run, steps=FLAGS.steps_per_execution)
        except Exception as error:  # noqa: BLE001
            info["profile_error"] = repr(error)[:300]
    info.update(compile_s=round(compile_s, 1), torch_device=device)
    if device == "cuda":
        info["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2 ** 30, 2)
        info["torch_device"] = torch.cuda.get_device_name()
    return rates, info


def torch_profile(run, steps):
    """`kernel_summary` of `steps` steps' CUDA kernels (torch.profiler); trace kept."""
    import collections

    import torch
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run(steps)
    kernels = collections.defaultdict(lambda: [0.0, 0])
    for event in prof.events():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            kernels[event.name][0] += event.time_range.elapsed_us() / 1e3
            kernels[event.name][1] += 1
    os.makedirs(FLAGS.profile_dir, exist_ok=True)
    prof.export_chrome_trace(os.path.join(FLAGS.profile_dir, "torch_trace.json"))
    return dict(kernel_summary(kernels, FLAGS.top_kernels), steps=steps)


def run_one_side(side):
    config = _config()
    batch = synthetic_batch(config, FLAGS.batch_size, FLAGS.seq_length)
    if side == "keras_jax":
        rates, info = keras_jax_side(config, batch)
    else:
        rates, info = torch_side(config, batch, compile_loss=side == "torch_compiled")
    sequences = statistics.median(rates) * FLAGS.batch_size
    if os.environ.get("XLA_FLAGS"):  # a compiler setting under test; shown beside the side
        info["xla_flags"] = os.environ["XLA_FLAGS"]
    print(json.dumps(dict({"side": side, "sequences_per_s": round(sequences, 1),
                           "sequences_per_s_all": [round(r * FLAGS.batch_size, 1)
                                                   for r in rates]}, **info)), flush=True)


# ---------------------------------------------------------------------------- driver

def matmul_tflops(n, repeats=10):
    """bf16 n^3 products through JAX on its default device (median of batches of 5)."""
    code = f"""
import json, statistics, time, jax, jax.numpy as jnp
a = jax.random.normal(jax.random.key(0), ({n}, {n}), jnp.bfloat16)
@jax.jit
def products(a):
    c = a
    for _ in range(5):
        c = (c @ a) * jnp.bfloat16(1e-2)  # keeps values finite
    return c[0, 0].astype(jnp.float32)
float(products(a))
times = []
for _ in range({repeats}):
    start = time.perf_counter(); float(products(a)); times.append(time.perf_counter() - start)
print(json.dumps({{"tflops": 5 * 2 * {n} ** 3 / statistics.median(times) / 1e12,
                  "device": jax.devices()[0].device_kind}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    if out.returncode:
        return None, None
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["tflops"], result["device"]


def _side_command(side):
    command = [sys.executable, os.path.abspath(__file__), f"--run_side={side}"]
    for name in ("config", "seq_length", "batch_size", "dtype", "steps_per_execution",
                 "seconds", "chunk_seconds", "rng", "profile_dir", "top_kernels",
                 "dropout"):
        if getattr(FLAGS, name) is not None:
            command.append(f"--{name}={getattr(FLAGS, name)}")
    return command


def main(argv):
    del argv
    if FLAGS.smoke:
        FLAGS.config = os.path.join(os.path.dirname(HERE), "configs/electra_tiny.json")
        FLAGS.batch_size, FLAGS.seconds, FLAGS.chunk_seconds = 8, 6.0, 2.0
        FLAGS.steps_per_execution = 2
        os.environ.update(CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    if FLAGS.run_side:
        run_one_side(FLAGS.run_side)
        return
    name = nvidia_smi() or "CPU (no nvidia-smi)"
    matmul, jax_device = matmul_tflops(1024 if FLAGS.smoke else 8192,
                                       repeats=3 if FLAGS.smoke else 10) \
        if FLAGS.measure_matmul else (None, None)
    print(json.dumps({"bench": "gpu_device", "nvidia_smi": name, "jax_device": jax_device,
                      "measured_bf16_matmul_tflops": matmul and round(matmul, 1)}), flush=True)
    config = _config()
    flops = light_import("flops").train_step_flops(config, FLAGS.batch_size, FLAGS.seq_length)
    peak = datasheet_peak(name)[0]
    common = {"config": os.path.basename(FLAGS.config), "dropout": config.dropout,
              "batch_size": FLAGS.batch_size,
              "seq_length": FLAGS.seq_length, "dtype": FLAGS.dtype, "smoke": FLAGS.smoke}
    results = {}
    for side in FLAGS.sides:
        try:
            out = subprocess.run(_side_command(side), capture_output=True, text=True,
                                 timeout=FLAGS.side_timeout)
            failure = out.returncode and out.stderr[-1500:]
        except subprocess.TimeoutExpired:
            failure = f"killed after --side_timeout={FLAGS.side_timeout}s"
        record = {"bench": "gpu_pretrain", **common}
        if failure:
            record.update(side=side, status="failed", error=failure)
        else:
            record.update(json.loads(out.stdout.strip().splitlines()[-1]))
            achieved = flops * record["sequences_per_s"] / FLAGS.batch_size / 1e12
            record.update(tokens_per_s=round(record["sequences_per_s"] * FLAGS.seq_length),
                          train_step_tflop=round(flops / 1e12, 3),
                          achieved_tflops=round(achieved, 1),
                          mfu=peak and round(achieved / peak, 3),
                          mfu_vs_measured_matmul=matmul and round(achieved / matmul, 3))
            results[side] = record["sequences_per_s"]
        profile = record.pop("profile", None)
        print(json.dumps(record), flush=True)
        if profile:
            print(json.dumps({"bench": "gpu_profile", **common, "device": name.split(",")[0],
                              "side": side,
                              "rng": record.get("rng"), **profile}), flush=True)
    torch_sides = {s: v for s, v in results.items() if s.startswith("torch")}
    summary = {"bench": "gpu_pretrain_summary", **common, "device": name,
               "sequences_per_s": results, "peak_tflops_datasheet": peak,
               "target_sequences_per_s": FLAGS.target_sequences_per_s}
    if "keras_jax" in results:
        summary["meets_target"] = None if FLAGS.smoke else (
            results["keras_jax"] >= FLAGS.target_sequences_per_s)
        if torch_sides:
            best = max(torch_sides, key=torch_sides.get)
            summary.update(best_torch=best, keras_jax_vs_best_torch=round(
                results["keras_jax"] / torch_sides[best], 2))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    app.run(main)
