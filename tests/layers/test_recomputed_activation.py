import keras_hub
import numpy as np
import tensorflow as tf

from keras_electra.layers.activations import (compiled_activations, compiled_forward_backward,
                                              gelu, gelu_approximate)
from keras_electra.layers.recomputed_activation import (activation_matmul,
                                                        use_recomputed_activation)
from tests.layers.encoder_blocks import assert_steps_close, block_step, gelu_block
from tests.test_case import TestCase


def _autodiff(h, kernel, upstream, activation):
    with tf.GradientTape() as tape:
        tape.watch([h, kernel])
        y = tf.matmul(tf.reshape(activation(h), [-1, h.shape[-1]]), kernel)
        total = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
    return [y] + tape.gradient(total, [h, kernel])


def _recomputed(h, kernel, upstream, activation):
    forward, backward = compiled_forward_backward(activation)
    with tf.GradientTape() as tape:
        tape.watch([h, kernel])
        y = tf.reshape(activation_matmul(h, kernel, forward, backward), [-1, kernel.shape[-1]])
        total = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
    return [y] + tape.gradient(total, [h, kernel])


class ActivationMatmulTest(TestCase):
    def test_values_and_gradients_are_autodiffs_of_activation_then_matmul(self):
        h = tf.random.stateless_normal([3, 7, 24], [0, 1]) * 2.0
        kernel = tf.random.stateless_normal([24, 5], [0, 2])
        upstream = tf.random.stateless_normal([21, 5], [0, 3])
        for activation in (gelu, gelu_approximate):
            got = _recomputed(h, kernel, upstream, activation)
            want = _autodiff(h, kernel, upstream, activation)
            for name, g, w in zip(("y", "dh", "dkernel"), got, want):
                self.assertEqual(g.shape, w.shape)
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5 * np.abs(w).max(),
                                           err_msg=f"{activation.__name__} {name}")

    def test_bfloat16_is_the_activation_rounded_once_then_a_bfloat16_matmul(self):
        h = tf.cast(tf.random.stateless_normal([4, 16], [1, 1]) * 2.0, tf.bfloat16)
        kernel = tf.cast(tf.random.stateless_normal([16, 3], [1, 2]), tf.bfloat16)
        upstream = tf.cast(tf.cast(tf.random.stateless_normal([4, 3], [1, 3]), tf.bfloat16),
                           tf.float32)
        got = _recomputed(h, kernel, upstream, gelu)
        want = _autodiff(h, kernel, upstream, gelu)
        for name, g, w in zip(("y", "dh", "dkernel"), got, want):
            self.assertEqual(g.dtype, tf.bfloat16, name)
            self.assertAllEqual(g, w)


class UseRecomputedActivationTest(TestCase):
    def test_block_step_is_the_plain_blocks_and_only_in_the_compiled_context(self):
        x = tf.random.stateless_normal([2, 6, 16], [2, 1])
        upstream = tf.random.stateless_normal([2, 6, 16], [2, 2])
        for dtype, rtol in ((None, 1e-5), ("float32", 1e-5)):
            block = gelu_block(dtype)
            plain = block_step(block, x, upstream, compiled=True)[0]
            self.assertIs(use_recomputed_activation(block), block)
            output = block._feedforward_output_dense
            self.assertTrue(output.recomputed_activation)
            outside = block_step(block, x, upstream, compiled=False)[0]
            recomputed = block_step(block, x, upstream, compiled=True)[0]
            assert_steps_close(block, plain, {"outside": outside, "recomputed": recomputed}, rtol, dtype)
            # The activation moved from the intermediate layer's output to the
            # output layer's input only within the context.
            with compiled_activations():
                h = block._feedforward_intermediate_dense(x)
            self.assertLess(float(tf.reduce_min(tf.cast(h, tf.float32))), -0.5)
            self.assertGreaterEqual(
                float(tf.reduce_min(tf.cast(block._feedforward_intermediate_dense(x),
                                            tf.float32))), -0.17)  # GELU's minimum

    def test_16_bit_blocks_keep_their_activation(self):
        x = tf.random.stateless_normal([2, 6, 16], [2, 1])
        for dtype in ("mixed_bfloat16", "mixed_float16"):
            block = gelu_block(dtype)
            use_recomputed_activation(block)
            self.assertFalse(getattr(block._feedforward_output_dense, "recomputed_activation",
                                     False), dtype)
            with compiled_activations():  # the GELU stays in the intermediate layer
                h = block._feedforward_intermediate_dense(x)
            self.assertGreaterEqual(float(tf.reduce_min(tf.cast(h, tf.float32))), -0.17, dtype)

    def test_other_activations_keep_keras_dense_layers(self):
        block = keras_hub.layers.TransformerEncoder(8, num_heads=2, activation="relu")
        block.build((1, 3, 4))
        use_recomputed_activation(block)
        self.assertFalse(getattr(block._feedforward_output_dense, "recomputed_activation", False))
