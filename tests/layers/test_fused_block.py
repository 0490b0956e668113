import doctest
import importlib

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from keras_electra.layers.activations import gelu
from keras_electra.layers.fast_dropout import apply_keep_mask, keep_mask, use_fast_dropout
from keras_electra.layers.fused_block import (dropout_add_layer_norm, residual_norm_functions,
                                              use_fused_block)
from keras_electra.layers.fused_layer_norm import use_fused_layer_norm
from keras_electra.layers.lean_attention import use_lean_attention
from keras_electra.layers.recomputed_activation import use_recomputed_activation
from keras_electra.layers.rematerialize import dropout_seed_generators, rematerialize
from tests.layers.encoder_blocks import assert_steps_close, block_step
from tests.test_case import TestCase


def _reference(h, residual, keep, rate, gamma, beta, bias):
    """The unfused ops: bias add, `fast_dropout`'s mask and scale, the residual add, LayerNorm."""
    x = h + tf.cast(bias, h.dtype)
    total = apply_keep_mask(x, keep, rate) + residual
    norm = keras.layers.LayerNormalization(epsilon=1e-12)
    norm.build(total.shape)
    norm.gamma.assign(gamma)
    norm.beta.assign(beta)
    return norm(total)


def _gradients(function, h, residual, gamma, beta, bias, upstream):
    with tf.GradientTape() as tape:
        tape.watch([h, residual, gamma, beta, bias])
        y = function(h, residual, gamma, beta, bias)
        total = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
    return [y] + tape.gradient(total, [h, residual, gamma, beta, bias])


def _dropout_block(dtype=None, recomputed=False, fused=False, remat=False):
    """An ElectraBackbone-style post-LN block (width 16, 2 heads, GELU, dropout 0.3),
    weights from seed 0, with the training-step layers the backbone gives it (fused and
    rematerialized in the backbone's order, when asked)."""
    keras.utils.set_random_seed(0)
    block = keras_hub.layers.TransformerEncoder(48, num_heads=2, dropout=0.3, activation=gelu,
                                                dtype=dtype)
    if fused:
        use_fused_block(block)
    if remat:
        rematerialize(block)
    block.build((2, 6, 16))
    for use in (use_fast_dropout, use_lean_attention, use_fused_layer_norm):
        use(block)
    if recomputed:
        use_recomputed_activation(block)
    return block


def _step_from(block, states, x, upstream, compiled=True):
    """`block_step` with every dropout seed generator first set to `states`."""
    for generator, state in zip(dropout_seed_generators(block), states):
        generator.state.assign(state)
    return block_step(block, x, upstream, compiled)


class DropoutAddLayerNormTest(TestCase):
    def test_values_and_gradients_are_the_unfused_ops(self):
        h = tf.random.stateless_normal([2, 5, 8], [0, 1])
        residual = tf.random.stateless_normal([2, 5, 8], [0, 2])
        gamma = tf.random.stateless_normal([8], [0, 3]) + 1.0
        beta = tf.random.stateless_normal([8], [0, 4])
        bias = tf.random.stateless_normal([8], [0, 5])
        upstream = tf.random.stateless_normal([2, 5, 8], [0, 6])
        keep = keep_mask([2, 5, 8], 0.3, tf.constant([4, 2]))
        kept = float(tf.reduce_mean(tf.cast(keep, tf.float32)))
        self.assertTrue(0.5 < kept < 0.9, kept)  # some values dropped, most kept

        def fused(h, residual, gamma, beta, bias):
            return dropout_add_layer_norm(h, residual, keep, 0.3, gamma, beta, 1e-12, bias=bias)

        got = _gradients(fused, h, residual, gamma, beta, bias, upstream)
        want = _gradients(lambda *a: _reference(*a[:2], keep, 0.3, *a[2:]),
                          h, residual, gamma, beta, bias, upstream)
        # The reference LayerNorm's own gamma and beta are constants: their
        # gradients come from a hand computation instead.
        xhat = keras.layers.LayerNormalization(epsilon=1e-12, center=False, scale=False)(
            apply_keep_mask(h + bias, keep, 0.3) + residual)
        want[3] = tf.reduce_sum(upstream * xhat, axis=[0, 1])
        want[4] = tf.reduce_sum(upstream, axis=[0, 1])
        for name, g, w in zip(("y", "dh", "dresidual", "dgamma", "dbeta", "dbias"), got, want):
            if w is None:
                continue
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5 * np.abs(w).max(),
                                       err_msg=name)
        # Dropped positions pass no gradient to h; every position passes the
        # LayerNorm's to the residual.
        self.assertAllEqual(tf.equal(got[1], 0.0), tf.logical_not(keep))
        # The bias gradient is the sum of h's.
        np.testing.assert_allclose(got[5], tf.reduce_sum(got[1], axis=[0, 1]), rtol=1e-6,
                                   atol=1e-6)

    def test_bfloat16_rounds_the_sum_once_before_normalising(self):
        h = tf.cast(tf.random.stateless_normal([4, 16], [1, 1]) * 3.0, tf.bfloat16)
        residual = tf.cast(tf.random.stateless_normal([4, 16], [1, 2]), tf.bfloat16)
        keep = keep_mask([4, 16], 0.1, tf.constant([1, 9]))
        forward, _ = residual_norm_functions(0.1, 1e-12, False)
        y, total, mean, rstd = forward(h, residual, keep, tf.ones([16]), tf.zeros([16]))
        # Kept values scaled by 2**16 / (2**16 - 6554), in float32, then added.
        exact = (tf.where(keep, tf.cast(h, tf.float32) * (65536 / 58982), 0.0)
                 + tf.cast(residual, tf.float32))
        self.assertEqual(total.dtype, tf.bfloat16)
        self.assertAllEqual(total, tf.cast(exact, tf.bfloat16))
        normalised = keras.layers.LayerNormalization(epsilon=1e-12)(tf.cast(total, tf.float32))
        self.assertEqual(y.dtype, tf.bfloat16)
        # One bfloat16 rounding of the float32 LayerNorm of the rounded sum.
        self.assertAllClose(tf.cast(y, tf.float32), normalised, rtol=2 ** -8, atol=1e-6)
        self.assertAllClose(mean[:, 0], tf.reduce_mean(tf.cast(total, tf.float32), -1), atol=1e-6)


class UseFusedBlockTest(TestCase):
    def test_block_step_is_the_plain_blocks_with_the_same_masks(self):
        x = tf.random.stateless_normal([2, 6, 16], [2, 1])
        upstream = tf.random.stateless_normal([2, 6, 16], [2, 2])
        for dtype, recomputed, rtol in ((None, False, 1e-5), (None, True, 1e-5),
                                        ("mixed_bfloat16", False, 3e-2)):
            label = f"{dtype} recomputed={recomputed}"
            block = _dropout_block(dtype, recomputed)
            generators = dropout_seed_generators(block)
            states = [tf.identity(g.state.value) for g in generators]
            plain = _step_from(block, states, x, upstream)[0]
            plain_states = [g.state.numpy() for g in generators]
            self.assertIs(use_fused_block(block), block)
            self.assertTrue(block.fused_block)
            fused, graph = _step_from(block, states, x, upstream)
            # The same seeds drawn (and so the same masks: with another mask
            # the values below would differ by far more than rounding).
            for generator, state in zip(generators, plain_states):
                np.testing.assert_array_equal(generator.state.numpy(), state, err_msg=label)
            outside = _step_from(block, states, x, upstream, compiled=False)[0]
            assert_steps_close(block, plain, {"fused": fused, "outside": outside}, rtol, label)
            functions = {f.signature.name for f in graph.as_graph_def().library.function}
            self.assertTrue(any("residual_norm_forward" in f for f in functions), label)

    def test_rematerialized_fused_block_has_the_fused_blocks_gradients(self):
        x = tf.random.stateless_normal([2, 6, 16], [3, 1])
        upstream = tf.random.stateless_normal([2, 6, 16], [3, 2])
        for dtype, rtol in ((None, 1e-5), ("mixed_bfloat16", 1e-6)):
            steps = {}
            for remat in (False, True):
                block = _dropout_block(dtype, fused=True, remat=remat)
                states = [tf.identity(g.state.value) for g in dropout_seed_generators(block)]
                steps[remat], graph = _step_from(block, states, x, upstream)
            # The recomputation multiplies in the compute dtype, as the
            # forward pass does: the same values, and no mixed-dtype matmul.
            assert_steps_close(block, steps[False], {"remat": steps[True]}, rtol, dtype)
            graph_def = graph.as_graph_def()
            ops = {node.op for node in graph_def.node}
            ops |= {node.op for f in graph_def.library.function for node in f.node_def}
            self.assertIn("MatMul", ops, dtype)
            self.assertNotIn("SparseMatMul", ops, dtype)

    def test_blocks_it_cannot_fuse_keep_their_own_call(self):
        x = tf.random.stateless_normal([2, 6, 16], [4, 1])
        upstream = tf.random.stateless_normal([2, 6, 16], [4, 2])
        pre_ln = keras_hub.layers.TransformerEncoder(8, num_heads=2, normalize_first=True)
        self.assertFalse(getattr(use_fused_block(pre_ln), "fused_block", False))
        keras.utils.set_random_seed(0)
        no_dropout = keras_hub.layers.TransformerEncoder(48, num_heads=2, dropout=0.0)
        no_dropout.build((2, 6, 16))
        plain = block_step(no_dropout, x, upstream, compiled=True)[0]
        use_fused_block(no_dropout)
        values, graph = block_step(no_dropout, x, upstream, compiled=True)
        assert_steps_close(no_dropout, plain, {"fused": values}, 0.0, "dropout 0")
        functions = [f.signature.name for f in graph.as_graph_def().library.function]
        self.assertFalse(any("residual_norm" in f for f in functions))


class ExamplesTest(TestCase):
    def test_docstring_examples_run(self):
        module = importlib.import_module("keras_electra.layers.fused_block")
        results = doctest.testmod(module)
        self.assertGreater(results.attempted, 5)
        self.assertEqual(results.failed, 0)
