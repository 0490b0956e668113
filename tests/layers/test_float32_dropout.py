import keras
import numpy as np
import tensorflow as tf

from keras_electra.builders import build_pretrainer
from keras_electra.layers import float32_dropout, use_float32_dropout
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_classifier import ElectraClassifier
from tests.test_case import TestCase, tiny_config

RATE = 0.1
N = 4096 * 1024
# The standard deviation of a kept fraction, and of sum(y) / sum(x) for x
# uniform in [1, 2) (mean 1.5, mean square 7/3), over N values.
KEEP_SIGMA = np.sqrt(RATE * (1 - RATE) / N)
RATIO_SIGMA = np.sqrt(RATE * (1 - RATE)) / (1 - RATE) * np.sqrt(7 / 3 / N) / 1.5


def _dropouts(layer):
    return [sub for sub in layer._flatten_layers() if isinstance(sub, keras.layers.Dropout)]


def _bfloat16_ones_to_two(seed=0):
    # Exactly representable bfloat16 values, so x means the same in both dtypes.
    x = tf.random.stateless_uniform([N], [seed, 1], minval=1.0, maxval=2.0)
    return tf.cast(x, tf.bfloat16)


class Float32DropoutTest(TestCase):
    def test_float32_values_and_gradients_are_keras_own(self):
        x = tf.random.stateless_normal([64, 33], [1, 2])
        keras_dropout = keras.layers.Dropout(RATE, seed=7)
        ours = use_float32_dropout(keras.layers.Dropout(RATE, seed=7))
        for _ in range(3):  # the seed generators advance in step
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(x)
                expected, actual = keras_dropout(x, training=True), ours(x, training=True)
            self.assertAllEqual(actual, expected)
            self.assertAllEqual(tape.gradient(actual, x, output_gradients=x),
                                tape.gradient(expected, x, output_gradients=x))
            self.assertGreater(float(tf.reduce_mean(tf.cast(actual == 0, tf.float32))), 0.0)
        self.assertAllEqual(ours(x, training=False), x)

    def test_bfloat16_keeps_the_float32_mask_and_rounds_the_float32_product(self):
        x16 = _bfloat16_ones_to_two()
        x32 = tf.cast(x16, tf.float32)
        ours16 = use_float32_dropout(keras.layers.Dropout(RATE, seed=3, dtype="mixed_bfloat16"))
        ours32 = use_float32_dropout(keras.layers.Dropout(RATE, seed=3))
        y16, y32 = ours16(x16, training=True), ours32(x32, training=True)
        self.assertEqual(y16.dtype, tf.bfloat16)
        self.assertAllEqual(y16 == 0, y32 == 0)
        self.assertAllEqual(y16, tf.cast(y32, tf.bfloat16))

    def test_bfloat16_drops_the_rate_and_keeps_the_mean(self):
        x = _bfloat16_ones_to_two()
        y = use_float32_dropout(keras.layers.Dropout(RATE, seed=5, dtype="mixed_bfloat16"))(
            x, training=True)
        dropped = float(tf.reduce_mean(tf.cast(y == 0, tf.float64)))
        ratio = float(tf.reduce_sum(tf.cast(y, tf.float64)) / tf.reduce_sum(tf.cast(x, tf.float64)))
        self.assertLess(abs(dropped - RATE), 5 * KEEP_SIGMA)
        self.assertLess(abs(ratio - 1.0), 5 * RATIO_SIGMA)
        # Why this module exists: Keras' own bfloat16 dropout draws bfloat16
        # uniforms (multiples of 1/128) and scales by bfloat16(1 / 0.9), so it
        # drops 13/128 of the values and keeps 0.9967 of the mean.
        keras_y = keras.layers.Dropout(RATE, seed=5, dtype="mixed_bfloat16")(x, training=True)
        keras_dropped = float(tf.reduce_mean(tf.cast(keras_y == 0, tf.float64)))
        keras_ratio = float(tf.reduce_sum(tf.cast(keras_y, tf.float64))
                            / tf.reduce_sum(tf.cast(x, tf.float64)))
        self.assertLess(abs(keras_dropped - 13 / 128), 5 * KEEP_SIGMA)
        self.assertLess(keras_ratio, 1.0 - 10 * RATIO_SIGMA)

    def test_bfloat16_gradient_is_the_mask_times_the_float32_scale(self):
        x = _bfloat16_ones_to_two()[:4096]
        upstream = tf.cast(tf.random.stateless_normal([4096], [4, 4]), tf.bfloat16)
        seed = tf.constant([11, 12])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = float32_dropout(x, RATE, seed)
        gradient = tape.gradient(y, x, output_gradients=upstream)
        keep = tf.random.stateless_uniform([4096], seed) >= RATE
        expected = tf.cast(tf.where(keep, tf.cast(upstream, tf.float32) * np.float32(1 / 0.9), 0.0),
                           tf.bfloat16)
        self.assertEqual(gradient.dtype, tf.bfloat16)
        self.assertAllEqual(gradient, expected)

    def test_float64_is_scaled_in_float64(self):
        x = tf.random.stateless_normal([4096], [6, 6], dtype=tf.float64)
        seed = tf.constant([3, 4])
        keep = tf.random.stateless_uniform([4096], seed) >= RATE
        expected = tf.where(keep, x * (1 / 0.9), tf.constant(0.0, tf.float64))
        self.assertAllEqual(float32_dropout(x, RATE, seed), expected)

    def test_compiles_with_xla(self):
        # XLA may pick another stateless algorithm than the CPU kernel (as for
        # Keras' own dropout), so the mask is the compiled draw's.
        x = tf.random.stateless_normal([64, 16], [0, 0])
        seed = tf.constant([1, 2])

        def dropout_and_mask(x):
            return (float32_dropout(x, RATE, seed),
                    tf.random.stateless_uniform(tf.shape(x), seed) >= RATE)

        y, keep = tf.function(dropout_and_mask, jit_compile=True)(x)
        self.assertAllEqual(y, tf.where(keep, x * np.float32(1 / 0.9), 0.0))
        self.assertGreater(float(tf.reduce_mean(tf.cast(keep, tf.float32))), 0.8)

    def test_every_dropout_of_the_towers_and_task_heads_is_float32(self):
        pretrainer = build_pretrainer(tiny_config(dropout=0.1))
        for tower in (pretrainer.generator, pretrainer.discriminator):
            dropouts = _dropouts(tower)
            # The embeddings' and, per block, attention probabilities',
            # attention output's and feed-forward output's.
            self.assertEqual(len(dropouts), 1 + 3 * tower.num_layers)
            self.assertTrue(all(getattr(d, "float32_dropout", False) for d in dropouts))
        restored = ElectraBackbone.from_config(pretrainer.discriminator.get_config())
        self.assertTrue(all(getattr(d, "float32_dropout", False) for d in _dropouts(restored)))
        classifier = ElectraClassifier(restored, num_classes=2)
        self.assertTrue(getattr(classifier.dropout_layer, "float32_dropout", False))

    def test_other_dropouts_are_left_to_keras(self):
        shaped = keras.layers.Dropout(RATE, noise_shape=(None, 1))
        off = keras.layers.Dropout(0.0)
        for layer in (shaped, off):
            use_float32_dropout(layer)
        self.assertFalse(getattr(shaped, "float32_dropout", False))
        x = tf.ones([4, 3])
        self.assertAllEqual(off(x, training=True), x)
