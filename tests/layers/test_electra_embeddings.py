import keras
import numpy as np

from keras_electra.layers.electra_embeddings import ElectraEmbeddings
from tests.test_case import TestCase


class ElectraEmbeddingsTest(TestCase):
    def test_value_is_layer_norm_of_sum(self):
        layer = ElectraEmbeddings(vocabulary_size=20, embedding_size=6, max_sequence_length=8,
                                  dropout=0.5)
        ids = np.array([[3, 7, 1, 0]], "int32")
        segments = np.array([[0, 0, 1, 1]], "int32")
        out = layer(ids, segments, training=False).numpy()
        word = layer.token_embedding.embeddings.numpy()[ids[0]]
        position = layer.position_embedding.position_embeddings.numpy()[:4]
        segment = layer.segment_embedding.embeddings.numpy()[segments[0]]
        x = word + position + segment
        x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12)
        self.assertAllClose(out[0], x, atol=1e-5)
        # Dropout is active in training.
        self.assertNotAllClose(layer(ids, segments, training=True), out)

    def test_initializer_is_truncated_normal_002(self):
        layer = ElectraEmbeddings(vocabulary_size=2000, embedding_size=64, max_sequence_length=8)
        layer(np.zeros((1, 2), "int32"), np.zeros((1, 2), "int32"))
        table = layer.token_embedding.embeddings.numpy()
        self.assertAllClose(table.std(), 0.02 * 0.88, atol=0.002)  # truncation shrinks stddev
        self.assertLessEqual(np.abs(table).max(), 0.04 + 1e-6)

    def test_config_round_trip(self):
        layer = ElectraEmbeddings(vocabulary_size=20, embedding_size=6, max_sequence_length=8,
                                  num_segments=3, dropout=0.2, layer_norm_epsilon=1e-6)
        restored = ElectraEmbeddings.from_config(layer.get_config())
        self.assertEqual(restored.get_config(), layer.get_config())
        restored = keras.layers.deserialize(keras.layers.serialize(layer))
        self.assertIsInstance(restored, ElectraEmbeddings)
        self.assertEqual(restored.num_segments, 3)
