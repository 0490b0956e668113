"""Sampling the generator's replacements and building the discriminator's input."""

import tensorflow as tf

from keras_electra.objectives.masking import scatter_tokens


def sample_from_logits(logits, temperature, seed):
    """One sample of `softmax(logits / temperature)` per row, without gradient.

    An exact categorical draw (`tf.random.stateless_categorical`: on CPU the
    cumulative distribution in float64 and one uniform per sample, found by
    bisection), computed from float32 logits whatever their dtype. The
    original code takes the Gumbel-max sample `argmax(logits +
    -log(-log(u + 1e-9) + 1e-9))`, which draws one uniform and takes two
    logarithms per vocabulary entry; the distribution is the same (up to the
    1e-9s) and this costs half as much (`bench/step_ops.py`'s sampling line).

    Args:
        logits: `(..., vocab)` generator logits.
        temperature: positive float; > 1 flattens the distribution.
        seed: shape-`[2]` integer seed for the stateless RNG, or
            `(batch, 2)` seeds, one per example.

    Returns:
        int32 ids of shape `logits.shape[:-1]`.

    Example:

    >>> logits = tf.constant([[0.0, 100.0, 0.0]])
    >>> sample_from_logits(logits, 1.0, [0, 0]).numpy().tolist()
    [1]
    """
    logits = tf.stop_gradient(logits)
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank == 1:
        return categorical_sample(logits, temperature, seed)
    # Row `b` is drawn from `seed[b]`, as `objectives.random.stateless_uniform`
    # does, so an example's samples do not depend on the rest of the batch.
    return tf.map_fn(lambda row: categorical_sample(row[0], temperature, row[1]),
                     (logits, seed), fn_output_signature=tf.int32)


def categorical_sample(logits, temperature, seed):
    """`sample_from_logits` with one shape-`[2]` seed."""
    seed = tf.convert_to_tensor(seed)
    if seed.dtype != tf.int32:
        # XLA's categorical takes int32 seeds only; per-example seeds are
        # int64 content hashes, folded modulo the prime 2**31 - 1.
        seed = tf.cast(tf.math.floormod(tf.cast(seed, tf.int64), 2**31 - 1), tf.int32)
    logits = tf.cast(logits, tf.float32) / temperature
    rows = tf.reshape(logits, [-1, tf.shape(logits)[-1]])
    ids = tf.random.stateless_categorical(rows, 1, seed, dtype=tf.int32)
    return tf.reshape(ids, tf.shape(logits)[:-1])


def replace_tokens(input_ids, positions, weights, sampled):
    """Puts the generator's samples into the original ids.

    Args:
        input_ids: `(batch, seq)` original ids.
        positions: `(batch, n)` masked positions.
        weights: `(batch, n)` 1.0 for real slots.
        sampled: `(batch, n)` sampled ids.

    Returns:
        `(corrupted_ids, labels)`: the discriminator input and the float32
        `(batch, seq)` targets, 1.0 where the token differs from the original
        (a sample equal to the original counts as original).
    """
    input_ids = tf.convert_to_tensor(input_ids)
    corrupted = scatter_tokens(input_ids, positions, weights, sampled)
    labels = tf.cast(tf.not_equal(corrupted, input_ids), tf.float32)
    return corrupted, labels
