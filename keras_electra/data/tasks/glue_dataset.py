"""GLUE examples -> `tf.data` batches of `({input_ids, input_mask, segment_ids}, label)`.

    examples = read_glue("sst2", "glue_data/SST-2", "train")
    encoder = TextPairEncoder("vocab.txt", max_seq_length=128)
    dataset = glue_dataset(examples, GLUE_TASKS["sst2"], encoder, 32, is_training=True)

Only the strings and labels live in Python; tokenization and packing run in
the graph (`TextPairEncoder`), batch by batch. Labels follow the original
ELECTRA `classification_tasks.py`: the index of the label in the task's
label list, or for regression (STS-B) the score scaled to [0, 1] (the
original's `(label - min) / max`, which is the same for STS-B's [0, 5]).
`decode_predictions` undoes the scaling.
"""

import dataclasses

import numpy as np
import tensorflow as tf

# Tasks whose two sentences are unordered: the original trains on both
# orders (`double_unordered=True`, MRPC and STS only).
UNORDERED_PAIR_TASKS = ("mrpc", "stsb")


def glue_labels(examples, task):
    """The labels the model trains on, as a numpy array.

    Classification: int32 ids in `task.labels` order. Regression: float32
    scores scaled from `task.score_range` to [0, 1].

    Example:

    >>> from keras_electra.data.tasks.glue import GLUE_TASKS
    >>> from keras_electra.data.tasks.task_example import TaskExample
    >>> glue_labels([TaskExample("dev-0", "a", "b", "not_entailment")], GLUE_TASKS["rte"])
    array([1], dtype=int32)
    >>> glue_labels([TaskExample("dev-0", "a", "b", 4.0)], GLUE_TASKS["stsb"])
    array([0.8], dtype=float32)
    """
    missing = [example.guid for example in examples if example.label is None]
    if missing:
        raise ValueError(f"{task.name}: example {missing[0]} has no label.")
    if task.is_regression:
        low, high = task.score_range
        return np.array([(example.label - low) / (high - low) for example in examples],
                        np.float32)
    index = {label: i for i, label in enumerate(task.labels)}
    return np.array([index[example.label] for example in examples], np.int32)


def decode_predictions(outputs, task):
    """Model outputs -> label ids (argmax of the logits) or scores on the task's scale.

    Example:

    >>> from keras_electra.data.tasks.glue import GLUE_TASKS
    >>> decode_predictions(np.array([[0.1, 2.0], [3.0, -1.0]]), GLUE_TASKS["sst2"])
    array([1, 0])
    >>> decode_predictions(np.array([0.5, 1.0]), GLUE_TASKS["stsb"])
    array([2.5, 5. ])
    """
    outputs = np.asarray(outputs)
    if task.is_regression:
        low, high = task.score_range
        return low + outputs.astype(np.float64) * (high - low)
    return np.argmax(outputs, axis=-1)


def with_swapped_pairs(examples):
    """`examples` followed by a copy of each with `text_a` and `text_b` swapped.

    The original's `double_unordered` training augmentation for tasks whose
    two sentences play the same role (`UNORDERED_PAIR_TASKS`); the copies'
    guids end in `-swapped`.

    Example:

    >>> from keras_electra.data.tasks.task_example import TaskExample
    >>> with_swapped_pairs([TaskExample("train-0", "a", "b", "1")])[1]
    TaskExample(guid='train-0-swapped', text_a='b', text_b='a', label='1')
    """
    swapped = [dataclasses.replace(example, guid=f"{example.guid}-swapped",
                                   text_a=example.text_b, text_b=example.text_a)
               for example in examples]
    return list(examples) + swapped


def glue_dataset(examples, task, encoder, batch_size, is_training=False, seed=0):
    """A `tf.data.Dataset` of encoded GLUE batches.

    Args:
        examples: `TaskExample`s (`read_glue`); all labelled, or all
            unlabelled (test files).
        task: their `GlueTask` (label list, regression or not).
        encoder: a `TextPairEncoder` (vocabulary, `max_seq_length`, casing).
        batch_size: examples per batch.
        is_training: shuffle all examples (a new order every pass, from
            `seed`), repeat forever and drop the last partial batch, so
            every step sees `batch_size` examples; otherwise one pass in file
            order, the last batch partial.
        seed: the shuffle seed.

    Returns:
        Batches of `(features, labels)`, or of `features` alone for
        unlabelled examples; `features` are int32 `(batch, max_seq_length)`.

    Example:

    >>> dataset = glue_dataset(examples, GLUE_TASKS["sst2"], encoder, 32)  # doctest: +SKIP
    >>> features, labels = next(iter(dataset))  # doctest: +SKIP
    """
    if not examples:
        raise ValueError(f"{task.name}: no examples.")
    is_pair = examples[0].text_b is not None
    if any((example.text_b is not None) != is_pair for example in examples):
        raise ValueError(f"{task.name}: examples mix single sentences and pairs.")
    labelled = [example.label is not None for example in examples]
    if any(labelled) and not all(labelled):
        raise ValueError(f"{task.name}: examples mix labelled and unlabelled ones "
                         f"({labelled.index(False)} has no label).")
    columns = {"text_a": np.array([example.text_a for example in examples], object)}
    if is_pair:
        columns["text_b"] = np.array([example.text_b for example in examples], object)
    if all(labelled):
        columns["label"] = glue_labels(examples, task)

    def encode(batch):
        features = encoder(batch["text_a"], batch.get("text_b"))
        return (features, batch["label"]) if "label" in batch else features

    dataset = tf.data.Dataset.from_tensor_slices(columns)
    if is_training:
        # Shuffling the strings (not a buffer of encoded rows) keeps a full
        # shuffle cheap even for MNLI's 393k pairs.
        dataset = dataset.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=is_training)
    dataset = dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)
