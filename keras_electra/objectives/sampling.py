"""Sampling the generator's replacements and building the discriminator's input."""

import tensorflow as tf

from keras_electra.objectives.masking import scatter_tokens


def sample_from_logits(logits, temperature, seed):
    """Gumbel-max sample of `softmax(logits / temperature)`, without gradient.

    Computed in float32 whatever the logits' dtype, with the original code's
    noise `-log(-log(u + 1e-9) + 1e-9)`.

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
        return gumbel_max(logits, temperature, seed)
    # One example at a time: the noise chain's float32 temporaries are then
    # one example's `(n, vocab)`, not the batch's (on ELECTRA-Small at batch
    # 32, several 74 MB tensors fewer at the step's memory peak). Row `b` is
    # drawn from `seed[b]`, as `objectives.random.stateless_uniform` does.
    return tf.map_fn(lambda row: gumbel_max(row[0], temperature, row[1]), (logits, seed),
                     fn_output_signature=tf.int32)


def gumbel_max(logits, temperature, seed):
    """`sample_from_logits` with one shape-`[2]` seed: the noise is
    `tf.random.stateless_uniform(tf.shape(logits), seed)`."""
    logits = tf.cast(logits, tf.float32) / temperature
    uniform = tf.random.stateless_uniform(tf.shape(logits), seed)
    gumbel = -tf.math.log(-tf.math.log(uniform + 1e-9) + 1e-9)
    return tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32)


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
