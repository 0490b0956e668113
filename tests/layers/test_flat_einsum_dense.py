import keras
import numpy as np
import tensorflow as tf

from keras_electra.layers.activations import compiled_activations
from keras_electra.layers.flat_einsum_dense import flat_equation, use_flat_einsum_dense
from tests.layers.encoder_blocks import assert_steps_close, block_step, gelu_block
from tests.test_case import TestCase


def _broadcast_matmuls(graph):
    """Batched matmuls of a 3-D tensor with a 2-D one (Keras' einsum projections)."""
    return [op for op in graph.get_operations() if op.type == "BatchMatMulV2"
            and sorted(len(i.shape) for i in op.inputs) == [2, 3]]


class FlatEquationTest(TestCase):
    def test_projections_and_their_axes(self):
        self.assertEqual(flat_equation("abc,cde->abde"), ("ab", "c", "de"))
        self.assertEqual(flat_equation("abcd,cde->abe"), ("ab", "cd", "e"))
        self.assertEqual(flat_equation("ab,bc->ac"), ("a", "b", "c"))

    def test_other_einsums_are_not_projections(self):
        for equation in ("abc,dce->abde",  # the contracted axis is not the kernel's first
                         "abc,cd->adb",  # output axes out of order
                         "abc,abd->cd",  # shared batch axes: a batched product
                         "ab,b->a" + "b",  # an axis kept and contracted
                         "...b,bc->...c",  # ellipsis
                         "abc,cde",  # no output
                         "abc,cd,de->abe"):  # three operands
            self.assertIsNone(flat_equation(equation), equation)


class UseFlatEinsumDenseTest(TestCase):
    def test_block_step_is_the_plain_blocks_with_2d_matmuls_only_in_the_compiled_context(self):
        x = tf.random.stateless_normal([2, 6, 16], [3, 1])
        upstream = tf.random.stateless_normal([2, 6, 16], [3, 2])
        for dtype, rtol in ((None, 1e-5), ("mixed_bfloat16", 2e-2)):
            block = gelu_block(dtype)
            plain, plain_graph = block_step(block, x, upstream, compiled=True)
            # Keras' query, key, value and output projections: batched matmuls
            # broadcasting the kernel (forward and input gradient); the kernel
            # gradient is a per-example product, summed over the batch.
            self.assertEqual(len(_broadcast_matmuls(plain_graph)), 4 * 2)
            self.assertIs(use_flat_einsum_dense(block), block)
            attention = block._self_attention_layer
            for dense in (attention._query_dense, attention._key_dense, attention._value_dense,
                          attention._output_dense):
                self.assertTrue(dense.flat_einsum_dense, dense.name)
            outside, outside_graph = block_step(block, x, upstream, compiled=False)
            flat, flat_graph = block_step(block, x, upstream, compiled=True)
            self.assertEqual(len(_broadcast_matmuls(outside_graph)), 4 * 2)
            self.assertEqual(_broadcast_matmuls(flat_graph), [])
            # Forward, input gradient and kernel gradient: three 2-D matmuls per
            # projection, and the feed-forward block's six.
            self.assertEqual(
                sum(op.type == "MatMul" for op in flat_graph.get_operations()), 4 * 3 + 6)
            assert_steps_close(block, plain, {"outside": outside, "flat": flat}, rtol, dtype)

    def test_values_by_hand(self):
        dense = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 2),
                                         bias_axes="de")
        dense.build((1, 1, 2))
        dense.kernel.assign(np.arange(8, dtype="float32").reshape(2, 2, 2))
        dense.bias.assign([[10.0, 20.0], [30.0, 40.0]])
        use_flat_einsum_dense(dense)
        with compiled_activations():
            y = dense(np.array([[[1.0, 2.0]]], "float32"))
        # [1, 2] . [[0, 1, 2, 3], [4, 5, 6, 7]] = [8, 11, 14, 17], plus the bias.
        self.assertAllEqual(y, [[[[18.0, 31.0], [44.0, 57.0]]]])

    def test_einsums_it_cannot_flatten_keep_keras_call(self):
        partial_bias = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 4),
                                                bias_axes="e")
        partial_bias.build((1, 3, 8))
        other = keras.layers.EinsumDense("abc,dce->abde", output_shape=(None, 2, 4))
        other.build((1, 3, 8))
        for dense in (partial_bias, other):
            use_flat_einsum_dense(dense)
            self.assertFalse(getattr(dense, "flat_einsum_dense", False), dense.equation)

    def test_lora_keeps_keras_call(self):
        dense = keras.layers.EinsumDense("abc,cd->abd", output_shape=(None, 4), bias_axes="d")
        dense.build((1, 3, 8))
        use_flat_einsum_dense(dense)
        x = np.ones((1, 3, 8), "float32")
        with compiled_activations():
            without_lora = dense(x)
            dense.enable_lora(2, a_initializer="ones", b_initializer="ones")
            got = dense(x)
        # Keras' call adds the low-rank update: 8 * 2 to every output.
        self.assertAllClose(got, keras.layers.EinsumDense.call(dense, x))
        self.assertAllClose(got - without_lora, np.full((1, 3, 4), 16.0))
