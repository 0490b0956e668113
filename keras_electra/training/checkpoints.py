"""A pre-training model directory: `config.json`, `vocab.txt`, `pretrainer.weights.h5`
(written when a run ends) and `checkpoints/` (written while it runs).

Every file is written to a temporary name and renamed, so a crash never
leaves a half-written file under its final name.
"""

import json
import os
import shutil

import tensorflow as tf
from absl import logging

from keras_electra.atomic_io import atomic_write_text
from keras_electra.builders import build_pretrainer
from keras_electra.config import ElectraConfig

WEIGHTS_NAME = "pretrainer.weights.h5"
CONFIG_NAME = "config.json"
VOCAB_NAME = "vocab.txt"
CHECKPOINT_DIR = "checkpoints"


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


def load_config(model_dir):
    """The `ElectraConfig` of a model directory, `vocab_file` pointing at its vocab.txt."""
    config = ElectraConfig.from_json(os.path.join(model_dir, CONFIG_NAME))
    vocab = os.path.join(model_dir, VOCAB_NAME)
    return config.with_overrides({"vocab_file": vocab if os.path.exists(vocab) else None})


def load_pretrainer(model_dir):
    """`(pretrainer, config)` rebuilt from a model directory.

    Example:

    >>> pretrainer, config = load_pretrainer("runs/demo")  # doctest: +SKIP
    """
    config = load_config(model_dir)
    pretrainer = build_pretrainer(config)
    pretrainer.load_weights(os.path.join(model_dir, WEIGHTS_NAME))
    return pretrainer, config


def load_initial_weights(pretrainer, config, path):
    """Copies the weights of a model directory, `.weights.h5` file or checkpoint of ours.

    Only the weights: a new run starts with a fresh optimizer at step 0, so
    they are loaded into an uncompiled model of the same config first (a
    `.weights.h5` of a compiled model also holds its optimizer).
    """
    if os.path.isdir(path) and os.path.exists(os.path.join(path, WEIGHTS_NAME)):
        path = os.path.join(path, WEIGHTS_NAME)
    elif os.path.isdir(path):
        path = tf.train.latest_checkpoint(os.path.join(path, CHECKPOINT_DIR)) or \
            tf.train.latest_checkpoint(path) or path
    source = build_pretrainer(config)
    try:
        if path.endswith(".weights.h5"):
            source.load_weights(path)
        else:
            tf.train.Checkpoint(model=source).read(path).expect_partial() \
                .assert_existing_objects_matched()
    except (ValueError, OSError, tf.errors.OpError, AssertionError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ValueError(f"--init_checkpoint={path}: cannot load it into this config's "
                         f"model ({first_line}).") from None
    copy_weights(pretrainer.weights, source.weights, f"--init_checkpoint={path}")
    logging.info("Initialised from %s", path)


def copy_weights(targets, values, flag):
    """Assigns `values` to the variables `targets`, in order, once all of them line up.

    Counts and every shape are checked before the first assignment, so a
    mismatch leaves `targets` as they were. `flag` opens each error (the
    flag and path the weights came from).
    """
    if len(targets) != len(values):
        raise ValueError(f"{flag}: {len(values)} weights, but this run's config has "
                         f"{len(targets)}; use the checkpoint's sizes.")
    for target, value in zip(targets, values):
        if tuple(target.shape) != tuple(value.shape):
            raise ValueError(
                f"{flag}: {value.path} has shape {tuple(value.shape)} but this run's config "
                f"needs {tuple(target.shape)}; use the checkpoint's sizes.")
    for target, value in zip(targets, values):
        target.assign(value)
