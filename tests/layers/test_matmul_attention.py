import doctest

import keras
import numpy as np
import tensorflow as tf

from keras_electra.layers import matmul_attention
from keras_electra.layers.matmul_attention import MatmulAttention, use_matmul_attention
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.layers.electra_embeddings import ElectraEmbeddings
from tests.test_case import TestCase

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 7, 16)).astype("float32")
# Row 1 has two padding keys; every query attends only to real keys.
MASK = np.ones((3, 7, 7), bool)
MASK[1, :, 5:] = False


def _pair(dropout):
    """A stock MultiHeadAttention and a MatmulAttention with the same weights and seeds."""
    layers = [cls(num_heads=4, key_dim=4, dropout=dropout, seed=3)
              for cls in (keras.layers.MultiHeadAttention, MatmulAttention)]
    for layer in layers:
        layer(X, X)
    layers[1].set_weights(layers[0].get_weights())
    return layers


class MatmulAttentionTest(TestCase):
    def test_equals_stock_attention_with_mask_and_scores(self):
        stock, ours = _pair(dropout=0.1)
        out, scores = ours(X, X, attention_mask=MASK, return_attention_scores=True)
        want, want_scores = stock(X, X, attention_mask=MASK, return_attention_scores=True)
        self.assertAllClose(out, want, atol=1e-6)
        self.assertAllClose(scores, want_scores, atol=1e-7)
        self.assertAllClose(np.asarray(scores)[1, :, :, 5:], np.zeros((4, 7, 2)))

    def test_training_dropout_and_gradients_equal_stock(self):
        stock, ours = _pair(dropout=0.3)
        # Same seed, same (batch, heads, query, key) layout: the same dropout mask.
        outputs, grads = [], []
        for layer in (stock, ours):
            x = tf.constant(X)
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, x, attention_mask=MASK, training=True)
                loss = tf.reduce_sum(y * y)
            outputs.append(y)
            grads.append(tape.gradient(loss, [x] + layer.trainable_variables))
        self.assertAllClose(outputs[1], outputs[0], atol=1e-5)
        self.assertFalse(np.allclose(outputs[0], stock(X, X, attention_mask=MASK)))
        for mine, theirs in zip(grads[1], grads[0]):
            self.assertAllClose(mine, theirs, atol=1e-4)

    def test_without_dropout_defers_to_keras_fused_path(self):
        stock, ours = _pair(dropout=0.0)
        self.assertAllClose(ours(X, X, attention_mask=MASK), stock(X, X, attention_mask=MASK),
                            atol=1e-6)

    def test_backbone_blocks_use_it_with_stock_variable_paths(self):
        def build():
            embeddings = ElectraEmbeddings(vocabulary_size=50, embedding_size=16,
                                           max_sequence_length=8)
            return ElectraBackbone(embeddings, hidden_size=16, num_layers=2, num_heads=2,
                                   intermediate_size=32, dropout=0.1)

        backbone = build()
        for block in backbone.encoder_blocks:
            self.assertIs(type(block._self_attention_layer), MatmulAttention)
        paths = [v.path for v in backbone.weights]
        self.assertIn("transformer_layer_0/self_attention_layer/query/kernel", paths)
        batch = {"input_ids": RNG.integers(5, 50, (2, 8)).astype("int32"),
                 "input_mask": np.array([[1] * 8, [1] * 5 + [0] * 3], "int32"),
                 "segment_ids": np.zeros((2, 8), "int32")}
        ours = backbone(batch)["sequence_output"]
        for block in backbone.encoder_blocks:  # back to Keras' einsum attention
            block._self_attention_layer.__class__ = keras.layers.MultiHeadAttention
        self.assertAllClose(ours, backbone(batch)["sequence_output"], atol=1e-5)
        # Switching is idempotent and leaves other classes alone.
        block = backbone.encoder_blocks[0]
        self.assertIs(type(use_matmul_attention(block)._self_attention_layer), MatmulAttention)
        # A rebuilt backbone (from its config) attends through it too.
        restored = ElectraBackbone.from_config(backbone.get_config())
        self.assertIs(type(restored.encoder_blocks[0]._self_attention_layer), MatmulAttention)

    def test_docstring_example(self):
        self.assertEqual(doctest.testmod(matmul_attention).failed, 0)
