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
import json
import os
import shutil

import keras
import tensorflow as tf
from absl import logging

from keras_electra.builders import build_pretrainer
from keras_electra.convert.sources import initialize_from
from keras_electra.data.pretraining_dataset import pretraining_dataset
from keras_electra.data.text_dataset import expand_file_patterns, text_dataset
from keras_electra.data.tfrecord_checks import (
    explain_tfrecord_errors, is_tfrecord_path, match_files, validate_tfrecords)
from keras_electra.data.vocab import load_vocabulary, train_vocabulary
from keras_electra.training.callbacks import NonFiniteLossGuard
from keras_electra.training.checkpoints import (
    CHECKPOINT_DIR, CONFIG_NAME, VOCAB_NAME, WEIGHTS_NAME, save_weights, write_json)
from keras_electra.training.optimizer import create_optimizer
from keras_electra.training.periodic_checkpoint import PeriodicCheckpoint
from keras_electra.training.release_freed_memory import ReleaseFreedMemory
from keras_electra.training.stop_at_step import StopAtStep
from keras_electra.training.strategies import (
    checkpointable_pipelines, distribute_dataset, is_chief)
from keras_electra.training.training_checkpoint import TrainingCheckpoint
from keras_electra.training.training_summaries import TrainingSummaries


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

    With no `vocab_file`, the one already in `model_dir` (a resumed run) is
    used, else a WordPiece vocabulary of `vocab_size` (default
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
    elif os.path.exists(target):
        # A re-run on the same directory (a resume) keeps the model's vocabulary.
        vocabulary = load_vocabulary(target)
        logging.info("Using the vocabulary already in %s", target)
        config = config.with_overrides({"vocab_size": len(vocabulary)})
    else:
        vocabulary = train_vocabulary(
            expand_file_patterns(input_files), target, vocab_size or config.vocab_size,
            lowercase=config.do_lower_case)
        config = config.with_overrides({"vocab_size": len(vocabulary)})
    return config.with_overrides({"vocab_file": target}), target


def make_dataset(config, input_files, input_format, is_training=True, input_context=None,
                 deterministic=None):
    """The training (repeating, shuffled) or evaluation (one pass) dataset.

    Batches hold `config.micro_batch_size` examples (with gradient
    accumulation, `gradient_accumulation_steps` of them make one update of
    `train_batch_size` examples), or this replica's share of them with an
    `input_context`.
    """
    if input_format == "tfrecord":
        return pretraining_dataset(
            input_files, config.max_seq_length, config.micro_batch_size,
            is_training=is_training, input_context=input_context, seed=config.seed,
            validate=False, deterministic=deterministic)
    return text_dataset(
        input_files, config.vocab_file, config.max_seq_length, config.micro_batch_size,
        lowercase=config.do_lower_case, seed=config.seed,
        shuffle_buffer=1000 if is_training else 0, repeat=is_training,
        input_context=input_context)


def training_dataset(strategy, config, input_files, input_format, skip_micro_steps=0,
                     deterministic=None):
    """The training input, distributed with per-replica batches.

    `skip_micro_steps` resumes a run whose data position could not be
    checkpointed (multi-worker, TPU): each input pipeline skips the batches
    it fed in that many steps, which reproduces the position exactly when
    the pipeline is deterministic.
    """
    if config.micro_batch_size % strategy.num_replicas_in_sync:
        raise ValueError(
            f"train_batch_size / gradient_accumulation_steps = {config.micro_batch_size} "
            f"does not split over {strategy.num_replicas_in_sync} replicas.")

    def dataset_fn(input_context):
        dataset = make_dataset(config, input_files, input_format, is_training=True,
                               input_context=input_context, deterministic=deterministic)
        if skip_micro_steps:
            per_pipeline = (input_context.num_replicas_in_sync
                            // input_context.num_input_pipelines)
            dataset = dataset.skip(skip_micro_steps * per_pipeline)
        return dataset

    return distribute_dataset(strategy, dataset_fn)


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
    strategy=None,
    save_checkpoints_steps=1000,
    keep_checkpoint_max=5,
    log_every=100,
    init_checkpoint=None,
    steps_per_execution=1,
    jit_compile="auto",
    deterministic=False,
):
    """Pre-trains an ELECTRA model on TFRecords or text files with `fit`.

    Writes under `model_dir`: `vocab.txt`, `config.json`, checkpoints in
    `checkpoints/` (every `save_checkpoints_steps` and at the end),
    TensorBoard logs in `logs/train` (every `log_every` steps) and
    `logs/eval`, the final weights `pretrainer.weights.h5` and
    `metrics.json`. Every file is written under a temporary name and renamed.

    Running the same call again on the same `model_dir` resumes from the
    newest checkpoint: weights, optimizer, step (and so the learning rate
    and the masking/sampling seeds), dropout RNG state and data position,
    ending exactly where an uninterrupted run would. A finished run is not
    trained further.

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
        steps_per_epoch: `fit` steps per Keras epoch, the progress-bar unit
            (default `min(100, steps)`).
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
        strategy: a `tf.distribute.Strategy` (`strategies.make_strategy`);
            default: the current one.
        save_checkpoints_steps: optimizer steps between checkpoints (0: only
            at the end).
        keep_checkpoint_max: checkpoints kept.
        log_every: optimizer steps between TensorBoard summaries.
        init_checkpoint: weights to start a NEW run from (continued
            pre-training), in any format `keras_electra.convert.sources`
            reads: a model directory or checkpoint of ours, a Hugging Face
            ELECTRA directory, an original TF1 `model.ckpt-N` (sized by
            `config`) or a keras-hub preset; its sizes must be `config`'s.
            Ignored when `model_dir` has a checkpoint to resume.
        steps_per_execution: `fit` steps per compiled call (TPUs want many).
        jit_compile: `fit`'s `jit_compile` (`"auto"`: XLA where Keras
            chooses it).
        deterministic: deterministic ops and input order (for exact,
            repeatable runs on CPU; slower).

    Returns:
        `(pretrainer, metrics)`: the trained model and the last epoch's logs
        (plus `eval_*` metrics with `eval_files`).
    """
    if validate_records not in ("first", "full"):
        raise ValueError(f"validate_records must be 'first' or 'full', got {validate_records!r}.")
    for name, value in (("save_checkpoints_steps", save_checkpoints_steps),
                        ("log_every", log_every)):
        if value and steps_per_execution > 1 and value % steps_per_execution:
            raise ValueError(f"{name}={value} must be a multiple of "
                             f"steps_per_execution={steps_per_execution}.")
    eval_format = detect_input_format(eval_files, input_format) if eval_files else None
    input_format = detect_input_format(input_files, input_format)
    if eval_format and eval_format != input_format:
        raise ValueError(f"{eval_files}: evaluation files are {eval_format} but the training "
                         f"input is {input_format}.")
    if input_format == "tfrecord" and not (vocab_file or config.vocab_file):
        raise ValueError(
            f"{match_files(input_files)[0]}: TFRecord input needs the vocabulary it was "
            f"built with (--vocab_file): it defines the special-token ids and vocab_size.")
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    if deterministic:
        tf.config.experimental.enable_op_determinism()

    os.makedirs(model_dir, exist_ok=True)
    num_train_steps = num_train_steps or config.num_train_steps
    config = config.with_overrides({"num_train_steps": num_train_steps})
    config, _ = prepare_vocabulary(config, model_dir, input_files, vocab_file, vocab_size)
    if input_format == "tfrecord":
        for files in filter(None, (input_files, eval_files)):
            validate_tfrecords(files, config.max_seq_length, full=validate_records == "full",
                               vocab_size=config.vocab_size)
    if chief:
        config.to_json(os.path.join(model_dir, CONFIG_NAME))

    keras.utils.set_random_seed(config.seed)
    eval_dataset = None
    if eval_files:
        eval_dataset = make_dataset(config, eval_files, input_format, is_training=False)
        with _explain_data_errors(config, eval_files, input_format):
            if not list(eval_dataset.take(1)):  # found now, not after a long training run
                raise ValueError(
                    f"{eval_files}: fewer examples than one batch ("
                    f"{config.micro_batch_size}); nothing to evaluate.")
    with strategy.scope():
        pretrainer = build_pretrainer(config)
        pretrainer.compile(optimizer=create_optimizer(config, num_train_steps),
                           steps_per_execution=steps_per_execution, jit_compile=jit_compile)
        # (`compile` has built the optimizer: its slots exist to restore into.)

    checkpoint = TrainingCheckpoint(os.path.join(model_dir, CHECKPOINT_DIR), pretrainer,
                                    max_to_keep=keep_checkpoint_max, strategy=strategy)
    start_step = checkpoint.restore()
    if not start_step and init_checkpoint:
        initialize_from(pretrainer, config, init_checkpoint)
    skip = 0
    pipelines = checkpointable_pipelines(strategy)
    if start_step and not (pipelines and checkpoint.restored_data_iterators == pipelines):
        # The position was not saved (or not for this layout): skip to it.
        checkpoint.forget_data_position()
        skip = start_step * config.gradient_accumulation_steps
        logging.warning("Resuming at step %d by skipping %d batches per replica.",
                        start_step, skip)
    dataset = training_dataset(strategy, config, input_files, input_format, skip,
                               deterministic=True if deterministic else None)

    # `fit` steps are micro-batches; `num_train_steps` counts optimizer updates.
    accumulation = config.gradient_accumulation_steps
    fit_steps = num_train_steps * accumulation
    steps_per_epoch = min(steps_per_epoch or 100, fit_steps)
    epochs = -(-fit_steps // steps_per_epoch)
    summaries = TrainingSummaries(
        os.path.join(model_dir, "logs"), log_every,
        tokens_per_step=config.train_batch_size * config.max_seq_length,
        examples_per_step=config.train_batch_size, is_chief=chief)
    history = None
    if start_step < num_train_steps:
        with _explain_data_errors(config, input_files, input_format):
            history = pretrainer.fit(
                dataset,
                initial_epoch=start_step * accumulation // steps_per_epoch,
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                verbose=verbose,
                shuffle=False,  # the dataset shuffles (Keras would only warn)
                # The guard first: a non-finite step raises before anything is saved.
                callbacks=[NonFiniteLossGuard(), StopAtStep(num_train_steps),
                           PeriodicCheckpoint(checkpoint, save_checkpoints_steps),
                           summaries, ReleaseFreedMemory(), *callbacks],
            )
    checkpoint.cleanup()
    if chief:
        save_weights(pretrainer, os.path.join(model_dir, WEIGHTS_NAME))
    summary = _read_summary(model_dir) if history is None else {
        "final": {name: float(values[-1]) for name, values in history.history.items()},
        "history": {name: [float(v) for v in values] for name, values in history.history.items()},
        "steps_per_epoch": steps_per_epoch,
    }
    summary["step"] = int(pretrainer.optimizer.iterations.numpy())
    metrics = dict(summary["final"])
    if eval_dataset is not None:
        with _explain_data_errors(config, eval_files, input_format):
            results = pretrainer.evaluate(eval_dataset, steps=eval_steps, verbose=0,
                                          return_dict=True)
        summary["eval"] = {name: float(value) for name, value in results.items()}
        metrics.update({f"eval_{name}": value for name, value in summary["eval"].items()})
        summaries.write_eval(summary["eval"], summary["step"])
    if chief:
        write_json(summary, os.path.join(model_dir, "metrics.json"))
    return pretrainer, metrics


def _read_summary(model_dir):
    """The metrics of a run that had already finished (re-run on its directory)."""
    path = os.path.join(model_dir, "metrics.json")
    if os.path.exists(path):
        with open(path) as f:
            summary = json.load(f)
        summary.pop("eval", None)
        return summary
    return {"final": {}, "history": {}}


def _explain_data_errors(config, files, input_format):
    if input_format != "tfrecord":
        return contextlib.nullcontext()
    return explain_tfrecord_errors(files, config.max_seq_length, vocab_size=config.vocab_size)
