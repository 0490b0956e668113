"""`python -m keras_electra.convert --from=... --to=...` through the files a user would have."""

import os
import subprocess
import sys

import keras_hub
import numpy as np

from keras_electra.builders import build_pretrainer
from keras_electra.convert.keras_hub import to_keras_hub
from keras_electra.data.vocab import write_vocabulary
from keras_electra.training.checkpoints import load_pretrainer, save_pretrainer
from tests.test_case import REPO_ROOT, tiny_batch, tiny_config


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "keras_electra.convert", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def _model_dir(tmp_path):
    vocab = tmp_path / "vocab.txt"
    write_vocabulary(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] +
                     [f"w{i}" for i in range(45)], str(vocab))
    config = tiny_config(vocab_file=str(vocab))
    original = build_pretrainer(config)
    save_pretrainer(original, config, str(tmp_path / "model"))
    return original, vocab


def test_round_trip_through_hugging_face_format(tmp_path):
    original, vocab = _model_dir(tmp_path)
    result = _run("--to=transformers", f"--input={tmp_path / 'model'}",
                  f"--output={tmp_path / 'hf'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("(keras_electra -> transformers)")
    assert (tmp_path / "hf" / "discriminator" / "model.safetensors").is_file()
    assert (tmp_path / "hf" / "generator" / "config.json").is_file()

    # Both towers come back from the two-directory layout, detected as transformers.
    result = _run("--to=keras_electra", f"--input={tmp_path / 'hf'}",
                  f"--output={tmp_path / 'back'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("(transformers -> keras_electra)")
    restored, restored_config = load_pretrainer(str(tmp_path / "back"))
    assert restored_config.vocab_size == 50 and restored_config.hidden_size == 16
    batch = tiny_batch()
    np.testing.assert_allclose(restored.discriminator_logits(batch),
                               original.discriminator_logits(batch), atol=1e-6)
    np.testing.assert_allclose(restored.generator_logits(batch),
                               original.generator_logits(batch), atol=1e-5)
    # The round trip kept the vocabulary and its special ids.
    assert (tmp_path / "back" / "vocab.txt").read_text() == vocab.read_text()

    # A separate generator directory, as the Hugging Face Hub publishes them.
    result = _run("--from=transformers", "--to=keras_electra",
                  f"--input={tmp_path / 'hf' / 'discriminator'}",
                  f"--generator_input={tmp_path / 'hf' / 'generator'}",
                  f"--output={tmp_path / 'back2'}")
    assert result.returncode == 0, result.stderr[-2000:]
    restored, _ = load_pretrainer(str(tmp_path / "back2"))
    np.testing.assert_allclose(restored.generator_logits(batch),
                               original.generator_logits(batch), atol=1e-5)


def test_keras_hub_preset_and_back(tmp_path):
    original, vocab = _model_dir(tmp_path)
    result = _run("--from=keras_electra", "--to=keras_hub", f"--input={tmp_path / 'model'}",
                  f"--output={tmp_path / 'preset'}")
    assert result.returncode == 0, result.stderr[-2000:]
    hub = keras_hub.models.Backbone.from_preset(str(tmp_path / "preset"))
    tokenizer = keras_hub.models.Tokenizer.from_preset(str(tmp_path / "preset"))
    assert tokenizer.get_vocabulary() == vocab.read_text().split()
    batch = tiny_batch()
    inputs = {"token_ids": batch["input_ids"], "segment_ids": batch["segment_ids"],
              "padding_mask": batch["input_mask"]}
    np.testing.assert_array_equal(
        np.asarray(hub(inputs)["sequence_output"]),
        np.asarray(to_keras_hub(original.discriminator)(inputs)["sequence_output"]))

    result = _run("--to=keras_electra", f"--input={tmp_path / 'preset'}",
                  f"--output={tmp_path / 'back'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("(keras_hub -> keras_electra)")
    restored, config = load_pretrainer(str(tmp_path / "back"))
    assert config.hidden_act == "gelu_approximate"  # keras-hub's GELU, so outputs match it
    np.testing.assert_allclose(
        np.asarray(restored.discriminator(batch)["sequence_output"]),
        np.asarray(hub(inputs)["sequence_output"]), atol=1e-5)
    assert (tmp_path / "back" / "vocab.txt").read_text() == vocab.read_text()


def test_convert_cli_errors_are_one_line(tmp_path):
    def last_line(*args):
        result = _run(*args)
        assert result.returncode != 0
        return result.stderr.strip().splitlines()[-1]

    result = _run(f"--input={tmp_path}", f"--output={tmp_path / 'x'}")
    assert result.returncode != 0 and "Flag --to must have a value other than None" in result.stderr
    assert last_line("--to=transformers", f"--input={tmp_path / 'missing'}",
                     f"--output={tmp_path / 'x'}") == (
        f"error: {tmp_path / 'missing'}: no such file or directory.")
    _model_dir(tmp_path)
    assert last_line("--to=transformers", f"--input={tmp_path / 'model'}",
                     f"--output={tmp_path}") == (
        f"error: --output={tmp_path}: already exists; choose a new directory.")
    assert last_line("--from=original", "--to=transformers", f"--input={tmp_path / 'model'}",
                     f"--output={tmp_path / 'x'}").startswith(f"error: {tmp_path / 'model'}: ")
    assert not (tmp_path / "x").exists()
