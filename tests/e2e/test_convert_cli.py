"""`python -m keras_electra.convert` both ways, through the files a user would have."""

import os
import subprocess
import sys

import numpy as np

from keras_electra.builders import build_pretrainer
from keras_electra.data.vocab import write_vocabulary
from keras_electra.training.checkpoints import load_pretrainer, save_pretrainer
from tests.test_case import REPO_ROOT, tiny_batch, tiny_config


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "keras_electra.convert", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_round_trip_through_hugging_face_format(tmp_path):
    vocab = tmp_path / "vocab.txt"
    write_vocabulary(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] +
                     [f"w{i}" for i in range(45)], str(vocab))
    config = tiny_config(vocab_file=str(vocab))
    original = build_pretrainer(config)
    save_pretrainer(original, config, str(tmp_path / "model"))

    result = _run("--to_transformers", f"--model_dir={tmp_path / 'model'}",
                  f"--output_dir={tmp_path / 'hf_disc'}",
                  f"--generator_output_dir={tmp_path / 'hf_gen'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "hf_disc" / "model.safetensors").is_file()
    assert (tmp_path / "hf_gen" / "config.json").is_file()

    result = _run(f"--from_transformers={tmp_path / 'hf_disc'}",
                  f"--generator_dir={tmp_path / 'hf_gen'}", f"--output_dir={tmp_path / 'back'}")
    assert result.returncode == 0, result.stderr[-2000:]
    restored, restored_config = load_pretrainer(str(tmp_path / "back"))
    assert restored_config.vocab_size == 50 and restored_config.hidden_size == 16
    batch = tiny_batch()
    np.testing.assert_allclose(restored.discriminator_logits(batch),
                               original.discriminator_logits(batch), atol=1e-6)
    np.testing.assert_allclose(restored.generator_logits(batch),
                               original.generator_logits(batch), atol=1e-5)
    # The round trip kept the vocabulary and its special ids.
    assert (tmp_path / "back" / "vocab.txt").read_text() == vocab.read_text()


def test_convert_cli_errors_are_one_line(tmp_path):
    result = _run(f"--output_dir={tmp_path / 'x'}")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "error: give exactly one of --from_transformers=DIR or --to_transformers.")
    result = _run(f"--from_transformers={tmp_path / 'missing'}", f"--output_dir={tmp_path / 'x'}")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "missing" in last
