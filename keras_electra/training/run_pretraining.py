"""Library side of `python -m keras_electra.pretrain`: data -> fit -> checkpoint."""

import os
import shutil

import keras

from keras_electra.builders import build_pretrainer
from keras_electra.data.text_dataset import expand_file_patterns, text_dataset
from keras_electra.data.vocab import load_vocabulary, train_vocabulary
from keras_electra.training.checkpoints import (
    CONFIG_NAME, VOCAB_NAME, WEIGHTS_NAME, save_weights, write_json)
from keras_electra.training.optimizer import create_optimizer



def prepare_vocabulary(config, model_dir, input_files, vocab_file=None, vocab_size=None):
    """Returns `(config, vocab_path)` with `vocab_size` matching the vocabulary.

    With no `vocab_file`, a WordPiece vocabulary of `vocab_size` (default
    `config.vocab_size`) is trained on `input_files` and kept in `model_dir`.
    """
    target = os.path.join(model_dir, VOCAB_NAME)
    vocab_file = vocab_file or config.vocab_file
    if vocab_file:
        vocabulary = load_vocabulary(vocab_file)
        if len(vocabulary) != config.vocab_size:
            raise ValueError(
                f"{vocab_file}: vocabulary has {len(vocabulary)} tokens but "
                f"ElectraConfig.vocab_size is {config.vocab_size}.")
        if os.path.abspath(vocab_file) != os.path.abspath(target):
            shutil.copyfile(vocab_file, target + ".tmp")
            os.replace(target + ".tmp", target)
    else:
        vocabulary = train_vocabulary(
            expand_file_patterns(input_files), target, vocab_size or config.vocab_size,
            lowercase=config.do_lower_case)
        config = config.with_overrides({"vocab_size": len(vocabulary)})
    return config.with_overrides({"vocab_file": target}), target


def run_pretraining(
    config,
    model_dir,
    input_files,
    num_train_steps=None,
    steps_per_epoch=None,
    vocab_file=None,
    vocab_size=None,
    verbose=1,
    callbacks=(),
):
    """Pre-trains an ELECTRA model on text files with `fit`.

    Writes under `model_dir`: `vocab.txt`, `config.json`, TensorBoard logs in
    `logs/`, and the final weights `pretrainer.weights.h5` (written to a
    temporary name, then renamed).

    Args:
        config: an `ElectraConfig`.
        model_dir: output directory (created).
        input_files: text files or globs (one paragraph per line).
        num_train_steps: optimizer steps (default `config.num_train_steps`).
        steps_per_epoch: steps between logs/epoch ends (default
            `min(num_train_steps, 100)`).
        vocab_file: an existing WordPiece vocabulary; trained when absent.
        vocab_size: size of the trained vocabulary.
        verbose: Keras verbosity (1 = progress bar).
        callbacks: extra Keras callbacks.

    Returns:
        `(pretrainer, metrics)`: the trained model and the last epoch's logs.
    """
    os.makedirs(model_dir, exist_ok=True)
    num_train_steps = num_train_steps or config.num_train_steps
    config = config.with_overrides({"num_train_steps": num_train_steps})
    config, vocab_path = prepare_vocabulary(config, model_dir, input_files, vocab_file, vocab_size)
    config.to_json(os.path.join(model_dir, CONFIG_NAME))

    keras.utils.set_random_seed(config.seed)
    dataset = text_dataset(
        input_files, vocab_path, config.max_seq_length, config.train_batch_size,
        lowercase=config.do_lower_case, seed=config.seed)
    pretrainer = build_pretrainer(config)
    pretrainer.compile(optimizer=create_optimizer(config, num_train_steps))

    steps_per_epoch = min(steps_per_epoch or 100, num_train_steps)
    epochs = max(1, num_train_steps // steps_per_epoch)
    history = pretrainer.fit(
        dataset,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        verbose=verbose,
        callbacks=[keras.callbacks.TensorBoard(os.path.join(model_dir, "logs"),
                                               update_freq="epoch"), *callbacks],
    )
    save_weights(pretrainer, os.path.join(model_dir, WEIGHTS_NAME))
    metrics = {name: float(values[-1]) for name, values in history.history.items()}
    per_epoch = {name: [float(v) for v in values] for name, values in history.history.items()}
    write_json({"final": metrics, "history": per_epoch, "steps_per_epoch": steps_per_epoch},
               os.path.join(model_dir, "metrics.json"))
    return pretrainer, metrics
