import doctest

import keras
import numpy as np
import tensorflow as tf

from keras_electra.layers import gdes_embeddings
from keras_electra.layers.electra_embeddings import ElectraEmbeddings
from keras_electra.layers.gdes_embeddings import GdesEmbeddings
from tests.test_case import TestCase

IDS = np.array([[3, 7, 1, 0], [5, 5, 2, 9]], "int32")
SEGMENTS = np.array([[0, 0, 1, 1], [0, 1, 1, 1]], "int32")


def _pair():
    shared = ElectraEmbeddings(vocabulary_size=20, embedding_size=6, max_sequence_length=8,
                               dropout=0.0)
    gdes = GdesEmbeddings(shared)
    gdes(IDS, SEGMENTS)
    return shared, gdes


class GdesEmbeddingsTest(TestCase):
    def test_equals_the_shared_block_at_init_then_adds_the_residual(self):
        shared, gdes = _pair()
        # The residual starts at zero: both towers see the same vectors.
        self.assertAllClose(gdes.residual.numpy(), np.zeros((20, 6)))
        self.assertAllClose(gdes(IDS, SEGMENTS), shared(IDS, SEGMENTS))
        # Afterwards the word vectors are table[id] + residual[id], the rest shared.
        residual = np.random.default_rng(0).normal(size=(20, 6)).astype("float32")
        gdes.residual.assign(residual)
        word = shared.token_embedding.embeddings.numpy()[IDS] + residual[IDS]
        x = word + shared.position_embedding.position_embeddings.numpy()[:4] \
            + shared.segment_embedding.embeddings.numpy()[SEGMENTS]
        x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12)
        self.assertAllClose(gdes(IDS, SEGMENTS), x, atol=1e-5)
        self.assertAllClose(gdes.word_table(), shared.token_embedding.embeddings.numpy()
                            + residual)

    def test_gradients_reach_the_residual_not_the_generator_table(self):
        shared, gdes = _pair()
        target = tf.random.stateless_normal((2, 4, 6), [1, 2])
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(gdes(IDS, SEGMENTS) * target)
        table = shared.token_embedding.embeddings
        position = shared.position_embedding.position_embeddings
        grads = tape.gradient(loss, [table, gdes.residual, position])
        self.assertIsNone(grads[0])  # stop_gradient: the generator's table is left alone
        residual = tf.convert_to_tensor(grads[1]).numpy()
        # Every looked-up row of the residual gets a gradient, no other row does.
        self.assertTrue(np.all(np.abs(residual[np.unique(IDS)]).sum(-1) > 0))
        unused = np.setdiff1d(np.arange(20), IDS)
        self.assertAllClose(residual[unused], 0.0)
        self.assertGreater(np.abs(tf.convert_to_tensor(grads[2]).numpy()).sum(), 0.0)
        # The plain block, by contrast, trains its table.
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(shared(IDS, SEGMENTS) * target)
        self.assertIsNotNone(tape.gradient(loss, table))

    def test_weights_and_sizes(self):
        shared, gdes = _pair()
        self.assertEqual(len(gdes.trainable_weights), len(shared.trainable_weights) + 1)
        self.assertEqual((gdes.vocabulary_size, gdes.embedding_size, gdes.max_sequence_length,
                          gdes.num_segments), (20, 6, 8, 2))

    def test_config_round_trip(self):
        _, gdes = _pair()
        restored = keras.layers.deserialize(keras.layers.serialize(gdes))
        self.assertIsInstance(restored, GdesEmbeddings)
        self.assertIsInstance(restored.shared, ElectraEmbeddings)
        self.assertEqual(restored.shared.get_config(), gdes.shared.get_config())

    def test_docstring_example(self):
        self.assertEqual(doctest.testmod(gdes_embeddings).failed, 0)
