"""Sampling the generator's replacements and building the discriminator's input."""

import tensorflow as tf

from keras_electra.objectives.random import stateless_uniform

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
    logits = tf.stop_gradient(tf.cast(logits, tf.float32)) / temperature
    uniform = stateless_uniform(tf.shape(logits), seed)
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
