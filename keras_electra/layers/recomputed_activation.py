"""`activation_matmul`: a feed-forward block's `activation(h) @ kernel` that recomputes the activation for backprop."""

import keras

from keras_electra.layers.activations import compiled_forward_backward, compiled_step_active


def activation_matmul(h, kernel, forward, backward):
    """`forward(h) @ kernel` over the last axis, keeping only `h` for backprop.

    In a Transformer's feed-forward block, backprop of
    `dense_2(activation(dense_1(x)))` keeps both the intermediate `h` (for
    the activation's derivative) and `activation(h)` (for `dense_2`'s kernel
    gradient): two tensors of the block's widest shape,
    `(tokens, intermediate_size)`. Here the backward pass keeps `h` and
    recomputes `activation(h)`, one fused XLA loop, before the kernel
    gradient. On ELECTRA-Small that is 16 MB less per float32 layer for
    one more activation pass (README "Speed"). The gradients are autodiff's
    of the same ops.

    Args:
        h: the pre-activation, `(..., intermediate_size)`.
        kernel: `(intermediate_size, units)`, in `h`'s dtype.
        forward, backward: the activation's XLA pair
            (`activations.compiled_forward_backward`).

    Example:

    >>> import tensorflow as tf
    >>> from keras_electra.layers.activations import gelu
    >>> forward, backward = compiled_forward_backward(gelu)
    >>> y = activation_matmul(tf.ones([2, 3]), tf.ones([3, 1]), forward, backward)
    >>> [round(v, 4) for v in y.numpy().ravel().tolist()]
    [2.524, 2.524]
    """
    import tensorflow as tf

    # Read outside the custom gradient: the tape takes the gradient on to a
    # variable through its read.
    kernel = tf.convert_to_tensor(kernel)

    @tf.custom_gradient
    def project(h, kernel):
        rows = tf.reshape(forward(h), [-1, tf.shape(h)[-1]])
        out_shape = tf.concat([tf.shape(h)[:-1], tf.shape(kernel)[-1:]], axis=0)

        def gradients(upstream):
            # After the upstream gradient: TensorFlow runs an op as soon as
            # its inputs exist, and the recomputation's exist in the forward
            # pass, which would keep its output as long as before.
            with tf.control_dependencies([upstream]):
                activated = tf.reshape(forward(h), [-1, tf.shape(h)[-1]])
            upstream_rows = tf.reshape(upstream, [-1, tf.shape(upstream)[-1]])
            d_kernel = tf.matmul(activated, upstream_rows, transpose_a=True)
            d_activated = tf.reshape(tf.matmul(upstream_rows, kernel, transpose_b=True),
                                     tf.shape(h))
            return backward(h, d_activated), d_kernel

        return tf.reshape(tf.matmul(rows, kernel), out_shape), gradients

    return project(h, kernel)


def use_recomputed_activation(layer):
    """Makes every feed-forward block in `layer` recompute its activation for backprop.

    For each `keras_hub.layers.TransformerEncoder` in `layer` whose
    activation is one of `activations.HIDDEN_ACTS` and that computes in
    float32: within
    `compiled_activations` (the context `ElectraPretrainer.train_step`
    traces in) its intermediate `Dense` returns the pre-activation and its
    output `Dense` applies `activation_matmul`. Elsewhere (inference,
    export, serving) both run Keras' own `call`. Only the two instances'
    `call`s change: class, weights, config and saved files are Keras'.
    TensorFlow backend only (elsewhere `layer` is returned unchanged).

    A block that computes in bfloat16 or float16 (mixed precision) keeps
    its activation: at 2 bytes a value it costs half the memory (8 MB per
    ELECTRA-Small layer), and the recomputation cost 4% of a bfloat16
    ELECTRA-Small step (1,413 against 1,358 ms, in-process A/B, median of 7
    rounds), while the float32 step is the one that needs the memory (its
    peak RSS is within 0.25 GB of 2.5 GB at batch 32 x 128).

    Example:

    >>> import keras_hub
    >>> from keras_electra.layers.activations import gelu
    >>> block = keras_hub.layers.TransformerEncoder(16, num_heads=2, activation=gelu)
    >>> block.build((1, 4, 8))
    >>> use_recomputed_activation(block)._feedforward_output_dense.recomputed_activation
    True
    """
    if keras.backend.backend() != "tensorflow":
        return layer
    import keras_hub

    for block in layer._flatten_layers():
        if isinstance(block, keras_hub.layers.TransformerEncoder) and block.built:
            _patch(block)
    return layer


def _patch(block):
    intermediate = block._feedforward_intermediate_dense
    output = block._feedforward_output_dense
    pair = compiled_forward_backward(intermediate.activation)
    if (pair is None or getattr(output, "recomputed_activation", False)
            or intermediate.compute_dtype != "float32"):
        return
    forward, backward = pair
    plain_intermediate, plain_output = intermediate.call, output.call

    def active():
        # Both layers decide alike within one trace: plain Keras Dense layers
        # (no LoRA, no quantization) in a training step.
        return (compiled_step_active()
                and not any(getattr(dense, "lora_enabled", False)
                            or getattr(dense, "quantization_mode", None)
                            for dense in (intermediate, output)))

    def intermediate_call(inputs, training=None):
        if not active():
            return plain_intermediate(inputs, training=training)
        return keras.ops.add(keras.ops.matmul(inputs, intermediate.kernel), intermediate.bias)

    def output_call(inputs, training=None):
        if not active():
            return plain_output(inputs, training=training)
        kernel = keras.ops.convert_to_tensor(output.kernel)  # autocast in mixed precision
        return keras.ops.add(activation_matmul(inputs, kernel, forward, backward), output.bias)

    intermediate.call = intermediate_call
    output.call = output_call
    output.recomputed_activation = True
