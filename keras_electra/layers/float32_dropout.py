"""`float32_dropout`: dropout with float32 keep decisions, unbiased in bfloat16."""

import keras


def float32_dropout(inputs, rate, seed):
    """Inverted dropout with float32 draws; 16-bit inputs are scaled in float32.

    Keras' TensorFlow dropout (`tf.nn.experimental.stateless_dropout`) draws
    its uniform numbers, and applies `1 / (1 - rate)`, in the inputs' dtype.
    In bfloat16 the uniform numbers are multiples of 1/128 and 1/0.9 rounds
    to 1.109375, so `rate=0.1` drops 13/128 = 10.16% of the values and
    scales the rest so that the mean is 0.9967 of the input's: every
    dropout of a `mixed_bfloat16` model shrinks its output by 0.33% in
    training and not in inference. Here the draw and the comparison are
    those of float32 (the same keep mask as a float32 model with the same
    seed) and the product is taken in float32 and rounded once. In float32
    it is TensorFlow's own dropout op for op (same seed, same mask, same
    values).

    Args:
        inputs: a float tensor.
        rate: the drop probability, in [0, 1).
        seed: a shape-`[2]` int32 seed (`tf.random.stateless_uniform`'s).

    Example:

    >>> import tensorflow as tf
    >>> x = tf.ones([2, 4], tf.bfloat16)
    >>> y = float32_dropout(x, 0.5, tf.constant([1, 2]))
    >>> sorted(set(y.numpy().ravel().tolist()))
    [0.0, 2.0]
    """
    import tensorflow as tf

    inputs = tf.convert_to_tensor(inputs)
    keep = tf.random.stateless_uniform(tf.shape(inputs), seed) >= rate  # float32 draw
    # A 16-bit input is scaled in float32 and rounded once; float32 and
    # float64 in their own dtype. As TensorFlow's own dropout, the result is
    # a `where` on the boolean mask, so the backward pass keeps one byte per
    # value.
    dtype = tf.float32 if inputs.dtype in (tf.bfloat16, tf.float16) else inputs.dtype
    scaled = tf.cast(tf.cast(inputs, dtype) * tf.constant(1.0 / (1.0 - rate), dtype), inputs.dtype)
    return tf.where(keep, scaled, tf.zeros((), inputs.dtype))


def use_float32_dropout(layer):
    """Makes every `keras.layers.Dropout` in `layer` run `float32_dropout`; returns `layer`.

    Each dropout layer keeps its rate, its `SeedGenerator` (one seed drawn
    per training call, as Keras draws it, so a float32 model's masks are
    Keras' own and `rematerialize` replays them) and its class, weights and
    config; only the instance's `call` changes. Layers with a `noise_shape`
    are left to Keras. Call it on built layers: keras-hub's
    `TransformerEncoder` creates its dropout layers in `build`.
    TensorFlow backend only (elsewhere `layer` is returned unchanged).

    Example:

    >>> dropout = keras.layers.Dropout(0.1)
    >>> _ = use_float32_dropout(dropout)
    >>> dropout.float32_dropout
    True
    """
    if keras.backend.backend() != "tensorflow":
        return layer
    for sublayer in layer._flatten_layers():
        if (isinstance(sublayer, keras.layers.Dropout) and sublayer.noise_shape is None
                and not getattr(sublayer, "float32_dropout", False)):
            _patch(sublayer)
    return layer


def _patch(dropout):
    import tensorflow as tf

    def call(inputs, training=False):
        if not (training and dropout.rate > 0):
            return inputs
        seed = dropout.seed_generator.next()
        # As Keras' TensorFlow backend (`_cast_seed`): the generator's state
        # is int64, stateless ops (and XLA) want int32.
        if seed.dtype != tf.int32:
            seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
        return float32_dropout(inputs, dropout.rate, seed)

    dropout.call = call
    dropout.float32_dropout = True
