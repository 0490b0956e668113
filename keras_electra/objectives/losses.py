"""ELECTRA's losses, and those of the paper's ablations, as pure functions of logits,
targets and weights."""

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


def copy_mechanism_log_likelihood(mlm_logits, copy_logits, input_ids, targets):
    """`log p(targets)` under the All-Tokens MLM copy mechanism, float32 `(batch, seq)`.

    Clark et al. (2020), section 3.2: a copy probability `D = sigmoid(copy
    logit)` per token puts `D` on the token it was given and `1 - D` on the
    MLM softmax, `p(x) = D * 1[x == input] + (1 - D) * softmax(logits)[x]`.
    Computed in log space, `logaddexp(log D, log(1 - D) + log_softmax[x])`
    where the target is the input token and `log(1 - D) + log_softmax[x]`
    elsewhere (with `log D = -softplus(-c)`, `log(1 - D) = -softplus(c)`),
    so no probability underflows and no `log(0)` is taken.

    Args:
        mlm_logits: `(batch, seq, vocab)` MLM logits at every position.
        copy_logits: `(batch, seq)` copy logits.
        input_ids: `(batch, seq)` the tokens the model was given.
        targets: `(batch, seq)` the original tokens.

    Example:

    >>> # D = 1/2, softmax = (1/2, 1/4, 1/4); copying the input 0: 1/2 + 1/2 * 1/2.
    >>> logits = tf.math.log([[[0.5, 0.25, 0.25]]])
    >>> round(float(copy_mechanism_log_likelihood(logits, [[0.0]], [[0]], [[0]])[0, 0]), 4)
    -0.2877
    """
    copy_logits = tf.cast(copy_logits, tf.float32)
    generate = -tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(targets, tf.int32), logits=tf.cast(mlm_logits, tf.float32))
    generate -= tf.nn.softplus(copy_logits)  # + log(1 - D)
    copy = tf.where(tf.equal(tf.cast(input_ids, tf.int32), tf.cast(targets, tf.int32)),
                    -tf.nn.softplus(-copy_logits),  # log D
                    tf.constant(-float("inf")))
    return tf.reduce_logsumexp(tf.stack([copy, generate], axis=-1), axis=-1)


def copy_mechanism_loss(mlm_logits, copy_logits, input_ids, targets, input_mask,
                        normalizer=None):
    """All-Tokens MLM loss: `-log p(original)` averaged over non-padding tokens.

    `p` is the copy mechanism of `copy_mechanism_log_likelihood`.

    Args:
        mlm_logits: `(batch, seq, vocab)` MLM logits at every position.
        copy_logits: `(batch, seq)` copy logits.
        input_ids: `(batch, seq)` the (corrupted) tokens the model was given.
        targets: `(batch, seq)` the original tokens.
        input_mask: `(batch, seq)` 1 for real tokens, 0 for padding.
        normalizer: divide the summed loss by this instead of the local
            `sum(input_mask)` (the global count, under data parallelism).

    Example:

    >>> # Uniform over 4 ids, D = 1/2, a replaced token: -log(1/2 * 1/4) = log 8.
    >>> loss = copy_mechanism_loss(tf.zeros([1, 1, 4]), [[0.0]], [[3]], [[1]], [[1]])
    >>> round(float(loss), 4)
    2.0794
    """
    weights = tf.cast(input_mask, tf.float32)
    per_token = -copy_mechanism_log_likelihood(mlm_logits, copy_logits, input_ids, targets)
    if normalizer is None:
        normalizer = tf.reduce_sum(weights)
    return tf.reduce_sum(per_token * weights) / (normalizer + 1e-6)


def copy_mechanism_probabilities(mlm_logits, copy_logits, input_ids):
    """The copy mechanism's full distribution, float32 `(batch, seq, vocab)`.

    `D * one_hot(input) + (1 - D) * softmax(logits)`, for accuracy metrics.

    Example:

    >>> probs = copy_mechanism_probabilities(tf.math.log([[[0.5, 0.25, 0.25]]]), [[0.0]], [[2]])
    >>> [round(p, 4) for p in probs.numpy()[0, 0].tolist()]
    [0.25, 0.125, 0.625]
    """
    mlm_logits = tf.cast(mlm_logits, tf.float32)
    copy = tf.sigmoid(tf.cast(copy_logits, tf.float32))[..., None]
    one_hot = tf.one_hot(tf.cast(input_ids, tf.int32), tf.shape(mlm_logits)[-1])
    return copy * one_hot + (1.0 - copy) * tf.nn.softmax(mlm_logits)
