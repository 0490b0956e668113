import doctest
import os
import tempfile

import keras
import numpy as np

from keras_electra.layers import activations
from keras_electra.layers.electra_embeddings import ElectraEmbeddings
from keras_electra.models import electra_backbone
from keras_electra.models.electra_backbone import ElectraBackbone
from tests.test_case import TestCase, tiny_batch


def _backbone(embedding_size=12, hidden_size=16, **kwargs):
    embeddings = ElectraEmbeddings(vocabulary_size=50, embedding_size=embedding_size,
                                   max_sequence_length=16, dropout=0.0)
    return ElectraBackbone(embeddings, hidden_size=hidden_size, num_layers=2, num_heads=2,
                           intermediate_size=24, dropout=0.0, **kwargs)


class ElectraBackboneTest(TestCase):
    def test_output_and_projection(self):
        backbone = _backbone()
        out = backbone(tiny_batch())["sequence_output"]
        self.assertEqual(tuple(out.shape), (4, 16, 16))
        self.assertIsNotNone(backbone.embeddings_projection)
        self.assertIsNone(_backbone(embedding_size=16).embeddings_projection)

    def test_padding_does_not_leak(self):
        backbone = _backbone()
        batch = tiny_batch()
        out = backbone(batch)["sequence_output"].numpy()
        changed = dict(batch, input_ids=np.where(batch["input_mask"] == 1, batch["input_ids"], 17))
        out2 = backbone(changed)["sequence_output"].numpy()
        real = batch["input_mask"] == 1
        self.assertAllClose(out[real], out2[real], atol=1e-6)
        self.assertGreater(np.abs(out[~real] - out2[~real]).max(), 1e-4)

    def test_encoder_uses_exact_gelu_and_bert_epsilon(self):
        block = _backbone().encoder_blocks[0]
        self.assertEqual(block.layer_norm_epsilon, 1e-12)
        self.assertFalse(block.normalize_first)
        x = np.array([-1.0, 0.5, 2.0], "float32")
        exact = 0.5 * x * (1 + np.array([math_erf(v / np.sqrt(2)) for v in x]))
        self.assertAllClose(block.activation(x), exact, atol=1e-6)

    def test_config_round_trip(self):
        backbone = _backbone()
        restored = ElectraBackbone.from_config(backbone.get_config())
        self.assertEqual(restored.get_config(), backbone.get_config())
        restored.set_weights(backbone.get_weights())
        batch = tiny_batch()
        self.assertAllClose(restored(batch)["sequence_output"],
                            backbone(batch)["sequence_output"], atol=1e-6)
        again = keras.layers.deserialize(keras.layers.serialize(backbone))
        self.assertIsInstance(again, ElectraBackbone)

    def test_approximate_gelu_is_the_tanh_formula(self):
        block = _backbone(hidden_act="gelu_approximate").encoder_blocks[0]
        x = np.linspace(-4, 4, 9).astype("float32")
        tanh = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
        self.assertAllClose(block.activation(x), tanh, atol=1e-6)
        exact = _backbone().encoder_blocks[0].activation(x)
        self.assertNotAllClose(block.activation(x), exact, atol=1e-4)

    def test_approximate_gelu_saves_and_reloads(self):
        backbone = _backbone(hidden_act="gelu_approximate")
        batch = tiny_batch()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "backbone.keras")
            backbone.save(path)
            loaded = keras.saving.load_model(path)
        self.assertEqual(loaded.hidden_act, "gelu_approximate")
        self.assertIs(loaded.encoder_blocks[0].activation, activations.gelu_approximate)
        self.assertAllClose(loaded(batch)["sequence_output"], backbone(batch)["sequence_output"],
                            atol=1e-6)

    def test_config_without_hidden_act_loads_exact_gelu(self):
        config = _backbone().get_config()
        del config["hidden_act"]  # saved before the argument existed
        restored = ElectraBackbone.from_config(config)
        self.assertEqual(restored.hidden_act, "gelu")
        self.assertIs(restored.encoder_blocks[0].activation, activations.gelu)

    def test_unknown_hidden_act_is_refused(self):
        with self.assertRaisesRegex(ValueError, r"hidden_act must be one of \['gelu', "
                                                r"'gelu_approximate'\], got 'relu'"):
            _backbone(hidden_act="relu")

    def test_docstring_examples(self):
        self.assertEqual(doctest.testmod(electra_backbone).failed, 0)
        self.assertEqual(doctest.testmod(activations).failed, 0)


def math_erf(v):
    import math
    return math.erf(float(v))
