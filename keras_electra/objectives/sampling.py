"""Sampling the generator's replacements and building the discriminator's input."""

import functools

import tensorflow as tf

from keras_electra.layers.bfloat16_bits import widen
from keras_electra.objectives.masking import scatter_tokens
from keras_electra.objectives.random import stateless_uniform

# Vocabulary entries per block of the two-level inverse CDF: a row's search
# reads its block sums and one block, not a whole-vocabulary cumulative sum
# (TensorFlow's CPU `Cumsum` took 28 ms on 152 x 30522 float64 weights).
CDF_BLOCK = 128


def sample_from_logits(logits, temperature, seed):
    """One sample of `softmax(logits / temperature)` per row, without gradient.

    An exact categorical draw by inverse CDF: one float64 uniform per sample
    (`sampling_uniforms`) and the weights `exp((logits - max) / temperature)`
    in float32 from float32 logits whatever their dtype, searched in float64
    (`inverse_cdf`), as one XLA computation. The original code takes the
    Gumbel-max sample `argmax(logits + -log(-log(u + 1e-9) + 1e-9))`, which
    draws one uniform and takes two logarithms per vocabulary entry; the
    distribution is the same (up to the 1e-9s and float32 rounding) and this
    costs a third as much (`bench/step_ops.py`'s sampling line).

    Args:
        logits: `(..., vocab)` generator logits.
        temperature: positive Python float; > 1 flattens the distribution.
        seed: shape-`[2]` integer seed for the stateless RNG, or
            `(batch, 2)` seeds, one per example.

    Returns:
        int32 ids of shape `logits.shape[:-1]`.

    Example:

    >>> logits = tf.constant([[0.0, 100.0, 0.0]])
    >>> sample_from_logits(logits, 1.0, [0, 0]).numpy().tolist()
    [1]
    """
    logits = tf.stop_gradient(tf.convert_to_tensor(logits))
    uniforms = sampling_uniforms(tf.shape(logits)[:-1], seed)
    rows = tf.reshape(logits, [-1, tf.shape(logits)[-1]])
    ids = _categorical_kernel(float(temperature))(rows, tf.reshape(uniforms, [-1]))
    return tf.reshape(ids, tf.shape(logits)[:-1])


def sampling_uniforms(shape, seed):
    """The float64 uniforms `sample_from_logits` draws, one per sample, shape `shape`.

    With `(batch, 2)` seeds, row `b` comes from `seed[b]` alone
    (`objectives.random.stateless_uniform`), so an example's samples do not
    depend on the rest of the batch. Seeds are folded modulo the prime
    2**31 - 1 into int32, which every backend's stateless RNG takes
    (per-example seeds are int64 content hashes).
    """
    seed = tf.convert_to_tensor(seed)
    if seed.dtype != tf.int32:
        seed = tf.cast(tf.math.floormod(tf.cast(seed, tf.int64), 2**31 - 1), tf.int32)
    return stateless_uniform(shape, seed, dtype=tf.float64)


def inverse_cdf(weights, uniforms, block=CDF_BLOCK):
    """The first index at which each row's cumulative `weights` exceed
    `uniform * sum(weights)`: a draw from the row's categorical distribution.

    Two levels, both in float64: the blocks of `block` entries are searched
    by their sums, then the chosen block by its entries (`block_sums`,
    `search_blocks`). An entry of weight 0 is not drawn (but where float64
    rounding puts the target on a block's end).

    Args:
        weights: `(rows, n)` non-negative float weights (need not sum to 1).
        uniforms: `(rows,)` float64 uniforms in [0, 1).
        block: entries per block.

    Returns:
        `(rows,)` int32 indices.

    Example:

    >>> weights = tf.constant([[1.0, 0.0, 3.0], [1.0, 0.0, 3.0]])  # cumulative 1, 1, 4
    >>> inverse_cdf(weights, tf.constant([0.2, 0.3], tf.float64), block=2).numpy().tolist()
    [0, 2]
    """
    return search_blocks(weights, block_sums(weights, block), uniforms, block)


def block_sums(weights, block=CDF_BLOCK):
    """`(rows, ceil(n / block))` float64 sums of each row's consecutive blocks of
    `block` weights (the last block the remainder); their row sums are the totals.

    >>> block_sums(tf.constant([[1.0, 2.0, 3.0, 4.0, 5.0]]), 2).numpy().tolist()
    [[3.0, 7.0, 5.0]]
    """
    weights = tf.cast(weights, tf.float64)
    rows, n = tf.shape(weights)[0], weights.shape[-1] or tf.shape(weights)[-1]
    whole = n // block
    # Slices, not padding: XLA runs a padded row's reduction at half the speed.
    sums = tf.reduce_sum(tf.reshape(weights[:, :whole * block], [rows, whole, block]), -1)
    rest = tf.reduce_sum(weights[:, whole * block:], -1, keepdims=True)
    if isinstance(n, int):
        return tf.concat([sums, rest], -1) if n % block else sums
    return tf.concat([sums, rest[:, :tf.minimum(n % block, 1)]], -1)


def search_blocks(weights, sums, uniforms, block=CDF_BLOCK):
    """`inverse_cdf(weights, uniforms, block)` given `sums = block_sums(weights, block)`."""
    n = tf.shape(weights)[-1]
    starts = tf.cumsum(sums, -1, exclusive=True)
    target = uniforms * (starts[:, -1] + sums[:, -1])
    # The last block starting at or below the target: among blocks of equal
    # start (those between are empty) the one with weight.
    chosen = tf.maximum(tf.reduce_sum(tf.cast(starts <= target[:, None], tf.int32), -1) - 1, 0)
    entries = chosen[:, None] * block + tf.range(block)[None, :]
    values = tf.gather(weights, tf.minimum(entries, n - 1), batch_dims=1)
    inner = tf.cumsum(tf.where(entries < n, tf.cast(values, tf.float64), 0.0), -1)
    rest = target - tf.gather(starts, chosen, batch_dims=1)
    within = tf.reduce_sum(tf.cast(inner <= rest[:, None], tf.int32), -1)
    # (Clamped only where u * total rounds up to the total.)
    return tf.minimum(chosen * block + tf.minimum(within, block - 1), n - 1)


def shifted_logits(logits):
    """`logits - max(logits)` per row, in float32."""
    logits = widen(logits)  # by bits, in the XLA computations that call this
    return logits - tf.reduce_max(logits, -1, keepdims=True)


def categorical_weights(logits, temperature):
    """`exp((logits - max) / temperature)` per row in float32: the unnormalised
    probabilities `sample_from_logits` draws from."""
    shifted = shifted_logits(logits)
    return tf.exp(shifted if temperature == 1.0 else shifted / temperature)


@functools.lru_cache(maxsize=None)
def _categorical_kernel(temperature):
    # One XLA computation per temperature: the weights never reach memory
    # whole, and `chunked_mlm_loss` draws exactly these samples.
    return tf.function(
        lambda rows, uniforms: inverse_cdf(categorical_weights(rows, temperature), uniforms),
        jit_compile=True, reduce_retracing=True)


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
