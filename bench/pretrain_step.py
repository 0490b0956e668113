"""Pre-training step speed: keras_electra vs PyTorch + transformers — tokens/s, MFU, peak RSS.

    python bench/pretrain_step.py --config=configs/electra_tiny.json,configs/electra_small.json \
        --dtype=float32,bfloat16 --batch_size=32 --seq_length=128 --steps=10 --repeats=3
    python bench/pretrain_step.py --config=configs/electra_tiny.json --steps=2 --repeats=1 \
        --warmup=1  # smoke run

Prints one JSON line per (config, dtype). Both sides run the same ELECTRA
step on the same sizes and random data: dynamic masking of
`round(15% of maskable tokens)` positions into `max_predictions_per_seq`
slots (85% `[MASK]`), the generator's MLM logits at those slots only,
Gumbel-max sampling in float32 without gradient, the discriminator's RTD
logits on every token, `1 * mlm + 50 * rtd`, AdamW (no decay on LayerNorm
and biases, linear warmup/decay schedule) and clipping at global norm 1.0,
dropout 0.1.

The keras_electra side is `build_pretrainer(config)` + `fit` with
`create_optimizer`; `bfloat16` is the config's `mixed_precision` (Keras
`mixed_bfloat16`: float32 variables, bfloat16 compute).

The PyTorch side (`bench/torch_electra_step.py`) is the careful version one
would write with transformers (which has no ELECTRA pre-training loop):
`ElectraForMaskedLM` (its encoder and heads called separately) and `ElectraForPreTraining` with
`attn_implementation="sdpa"`, one shared embedding module and a tied
generator output matrix, the generator's hidden states gathered at the
masked positions *before* its MLM head (no full-vocabulary logits),
AdamW with decay/no-decay parameter groups (`fused=True` where the build
has it), `clip_grad_norm_`, `torch.set_num_threads(cores)`; `bfloat16` is
`torch.autocast("cpu", torch.bfloat16)` around both towers (losses in
float32). `--torch_compile=both` (the default) times it twice, eager and
with the loss compiled by `torch.compile` (inductor, C++ on CPU; compile
time excluded, reported as `torch_*_first_step_s`), and the faster of the
two is the PyTorch number (`torch_variant`); both are reported.

Each side warms up (`--warmup` steps: tracing, XLA or inductor compilation,
oneDNN primitive caches), then `--repeats` timings of `--steps` steps; the
median is reported with every timing. The keras side runs warmup and repeats
in one `fit`, timed between step boundaries by a callback, as a training run
calls `fit` once (each `fit` call's first step carries seconds of set-up). With `--isolate` (the default) each
side runs in a fresh process of its own, so the peak resident memory of that
process (`wait4`'s `ru_maxrss`: model, optimizer state, activations,
framework runtime) belongs to that side alone. With `--interleave` (the
default) those processes take turns (`bench/turns.py`): each warms up while
the others wait, then every round times `--steps` steps of each side in turn
(the order rotating, a `--turn_pause_s` idle pause before each turn), so a
slow spell of a shared machine falls on both sides of the ratio, not on
whichever side ran during it (`"interleaved": true` in the line); the keras side fits with
`ReleaseFreedMemory`, as `run_pretraining` does (`--norelease_freed_memory`
to leave it out). `--remat` runs both sides with
gradient checkpointing of every encoder block (`ElectraConfig.remat`;
`gradient_checkpointing_enable()` in transformers).

Derived: `*_tokens_per_s` (batch * seq / step time),
`speedup_vs_transformers` (keras tokens/s over torch tokens/s),
`train_step_gflop` (`keras_electra.flops.train_step_flops`: matmuls only,
3x forward) and `*_mfu` = those FLOPs / step time / this machine's measured
matmul peak for the dtype (`--peak_gflops_*`, as `bench/run_all.py` passes
them from `bench/matmul_peak.py`; measured here at n=2048 when not given).
"""

import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from light_import import light_import  # noqa: E402  (bench/)
from step_inputs import step_config, synthetic_batch  # noqa: E402  (bench/)
from torch_electra_step import build_torch_step  # noqa: E402  (bench/)
from turns import TurnTaker, report_timing, run_in_turns, wait_for_turn  # noqa: E402  (bench/)

flags.DEFINE_list("config", ["configs/electra_small.json"], "ElectraConfig JSON file(s).")
flags.DEFINE_list("dtype", ["float32"], "float32 and/or bfloat16.")
flags.DEFINE_integer("batch_size", 32, "Examples per step.")
flags.DEFINE_integer("seq_length", 128, "Tokens per example.")
flags.DEFINE_integer("steps", 20, "Steps per timing.")
flags.DEFINE_integer("repeats", 3, "Timings per side (median reported).")
flags.DEFINE_integer("warmup", 3, "Untimed warmup steps.")
flags.DEFINE_bool("torch", True, "Time the PyTorch + transformers step.")
flags.DEFINE_bool("keras", True, "Time the keras_electra step.")
flags.DEFINE_bool("isolate", True, "Run each side in a fresh process (per-side peak RSS).")
flags.DEFINE_bool("interleave", True, "With --isolate: the sides' processes take turns "
                  "(bench/turns.py), one timing of each per round, so a slow spell of a shared "
                  "machine falls on every side alike.")
flags.DEFINE_float("turn_pause_s", 1.0, "With --interleave: idle seconds before each turn.")
flags.DEFINE_bool("take_turns", False, "Internal, set for --interleave's children: each timing "
                  "waits for the driver's go (bench/turns.py).")
flags.DEFINE_enum("jit_compile", "auto", ["auto", "true", "false"],
                  "keras `compile(jit_compile=...)`; auto = Keras' choice (no XLA on CPU).")
flags.DEFINE_integer("steps_per_execution", 1, "keras `compile(steps_per_execution=...)`.")
flags.DEFINE_enum("torch_compile", "both", ["false", "true", "both"],
                  "PyTorch side: eager, torch.compile'd loss, or both (the faster counts).")
flags.DEFINE_bool("torch_fused_adamw", True, "AdamW(fused=True) on the PyTorch side.")
flags.DEFINE_float("peak_gflops_float32", None, "Measured float32 matmul peak (GFLOP/s).")
flags.DEFINE_float("peak_gflops_bfloat16", None, "Measured bfloat16 matmul peak (GFLOP/s).")
flags.DEFINE_bool("mfu", True, "Report MFU (measures the matmul peak when not given).")
flags.DEFINE_integer("num_threads", None, "Intra-op threads of both sides (default: cores).")
flags.DEFINE_bool("release_freed_memory", True, "keras side: fit with ReleaseFreedMemory, as "
                  "run_pretraining does (--norelease_freed_memory: without).")
flags.DEFINE_bool("remat", False, "Recompute encoder blocks in the backward pass on both sides "
                  "(ElectraConfig.remat; transformers' gradient_checkpointing_enable).")
FLAGS = flags.FLAGS

HERE = os.path.dirname(os.path.abspath(__file__))
# Only the top package is stubbed: the keras side imports the real subpackages.
TOP_ONLY = ("keras_electra",)
DTYPES = ("float32", "bfloat16")


def usable_cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _load_config(path):
    ElectraConfig = light_import("config", TOP_ONLY).ElectraConfig
    config = step_config(ElectraConfig.from_json(path), FLAGS.seq_length)
    return config.with_overrides({"remat": FLAGS.remat})


def _timed(run_steps):
    """`run_steps(n)` runs n steps; returns per-step seconds of each repeat."""
    run_steps(FLAGS.warmup)
    timings = []
    for _ in range(FLAGS.repeats):
        if FLAGS.take_turns:
            wait_for_turn()
        start = time.perf_counter()
        run_steps(FLAGS.steps)
        timings.append((time.perf_counter() - start) / FLAGS.steps)
        if FLAGS.take_turns:
            report_timing(timings[-1])
    return timings


# --------------------------------------------------------------------- keras_electra

def time_keras(config, batch, dtype):
    import keras
    import tensorflow as tf

    from keras_electra.builders import build_pretrainer
    from keras_electra.training.optimizer import create_optimizer
    from keras_electra.training.release_freed_memory import ReleaseFreedMemory

    config = config.with_overrides({"mixed_precision": dtype})
    keras.utils.set_random_seed(0)
    pretrainer = build_pretrainer(config)
    jit = {"auto": "auto", "true": True, "false": False}[FLAGS.jit_compile]
    pretrainer.compile(optimizer=create_optimizer(config, 10_000), jit_compile=jit,
                       steps_per_execution=FLAGS.steps_per_execution)
    data = tf.data.Dataset.from_tensors({k: tf.constant(v) for k, v in batch.items()}).repeat()
    spe = FLAGS.steps_per_execution
    if FLAGS.warmup < 1 or FLAGS.warmup % spe or FLAGS.steps % spe:
        raise SystemExit("keras side: --warmup (>= 1) and --steps must be multiples of "
                         "--steps_per_execution")

    bounds = [FLAGS.warmup + i * FLAGS.steps for i in range(FLAGS.repeats + 1)]
    timings, start = [], None

    class StepClock(keras.callbacks.Callback):
        """Times the repeats between step boundaries, in one `fit`.

        With `--take_turns`, `fit` waits at each repeat's first boundary for
        the driver's go, and the repeat's clock starts after it."""

        def on_train_batch_end(self, batch, logs=None):
            nonlocal start
            now, done = time.perf_counter(), batch + 1
            if done not in bounds:
                return
            if start is not None:
                timings.append((now - start) / FLAGS.steps)
                if FLAGS.take_turns:
                    report_timing(timings[-1])
            if done < bounds[-1]:
                if FLAGS.take_turns:
                    wait_for_turn()
                start = time.perf_counter()

    # One `fit` for warmup and every repeat, timed between step boundaries: a
    # training run calls `fit` once, and each new `fit` call pays seconds of
    # set-up in its first step (its iterator and callbacks) that no step of a
    # long run pays. The warmup steps absorb it, with tracing.
    # As `run_pretraining` trains: the tracing's freed heap goes back to the
    # system (ReleaseFreedMemory), which lowers the peak RSS, not the step time.
    callbacks = [StepClock()] + ([ReleaseFreedMemory()] if FLAGS.release_freed_memory else [])
    pretrainer.fit(data, steps_per_epoch=bounds[-1], epochs=1, verbose=0, callbacks=callbacks)
    return timings, {"jit_compile": bool(pretrainer.jit_compile),
                     "steps_per_execution": FLAGS.steps_per_execution,
                     "release_freed_memory": FLAGS.release_freed_memory,
                     "tf_version": tf.__version__, "keras_version": keras.__version__}


# ------------------------------------------------------------- PyTorch + transformers

def time_torch(config, batch, dtype, compile_loss=False):
    import torch

    torch.set_num_threads(FLAGS.num_threads or usable_cores())
    step, info = build_torch_step(config, dtype, compile_loss, FLAGS.torch_fused_adamw)
    ids = torch.tensor(batch["input_ids"], dtype=torch.long)
    attention = torch.tensor(batch["input_mask"], dtype=torch.long)
    segments = torch.tensor(batch["segment_ids"], dtype=torch.long)

    def run_steps(n):
        for _ in range(n):
            step(ids, attention, segments)

    start = time.perf_counter()
    run_steps(1)  # first step: allocation, and the whole compile with torch.compile
    info["torch_first_step_s"] = round(time.perf_counter() - start, 2)
    timings = _timed(run_steps)
    info["torch_threads"] = torch.get_num_threads()
    return timings, info


# ------------------------------------------------------------------------- driver

SIDES = {"keras": ("keras_electra", time_keras), "torch": ("transformers_torch", time_torch)}


def measure_side(side, config_path, dtype, compile_loss=False):
    """Times one side in this process; returns its fields, prefixed."""
    import numpy as np

    if side == "keras":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(
            FLAGS.num_threads or usable_cores())
    config = _load_config(config_path)
    batch = synthetic_batch(config, FLAGS.batch_size, FLAGS.seq_length)
    prefix, timer = SIDES[side]
    timings, info = (timer(config, batch, dtype, compile_loss) if side == "torch"
                     else timer(config, batch, dtype))
    ms = 1e3 * statistics.median(timings)
    tokens = FLAGS.batch_size * FLAGS.seq_length
    fields = {f"{prefix}_ms": round(ms, 1),
              f"{prefix}_ms_all": [round(1e3 * t, 1) for t in timings],
              f"{prefix}_tokens_per_s": round(tokens / ms * 1e3, 1)}
    fields.update(info)
    return fields


def side_command(side, config_path, dtype, compile_loss=False, take_turns=False):
    """The command line that times one side in a process of its own."""
    command = [sys.executable, os.path.abspath(__file__), f"--config={config_path}",
               f"--dtype={dtype}", "--noisolate", "--nomfu",
               "--keras" if side == "keras" else "--nokeras",
               "--torch" if side == "torch" else "--notorch",
               f"--torch_compile={'true' if compile_loss else 'false'}",
               "--take_turns" if take_turns else "--notake_turns"]
    for name in ("batch_size", "seq_length", "steps", "repeats", "warmup", "jit_compile",
                 "steps_per_execution", "num_threads"):
        value = getattr(FLAGS, name)
        if value is not None:
            command.append(f"--{name}={value}")
    command.append("--torch_fused_adamw" if FLAGS.torch_fused_adamw else "--notorch_fused_adamw")
    command.append("--remat" if FLAGS.remat else "--noremat")
    command.append("--release_freed_memory" if FLAGS.release_freed_memory
                   else "--norelease_freed_memory")
    return command


def _child_env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))


def side_fields(side, output, usage):
    """A side process's fields (its last stdout line), plus its peak RSS in MB."""
    fields = json.loads(output.strip().splitlines()[-1])
    fields[f"{SIDES[side][0]}_peak_rss_mb"] = round(usage.ru_maxrss / 1024)
    return {k: v for k, v in fields.items() if k not in _COMMON}


def measure_side_isolated(side, config_path, dtype, compile_loss=False):
    """Runs one side in a fresh process; its fields plus its peak RSS in MB."""
    # A child that takes no turns: `finish` runs it to its end (wait4's usage).
    taker = TurnTaker(side_command(side, config_path, dtype, compile_loss), side, _child_env())
    return side_fields(side, *taker.finish())


def measure_sides_interleaved(runs, config_path, dtype):
    """Every (side, compile_loss) of `runs` in a process of its own, taking turns.

    Returns {run: fields, or the RuntimeError it failed with}. Each process
    warms up before the next starts; then each round times `--steps` steps
    of every side in turn (`bench/turns.py`)."""
    commands = {run: side_command(run[0], config_path, dtype, run[1], take_turns=True)
                for run in runs}
    done = run_in_turns(commands, FLAGS.repeats, FLAGS.turn_pause_s, _child_env())
    return {run: result if isinstance(result, RuntimeError) else side_fields(run[0], *result)
            for run, result in done.items()}


def measure_sides(runs, config_path, dtype):
    """{(side, compile_loss): fields or RuntimeError} by the flags' method."""
    if FLAGS.isolate and FLAGS.interleave:
        return measure_sides_interleaved(runs, config_path, dtype)
    measure = measure_side_isolated if FLAGS.isolate else measure_side
    results = {}
    for side, compile_loss in runs:
        try:
            results[side, compile_loss] = measure(side, config_path, dtype, compile_loss)
        except RuntimeError as e:  # the other runs and lines still go on
            results[side, compile_loss] = e
    return results


def best_torch_variant(variants):
    """The faster PyTorch variant's fields, plus every variant's time, RSS and compile time.

    `variants`: {"eager" | "compiled": fields}."""
    best = min(variants, key=lambda v: variants[v]["transformers_torch_ms"])
    fields = dict(variants[best], torch_variant=best)
    for name, values in variants.items():
        fields[f"torch_{name}_ms"] = values["transformers_torch_ms"]
        fields[f"torch_{name}_first_step_s"] = values.get("torch_first_step_s")
        fields[f"torch_{name}_peak_rss_mb"] = values.get("transformers_torch_peak_rss_mb")
    return fields


_COMMON = ("bench", "config", "dtype", "remat", "batch_size", "seq_length", "steps", "repeats", "warmup",
           "cpu_count", "num_threads")


def matmul_peak(dtype):
    """This machine's measured matmul peak for `dtype` (best of TF and torch, n=2048)."""
    command = [sys.executable, os.path.join(HERE, "matmul_peak.py"), f"--dtypes={dtype}",
               "--sizes=2048", "--repeats=3", "--warmup=1"]
    if FLAGS.num_threads:
        command.append(f"--num_threads={FLAGS.num_threads}")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    output = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    return max(json.loads(line)["peak_gflops"] for line in output.splitlines()
               if line.startswith("{"))


def main(argv):
    del argv
    train_step_flops = light_import("flops", TOP_ONLY).train_step_flops
    for dtype in FLAGS.dtype:
        if dtype not in DTYPES:
            raise SystemExit(f"--dtype: {dtype!r} is not one of {DTYPES}")
    runs = [("keras", False)] if FLAGS.keras else []
    if FLAGS.torch:
        runs += [("torch", compile_loss) for compile_loss in
                 {"false": [False], "true": [True], "both": [False, True]}[FLAGS.torch_compile]]
    peaks, failed = {}, False
    for config_path in FLAGS.config:
        for dtype in FLAGS.dtype:
            record = {"bench": "pretrain_step", "config": os.path.basename(config_path),
                      "dtype": dtype, "remat": FLAGS.remat, "batch_size": FLAGS.batch_size,
                      "seq_length": FLAGS.seq_length, "steps": FLAGS.steps,
                      "repeats": FLAGS.repeats, "warmup": FLAGS.warmup,
                      "cpu_count": os.cpu_count(),
                      "num_threads": FLAGS.num_threads or usable_cores()}
            if FLAGS.isolate:
                record["interleaved"] = FLAGS.interleave
            torch_variants = {}
            for (side, compile_loss), fields in measure_sides(runs, config_path, dtype).items():
                if isinstance(fields, RuntimeError):  # the other runs and lines still go on
                    name = "torch_compiled" if compile_loss else SIDES[side][0]
                    record[f"{name}_error"] = str(fields)[-1000:]
                    failed = True
                    continue
                if side == "torch":
                    torch_variants["compiled" if compile_loss else "eager"] = fields
                else:
                    record.update(fields)
            if torch_variants:
                record.update(best_torch_variant(torch_variants))
            keras_ms, torch_ms = (record.get("keras_electra_ms"),
                                  record.get("transformers_torch_ms"))
            if keras_ms and torch_ms:
                record["speedup_vs_transformers"] = round(torch_ms / keras_ms, 2)
            if record.get("keras_electra_peak_rss_mb") and record.get(
                    "transformers_torch_peak_rss_mb"):
                record["rss_ratio_vs_transformers"] = round(
                    record["keras_electra_peak_rss_mb"] /
                    record["transformers_torch_peak_rss_mb"], 2)
            config = _load_config(config_path)
            flops = train_step_flops(config, FLAGS.batch_size, FLAGS.seq_length)
            record["train_step_gflop"] = round(flops / 1e9, 2)
            if FLAGS.mfu:
                peak = getattr(FLAGS, f"peak_gflops_{dtype}")
                if peak is None:
                    peak = peaks.get(dtype) or matmul_peak(dtype)
                    peaks[dtype] = peak
                record["peak_gflops"] = peak
                for prefix in ("keras_electra", "transformers_torch"):
                    if record.get(f"{prefix}_ms"):
                        achieved = flops / (record[f"{prefix}_ms"] / 1e3) / 1e9
                        record[f"{prefix}_gflops"] = round(achieved, 1)
                        record[f"{prefix}_mfu"] = round(achieved / peak, 3)
            print(json.dumps(record), flush=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
