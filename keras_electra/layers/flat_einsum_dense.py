"""`use_flat_einsum_dense`: attention projections as one 2-D matmul in a training step."""

import math

import keras

from keras_electra.layers.activations import compiled_step_active


def flat_equation(equation):
    """The `(batch, contracted, output)` axes of a projection-shaped einsum, else `None`.

    A projection contracts the input's trailing axes with the kernel's
    leading ones: input `batch + contracted`, kernel `contracted + output`,
    result `batch + output`, each axis named once. Such an einsum is one
    matrix product of the input flattened to `(prod(batch), prod(contracted))`
    and the kernel to `(prod(contracted), prod(output))`. The query, key,
    value (`"abc,cde->abde"`) and output (`"abcd,cde->abe"`) projections of
    `keras.layers.MultiHeadAttention` have this shape.

    Example:

    >>> flat_equation("abc,cde->abde")
    ('ab', 'c', 'de')
    >>> flat_equation("abcd,cde->abe")
    ('ab', 'cd', 'e')
    >>> flat_equation("abc,dce->abde") is None  # the contracted axis is not the kernel's first
    True
    """
    if "..." in equation or equation.count("->") != 1:
        return None
    operands, result = equation.split("->")
    if operands.count(",") != 1:
        return None
    x, kernel = operands.split(",")
    contracted = "".join(a for a in x if a in kernel and a not in result)
    batch = "".join(a for a in x if a in result and a not in kernel)
    output = "".join(a for a in kernel if a in result and a not in x)
    if not (contracted and x == batch + contracted and kernel == contracted + output
            and result == batch + output and len(set(x + kernel)) == len(x) + len(output)):
        return None
    return batch, contracted, output


def use_flat_einsum_dense(layer):
    """Makes every projection-shaped `EinsumDense` in `layer` one 2-D matmul in a training step.

    Keras' TensorFlow `einsum` runs `"abc,cde->abde"` as a batched matmul of
    the 3-D input with the kernel reshaped to 2-D, which TensorFlow
    broadcasts over the batch. Its kernel gradient is then one
    `(hidden, hidden)` product per example, `(batch, hidden, hidden)` in
    all, summed over the batch afterwards. On ELECTRA-Small (batch 32, the
    attention's four projections in 24 encoder layers) those sums were the
    third largest op type of a bfloat16 step, where TensorFlow's CPU `Sum`
    is slow: 166 ms of a ~1,050 ms one-thread profile
    (`bench/profile_step.py`). Flattened, the input is
    `(batch * sequence, hidden)`, and the gradient is one matmul with
    nothing left to sum. The bias is a `BiasAdd` (its gradient
    `BiasAddGrad`) instead of a broadcast add and a sum. In-process A/B,
    the two forms alternating, 9 rounds of 6 steps, twice: the bfloat16
    step's mean went from 1,376 to 1,335 and from 1,406 to 1,357 ms; the
    float32 step's did not move beyond noise (median 2,132 against 2,119
    ms).

    It applies, as `use_recomputed_activation` does, in training calls
    within `compiled_activations` (the context `ElectraPretrainer.train_step`
    traces in) to `EinsumDense` layers whose equation passes `flat_equation`,
    whose bias (if any) spans exactly the output axes, without LoRA or
    quantization. Elsewhere (inference, export, serving) they run Keras'
    own `call`. The values are the same products, summed in another order
    by oneDNN (float32 rounding). Only the instances' `call`s change:
    class, weights, config and saved files are Keras'. TensorFlow backend
    only (elsewhere `layer` is returned unchanged).

    Example:

    >>> dense = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 4),
    ...                                  bias_axes="de")
    >>> dense.build((1, 3, 8))
    >>> use_flat_einsum_dense(dense).flat_einsum_dense
    True
    """
    if keras.backend.backend() != "tensorflow":
        return layer
    for sublayer in layer._flatten_layers():
        if (isinstance(sublayer, keras.layers.EinsumDense) and sublayer.built
                and not getattr(sublayer, "flat_einsum_dense", False)):
            _patch(sublayer)
    return layer


def _patch(dense):
    import tensorflow as tf

    axes = flat_equation(dense.equation)
    if axes is None or (dense.bias is not None and dense.bias_axes != axes[2]):
        return
    batch, contracted, output = axes
    kernel_shape = tuple(dense.kernel.shape)
    rows_width = math.prod(kernel_shape[:len(contracted)])
    output_shape = list(kernel_shape[len(contracted):])
    plain = dense.call

    def call(inputs, training=None):
        if not (compiled_step_active() and not getattr(dense, "lora_enabled", False)
                and not getattr(dense, "quantization_mode", None)):
            return plain(inputs, training=training)
        kernel = tf.convert_to_tensor(dense.kernel)  # autocast in mixed precision
        inputs = tf.convert_to_tensor(inputs)
        y = tf.matmul(tf.reshape(inputs, [-1, rows_width]), tf.reshape(kernel, [rows_width, -1]))
        if dense.bias is not None:
            y = tf.nn.bias_add(y, tf.reshape(tf.cast(dense.bias, y.dtype), [-1]))
        y = tf.reshape(y, tf.concat([tf.shape(inputs)[:len(batch)], output_shape], axis=0))
        y.set_shape(inputs.shape[:len(batch)].concatenate(output_shape))
        if dense.activation is not None:
            y = dense.activation(y)
        return y

    dense.call = call
    dense.flat_einsum_dense = True
