"""A pre-training model directory: `config.json`, `vocab.txt`, `pretrainer.weights.h5`.

Every file is written to a temporary name and renamed, so a crash never
leaves a half-written file under its final name.
"""

import json
import os
import shutil

from keras_electra.atomic_io import atomic_write_text
from keras_electra.builders import build_pretrainer
from keras_electra.config import ElectraConfig

WEIGHTS_NAME = "pretrainer.weights.h5"
CONFIG_NAME = "config.json"
VOCAB_NAME = "vocab.txt"


def write_json(value, path):
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True))


def save_weights(model, path):
    """`model.save_weights` to a temporary name, then an atomic rename."""
    tmp = path[: -len(".weights.h5")] + f".tmp{os.getpid()}.weights.h5"
    model.save_weights(tmp)
    os.replace(tmp, path)


def save_pretrainer(pretrainer, config, model_dir):
    """Writes a model directory that `load_pretrainer` reads back."""
    os.makedirs(model_dir, exist_ok=True)
    target_vocab = os.path.join(model_dir, VOCAB_NAME)
    if config.vocab_file and os.path.abspath(config.vocab_file) != os.path.abspath(target_vocab):
        shutil.copyfile(config.vocab_file, target_vocab + ".tmp")
        os.replace(target_vocab + ".tmp", target_vocab)
    if config.vocab_file:
        config = config.with_overrides({"vocab_file": VOCAB_NAME})
    config.to_json(os.path.join(model_dir, CONFIG_NAME))
    save_weights(pretrainer, os.path.join(model_dir, WEIGHTS_NAME))


def load_pretrainer(model_dir):
    """`(pretrainer, config)` rebuilt from a model directory.

    Example:

    >>> pretrainer, config = load_pretrainer("runs/demo")  # doctest: +SKIP
    """
    config = ElectraConfig.from_json(os.path.join(model_dir, CONFIG_NAME))
    vocab = os.path.join(model_dir, VOCAB_NAME)
    config = config.with_overrides({"vocab_file": vocab if os.path.exists(vocab) else None})
    pretrainer = build_pretrainer(config)
    pretrainer.load_weights(os.path.join(model_dir, WEIGHTS_NAME))
    return pretrainer, config
