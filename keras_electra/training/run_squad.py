"""Library side of `python -m keras_electra.finetune --task=squad|squad_v2`: SQuAD fine-tuning.

    results = run_squad("1.1", "squad/train-v1.1.json", "squad/dev-v1.1.json",
                        "runs/small", "runs/small_squad")
    results["metrics"]["f1"]
    results = run_squad("2.0", "squad/train-v2.0.json", "squad/dev-v2.0.json",
                        "runs/small", "runs/small_squad2")
    results["metrics"]["best_f1"], results["metrics"]["best_f1_thresh"]

Loads a pre-trained discriminator (as `run_finetuning` does: a model
directory of ours or a Hugging Face ELECTRA directory), cuts every question
into doc-stride windows (`keras_electra.data.tasks.squad.squad_windows`),
trains an `ElectraSpanExtractor` with `fit`, predicts the dev windows,
turns their logits into one answer per question (n-best search,
`max_answer_length`) and scores them with the official SQuAD 1.1 / 2.0
metrics. Writes under `model_dir`:

* `eval_results.json`: the median over seeds of every metric, each seed's
  metrics, sizes and hyperparameters (the layout of `run_finetuning`'s);
* per seed (in `model_dir` itself with one seed, else `model_dir/seed_<i>`):
  `logs/` (TensorBoard: `train/` every `log_every` steps, `eval/` the dev
  metrics), `model.keras` (the fine-tuned `ElectraSpanExtractor`, no
  optimizer state) and `dev_predictions.json`, `{qas_id: answer}` as the official
  evaluation scripts read it (SQuAD 2.0: `""` where the question is judged
  unanswerable). SQuAD 2.0 adds `null_odds.json` (`{qas_id: no-answer
  score}`, the scripts' `--na-prob-file`) and `dev_best_non_null.json`
  (the best span of every question, no threshold applied), so that
  `evaluate-v2.0.py dev-v2.0.json dev_best_non_null.json -n null_odds.json
  -t THRESHOLD` reproduces every number, the best-threshold ones included.

Metrics (percent, as the scripts print them): SQuAD 1.1 `exact_match` and
`f1`; SQuAD 2.0 `exact`, `f1`, `total`, `HasAns_*`, `NoAns_*` (the groups
present) and `best_exact`, `best_exact_thresh`, `best_f1`, `best_f1_thresh`.

The recipe is the original ELECTRA one (`configure_finetuning.py`,
`finetune/qa/qa_tasks.py`, `qa_metrics.py` of google-research/electra):
max_seq_length 512, doc_stride 128, max_query_length 64, 2 epochs, batch
32, n-best 20, max_answer_length 30, the GLUE optimizer (`finetuning_optimizer`:
AdamW, layer-wise lr decay 0.8, 10% warmup, linear decay, clipping at 1.0).
Windows that miss the answer, and unanswerable questions, target `[CLS]`
(position 0). The loss of a window is the mean of the start and end softmax
cross-entropies over positions; SQuAD 2.0 adds `answerable_weight` (0.5) x
the sigmoid cross-entropy of the answerability logit against the question's
`is_impossible` (the question's, not the window's: a window of an
answerable question that misses the answer still has label 0, as in the
original). A question's no-answer score is the minimum of that logit over
its windows, and it is predicted unanswerable when the score exceeds
`null_odds_threshold` (the original's `qa_na_threshold`, -2.75). Differences,
on purpose:

* span starts and ends are independent (BERT-style; the original's SQuAD
  default is its joint, beam-searched end head: see `ElectraSpanExtractor`);
* SQuAD 1.1 trains no answerability head (the original trains one on 1.1
  too, against labels that are all 0, and never reads it);
* spans map back to text through the tokenizer's character offsets, not the
  original's whitespace-token heuristics (see `keras_electra.data.tasks.squad`);
* as in `run_finetuning`: the loss is the batch mean, every window is
  reshuffled each pass and the data repeats without a break (steps =
  `int(ceil(windows / batch) * epochs)`), Keras' AdamW bias-corrects.
"""

import gc
import math
import os

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from keras_electra.data.tasks.squad import read_squad, squad_predictions, squad_windows
from keras_electra.data.tokenizer import make_tokenizer
from keras_electra.metrics.squad_metrics import squad_v1_metrics, squad_v2_metrics
from keras_electra.models.electra_task import FEATURES
from keras_electra.models.task_builders import build_task_model, discriminator_from_pretrainer
from keras_electra.training.callbacks import NonFiniteLossGuard
from keras_electra.training.checkpoints import write_json
from keras_electra.training.run_finetuning import (
    check_hparams, finetuning_optimizer,
    load_pretrained, run_seeds, save_task_model, starting_point)
from keras_electra.training.stop_at_step import StopAtStep
from keras_electra.training.training_summaries import TrainingSummaries

SQUAD_VERSIONS = {"1.1": "squad", "2.0": "squad_v2"}  # version -> --task name
PREDICTIONS_NAME = "dev_predictions.json"
BEST_NON_NULL_NAME = "dev_best_non_null.json"
NULL_ODDS_NAME = "null_odds.json"
# The original's `qa_na_threshold`, on the answerability logit (sigmoid 0.06).
ANSWERABLE_THRESHOLD = -2.75
# Without the answerability head, the no-answer score is the null span's
# score minus the best span's (BERT's `null_score_diff_threshold`, default 0).
NULL_SCORE_DIFF_THRESHOLD = 0.0


def run_squad(
    version,
    train_file,
    dev_file,
    init_checkpoint,
    model_dir,
    learning_rate=1e-4,
    num_train_epochs=2.0,
    train_batch_size=32,
    eval_batch_size=32,
    max_seq_length=512,
    doc_stride=128,
    max_query_length=64,
    n_best_size=20,
    max_answer_length=30,
    answerable_classifier=True,
    answerable_weight=0.5,
    null_odds_threshold=None,
    layerwise_lr_decay=0.8,
    weight_decay=0.01,
    warmup_proportion=0.1,
    num_seeds=1,
    max_train_examples=None,
    max_eval_examples=None,
    log_every=100,
    verbose=1,
    callbacks=(),
    random_init=False,
    init_config=None,
):
    """Fine-tunes and evaluates a pre-trained ELECTRA discriminator on SQuAD 1.1 or 2.0.

    Files, vocabulary, sizes and windows are all read and checked before the
    first step, so a bad path fails in seconds with one line naming it. Seed
    `i` (of `num_seeds`) seeds the head's initialisation, dropout and the
    data order; every seed starts from the same pre-trained weights.

    Args:
        version: "1.1" (`--task=squad`) or "2.0" (`--task=squad_v2`).
        train_file, dev_file: SQuAD JSON files (`train-v1.1.json`, `dev-v1.1.json`).
        init_checkpoint: a pre-training model directory of ours
            (`pretrainer.weights.h5`) or a Hugging Face ELECTRA directory
            (`config.json` with `"model_type": "electra"`); both need a
            `vocab.txt`.
        model_dir: output directory (created; files in it are overwritten).
        learning_rate: peak learning rate (original: 3e-4 Small, 1e-4 Base,
            5e-5 Large).
        num_train_epochs: passes over the training windows (may be fractional).
        train_batch_size, eval_batch_size: windows per batch.
        max_seq_length: tokens per window, `[CLS]`, question and `[SEP]`s included
            (the original's 512; 384 is BERT's and costs less).
        doc_stride: context pieces between the starts of consecutive windows.
        max_query_length: question pieces kept.
        n_best_size: start and end candidates per window, and spans kept per question.
        max_answer_length: longest answer, in pieces.
        answerable_classifier: SQuAD 2.0: train the answerability head and
            score "no answer" with it (the original's default); False scores
            it as the `[CLS]` span's logits minus the best span's (BERT).
        answerable_weight: weight of the answerability loss.
        null_odds_threshold: SQuAD 2.0: predict no answer where the
            no-answer score exceeds this; default -2.75 (the original's) with
            the answerability head, else 0.0. `best_f1_thresh` in the results
            is the value that would have been best on the dev set.
        layerwise_lr_decay: per-layer learning-rate factor (0 disables).
        weight_decay: AdamW decoupled weight decay.
        warmup_proportion: fraction of the steps with a linear warmup.
        num_seeds: independent runs, seeds 0..num_seeds-1.
        max_train_examples: train on the first N questions only (smoke runs).
        max_eval_examples: score the first N dev questions only (smoke runs).
        log_every: optimizer steps between TensorBoard summaries.
        verbose: Keras verbosity of `fit` (0 silent, 1 progress bar, 2 one
            line per epoch).
        callbacks: extra Keras callbacks for every seed's `fit`.
        random_init: fine-tune the architecture and vocabulary of
            `init_checkpoint` from random weights (seeded by the seed): the
            no-pre-training baseline.
        init_config: an `ElectraConfig` (or its JSON path) sizing an original
            TF1 `init_checkpoint`, which stores no sizes; else unused.

    Returns:
        The dict written to `eval_results.json`: `metrics` (medians over
        seeds), `per_seed` (`seed`, `metrics`, `output_dir`, `step`,
        `train_loss`), question and window counts, `num_train_steps` and the
        hyperparameters.
    """
    if version not in SQUAD_VERSIONS:
        raise ValueError(f"run_squad: version must be one of {', '.join(SQUAD_VERSIONS)}, "
                         f"got {version!r}.")
    version_2 = version == "2.0"
    answerability = version_2 and answerable_classifier
    if null_odds_threshold is None:
        null_odds_threshold = ANSWERABLE_THRESHOLD if answerability else NULL_SCORE_DIFF_THRESHOLD
    hparams = dict(learning_rate=learning_rate, num_train_epochs=num_train_epochs,
                   train_batch_size=train_batch_size, eval_batch_size=eval_batch_size,
                   max_seq_length=max_seq_length, doc_stride=doc_stride,
                   max_query_length=max_query_length, n_best_size=n_best_size,
                   max_answer_length=max_answer_length, answerable_classifier=answerability,
                   answerable_weight=answerable_weight,
                   null_odds_threshold=null_odds_threshold if version_2 else None,
                   layerwise_lr_decay=layerwise_lr_decay, weight_decay=weight_decay,
                   warmup_proportion=warmup_proportion, max_train_examples=max_train_examples,
                   max_eval_examples=max_eval_examples, random_init=random_init)
    check_hparams(**hparams, num_seeds=num_seeds, log_every=log_every)
    # [CLS] question [SEP] context [SEP] with at least one context piece.
    if max_seq_length < max_query_length + 4:
        raise ValueError(f"--max_seq_length={max_seq_length} leaves no room for context after "
                         f"a --max_query_length={max_query_length} question and 3 special "
                         "tokens.")

    # Data first: reading it is cheap and its errors should not wait for a model.
    train = _read(train_file, version, max_train_examples, "training")
    dev = _read(dev_file, version, max_eval_examples, "dev")
    pretrainer, config = load_pretrained(init_checkpoint, init_config)
    if max_seq_length > config.max_position_embeddings:
        raise ValueError(f"--max_seq_length={max_seq_length} exceeds the model's "
                         f"max_position_embeddings ({config.max_position_embeddings}).")
    tokenizer, _, special = make_tokenizer(config.vocab_file, lowercase=config.do_lower_case)
    window_args = dict(max_seq_length=max_seq_length, max_query_length=max_query_length,
                       doc_stride=doc_stride)
    train_windows = squad_windows(train, tokenizer, special, **window_args)
    dev_windows = squad_windows(dev, tokenizer, special, **window_args)
    # The original's count: batches per epoch (the last one padded) times epochs.
    steps_per_epoch = math.ceil(len(train_windows) / train_batch_size)
    num_train_steps = max(1, int(steps_per_epoch * num_train_epochs))
    task = SQUAD_VERSIONS[version]
    logging.info("%s: %d training questions in %d windows, %d steps (%d per epoch); dev: %d "
                 "questions in %d windows", task, len(train), len(train_windows),
                 num_train_steps, steps_per_epoch, len(dev), len(dev_windows))

    # As tensors once for every seed; the windows' offsets are only needed for dev.
    train_data = tf.nest.map_structure(
        tf.convert_to_tensor,
        (window_features(train_windows), window_targets(train_windows, answerability)))
    num_train_windows = len(train_windows)
    del train_windows
    dev_features = window_features(dev_windows)
    os.makedirs(model_dir, exist_ok=True)
    results = {
        "task": task,
        "version": version,
        "init_checkpoint": str(init_checkpoint),
        "train_file": str(train_file),
        "dev_file": str(dev_file),
        "train_examples": len(train),
        "train_windows": num_train_windows,
        "dev_examples": len(dev),
        "dev_windows": len(dev_windows),
        "num_train_steps": num_train_steps,
        "num_seeds": num_seeds,
        "hparams": hparams,
        "per_seed": [],
    }
    task_info = {"task": task, "kind": "span", "version_2": version_2,
                 "answerability": answerability, "max_seq_length": max_seq_length,
                 "doc_stride": doc_stride, "max_query_length": max_query_length,
                 "max_answer_length": max_answer_length, "n_best_size": n_best_size,
                 "null_odds_threshold": null_odds_threshold,
                 "do_lower_case": config.do_lower_case, "vocab_file": config.vocab_file}
    return run_seeds(
        results, model_dir, num_seeds, task,
        lambda seed, output_dir: _run_seed(
            seed, starting_point(pretrainer, config, seed, random_init), train_data, dev,
            dev_windows, dev_features, output_dir,
            version_2=version_2, answerability=answerability,
            answerable_weight=answerable_weight, null_odds_threshold=null_odds_threshold,
            num_train_steps=num_train_steps, steps_per_epoch=steps_per_epoch,
            learning_rate=learning_rate, train_batch_size=train_batch_size,
            eval_batch_size=eval_batch_size, max_seq_length=max_seq_length,
            n_best_size=n_best_size, max_answer_length=max_answer_length,
            layerwise_lr_decay=layerwise_lr_decay, weight_decay=weight_decay,
            warmup_proportion=warmup_proportion, log_every=log_every, verbose=verbose,
            callbacks=callbacks, task_info=task_info))


def _run_seed(seed, pretrainer, train_data, dev, dev_windows, dev_features, output_dir, *,
              version_2, answerability, answerable_weight, null_odds_threshold,
              num_train_steps, steps_per_epoch, learning_rate, train_batch_size,
              eval_batch_size, max_seq_length, n_best_size, max_answer_length,
              layerwise_lr_decay, weight_decay, warmup_proportion, log_every, verbose,
              callbacks, task_info):
    """Trains one model from the pre-trained weights, answers the dev set, writes its files."""
    keras.utils.set_random_seed(seed)
    model = build_task_model("span_extraction", discriminator_from_pretrainer(pretrainer),
                             answerability=answerability)
    model.compile(
        optimizer=finetuning_optimizer(model, model.backbone, learning_rate, num_train_steps,
                                       warmup_proportion, weight_decay, layerwise_lr_decay),
        **span_losses(answerability, answerable_weight))
    summaries = TrainingSummaries(
        os.path.join(output_dir, "logs"), log_every,
        tokens_per_step=train_batch_size * max_seq_length, examples_per_step=train_batch_size)
    history = model.fit(
        train_dataset(*train_data, train_batch_size, seed=seed),
        epochs=math.ceil(num_train_steps / steps_per_epoch),
        steps_per_epoch=min(steps_per_epoch, num_train_steps),
        verbose=verbose,
        shuffle=False,  # the dataset shuffles (Keras would only warn)
        callbacks=[NonFiniteLossGuard(terms=("loss",)), StopAtStep(num_train_steps),
                   summaries, *callbacks])

    outputs = model.predict(dev_features, batch_size=eval_batch_size, verbose=0)
    answers = dev_answers(dev, dev_windows, outputs, version_2, n_best_size, max_answer_length,
                          null_odds_threshold)
    metrics = score_answers(dev, answers, version_2, null_odds_threshold)
    step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    summaries.write_eval(metrics, step)
    write_json(answers["answers"], os.path.join(output_dir, PREDICTIONS_NAME))
    if version_2:
        write_json(answers["best_non_null"], os.path.join(output_dir, BEST_NON_NULL_NAME))
        write_json(answers["null_odds"], os.path.join(output_dir, NULL_ODDS_NAME))
    save_task_model(model, output_dir, task_info)

    result = {"seed": seed, "metrics": metrics, "output_dir": output_dir, "step": step,
              "train_loss": float(history.history["loss"][-1])}
    del model, outputs
    gc.collect()  # the next seed builds a full model again
    return result


def window_features(windows):
    """The model inputs of `SquadWindow`s: `{input_ids, input_mask, segment_ids}`, int32 `(n, seq)`.

    Example:

    >>> from keras_electra.data.tasks.squad_window import SquadWindow
    >>> w = SquadWindow(0, "q1", 0, *[np.zeros(4, np.int32)] * 3, 0, 0, False,
    ...                 *[np.full(4, -1, np.int32)] * 2, np.zeros(4, bool))
    >>> {name: array.shape for name, array in window_features([w, w]).items()}
    {'input_ids': (2, 4), 'input_mask': (2, 4), 'segment_ids': (2, 4)}
    """
    return {name: np.stack([getattr(w, name) for w in windows]).astype(np.int32)
            for name in FEATURES}


def window_targets(windows, answerability):
    """Training targets keyed by `ElectraSpanExtractor`'s outputs.

    `start_logits` / `end_logits`: the answer's first and last token (0,
    `[CLS]`, when the window misses it or there is none); with
    `answerability`, `answerable_logits`: 1.0 where the question is
    unanswerable (the head's logit is high for *no* answer).

    Example:

    >>> from keras_electra.data.tasks.squad_window import SquadWindow
    >>> w = SquadWindow(0, "q1", 0, *[np.zeros(4, np.int32)] * 3, 2, 3, False,
    ...                 *[np.full(4, -1, np.int32)] * 2, np.zeros(4, bool))
    >>> {name: t.tolist() for name, t in window_targets([w], answerability=True).items()}
    {'start_logits': [2], 'end_logits': [3], 'answerable_logits': [0.0]}
    """
    targets = {"start_logits": np.array([w.start_position for w in windows], np.int32),
               "end_logits": np.array([w.end_position for w in windows], np.int32)}
    if answerability:
        targets["answerable_logits"] = np.array([w.is_impossible for w in windows], np.float32)
    return targets


def span_losses(answerability, answerable_weight=0.5):
    """`compile` arguments for the original loss of `finetune/qa/qa_tasks.py`.

    `(start CE + end CE) / 2` (softmax cross-entropy over positions), plus
    `answerable_weight` x the sigmoid cross-entropy of the answerability
    logit with `answerability`; each term is its batch mean.

    Example:

    >>> args = span_losses(answerability=True)
    >>> args["loss_weights"]
    {'start_logits': 0.5, 'end_logits': 0.5, 'answerable_logits': 0.5}
    """
    span = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss = {"start_logits": span, "end_logits": span}
    weights = {"start_logits": 0.5, "end_logits": 0.5}
    if answerability:
        loss["answerable_logits"] = keras.losses.BinaryCrossentropy(from_logits=True)
        weights["answerable_logits"] = answerable_weight
    return {"loss": loss, "loss_weights": weights}


def train_dataset(features, targets, batch_size, seed=0):
    """Shuffled, endlessly repeated `(features, targets)` batches of `batch_size` windows.

    `features` and `targets` are dicts of arrays or tensors with one row per window.

    Shuffles indices and gathers the rows, so SQuAD's ~90k windows are held
    once (a `shuffle` buffer over the rows themselves would copy them all);
    every pass has a new order and batches run across pass boundaries, so
    every step sees `batch_size` windows.

    Example:

    >>> x = {"input_ids": np.arange(6, dtype=np.int32).reshape(3, 2)}
    >>> y = {"start_logits": np.array([0, 1, 2], np.int32)}
    >>> batch_x, batch_y = next(iter(train_dataset(x, y, batch_size=4)))
    >>> batch_x["input_ids"].shape, sorted(batch_y["start_logits"].numpy().tolist()[:3])
    (TensorShape([4, 2]), [0, 1, 2])
    """
    tensors = tf.nest.map_structure(tf.convert_to_tensor, (features, targets))
    count = int(tf.shape(next(iter(tensors[1].values())))[0])
    dataset = (tf.data.Dataset.range(count)
               .shuffle(count, seed=seed, reshuffle_each_iteration=True)
               .repeat()
               .batch(batch_size, drop_remainder=True))
    dataset = dataset.map(
        lambda rows: tf.nest.map_structure(lambda t: tf.gather(t, rows), tensors),
        num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def dev_answers(examples, windows, outputs, version_2, n_best_size=20, max_answer_length=30,
                null_odds_threshold=ANSWERABLE_THRESHOLD):
    """`{"answers", "best_non_null", "null_odds"}` (each `{qas_id: ...}`) from model outputs.

    `outputs` is `ElectraSpanExtractor`'s dict over `windows`. SQuAD 2.0
    scores "no answer" with `answerable_logits` when present (the minimum
    over a question's windows, the original's rule), else with the null
    span's score minus the best span's; `answers` is `""` where that score
    exceeds `null_odds_threshold`. SQuAD 1.1: `null_odds` is empty and
    `answers` equals `best_non_null`.

    Example:

    >>> answers = dev_answers(examples, windows, model.predict(features), True)  # doctest: +SKIP
    >>> answers["answers"][examples[0].qas_id]  # doctest: +SKIP
    'Denver Broncos'
    """
    answerable = "answerable_logits" in outputs
    predictions = squad_predictions(
        examples, windows, outputs["start_logits"], outputs["end_logits"],
        n_best_size=n_best_size, max_answer_length=max_answer_length,
        version_2=version_2 and not answerable, null_score_diff_threshold=null_odds_threshold)
    if not (version_2 and answerable):
        return {"answers": predictions.answers, "best_non_null": predictions.best_non_null,
                "null_odds": predictions.null_score_diffs}
    odds = min_null_odds(examples, windows, outputs["answerable_logits"])
    return {"answers": thresholded_answers(predictions.best_non_null, odds, null_odds_threshold),
            "best_non_null": predictions.best_non_null, "null_odds": odds}


def min_null_odds(examples, windows, answerable_logits):
    """`{qas_id: min over the question's windows of its answerability logit}`.

    The original's `score_null` with `answerable_classifier`: a question is
    as answerable as its most answerable window. A question without windows
    (an empty context) gets +inf: surely unanswerable.

    Example:

    >>> import types
    >>> examples = [types.SimpleNamespace(qas_id="q1"), types.SimpleNamespace(qas_id="q2")]
    >>> windows = [types.SimpleNamespace(example_index=i) for i in (0, 0, 1)]
    >>> min_null_odds(examples, windows, np.array([0.5, -3.0, 2.0]))
    {'q1': -3.0, 'q2': 2.0}
    """
    odds = np.full(len(examples), np.inf)
    indices = np.array([w.example_index for w in windows], np.int64)
    np.minimum.at(odds, indices, np.asarray(answerable_logits, np.float64).reshape(-1))
    return {example.qas_id: float(value) for example, value in zip(examples, odds)}


def thresholded_answers(best_non_null, null_odds, threshold):
    """`""` (no answer) where `null_odds` exceeds `threshold`, else the best span.

    Example:

    >>> thresholded_answers({"q1": "Ada", "q2": "1843"}, {"q1": -4.0, "q2": 1.5}, -2.75)
    {'q1': 'Ada', 'q2': ''}
    """
    return {qid: "" if null_odds[qid] > threshold else text
            for qid, text in best_non_null.items()}


def score_answers(examples, answers, version_2, null_odds_threshold):
    """The official metrics of `dev_answers`' output (percent; see the module docstring).

    SQuAD 2.0 scores the best non-null spans with the no-answer scores and
    the threshold, as the official script run with `-n` and `-t`: the same
    `exact` / `f1` as scoring `answers`, plus the best-threshold search.

    Example:

    >>> from keras_electra.data.tasks.squad_example import SquadExample
    >>> examples = [SquadExample("q1", "Who?", "Ada wrote.", "Ada", 0, ("Ada",))]
    >>> score_answers(examples, {"answers": {"q1": "Ada"}}, False, 0.0)
    {'exact_match': 100.0, 'f1': 100.0}
    """
    gold = {example.qas_id: list(example.answers) for example in examples}
    if not version_2:
        return squad_v1_metrics(gold, answers["answers"])
    return squad_v2_metrics(gold, answers["best_non_null"], na_probs=answers["null_odds"],
                            na_prob_thresh=null_odds_threshold)


def _read(path, version, max_examples, split):
    examples = read_squad(path)
    if max_examples:
        examples = examples[:max_examples]
    if not examples:
        raise ValueError(f"{path}: no {split} questions.")
    impossible = sum(example.is_impossible for example in examples)
    if impossible and version == "1.1":
        raise ValueError(f"{path}: {impossible} unanswerable (is_impossible) question(s); "
                         "that is SQuAD 2.0 (--task=squad_v2).")
    return examples
