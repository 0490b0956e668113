"""`lean_attention`: softmax attention with dropout that keeps the probabilities once for backprop."""

import keras

from keras_electra.layers.activations import compiled_step_active
from keras_electra.layers.fast_dropout import apply_keep_mask, keep_mask, next_seed

# Keras' equations for 4-D (batch, sequence, heads, depth) projections and
# attention over the sequence axis; other layouts keep Keras' attention.
SCORES = "aecd,abcd->acbe"  # key, scaled query -> (batch, heads, query, key)
CONTEXT = "acbe,aecd->abcd"  # probabilities, value -> (batch, query, heads, depth)


def lean_attention(query, key, value, keep, rate, scale, softmax, mask=None):
    """`dropout(softmax(scale * query . key)) . value`, keeping one probability tensor for backprop.

    The forward pass is Keras' `MultiHeadAttention._compute_attention` with
    `fast_dropout`: the same ops and the same values. Autodiff of those ops
    keeps both the softmax output (for the softmax gradient) and the dropped
    probabilities (for the value gradient), two float tensors of shape
    `(batch, heads, query, key)`. Here the backward pass keeps the softmax
    output and the one-byte keep mask and recomputes the dropped
    probabilities from them, one element-wise pass; the gradients are
    autodiff's, op for op. On ELECTRA-Small (batch 32 x 128, 4 heads) that
    is 8.4 MB less per float32 layer.

    Args:
        query, key, value: projections, `(batch, sequence, heads, depth)`.
        keep: the boolean dropout keep mask, `(batch, heads, query, key)`
            (`fast_dropout.keep_mask`).
        rate: the dropout rate (kept values are scaled as `fast_dropout`
            scales them).
        scale: the query scale, `1 / sqrt(depth)`.
        softmax: the masked softmax, `softmax(scores, mask)` (Keras' layer).
        mask: the boolean attention mask, broadcastable to the scores.

    Example:

    >>> import tensorflow as tf
    >>> q = k = v = tf.ones([1, 2, 1, 4])
    >>> keep = tf.ones([1, 1, 2, 2], tf.bool)
    >>> out = lean_attention(q, k, v, keep, 0.0, 0.5, lambda s, mask: tf.nn.softmax(s))
    >>> out.numpy().ravel().tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    import tensorflow as tf

    scaled_query = query * tf.cast(scale, query.dtype)

    @tf.custom_gradient
    def attention(scaled_query, key, value):
        probabilities = softmax(keras.ops.einsum(SCORES, key, scaled_query), mask)
        context = keras.ops.einsum(CONTEXT, apply_keep_mask(probabilities, keep, rate), value)

        def backward(upstream):
            # After the upstream gradient: TensorFlow runs an op as soon as its
            # inputs exist, and this one's exist in the forward pass.
            with tf.control_dependencies([upstream]):
                dropped = apply_keep_mask(probabilities, keep, rate)
            d_value = keras.ops.einsum("acbe,abcd->aecd", dropped, upstream)
            # The gradient of `apply_keep_mask` is itself: a where on `keep`
            # of the upstream gradient times the same scale.
            d_probabilities = apply_keep_mask(
                keras.ops.einsum("abcd,aecd->acbe", upstream, value), keep, rate)
            # TensorFlow's `SoftmaxGrad`, (dp - sum(dp * p)) * p. Keras' masked
            # softmax zeroes the probabilities at masked positions (whole
            # masked rows included), so this is also zero wherever its
            # `where`s would zero the gradient.
            d_scores = (d_probabilities - tf.reduce_sum(
                d_probabilities * probabilities, axis=-1, keepdims=True)) * probabilities
            d_query = keras.ops.einsum("acbe,aecd->abcd", d_scores, key)
            d_key = keras.ops.einsum("acbe,abcd->aecd", d_scores, scaled_query)
            return d_query, d_key, d_value

        return context, backward

    return attention(scaled_query, key, value)


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
                                attention._inverse_sqrt_key_dim,
                                lambda scores, mask: attention._softmax(scores, mask=mask), mask)
        return output, None

    attention._compute_attention = compute_attention
    attention.lean_attention = True
