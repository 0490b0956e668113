import importlib

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from keras_electra.builders import build_pretrainer
from keras_electra.layers import use_fast_dropout, use_lean_attention
from keras_electra.layers.activations import compiled_activations
from tests.test_case import TestCase, tiny_config

# The module (the package's `lean_attention` is the function).
lean_module = importlib.import_module("keras_electra.layers.lean_attention")


def _seed_generators(layer):
    return [sub.seed_generator for sub in layer._flatten_layers()
            if isinstance(sub, keras.layers.Dropout)]


def _block(dtype=None, seed=0):
    keras.utils.set_random_seed(seed)
    block = keras_hub.layers.TransformerEncoder(64, num_heads=4, dropout=0.25, dtype=dtype)
    block.build((3, 10, 32))
    return use_fast_dropout(block)


def _inputs(seed=0):
    x = tf.random.stateless_normal([3, 10, 32], [seed, 1])
    upstream = tf.random.stateless_normal([3, 10, 32], [seed, 2])
    # Example 1 has 4 padding tokens; example 2 is all padding (every key
    # masked: the softmax is uniform and its `where` zeroes the gradient).
    padding = tf.constant([[1] * 10, [1] * 6 + [0] * 4, [0] * 10], tf.int32)
    return x, upstream, padding


def _step(block, x, upstream, padding, training=True, compiled=True):
    """The block's output and the gradients of sum(output * upstream), from
    the seed-generator states the block had before the call (restored)."""
    generators = _seed_generators(block)
    states = [g.state.numpy() for g in generators]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = block(x, padding_mask=padding, training=training)
            total = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
        return [y] + tape.gradient(total, [x] + block.trainable_variables)

    if compiled:
        with compiled_activations():
            values = [tf.cast(v, tf.float32).numpy() for v in step()]
    else:
        values = [tf.cast(v, tf.float32).numpy() for v in step()]
    for generator, state in zip(generators, states):
        generator.state.assign(state)
    return values


KEY_BIAS = "self_attention_layer/key/bias"


def _names(block):
    return ["output", "d_input"] + [v.path for v in block.trainable_variables]


def _key_kernel(names):
    return next(i for i, name in enumerate(names) if name.endswith("self_attention_layer/key/kernel"))


class LeanAttentionTest(TestCase):
    def _plain_and_lean_steps(self, block, **kwargs):
        """The plain and the lean step of `block` from the same seed states,
        and how many times `lean_attention` ran in the lean one."""
        x, upstream, padding = _inputs()
        attention = block._self_attention_layer
        plain = _step(block, x, upstream, padding, **kwargs)
        calls = []
        real = lean_module.lean_attention

        def counting(*args, **kw):
            calls.append(1)
            return real(*args, **kw)

        lean_module.lean_attention = counting
        try:
            self.assertIs(use_lean_attention(block), block)
            self.assertTrue(attention.lean_attention)
            lean = _step(block, x, upstream, padding, **kwargs)
        finally:
            lean_module.lean_attention = real
            del attention._compute_attention  # the class's own, for the next test
            attention.lean_attention = False
        return plain, lean, calls

    def _assert_same_step(self, block, rtol, atol, **kwargs):
        plain, lean, calls = self._plain_and_lean_steps(block, **kwargs)
        names = _names(block)
        key_kernel = np.abs(plain[_key_kernel(names)]).max()
        for name, p, q in zip(names, plain, lean):
            # The key bias's gradient is zero in exact arithmetic (a softmax
            # row does not change when all its scores move together): both
            # are rounding noise, measured against the key kernel's gradient.
            scale = key_kernel if name.endswith(KEY_BIAS) else np.abs(p).max()
            np.testing.assert_allclose(q, p, rtol=rtol, atol=atol * scale, err_msg=name)
        return calls, plain

    def test_training_step_float32_values_and_gradients_are_the_plain_attentions(self):
        calls, plain = self._assert_same_step(_block(), rtol=1e-5, atol=1e-6)
        self.assertEqual(len(calls), 1)
        # Dropout acted (the output is not the inference output) and the
        # all-padding example's input gradient is finite.
        x, upstream, padding = _inputs()
        block = _block()
        inference = _step(block, x, upstream, padding, training=False)
        self.assertGreater(np.abs(plain[0] - inference[0]).max(), 0.1)
        self.assertTrue(np.isfinite(plain[1]).all())

    def test_training_step_bfloat16_is_as_close_to_float32_as_keras_bfloat16(self):
        # The lean softmax works in float32 and rounds once; Keras' runs in
        # bfloat16. Against the float32 step (same weights, same masks),
        # the lean step's error is measured beside Keras' own bfloat16 error.
        x, upstream, padding = _inputs()
        reference = _step(_block(), x, upstream, padding)
        plain, lean, calls = self._plain_and_lean_steps(_block("mixed_bfloat16"))
        self.assertEqual(len(calls), 1)
        names = _names(_block())
        key_kernel = np.abs(reference[_key_kernel(names)]).max()
        for name, r, p, q in zip(names, reference, plain, lean):
            if name.endswith(KEY_BIAS):
                self.assertLess(np.abs(q).max(), 1e-2 * key_kernel, msg=name)
                continue
            largest = np.abs(r).max()
            lean_rms, plain_rms = (np.sqrt(np.mean((v - r) ** 2)) / largest for v in (q, p))
            lean_max, plain_max = (np.abs(v - r).max() / largest for v in (q, p))
            self.assertLess(lean_rms, 1.25 * plain_rms + 1e-4, msg=name)
            self.assertLess(lean_max, 1.25 * plain_max + 1e-3, msg=name)

    def test_inference_and_steps_outside_the_compiled_context_keep_keras_attention(self):
        for kwargs in ({"training": False}, {"compiled": False}):
            calls, _ = self._assert_same_step(_block(), rtol=0, atol=0, **kwargs)
            self.assertEqual(calls, [], msg=str(kwargs))

    def test_attention_scores_requests_keep_keras_attention(self):
        block = use_lean_attention(_block())
        x, _, padding = _inputs()
        with compiled_activations():
            y, scores = block(x, padding_mask=padding, training=True,
                              return_attention_scores=True)
        self.assertEqual(tuple(scores.shape), (3, 4, 10, 10))
        np.testing.assert_allclose(scores.numpy()[:2].sum(-1), 1.0, rtol=1e-5)

    def test_pretrainer_attention_is_lean_in_both_towers(self):
        pretrainer = build_pretrainer(tiny_config())
        attentions = [layer for layer in pretrainer._flatten_layers()
                      if isinstance(layer, keras.layers.MultiHeadAttention)]
        config = tiny_config()
        self.assertEqual(len(attentions), config.num_layers + config.generator_depth)
        self.assertTrue(all(a.lean_attention for a in attentions))
