"""The benchmark suite: every bench/ script in turn, JSON lines in, one Markdown report out.

    make bench                                          # the full suite, into bench/
    python bench/run_all.py                             # the same
    python bench/run_all.py --quick --output_dir=/tmp/bench   # smoke run: tiny sizes, minutes
    python bench/run_all.py --only=matmul_peak,pretrain_step --torch_compile=false
    python bench/run_all.py --render_only      # RESULTS.md again from results.jsonl

Runs, each as a child process on this machine (run it otherwise idle: the
numbers are only as good as the quiet they were taken in):

1. `matmul_peak`: measured float32 / bfloat16 GEMM peak (TensorFlow and
   PyTorch); the best of the two per dtype is the MFU denominator below.
2. `pretrain_step`: the full ELECTRA pre-training step, keras_electra vs
   PyTorch + transformers, for the tiny and small configs at batch 32 x 128
   in float32 and bfloat16: tokens/s of both, their ratio, MFU and each
   side's peak RSS (each side in a process of its own, so this is also what
   `bench/pretrain_memory.py` reports; it is not run a second time). The
   sides' processes take turns, one timing of each per round, so a slow
   spell of the machine falls on both sides of the ratio. The
   PyTorch side runs eager and under `torch.compile`, and the faster counts.
   The small config runs again with `--remat`: gradient checkpointing on
   both sides (`ElectraConfig.remat`; transformers'
   `gradient_checkpointing_enable`), PyTorch eager.
3. `step_ops`: the step's ops that keras_electra does its own way (dropout
   masks, the generator's sampling, the MLM head's loss, GELU) vs Keras' own
   dropout and GELU, TensorFlow's loss and sampling ops and the original
   code's Gumbel-max sampler, per op.
4. `input_pipeline`: TFRecord pipeline examples/s vs what the step consumes.
5. `build_pretraining_data`: the TFRecord builder's MB/s and tokenizer
   speed vs Hugging Face `tokenizers`, on `DATA_ROOT/gutenberg` with a
   WordPiece vocabulary trained first (`keras_electra.build_vocab`).
6. `serving`: the text-in SavedModel vs transformers, batch-1 latency and
   batch throughput (random-weight model of the small config).
7. `tflite`: float and int8 TFLite vs Keras; needs a fine-tuned SST-2
   classifier (`--tflite_model_dir`).

A benchmark whose inputs are missing (data folder, model directory) is
skipped visibly: a JSON line with `"status": "skipped"` and the reason; one
that fails leaves `"status": "failed"` with the tail of its stderr, and the
suite goes on. Every line is echoed as it comes and collected into
`OUTPUT_DIR/results.jsonl`; `OUTPUT_DIR/RESULTS.md` renders them (machine,
date, one table per benchmark). Both files are rewritten atomically after
every benchmark, so an interrupted run keeps what it measured.

`RESULTS.md` also shows the runs of `bench/gpu_keras_jax.py` on a lent GPU
machine kept in `bench/results/gpu_*.jsonl` (`--gpu_results`), in their own
section: this suite runs on the CPU it is started on.

`--quick` shrinks every benchmark to a smoke run (tiny config only, a few
steps, small matrices): it checks the suite end to end; its numbers are
not measurements, and its report says so at the top.

The full run takes most of an hour on a 2-core CPU (an estimate from FLOPs
and smoke runs; `RESULTS.md` records the real time per benchmark), two
thirds of it the small config's steps and inductor's compilations;
`--torch_compile=false` saves about a quarter.
"""

import datetime
import glob
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time

from absl import app, flags

BENCHES = ("matmul_peak", "pretrain_step", "step_ops", "input_pipeline",
           "build_pretraining_data", "serving", "tflite")

flags.DEFINE_string("output_dir", None, "Where results.jsonl and RESULTS.md go "
                    "(default: bench/).")
flags.DEFINE_bool("quick", False, "Smoke-run sizes for every benchmark (not measurements).")
flags.DEFINE_list("only", [], f"Run only these of {list(BENCHES)}.")
flags.DEFINE_list("skip", [], "Skip these benchmarks.")
flags.DEFINE_list("configs", None, "pretrain_step configs (default: tiny and small; "
                  "--quick: tiny).")
flags.DEFINE_list("dtypes", ["float32", "bfloat16"], "pretrain_step dtypes.")
flags.DEFINE_enum("torch_compile", "both", ["false", "true", "both"],
                  "pretrain_step's PyTorch side: eager, torch.compile, or both, the faster "
                  "counting (default both; --quick: false unless given).")
flags.DEFINE_enum("jit_compile", "auto", ["auto", "true", "false"],
                  "pretrain_step's keras side: compile(jit_compile=...).")
flags.DEFINE_integer("steps_per_execution", 1, "pretrain_step's keras side.")
flags.DEFINE_bool("remat", True, "pretrain_step: the small config again with --remat "
                  "(gradient checkpointing on both sides).")
flags.DEFINE_string("data_root", None, "Shared data folder (default: $KERAS_ELECTRA_SHARED_DATA "
                    "or ../shared/data).")
flags.DEFINE_string("tflite_model_dir", "runs/sst2", "Fine-tuned SST-2 classifier for tflite.")
flags.DEFINE_integer("timeout_s", 3600, "Per-benchmark time limit.")
flags.DEFINE_string("gpu_results", "bench/results/gpu_*.jsonl",
                    "JSON lines of bench/gpu_keras_jax.py runs on a lent GPU machine (a glob, "
                    "relative to the repository), shown in their own section of RESULTS.md.")
flags.DEFINE_bool("render_only", False, "Rewrite RESULTS.md from OUTPUT_DIR/results.jsonl "
                  "(and --gpu_results) without running anything.")
FLAGS = flags.FLAGS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
TINY, SMALL = "configs/electra_tiny.json", "configs/electra_small.json"


# ------------------------------------------------------------------- the machine

def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            info = f.read()
    except OSError:
        return platform.processor() or "unknown", []
    fields = dict(line.split(":", 1) for line in info.splitlines()[:40] if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags_present = fields.get("flags", "").split()
    wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16",
                          "amx_tile") if f in flags_present]
    model = fields.get("model name", "unknown")
    if "cpu family" in fields:
        model += f" (family {fields['cpu family']}, model {fields.get('model', '?')})"
    return model, wanted


def _memory_gib():
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2 ** 20, 1)
    except OSError:
        pass
    return None


def _version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True).stdout.strip()
        return head + (" + local changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def busy_cores(seconds=3.0):
    """Cores' worth of CPU time other work used over `seconds` (this process sleeps),
    from /proc/stat; None where there is none. Unlike the load average, which still
    counts a job that ended a minute ago, it says what is running now."""
    def ticks():
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle

    try:
        total0, idle0 = ticks()
        time.sleep(seconds)
        total1, idle1 = ticks()
    except (OSError, ValueError, IndexError):
        return None
    elapsed = total1 - total0
    if elapsed <= 0:
        return None
    return round((elapsed - (idle1 - idle0)) / elapsed * (os.cpu_count() or 1), 2)


def machine_record():
    model, cpu_flags = _cpu_model()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "bench": "machine", "cpu": model, "cpu_count": os.cpu_count(), "usable_cores": usable,
        "cpu_flags": cpu_flags, "memory_gib": _memory_gib(), "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in (
            "tensorflow", "keras", "keras-hub", "tensorflow-text", "torch", "transformers",
            "tokenizers", "numpy", "ai-edge-litert")},
        "git": _git(), "load_average": [round(x, 2) for x in os.getloadavg()],
        "busy_cores_at_start": busy_cores(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": FLAGS.quick,
    }


# ------------------------------------------------------------------ the benchmarks

def _script(name):
    return [sys.executable, os.path.join(BENCH, f"{name}.py")]


def _data_root():
    return (FLAGS.data_root or os.environ.get("KERAS_ELECTRA_SHARED_DATA")
            or os.path.join(os.path.dirname(REPO), "shared", "data"))


def _peaks(records):
    """Best measured matmul GFLOP/s per dtype over the libraries (the MFU denominator)."""
    peaks = {}
    for r in records:
        if r.get("bench") == "matmul_peak" and "peak_gflops" in r:
            peaks[r["dtype"]] = max(peaks.get(r["dtype"], 0), r["peak_gflops"])
    return peaks


def plan_matmul_peak(records, work_dir):
    sizes, repeats = ("512,1024", 2) if FLAGS.quick else ("2048,4096", 5)
    return [_script("matmul_peak") + [f"--sizes={sizes}", f"--repeats={repeats}"]]


def plan_pretrain_step(records, work_dir):
    configs = FLAGS.configs or ([TINY] if FLAGS.quick else [TINY, SMALL])
    peaks = _peaks(records)
    torch_compile = FLAGS.torch_compile
    if FLAGS.quick and not FLAGS["torch_compile"].present:
        torch_compile = "false"  # inductor's first compile alone takes minutes
    commands = []
    for config in configs:
        # The sides take turns (`pretrain_step --interleave`): many short turns,
        # so the median is one a slow spell of a few seconds cannot move. The
        # small config's step is ~10x the tiny one's: fewer steps per turn.
        steps, repeats, warmup = (2, 1, 1) if FLAGS.quick else (
            (10, 7, 3) if "tiny" in config else (3, 10, 2))
        command = _script("pretrain_step") + [
            f"--config={config}", f"--dtype={','.join(FLAGS.dtypes)}", "--batch_size=32",
            "--seq_length=128", f"--steps={steps}", f"--repeats={repeats}",
            f"--warmup={warmup}",
            f"--torch_compile={torch_compile}", f"--jit_compile={FLAGS.jit_compile}",
            f"--steps_per_execution={FLAGS.steps_per_execution}"]
        command += [f"--peak_gflops_{dtype}={peak}" for dtype, peak in peaks.items()]
        commands.append(command)
        if FLAGS.remat and "small" in config and not FLAGS.quick:
            # Memory for compute: both sides gradient-checkpointed (PyTorch eager:
            # inductor's compile of the checkpointed step takes minutes).
            remat = [a for a in command if not a.startswith("--torch_compile=")]
            commands.append(remat + ["--remat", "--torch_compile=false"])
    return commands


def plan_step_ops(records, work_dir):
    return [_script("step_ops") + (["--repeats=1", "--iters=1", "--vocab_size=2000"]
                                     if FLAGS.quick else [])]


def plan_input_pipeline(records, work_dir):
    if FLAGS.quick:
        return [_script("input_pipeline") + ["--records=512", "--seconds=1", "--repeats=1",
                                             "--steps=1", f"--configs={TINY}"]]
    return [_script("input_pipeline") + [f"--configs={TINY},{SMALL}"]]


def plan_build_pretraining_data(records, work_dir):
    files = sorted(glob.glob(os.path.join(_data_root(), "gutenberg", "train_*.txt")))
    if not files:
        return f"no text at {_data_root()}/gutenberg/train_*.txt (--data_root)"
    if FLAGS.quick:
        files = files[:1]
    vocab = os.path.join(work_dir, "vocab.txt")
    train_vocab = [sys.executable, "-m", "keras_electra.build_vocab", f"--input_files={files[0]}",
                   f"--output={vocab}", f"--vocab_size={2000 if FLAGS.quick else 8192}",
                   f"--max_lines={2000 if FLAGS.quick else 50000}"]
    bench = _script("build_pretraining_data") + [
        f"--vocab_file={vocab}", f"--input_files={','.join(files)}",
        f"--repeats={1 if FLAGS.quick else 3}",
        f"--num_processes={'1' if FLAGS.quick else '1,2'}"]
    return [train_vocab, bench]


def plan_serving(records, work_dir):
    sst2 = os.path.join(_data_root(), "glue", "SST-2")
    if not os.path.isfile(os.path.join(sst2, "dev.tsv")):
        return f"no SST-2 dev set at {sst2} (--data_root)"
    if FLAGS.quick:
        return [_script("serving") + [f"--data_dir={sst2}", f"--config={TINY}",
                                      '--hparams={"vocab_size": 2000}', "--requests=20",
                                      "--batches=2", "--repeats=1", "--warmup=2"]]
    return [_script("serving") + [f"--data_dir={sst2}", f"--config={SMALL}"]]


def plan_tflite(records, work_dir):
    model_dir = os.path.join(REPO, FLAGS.tflite_model_dir)
    sst2 = os.path.join(_data_root(), "glue", "SST-2")
    if not os.path.isfile(os.path.join(model_dir, "task.json")):
        return (f"no fine-tuned SST-2 classifier at {FLAGS.tflite_model_dir} (task.json); "
                "pass --tflite_model_dir")
    if not os.path.isfile(os.path.join(sst2, "dev.tsv")):
        return f"no SST-2 dev set at {sst2} (--data_root)"
    return [_script("tflite") + [f"--model_dir={model_dir}", f"--data_dir={sst2}"]
            + (["--max_eval_examples=20", "--warmup=2"] if FLAGS.quick else [])]


PLANS = {name: globals()[f"plan_{name}"] for name in BENCHES}


def run_command(name, command):
    """Runs one command; yields its JSON lines, then a failure line if it failed."""
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    with tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=err,
                                   env=env, text=True)
        watchdog = threading.Timer(FLAGS.timeout_s, process.kill)
        watchdog.start()
        try:
            for line in process.stdout:
                if line.startswith("{"):
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        pass
            process.wait()
        finally:
            watchdog.cancel()
        if process.returncode:
            err.seek(0)
            yield {"bench": name, "status": "failed", "returncode": process.returncode,
                   "command": " ".join(command[1:]), "stderr_tail": err.read()[-1500:]}


# ---------------------------------------------------------------------- the report

def _cell(value):
    if isinstance(value, float):
        if value and abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if value is None:
        return "–"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(rows, columns):
    """Markdown table of `rows` (dicts); `columns` = [(header, key or function)]."""
    lines = ["| " + " | ".join(h for h, _ in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        cells = [_cell(key(row) if callable(key) else row.get(key)) for _, key in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _generic(rows):
    """A table of the fields that differ between rows, after a line of those that do not."""
    skip = {"bench", "status", "cpu_count"}
    keys = []
    for row in rows:
        keys += [k for k in row if k not in skip and k not in keys and not k.endswith("_all")]
    same = [k for k in keys if len(rows) > 1 and all(k in r and r[k] == rows[0][k] for r in rows)]
    lines = []
    if same:
        lines += ["Same in every row: " + "; ".join(f"{k} {_cell(rows[0][k])}" for k in same),
                  ""]
    return "\n".join(lines + [_table(rows, [(k, k) for k in keys if k not in same])])


def _ratio(row, key):
    return f"**{row[key]}×**" if row.get(key) is not None else None


def _remat(record):
    """'yes' for a `--remat` row (gradient checkpointing on both sides), else ''."""
    return "yes" if record.get("remat") else ""


def _gpu_section(gpu_records):
    """The lent-GPU runs of `bench/gpu_keras_jax.py`: one table row per side."""
    sides = [r for r in gpu_records if r.get("bench") == "gpu_pretrain" and "status" not in r]
    if not sides:
        return []
    devices = [r for r in gpu_records if r.get("bench") == "gpu_device"]
    summaries = [r for r in gpu_records if r.get("bench") == "gpu_pretrain_summary"]
    out = ["## GPU: ELECTRA pre-training step on one lent GPU (`bench/gpu_keras_jax.py`)", "",
           "The GPU machines lent to this project have PyTorch and JAX but no TensorFlow, "
           "no package index and only CUDA 13 libraries (TensorFlow 2.21's GPU build needs "
           "CUDA 12's), and a call carries at most 64 MiB (the TensorFlow wheel alone is "
           "547 MB), so the TensorFlow path (`bench/gpu.sh`) cannot run there. "
           "`keras_jax` is keras_electra's own towers (`builders`: embeddings, keras-hub "
           "encoder blocks, heads) on Keras 3's JAX backend, compiled by XLA, with the "
           "ELECTRA objective restated in `keras.ops`; `torch` and `torch_compiled` are the "
           "PyTorch + transformers step of the CPU table, on the GPU. Same config, batch, "
           "dtype and machine, one after another.", ""]
    measured = {}
    for d in devices:  # each run measures its device's matmul peak; the best per device
        name = d.get("jax_device") or d.get("nvidia_smi")
        if d.get("measured_bf16_matmul_tflops"):  # runs told to skip it hold none
            measured[name] = max(measured.get(name, 0), d["measured_bf16_matmul_tflops"])
    if measured:
        out += ["Devices (measured bf16 matmul peak): " + "; ".join(
            f"{name} {tflops} TFLOP/s" for name, tflops in measured.items()), ""]
    out += [_table(sides, [
        ("device", lambda r: r.get("jax_device") or r.get("torch_device")),
        ("side", "side"), ("XLA_FLAGS", lambda r: r.get("xla_flags") or ""),
        # Runs before these fields existed used JAX's default RNG and dropout 0.1.
        ("RNG", lambda r: r.get("rng", "threefry") if r["side"] == "keras_jax" else ""),
        ("dropout", lambda r: r.get("dropout", 0.1)),
        ("config", "config"), ("batch × seq", lambda r:
                                                 f"{r.get('batch_size')} × {r.get('seq_length')}"),
        ("dtype", "dtype"), ("sequences/s", "sequences_per_s"), ("tokens/s", "tokens_per_s"),
        ("TFLOP/s", "achieved_tflops"), ("MFU (datasheet)", "mfu"),
        ("MFU (measured matmul)", "mfu_vs_measured_matmul"),
        ("peak GiB", "peak_memory_gib"), ("compile s", "compile_s"),
        ("versions", lambda r: ", ".join(f"{k.split('_')[0]} {r[k]}" for k in (
            "jax_version", "keras_version", "torch_version", "transformers_version")
            if r.get(k)))]), ""]
    profiles = [r for r in gpu_records if r.get("bench") == "gpu_profile"]
    if profiles:
        out += ["GPU kernel time per step in one traced execution (`--profile_dir`: "
                "jax.profiler, torch.profiler), by kind of kernel; `fused attention` is "
                "cuDNN's flash attention (forward and backward, dropout inside), which only "
                "the PyTorch side has. Top kernels are in the JSON lines.", ""]
        per_step = lambda key: lambda r: round(r[key] / r["steps"], 1)  # noqa: E731
        out += [_table(profiles, [
            ("device", "device"), ("side", "side"), ("RNG", lambda r: r.get("rng") or ""),
            ("dropout", lambda r: r.get("dropout", 0.1)),
            ("batch × seq", lambda r: f"{r.get('batch_size')} × {r.get('seq_length')}"),
            ("GPU ms/step", per_step("gpu_ms")), ("GEMM ms", per_step("gemm_ms")),
            ("fused attention ms", per_step("fused_attention_ms")),
            ("other ms", per_step("other_ms"))]), ""]
    for summary in summaries:
        if "keras_jax" not in summary.get("sequences_per_s", {}):
            continue  # a PyTorch-only run has no target to meet
        line = (f"{str(summary.get('device', '')).split(',')[0]}, batch "
                f"{summary.get('batch_size')}: target {summary.get('target_sequences_per_s')}"
                f" sequences/s met: {summary.get('meets_target')}")
        if summary.get("best_torch"):
            line += (f"; keras_jax / best PyTorch ({summary['best_torch']}): "
                     f"**{summary.get('keras_jax_vs_best_torch')}×**")
        if line + "." not in out:  # runs of one side each repeat the same line
            out += [line + ".", ""]
    return out


def render(records, gpu_records=()):
    machine = next((r for r in records if r.get("bench") == "machine"), {})
    ok = [r for r in records if r.get("bench") != "machine" and "status" not in r]
    out = ["# Benchmark results", ""]
    if machine.get("quick"):
        out += ["> **Smoke run (`--quick`)**: tiny sizes, a step or two per timing. These "
                "numbers check that the suite runs; they are not measurements.", ""]
    busy = machine.get("busy_cores_at_start")
    if busy is not None:  # measured over 3 s before the run
        other = (f"{busy} cores were busy with other work when the run started"
                 if busy > 0.5 else None)
    else:  # older runs: the 1-minute load average, which also counts work just ended
        load = machine.get("load_average", [0])[0]
        other = (f"load average {load} when the run started: other work was running"
                 if load > 0.5 * (machine.get("usable_cores") or 1) else None)
    if other:
        out += [f"> **Warning**: {other}, and these numbers (PyTorch's especially: its "
                "OpenMP threads wait on each other when a core is taken) are not this "
                "machine's.", ""]
    took = machine.get("total_seconds")
    when = machine.get("date_utc", "?") + (f", in {took / 60:.0f} min" if took else "")
    out += [f"Written by `bench/run_all.py` (`make bench`) on {when}. Raw JSON lines: "
            "`results.jsonl`. Ratios are keras_electra over the PyTorch + transformers "
            "alternative: above 1 is faster (for memory, above 1 is more).", "",
            "## Machine", ""]
    versions = machine.get("versions", {})
    facts = [
        ("CPU", machine.get("cpu")),
        ("cores (usable)", f"{machine.get('cpu_count')} ({machine.get('usable_cores')})"),
        ("ISA extensions", " ".join(machine.get("cpu_flags", [])) or None),
        ("memory GiB", machine.get("memory_gib")), ("OS", machine.get("os")),
        ("Python", machine.get("python")),
        ("libraries", ", ".join(f"{k} {v}" for k, v in versions.items() if v)),
        ("commit", machine.get("git")), ("load average at start", machine.get("load_average")),
        ("cores busy with other work at start (3 s)", machine.get("busy_cores_at_start")),
        ("load average at end", machine.get("load_average_end")),
        ("seconds per benchmark", machine.get("seconds_by_bench"))]
    out += ["| | |", "|---|---|"]
    out += [f"| {name} | {_cell(value)} |" for name, value in facts]
    out.append("")

    by_bench = {}
    for r in ok:
        by_bench.setdefault(r["bench"], []).append(r)
    peaks = by_bench.pop("matmul_peak", [])
    if peaks:
        out += ["## Matmul peak (GFLOP/s, square n×n×n products)", "",
                _table(peaks, [("library", "library"), ("dtype", "dtype"),
                               ("peak GFLOP/s", "peak_gflops"), ("at n", "n_at_peak"),
                               ("by n", "gflops_by_n"), ("threads", "num_threads")]), "",
                "The best library's peak per dtype is the MFU denominator below.", ""]
    steps = by_bench.pop("pretrain_step", [])
    if steps:
        first = steps[0]
        out += [f"## Pre-training step: keras_electra vs PyTorch + transformers "
                f"(batch {first.get('batch_size')} × {first.get('seq_length')})", "",
                _table(steps, [
                    ("config", "config"), ("dtype", "dtype"), ("remat", _remat),
                    ("keras tokens/s", "keras_electra_tokens_per_s"),
                    ("torch tokens/s", "transformers_torch_tokens_per_s"),
                    ("keras / torch", lambda r: _ratio(r, "speedup_vs_transformers")),
                    ("keras MFU", "keras_electra_mfu"), ("torch MFU", "transformers_torch_mfu"),
                    ("step GFLOP", "train_step_gflop"), ("peak GFLOP/s", "peak_gflops"),
                    ("keras ms", "keras_electra_ms"), ("torch ms", "transformers_torch_ms")]),
                "",
                "MFU: `keras_electra.flops.train_step_flops` (matmuls, forward + backward) per "
                "second over the measured matmul peak of that dtype.", "",
                "### Peak RSS (MB, each side in its own process)", "",
                _table(steps, [
                    ("config", "config"), ("dtype", "dtype"), ("remat", _remat),
                    ("keras", "keras_electra_peak_rss_mb"),
                    ("torch", "transformers_torch_peak_rss_mb"),
                    ("keras / torch", lambda r: _ratio(r, "rss_ratio_vs_transformers"))]),
                "",
                "### Settings", "",
                _table(steps, [
                    ("config", "config"), ("dtype", "dtype"), ("remat", _remat),
                    ("steps × repeats", lambda r:
                                                               f"{r.get('steps')} × "
                                                               f"{r.get('repeats')}"),
                    ("sides timed", lambda r: {True: "in turns", False: "one after another"}
                     .get(r.get("interleaved"))),
                    ("keras XLA", "jit_compile"), ("torch variant", "torch_variant"),
                    ("torch eager ms", "torch_eager_ms"),
                    ("torch compiled ms", "torch_compiled_ms"),
                    ("compile s", "torch_compiled_first_step_s"),
                    ("attention", "attn_implementation"), ("fused AdamW", "fused_adamw"),
                    ("threads", "num_threads"),
                    ("errors", lambda r: "; ".join(v[:200] for k, v in r.items()
                                                   if k.endswith("_error")) or None)]),
                ""]
    for name, rows in by_bench.items():
        out += [f"## {name}", "", _generic(rows), ""]
    out += _gpu_section(gpu_records)
    other = [r for r in records if "status" in r]
    if other:
        out += ["## Skipped or failed", "",
                _table(other, [("benchmark", "bench"), ("status", "status"),
                               ("why", lambda r: r.get("reason") or
                                (r.get("stderr_tail") or "")[-300:])]), ""]
    return "\n".join(out)


def _write_atomic(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def read_gpu_results(pattern):
    """The JSON lines of `pattern`'s files; a `gpu_profile` line without a device
    takes that of the `gpu_device` line before it (each run prints that first)."""
    records = []
    for path in sorted(glob.glob(os.path.join(REPO, pattern))):
        device = None
        with open(path, encoding="utf-8") as f:
            for record in (json.loads(line) for line in f if line.startswith("{")):
                if record.get("bench") == "gpu_device":
                    device = record.get("nvidia_smi", "").split(",")[0]
                if record.get("bench") == "gpu_profile":
                    record.setdefault("device", device)
                records.append(record)
    return records


def write_outputs(output_dir, records, write_jsonl=True):
    os.makedirs(output_dir, exist_ok=True)
    if write_jsonl:
        _write_atomic(os.path.join(output_dir, "results.jsonl"),
                      "".join(json.dumps(r) + "\n" for r in records))
    _write_atomic(os.path.join(output_dir, "RESULTS.md"),
                  render(records, read_gpu_results(FLAGS.gpu_results)))


def main(argv):
    del argv
    unknown = [n for n in FLAGS.only + FLAGS.skip if n not in BENCHES]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; known: {list(BENCHES)}")
    output_dir = FLAGS.output_dir or BENCH
    if FLAGS.render_only:
        path = os.path.join(output_dir, "results.jsonl")
        try:
            with open(path, encoding="utf-8") as f:
                records = [json.loads(line) for line in f if line.strip()]
        except (OSError, ValueError) as e:
            raise SystemExit(f"--render_only: cannot read {path}: {e}")
        write_outputs(output_dir, records, write_jsonl=False)
        return
    selected = [n for n in BENCHES if (not FLAGS.only or n in FLAGS.only) and n not in FLAGS.skip]
    records = [machine_record()]
    print(json.dumps(records[0]), flush=True)
    start, seconds = time.perf_counter(), records[0].setdefault("seconds_by_bench", {})
    with tempfile.TemporaryDirectory() as work_dir:
        for name in selected:
            bench_start = time.perf_counter()
            plan = PLANS[name](records, work_dir)
            lines = []
            if isinstance(plan, str):
                lines.append({"bench": name, "status": "skipped", "reason": plan})
                print(json.dumps(lines[-1]), flush=True)
                plan = []
            for command in plan:
                produced = 0
                for record in run_command(name, command):
                    lines.append(record)
                    produced += 1
                    print(json.dumps(record), flush=True)
                if produced == 1 and lines[-1].get("status") == "failed":
                    break  # nothing measured (a setup step, e.g. the vocabulary): stop here
            seconds[name] = round(time.perf_counter() - bench_start)
            records += lines
            write_outputs(output_dir, records)
    records[0]["total_seconds"] = round(time.perf_counter() - start)
    records[0]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    write_outputs(output_dir, records)
    print(f"wrote {os.path.join(output_dir, 'RESULTS.md')} and results.jsonl "
          f"({records[0]['total_seconds']} s)", file=sys.stderr)


if __name__ == "__main__":
    app.run(main)
