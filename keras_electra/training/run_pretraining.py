"""Library side of `python -m keras_electra.pretrain`: data -> fit -> checkpoint.

Two kinds of input:

* pre-training TFRecords (`build_pretraining_data`, or the original
  google-research/electra shards, unchanged): the real-run path. The
  vocabulary must be given: it defines the special-token ids and the vocab
  size the records were built with.
* raw text (one paragraph per line), tokenized in the graph: for small runs;
  a vocabulary is trained on it when none is given.
"""

import contextlib
import os
import shutil

import keras

from keras_electra.builders import build_pretrainer
from keras_electra.data.pretraining_dataset import pretraining_dataset
from keras_electra.data.text_dataset import expand_file_patterns, text_dataset
from keras_electra.data.tfrecord_checks import (
    explain_tfrecord_errors, is_tfrecord_path, match_files, validate_tfrecords)
from keras_electra.data.vocab import load_vocabulary, train_vocabulary
from keras_electra.training.callbacks import NonFiniteLossGuard
from keras_electra.training.checkpoints import (
    CONFIG_NAME, VOCAB_NAME, WEIGHTS_NAME, save_weights, write_json)
from keras_electra.training.optimizer import create_optimizer

INPUT_FORMATS = ("auto", "text", "tfrecord")


def detect_input_format(input_files, input_format="auto"):
    """`"tfrecord"` or `"text"` for the files `input_files` matches.

    `"auto"` means TFRecords when every file is named `*.tfrecord`,
    `*.tfrecord.gz` or `*.tfrecord-*-of-*` (the original builder's shards),
    text when none is; a mix is an error.
    """
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"input_format must be one of {list(INPUT_FORMATS)}, "
                         f"got {input_format!r}.")
    files = match_files(input_files)
    if input_format != "auto":
        return input_format
    records = [is_tfrecord_path(path) for path in files]
    if all(records):
        return "tfrecord"
    if not any(records):
        return "text"
    text = files[records.index(False)]
    raise ValueError(
        f"{text}: input mixes TFRecords and other files; pass only one kind, or set "
        f"input_format='tfrecord' or 'text' explicitly.")


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


def make_dataset(config, input_files, input_format, is_training=True):
    """The training (repeating, shuffled) or evaluation (one pass) dataset.

    Batches hold `config.micro_batch_size` examples: with gradient
    accumulation, `gradient_accumulation_steps` of them make one update of
    `train_batch_size` examples.
    """
    if input_format == "tfrecord":
        return pretraining_dataset(
            input_files, config.max_seq_length, config.micro_batch_size,
            is_training=is_training, seed=config.seed, validate=False)
    return text_dataset(
        input_files, config.vocab_file, config.max_seq_length, config.micro_batch_size,
        lowercase=config.do_lower_case, seed=config.seed,
        shuffle_buffer=1000 if is_training else 0, repeat=is_training)


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
    input_format="auto",
    eval_files=None,
    eval_steps=None,
    validate_records="first",
):
    """Pre-trains an ELECTRA model on TFRecords or text files with `fit`.

    Writes under `model_dir`: `vocab.txt`, `config.json`, TensorBoard logs in
    `logs/`, the final weights `pretrainer.weights.h5` (written to a
    temporary name, then renamed) and `metrics.json`.

    With TFRecord input, `vocab_file` (or `config.vocab_file`) is required
    and its size must equal `config.vocab_size`; every file's first record
    must have `config.max_seq_length` values per feature and ids inside the
    vocabulary. Errors are one-line `ValueError`s naming the file; a data
    error during training (a corrupted record further in) is traced back to
    its file the same way.

    Args:
        config: an `ElectraConfig`.
        model_dir: output directory (created).
        input_files: TFRecords or text files (one paragraph per line), as
            comma-separated globs or a list.
        num_train_steps: optimizer steps (default `config.num_train_steps`).
        steps_per_epoch: steps between logs/epoch ends (default
            `min(num_train_steps, 100)`).
        vocab_file: an existing WordPiece vocabulary; trained on text input
            when absent, required for TFRecords.
        vocab_size: size of the trained vocabulary.
        verbose: Keras verbosity (1 = progress bar).
        callbacks: extra Keras callbacks.
        input_format: `"auto"` (by file name, see `detect_input_format`),
            `"tfrecord"` or `"text"`.
        eval_files: optional held-out files (same format rules), evaluated
            once after training; their metrics are added with an `eval_`
            prefix.
        eval_steps: evaluation batches (default: one pass over `eval_files`).
        validate_records: `"first"` checks each TFRecord's first record
            before training, `"full"` reads every record (CRCs, lengths).

    Returns:
        `(pretrainer, metrics)`: the trained model and the last epoch's logs
        (plus `eval_*` metrics with `eval_files`).
    """
    if validate_records not in ("first", "full"):
        raise ValueError(f"validate_records must be 'first' or 'full', got {validate_records!r}.")
    eval_format = detect_input_format(eval_files, input_format) if eval_files else None
    input_format = detect_input_format(input_files, input_format)
    if eval_format and eval_format != input_format:
        raise ValueError(f"{eval_files}: evaluation files are {eval_format} but the training "
                         f"input is {input_format}.")
    if input_format == "tfrecord" and not (vocab_file or config.vocab_file):
        raise ValueError(
            f"{match_files(input_files)[0]}: TFRecord input needs the vocabulary it was "
            f"built with (--vocab_file): it defines the special-token ids and vocab_size.")

    os.makedirs(model_dir, exist_ok=True)
    num_train_steps = num_train_steps or config.num_train_steps
    config = config.with_overrides({"num_train_steps": num_train_steps})
    config, _ = prepare_vocabulary(config, model_dir, input_files, vocab_file, vocab_size)
    if input_format == "tfrecord":
        for files in filter(None, (input_files, eval_files)):
            validate_tfrecords(files, config.max_seq_length, full=validate_records == "full",
                               vocab_size=config.vocab_size)
    config.to_json(os.path.join(model_dir, CONFIG_NAME))

    keras.utils.set_random_seed(config.seed)
    dataset = make_dataset(config, input_files, input_format, is_training=True)
    eval_dataset = None
    if eval_files:
        eval_dataset = make_dataset(config, eval_files, input_format, is_training=False)
        with _explain_data_errors(config, eval_files, input_format):
            if not list(eval_dataset.take(1)):  # found now, not after a long training run
                raise ValueError(
                    f"{eval_files}: fewer examples than one batch ("
                    f"{config.micro_batch_size}); nothing to evaluate.")
    pretrainer = build_pretrainer(config)
    pretrainer.compile(optimizer=create_optimizer(config, num_train_steps))

    # `fit` steps are micro-batches; `num_train_steps` counts optimizer updates.
    fit_steps = num_train_steps * config.gradient_accumulation_steps
    steps_per_epoch = min(steps_per_epoch or 100, fit_steps)
    epochs = max(1, fit_steps // steps_per_epoch)
    with _explain_data_errors(config, input_files, input_format):
        history = pretrainer.fit(
            dataset,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            verbose=verbose,
            callbacks=[NonFiniteLossGuard(),
                       keras.callbacks.TensorBoard(os.path.join(model_dir, "logs"),
                                                   update_freq="epoch"), *callbacks],
        )
    save_weights(pretrainer, os.path.join(model_dir, WEIGHTS_NAME))
    metrics = {name: float(values[-1]) for name, values in history.history.items()}
    per_epoch = {name: [float(v) for v in values] for name, values in history.history.items()}
    summary = {"final": metrics, "history": per_epoch, "steps_per_epoch": steps_per_epoch}
    if eval_dataset is not None:
        with _explain_data_errors(config, eval_files, input_format):
            results = pretrainer.evaluate(eval_dataset, steps=eval_steps, verbose=0,
                                          return_dict=True)
        summary["eval"] = {name: float(value) for name, value in results.items()}
        metrics.update({f"eval_{name}": value for name, value in summary["eval"].items()})
    write_json(summary, os.path.join(model_dir, "metrics.json"))
    return pretrainer, metrics


def _explain_data_errors(config, files, input_format):
    if input_format != "tfrecord":
        return contextlib.nullcontext()
    return explain_tfrecord_errors(files, config.max_seq_length, vocab_size=config.vocab_size)
