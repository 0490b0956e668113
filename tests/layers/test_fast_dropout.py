import doctest
import importlib

import keras
import numpy as np
import tensorflow as tf

from keras_electra.builders import build_pretrainer
from keras_electra.layers import fast_dropout, use_fast_dropout
from keras_electra.layers.fast_dropout import keep_threshold, next_seed
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_classifier import ElectraClassifier
from tests.test_case import TestCase, tiny_config

RATE = 0.1
DROPPED = 6554 / 65536  # the 16-bit rate: round(0.1 * 2**16) / 2**16
SCALE = np.float32(65536 / (65536 - 6554))
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


def _expected_keep(size, seed):
    """The keep mask restated in numpy: value i keeps when the i-th
    little-endian uint16 of the uint32 words is at least 6554."""
    words = tf.random.stateless_uniform([(size + 1) // 2], seed, minval=None, maxval=None,
                                        dtype=tf.uint32).numpy()
    halves = np.stack([words & 0xFFFF, words >> 16], axis=-1).reshape(-1)[:size]
    return halves >= 6554


class FastDropoutTest(TestCase):
    def test_threshold_is_the_rate_in_sixteen_bits(self):
        self.assertEqual(keep_threshold(0.1), 6554)
        self.assertEqual(keep_threshold(0.5), 32768)
        self.assertEqual(keep_threshold(0.0), 0)
        self.assertEqual(keep_threshold(1.0), 65536)

    def test_float32_values_are_the_sixteen_bit_mask_times_the_exact_scale(self):
        # An odd size: the last word's second half goes unused.
        x = tf.random.stateless_normal([63, 17], [1, 2])
        seed = tf.constant([5, 6])
        keep = _expected_keep(63 * 17, seed).reshape(63, 17)
        y = fast_dropout(x, RATE, seed)
        self.assertAllEqual(y, np.where(keep, x.numpy() * SCALE, 0.0))
        self.assertGreater(1 - keep.mean(), 0.05)
        self.assertLess(1 - keep.mean(), 0.15)

    def test_drops_the_rate_and_keeps_the_mean_in_float32_and_bfloat16(self):
        x16 = _bfloat16_ones_to_two()
        for x in (x16, tf.cast(x16, tf.float32)):
            y = fast_dropout(x, RATE, tf.constant([5, 5]))
            dropped = float(tf.reduce_mean(tf.cast(y == 0, tf.float64)))
            ratio = float(tf.reduce_sum(tf.cast(y, tf.float64))
                          / tf.reduce_sum(tf.cast(x, tf.float64)))
            self.assertLess(abs(dropped - DROPPED), 5 * KEEP_SIGMA)
            self.assertLess(abs(ratio - 1.0), 5 * RATIO_SIGMA)
        # Why the bfloat16 product is taken in float32: Keras' own bfloat16
        # dropout draws bfloat16 uniforms (multiples of 1/128) and scales by
        # bfloat16(1 / 0.9), so it drops 13/128 of the values and keeps
        # 0.9967 of the mean.
        keras_y = keras.layers.Dropout(RATE, seed=5, dtype="mixed_bfloat16")(x16, training=True)
        keras_dropped = float(tf.reduce_mean(tf.cast(keras_y == 0, tf.float64)))
        keras_ratio = float(tf.reduce_sum(tf.cast(keras_y, tf.float64))
                            / tf.reduce_sum(tf.cast(x16, tf.float64)))
        self.assertLess(abs(keras_dropped - 13 / 128), 5 * KEEP_SIGMA)
        self.assertLess(keras_ratio, 1.0 - 10 * RATIO_SIGMA)

    def test_bfloat16_keeps_the_float32_mask_and_rounds_the_float32_product(self):
        x16 = _bfloat16_ones_to_two()[:8192]
        seed = tf.constant([3, 9])
        y16, y32 = fast_dropout(x16, RATE, seed), fast_dropout(tf.cast(x16, tf.float32), RATE, seed)
        self.assertEqual(y16.dtype, tf.bfloat16)
        self.assertAllEqual(y16 == 0, y32 == 0)
        self.assertAllEqual(y16, tf.cast(y32, tf.bfloat16))

    def test_bfloat16_gradient_is_the_mask_times_the_float32_scale(self):
        x = _bfloat16_ones_to_two()[:4096]
        upstream = tf.cast(tf.random.stateless_normal([4096], [4, 4]), tf.bfloat16)
        seed = tf.constant([11, 12])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fast_dropout(x, RATE, seed)
        gradient = tape.gradient(y, x, output_gradients=upstream)
        expected = tf.cast(tf.where(_expected_keep(4096, seed),
                                    tf.cast(upstream, tf.float32) * SCALE, 0.0), tf.bfloat16)
        self.assertEqual(gradient.dtype, tf.bfloat16)
        self.assertAllEqual(gradient, expected)

    def test_float64_is_scaled_in_float64(self):
        x = tf.random.stateless_normal([4096], [6, 6], dtype=tf.float64)
        seed = tf.constant([3, 4])
        expected = np.where(_expected_keep(4096, seed), x.numpy() * (65536 / 58982), 0.0)
        self.assertAllEqual(fast_dropout(x, RATE, seed), expected)

    def test_rates_that_round_to_all_or_nothing(self):
        x = tf.random.stateless_normal([1000], [7, 7])
        self.assertAllEqual(fast_dropout(x, 1e-6, tf.constant([1, 1])), x)  # 0 / 2**16
        self.assertAllEqual(fast_dropout(x, 1.0, tf.constant([1, 1])), tf.zeros([1000]))

    def test_compiles_with_xla(self):
        # XLA may pick another stateless algorithm than the CPU kernel (as for
        # Keras' own dropout), so the check is the mask's form and rate.
        x = tf.random.stateless_uniform([255, 257], [0, 0], minval=1.0, maxval=2.0)
        y = tf.function(lambda x: fast_dropout(x, RATE, tf.constant([1, 2])),
                        jit_compile=True)(x)
        kept = y.numpy() != 0
        self.assertAllClose(y.numpy()[kept], x.numpy()[kept] * SCALE, rtol=1e-6)
        self.assertLess(abs((1 - kept.mean()) - DROPPED), 0.005)  # 65,535 values: sigma 0.0012

    def test_layers_draw_a_new_mask_per_call_and_none_in_inference(self):
        x = tf.ones([64, 33])
        a = use_fast_dropout(keras.layers.Dropout(RATE, seed=7))
        b = use_fast_dropout(keras.layers.Dropout(RATE, seed=7))
        first, second = a(x, training=True), a(x, training=True)
        self.assertFalse(np.array_equal(first, second))
        self.assertAllEqual(b(x, training=True), first)  # same seed, same masks
        self.assertAllEqual(b(x, training=True), second)
        self.assertAllEqual(a(x, training=False), x)

    def test_next_seed_is_the_seed_keras_dropout_draws(self):
        from keras.src.backend.tensorflow.random import _cast_seed
        from keras.src.random.seed_generator import draw_seed

        ours = keras.layers.Dropout(RATE, seed=2**31 + 5)  # an int64 state past int32
        theirs = keras.layers.Dropout(RATE, seed=2**31 + 5)
        for _ in range(3):
            seed = next_seed(ours)
            self.assertEqual(seed.dtype, tf.int32)
            self.assertAllEqual(seed, _cast_seed(draw_seed(theirs.seed_generator)))

    def test_docstring_examples(self):
        module = importlib.import_module("keras_electra.layers.fast_dropout")
        results = doctest.testmod(module, extraglobs={"tf": tf})
        self.assertGreater(results.attempted, 0)
        self.assertEqual(results.failed, 0)

    def test_every_dropout_of_the_towers_and_task_heads_is_fast(self):
        pretrainer = build_pretrainer(tiny_config(dropout=0.1))
        for tower in (pretrainer.generator, pretrainer.discriminator):
            dropouts = _dropouts(tower)
            # The embeddings' and, per block, attention probabilities',
            # attention output's and feed-forward output's.
            self.assertEqual(len(dropouts), 1 + 3 * tower.num_layers)
            self.assertTrue(all(getattr(d, "fast_dropout", False) for d in dropouts))
        restored = ElectraBackbone.from_config(pretrainer.discriminator.get_config())
        self.assertTrue(all(getattr(d, "fast_dropout", False) for d in _dropouts(restored)))
        classifier = ElectraClassifier(restored, num_classes=2)
        self.assertTrue(getattr(classifier.dropout_layer, "fast_dropout", False))

    def test_other_dropouts_are_left_to_keras(self):
        shaped = keras.layers.Dropout(RATE, noise_shape=(None, 1))
        off = keras.layers.Dropout(0.0)
        for layer in (shaped, off):
            use_fast_dropout(layer)
        self.assertFalse(getattr(shaped, "fast_dropout", False))
        x = tf.ones([4, 3])
        self.assertAllEqual(off(x, training=True), x)
