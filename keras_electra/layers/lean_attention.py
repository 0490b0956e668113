"""`lean_attention`: softmax attention with dropout that keeps no probabilities for backprop."""

import keras

from keras_electra.layers.activations import compiled_step_active
from keras_electra.layers.bfloat16_bits import narrow, widen
from keras_electra.layers.fast_dropout import LEVELS, keep_mask, keep_threshold, next_seed

# Keras' equations for 4-D (batch, sequence, heads, depth) projections and
# attention over the sequence axis; other layouts keep Keras' attention.
SCORES = "aecd,abcd->acbe"  # key, scaled query -> (batch, heads, query, key)
CONTEXT = "acbe,aecd->abcd"  # probabilities, value -> (batch, query, heads, depth)


def lean_attention(query, key, value, keep, rate, scale, mask=None):
    """`dropout(softmax(scale * query . key)) . value`, keeping no probabilities for backprop.

    The forward pass is Keras' `MultiHeadAttention._compute_attention` with
    `fast_dropout`: the masked softmax of the scaled scores (masked
    positions set to -1e9 and the probabilities there zeroed, so an
    all-masked row gives zeros), then the keep mask. Autodiff of those ops
    keeps two float tensors of shape `(batch, heads, query, key)` for the
    backward pass: the softmax output and the dropped probabilities. Here
    the backward pass keeps neither. It recomputes the scores (one batched
    matmul) and the probabilities from each row's log-sum-exp, as
    FlashAttention does. On ELECTRA-Small (batch 32 x 128, 4 heads) that is
    8.4 MB less per float32 layer than keeping the probabilities once.

    The softmax and dropout each way are one XLA computation, in float32
    (16-bit scores are cast up and the results rounded once). Fusing them
    pays for most of the extra matmul: an ELECTRA-Small step took 0 to 2%
    longer, within this machine's noise (README, Speed).

    Args:
        query, key, value: projections, `(batch, sequence, heads, depth)`.
        keep: the boolean dropout keep mask, `(batch, heads, query, key)`
            (`fast_dropout.keep_mask`).
        rate: the dropout rate (kept values are scaled as `fast_dropout`
            scales them); below 1.
        scale: the query scale, `1 / sqrt(depth)`.
        mask: the boolean attention mask, broadcastable to the scores.

    Example:

    >>> import tensorflow as tf
    >>> q = k = v = tf.ones([1, 2, 1, 4])
    >>> keep = tf.ones([1, 1, 2, 2], tf.bool)
    >>> out = lean_attention(q, k, v, keep, 0.0, 0.5)
    >>> out.numpy().ravel().tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    import tensorflow as tf

    # Heads-major layouts, made once: (batch, heads, sequence, depth) for the
    # scaled query and the value, (batch, heads, depth, key) for the key, as
    # Keras' einsums lay them out for BatchMatMul. These three are what the
    # backward pass keeps.
    q = tf.transpose(query * tf.cast(scale, query.dtype), [0, 2, 1, 3])
    k = tf.transpose(key, [0, 2, 3, 1])
    v = tf.transpose(value, [0, 2, 1, 3])
    forward, backward = softmax_dropout_functions(rate)
    masks = () if mask is None else (mask,)

    @tf.custom_gradient
    def attention(q, k, v):
        dropped, log_sum = forward(tf.linalg.matmul(q, k), keep, *masks)

        def gradient(upstream):
            # After the upstream gradient: TensorFlow runs an op as soon as its
            # inputs exist, and the recomputed scores' exist in the forward pass.
            with tf.control_dependencies([upstream]):
                scores = tf.linalg.matmul(q, k)
            dropped, d_scores = backward(
                scores, log_sum, keep, tf.linalg.matmul(upstream, v, transpose_b=True), *masks)
            return (tf.linalg.matmul(d_scores, k, transpose_b=True),
                    tf.linalg.matmul(q, d_scores, transpose_a=True),
                    tf.linalg.matmul(dropped, upstream, transpose_a=True))

        return tf.linalg.matmul(dropped, v), gradient

    return tf.transpose(attention(q, k, v), [0, 2, 1, 3])


_SOFTMAX_DROPOUT = {}


def softmax_dropout_functions(rate):
    """The XLA functions of the masked softmax followed by `fast_dropout`'s keep mask.

    Returns `(forward, backward)`:

    * `forward(scores, keep[, mask])` is `(dropped, log_sum)`: the dropped
      probabilities in the scores' dtype, and each row's float32 log-sum-exp
      of the masked scores, `(..., 1)`.
    * `backward(scores, log_sum, keep, d_dropped[, mask])` is
      `(dropped, d_scores)`: the dropped probabilities again, recomputed as
      `exp(scores - log_sum)`, and the gradient with respect to the scores
      of `sum(dropped * d_dropped)`.

    The softmax is Keras' masked `Softmax`: masked scores count as -1e9,
    and the probabilities at masked positions are zero. Both functions work
    in float32 and round their outputs once to the scores' dtype.

    Example:

    >>> import tensorflow as tf
    >>> forward, backward = softmax_dropout_functions(0.5)
    >>> keep = tf.constant([[True, False]])
    >>> dropped, log_sum = forward(tf.math.log([[1.0, 3.0]]), keep)
    >>> dropped.numpy().tolist()
    [[0.5, 0.0]]
    >>> _, d_scores = backward(tf.math.log([[1.0, 3.0]]), log_sum, keep, tf.ones([1, 2]))
    >>> [round(g, 6) for g in d_scores.numpy().ravel().tolist()]
    [0.375, -0.375]
    """
    if rate not in _SOFTMAX_DROPOUT:
        import tensorflow as tf

        scale = LEVELS / (LEVELS - keep_threshold(rate))

        def drop(x, keep):  # apply_keep_mask's values, in float32
            return tf.where(keep, x * scale, 0.0)

        # 16-bit data converted by bits (`bfloat16_bits`), as in the GELUs.
        def softmax_dropout_forward(scores, keep, mask=None):
            x = widen(scores)
            if mask is not None:
                x = tf.where(mask, x, -1e9)
            top = tf.reduce_max(x, axis=-1, keepdims=True)
            exp = tf.exp(x - top)
            total = tf.reduce_sum(exp, axis=-1, keepdims=True)
            probabilities = exp / total
            if mask is not None:
                probabilities = tf.where(mask, probabilities, 0.0)
            return (narrow(drop(probabilities, keep), scores.dtype),
                    top + tf.math.log(total))

        def softmax_dropout_backward(scores, log_sum, keep, d_dropped, mask=None):
            probabilities = tf.exp(widen(scores) - log_sum)
            if mask is not None:
                probabilities = tf.where(mask, probabilities, 0.0)
            # The gradient of the keep mask is itself; then TensorFlow's
            # `SoftmaxGrad`, (dp - sum(dp * p)) * p, which is zero wherever
            # the probabilities are (masked positions, whole masked rows).
            d_probabilities = drop(widen(d_dropped), keep)
            d_scores = (d_probabilities - tf.reduce_sum(
                d_probabilities * probabilities, axis=-1, keepdims=True)) * probabilities
            return (narrow(drop(probabilities, keep), scores.dtype),
                    narrow(d_scores, scores.dtype))

        # No AutoGraph: the branches on `mask` are Python's, taken at tracing.
        _SOFTMAX_DROPOUT[rate] = (
            tf.function(softmax_dropout_forward, jit_compile=True, autograph=False),
            tf.function(softmax_dropout_backward, jit_compile=True, autograph=False))
    return _SOFTMAX_DROPOUT[rate]


def use_lean_attention(layer):
    """Makes every `MultiHeadAttention` in `layer` run `lean_attention` in a training step.

    It applies where the attention has dropout, 4-D projections and Keras'
    default attention axis, in training calls within `compiled_activations`
    (the context `ElectraPretrainer.train_step` traces in) that do not ask
    for the scores. The dropout mask is `fast_dropout`'s, drawn from the
    layer's dropout seed generator as the plain path draws it, so a step
    draws the same masks with and without it. Only the instance's
    `_compute_attention` changes: class, weights, config and saved files
    are Keras'. TensorFlow backend only (elsewhere `layer` is returned
    unchanged).

    Example:

    >>> attention = keras.layers.MultiHeadAttention(2, 4, dropout=0.1)
    >>> use_lean_attention(attention).lean_attention
    True
    """
    if keras.backend.backend() != "tensorflow":
        return layer
    for sublayer in layer._flatten_layers():
        if (isinstance(sublayer, keras.layers.MultiHeadAttention)
                and not getattr(sublayer, "lean_attention", False)):
            _patch(sublayer)
    return layer


def _patch(attention):
    import tensorflow as tf

    plain = attention._compute_attention

    def compute_attention(query, key, value, attention_mask=None, training=None,
                          return_attention_scores=False, use_causal_mask=False):
        if not (training and compiled_step_active() and attention._dropout > 0
                and keep_threshold(attention._dropout) < LEVELS
                and not return_attention_scores and not use_causal_mask
                and len(query.shape) == 4
                and attention._dot_product_equation == SCORES
                and attention._combine_equation == CONTEXT):
            return plain(query, key, value, attention_mask=attention_mask, training=training,
                         return_attention_scores=return_attention_scores,
                         use_causal_mask=use_causal_mask)
        dropout = attention._dropout_layer
        seed = next_seed(dropout)
        shape = tf.shape(query)
        scores_shape = tf.stack([shape[0], shape[2], shape[1], tf.shape(key)[1]])
        keep = keep_mask(scores_shape, dropout.rate, seed)
        mask = None
        if attention_mask is not None:  # (batch, query, key) -> (batch, 1, query, key)
            mask = tf.expand_dims(tf.cast(attention_mask, tf.bool), axis=-3)
        output = lean_attention(query, key, value, keep, dropout.rate,
                                attention._inverse_sqrt_key_dim, mask)
        return output, None

    attention._compute_attention = compute_attention
    attention.lean_attention = True
