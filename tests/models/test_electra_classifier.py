import doctest
import math
import os
import tempfile

import keras
import numpy as np

from keras_electra.builders import build_backbone, build_embeddings
from keras_electra.models import electra_classifier
from keras_electra.models.electra_classifier import ElectraClassifier
from keras_electra.training.optimizer import LayerwiseAdamW, layerwise_learning_rate_multipliers
from tests.test_case import TestCase, tiny_batch, tiny_config


def _backbone(**overrides):
    config = tiny_config(**overrides)
    return build_backbone(config, build_embeddings(config), "discriminator")


def _token_seven_data(num_examples=64, seed=0):
    """`tiny_batch` rows without token 7; label 1 (and one 7 inserted) in every other row."""
    batch = tiny_batch(batch_size=num_examples, seed=seed)
    ids = np.where(batch["input_ids"] == 7, 8, batch["input_ids"])
    labels = np.arange(num_examples) % 2
    rng = np.random.default_rng(seed)
    for row in np.flatnonzero(labels):
        length = batch["input_mask"][row].sum()
        ids[row, rng.integers(1, length - 1)] = 7
    return dict(batch, input_ids=ids), labels


class ElectraClassifierTest(TestCase):
    def test_logits_are_dense_on_cls_vector(self):
        model = ElectraClassifier(_backbone(), num_classes=3)
        batch = tiny_batch()
        logits = model(batch)
        self.assertEqual(logits.dtype, "float32")
        cls = model.backbone(batch)["sequence_output"].numpy()[:, 0, :]
        kernel, bias = (v.numpy() for v in model.dense.weights)
        self.assertAllClose(logits, cls @ kernel + bias, atol=1e-5)
        # The original has no pooler: the dense layer is the only head weight.
        self.assertEqual([v.path for v in model.trainable_variables
                          if not any(v is w for w in model.backbone.trainable_variables)],
                         ["classifier/kernel", "classifier/bias"])

    def test_regression_returns_one_score_per_example(self):
        model = ElectraClassifier(_backbone(), num_classes=1)
        batch = tiny_batch()
        scores = model(batch)
        self.assertEqual(tuple(scores.shape), (4,))
        cls = model.backbone(batch)["sequence_output"].numpy()[:, 0, :]
        kernel, bias = (v.numpy() for v in model.dense.weights)
        self.assertAllClose(scores, (cls @ kernel + bias)[:, 0], atol=1e-5)

    def test_dropout_only_in_training(self):
        model = ElectraClassifier(_backbone(), num_classes=2, dropout=0.5)
        batch = tiny_batch()
        self.assertAllClose(model(batch), model(batch, training=False))
        self.assertNotAllClose(model(batch, training=True), model(batch), atol=1e-4)

    def test_config_round_trip_and_keras_file(self):
        model = ElectraClassifier(_backbone(), num_classes=3, dropout=0.2, name="glue")
        batch = tiny_batch()
        restored = ElectraClassifier.from_config(model.get_config())
        self.assertEqual(restored.get_config(), model.get_config())
        self.assertNotAllClose(restored(batch), model(batch))
        restored.set_weights(model.get_weights())
        self.assertAllClose(restored(batch), model(batch))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "classifier.keras")
            model.save(path)
            loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded, ElectraClassifier)
        self.assertEqual(loaded.dropout, 0.2)
        self.assertAllClose(loaded(batch), model(batch))

    def test_fit_learns_whether_token_seven_appears(self):
        inputs, labels = _token_seven_data()
        model = ElectraClassifier(_backbone(), num_classes=2)
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        before = model.evaluate(inputs, labels, verbose=0, return_dict=True)
        model.fit(inputs, labels, batch_size=16, epochs=20, verbose=0)  # 80 steps
        after = model.evaluate(inputs, labels, verbose=0, return_dict=True)
        self.assertLess(after["loss"], 0.5 * before["loss"])
        self.assertGreater(after["accuracy"], 0.9)

    def test_layerwise_multipliers_and_optimizer(self):
        model = ElectraClassifier(_backbone(), num_classes=2)
        backbone = model.backbone
        rates = layerwise_learning_rate_multipliers(backbone, 0.5, model.trainable_variables)
        self.assertEqual(len(rates), len(model.trainable_variables))
        self.assertEqual(rates["classifier/kernel"], 1.0)
        self.assertEqual(rates["classifier/bias"], 1.0)
        n = backbone.num_layers
        for variable in backbone.embeddings.trainable_variables:
            self.assertEqual(rates[variable.path], 0.5 ** (n + 1))
        for variable in backbone.embeddings_projection.trainable_variables:
            self.assertEqual(rates[variable.path], 0.5 ** (n + 1))
        # The multipliers reach the optimizer by path: 0 freezes exactly the embeddings.
        frozen = {path: (0.0 if rate == 0.5 ** (n + 1) else rate) for path, rate in rates.items()}
        model.compile(optimizer=LayerwiseAdamW(learning_rate=1e-2, learning_rate_multipliers=frozen),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        before = {v.path: v.numpy() for v in model.trainable_variables}
        model.fit(tiny_batch(), np.array([0, 1, 0, 1]), epochs=1, verbose=0)
        moved = {v.path for v in model.trainable_variables
                 if not np.allclose(v.numpy(), before[v.path])}
        frozen_paths = {path for path, rate in frozen.items() if rate == 0.0}
        self.assertIn("embeddings/token_embedding/embeddings", frozen_paths)
        self.assertFalse(moved & frozen_paths)
        self.assertIn("classifier/kernel", moved)
        self.assertTrue(any(path.startswith(f"transformer_layer_{n - 1}/") for path in moved))

    def test_hf_head_is_dense_gelu_dense(self):
        model = ElectraClassifier(_backbone(), num_classes=3, dropout=0.5, head_hidden_size=16)
        batch = tiny_batch()
        logits = model(batch)
        cls = model.backbone(batch)["sequence_output"].numpy()[:, 0, :]
        kernel, bias = (v.numpy() for v in model.hidden_dense.weights)
        hidden = cls @ kernel + bias
        hidden = 0.5 * hidden * (1 + np.vectorize(math.erf)(hidden / np.sqrt(2)))  # exact GELU
        kernel, bias = (v.numpy() for v in model.dense.weights)
        self.assertAllClose(logits, hidden @ kernel + bias, atol=1e-5)
        # Dropout before and after the hidden layer, in training only.
        self.assertNotAllClose(model(batch, training=True), logits, atol=1e-4)
        restored = ElectraClassifier.from_config(model.get_config())
        self.assertEqual(restored.head_hidden_size, 16)
        restored.set_weights(model.get_weights())
        self.assertAllClose(restored(batch), logits)

    def test_config_without_head_hidden_size_is_the_original_head(self):
        config = ElectraClassifier(_backbone(), num_classes=2).get_config()
        del config["head_hidden_size"]  # saved before the argument existed
        restored = ElectraClassifier.from_config(config)
        self.assertIsNone(restored.hidden_dense)
        self.assertEqual(len(restored.weights) - len(restored.backbone.weights), 2)

    def test_rejects_no_classes(self):
        with self.assertRaisesRegex(ValueError, "num_classes"):
            ElectraClassifier(_backbone(), num_classes=0)

    def test_docstring_example(self):
        self.assertEqual(doctest.testmod(electra_classifier).failed, 0)
