import doctest

import numpy as np
import tensorflow as tf

from keras_electra.layers import bfloat16_bits
from keras_electra.layers.activations import compiled_forward_backward, gelu
from keras_electra.layers.bfloat16_bits import narrow, widen
from tests.test_case import TestCase

# float32 bit patterns where rounding to bfloat16 can go wrong: zeros, the
# smallest and largest subnormals, ties to even (down and up), just below a
# tie, the largest finite (rounds to infinity), infinities, and NaNs whose
# payload would carry into the exponent.
EDGES = np.array([
    0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00008000, 0x00018000,
    0x3F808000, 0x3F818000, 0x3F807FFF, 0xBF818000, 0x7F7FFFFF, 0xFF7FFFFF,
    0x7F7F8000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFF800001,
    0x7FFFFFFF, 0xFFBFFFFF], np.uint32)


def _float32_patterns(n, seed=0):
    random = np.random.default_rng(seed).integers(0, 2**32, n, dtype=np.uint64)
    return tf.bitcast(tf.constant(np.concatenate([EDGES, random.astype(np.uint32)])),
                      tf.float32)


def _bits16(x):
    return tf.bitcast(x, tf.uint16).numpy()


class NarrowTest(TestCase):
    def test_equals_tf_cast_bit_for_bit_in_xla_and_in_tensorflow_ops(self):
        y = _float32_patterns(1 << 20)
        expected = _bits16(tf.cast(y, tf.bfloat16))
        nan = np.isnan(y.numpy())
        self.assertEqual(int(nan[:len(EDGES)].sum()), 5)
        for name, function in (("xla", tf.function(narrow, jit_compile=True)),
                               ("ops", narrow)):
            with self.subTest(name):
                got = function(y, tf.bfloat16)
                self.assertEqual(got.dtype, tf.bfloat16)
                self.assertAllEqual(_bits16(got)[~nan], expected[~nan])
                # NaNs stay NaNs (tf.cast's payloads need not be kept).
                self.assertTrue(np.isnan(got.numpy().astype(np.float32)[nan]).all())

    def test_rounds_ties_to_even_and_overflows_to_infinity(self):
        one_ulp = 2.0 ** -7  # a bfloat16 ulp at 1
        y = tf.constant([1 + one_ulp / 2, 1 + 1.5 * one_ulp, 1 + one_ulp / 2 * 1.0001,
                         np.finfo(np.float32).max], tf.float32)
        got = narrow(y, tf.bfloat16).numpy().astype(np.float32).tolist()
        self.assertEqual(got, [1.0, 1 + 2 * one_ulp, 1 + one_ulp, float("inf")])

    def test_other_dtypes_are_tf_cast(self):
        y = _float32_patterns(4096)
        finite = np.isfinite(y.numpy())
        for dtype in (tf.float16, tf.float32):
            with self.subTest(dtype.name):
                got = narrow(y, dtype)
                self.assertEqual(got.dtype, dtype)
                self.assertAllEqual(got.numpy()[finite], tf.cast(y, dtype).numpy()[finite])


class WidenTest(TestCase):
    def test_every_bfloat16_widens_as_tf_cast(self):
        every = tf.bitcast(tf.constant(np.arange(1 << 16, dtype=np.uint16)), tf.bfloat16)
        expected = tf.cast(every, tf.float32).numpy()
        nan = np.isnan(expected)
        self.assertEqual(int(nan.sum()), 2 * 127)  # 2 signs x 127 non-zero mantissas
        for name, function in (("xla", tf.function(widen, jit_compile=True)), ("ops", widen)):
            with self.subTest(name):
                got = function(every).numpy()
                self.assertEqual(got.dtype, np.float32)
                self.assertAllEqual(got.view(np.uint32)[~nan], expected.view(np.uint32)[~nan])
                self.assertTrue(np.isnan(got[nan]).all())

    def test_other_dtypes_are_tf_cast(self):
        x = tf.constant([1.5, -0.25, 65504.0], tf.float16)
        self.assertAllEqual(widen(x), [1.5, -0.25, 65504.0])
        self.assertEqual(widen(tf.constant([2.0])).dtype, tf.float32)


class StepFunctionsTest(TestCase):
    def test_bfloat16_gelu_of_the_step_is_the_rounded_float32_gelu(self):
        # What the conversions are for: the step's XLA GELU and its gradient
        # in bfloat16 are the float32 ones, rounded once, as with tf.cast.
        x = tf.random.stateless_normal([4096, 64], seed=[1, 2]) * 3
        upstream = tf.random.stateless_normal([4096, 64], seed=[3, 4])
        x16, up16 = tf.cast(x, tf.bfloat16), tf.cast(upstream, tf.bfloat16)
        forward, backward = compiled_forward_backward(gelu)
        x32, up32 = tf.cast(x16, tf.float32), tf.cast(up16, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x32)
            y32 = tf.nn.gelu(x32, approximate=False)
        expected_forward = tf.cast(y32, tf.bfloat16)
        expected_backward = tf.cast(tape.gradient(y32, x32, output_gradients=up32), tf.bfloat16)
        got_forward, got_backward = forward(x16), backward(x16, up16)
        self.assertEqual(got_forward.dtype, tf.bfloat16)
        # XLA's erf and exp against TensorFlow's: a float32 ulp or two apart,
        # which moves a rounding to bfloat16 by one ulp at most, rarely.
        for got, expected in ((got_forward, expected_forward),
                              (got_backward, expected_backward)):
            got, expected = (tf.cast(t, tf.float32).numpy() for t in (got, expected))
            ulp = np.abs(expected) * 2.0 ** -7 + 1e-30
            self.assertLessEqual(float(np.max(np.abs(got - expected) / ulp)), 1.0)
            self.assertGreater(float(np.mean(got == expected)), 0.99)

    def test_docstring_examples(self):
        results = doctest.testmod(bfloat16_bits)
        self.assertGreater(results.attempted, 0)
        self.assertEqual(results.failed, 0)
