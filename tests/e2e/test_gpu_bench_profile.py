"""The GPU benchmark's profile summary (`bench/gpu_keras_jax.py`) on hand-made traces
(its table in `bench/RESULTS.md` is tested with the report, in test_bench_suite.py)."""

import gzip
import json
import os
import sys

from tests.test_case import REPO_ROOT

sys.path.insert(0, os.path.join(REPO_ROOT, "bench"))

import gpu_keras_jax  # noqa: E402


def _trace(path):
    """A jax.profiler-style trace: a GPU stream, a derived XLA line and a host thread."""
    meta = [
        {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "/device:GPU:0"}},
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 7,
         "args": {"name": "Stream #7(Compute,MemcpyD2D)"}},
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 8, "args": {"name": "XLA Ops"}},
        {"ph": "M", "name": "process_name", "pid": 2, "args": {"name": "/host:CPU"}},
        {"ph": "M", "name": "thread_name", "pid": 2, "tid": 1, "args": {"name": "python"}},
    ]
    kernels = [("nvjet_sm90_tst_128x128", 3000), ("nvjet_sm90_tst_128x128", 2000),
               ("gemm_fusion_dot_7", 1000), ("loop_convert_select_fusion", 1500),
               ("input_reduce_fusion_3", 500)]
    events = [{"ph": "X", "pid": 1, "tid": 7, "ts": i, "dur": dur, "name": name}
              for i, (name, dur) in enumerate(kernels)]
    events += [{"ph": "X", "pid": 1, "tid": 8, "ts": 0, "dur": 9000, "name": "fusion.1"},
               {"ph": "X", "pid": 2, "tid": 1, "ts": 0, "dur": 50000, "name": "fit"}]
    os.makedirs(os.path.dirname(path))
    with gzip.open(path, "wt") as f:
        json.dump({"traceEvents": meta + events}, f)


def test_kernel_summary_splits_gemm_attention_and_the_rest():
    summary = gpu_keras_jax.kernel_summary({
        "nvjet_sm90_tst_256x128_bias_TNT": [30.0, 10],
        "cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma": [7.5, 4],
        "triton_per_fused_native_dropout_native_layer_norm": [12.25, 4],
        "void cublasLt::splitKreduce_kernel": [0.25, 2]}, top=2)
    assert summary["gpu_ms"] == 50.0
    assert summary["gemm_ms"] == 30.2  # nvjet + cublasLt's split-K reduction, 30.25 rounded
    assert summary["fused_attention_ms"] == 7.5
    assert summary["other_ms"] == 12.2
    assert summary["kernels"] == [["nvjet_sm90_tst_256x128_bias_TNT", 30.0, 10],
                                  ["triton_per_fused_native_dropout_native_layer_norm",
                                   12.25, 4]]


def test_profile_summary_reads_only_the_gpu_streams(tmp_path):
    _trace(str(tmp_path / "plugins" / "profile" / "run" / "vm.trace.json.gz"))
    summary = gpu_keras_jax.profile_summary(str(tmp_path), top=3)
    assert summary["trace"] == os.path.join("plugins", "profile", "run", "vm.trace.json.gz")
    # 8 ms of kernels on the stream; the "XLA Ops" line and the host are not kernels.
    assert summary["gpu_ms"] == 8.0 and summary["gemm_ms"] == 6.0
    assert summary["other_ms"] == 2.0 and summary["fused_attention_ms"] == 0
    assert summary["kernels"] == [["nvjet_sm90_tst_128x128", 5.0, 2],
                                  ["loop_convert_select_fusion", 1.5, 1],
                                  ["gemm_fusion_dot_7", 1.0, 1]]
    assert summary["lines_ms"]["/device:GPU:0 / XLA Ops"] == 9.0
