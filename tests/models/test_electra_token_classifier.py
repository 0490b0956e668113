import doctest
import os
import tempfile

import keras
import numpy as np

from keras_electra.builders import build_backbone, build_embeddings
from keras_electra.models import electra_token_classifier
from keras_electra.models.electra_token_classifier import ElectraTokenClassifier
from keras_electra.training.optimizer import layerwise_learning_rate_multipliers
from tests.test_case import TestCase, tiny_batch, tiny_config


def _backbone():
    config = tiny_config()
    return build_backbone(config, build_embeddings(config), "discriminator")


class ElectraTokenClassifierTest(TestCase):
    def test_logits_are_dense_on_every_token(self):
        model = ElectraTokenClassifier(_backbone(), num_classes=5)
        batch = tiny_batch()
        logits = model(batch)
        self.assertEqual(logits.dtype, "float32")
        self.assertEqual(tuple(logits.shape), (4, 16, 5))
        sequence = model.backbone(batch)["sequence_output"].numpy()
        kernel, bias = (v.numpy() for v in model.dense.weights)
        self.assertAllClose(logits, sequence @ kernel + bias, atol=1e-5)

    def test_no_dropout_by_default_as_the_original(self):
        batch = tiny_batch()
        model = ElectraTokenClassifier(_backbone(), num_classes=3)
        self.assertAllClose(model(batch, training=True), model(batch), atol=1e-6)
        dropped = ElectraTokenClassifier(_backbone(), num_classes=3, dropout=0.5)
        self.assertNotAllClose(dropped(batch, training=True), dropped(batch), atol=1e-4)

    def test_config_round_trip_and_keras_file(self):
        model = ElectraTokenClassifier(_backbone(), num_classes=4, dropout=0.1)
        batch = tiny_batch()
        restored = ElectraTokenClassifier.from_config(model.get_config())
        self.assertEqual(restored.get_config(), model.get_config())
        restored.set_weights(model.get_weights())
        self.assertAllClose(restored(batch), model(batch))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tagger.keras")
            model.save(path)
            loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded, ElectraTokenClassifier)
        self.assertAllClose(loaded(batch), model(batch))

    def test_fit_tags_token_seven(self):
        batch = tiny_batch(batch_size=32)
        rng = np.random.default_rng(0)
        ids = np.where(batch["input_mask"] == 1,
                       np.where(rng.random(batch["input_ids"].shape) < 0.3, 7, batch["input_ids"]),
                       0)
        ids[:, 0] = batch["input_ids"][:, 0]
        inputs = dict(batch, input_ids=ids)
        labels = (ids == 7).astype("int32")
        weights = batch["input_mask"].astype("float32")  # padding is not scored
        model = ElectraTokenClassifier(_backbone(), num_classes=2)
        model.compile(optimizer=keras.optimizers.Adam(3e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      weighted_metrics=["accuracy"])
        before = model.evaluate(inputs, labels, sample_weight=weights, verbose=0, return_dict=True)
        model.fit(inputs, labels, sample_weight=weights, batch_size=8, epochs=5, verbose=0)
        after = model.evaluate(inputs, labels, sample_weight=weights, verbose=0, return_dict=True)
        self.assertLess(after["loss"], 0.3 * before["loss"])
        self.assertGreater(after["accuracy"], 0.95)

    def test_layerwise_multipliers(self):
        model = ElectraTokenClassifier(_backbone(), num_classes=3)
        backbone = model.backbone
        rates = layerwise_learning_rate_multipliers(backbone, 0.8, model.trainable_variables)
        self.assertEqual(rates["tagger/kernel"], 1.0)
        self.assertEqual(rates["tagger/bias"], 1.0)
        for variable in backbone.embeddings.trainable_variables:
            self.assertAlmostEqual(rates[variable.path], 0.8 ** (backbone.num_layers + 1))

    def test_docstring_example(self):
        self.assertEqual(doctest.testmod(electra_token_classifier).failed, 0)
