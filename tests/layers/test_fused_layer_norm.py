import doctest
import importlib

import keras
import numpy as np
import tensorflow as tf

from keras_electra.builders import build_pretrainer
from keras_electra.layers import fused_layer_norm, use_fused_layer_norm
from keras_electra.layers.activations import compiled_activations
from tests.test_case import TestCase, tiny_config

EPSILON = 1e-12
# The module (the package's `fused_layer_norm` is the function).
fused_module = importlib.import_module("keras_electra.layers.fused_layer_norm")


def _float64_layer_norm_and_grads(x, gamma, beta, upstream):
    """y and the gradients of sum(y * upstream), by float64 autodiff of the definition."""
    x, gamma, beta = (tf.constant(np.asarray(v, np.float64)) for v in (x, gamma, beta))
    with tf.GradientTape() as tape:
        tape.watch([x, gamma, beta])
        mean = tf.reduce_mean(x, -1, keepdims=True)
        var = tf.reduce_mean((x - mean) ** 2, -1, keepdims=True)
        y = (x - mean) / tf.sqrt(var + EPSILON) * gamma + beta
        total = tf.reduce_sum(y * np.asarray(upstream, np.float64))
    return [y.numpy()] + [g.numpy() for g in tape.gradient(total, [x, gamma, beta])]


def _fused_and_grads(x, gamma, beta, upstream, dtype=None):
    with tf.GradientTape() as tape:
        tape.watch([x, gamma, beta])
        y = fused_layer_norm(x, gamma, beta, EPSILON, dtype=dtype)
        total = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
    return [y] + tape.gradient(total, [x, gamma, beta])


def _inputs(shape=(3, 5, 16), seed=0):
    # Rows with an offset and a scale far from 0 and 1: the centring matters.
    x = (tf.random.stateless_normal(shape, [seed, 1]) * 3.0 + 7.0)
    gamma = tf.random.stateless_normal(shape[-1:], [seed, 2]) + 1.0
    beta = tf.random.stateless_normal(shape[-1:], [seed, 3])
    upstream = tf.random.stateless_normal(shape, [seed, 4])
    return x, gamma, beta, upstream


class FusedLayerNormTest(TestCase):
    def test_float32_values_and_gradients_are_float64s(self):
        x, gamma, beta, upstream = _inputs()
        got = _fused_and_grads(x, gamma, beta, upstream)
        want = _float64_layer_norm_and_grads(x, gamma, beta, upstream)
        for name, g, w in zip(("y", "dx", "dgamma", "dbeta"), got, want):
            self.assertEqual(g.dtype, tf.float32, name)
            # float32 rounding of O(1) values over 16-element rows.
            np.testing.assert_allclose(g.numpy(), w, rtol=2e-5, atol=2e-5, err_msg=name)
        # dx of a LayerNorm sums to zero over each row (the mean is removed).
        np.testing.assert_allclose(got[1].numpy().sum(-1), 0.0, atol=1e-5)

    def test_bfloat16_input_is_computed_in_float32_and_rounded_once(self):
        x, gamma, beta, upstream = _inputs()
        x16 = tf.cast(x, tf.bfloat16)
        # The gradient reaching a bfloat16 output is bfloat16 (the cast's).
        upstream = tf.cast(tf.cast(upstream, tf.bfloat16), tf.float32)
        y16, dx16, dgamma16, dbeta16 = _fused_and_grads(x16, gamma, beta, upstream)
        y32, dx32, dgamma32, dbeta32 = _fused_and_grads(tf.cast(x16, tf.float32), gamma, beta,
                                                        upstream)
        self.assertEqual(y16.dtype, tf.bfloat16)
        self.assertEqual(dx16.dtype, tf.bfloat16)
        self.assertAllEqual(y16, tf.cast(y32, tf.bfloat16))
        self.assertAllEqual(dx16, tf.cast(dx32, tf.bfloat16))
        self.assertAllClose(dgamma16, dgamma32, rtol=1e-6, atol=1e-6)
        self.assertAllClose(dbeta16, dbeta32, rtol=1e-6, atol=1e-6)
        # A float32 input with a bfloat16 output (a mixed-precision layer).
        y = fused_layer_norm(x, gamma, beta, EPSILON, dtype="bfloat16")
        self.assertAllEqual(y, tf.cast(fused_layer_norm(x, gamma, beta, EPSILON), tf.bfloat16))

    def test_a_constant_row_normalises_to_beta(self):
        x = tf.fill([2, 8], 3.5)
        gamma, beta = tf.fill([8], 2.0), tf.range(8, dtype=tf.float32)
        self.assertAllEqual(fused_layer_norm(x, gamma, beta, 1e-6), tf.tile(beta[None], [2, 1]))

    def test_patched_layer_in_a_training_step_matches_keras_layer_norm(self):
        x, _, _, upstream = _inputs((4, 6, 32), seed=3)
        norm = keras.layers.LayerNormalization(epsilon=EPSILON,
                                               gamma_initializer="random_normal",
                                               beta_initializer="random_normal")
        norm.build(x.shape)
        plain = self._value_and_grads(norm, x, upstream, compiled=True)
        calls = []
        real = fused_module._fused

        def counting(*args):
            calls.append(args)
            return real(*args)

        fused_module._fused = counting
        try:
            self.assertIs(use_fused_layer_norm(norm), norm)
            outside = self._value_and_grads(norm, x, upstream, compiled=False)
            self.assertEqual(calls, [])  # inference, exports: Keras' own ops
            fused = self._value_and_grads(norm, x, upstream, compiled=True)
            self.assertEqual(calls, [(EPSILON, "float32")])
        finally:
            fused_module._fused = real
        for name, p, o, f in zip(("y", "dx", "dgamma", "dbeta"), plain, outside, fused):
            np.testing.assert_array_equal(o, p, err_msg=name)
            np.testing.assert_allclose(f, p, rtol=1e-5, atol=1e-5, err_msg=name)
        self.assertEqual(type(norm), keras.layers.LayerNormalization)
        self.assertEqual(norm.get_config()["epsilon"], EPSILON)

    def _value_and_grads(self, norm, x, upstream, compiled):
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = norm(x)
                total = tf.reduce_sum(y * upstream)
            return [y] + tape.gradient(total, [x, norm.gamma, norm.beta])

        if compiled:
            with compiled_activations():
                return [v.numpy() for v in step()]
        return [v.numpy() for v in step()]

    def test_layer_norms_over_other_axes_or_without_beta_keep_keras_ops(self):
        x = tf.random.stateless_normal([2, 3, 4], [0, 0])
        for kwargs in ({"axis": 1}, {"center": False}, {"scale": False}):
            norm = use_fused_layer_norm(keras.layers.LayerNormalization(**kwargs))
            norm.build(x.shape)
            with compiled_activations():
                got = norm(x)
            del norm.call  # the class's own
            np.testing.assert_array_equal(got, norm(x), err_msg=str(kwargs))

    def test_pretrainer_step_gradients_match_keras_layer_norm(self):
        config = tiny_config()
        keras.utils.set_random_seed(0)
        pretrainer = build_pretrainer(config)
        norms = [layer for layer in pretrainer._flatten_layers()
                 if isinstance(layer, keras.layers.LayerNormalization)]
        patched = [n for n in norms if getattr(n, "fused_layer_norm", False)]
        # Every encoder LayerNorm of both towers and the shared embeddings'.
        blocks = config.num_layers + config.generator_depth
        self.assertGreaterEqual(len(patched), 2 * blocks + 1)
        batch = {"input_ids": tf.constant(np.arange(2 * 12).reshape(2, 12) % 50 + 5, tf.int32),
                 "input_mask": tf.ones([2, 12], tf.int32),
                 "segment_ids": tf.zeros([2, 12], tf.int32)}
        variables = pretrainer.discriminator.trainable_variables
        # A random linear read-out: the sum of a LayerNorm's squared outputs
        # would have no gradient below it.
        readout = tf.random.stateless_normal([2, 12, config.hidden_size], [7, 7])

        def gradients():
            with compiled_activations():
                with tf.GradientTape() as tape:
                    out = pretrainer.discriminator(batch, training=False)["sequence_output"]
                    total = tf.reduce_sum(out * readout)
                grads = tape.gradient(total, variables)
            return [total] + [tf.convert_to_tensor(g).numpy() for g in grads]

        fused = gradients()
        for norm in patched:
            del norm.call
        plain = gradients()
        # float32 rounding against the largest gradient entry (some, as the
        # key biases', are zero up to rounding).
        scale = max(np.abs(p).max() for p in plain[1:])
        self.assertGreater(scale, 1.0)
        for f, p, v in zip(fused[1:], plain[1:], variables):
            np.testing.assert_allclose(f, p, rtol=1e-4, atol=1e-6 * scale, err_msg=v.path)
        np.testing.assert_allclose(fused[0], plain[0], rtol=1e-5)


class FusedLayerNormExamplesTest(TestCase):
    def test_docstring_examples_run(self):
        results = doctest.testmod(importlib.import_module("keras_electra.layers.fused_layer_norm"))
        self.assertGreater(results.attempted, 3)
        self.assertEqual(results.failed, 0)
