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

The PyTorch side is the careful version one would write with transformers
(which has no ELECTRA pre-training loop): `ElectraForMaskedLM` (its
encoder and heads called separately) and `ElectraForPreTraining` with
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
median is reported with every timing. With `--isolate` (the default) each
side runs in a fresh process of its own, so the peak resident memory of that
process (`wait4`'s `ru_maxrss`: model, optimizer state, activations,
framework runtime) belongs to that side alone.

Derived: `*_tokens_per_s` (batch * seq / step time),
`speedup_vs_transformers` (keras tokens/s over torch tokens/s),
`train_step_gflop` (`keras_electra.flops.train_step_flops`: matmuls only,
3x forward) and `*_mfu` = those FLOPs / step time / this machine's measured
matmul peak for the dtype (`--peak_gflops_*`, as `bench/run_all.py` passes
them from `bench/matmul_peak.py`; measured here at n=2048 when not given).
"""

import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

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
FLAGS = flags.FLAGS

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = ("float32", "bfloat16")


def usable_cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _light_import(module):
    """`keras_electra.<module>` without running `keras_electra/__init__.py`.

    The package's `__init__` imports Keras and TensorFlow (~0.5 GB resident),
    which the PyTorch side's process must not carry: its peak RSS is the
    measurement. `config` and `flops` need neither, so an empty package
    module stands in for it when nothing has imported the real one yet
    (submodule imports, `keras_electra.builders` included, work the same).
    """
    if "keras_electra" not in sys.modules:
        package = types.ModuleType("keras_electra")
        package.__path__ = [os.path.join(os.path.dirname(HERE), "keras_electra")]
        sys.modules["keras_electra"] = package
    return importlib.import_module(f"keras_electra.{module}")


def _load_config(path):
    ElectraConfig = _light_import("config").ElectraConfig
    config = ElectraConfig.from_json(path)
    return config.with_overrides({
        "max_seq_length": FLAGS.seq_length, "dropout": 0.1,
        "max_position_embeddings": max(FLAGS.seq_length, config.max_position_embeddings)})


def _batch(config, rng):
    import numpy as np

    ids = rng.integers(5, config.vocab_size, (FLAGS.batch_size, FLAGS.seq_length)).astype("int32")
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    return {"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": np.zeros_like(ids)}


def _timed(run_steps):
    """`run_steps(n)` runs n steps; returns per-step seconds of each repeat."""
    run_steps(FLAGS.warmup)
    timings = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        run_steps(FLAGS.steps)
        timings.append((time.perf_counter() - start) / FLAGS.steps)
    return timings


# --------------------------------------------------------------------- keras_electra

def time_keras(config, batch, dtype):
    import keras
    import tensorflow as tf

    from keras_electra.builders import build_pretrainer
    from keras_electra.training.optimizer import create_optimizer

    config = config.with_overrides({"mixed_precision": dtype})
    keras.utils.set_random_seed(0)
    pretrainer = build_pretrainer(config)
    jit = {"auto": "auto", "true": True, "false": False}[FLAGS.jit_compile]
    pretrainer.compile(optimizer=create_optimizer(config, 10_000), jit_compile=jit,
                       steps_per_execution=FLAGS.steps_per_execution)
    data = tf.data.Dataset.from_tensors({k: tf.constant(v) for k, v in batch.items()}).repeat()

    def run_steps(n):
        if n:
            pretrainer.fit(data, steps_per_epoch=n, epochs=1, verbose=0)

    timings = _timed(run_steps)
    return timings, {"jit_compile": bool(pretrainer.jit_compile),
                     "steps_per_execution": FLAGS.steps_per_execution,
                     "tf_version": tf.__version__, "keras_version": keras.__version__}


# ------------------------------------------------------------- PyTorch + transformers

def build_torch_step(config, dtype, compile_loss=False, fused_adamw=True):
    """`(step(ids, attention, segments), info)`: one careful ELECTRA step in PyTorch."""
    import torch
    import torch.nn.functional as F
    import transformers

    if getattr(config, "objective", "electra") != "electra":
        raise ValueError("The PyTorch side implements the 'electra' objective only.")
    torch.manual_seed(0)
    common = dict(
        vocab_size=config.vocab_size, embedding_size=config.embedding_size,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        hidden_act={"gelu": "gelu", "gelu_approximate": "gelu_new"}[config.hidden_act],
        hidden_dropout_prob=config.dropout, attention_probs_dropout_prob=config.dropout,
        layer_norm_eps=config.layer_norm_epsilon, initializer_range=config.initializer_range,
        attn_implementation="sdpa")
    disc = transformers.ElectraForPreTraining(transformers.ElectraConfig(
        hidden_size=config.hidden_size, num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads, intermediate_size=config.intermediate_size,
        **common))
    gen = transformers.ElectraForMaskedLM(transformers.ElectraConfig(
        hidden_size=config.generator_width, num_hidden_layers=config.generator_depth,
        num_attention_heads=config.generator_heads, intermediate_size=config.generator_ffn,
        **common))
    # ELECTRA shares word/position/segment embeddings (and their LayerNorm); the
    # generator's output matrix is the word table.
    gen.electra.embeddings = disc.electra.embeddings
    gen.generator_lm_head.weight = disc.electra.embeddings.word_embeddings.weight

    num_predictions = config.predictions_per_seq
    # [PAD], [CLS], [SEP], [MASK]: never masked (keras_electra's default layout).
    special_ids = torch.tensor([0, 2, 3, 4])
    autocast = dtype == "bfloat16"

    class ElectraLoss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gen, self.disc = gen, disc

        def forward(self, ids, attention, segments):
            batch_size = ids.shape[0]
            with torch.no_grad():  # dynamic masking, as keras_electra.objectives.masking
                maskable = attention.bool() & ~torch.isin(ids, special_ids)
                scores = torch.rand(ids.shape).masked_fill(~maskable, -1.0)
                positions = scores.topk(num_predictions, dim=1).indices  # (b, p)
                candidates = maskable.sum(1)
                count = torch.minimum(
                    torch.round(candidates * config.mask_prob).clamp(min=1), candidates)
                count = count.clamp(max=num_predictions)
                weights = torch.arange(num_predictions)[None, :] < count[:, None]
                targets = ids.gather(1, positions)
                use_mask = weights & (torch.rand(batch_size, num_predictions)
                                      < config.mask_token_prob)
                masked = ids.scatter(1, positions, torch.where(use_mask, 4, targets))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                hidden = self.gen.electra(masked, attention_mask=attention,
                                          token_type_ids=segments).last_hidden_state
                # Only the masked positions reach the MLM head and the vocabulary.
                hidden = hidden.gather(1, positions[..., None].expand(-1, -1, hidden.shape[-1]))
                gen_logits = self.gen.generator_lm_head(self.gen.generator_predictions(hidden))
            gen_logits = gen_logits.float()
            w = weights.float()
            mlm = (F.cross_entropy(gen_logits.flatten(0, 1), targets.flatten(),
                                   reduction="none") * w.flatten()).sum() / w.sum().clamp(min=1)
            with torch.no_grad():  # Gumbel-max in float32, the original's noise
                uniform = torch.rand_like(gen_logits)
                gumbel = -torch.log(-torch.log(uniform + 1e-9) + 1e-9)
                sampled = (gen_logits / config.temperature + gumbel).argmax(-1)
                corrupted = ids.scatter(1, positions, torch.where(weights, sampled, targets))
                labels = (corrupted != ids).float()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                disc_logits = self.disc(corrupted, attention_mask=attention,
                                        token_type_ids=segments).logits
            real = attention.float()
            rtd = (F.binary_cross_entropy_with_logits(disc_logits.float(), labels,
                                                      reduction="none") * real).sum() / real.sum()
            return config.generator_weight * mlm + config.discriminator_weight * rtd

    model = ElectraLoss().train()
    named = {}
    for name, parameter in list(disc.named_parameters()) + list(gen.named_parameters()):
        named.setdefault(id(parameter), (name, parameter))  # shared ones once
    params = [p for _, p in named.values()]
    no_decay = [p for n, p in named.values() if "bias" in n or "LayerNorm" in n]
    decay = [p for n, p in named.values() if not ("bias" in n or "LayerNorm" in n)]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    fused = False
    if fused_adamw:
        try:
            optimizer = torch.optim.AdamW(groups, lr=config.learning_rate,
                                          eps=config.adam_epsilon, fused=True)
            fused = True
        except (RuntimeError, TypeError, ValueError):  # a build without the fused kernel
            pass
    if not fused:
        optimizer = torch.optim.AdamW(groups, lr=config.learning_rate, eps=config.adam_epsilon)
    # keras_electra's WarmupLinearDecay: peak * (1 - step/total) * min(1, step/warmup).
    total, warmup = 10_000, min(config.num_warmup_steps, 10_000)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: max(0.0, 1 - s / total) * (min(1.0, s / warmup) if warmup else 1.0))
    loss_fn = torch.compile(model) if compile_loss else model

    def step(ids, attention, segments):
        loss = loss_fn(ids, attention, segments)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.clip_norm)
        optimizer.step()
        schedule.step()
        return loss

    info = {"torch_version": torch.__version__, "transformers_version": transformers.__version__,
            "attn_implementation": disc.config._attn_implementation, "fused_adamw": fused,
            "torch_compile": compile_loss,
            "torch_parameters": sum(p.numel() for p in params)}
    return step, info


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
    batch = _batch(config, np.random.default_rng(0))
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


def measure_side_isolated(side, config_path, dtype, compile_loss=False):
    """Runs one side in a fresh process; its fields plus its peak RSS in MB."""
    command = [sys.executable, os.path.abspath(__file__), f"--config={config_path}",
               f"--dtype={dtype}", "--noisolate", "--nomfu",
               "--keras" if side == "keras" else "--nokeras",
               "--torch" if side == "torch" else "--notorch",
               f"--torch_compile={'true' if compile_loss else 'false'}"]
    for name in ("batch_size", "seq_length", "steps", "repeats", "warmup", "jit_compile",
                 "steps_per_execution", "num_threads"):
        value = getattr(FLAGS, name)
        if value is not None:
            command.append(f"--{name}={value}")
    command.append("--torch_fused_adamw" if FLAGS.torch_fused_adamw else "--notorch_fused_adamw")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, text=True)
        # wait4, not wait: the child's own resource usage (ru_maxrss in KiB on Linux).
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        output, errors = out.read(), err.read()
    if process.returncode:
        raise RuntimeError(f"{side} side failed (exit {process.returncode}): {errors[-3000:]}")
    fields = json.loads(output.strip().splitlines()[-1])
    prefix = SIDES[side][0]
    fields[f"{prefix}_peak_rss_mb"] = round(usage.ru_maxrss / 1024)
    return {k: v for k, v in fields.items() if k not in _COMMON}


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


_COMMON = ("bench", "config", "dtype", "batch_size", "seq_length", "steps", "repeats", "warmup",
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
    train_step_flops = _light_import("flops").train_step_flops
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
                      "dtype": dtype, "batch_size": FLAGS.batch_size,
                      "seq_length": FLAGS.seq_length, "steps": FLAGS.steps,
                      "repeats": FLAGS.repeats, "warmup": FLAGS.warmup,
                      "cpu_count": os.cpu_count(),
                      "num_threads": FLAGS.num_threads or usable_cores()}
            measure = measure_side_isolated if FLAGS.isolate else measure_side
            torch_variants = {}
            for side, compile_loss in runs:
                try:
                    fields = measure(side, config_path, dtype, compile_loss)
                except RuntimeError as e:  # the other runs and lines still go on
                    name = "torch_compiled" if compile_loss else SIDES[side][0]
                    record[f"{name}_error"] = str(e)[-1000:]
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
