"""Same global batch on 1 and on 2 replicas: same losses and weights."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.test_case import REPO_ROOT


@pytest.mark.slow
def test_one_and_two_replicas_train_identically(tmp_path):
    out = tmp_path / "result.npz"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tests" / "training" / "replica_invariance_main.py"),
         str(out)], capture_output=True, text=True, timeout=600,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    saved = np.load(out)
    np.testing.assert_allclose(saved["two_loss"], saved["one_loss"], rtol=1e-4)
    np.testing.assert_allclose(saved["two_gen"], saved["one_gen"], rtol=1e-4)
    weights = sorted(k[4:] for k in saved.files if k.startswith("one_") and k[4:].isdigit())
    assert len(weights) > 20
    moved = 0
    for i in weights:
        np.testing.assert_allclose(saved[f"two_{i}"], saved[f"one_{i}"], rtol=1e-4, atol=1e-6)
        moved += not np.allclose(saved[f"one_{i}"], 0)
    assert moved > 10
