"""Library side of `python -m keras_electra.finetune`: GLUE fine-tuning and evaluation.

    results = run_finetuning("sst2", "glue_data/SST-2", "runs/small", "runs/small_sst2")
    results["metrics"]["accuracy"]

Loads a pre-trained discriminator (a model directory of ours, or a Hugging
Face ELECTRA directory), puts the task head on it, trains with `fit`,
scores the dev set with the task's official metrics and writes under
`model_dir`:

* `eval_results.json`: the median over seeds of every metric (the paper
  reports medians), each seed's metrics, sizes and hyperparameters;
* per seed (in `model_dir` itself with one seed, else `model_dir/seed_<i>`):
  `logs/` (TensorBoard: `train/` every `log_every` steps, `eval/` the dev
  metrics), `model.keras` (the fine-tuned model, no optimizer state),
  `dev_predictions.tsv` (`index  prediction  label`; MNLI adds
  `dev_predictions_mnli_mm.tsv`) and, with `do_predict`, `test_predictions/`
  holding the GLUE server's files (`SST-2.tsv`, `MNLI-m.tsv`, `MNLI-mm.tsv`,
  `AX.tsv` ...: `index  prediction`, label names or STS-B scores).

The recipe is the original ELECTRA fine-tuning (`configure_finetuning.py`,
`run_finetuning.py`, `model/optimization.py` of google-research/electra):
AdamW (beta 0.9 / 0.999, epsilon 1e-6, weight decay 0.01 except LayerNorm
and biases), layer-wise learning-rate decay 0.8, linear warmup over 10% of
the steps then linear decay to 0, global-norm clipping at 1.0, batch 32,
max_seq_length 128, 3 epochs (10 for RTE and STS-B), steps =
`int(ceil(examples / batch) * epochs)`, MRPC and STS-B trained on both sentence
orders, STS-B scores scaled to [0, 1] for training. The learning rate
defaults to the original's generic 1e-4 (its ELECTRA-Base value; it used
3e-4 for Small and 5e-5 for Large). Differences, on purpose:

* the loss is the batch mean (the original sums over the batch; with Adam
  that only changes how often the clipping at 1.0 bites);
* the top encoder layer trains at `lr * decay`, not `lr * decay**2`
  (`layerwise_learning_rate_multipliers`, google-research/electra#51);
* Keras' AdamW bias-corrects its moments; the original does not;
* the training set is reshuffled in full every pass (the original shuffles
  once, then through a 100-example buffer) and repeats without a break, so
  an epoch's last batch is topped up from the next pass instead of with
  zero-loss dummy examples; dev and test predictions cover every example
  exactly once, in file order;
* MNLI is scored on both dev_matched and dev_mismatched (the original
  scores matched only).
"""

import dataclasses
import gc
import math
import os
import shutil
import statistics

import keras
import numpy as np
from absl import logging

from keras_electra.atomic_io import atomic_write_text
from keras_electra.builders import build_pretrainer
from keras_electra.convert.sources import read_pretrainer
from keras_electra.data.tasks.glue import GLUE_TASKS, get_glue_task, parse_glue_file, read_glue
from keras_electra.data.tasks.glue_dataset import (
    UNORDERED_PAIR_TASKS, decode_predictions, glue_dataset, glue_labels, with_swapped_pairs)
from keras_electra.data.tasks.glue_task import GlueTask
from keras_electra.data.tasks.tsv_layout import TsvLayout
from keras_electra.data.text_pair_encoder import TextPairEncoder
from keras_electra.metrics.glue_metrics import glue_metrics
from keras_electra.models.task_builders import build_task_model, discriminator_from_pretrainer
from keras_electra.training.callbacks import NonFiniteLossGuard
from keras_electra.training.checkpoints import VOCAB_NAME, write_json
from keras_electra.training.optimizer import (
    NO_DECAY_NAMES, LayerwiseAdamW, layerwise_learning_rate_multipliers)
from keras_electra.training.schedules import WarmupLinearDecay
from keras_electra.training.stop_at_step import StopAtStep
from keras_electra.training.training_summaries import TrainingSummaries

RESULTS_NAME = "eval_results.json"
TASK_MODEL_NAME = "model.keras"
TASK_INFO_NAME = "task.json"
TEST_DIR = "test_predictions"
# Tasks the original trains for 10 epochs instead of 3 (small dev sets).
LONG_TASKS = ("rte", "stsb")
# Evaluated alongside a task: MNLI's mismatched dev (and test) set.
EXTRA_EVAL_TASKS = {"mnli": ("mnli_mm",)}
# GLUE server file names; the rest are the task's `glue_dir`.
SUBMISSION_NAMES = {"mnli": "MNLI-m", "mnli_mm": "MNLI-mm", "ax": "AX"}
# GLUE's diagnostic set (`glue_data/diagnostic/diagnostic.tsv`), scored by the MNLI
# model: `index sentence1 sentence2`, no labels.
_AX_LAYOUT = TsvLayout(header=True, num_columns=(3,), text_a=1, text_b=2)
AX_TASK = GlueTask(
    name="ax", glue_dir="diagnostic", files={"test": "diagnostic.tsv"}, layout=_AX_LAYOUT,
    test_layout=_AX_LAYOUT, labels=GLUE_TASKS["mnli"].labels, metrics=())


@dataclasses.dataclass(frozen=True)
class _EvalSet:
    name: str  # registry name: "mnli", "mnli_mm", "ax"
    task: GlueTask
    examples: list


def default_num_train_epochs(task):
    """The original's epochs: 10 for RTE and STS-B, else 3."""
    return 10.0 if task in LONG_TASKS else 3.0


def load_pretrained(init_checkpoint, init_config=None):
    """`(pretrainer, config)` from a pre-trained checkpoint of any supported format.

    Anything `keras_electra.convert.sources.read_pretrainer` reads: a
    pre-training model directory of ours (finished, or a run still going or
    stopped, from its newest `checkpoints/ckpt-N`, as the original
    fine-tunes from `model.ckpt-N`), a Hugging Face ELECTRA directory
    (`ElectraForPreTraining` or `ElectraModel`; the generator is not
    needed), an original ELECTRA TF1 checkpoint (sized by `init_config`)
    or a keras-hub `ElectraBackbone` preset. Either way `config.vocab_file`
    must be set: fine-tuning tokenizes with the pre-training vocabulary.
    """
    try:
        pretrainer, config, _ = read_pretrainer(init_checkpoint, init_config)
    except ValueError as e:
        message = str(e).removeprefix(f"{init_checkpoint}: ")
        raise ValueError(f"--init_checkpoint={init_checkpoint}: {message}") from None
    if not config.vocab_file:
        raise ValueError(f"--init_checkpoint={init_checkpoint}: no {VOCAB_NAME}; fine-tuning "
                         "needs the vocabulary the model was pre-trained with.")
    return pretrainer, config


def starting_point(pretrainer, config, seed, random_init=False):
    """The pre-trained model a seed fine-tunes from, or with `random_init` a
    freshly initialised one of the same config (seeded by `seed`): the
    no-pre-training baseline, with the same architecture and vocabulary."""
    if not random_init:
        return pretrainer
    keras.utils.set_random_seed(seed)
    return build_pretrainer(config)


def finetuning_optimizer(model, backbone, learning_rate, num_train_steps, warmup_proportion=0.1,
                         weight_decay=0.01, layerwise_lr_decay=0.8):
    """The original fine-tuning optimizer as a `LayerwiseAdamW`.

    Warmup lasts `num_train_steps * warmup_proportion` steps (not rounded,
    as in the original), then the rate decays linearly to 0 at
    `num_train_steps`. `layerwise_lr_decay` 0 (or 1) trains every layer at
    the full rate.

    Example:

    >>> import keras_electra
    >>> from keras_electra.builders import build_backbone, build_embeddings
    >>> config = keras_electra.ElectraConfig(
    ...     vocab_size=64, embedding_size=8, hidden_size=16, num_layers=2,
    ...     num_heads=2, intermediate_size=32)
    >>> backbone = build_backbone(config, build_embeddings(config), "discriminator")
    >>> model = build_task_model("classification", backbone, num_classes=2)
    >>> optimizer = finetuning_optimizer(model, backbone, 1e-4, num_train_steps=100)
    >>> optimizer.learning_rate_multipliers["classifier/kernel"]
    1.0
    >>> round(optimizer.learning_rate_multipliers["embeddings/token_embedding/embeddings"], 3)
    0.512
    """
    schedule = WarmupLinearDecay(learning_rate, num_train_steps,
                                 num_train_steps * warmup_proportion)
    multipliers = {}
    if layerwise_lr_decay > 0:
        multipliers = layerwise_learning_rate_multipliers(
            backbone, layerwise_lr_decay, model.trainable_variables)
    optimizer = LayerwiseAdamW(
        learning_rate_multipliers=multipliers, learning_rate=schedule,
        weight_decay=weight_decay, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
        global_clipnorm=1.0)
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    if model.dtype_policy.name == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def run_finetuning(
    task,
    data_dir,
    init_checkpoint,
    model_dir,
    learning_rate=1e-4,
    num_train_epochs=None,
    train_batch_size=32,
    eval_batch_size=32,
    max_seq_length=128,
    layerwise_lr_decay=0.8,
    weight_decay=0.01,
    warmup_proportion=0.1,
    num_seeds=1,
    do_predict=False,
    max_train_examples=None,
    double_unordered=True,
    log_every=100,
    verbose=1,
    callbacks=(),
    random_init=False,
    init_config=None,
):
    """Fine-tunes and evaluates a pre-trained ELECTRA discriminator on a GLUE task.

    Everything is read and checked (files, vocabulary, sizes) before the
    first step, so a bad path fails in seconds with one line naming it.
    Seed `i` (of `num_seeds`) seeds the head's initialisation, dropout and
    the data order; every seed starts from the same pre-trained weights.

    Args:
        task: a GLUE task name (`GLUE_TASKS`: "cola", "sst2", "mrpc", "qqp",
            "stsb", "mnli", "qnli", "rte", "wnli"); "mnli" also scores the
            mismatched dev set.
        data_dir: the task's folder in `glue_data` (`glue_data/SST-2`).
        init_checkpoint: a pre-training model directory of ours
            (`pretrainer.weights.h5`) or a Hugging Face ELECTRA directory
            (`config.json` with `"model_type": "electra"`); both need a
            `vocab.txt`.
        model_dir: output directory (created; files in it are overwritten).
        learning_rate: peak learning rate (original: 3e-4 Small, 1e-4 Base,
            5e-5 Large).
        num_train_epochs: passes over the training set (may be fractional);
            default 10 for RTE and STS-B, else 3.
        train_batch_size, eval_batch_size: examples per batch.
        max_seq_length: tokens per example, `[CLS]` and `[SEP]`s included.
        layerwise_lr_decay: per-layer learning-rate factor (0 disables).
        weight_decay: AdamW decoupled weight decay.
        warmup_proportion: fraction of the steps with a linear warmup.
        num_seeds: independent runs, seeds 0..num_seeds-1.
        do_predict: also predict the test set(s) in GLUE's submission format.
        max_train_examples: train on the first N examples only (smoke runs).
        double_unordered: for MRPC and STS-B, also train on every pair in the
            other order (the original's default).
        log_every: optimizer steps between TensorBoard summaries.
        verbose: Keras verbosity of `fit` (0 silent, 1 progress bar, 2 one
            line per epoch).
        callbacks: extra Keras callbacks for every seed's `fit`.
        random_init: fine-tune the same architecture and vocabulary as
            `init_checkpoint` from random weights instead (seeded by the
            seed): the baseline pre-training is measured against.
        init_config: an `ElectraConfig` (or its JSON path) sizing an original
            TF1 `init_checkpoint`, which stores no sizes; else unused.

    Returns:
        The dict written to `eval_results.json`: `metrics` (medians over
        seeds; MNLI's mismatched ones prefixed `mnli_mm_`), `per_seed`
        (`seed`, `metrics`, `output_dir`, `train_loss`), example counts,
        `num_train_steps` and the hyperparameters.
    """
    glue_task = _finetuning_task(task)
    if num_train_epochs is None:
        num_train_epochs = default_num_train_epochs(task)
    check_hparams(learning_rate=learning_rate, num_train_epochs=num_train_epochs,
                  train_batch_size=train_batch_size, eval_batch_size=eval_batch_size,
                  layerwise_lr_decay=layerwise_lr_decay, weight_decay=weight_decay,
                  warmup_proportion=warmup_proportion, num_seeds=num_seeds,
                  max_train_examples=max_train_examples, log_every=log_every)
    if max_seq_length < 3:
        raise ValueError(f"--max_seq_length must be >= 3 ([CLS] a [SEP] b [SEP] needs 3 "
                         f"special tokens), got {max_seq_length}.")
    hparams = dict(learning_rate=learning_rate, num_train_epochs=num_train_epochs,
                   train_batch_size=train_batch_size, eval_batch_size=eval_batch_size,
                   max_seq_length=max_seq_length, layerwise_lr_decay=layerwise_lr_decay,
                   weight_decay=weight_decay, warmup_proportion=warmup_proportion,
                   max_train_examples=max_train_examples, double_unordered=double_unordered,
                   random_init=random_init)

    # Data first: reading it is cheap and its errors should not wait for a model.
    train = read_glue(task, data_dir, "train")
    if max_train_examples:
        train = train[:max_train_examples]
    if double_unordered and task in UNORDERED_PAIR_TASKS:
        train = with_swapped_pairs(train)
    dev_sets = [_EvalSet(name, get_glue_task(name), read_glue(name, data_dir, "dev"))
                for name in (task, *EXTRA_EVAL_TASKS.get(task, ()))]
    test_sets = _read_test_sets(task, data_dir) if do_predict else []
    if not train:
        raise ValueError(f"{os.path.join(data_dir, glue_task.files['train'])}: no training "
                         "examples.")
    # The original's count: it pads the training set to whole batches (with
    # zero-loss dummies; here the next pass fills the last batch), then
    # truncates batches-per-epoch times epochs.
    steps_per_epoch = math.ceil(len(train) / train_batch_size)
    num_train_steps = max(1, int(steps_per_epoch * num_train_epochs))

    pretrainer, config = load_pretrained(init_checkpoint, init_config)
    if max_seq_length > config.max_position_embeddings:
        raise ValueError(f"--max_seq_length={max_seq_length} exceeds the model's "
                         f"max_position_embeddings ({config.max_position_embeddings}).")
    encoder = TextPairEncoder(config.vocab_file, max_seq_length, lowercase=config.do_lower_case)
    logging.info("%s: %d training examples, %d steps (%d per epoch), warmup %.1f steps; "
                 "dev: %s", task, len(train), num_train_steps, steps_per_epoch,
                 num_train_steps * warmup_proportion,
                 ", ".join(f"{s.name} {len(s.examples)}" for s in dev_sets))

    os.makedirs(model_dir, exist_ok=True)
    results = {
        "task": task,
        "init_checkpoint": str(init_checkpoint),
        "train_examples": len(train),
        "dev_examples": {s.name: len(s.examples) for s in dev_sets},
        "num_train_steps": num_train_steps,
        "num_seeds": num_seeds,
        "hparams": hparams,
        "per_seed": [],
    }
    return run_seeds(
        results, model_dir, num_seeds, task,
        lambda seed, output_dir: _run_seed(
            seed, glue_task, starting_point(pretrainer, config, seed, random_init), encoder,
            train, dev_sets, test_sets, output_dir,
            num_train_steps=num_train_steps, steps_per_epoch=steps_per_epoch,
            learning_rate=learning_rate, train_batch_size=train_batch_size,
            eval_batch_size=eval_batch_size, layerwise_lr_decay=layerwise_lr_decay,
            weight_decay=weight_decay, warmup_proportion=warmup_proportion,
            log_every=log_every, verbose=verbose, callbacks=callbacks))


def run_seeds(results, model_dir, num_seeds, name, run_seed):
    """Runs `run_seed(seed, output_dir)` for seeds 0..num_seeds-1 and records medians.

    Shared by the GLUE, SQuAD and tagging runners: `output_dir` is
    `model_dir` itself for one seed, else `model_dir/seed_<i>`; each seed's
    result is appended to `results["per_seed"]`, `results["metrics"]` holds
    the medians so far, and `eval_results.json` is rewritten after every
    seed, so a long multi-seed run shows its progress. Returns `results`.
    """
    for seed in range(num_seeds):
        output_dir = model_dir if num_seeds == 1 else os.path.join(model_dir, f"seed_{seed}")
        os.makedirs(output_dir, exist_ok=True)
        seed_result = run_seed(seed, output_dir)
        results["per_seed"].append(seed_result)
        logging.info("%s seed %d: %s", name, seed, format_metrics(seed_result["metrics"]))
        results["metrics"] = median_metrics([r["metrics"] for r in results["per_seed"]])
        write_json(results, os.path.join(model_dir, RESULTS_NAME))
    logging.info("%s: median over %d seed(s): %s", name, num_seeds,
                 format_metrics(results["metrics"]))
    return results


def median_metrics(per_seed_metrics):
    """`{name: median over seeds}` of a list of `{name: value}` dicts.

    Example:

    >>> median_metrics([{"accuracy": 0.8}, {"accuracy": 0.9}, {"accuracy": 0.7}])
    {'accuracy': 0.8}
    """
    names = per_seed_metrics[0].keys()
    return {name: float(statistics.median(m[name] for m in per_seed_metrics)) for name in names}


def _run_seed(seed, task, pretrainer, encoder, train, dev_sets, test_sets, output_dir, *,
              num_train_steps, steps_per_epoch, learning_rate, train_batch_size,
              eval_batch_size, layerwise_lr_decay, weight_decay, warmup_proportion,
              log_every, verbose, callbacks):
    """Trains one model from the pre-trained weights, evaluates it, writes its files."""
    keras.utils.set_random_seed(seed)
    backbone = discriminator_from_pretrainer(pretrainer)
    if task.is_regression:
        model = build_task_model("regression", backbone)
        loss, metrics = keras.losses.MeanSquaredError(), []
    else:
        model = build_task_model("classification", backbone, num_classes=len(task.labels))
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(
        optimizer=finetuning_optimizer(model, backbone, learning_rate, num_train_steps,
                                       warmup_proportion, weight_decay, layerwise_lr_decay),
        loss=loss, metrics=metrics)
    summaries = TrainingSummaries(
        os.path.join(output_dir, "logs"), log_every,
        tokens_per_step=train_batch_size * encoder.max_seq_length,
        examples_per_step=train_batch_size)
    history = model.fit(
        glue_dataset(train, task, encoder, train_batch_size, is_training=True, seed=seed),
        epochs=math.ceil(num_train_steps / steps_per_epoch),
        steps_per_epoch=min(steps_per_epoch, num_train_steps),
        verbose=verbose,
        shuffle=False,  # the dataset shuffles (Keras would only warn)
        callbacks=[NonFiniteLossGuard(terms=("loss",)), StopAtStep(num_train_steps),
                   summaries, *callbacks])

    metrics = {}
    for eval_set in dev_sets:
        predictions = _predict(model, eval_set, encoder, eval_batch_size)
        if eval_set.task.is_regression:
            labels = np.array([example.label for example in eval_set.examples], np.float64)
        else:
            labels = glue_labels(eval_set.examples, eval_set.task)
        prefix = "" if eval_set.name == task.name else f"{eval_set.name}_"
        scores = glue_metrics(eval_set.task.metrics, labels, predictions)
        metrics.update({prefix + name: value for name, value in scores.items()})
        suffix = "" if eval_set.name == task.name else f"_{eval_set.name}"
        _write_predictions(os.path.join(output_dir, f"dev_predictions{suffix}.tsv"),
                           eval_set, predictions, with_labels=True)
    step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    summaries.write_eval(metrics, step)
    for eval_set in test_sets:
        predictions = _predict(model, eval_set, encoder, eval_batch_size)
        name = SUBMISSION_NAMES.get(eval_set.name, eval_set.task.glue_dir)
        os.makedirs(os.path.join(output_dir, TEST_DIR), exist_ok=True)
        _write_predictions(os.path.join(output_dir, TEST_DIR, f"{name}.tsv"), eval_set,
                           predictions, with_labels=False)

    save_task_model(model, output_dir, {
        "task": task.name, "kind": "regression" if task.is_regression else "classification",
        "labels": None if task.is_regression else list(task.labels),
        "is_pair": task.layout.text_b is not None, "max_seq_length": encoder.max_seq_length,
        "do_lower_case": encoder.lowercase, "vocab_file": encoder.vocab_file})
    result = {"seed": seed, "metrics": metrics, "output_dir": output_dir, "step": step,
              "train_loss": float(history.history["loss"][-1])}
    del model, backbone
    gc.collect()  # the next seed builds a full model again
    return result


def save_task_model(model, output_dir, task_info):
    """Writes a self-contained fine-tuned model: `model.keras`, `task.json`, `vocab.txt`.

    `model.keras` is an uncompiled copy (config + weights; the archive of a
    compiled model also holds its optimizer state, which a served or
    re-loaded model does not need); load it with
    `keras.saving.load_model(path)` after `import keras_electra`.
    `task.json` is `task_info` (what serving needs: `kind`, `labels`,
    `max_seq_length`, `do_lower_case`, ...) with `vocab_file` pointing at the
    copy of the pre-training vocabulary next to it, so that
    `python -m keras_electra.export` needs nothing else. Every file is
    written under a temporary name, then renamed.
    """
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    path = os.path.join(output_dir, TASK_MODEL_NAME)
    tmp = path[: -len(".keras")] + f".tmp{os.getpid()}.keras"
    copy.save(tmp)
    os.replace(tmp, path)
    info = dict(task_info)
    vocab = os.path.join(output_dir, VOCAB_NAME)
    if os.path.abspath(info["vocab_file"]) != os.path.abspath(vocab):
        shutil.copyfile(info["vocab_file"], vocab + f".tmp{os.getpid()}")
        os.replace(vocab + f".tmp{os.getpid()}", vocab)
    info["vocab_file"] = VOCAB_NAME
    write_json(info, os.path.join(output_dir, TASK_INFO_NAME))


def _predict(model, eval_set, encoder, batch_size):
    dataset = glue_dataset(eval_set.examples, eval_set.task, encoder, batch_size)
    return decode_predictions(model.predict(dataset, verbose=0), eval_set.task)


def _write_predictions(path, eval_set, predictions, with_labels):
    """`index  prediction  [label]` rows; `index` is the example's row in its file."""
    task = eval_set.task
    lines = ["index\tprediction" + ("\tlabel" if with_labels else "")]
    for example, prediction in zip(eval_set.examples, predictions, strict=True):
        row = [_row_index(example), _label_text(task, prediction, is_id=True)]
        if with_labels:
            row.append(_label_text(task, example.label, is_id=False))
        lines.append("\t".join(row))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _row_index(example):
    # guid is "<split>-<row>": GLUE's test `index` column counts rows the same way.
    return example.guid.rsplit("-", 1)[1]


def _label_text(task, value, is_id):
    if task.is_regression:
        return f"{float(value):.6g}"
    return task.labels[int(value)] if is_id else value


def _read_test_sets(task, data_dir):
    names = (task, *EXTRA_EVAL_TASKS.get(task, ()))
    sets = [_EvalSet(name, get_glue_task(name), read_glue(name, data_dir, "test"))
            for name in names]
    if task == "mnli":
        # GLUE scores its diagnostic set (AX) with the MNLI model.
        for path in (os.path.join(data_dir, "diagnostic.tsv"),
                     os.path.join(os.path.dirname(os.path.normpath(data_dir)), "diagnostic",
                                  "diagnostic.tsv")):
            if os.path.isfile(path):
                examples, _ = parse_glue_file(AX_TASK, path, "test")
                sets.append(_EvalSet("ax", AX_TASK, examples))
                break
        else:
            logging.warning("No diagnostic.tsv next to %s: AX.tsv (needed for a full GLUE "
                            "submission) is not written.", data_dir)
    return sets


def _finetuning_task(name):
    if name in (n for extras in EXTRA_EVAL_TASKS.values() for n in extras):
        raise ValueError(f"--task={name}: not a training task; --task=mnli trains on MNLI and "
                         "scores both dev_matched and dev_mismatched.")
    try:
        return get_glue_task(name)
    except ValueError as e:
        raise ValueError(f"--task={name}: {e}") from None


_POSITIVE = ("learning_rate", "num_train_epochs", "train_batch_size", "eval_batch_size",
             "doc_stride", "max_query_length", "n_best_size", "max_answer_length",
             "num_seeds", "max_train_examples", "max_eval_examples", "log_every")
_FRACTIONS = ("layerwise_lr_decay", "warmup_proportion")
_NON_NEGATIVE = ("weight_decay", "answerable_weight")


def check_hparams(**values):
    """One-line errors naming the flag for out-of-range fine-tuning settings.

    Shared by the GLUE, SQuAD and tagging runners; `None` means "not set".
    Each runner checks its own `max_seq_length` minimum.

    Example:

    >>> check_hparams(learning_rate=0.0)
    Traceback (most recent call last):
    ...
    ValueError: --learning_rate must be positive, got 0.0.
    """
    for name, value in values.items():
        if value is None:
            continue
        if name in _FRACTIONS and not 0 <= value <= 1:
            raise ValueError(f"--{name} must be in [0, 1], got {value!r}.")
        if name in _NON_NEGATIVE and value < 0:
            raise ValueError(f"--{name} must be >= 0, got {value!r}.")
        if name in _POSITIVE and not value > 0:
            raise ValueError(f"--{name} must be positive, got {value!r}.")


def format_metrics(metrics):
    """`name 0.1234, ...` for log lines."""
    return ", ".join(f"{name} {value:.4f}" for name, value in metrics.items())
