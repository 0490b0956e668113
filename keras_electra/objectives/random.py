"""Stateless random numbers for a batch: one seed for the batch, or one per example.

Per-example seeds make masking and sampling a function of the example and
the step alone, so the same global batch gives the same masks whether it is
split over 1, 2 or 64 replicas.
"""

import tensorflow as tf

# Multipliers of the content hash (any odd constants would do).
_POSITION_WEIGHT = 7919
_SEED_WEIGHT = 1_000_003


def stateless_uniform(shape, seed, dtype=tf.float32):
    """`tf.random.stateless_uniform(shape, seed, dtype=dtype)`; with `(batch, 2)`
    seeds, row `b` of the result (shape `shape[1:]`) is drawn from `seed[b]`.

    >>> a = stateless_uniform([2, 3], tf.constant([[1, 2], [3, 4]]))
    >>> b = stateless_uniform([1, 3], tf.constant([[3, 4]]))
    >>> bool(tf.reduce_all(a[1] == b[0]))
    True
    """
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank == 1:
        return tf.random.stateless_uniform(shape, seed, dtype=dtype)
    row_shape = shape[1:]
    return tf.map_fn(lambda s: tf.random.stateless_uniform(row_shape, s, dtype=dtype), seed,
                     fn_output_signature=dtype)


def example_seeds(input_ids, seed, step, offset):
    """`(batch, 2)` int64 seeds from each example's content, the step and a use tag.

    The content hash is a position-weighted sum of the ids: distinct rows
    get distinct seeds unless crafted to collide, and identical rows get the
    same masks (harmless).
    """
    input_ids = tf.cast(input_ids, tf.int64)
    weights = tf.range(1, tf.shape(input_ids)[1] + 1, dtype=tf.int64) * _POSITION_WEIGHT
    content = tf.reduce_sum(input_ids * weights[None, :], axis=1)
    first = content + tf.cast(seed, tf.int64) * _SEED_WEIGHT
    second = tf.cast(step, tf.int64) * 4 + offset
    return tf.stack([first, tf.fill(tf.shape(first), second)], axis=1)
