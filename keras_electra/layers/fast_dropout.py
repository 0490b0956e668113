"""`fast_dropout`: inverted dropout with two 16-bit keep decisions per random word."""

import keras

# A keep decision is a 16-bit draw: each 32-bit word of the stateless
# generator (Philox on CPU and GPU) gives two, and the words, not the
# comparisons, are what dropout's time goes to (`bench/step_ops.py`).
LEVELS = 1 << 16


def keep_threshold(rate):
    """The smallest 16-bit draw that keeps a value: `round(rate * 2**16)`.

    A value is dropped with probability `keep_threshold(rate) / 2**16`, the
    rate to within 2**-17 (0.1 drops 6554 / 65536 = 0.100006 of the values).

    >>> keep_threshold(0.1), keep_threshold(0.5)
    (6554, 32768)
    """
    return int(round(rate * LEVELS))


def fast_dropout(inputs, rate, seed):
    """Inverted dropout from 16-bit draws; unbiased, 16-bit inputs scaled in float32.

    Draws `ceil(size / 2)` uint32 words with `tf.random.stateless_uniform`,
    reads them as twice as many uint16 draws (value `i` takes the `i`-th) and
    keeps a value when its draw is at least `keep_threshold(rate)`. Kept
    values are scaled by the inverse of the exact keep probability,
    `2**16 / (2**16 - threshold)`, so the output's mean is the input's in
    every dtype.

    Keras' TensorFlow dropout (`tf.nn.experimental.stateless_dropout`) draws
    one float uniform per value. On this project's CPU those draws are most
    of dropout's time and were 16% of the op time of a bfloat16 pre-training
    step. Half as many words made ELECTRA-Small's step 5 to 7% faster. In
    bfloat16, Keras' draws are multiples of 1/128 and 1/0.9 rounds to
    1.109375, so `rate=0.1` drops 10.16% of the values and keeps 0.9967 of
    the mean. Here the decision does not depend on the dtype: a bfloat16 run
    drops what a float32 run with the same seed drops, and the product is
    taken in float32 and rounded once.

    Args:
        inputs: a float tensor.
        rate: the drop probability, in [0, 1].
        seed: a shape-`[2]` int32 seed (`tf.random.stateless_uniform`'s).

    Example:

    >>> import tensorflow as tf
    >>> x = tf.ones([2, 4], tf.bfloat16)
    >>> y = fast_dropout(x, 0.5, tf.constant([1, 2]))
    >>> sorted(set(y.numpy().ravel().tolist()))
    [0.0, 2.0]
    """
    import tensorflow as tf

    inputs = tf.convert_to_tensor(inputs)
    if keep_threshold(rate) >= LEVELS:  # nothing is kept
        return tf.zeros_like(inputs)
    # As TensorFlow's own dropout, the result is a `where` on the boolean
    # mask, so the backward pass keeps one byte per value.
    return apply_keep_mask(inputs, keep_mask(tf.shape(inputs), rate, seed), rate)


def keep_mask(shape, rate, seed):
    """`fast_dropout`'s boolean keep mask for a tensor of `shape` (True: kept).

    Example:

    >>> import tensorflow as tf
    >>> seed = tf.constant([1, 2])
    >>> kept = fast_dropout(tf.ones([2, 3]), 0.5, seed) > 0
    >>> bool(tf.reduce_all(kept == keep_mask([2, 3], 0.5, seed)))
    True
    """
    import tensorflow as tf

    shape = tf.convert_to_tensor(shape, tf.int32)
    size = tf.reduce_prod(shape)
    words = tf.random.stateless_uniform([(size + 1) // 2], seed, minval=None, maxval=None,
                                        dtype=tf.uint32)
    draws = tf.reshape(tf.bitcast(words, tf.uint16), [-1])[:size]
    return tf.reshape(draws >= keep_threshold(rate), shape)


def apply_keep_mask(inputs, keep, rate):
    """`inputs` where `keep`, scaled by `2**16 / (2**16 - keep_threshold(rate))`; else 0.

    A 16-bit input is scaled in float32 and rounded once; float32 and
    float64 in their own dtype.

    Example:

    >>> import tensorflow as tf
    >>> apply_keep_mask(tf.ones([3]), tf.constant([True, False, True]), 0.5).numpy().tolist()
    [2.0, 0.0, 2.0]
    """
    import tensorflow as tf

    dtype = tf.float32 if inputs.dtype in (tf.bfloat16, tf.float16) else inputs.dtype
    scale = tf.constant(LEVELS / (LEVELS - keep_threshold(rate)), dtype)
    scaled = tf.cast(tf.cast(inputs, dtype) * scale, inputs.dtype)
    return tf.where(keep, scaled, tf.zeros((), inputs.dtype))


def use_fast_dropout(layer):
    """Makes every `keras.layers.Dropout` in `layer` run `fast_dropout`; returns `layer`.

    Each dropout layer keeps its rate, its `SeedGenerator` (one seed drawn
    per training call, as Keras draws it, so `rematerialize` replays the
    masks) and its class, weights and config; only the instance's `call`
    changes. Layers with a `noise_shape` are left to Keras. Call it on built
    layers: keras-hub's `TransformerEncoder` creates its dropout layers in
    `build`. TensorFlow backend only (elsewhere `layer` is returned
    unchanged).

    Example:

    >>> dropout = keras.layers.Dropout(0.1)
    >>> _ = use_fast_dropout(dropout)
    >>> dropout.fast_dropout
    True
    """
    if keras.backend.backend() != "tensorflow":
        return layer
    for sublayer in layer._flatten_layers():
        if (isinstance(sublayer, keras.layers.Dropout) and sublayer.noise_shape is None
                and not getattr(sublayer, "fast_dropout", False)):
            _patch(sublayer)
    return layer


def next_seed(dropout):
    """Draws `dropout`'s next seed as the int32 pair stateless ops take.

    One draw per training call, as Keras' own `Dropout` draws it, so a step
    draws the same seeds whichever path runs and `rematerialize` replays them.

    Example:

    >>> dropout = keras.layers.Dropout(0.1, seed=7)
    >>> first, second = next_seed(dropout), next_seed(dropout)
    >>> first.dtype.name, bool(tf.reduce_any(first != second))
    ('int32', True)
    """
    import tensorflow as tf

    seed = dropout.seed_generator.next()
    # As Keras' TensorFlow backend (`_cast_seed`): the generator's state
    # is int64, stateless ops (and XLA) want int32.
    if seed.dtype != tf.int32:
        seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
    return seed


def _patch(dropout):
    def call(inputs, training=False):
        if not (training and dropout.rate > 0):
            return inputs
        return fast_dropout(inputs, dropout.rate, next_seed(dropout))

    dropout.call = call
    dropout.fast_dropout = True
