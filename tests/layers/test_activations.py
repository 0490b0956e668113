import keras
import numpy as np
import tensorflow as tf

from keras_electra.layers import activations
from keras_electra.layers.activations import (
    compiled_activations, gelu, gelu_approximate, hidden_act_name)
from tests.test_case import TestCase

# Wide enough to reach both tails (erfc -> 0 and -> 2) and the bend at 0.
X = np.linspace(-6.0, 6.0, 241, dtype=np.float32)


def _exact(x):
    # Independent of Keras: the erf form, in float64.
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def _tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def _graph_ops(fn, dtype):
    graph = tf.function(fn).get_concrete_function(tf.TensorSpec([None], dtype)).graph
    return graph.get_operations()


def _xla_calls(graph):
    """The function calls of `graph` that XLA must compile."""
    return [op for op in graph.get_operations()
            if op.type in ("PartitionedCall", "StatefulPartitionedCall")
            and op.node_def.attr["_XlaMustCompile"].b]


class ActivationsTest(TestCase):
    def test_compiled_activations_are_one_xla_call_only_within_the_context(self):
        for fn in (gelu, gelu_approximate):
            for dtype in (tf.bfloat16, tf.float32):
                spec = tf.TensorSpec([None], dtype)
                plain = tf.function(fn).get_concrete_function(spec).graph
                with compiled_activations():
                    compiled = tf.function(fn).get_concrete_function(spec).graph
                self.assertEqual(_xla_calls(plain), [])
                self.assertEqual(len(_xla_calls(compiled)), 1, msg=f"{fn.__name__} {dtype}")

    def test_compiled_values_and_gradients_match_the_plain_ones(self):
        for fn, reference in ((gelu, _exact), (gelu_approximate, _tanh)):
            # bfloat16 has 8 significant bits: one rounding is 2**-8 relative.
            # Where tanh saturates, TensorFlow's rounds to 1 and XLA's does
            # not, so the tanh form's slopes differ by up to 4e-6 there (XLA's
            # is the nearer: the true slope at 4.85 is 1 + 3.2e-6).
            for dtype, atol, rtol in ((tf.float32, 1e-5, 0), (tf.bfloat16, 1e-5, 2 ** -7)):
                x = tf.cast(tf.constant(X), dtype)

                @tf.function
                def value_and_gradient(x, fn=fn):
                    with tf.GradientTape() as tape:
                        tape.watch(x)
                        y = fn(x)
                    return y, tape.gradient(y, x)

                plain = value_and_gradient(x)
                with compiled_activations():
                    compiled = tf.function(value_and_gradient.python_function)(x)
                self.assertEqual(compiled[0].dtype, dtype)
                self.assertEqual(compiled[1].dtype, dtype)
                for a, b in zip(compiled, plain):
                    # XLA's erf and tanh differ from TensorFlow's by a few
                    # float32 ulps, and the gradient is the derivative's
                    # formula, not autodiff's; in bfloat16 either can move
                    # one rounding.
                    self.assertAllClose(tf.cast(a, tf.float32), tf.cast(b, tf.float32),
                                        atol=atol, rtol=rtol)
                self.assertAllClose(tf.cast(compiled[0], tf.float64),
                                    reference(tf.cast(x, tf.float64).numpy()), atol=atol,
                                    rtol=rtol)

    def test_float32_values_are_keras_gelu_and_the_formulas(self):
        x = tf.constant(X)
        self.assertAllEqual(gelu(x), keras.activations.gelu(x))
        self.assertAllEqual(gelu_approximate(x), keras.activations.gelu(x, approximate=True))
        self.assertAllClose(gelu(x), _exact(X.astype(np.float64)), atol=2e-6)
        self.assertAllClose(gelu_approximate(x), _tanh(X.astype(np.float64)), atol=2e-6)
        self.assertEqual(gelu(x).dtype, tf.float32)

    def test_16_bit_inputs_are_the_float32_value_rounded_once(self):
        for dtype in (tf.bfloat16, tf.float16):
            x = tf.cast(tf.constant(X), dtype)  # exactly representable inputs
            x32 = tf.cast(x, tf.float32)
            for fn, reference in ((gelu, _exact), (gelu_approximate, _tanh)):
                y = fn(x)
                self.assertEqual(y.dtype, dtype)
                self.assertAllEqual(y, tf.cast(fn(x32), dtype))
                # Rounded once: within half a 16-bit ulp of the float32 value,
                # so within that plus float32's own error of the float64 value
                # (bfloat16 has 8 significant bits, float16 11 and subnormals
                # 2**-24 apart).
                bits, tiny = (8, 0.0) if dtype == tf.bfloat16 else (11, 2.0 ** -24)
                exact = reference(x32.numpy().astype(np.float64))
                y32 = fn(x32).numpy().astype(np.float64)
                ulp = np.exp2(np.floor(np.log2(np.maximum(np.abs(y32), 1e-30))) - (bits - 1))
                ulp = np.maximum(ulp, tiny)
                error = np.abs(tf.cast(y, tf.float64).numpy() - exact)
                bound = 0.5 * ulp + np.abs(y32 - exact) + 1e-12
                self.assertTrue(np.all(error <= bound),
                                msg=f"{fn.__name__} {dtype.name}: max error / bound "
                                    f"{np.max(error / bound)}")

    def test_16_bit_erfc_and_tanh_run_in_float32(self):
        for fn, op_type in ((gelu, "Erfc"), (gelu_approximate, "Tanh")):
            for dtype in (tf.bfloat16, tf.float32):
                ops = [op for op in _graph_ops(fn, dtype) if op.type == op_type]
                self.assertEqual(len(ops), 1)
                self.assertEqual(ops[0].inputs[0].dtype, tf.float32)

    def test_16_bit_gradient_matches_float32(self):
        for fn in (gelu, gelu_approximate):
            x32 = tf.constant(X)
            x16 = tf.cast(x32, tf.bfloat16)
            with tf.GradientTape(persistent=True) as tape:
                tape.watch([x32, x16])
                y32, y16 = fn(x32), fn(x16)
            g32 = tape.gradient(y32, x32)
            g16 = tape.gradient(y16, x16)
            self.assertEqual(g16.dtype, tf.bfloat16)
            # GELU' lies in [-0.13, 1.13]: a bfloat16 ulp there is at most 2**-7.
            self.assertAllClose(tf.cast(g16, tf.float32), g32, atol=2 ** -7)

    def test_names_and_serialization(self):
        self.assertIs(activations.hidden_activation("gelu"), gelu)
        self.assertIs(activations.hidden_activation("gelu_approximate"), gelu_approximate)
        self.assertEqual(hidden_act_name(gelu), "gelu")
        self.assertEqual(hidden_act_name(gelu_approximate), "gelu_approximate")
        # Layers saved before keras_electra had its own `gelu` hold Keras'.
        self.assertEqual(hidden_act_name(keras.activations.gelu), "gelu")
        self.assertIsNone(hidden_act_name(keras.activations.relu))
        for fn in (gelu, gelu_approximate):
            layer = keras.layers.Dense(3, activation=fn)
            restored = keras.layers.Dense.from_config(layer.get_config())
            self.assertIs(restored.activation, fn)
        with self.assertRaisesRegex(ValueError, r"hidden_act must be one of \['gelu', "
                                                r"'gelu_approximate'\], got 'relu'"):
            activations.hidden_activation("relu")
