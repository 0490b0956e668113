"""Library side of `python -m keras_electra.finetune` for tagging: CoNLL NER and chunking.

    results = run_tagging("conll2003/train.txt", "conll2003/valid.txt", "runs/small",
                          "runs/small_ner")                       # NER: the last column
    results = run_tagging("conll2000/train.txt", "conll2000/test.txt", "runs/small",
                          "runs/small_chunk", tag_column=2)       # chunk tags
    results["metrics"]["f1"]

Loads a pre-trained discriminator (`load_pretrained`: a model directory of
ours or a Hugging Face ELECTRA directory), puts an `ElectraTokenClassifier`
on it, trains with `fit` on the first WordPiece of every word, predicts the
dev (and test) sentences, reads each word's tag at its first piece and
scores entities as CoNLL's `conlleval` does (`tagging_metrics`). It writes
under `model_dir`:

* `tags.txt`: the tag vocabulary in label id order (`O`, then the training
  file's other tags sorted), one per line;
* `eval_results.json`: the median over seeds of every metric (`precision`,
  `recall`, `f1` of entities and per-word `accuracy`; `test_`-prefixed for
  `test_file`), each seed's metrics and per-type scores, sizes (sentences,
  words, truncated words) and hyperparameters;
* per seed (in `model_dir` itself with one seed, else `model_dir/seed_<i>`):
  `logs/` (TensorBoard: `train/` every `log_every` steps, `eval/` the
  metrics) and `dev_predictions.txt` (with `test_file`, also
  `test_predictions.txt`): conlleval's input, `word gold predicted` per
  line and a blank line after every sentence, so
  `conlleval < dev_predictions.txt` reproduces the scores.

Tags may be IOB1 (the original CoNLL-2003 release) or IOB2: they are read as
IOB2 (`read_conll`), which is what the model learns, what the prediction
files hold in both columns and what is scored. With `iob=False` the tags are
plain labels (part of speech) and only `accuracy` is reported.

The recipe is the original ELECTRA fine-tuning (`finetune/tagging/
tagging_tasks.py`, which ships one tagging task, CoNLL-2000 chunking with
the tag in the last column, and the optimizer of `run_finetuning`: AdamW,
layer-wise learning-rate decay 0.8, 10% warmup then linear decay, clipping
at 1.0, 3 epochs); NER is the same task on CoNLL-2003's NER column.
Differences, on purpose:

* labels are the IOB2 tags themselves; the original re-encodes chunk tags
  as BIOES for training and decodes spans from its predictions. BIOES is a
  modelling choice left out here so that the labels, the prediction files
  and conlleval all speak one scheme;
* the loss is the mean cross-entropy over the labelled (first) pieces of
  the batch; the original sums over each sentence's words and over the
  batch (with Adam that changes little but how often the clipping bites);
* segment ids are 0, as for any single sentence in this package; the
  original sets them to 1 in tagging (only there), apparently by accident;
* words are lowercased only for an uncased model (`config.do_lower_case`);
  the original's `tokenize_and_align` always lowercases;
* truncation: a sentence is cut after `max_seq_length - 2` pieces, so a word
  is predicted whenever its first piece fits. Words cut off entirely are
  not trained on, are predicted `O`, and are *counted* in every metric and
  written to the prediction files (conlleval over the file agrees with
  `eval_results.json`); `eval_sets` reports how many were cut. The original
  stops before a word once `(words + 2) + pieces so far + 1 >
  max_seq_length` (so sentences of more than about `max_seq_length / 2`
  words lose their tail, even when their pieces would fit) and leaves the
  cut words out of its scores;
* the tag vocabulary comes from the training file only (the original also
  reads dev and test); a dev tag never seen in training cannot be
  predicted, and is logged;
* the training set is reshuffled in full every pass and repeats without a
  break (as in `run_finetuning`).
"""

import gc
import math
import os

import keras
import numpy as np
from absl import logging

from keras_electra.atomic_io import atomic_write_text
from keras_electra.data.tasks.conll import read_conll, tag_vocabulary, word_predictions
from keras_electra.data.tasks.tagging_dataset import (
    encode_tagged_sentences, predicted_words, tagging_dataset)
from keras_electra.data.tokenizer import make_tokenizer
from keras_electra.metrics.tagging_metrics import entity_metrics
from keras_electra.models.task_builders import build_task_model, discriminator_from_pretrainer
from keras_electra.training.callbacks import NonFiniteLossGuard
from keras_electra.training.run_finetuning import (
    check_hparams, finetuning_optimizer,
    load_pretrained, run_seeds, save_task_model, starting_point)
from keras_electra.training.stop_at_step import StopAtStep
from keras_electra.training.training_summaries import TrainingSummaries

TAGS_NAME = "tags.txt"
# The tag a word gets when truncation left it no piece to predict at.
TRUNCATED_TAG = "O"


def run_tagging(
    train_file,
    dev_file,
    init_checkpoint,
    model_dir,
    *,
    test_file=None,
    tag_column=-1,
    iob=True,
    learning_rate=1e-4,
    num_train_epochs=3.0,
    train_batch_size=32,
    eval_batch_size=32,
    max_seq_length=128,
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
    """Fine-tunes and evaluates a pre-trained ELECTRA discriminator on CoNLL-style tagging.

    Everything is read and checked (files, tags, vocabulary, sizes) before
    the first step. Seed `i` (of `num_seeds`) seeds the head's
    initialisation and the data order; every seed starts from the same
    pre-trained weights.

    Args:
        train_file, dev_file: CoNLL column files (`word ... tag` per line,
            blank lines between sentences, `-DOCSTART-` lines skipped).
        init_checkpoint: a pre-training model directory of ours or a Hugging
            Face ELECTRA directory; both need a `vocab.txt`.
        model_dir: output directory (created; files in it are overwritten).
        test_file: a labelled CoNLL file also predicted and scored
            (`test_` metrics, `test_predictions.txt`), e.g. CoNLL-2003's
            `test.txt`.
        tag_column: the column holding the tags (0-based, negative from the
            end): -1 for CoNLL-2003 NER, 2 for its chunk tags.
        iob: the tags are chunk tags (IOB1 or IOB2; entity metrics). False
            for plain tags such as part of speech (accuracy only).
        learning_rate: peak learning rate (original: 3e-4 Small, 1e-4 Base,
            5e-5 Large).
        num_train_epochs: passes over the training set (may be fractional).
        train_batch_size, eval_batch_size: sentences per batch.
        max_seq_length: pieces per sentence, `[CLS]` and `[SEP]` included;
            longer sentences are truncated (see the module docstring).
        layerwise_lr_decay: per-layer learning-rate factor (0 disables).
        weight_decay: AdamW decoupled weight decay.
        warmup_proportion: fraction of the steps with a linear warmup.
        num_seeds: independent runs, seeds 0..num_seeds-1.
        max_train_examples: train on the first N sentences only.
        max_eval_examples: predict the first N dev (and test) sentences only.
        log_every: optimizer steps between TensorBoard summaries.
        verbose: Keras verbosity of `fit`.
        callbacks: extra Keras callbacks for every seed's `fit`.
        random_init: start from random weights of the same config (the
            baseline), see `run_finetuning.starting_point`.
        init_config: an `ElectraConfig` (or its JSON path) sizing an original
            TF1 `init_checkpoint`, which stores no sizes; else unused.

    Returns:
        The dict written to `eval_results.json`: `metrics` (medians over
        seeds), `per_seed` (`seed`, `metrics`, `per_type`, `output_dir`,
        `step`, `train_loss`), `tags`, `eval_sets` (sentences, words and
        truncated words of each scored file), `num_train_steps` and the
        hyperparameters.
    """
    check_hparams(learning_rate=learning_rate, num_train_epochs=num_train_epochs,
                  train_batch_size=train_batch_size, eval_batch_size=eval_batch_size,
                  max_seq_length=max_seq_length, layerwise_lr_decay=layerwise_lr_decay,
                  weight_decay=weight_decay, warmup_proportion=warmup_proportion,
                  num_seeds=num_seeds, max_train_examples=max_train_examples,
                  max_eval_examples=max_eval_examples, log_every=log_every)
    if max_seq_length < 3:
        raise ValueError(f"--max_seq_length must be >= 3 ([CLS] word [SEP]), got "
                         f"{max_seq_length}.")
    hparams = dict(learning_rate=learning_rate, num_train_epochs=num_train_epochs,
                   train_batch_size=train_batch_size, eval_batch_size=eval_batch_size,
                   max_seq_length=max_seq_length, layerwise_lr_decay=layerwise_lr_decay,
                   weight_decay=weight_decay, warmup_proportion=warmup_proportion,
                   max_train_examples=max_train_examples, max_eval_examples=max_eval_examples,
                   random_init=random_init)

    # Data first: reading it is cheap and its errors should not wait for a model.
    train = read_conll(train_file, tag_column=tag_column, iob=iob)[:max_train_examples]
    if not train:
        raise ValueError(f"{train_file}: no training sentences.")
    eval_files = {"dev": dev_file, **({"test": test_file} if test_file else {})}
    eval_sentences = {}
    for name, path in eval_files.items():
        eval_sentences[name] = read_conll(path, tag_column=tag_column, iob=iob)[:max_eval_examples]
        if not eval_sentences[name]:
            raise ValueError(f"{path}: no sentences to evaluate.")
    tags = tag_vocabulary(train) if iob else sorted({t for s in train for t in s.tags})
    if len(tags) < 2:
        raise ValueError(f"{train_file}: every word has the tag {tags[0]!r} (--tag_column="
                         f"{tag_column}); a tagger needs at least two tags.")
    for name, sentences in eval_sentences.items():
        unseen = sorted({t for s in sentences for t in s.tags} - set(tags))
        if unseen:
            logging.warning("%s: tags never seen in training (cannot be predicted): %s",
                            eval_files[name], " ".join(unseen))
    steps_per_epoch = math.ceil(len(train) / train_batch_size)
    num_train_steps = max(1, int(steps_per_epoch * num_train_epochs))

    pretrainer, config = load_pretrained(init_checkpoint, init_config)
    if max_seq_length > config.max_position_embeddings:
        raise ValueError(f"--max_seq_length={max_seq_length} exceeds the model's "
                         f"max_position_embeddings ({config.max_position_embeddings}).")
    tokenizer, _, special_ids = make_tokenizer(config.vocab_file, config.do_lower_case)
    encoded_train = encode_tagged_sentences(train, tokenizer, special_ids, max_seq_length, tags)
    encoded_eval = {name: encode_tagged_sentences(sentences, tokenizer, special_ids,
                                                  max_seq_length)
                    for name, sentences in eval_sentences.items()}
    eval_sets = {name: _eval_set_sizes(eval_files[name], sentences, encoded_eval[name])
                 for name, sentences in eval_sentences.items()}
    _log_truncation("train", train, encoded_train, max_seq_length)
    for name, sentences in eval_sentences.items():
        _log_truncation(name, sentences, encoded_eval[name], max_seq_length)
    logging.info("tagging: %d training sentences, %d tags, %d steps (%d per epoch); %s",
                 len(train), len(tags), num_train_steps, steps_per_epoch,
                 ", ".join(f"{n} {s['sentences']}" for n, s in eval_sets.items()))

    os.makedirs(model_dir, exist_ok=True)
    atomic_write_text(os.path.join(model_dir, TAGS_NAME), "".join(f"{t}\n" for t in tags))
    results = {
        "task": "tagging",
        "train_file": str(train_file),
        "init_checkpoint": str(init_checkpoint),
        "tag_column": tag_column,
        "iob": iob,
        "tags": tags,
        "train_examples": len(train),
        "eval_sets": eval_sets,
        "num_train_steps": num_train_steps,
        "num_seeds": num_seeds,
        "hparams": hparams,
        "per_seed": [],
    }
    task_info = {"task": "tagging", "kind": "tagging", "labels": list(tags), "iob": iob,
                 "max_seq_length": max_seq_length, "do_lower_case": config.do_lower_case,
                 "vocab_file": config.vocab_file}
    return run_seeds(
        results, model_dir, num_seeds, "tagging",
        lambda seed, output_dir: _run_seed(
            seed, starting_point(pretrainer, config, seed, random_init), tags, encoded_train,
            eval_sentences, encoded_eval, output_dir,
            iob=iob, num_train_steps=num_train_steps, steps_per_epoch=steps_per_epoch,
            learning_rate=learning_rate, train_batch_size=train_batch_size,
            eval_batch_size=eval_batch_size, max_seq_length=max_seq_length,
            layerwise_lr_decay=layerwise_lr_decay, weight_decay=weight_decay,
            warmup_proportion=warmup_proportion, log_every=log_every, verbose=verbose,
            callbacks=callbacks, task_info=task_info))


def tagging_scores(gold_tags, predicted_tags, iob=True):
    """Flat metrics and per-type scores of one evaluated file: `(metrics, per_type)`.

    Chunk tags: entity `precision`, `recall`, `f1` (conlleval semantics) and
    per-word `accuracy`; plain tags: `accuracy` only (`per_type` empty).

    Example:

    >>> metrics, per_type = tagging_scores([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
    >>> metrics
    {'precision': 0.0, 'recall': 0.0, 'f1': 0.0, 'accuracy': 0.6666666666666666}
    >>> tagging_scores([["NN", "VB"]], [["NN", "NN"]], iob=False)
    ({'accuracy': 0.5}, {})
    """
    if iob:
        scores = entity_metrics(gold_tags, predicted_tags)
        per_type = scores.pop("per_type")
        return scores, per_type
    gold = [t for sentence in gold_tags for t in sentence]
    predicted = [t for sentence in predicted_tags for t in sentence]
    if len(gold) != len(predicted):
        raise ValueError(f"got {len(gold)} gold and {len(predicted)} predicted tags.")
    return {"accuracy": float(np.mean([g == p for g, p in zip(gold, predicted)]))}, {}


def conll_predictions_text(sentences, predicted_tags):
    """conlleval's input: `word gold predicted` lines, a blank line after each sentence.

    Example:

    >>> from keras_electra.data.tasks.tagged_sentence import TaggedSentence
    >>> print(conll_predictions_text([TaggedSentence(("EU", "rejects"), ("B-ORG", "O"))],
    ...                              [["B-ORG", "B-ORG"]]), end="")
    EU B-ORG B-ORG
    rejects O B-ORG
    <BLANKLINE>
    """
    lines = []
    for sentence, predicted in zip(sentences, predicted_tags, strict=True):
        lines.extend(f"{word} {gold} {tag}"
                     for word, gold, tag in zip(sentence.words, sentence.tags, predicted,
                                                strict=True))
        lines.append("")
    return "".join(f"{line}\n" for line in lines)


def _run_seed(seed, pretrainer, tags, encoded_train, eval_sentences, encoded_eval, output_dir,
              *, iob, num_train_steps, steps_per_epoch, learning_rate, train_batch_size,
              eval_batch_size, max_seq_length, layerwise_lr_decay, weight_decay,
              warmup_proportion, log_every, verbose, callbacks, task_info):
    """Trains one model from the pre-trained weights, evaluates it, writes its files."""
    keras.utils.set_random_seed(seed)
    backbone = discriminator_from_pretrainer(pretrainer)
    model = build_task_model("tagging", backbone, num_classes=len(tags))
    model.compile(
        optimizer=finetuning_optimizer(model, backbone, learning_rate, num_train_steps,
                                       warmup_proportion, weight_decay, layerwise_lr_decay),
        # The sample weights are the first-piece mask: the mean over labelled words.
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    summaries = TrainingSummaries(
        os.path.join(output_dir, "logs"), log_every,
        tokens_per_step=train_batch_size * max_seq_length, examples_per_step=train_batch_size)
    history = model.fit(
        tagging_dataset(encoded_train, train_batch_size, is_training=True, seed=seed),
        epochs=math.ceil(num_train_steps / steps_per_epoch),
        steps_per_epoch=min(steps_per_epoch, num_train_steps),
        verbose=verbose,
        shuffle=False,  # the dataset shuffles (Keras would only warn)
        callbacks=[NonFiniteLossGuard(terms=("loss",)), StopAtStep(num_train_steps),
                   summaries, *callbacks])

    metrics, per_type = {}, {}
    for name, sentences in eval_sentences.items():
        predicted = _predict_words(model, sentences, encoded_eval[name], tags, eval_batch_size)
        scores, per_type[name] = tagging_scores([s.tags for s in sentences], predicted, iob)
        prefix = "" if name == "dev" else f"{name}_"
        metrics.update({prefix + metric: value for metric, value in scores.items()})
        atomic_write_text(os.path.join(output_dir, f"{name}_predictions.txt"),
                          conll_predictions_text(sentences, predicted))
    step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    summaries.write_eval(metrics, step)
    save_task_model(model, output_dir, task_info)

    result = {"seed": seed, "metrics": metrics, "per_type": per_type, "output_dir": output_dir,
              "step": step, "train_loss": float(history.history["loss"][-1])}
    del model, backbone
    gc.collect()  # the next seed builds a full model again
    return result


def _predict_words(model, sentences, encoded, tags, batch_size):
    """Each sentence's word tags: the argmax at each word's first piece, `O` if cut off."""
    piece_ids = []
    for batch in tagging_dataset(encoded, batch_size):
        # Argmax per batch: the logits of a whole file would be sentences x
        # max_seq_length x tags floats.
        logits = model.predict_on_batch(batch)
        piece_ids.append(np.argmax(keras.ops.convert_to_numpy(logits), axis=-1))
    piece_tags = np.asarray(tags, dtype=object)[np.concatenate(piece_ids)]
    return [word_predictions(piece_tags[i], encoded["word_ids"][i], len(sentence.words),
                             TRUNCATED_TAG)
            for i, sentence in enumerate(sentences)]


def _eval_set_sizes(path, sentences, encoded):
    kept = predicted_words(encoded)
    lengths = np.array([len(s.words) for s in sentences])
    return {"file": str(path), "sentences": len(sentences), "words": int(lengths.sum()),
            "truncated_sentences": int(np.sum(kept < lengths)),
            "truncated_words": int(np.sum(lengths - kept))}


def _log_truncation(name, sentences, encoded, max_seq_length):
    kept = predicted_words(encoded)
    lengths = np.array([len(s.words) for s in sentences])
    if np.any(kept < lengths):
        logging.warning(
            "%s: %d of %d sentences exceed --max_seq_length=%d pieces; %d words are cut off "
            "(not trained on; predicted %s and counted when scored).", name,
            int(np.sum(kept < lengths)), len(sentences), max_seq_length,
            int(np.sum(lengths - kept)), TRUNCATED_TAG)
