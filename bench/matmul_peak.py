"""Measured matrix-multiply peak of this machine, float32 and bfloat16: TensorFlow and PyTorch.

    python bench/matmul_peak.py                                  # 2048 and 4096, 5 repeats
    python bench/matmul_peak.py --sizes=1024 --repeats=2         # smoke run
    python bench/matmul_peak.py --libraries=tensorflow --dtypes=bfloat16

The denominator of model FLOPs utilisation (MFU) in `bench/pretrain_step.py`:
what this machine's GEMM reaches, measured, rather than a datasheet number.
For each library, dtype and size n, one n x n by n x n product (2 n^3 FLOPs)
is run `--warmup` times untimed, then timed `--repeats` times; the median
is that size's GFLOP/s, and the best size's median is the peak. Every
library runs in a fresh process of its own (so one library's thread pool
never competes with the other's) with as many intra-op threads as this
process may use cores (`--num_threads`); TensorFlow runs eagerly, which on
CPU is synchronous and calls the same oneDNN / Eigen kernel a graph would.

Prints one JSON line per (library, dtype): `peak_gflops`, the size it was
reached at, every size's median (`gflops_by_n`) and every timing.
"""

import json
import os
import statistics
import subprocess
import sys
import time

from absl import app, flags

flags.DEFINE_list("sizes", ["2048", "4096"], "Square matrix sizes n (n x n x n products).")
flags.DEFINE_list("dtypes", ["float32", "bfloat16"], "float32 and/or bfloat16.")
flags.DEFINE_list("libraries", ["tensorflow", "torch"], "tensorflow and/or torch.")
flags.DEFINE_integer("repeats", 5, "Timed products per (size, dtype); the median counts.")
flags.DEFINE_integer("warmup", 2, "Untimed products first.")
flags.DEFINE_integer("num_threads", None, "Intra-op threads (default: usable cores).")
flags.DEFINE_bool("in_process", False, "Measure the one library of --libraries here "
                  "(what each child process does).")
FLAGS = flags.FLAGS


def usable_cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _tensorflow(threads):
    import tensorflow as tf

    # Before any op runs: TF fixes its thread pools at first use.
    tf.config.threading.set_intra_op_parallelism_threads(threads)

    def make(n, dtype):
        rng = tf.random.Generator.from_seed(0)
        a, b = (tf.cast(rng.normal((n, n)), dtype) for _ in range(2))

        def product():
            return float(tf.matmul(a, b)[0, 0])  # touch the result: the product has run
        return product
    return make, tf.__version__


def _torch(threads):
    import torch

    torch.set_num_threads(threads)

    def make(n, dtype):
        generator = torch.Generator().manual_seed(0)
        a, b = (torch.randn(n, n, generator=generator).to(getattr(torch, dtype))
                for _ in range(2))

        def product():
            return float(torch.mm(a, b)[0, 0])
        return product
    return make, torch.__version__


def measure(library, dtypes, sizes, repeats, warmup, threads):
    """Yields one record per dtype for `library` (measured in this process)."""
    make, version = {"tensorflow": _tensorflow, "torch": _torch}[library](threads)
    for dtype in dtypes:
        by_n, timings = {}, {}
        for n in sizes:
            product = make(n, dtype)
            for _ in range(warmup):
                product()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                product()
                times.append(time.perf_counter() - start)
            by_n[str(n)] = round(2 * n ** 3 / statistics.median(times) / 1e9, 1)
            timings[str(n)] = [round(t, 4) for t in times]
        best = max(by_n, key=by_n.get)
        yield {"bench": "matmul_peak", "library": library, "version": version, "dtype": dtype,
               "peak_gflops": by_n[best], "n_at_peak": int(best), "gflops_by_n": by_n,
               "seconds_by_n": timings, "repeats": repeats, "num_threads": threads,
               "cpu_count": os.cpu_count()}


def run_child(library, dtypes, sizes, repeats=5, warmup=2, threads=None):
    """Measures `library` in a fresh process; returns its records."""
    command = [sys.executable, os.path.abspath(__file__), "--in_process",
               f"--libraries={library}", f"--dtypes={','.join(dtypes)}",
               f"--sizes={','.join(map(str, sizes))}", f"--repeats={repeats}",
               f"--warmup={warmup}", f"--num_threads={threads or usable_cores()}"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        raise RuntimeError(f"matmul_peak ({library}) failed: {result.stderr[-2000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def main(argv):
    del argv
    sizes = [int(n) for n in FLAGS.sizes]
    threads = FLAGS.num_threads or usable_cores()
    if FLAGS.in_process:
        (library,) = FLAGS.libraries
        for record in measure(library, FLAGS.dtypes, sizes, FLAGS.repeats, FLAGS.warmup,
                              threads):
            print(json.dumps(record), flush=True)
        return
    for library in FLAGS.libraries:
        for record in run_child(library, FLAGS.dtypes, sizes, FLAGS.repeats, FLAGS.warmup,
                                threads):
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    app.run(main)
