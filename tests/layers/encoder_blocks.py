"""A small keras-hub encoder block and its training step, for the training-step layer tests."""

import contextlib

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from keras_electra.layers.activations import compiled_activations, gelu


def gelu_block(dtype=None):
    """A built `TransformerEncoder` (width 16, 2 heads, GELU, no dropout), weights from seed 0."""
    keras.utils.set_random_seed(0)
    block = keras_hub.layers.TransformerEncoder(48, num_heads=2, dropout=0.0, activation=gelu,
                                                dtype=dtype)
    block.build((2, 6, 16))
    return block


def block_step(block, x, upstream, compiled):
    """`(values, graph)`: the block's output and the gradients of `sum(output * upstream)`
    with respect to `x` and its weights, as float32 arrays, traced within
    `compiled_activations` when `compiled`; and the traced graph."""
    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = block(x, training=True)
            total = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
        return [y] + tape.gradient(total, [x] + block.trainable_variables)

    with compiled_activations() if compiled else contextlib.nullcontext():
        values = [tf.cast(v, tf.float32).numpy() for v in step()]
        graph = step.get_concrete_function().graph
    return values, graph


def assert_steps_close(block, plain, steps, rtol, label):
    """Asserts each of `steps` (`{name: block_step values}`) equals `plain` within `rtol`,
    the absolute tolerance `rtol` times the largest entry (the key bias's gradient is zero
    up to rounding)."""
    names = ["y", "dx"] + [v.path for v in block.trainable_variables]
    scale = max(np.abs(p).max() for p in plain)
    for step_name, values in steps.items():
        for name, p, v in zip(names, plain, values):
            np.testing.assert_allclose(v, p, rtol=rtol, atol=rtol * scale,
                                       err_msg=f"{label} {step_name} {name}")
