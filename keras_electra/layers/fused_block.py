"""`use_fused_block`: a post-LN encoder block's element-wise work as few XLA computations."""

import keras

from keras_electra.layers.activations import compiled_step_active
from keras_electra.layers.bfloat16_bits import narrow, widen
from keras_electra.layers.fast_dropout import LEVELS, keep_mask, keep_threshold, next_seed
from keras_electra.layers.fused_layer_norm import (is_plain_layer_norm, normalize_rows,
                                                   normalize_rows_gradients, rows)

_RESIDUAL_NORM = {}


def dropout_add_layer_norm(h, residual, keep, rate, gamma, beta, epsilon, bias=None):
    """`LayerNorm(residual + dropout(h + bias))`, one XLA computation each way.

    The three ops after each sub-layer of a post-LN Transformer block
    (BERT's and ELECTRA's): the sub-layer's output `h` (plus the bias of its
    last dense layer, when given) is dropped with `fast_dropout`'s keep
    mask and scale, added to the block's `residual` and normalised over the
    last axis. As TensorFlow ops that is a bias add, four dropout passes
    (two casts, a scale, a select), an add and the LayerNorm, and as many
    again backward, each a pass over the `(tokens, hidden)` activations; here
    it is one pass each way. The arithmetic is in float32. The sum is
    rounded to `h`'s dtype before it is normalised, as Keras' LayerNorm
    reads its input, and backprop keeps that sum, two floats a row and the
    one-byte mask (`fused_layer_norm` keeps the same).

    Args:
        h: the sub-layer's output, `(..., hidden)`, in the compute dtype.
        residual: the block's input to the sub-layer, `h`'s shape and dtype.
        keep: `fast_dropout.keep_mask` of `h`'s shape (True: kept).
        rate: the dropout rate, below 1 (kept values are scaled as
            `fast_dropout` scales them).
        gamma, beta: the LayerNorm's scale and offset, `(hidden,)`.
        epsilon: the LayerNorm's epsilon (a Python float).
        bias: the sub-layer's output bias, `(hidden,)`, or `None`.

    Example:

    >>> import tensorflow as tf
    >>> h = tf.constant([[1.0, 3.0]])
    >>> keep = tf.constant([[True, True]])
    >>> y = dropout_add_layer_norm(h, tf.zeros([1, 2]), keep, 0.0, tf.ones([2]), tf.zeros([2]),
    ...                            1e-12)
    >>> [round(v, 4) for v in y.numpy().ravel().tolist()]
    [-1.0, 1.0]
    """
    import tensorflow as tf

    h = tf.convert_to_tensor(h)
    # Read outside the custom gradient: the tape takes the gradient on to a
    # variable through its read.
    gamma, beta = (tf.cast(tf.convert_to_tensor(v), tf.float32) for v in (gamma, beta))
    biases = () if bias is None else (tf.cast(tf.convert_to_tensor(bias), tf.float32),)
    forward, backward = residual_norm_functions(rate, float(epsilon), bool(biases))

    @tf.custom_gradient
    def residual_norm(h, residual, gamma, beta, *biases):
        y, total, mean, rstd = forward(h, residual, keep, gamma, beta, *biases)
        return y, lambda upstream: backward(total, mean, rstd, keep, gamma, upstream)

    return residual_norm(h, tf.cast(residual, h.dtype), gamma, beta, *biases)


def residual_norm_functions(rate, epsilon, with_bias):
    """The XLA functions of `dropout_add_layer_norm` for one rate, epsilon and bias choice.

    Returns `(forward, backward)`:

    * `forward(h, residual, keep, gamma, beta[, bias])` is
      `(y, total, mean, rstd)`: the normalised output in `h`'s dtype; the sum
      `residual + dropout(h + bias)` rounded to that dtype; each row's float32
      mean and `1 / sqrt(var + epsilon)`, `(rows, 1)`.
    * `backward(total, mean, rstd, keep, gamma, upstream)` is the gradients
      `(d_h, d_residual, d_gamma, d_beta[, d_bias])`.

    Example:

    >>> import tensorflow as tf
    >>> forward, backward = residual_norm_functions(0.5, 1e-12, False)
    >>> keep = tf.constant([[True, False]])
    >>> y, total, mean, rstd = forward(tf.constant([[1.0, 5.0]]), tf.constant([[0.0, 1.0]]), keep,
    ...                                tf.ones([2]), tf.zeros([2]))
    >>> total.numpy().tolist(), y.numpy().tolist()
    ([[2.0, 1.0]], [[1.0, -1.0]])
    """
    key = (rate, epsilon, with_bias)
    if key not in _RESIDUAL_NORM:
        import tensorflow as tf

        scale = LEVELS / (LEVELS - keep_threshold(rate))

        def residual_norm_forward(h, residual, keep, gamma, beta, bias=None):
            x = rows(h) if bias is None else rows(h) + bias
            dropped = tf.where(tf.reshape(keep, tf.shape(x)), x * scale, 0.0)
            total = narrow(dropped + rows(residual), h.dtype)
            y, mean, rstd = normalize_rows(widen(total), gamma, beta, epsilon)
            return (tf.reshape(narrow(y, h.dtype), tf.shape(h)), tf.reshape(total, tf.shape(h)),
                    mean, rstd)

        def residual_norm_backward(total, mean, rstd, keep, gamma, upstream):
            dx, d_gamma, d_beta = normalize_rows_gradients(rows(total), mean, rstd, gamma,
                                                           rows(upstream))
            d_h = tf.where(tf.reshape(keep, tf.shape(dx)), dx * scale, 0.0)
            gradients = (tf.reshape(narrow(d_h, total.dtype), tf.shape(total)),
                         tf.reshape(narrow(dx, total.dtype), tf.shape(total)), d_gamma, d_beta)
            return gradients + ((tf.reduce_sum(d_h, axis=0),) if with_bias else ())

        _RESIDUAL_NORM[key] = tuple(
            tf.function(f, jit_compile=True, reduce_retracing=True, autograph=False)
            for f in (residual_norm_forward, residual_norm_backward))
    return _RESIDUAL_NORM[key]


def use_fused_block(layer):
    """Makes every post-LN `TransformerEncoder` in `layer` run its training step fused.

    Within `compiled_activations` (the context `ElectraPretrainer.train_step`
    traces in), a training call of a block with `normalize_first=False`,
    dropout and plain dense and LayerNorm layers runs keras-hub's
    `TransformerEncoder.call` with its element-wise work fused:

    * after the attention and after the feed-forward block,
      `dropout_add_layer_norm` (the feed-forward output dense's bias too);
    * the feed-forward's dense layers are 2-D matmuls, the intermediate
      one's bias added by the matmul (oneDNN's fused `MatMul` + `BiasAdd`;
      through Keras' 3-D `Dense` the bias add was a pass of its own). A
      float32 block keeps `recomputed_activation`'s feed-forward, which
      keeps less for backprop.

    The dropout masks are `fast_dropout`'s, drawn from each dropout layer's
    seed generator as its own call draws them, so a step draws the same
    masks with and without it, and `rematerialize` replays them. Elsewhere
    (inference, export, serving, return_attention_scores) the block's own
    `call` runs. Only the instance's `call` changes: class, weights, config
    and saved files are keras-hub's. It can be applied before the block is
    built, and before `rematerialize`, which then recomputes the fused form.
    TensorFlow backend only (elsewhere `layer` is returned unchanged).

    Example:

    >>> import keras_hub
    >>> block = keras_hub.layers.TransformerEncoder(16, num_heads=2)
    >>> use_fused_block(block).fused_block
    True
    """
    if keras.backend.backend() != "tensorflow":
        return layer
    import keras_hub

    for block in layer._flatten_layers():
        if (isinstance(block, keras_hub.layers.TransformerEncoder)
                and not block.normalize_first and not getattr(block, "fused_block", False)):
            _patch(block)
    return layer


def _dropout_ok(dropout):
    return (isinstance(dropout, keras.layers.Dropout) and dropout.noise_shape is None
            and 0 < dropout.rate and keep_threshold(dropout.rate) < LEVELS)


def _dense_ok(dense):
    return (dense.use_bias and not getattr(dense, "lora_enabled", False)
            and not getattr(dense, "quantization_mode", None))


def _fusable(block, inputs):
    return (block.built and len(inputs.shape) == 3
            and all(_dropout_ok(d) for d in (block._self_attention_dropout,
                                              block._feedforward_dropout))
            and all(is_plain_layer_norm(n, inputs) for n in (block._self_attention_layer_norm,
                                                             block._feedforward_layer_norm))
            and all(_dense_ok(d) for d in (block._feedforward_intermediate_dense,
                                           block._feedforward_output_dense)))


def _matmul(x, kernel, bias=None):
    """`x @ kernel (+ bias)` over the last axis as one 2-D matmul (and `BiasAdd`)."""
    import tensorflow as tf

    rows = tf.matmul(tf.reshape(x, [-1, tf.shape(x)[-1]]), kernel)
    if bias is not None:
        rows = tf.nn.bias_add(rows, bias)
    return tf.reshape(rows, tf.concat([tf.shape(x)[:-1], tf.shape(kernel)[-1:]], axis=0))


def _weight(dense, variable):
    """`variable` in `dense`'s compute dtype, as its own call reads it.

    Explicitly: `rematerialize` runs the block again in the backward pass,
    outside the block's autocast scope, where a float32 kernel met bfloat16
    activations (TensorFlow then multiplies with its slow `SparseMatMul`).
    """
    return keras.ops.cast(variable, dense.compute_dtype)


def _residual_norm(y, residual, dropout, norm, bias=None):
    import tensorflow as tf

    # One seed per dropout call, as `fast_dropout`'s layer call draws it.
    keep = keep_mask(tf.shape(y), dropout.rate, next_seed(dropout))
    return dropout_add_layer_norm(y, residual, keep, dropout.rate, norm.gamma, norm.beta,
                                  norm.epsilon, bias=bias)


def _patch(block):
    from keras_hub.src.layers.modeling.transformer_layer_utils import (
        merge_padding_and_attention_mask,
    )

    from keras_electra.layers.recomputed_activation import activation_matmul

    plain = block.call

    def call(inputs, padding_mask=None, attention_mask=None, training=None,
             return_attention_scores=False):
        if not (training and not return_attention_scores and compiled_step_active()
                and _fusable(block, inputs)):
            return plain(inputs, padding_mask=padding_mask, attention_mask=attention_mask,
                         training=training, return_attention_scores=return_attention_scores)
        mask = merge_padding_and_attention_mask(inputs, padding_mask, attention_mask)
        x = block._self_attention_layer(query=inputs, value=inputs, attention_mask=mask,
                                        training=training)
        x = _residual_norm(x, inputs, block._self_attention_dropout,
                           block._self_attention_layer_norm)
        intermediate = block._feedforward_intermediate_dense
        output = block._feedforward_output_dense
        kernel = _weight(output, output.kernel)
        if getattr(output, "recomputed_activation", False):  # float32: keeps only h
            from keras_electra.layers.activations import compiled_forward_backward

            forward, backward = compiled_forward_backward(intermediate.activation)
            y = activation_matmul(intermediate(x), kernel, forward, backward)
        else:
            h = _matmul(x, _weight(intermediate, intermediate.kernel),
                        _weight(intermediate, intermediate.bias))
            y = _matmul(intermediate.activation(h), kernel)
        return _residual_norm(y, x, block._feedforward_dropout, block._feedforward_layer_norm,
                              bias=_weight(output, output.bias))

    block.call = call
    block.fused_block = True
