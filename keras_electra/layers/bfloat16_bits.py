"""bfloat16 to and from float32 by bit arithmetic, for the step's XLA computations on CPU.

The training step's XLA computations (`activations`' GELUs,
`fused_layer_norm`, `lean_attention`'s softmax and dropout, the MLM head's
`chunked_mlm.chunk_loss`) read 16-bit
tensors as float32 and round their results once. Written as `tf.cast`, XLA's
CPU code for those conversions around an `erf` or a reduction is slow: the
forward GELU of ELECTRA-Small's `(4096, 1024)` bfloat16 activations took
4.4 ms (median), as long as the same GELU on float32 data twice the size.
A bfloat16 is the top half of a float32, so both conversions are integer
operations that vectorise: widening is a 16-bit shift; rounding to nearest
even adds `0x7FFF` plus the lowest kept bit, then shifts. The same GELU
takes 3.0 ms, its backward pass 4.1 against 5.9 (README, Speed: the two
forms interleaved in one process). The values are `tf.cast`'s, bit for bit
(NaNs stay NaNs).

Only inside XLA computations: as TensorFlow ops these are several passes where
`Cast` is one, and exports keep `tf.cast`. Other dtypes go through `tf.cast`.
"""

_ROUNDING = 0x7FFF  # half a bfloat16 ulp, less one, in float32 mantissa bits


def widen(x):
    """`tf.cast(x, tf.float32)`; a bfloat16 `x` by shifting its bits.

    Example:

    >>> import tensorflow as tf
    >>> widen(tf.constant([1.5, -2.0], tf.bfloat16)).numpy().tolist()
    [1.5, -2.0]
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    if x.dtype != tf.bfloat16:
        return tf.cast(x, tf.float32)
    bits = tf.cast(tf.bitcast(x, tf.uint16), tf.uint32)
    return tf.bitcast(tf.bitwise.left_shift(bits, 16), tf.float32)


def narrow(y, dtype):
    """`tf.cast(y, dtype)` of a float32 `y`; to bfloat16 by rounding its bits to nearest even.

    Example:

    >>> import tensorflow as tf
    >>> y = tf.constant([1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8])  # ties: to the even neighbour
    >>> narrow(y, tf.bfloat16).numpy().astype("float32").tolist()
    [1.0, 1.015625]
    """
    import tensorflow as tf

    dtype = tf.as_dtype(dtype)
    if dtype != tf.bfloat16 or y.dtype != tf.float32:
        return tf.cast(y, dtype)
    bits = tf.bitcast(y, tf.uint32)
    lowest_kept = tf.bitwise.bitwise_and(tf.bitwise.right_shift(bits, 16), 1)
    rounded = tf.bitwise.right_shift(bits + (_ROUNDING + lowest_kept), 16)
    # A NaN's payload may carry into the exponent (a signalling NaN would turn
    # into infinity): NaNs keep their top half with the quiet bit set.
    nan = tf.bitwise.bitwise_or(tf.bitwise.right_shift(bits, 16), 0x40)
    rounded = tf.where(tf.math.is_nan(y), nan, rounded)
    return tf.bitcast(tf.cast(rounded, tf.uint16), tf.bfloat16)
