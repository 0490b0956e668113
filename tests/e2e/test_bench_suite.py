"""`bench/run_all.py` end to end on its smallest pieces: the matmul probe (tiny
matrices), the step's own ops at smoke sizes and a benchmark whose input is missing
(skipped, visibly); and its report (`--render_only`) from hand-made lines: the
busy-machine warning, the GPU profile table."""

import json
import os
import subprocess
import sys

import pytest

from tests.test_case import REPO_ROOT


@pytest.mark.slow
def test_run_all_quick_writes_results_and_report(tmp_path):
    result = subprocess.run(
        [sys.executable, "bench/run_all.py", "--quick", "--only=matmul_peak,step_ops,tflite",
         f"--output_dir={tmp_path}", "--tflite_model_dir=no/such/model"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-2000:]

    records = [json.loads(line) for line in
               (tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    machine = records[0]
    assert machine["bench"] == "machine" and machine["quick"] is True
    assert machine["cpu_count"] == os.cpu_count() and machine["date_utc"].endswith("UTC")
    assert 0.0 <= machine["busy_cores_at_start"] <= os.cpu_count()
    peaks = {(r["library"], r["dtype"]): r for r in records if r["bench"] == "matmul_peak"}
    assert set(peaks) == {(library, dtype) for library in ("tensorflow", "torch")
                          for dtype in ("float32", "bfloat16")}
    for record in peaks.values():
        assert record["peak_gflops"] == max(record["gflops_by_n"].values()) > 0
        assert set(record["gflops_by_n"]) == {"512", "1024"}
    ops = [r for r in records if r["bench"] == "step_ops"]
    assert sorted((r["op"], r["tensor"], r["dtype"]) for r in ops) == sorted(
        [("dropout", tensor, dtype) for tensor in ("attention_probs", "hidden")
         for dtype in ("bfloat16", "float32")]
        + [("gelu", "feedforward", "bfloat16"), ("gelu", "feedforward", "float32"),
           ("mlm_head", "chunk_logits", "bfloat16"), ("mlm_head", "chunk_logits", "float32"),
           ("sampling", "generator_logits", "float32"), ("adamw", "402_variables", "float32")])
    for record in ops:
        assert record["speedup"] == round(record["alternative_ms"] / record["keras_electra_ms"], 3)
    (sampling,) = [r for r in ops if r["op"] == "sampling"]
    assert sampling["shape"] == [32, 20, 2000]
    assert {r["shape"] == [152, 2000] for r in ops if r["op"] == "mlm_head"} == {True}
    (adamw,) = [r for r in ops if r["op"] == "adamw"]
    assert adamw["shape"] == [10_516_881]  # ELECTRA-Small's parameters at vocabulary 2,000
    (skipped,) = [r for r in records if r.get("status")]
    assert skipped["bench"] == "tflite" and skipped["status"] == "skipped"
    assert "no/such/model" in skipped["reason"]

    report = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert report.startswith("# Benchmark results")
    assert "Smoke run (`--quick`)" in report
    assert "## Machine" in report and machine["cpu"] in report
    table = [line for line in report.splitlines() if line.startswith("| tensorflow | float32 |")]
    assert len(table) == 1 and str(peaks["tensorflow", "float32"]["n_at_peak"]) in table[0]
    assert "## Skipped or failed" in report and "| tflite | skipped |" in report
    # Written atomically: no temporary files left beside them.
    assert sorted(os.listdir(tmp_path)) == ["RESULTS.md", "results.jsonl"]


def _render(tmp_path, machine, gpu_lines=()):
    """RESULTS.md from `machine` and GPU-run JSON lines (`run_all.py --render_only`)."""
    (tmp_path / "results.jsonl").write_text(json.dumps(machine) + "\n")
    (tmp_path / "gpu_run.jsonl").write_text("".join(json.dumps(r) + "\n" for r in gpu_lines))
    result = subprocess.run(
        [sys.executable, "bench/run_all.py", "--render_only", f"--output_dir={tmp_path}",
         f"--gpu_results={tmp_path / 'gpu_*.jsonl'}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return (tmp_path / "RESULTS.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("machine, warning", [
    # A job that ended just before: the load average is high, no core is busy now.
    ({"load_average": [1.9, 1.8, 1.6], "busy_cores_at_start": 0.05, "usable_cores": 2}, None),
    ({"load_average": [0.2, 0.2, 0.2], "busy_cores_at_start": 1.2, "usable_cores": 2},
     "1.2 cores were busy with other work when the run started"),
    # Runs recorded before the busy-core measurement fall back to the load average.
    ({"load_average": [1.69, 1.88, 1.59], "usable_cores": 2},
     "load average 1.69 when the run started"),
])
def test_report_warns_only_when_other_work_was_running(tmp_path, machine, warning):
    report = _render(tmp_path, machine=dict(machine, bench="machine"))
    if warning is None:
        assert "Warning" not in report
    else:
        assert f"> **Warning**: {warning}" in report


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
    report = _render(tmp_path, machine={"bench": "machine"}, gpu_lines=lines)
    # The run measured no matmul peak: no "None TFLOP/s" device line.
    assert "Devices (measured" not in report
    assert "| NVIDIA H200 | keras_jax |  | rbg | 0.1 | electra_base.json |" in report
    # Per step: the traced execution's 10 steps divided out; the device from gpu_device.
    assert "| NVIDIA H200 | keras_jax | rbg | 0.1 | 256 × 128 | 86.7 | 35.6 | 0 | 51.1 |" \
        in report
    # One target line: the PyTorch-only summary has no target to meet.
    assert report.count("target 4000 sequences/s met") == 1
