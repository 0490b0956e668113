"""The GPU benchmark's profile summary (`bench/gpu_keras_jax.py`) and its table in
`bench/RESULTS.md` (`bench/run_all.py --render_only`), on hand-made traces and lines."""

import gzip
import json
import os
import subprocess
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


def test_results_table_shows_profiles_per_step_with_their_device(tmp_path):
    common = {"config": "electra_base.json", "dropout": 0.1, "batch_size": 256,
              "seq_length": 128, "dtype": "bfloat16", "smoke": False}
    lines = [
        {"bench": "gpu_device", "nvidia_smi": "NVIDIA H200, 143771 MiB, 580.159.04",
         "jax_device": None, "measured_bf16_matmul_tflops": None},
        {"bench": "gpu_pretrain", **common, "side": "keras_jax", "rng": "rbg",
         "sequences_per_s": 2878.2, "jax_device": "NVIDIA H200"},
        {"bench": "gpu_profile", **common, "side": "keras_jax", "rng": "rbg", "steps": 10,
         "gpu_ms": 867.3, "gemm_ms": 356.4, "fused_attention_ms": 0, "other_ms": 510.9},
        {"bench": "gpu_pretrain_summary", **common, "device": "NVIDIA H200, 143771 MiB",
         "sequences_per_s": {"keras_jax": 2878.2}, "target_sequences_per_s": 4000,
         "meets_target": False},
        {"bench": "gpu_pretrain_summary", **common, "device": "NVIDIA H200, 143771 MiB",
         "sequences_per_s": {"torch_compiled": 3773.4}, "target_sequences_per_s": 4000},
    ]
    (tmp_path / "gpu_run.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (tmp_path / "results.jsonl").write_text(json.dumps({"bench": "machine"}) + "\n")
    result = subprocess.run(
        [sys.executable, "bench/run_all.py", "--render_only", f"--output_dir={tmp_path}",
         f"--gpu_results={tmp_path / 'gpu_*.jsonl'}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    # The run measured no matmul peak: no "None TFLOP/s" device line.
    assert "Devices (measured" not in report
    assert "| NVIDIA H200 | keras_jax |  | rbg | 0.1 | electra_base.json |" in report
    # Per step: the traced execution's 10 steps divided out; the device from gpu_device.
    assert "| NVIDIA H200 | keras_jax | rbg | 0.1 | 256 × 128 | 86.7 | 35.6 | 0 | 51.1 |" \
        in report
    # One target line: the PyTorch-only summary has no target to meet.
    assert report.count("target 4000 sequences/s met") == 1
