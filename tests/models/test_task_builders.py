import doctest

import keras
import numpy as np

from keras_electra.builders import build_backbone, build_embeddings, build_pretrainer
from keras_electra.models import electra_task, task_builders
from keras_electra.models.electra_classifier import ElectraClassifier
from keras_electra.models.electra_span_extractor import ElectraSpanExtractor
from keras_electra.models.electra_token_classifier import ElectraTokenClassifier
from keras_electra.models.task_builders import build_task_model, discriminator_from_pretrainer
from tests.test_case import TestCase, tiny_batch, tiny_config


class BuildTaskModelTest(TestCase):
    def test_kinds(self):
        config = tiny_config()
        backbone = build_backbone(config, build_embeddings(config), "discriminator")
        classifier = build_task_model("classification", backbone, num_classes=3, dropout=0.2)
        self.assertIsInstance(classifier, ElectraClassifier)
        self.assertEqual((classifier.num_classes, classifier.dropout), (3, 0.2))
        regression = build_task_model("regression", backbone)
        self.assertEqual(regression.num_classes, 1)
        span = build_task_model("span_extraction", backbone, answerability=True)
        self.assertIsInstance(span, ElectraSpanExtractor)
        self.assertTrue(span.answerability)
        tagger = build_task_model("tagging", backbone, num_classes=9)
        self.assertIsInstance(tagger, ElectraTokenClassifier)
        self.assertEqual(tagger.num_classes, 9)

    def test_errors_name_the_problem(self):
        config = tiny_config()
        backbone = build_backbone(config, build_embeddings(config), "discriminator")
        with self.assertRaisesRegex(ValueError, "span_extraction, tagging"):
            build_task_model("squad", backbone)
        with self.assertRaisesRegex(ValueError, "num_classes is required"):
            build_task_model("classification", backbone)
        with self.assertRaisesRegex(ValueError, "num_classes=3"):
            build_task_model("regression", backbone, num_classes=3)
        with self.assertRaisesRegex(TypeError, "answerability"):
            build_task_model("tagging", backbone, num_classes=2, answerability=True)


class DiscriminatorFromPretrainerTest(TestCase):
    def test_copy_matches_and_trains_its_own_embeddings(self):
        pretrainer = build_pretrainer(tiny_config())
        backbone = discriminator_from_pretrainer(pretrainer)
        batch = tiny_batch()
        self.assertAllClose(backbone(batch)["sequence_output"],
                            pretrainer.discriminator(batch)["sequence_output"])
        self.assertIsNot(backbone.embeddings, pretrainer.embeddings)

        model = ElectraClassifier(backbone, num_classes=2)
        token_table = backbone.embeddings.token_embedding.embeddings
        self.assertTrue(any(v is token_table for v in model.trainable_variables))
        pretrained = [v.numpy() for v in pretrainer.weights]
        start = token_table.numpy()
        model.compile(optimizer=keras.optimizers.Adam(1e-2),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(batch, np.array([0, 1, 0, 1]), epochs=1, verbose=0)
        used = np.unique(batch["input_ids"])
        self.assertNotAllClose(token_table.numpy()[used], start[used])
        # The pretrainer (generator included) is untouched.
        for variable, value in zip(pretrainer.weights, pretrained):
            self.assertAllClose(variable.numpy(), value)

    def test_keeps_the_dtype_policy(self):
        pretrainer = build_pretrainer(tiny_config(), dtype_policy="mixed_bfloat16")
        backbone = discriminator_from_pretrainer(pretrainer)
        self.assertEqual(backbone.encoder_blocks[0].dtype_policy.name, "mixed_bfloat16")
        self.assertEqual(backbone.embeddings.dtype_policy.name, "mixed_bfloat16")
        self.assertEqual(keras.config.dtype_policy().name, "float32")
        self.assertEqual(build_task_model("tagging", backbone, num_classes=3)(tiny_batch()).dtype,
                         "float32")

    def test_docstring_examples(self):
        self.assertEqual(doctest.testmod(task_builders).failed, 0)
        self.assertEqual(doctest.testmod(electra_task).failed, 0)
