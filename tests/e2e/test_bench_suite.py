"""`bench/run_all.py` end to end on its smallest pieces: the matmul probe (tiny
matrices) and a benchmark whose input is missing (skipped, visibly)."""

import json
import os
import subprocess
import sys

import pytest

from tests.test_case import REPO_ROOT


@pytest.mark.slow
def test_run_all_quick_writes_results_and_report(tmp_path):
    result = subprocess.run(
        [sys.executable, "bench/run_all.py", "--quick", "--only=matmul_peak,tflite",
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
    (tmp_path / "results.jsonl").write_text(json.dumps(dict(machine, bench="machine")) + "\n")
    result = subprocess.run(
        [sys.executable, "bench/run_all.py", "--render_only", f"--output_dir={tmp_path}",
         f"--gpu_results={tmp_path / 'none_*.jsonl'}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    if warning is None:
        assert "Warning" not in report
    else:
        assert f"> **Warning**: {warning}" in report
