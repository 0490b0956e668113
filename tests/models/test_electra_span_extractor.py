import doctest
import math
import os
import tempfile

import keras
import numpy as np

from keras_electra.builders import build_backbone, build_embeddings
from keras_electra.models import electra_span_extractor
from keras_electra.models.electra_span_extractor import NOT_AN_ANSWER_PENALTY, ElectraSpanExtractor
from keras_electra.training.optimizer import layerwise_learning_rate_multipliers
from tests.test_case import TestCase, tiny_batch, tiny_config


def _backbone():
    config = tiny_config()
    return build_backbone(config, build_embeddings(config), "discriminator")


def _answer_positions(batch):
    """Context tokens (segment 1, not padding) and [CLS], as the original `qa_tasks.py`."""
    allowed = (batch["input_mask"] == 1) & (batch["segment_ids"] == 1)
    allowed[:, 0] = True
    return allowed


def _gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _find_token_seven(num_examples=32, seed=0):
    """Half the rows get one 7 in the context (the answer); the others have none ([CLS])."""
    batch = tiny_batch(batch_size=num_examples, seed=seed)
    ids = np.where(batch["input_ids"] == 7, 8, batch["input_ids"])
    positions = np.zeros(num_examples, np.int32)
    rng = np.random.default_rng(seed)
    for row in range(0, num_examples, 2):
        context = np.flatnonzero(batch["segment_ids"][row])[:-1]  # not the closing [SEP]
        positions[row] = rng.choice(context)
        ids[row, positions[row]] = 7
    targets = {"start_logits": positions, "end_logits": positions,
               "answerable_logits": (positions == 0).astype("float32")}  # "is impossible"
    return dict(batch, input_ids=ids), targets


class ElectraSpanExtractorTest(TestCase):
    def test_span_logits_are_masked_dense_outputs(self):
        model = ElectraSpanExtractor(_backbone())
        batch = tiny_batch()
        outputs = model(batch)
        self.assertEqual(sorted(outputs), ["end_logits", "start_logits"])
        sequence = model.backbone(batch)["sequence_output"].numpy()
        kernel, bias = (v.numpy() for v in model.span_dense.weights)
        raw = sequence @ kernel + bias
        allowed = _answer_positions(batch)
        padding = batch["input_mask"] == 0
        question = (batch["input_mask"] == 1) & (batch["segment_ids"] == 0)
        question[:, 0] = False
        self.assertTrue(padding.any() and question.any())
        self.assertFalse((allowed & (padding | question)).any())
        for index, name in enumerate(["start_logits", "end_logits"]):
            logits = outputs[name].numpy()
            self.assertEqual(logits.dtype, np.float32)
            self.assertEqual(logits.shape, (4, 16))
            self.assertAllClose(logits[allowed], raw[..., index][allowed], atol=1e-5)
            self.assertAllClose(logits[~allowed], raw[..., index][~allowed] - NOT_AN_ANSWER_PENALTY,
                                atol=1e-3)
            self.assertTrue((logits[~allowed] < -NOT_AN_ANSWER_PENALTY / 2).all())
            self.assertTrue((np.abs(logits[:, 0]) < 100).all())  # [CLS] = "no answer here"

    def test_answerability_from_cls_and_start_distribution(self):
        model = ElectraSpanExtractor(_backbone(), answerability=True, answerability_hidden_size=8)
        batch = tiny_batch()
        outputs = model(batch)
        sequence = model.backbone(batch)["sequence_output"].numpy()
        start_feature = np.einsum("bs,bsh->bh", _softmax(outputs["start_logits"].numpy()), sequence)
        features = np.concatenate([sequence[:, 0], start_feature], axis=-1)
        w1, b1 = (v.numpy() for v in model.answerability_hidden.weights)
        w2, b2 = (v.numpy() for v in model.answerability_dense.weights)
        expected = (_gelu(features @ w1 + b1) @ w2 + b2)[:, 0]
        self.assertEqual(tuple(outputs["answerable_logits"].shape), (4,))
        self.assertAllClose(outputs["answerable_logits"], expected, atol=1e-5)

    def test_answerability_from_cls_only(self):
        model = ElectraSpanExtractor(_backbone(), answerability=True,
                                     answerability_uses_start_logits=False)
        self.assertIsNone(model.answerability_hidden)
        batch = tiny_batch()
        cls = model.backbone(batch)["sequence_output"].numpy()[:, 0]
        kernel, bias = (v.numpy() for v in model.answerability_dense.weights)
        self.assertAllClose(model(batch)["answerable_logits"], (cls @ kernel + bias)[:, 0],
                            atol=1e-5)

    def test_config_round_trip_and_keras_file(self):
        model = ElectraSpanExtractor(_backbone(), answerability=True, answerability_hidden_size=8)
        batch = tiny_batch()
        restored = ElectraSpanExtractor.from_config(model.get_config())
        self.assertEqual(restored.get_config(), model.get_config())
        restored.set_weights(model.get_weights())
        for name, value in model(batch).items():
            self.assertAllClose(restored(batch)[name], value)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "squad.keras")
            model.save(path)
            loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded, ElectraSpanExtractor)
        for name, value in model(batch).items():
            self.assertAllClose(loaded(batch)[name], value)

    def test_fit_finds_token_seven(self):
        inputs, targets = _find_token_seven()
        model = ElectraSpanExtractor(_backbone(), answerability=True, answerability_hidden_size=8)
        span_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=keras.optimizers.Adam(3e-3),
                      loss={"start_logits": span_loss, "end_logits": span_loss,
                            "answerable_logits": keras.losses.BinaryCrossentropy(from_logits=True)})
        before = model.evaluate(inputs, targets, verbose=0, return_dict=True)
        model.fit(inputs, targets, batch_size=8, epochs=10, verbose=0)  # 40 steps
        after = model.evaluate(inputs, targets, verbose=0, return_dict=True)
        self.assertLess(after["start_logits_loss"], 0.3 * before["start_logits_loss"])
        self.assertLess(after["end_logits_loss"], 0.3 * before["end_logits_loss"])
        self.assertLess(after["answerable_logits_loss"], 0.5 * before["answerable_logits_loss"])
        predicted = model.predict(inputs, verbose=0)["start_logits"].argmax(-1)
        self.assertGreater((predicted == targets["start_logits"]).mean(), 0.9)

    def test_layerwise_multipliers(self):
        model = ElectraSpanExtractor(_backbone(), answerability=True, answerability_hidden_size=8)
        backbone = model.backbone
        rates = layerwise_learning_rate_multipliers(backbone, 0.8, model.trainable_variables)
        head = [v for v in model.trainable_variables
                if not any(v is w for w in backbone.trainable_variables)]
        self.assertEqual(len(head), 6)  # span, answerability hidden and output: kernel + bias
        for variable in head:
            self.assertEqual(rates[variable.path], 1.0)
        for variable in backbone.embeddings.trainable_variables:
            self.assertAlmostEqual(rates[variable.path], 0.8 ** (backbone.num_layers + 1))

    def test_docstring_example(self):
        self.assertEqual(doctest.testmod(electra_span_extractor).failed, 0)
