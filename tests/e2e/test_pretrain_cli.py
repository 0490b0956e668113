"""Runs `python -m keras_electra.pretrain` as a user would, on a slice of real text."""

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.test_case import REPO_ROOT, shared_data_dir, tiny_batch

HPARAMS = {
    "embedding_size": 32, "hidden_size": 64, "num_layers": 2, "num_heads": 2,
    "intermediate_size": 128, "max_seq_length": 64, "max_position_embeddings": 64,
    "train_batch_size": 16, "learning_rate": 2e-3, "num_warmup_steps": 10, "temperature": 2.0,
}


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "keras_electra.pretrain", *args],
                          capture_output=True, text=True, env=env, cwd=str(REPO_ROOT), timeout=600)


@pytest.mark.slow
def test_pretrain_cli_on_gutenberg_slice(tmp_path):
    source = shared_data_dir() / "gutenberg" / "train_00.txt"
    corpus = tmp_path / "slice.txt"
    with open(source, encoding="utf-8") as f:
        corpus.write_text("".join(itertools.islice(f, 1500)), encoding="utf-8")
    model_dir = tmp_path / "run"
    result = _run("--config", str(REPO_ROOT / "configs" / "electra_tiny.json"),
                  "--hparams", json.dumps(HPARAMS), "--input_files", str(corpus),
                  "--model_dir", str(model_dir), "--num_train_steps", "90",
                  "--steps_per_epoch", "30", "--vocab_size", "2000", "--verbose", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    final = json.loads(result.stdout.strip().splitlines()[-1])["final_metrics"]
    history = json.loads((model_dir / "metrics.json").read_text())["history"]
    assert len(history["loss"]) == 3
    assert history["loss"][-1] < history["loss"][0]
    assert history["generator_loss"][-1] < history["generator_loss"][0] - 0.5
    assert final["loss"] == pytest.approx(history["loss"][-1])
    for name in ("pretrainer.weights.h5", "config.json", "vocab.txt"):
        assert (model_dir / name).is_file(), name
    assert list((model_dir / "logs" / "train").glob("events.out.tfevents.*"))
    assert "generator_accuracy" in result.stdout + result.stderr

    # The checkpoint reloads into an identical model.
    from keras_electra.training.checkpoints import load_pretrainer

    pretrainer, config = load_pretrainer(str(model_dir))
    assert config.vocab_size == len((model_dir / "vocab.txt").read_text().splitlines())
    batch = tiny_batch(seq_length=64, vocab_size=config.vocab_size)
    again, _ = load_pretrainer(str(model_dir))
    np.testing.assert_allclose(pretrainer.discriminator_logits(batch),
                               again.discriminator_logits(batch), atol=1e-6)
    assert float(np.std(pretrainer.discriminator_logits(batch))) > 0


def test_cli_rejects_unknown_hparam_in_one_line(tmp_path):
    result = _run("--hparams", '{"hiden_size": 3}', "--input_files", "x.txt",
                  "--model_dir", str(tmp_path / "m"))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == \
        "error: --hparams: unknown ElectraConfig key 'hiden_size'."


def test_helpfull_documents_flags():
    result = _run("--helpfull")
    for flag in ("--config", "--hparams", "--model_dir", "--input_files", "--num_train_steps",
                 "--vocab_file"):
        assert flag in result.stdout, flag
