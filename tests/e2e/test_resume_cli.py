"""A pre-training run killed with SIGKILL and re-run ends where an uninterrupted one does.

    python -m keras_electra.pretrain ... --model_dir=RUN --save_checkpoints_steps=4 --deterministic
    kill -9 <pid>                     # at a random step
    python -m keras_electra.pretrain ... --model_dir=RUN --save_checkpoints_steps=4 --deterministic

The default strategy (one plain `tf.data` iterator) and `MirroredStrategy`
over 2 logical CPUs (one iterator per replica) save the data position;
`MultiWorkerMirroredStrategy` (here one local worker, no TF_CONFIG) cannot, and
the resumed run skips the consumed batches of its deterministic pipeline.
"""

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.test_case import REPO_ROOT, shared_data_dir

HPARAMS = {
    "embedding_size": 32, "hidden_size": 64, "num_layers": 2, "num_heads": 2,
    "intermediate_size": 128, "max_seq_length": 64, "max_position_embeddings": 64,
    "train_batch_size": 16, "learning_rate": 2e-3, "num_warmup_steps": 4, "temperature": 2.0,
    "dropout": 0.1,  # on: the dropout RNG state must be restored too
}
STEPS, EVERY = 40, 4


def _command(corpus, vocab, model_dir, extra):
    hparams = dict(HPARAMS, vocab_size=len(vocab.read_text().splitlines()))
    return [sys.executable, "-m", "keras_electra.pretrain",
            "--config", str(REPO_ROOT / "configs" / "electra_tiny.json"),
            "--hparams", json.dumps(hparams), "--input_files", str(corpus),
            "--vocab_file", str(vocab), "--model_dir", str(model_dir),
            "--num_train_steps", str(STEPS), "--save_checkpoints_steps", str(EVERY),
            "--keep_checkpoint_max", "2", "--log_every", str(EVERY), "--steps_per_epoch", "6",
            "--deterministic", "--verbose", "0", *extra]


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO_ROOT))


def _run(command):
    result = subprocess.run(command, capture_output=True, text=True, env=_env(),
                            cwd=str(REPO_ROOT), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _latest_step(model_dir):
    state = model_dir / "checkpoints" / "checkpoint"
    if not state.exists():
        return 0
    first = state.read_text().splitlines()[0]  # model_checkpoint_path: "ckpt-N"
    return int(first.rsplit("-", 1)[1].rstrip('"'))


def _kill_at_random_step(command, model_dir, rng):
    """Starts the run and SIGKILLs it somewhere after a random checkpoint."""
    after = rng.choice([EVERY, 2 * EVERY, 3 * EVERY])
    delay = rng.uniform(0.0, 0.5)  # >= 28 steps remain: it cannot finish first
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=_env(), cwd=str(REPO_ROOT))
    deadline = time.monotonic() + 400
    while _latest_step(model_dir) < after:
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    return after, process.returncode


def _weights(model_dir):
    from keras_electra.training.checkpoints import load_pretrainer

    pretrainer, _ = load_pretrainer(str(model_dir))
    return [v.numpy() for v in pretrainer.weights]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", [[], ["--strategy=mirrored", "--cpu_replicas=2"],
                                      ["--strategy=multi_worker"]],
                         ids=["one_device", "mirrored2", "multi_worker_skip"])
def test_killed_run_resumes_exactly(tmp_path, strategy):
    from keras_electra.data.vocab import train_vocabulary

    with open(shared_data_dir() / "gutenberg" / "valid.txt", encoding="utf-8") as f:
        corpus = tmp_path / "slice.txt"
        corpus.write_text("".join(itertools.islice(f, 800)), encoding="utf-8")
    vocab = tmp_path / "vocab.txt"
    train_vocabulary([str(corpus)], str(vocab), 1000)

    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    _run(_command(corpus, vocab, whole, strategy))
    rng = random.Random()
    after, returncode = _kill_at_random_step(_command(corpus, vocab, resumed, strategy),
                                             resumed, rng)
    print(f"killed after checkpoint {after} at step ~{_latest_step(resumed)}")
    assert returncode == -signal.SIGKILL
    assert not (resumed / "pretrainer.weights.h5").exists()
    assert _latest_step(resumed) < STEPS
    _run(_command(corpus, vocab, resumed, strategy))

    assert _latest_step(resumed) == _latest_step(whole) == STEPS
    # keep_checkpoint_max=2: older checkpoints were deleted.
    assert len(list((resumed / "checkpoints").glob("ckpt-*.index"))) <= 2
    for a, b in zip(_weights(whole), _weights(resumed), strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    assert json.loads((resumed / "metrics.json").read_text())["step"] == STEPS
