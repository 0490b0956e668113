"""Self-attention whose two products are batched matmuls on a `(batch, heads, ...)` layout."""

import keras
from keras import ops


class MatmulAttention(keras.layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention` with `QK^T` and `PV` as `ops.matmul`.

    Keras writes the two attention products as `einsum`s over the
    `(batch, length, heads, head_dim)` projections. On TensorFlow's CPU
    kernels the einsum and its gradient go through extra reshapes and
    transposes around oneDNN's batched matmul; transposing Q, K and V to
    `(batch, heads, length, head_dim)` once and calling `matmul` made the
    ELECTRA-Small pre-training step 5% faster on this project's CPU
    (`bench/pretrain_step.py`). Same variables, same masked softmax and
    attention dropout, same outputs (to float rounding). Where Keras would
    call its fused `ops.dot_product_attention` (no attention dropout, no
    scores asked for), this defers to Keras.

    `ElectraBackbone`'s encoder blocks use it (see `use_matmul_attention`);
    the layer has no arguments of its own.

    Example:

    >>> import numpy as np
    >>> layer = MatmulAttention(num_heads=2, key_dim=4)
    >>> x = np.ones((1, 3, 8), "float32")
    >>> tuple(layer(x, x).shape)
    (1, 3, 8)
    """

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=False, use_causal_mask=False):
        fused = not (self._dropout > 0.0 or return_attention_scores or len(query.shape) != 4)
        if fused or use_causal_mask:
            return super()._compute_attention(
                query, key, value, attention_mask=attention_mask, training=training,
                return_attention_scores=return_attention_scores,
                use_causal_mask=use_causal_mask)
        query = ops.multiply(query, ops.cast(self._inverse_sqrt_key_dim, query.dtype))
        scores = ops.matmul(ops.transpose(query, (0, 2, 1, 3)),   # (b, h, t, d)
                            ops.transpose(key, (0, 2, 3, 1)))     # (b, h, d, s)
        scores = self._masked_softmax(scores, attention_mask)    # (b, h, t, s)
        probabilities = self._dropout_layer(scores, training=training)
        context = ops.matmul(probabilities, ops.transpose(value, (0, 2, 1, 3)))
        return ops.transpose(context, (0, 2, 1, 3)), scores      # (b, t, h, d)


def use_matmul_attention(encoder_block):
    """Makes a built keras-hub `TransformerEncoder` attend through `MatmulAttention`.

    keras-hub creates its `MultiHeadAttention` inside `build` with no way to
    pass another class; `MatmulAttention` adds no state and overrides one
    method, so the built layer's class is switched in place: its variables,
    their paths and the block's config are untouched (checkpoints and
    converters see a stock block).
    """
    attention = encoder_block._self_attention_layer
    if type(attention) is keras.layers.MultiHeadAttention:
        attention.__class__ = MatmulAttention
    return encoder_block
