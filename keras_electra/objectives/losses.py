"""ELECTRA's losses as pure functions of logits, targets and weights."""

import collections

import tensorflow as tf

ElectraLosses = collections.namedtuple(
    "ElectraLosses", ["total", "generator", "discriminator"]
)


def mlm_loss(logits, targets, weights, normalizer=None):
    """Masked-LM cross-entropy averaged over real prediction slots.

    Args:
        logits: `(batch, n, vocab)` generator logits at the masked positions.
        targets: `(batch, n)` original ids.
        weights: `(batch, n)` 1.0 for real slots, 0.0 for padding slots.
        normalizer: divide the summed loss by this instead of the local
            `sum(weights)` (the global count, under data parallelism).

    Example:

    >>> logits = tf.math.log([[[0.5, 0.25, 0.25]]])
    >>> round(float(mlm_loss(logits, [[0]], [[1.0]])), 4)  # -log(0.5)
    0.6931
    """
    weights = tf.cast(weights, tf.float32)
    per_slot = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(targets, tf.int32), logits=tf.cast(logits, tf.float32)
    )
    if normalizer is None:
        normalizer = tf.reduce_sum(weights)
    return tf.reduce_sum(per_slot * weights) / (normalizer + 1e-6)


def rtd_loss(logits, labels, input_mask, normalizer=None):
    """Replaced-token-detection sigmoid cross-entropy over non-padding tokens.

    Example:

    >>> round(float(rtd_loss([[0.0, 0.0]], [[1.0, 0.0]], [[1, 0]])), 4)  # log 2
    0.6931
    """
    weights = tf.cast(input_mask, tf.float32)
    per_token = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.float32), logits=tf.cast(logits, tf.float32)
    )
    if normalizer is None:
        normalizer = tf.reduce_sum(weights)
    return tf.reduce_sum(per_token * weights) / (normalizer + 1e-6)


def electra_loss(
    generator_logits,
    mlm_targets,
    mlm_weights,
    discriminator_logits,
    rtd_labels,
    input_mask,
    generator_weight,
    discriminator_weight,
    mlm_normalizer=None,
    rtd_normalizer=None,
):
    """`generator_weight * mlm + discriminator_weight * rtd`, with both parts."""
    generator = mlm_loss(generator_logits, mlm_targets, mlm_weights, mlm_normalizer)
    discriminator = rtd_loss(discriminator_logits, rtd_labels, input_mask, rtd_normalizer)
    total = generator_weight * generator + discriminator_weight * discriminator
    return ElectraLosses(total, generator, discriminator)
