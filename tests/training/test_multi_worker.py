"""`fit` under a real 2-worker `MultiWorkerMirroredStrategy` on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.test_case import REPO_ROOT


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_fit_under_multi_worker_mirrored_strategy(tmp_path):
    script = REPO_ROOT / "tests" / "training" / "multi_worker_main.py"
    ports = ",".join(map(str, _free_ports(2)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    workers = [subprocess.Popen([sys.executable, str(script), str(i), ports, str(tmp_path)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env) for i in ("0", "1", "single")]
    outputs = []
    for worker in workers:
        try:
            outputs.append(worker.communicate(timeout=300)[0])
        finally:
            worker.kill()
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output[-3000:]

    logs = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in ("0", "1", "single")]
    weights = [np.load(tmp_path / f"worker{i}.npz") for i in ("0", "1", "single")]
    assert logs[0]["steps"] == logs[1]["steps"] == 6
    # Both workers took the same synchronous steps: identical weights and logs.
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])
    assert logs[0]["history"] == logs[1]["history"]
    assert logs[0]["evaluate"] == logs[1]["evaluate"]
    for key in ("loss", "generator_loss", "discriminator_loss", "generator_accuracy"):
        assert len(logs[0]["history"][key]) == 2
        assert all(np.isfinite(logs[0]["history"][key]))
    assert "replaced_auc" in logs[0]["evaluate"]

    # ... and they equal one process training on the same global batches.
    assert logs[2]["steps"] == 6
    for key in ("loss", "generator_loss", "discriminator_loss", "gradient_norm"):
        np.testing.assert_allclose(logs[0]["history"][key], logs[2]["history"][key], rtol=1e-4)
    for key in ("loss", "generator_loss", "discriminator_loss"):
        np.testing.assert_allclose(logs[0]["evaluate"][key], logs[2]["evaluate"][key],
                                   rtol=1e-4, err_msg=key)
    for name in weights[0].files:
        np.testing.assert_allclose(weights[0][name], weights[2][name], rtol=1e-4, atol=1e-6,
                                   err_msg=name)
