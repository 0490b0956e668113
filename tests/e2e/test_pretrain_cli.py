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
                  "--steps_per_epoch", "30", "--log_every", "30", "--vocab_size", "2000",
                  "--verbose", "2")
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
                 "--vocab_file", "--input_format", "--eval_files", "--eval_steps",
                 "--validate_records", "--remat", "--mixed_precision"):
        assert flag in result.stdout, flag


# ------------------------------------------------------------ TFRecord input
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(295)]


def _write_tfrecords(path, num_records, seq_length, compression=None, seed=0):
    """Records as the original ELECTRA builder writes them: two segments, padded."""
    from tests.data.test_pretraining_dataset import write_records

    rng = np.random.default_rng(seed)
    lengths = rng.integers(seq_length // 2, seq_length + 1, num_records)

    def values(uid, n):
        length = int(lengths[uid])
        ids = np.zeros(n, np.int64)
        ids[:length] = rng.integers(5, len(TINY_VOCAB), length)
        ids[0], ids[length // 2], ids[length - 1] = 2, 3, 3
        positions = np.arange(n)
        return {"input_ids": ids, "input_mask": (positions < length).astype(np.int64),
                "segment_ids": ((positions > length // 2) & (positions < length)).astype(np.int64)}

    return write_records(path, range(num_records), length=seq_length, compression=compression,
                         values=values)


def _write_fixture(tmp_path, seq_length=64):
    """Two training shards (the original builder's names), a GZIP held-out file, a vocab."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    _write_tfrecords(data / "pretrain_data.tfrecord-00000-of-00002", 160, seq_length, seed=1)
    _write_tfrecords(data / "pretrain_data.tfrecord-00001-of-00002", 160, seq_length, seed=2)
    _write_tfrecords(data / "heldout.tfrecord.gz", 64, seq_length, compression="GZIP", seed=3)
    (tmp_path / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    return data


def _tiny_tfrecord_run(tmp_path, *extra, vocab=True, vocab_size=len(TINY_VOCAB)):
    hparams = dict(HPARAMS, vocab_size=vocab_size)
    args = ["--config", str(REPO_ROOT / "configs" / "electra_tiny.json"),
            "--hparams", json.dumps(hparams),
            "--input_files", str(tmp_path / "data" / "pretrain_data.tfrecord-*"),
            "--model_dir", str(tmp_path / "run"), "--verbose", "2", *extra]
    if vocab:
        args += ["--vocab_file", str(tmp_path / "vocab.txt")]
    return _run(*args)


@pytest.mark.slow
def test_pretrain_cli_on_tfrecords(tmp_path):
    data = _write_fixture(tmp_path)
    result = _tiny_tfrecord_run(
        tmp_path, "--num_train_steps", "6", "--steps_per_epoch", "3",
        "--eval_files", str(data / "heldout.tfrecord.gz"), "--eval_steps", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    final = json.loads(result.stdout.strip().splitlines()[-1])["final_metrics"]
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(saved["history"]["loss"]) == 2
    for name in ("loss", "generator_loss", "discriminator_loss", "eval_loss",
                 "eval_generator_loss", "eval_discriminator_loss"):
        assert np.isfinite(final[name]) and final[name] > 0, (name, final[name])
    assert 0 <= final["eval_discriminator_accuracy"] <= 1
    assert final["eval_loss"] == pytest.approx(saved["eval"]["loss"])
    assert final["loss"] == pytest.approx(saved["history"]["loss"][-1])
    for name in ("pretrainer.weights.h5", "config.json", "vocab.txt"):
        assert (tmp_path / "run" / name).is_file(), name
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["vocab_size"] == len(TINY_VOCAB) and config["max_seq_length"] == 64

    from keras_electra.training.checkpoints import load_pretrainer

    pretrainer, _ = load_pretrainer(str(tmp_path / "run"))
    logits = pretrainer.discriminator_logits(tiny_batch(seq_length=64, vocab_size=len(TINY_VOCAB)))
    assert logits.shape == (4, 64) and np.all(np.isfinite(logits))


def test_tfrecord_input_without_vocab_file_is_a_one_line_error(tmp_path):
    data = _write_fixture(tmp_path)
    result = _tiny_tfrecord_run(tmp_path, vocab=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {data / 'pretrain_data.tfrecord-00000-of-00002'}: TFRecord input needs the "
        f"vocabulary it was built with (--vocab_file): it defines the special-token ids "
        f"and vocab_size.")
    assert not (tmp_path / "run" / "pretrainer.weights.h5").exists()


def test_tfrecord_of_the_wrong_length_is_a_one_line_error(tmp_path):
    data = _write_fixture(tmp_path, seq_length=32)
    result = _tiny_tfrecord_run(tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {data / 'pretrain_data.tfrecord-00000-of-00002'}: feature 'input_ids' of the "
        f"first record has 32 values, expected max_seq_length=64 (records built for another "
        f"sequence length?).")


def test_tfrecord_vocab_of_another_size_is_a_one_line_error(tmp_path):
    _write_fixture(tmp_path)
    result = _tiny_tfrecord_run(tmp_path, vocab_size=8192)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'vocab.txt'}: vocabulary has {len(TINY_VOCAB)} tokens but "
        f"ElectraConfig.vocab_size is 8192.")


@pytest.mark.slow
def test_tfrecord_corrupted_mid_file_is_a_one_line_error_while_training(tmp_path):
    bad = _write_fixture(tmp_path) / "pretrain_data.tfrecord-00001-of-00002"
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the first record still reads: caught during training
    bad.write_bytes(bytes(data))
    result = _tiny_tfrecord_run(tmp_path, "--num_train_steps", "30", "--steps_per_epoch", "30")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {bad}: corrupted or truncated TFRecord after "), last
    assert not (tmp_path / "run" / "pretrainer.weights.h5").exists()


@pytest.mark.slow
def test_pretrain_cli_mixed_precision_gradient_accumulation_and_remat(tmp_path):
    _write_fixture(tmp_path)
    result = _tiny_tfrecord_run(tmp_path, "--num_train_steps", "3", "--steps_per_epoch", "3",
                                "--mixed_precision", "bfloat16",
                                "--gradient_accumulation_steps", "2", "--remat")
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["mixed_precision"] == "bfloat16" and config["gradient_accumulation_steps"] == 2
    assert config["remat"] is True
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # 3 updates of 2 micro-batches each: 6 fit steps, logged as 2 epochs of 3.
    assert saved["steps_per_epoch"] == 3 and len(saved["history"]["loss"]) == 2
    assert all(np.isfinite(saved["history"]["loss"]))
