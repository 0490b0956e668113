"""`fast_dropout`: inverted dropout with 16-bit keep decisions from Philox, compiled by XLA."""

import functools

import keras

# A keep decision is a 16-bit draw: each 32-bit word of TensorFlow's
# stateless generator (Philox-4x32-10) gives two, and the words, not the
# comparisons, are what dropout's time goes to (`bench/step_ops.py`).
LEVELS = 1 << 16

# Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
# 3", 2011) as TensorFlow's `random::PhiloxRandom` runs it.
_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
_KEY_STEPS = (0x9E3779B9, 0xBB67AE85)
_SEED_KEY = (0x3EC8F720, 0x02461E29)  # TensorFlow's key for hashing a stateless seed
_LOW_WORD = 0xFFFFFFFF


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

    Reads the uint32 words `tf.random.stateless_uniform` draws from `seed`
    as twice as many 16-bit draws (`sixteen_bit_draws`) and keeps a value
    when its draw is at least `keep_threshold(rate)`. Kept values are scaled
    by the inverse of the exact keep probability, `2**16 / (2**16 -
    threshold)`, so the output's mean is the input's in every dtype. The
    words, the mask and the product are one XLA computation, Philox restated
    in 64-bit integer ops (`philox`) that XLA vectorises, and the gradient
    another; the masks are the same on every device and inside a jitted step.

    Keras' TensorFlow dropout (`tf.nn.experimental.stateless_dropout`) draws
    one float uniform per value. On this project's CPU those draws are most
    of dropout's time and were 16% of the op time of a bfloat16 pre-training
    step. Half as many words made ELECTRA-Small's step 5 to 7% faster, and
    computing them in XLA rather than with TensorFlow's kernel faster
    again (`bench/step_ops.py`'s dropout lines). In
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
    threshold = keep_threshold(rate)
    if threshold >= LEVELS:  # nothing is kept
        return tf.zeros_like(inputs)
    if threshold == 0:
        return inputs
    return _dropout_function(threshold)(inputs, tf.convert_to_tensor(seed))


def philox(counters, key):
    """Philox-4x32-10 of 128-bit counters under a 64-bit key, elementwise.

    Args:
        counters: four uint64 tensors holding 32-bit words, low word first.
        key: two uint64 tensors (or ints) holding 32-bit words.

    Returns:
        The four uint64 tensors of the output words, as TensorFlow's
        `random::PhiloxRandom` returns them for those counters and key.
    """
    import tensorflow as tf

    shift, xor = tf.bitwise.right_shift, tf.bitwise.bitwise_xor
    c0, c1, c2, c3 = counters
    k0, k1 = (tf.cast(k, tf.uint64) for k in key)
    low, high = tf.constant(_LOW_WORD, tf.uint64), tf.constant(32, tf.uint64)
    for round_ in range(10):
        if round_:
            k0 = tf.bitwise.bitwise_and(k0 + _KEY_STEPS[0], low)
            k1 = tf.bitwise.bitwise_and(k1 + _KEY_STEPS[1], low)
        # 32 x 32 -> 64-bit products: their high and low words.
        p0 = tf.constant(_MULTIPLIERS[0], tf.uint64) * c0
        p1 = tf.constant(_MULTIPLIERS[1], tf.uint64) * c2
        c0, c1, c2, c3 = (xor(xor(shift(p1, high), c1), k0), tf.bitwise.bitwise_and(p1, low),
                          xor(xor(shift(p0, high), c3), k1), tf.bitwise.bitwise_and(p0, low))
    return c0, c1, c2, c3


def sixteen_bit_draws(size, seed):
    """`size` uniform 16-bit draws (uint32 values below 2**16) from a shape-`[2]` seed.

    The words are those of `tf.random.stateless_uniform(..., dtype=tf.uint32)`
    with the same seed: word `w` of Philox block `j` is its `4 * j + w`-th.
    They are read plane by plane, as vectorised code writes them: draw
    `q * blocks + j`, for `q = 2 * w + h`, is half `h` (low 16 bits first)
    of word `w` of block `j`, with `blocks = ceil(size / 8)`.

    >>> import tensorflow as tf
    >>> words = tf.random.stateless_uniform([4], [1, 2], minval=None, maxval=None,
    ...                                     dtype=tf.uint32).numpy()
    >>> draws = sixteen_bit_draws(8, tf.constant([1, 2])).numpy()
    >>> bool(draws[0] == words[0] & 0xFFFF and draws[1] == words[0] >> 16
    ...      and draws[6] == words[3] & 0xFFFF)
    True
    """
    return _draws_from_planes(philox_planes(-(-size // 8), seed), size)


def philox_planes(blocks, seed):
    """The uint32 words of `blocks` Philox blocks from a shape-`[2]` seed, as four
    `(blocks,)` planes: plane `w` holds word `w` of every block.

    TensorFlow's stateless generator: the key and counter are one Philox
    block of the seed, then block `j` is Philox of the counter plus `j`.
    """
    import tensorflow as tf

    seed = tf.bitcast(tf.cast(tf.convert_to_tensor(seed), tf.int64), tf.uint64)
    low, high = tf.constant(_LOW_WORD, tf.uint64), tf.constant(32, tf.uint64)

    def words(value):
        return tf.bitwise.bitwise_and(value, low), tf.bitwise.right_shift(value, high)

    mix = philox((*words(seed[0]), *words(seed[1])), _SEED_KEY)
    counter_high = tf.bitwise.bitwise_or(mix[2], tf.bitwise.left_shift(mix[3], high))
    counter_low = tf.bitcast(tf.range(blocks, dtype=tf.int64), tf.uint64)  # starts at 0
    planes = philox((*words(counter_low), *words(counter_high + tf.zeros_like(counter_low))),
                    mix[:2])
    return [tf.cast(plane, tf.uint32) for plane in planes]


def _draws_from_planes(planes, size):
    import tensorflow as tf

    halves = []
    for plane in planes:
        halves += [tf.bitwise.bitwise_and(plane, 0xFFFF), tf.bitwise.right_shift(plane, 16)]
    return tf.concat(halves, 0)[:size]


def scaled_where(keep, values, threshold):
    """`values` times the exact inverse keep probability where `keep`, else 0.

    A 16-bit input is scaled in float32 and rounded once; float32 and
    float64 in their own dtype.
    """
    import tensorflow as tf

    dtype = tf.float32 if values.dtype in (tf.bfloat16, tf.float16) else values.dtype
    scale = tf.constant(LEVELS / (LEVELS - threshold), dtype)
    scaled = tf.cast(tf.cast(values, dtype) * scale, values.dtype)
    return tf.where(keep, scaled, tf.zeros((), values.dtype))


@functools.lru_cache(maxsize=None)
def _dropout_function(threshold):
    """Dropout at `threshold` with its gradient: XLA computations of their own."""
    import tensorflow as tf

    def apply(inputs, planes):
        size = tf.size(inputs)
        keep = tf.reshape(_draws_from_planes(planes, size) >= threshold, tf.shape(inputs))
        return scaled_where(keep, inputs, threshold), keep

    # Two computations, the words then the mask and product: XLA on CPU ran
    # them as one ~300 times slower (its concatenation of the planes'
    # halves). A caller's XLA computation inlines both (and XLA's own
    # stateless generator draws other words than the CPU kernel).
    words = tf.function(philox_planes, jit_compile=True, reduce_retracing=True)
    forward = tf.function(apply, jit_compile=True, reduce_retracing=True)
    backward = tf.function(lambda upstream, keep: scaled_where(keep, upstream, threshold),
                           jit_compile=True, reduce_retracing=True)

    @tf.custom_gradient
    def dropout(inputs, seed):
        outputs, keep = forward(inputs, words((tf.size(inputs) + 7) // 8, seed))
        # As TensorFlow's own dropout: the backward pass keeps the boolean
        # mask, one byte per value.
        return outputs, lambda upstream: (backward(upstream, keep), None)

    return dropout


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
        return fast_dropout(inputs, dropout.rate, seed)

    dropout.call = call
    dropout.fast_dropout = True
