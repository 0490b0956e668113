"""Gradient accumulation and layer-wise learning-rate decay."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_electra
from keras_electra.builders import build_pretrainer
from keras_electra.data.vocab import SpecialTokenIds
from keras_electra.models.electra_pretrainer import ElectraPretrainer
from keras_electra.training.optimizer import create_optimizer
from tests.test_case import MASK, TestCase, tiny_batch, tiny_config, tiny_dataset



class GradientAccumulationTest(TestCase):
    def test_accumulated_update_equals_big_batch_update(self):
        """Optimizer-level, on given gradients.

        The gradient of a batch of k*b examples (a mean loss) is the mean of
        its k micro-batch gradients when those have equal weight; feeding
        `create_optimizer` those exact gradients isolates what accumulation
        must get right (averaging, clipping the average at global norm 1.0,
        AdamW moments, weight decay and the schedule per update) from the
        model's per-step masking randomness, which differs between a batch
        and its halves by design. Norms here are ~10, so clipping is active.
        """
        rng = np.random.default_rng(0)
        shapes = [(3, 4), (4,)]
        init = [rng.normal(size=s).astype("float32") for s in shapes]
        micro = [[rng.normal(scale=5.0, size=s).astype("float32") for s in shapes]
                 for _ in range(6)]

        def run(k, gradients):
            config = tiny_config(gradient_accumulation_steps=k, learning_rate=0.1,
                                 num_warmup_steps=1, weight_decay=0.1)
            optimizer = create_optimizer(config, num_train_steps=3)
            variables = [keras.Variable(v, name=f"kernel_{i}") for i, v in enumerate(init)]
            trace = []
            for g in gradients:
                optimizer.apply([tf.constant(x) for x in g], variables)
                trace.append([v.numpy().copy() for v in variables])
            return trace, optimizer

        accumulated, optimizer = run(2, micro)
        big, _ = run(1, [[(a + b) / 2 for a, b in zip(micro[i], micro[i + 1])]
                         for i in range(0, 6, 2)])
        self.assertEqual(int(optimizer.iterations), 3)
        for i in range(3):
            for a, b in zip(accumulated[2 * i + 1], big[i]):
                self.assertAllClose(a, b, atol=1e-5, rtol=1e-5)
        for a, b in zip(accumulated[0], init):  # first micro-batch: no update yet
            self.assertAllEqual(a, b)

    def test_train_step_accumulates_with_fresh_masks(self):
        config = tiny_config(num_layers=1, gradient_accumulation_steps=2, num_warmup_steps=0)
        pretrainer = build_pretrainer(config)
        pretrainer.compile(optimizer=create_optimizer(config))
        batch = {k: tf.constant(v) for k, v in tiny_batch(batch_size=2).items()}
        before = [v.numpy().copy() for v in pretrainer.trainable_variables]
        seed0 = pretrainer._step_seed(batch["input_ids"], 0).numpy()
        pretrainer.train_step(batch)
        self.assertNotAllClose(pretrainer._step_seed(batch["input_ids"], 0).numpy(), seed0)  # new mask per micro-batch
        for a, b in zip(before, pretrainer.trainable_variables):
            self.assertAllEqual(b.numpy(), a)
        pretrainer.train_step(batch)
        changed = [not np.array_equal(a, b.numpy())
                   for a, b in zip(before, pretrainer.trainable_variables)]
        self.assertTrue(any(changed))
        self.assertEqual(int(pretrainer.optimizer.iterations), 1)

    def test_config_validation(self):
        with pytest.raises(ValueError, match="gradient_accumulation_steps"):
            tiny_config(gradient_accumulation_steps=3)  # batch 4
        with pytest.raises(ValueError, match="gradient_accumulation_steps"):
            tiny_config(gradient_accumulation_steps=0)
        with pytest.raises(ValueError, match="mixed_precision"):
            tiny_config(mixed_precision="fp16")
        self.assertEqual(tiny_config(gradient_accumulation_steps=2).micro_batch_size, 2)


# --------------------------------------------------------------------------
# Layer-wise learning-rate decay.
class LayerwiseDecayTest(TestCase):
    def test_rates_and_sgd_updates(self):
        from keras_electra.training.optimizer import (
            LayerwiseSGD, layerwise_learning_rate_multipliers)

        pretrainer = build_pretrainer(tiny_config())  # 2 layers
        backbone, head = pretrainer.discriminator, pretrainer.discriminator_head
        variables = backbone.trainable_variables + head.trainable_variables
        rates = layerwise_learning_rate_multipliers(backbone, 0.5, variables)
        expected = {}
        for v in variables:
            if v.path.startswith(("embeddings/", "embeddings_projection/")):
                expected[v.path] = 0.125        # decay ** (n + 1), n = 2
            elif "transformer_layer_0/" in v.path:
                expected[v.path] = 0.25         # k = 1
            elif "transformer_layer_1/" in v.path:
                expected[v.path] = 0.5          # k = n: one factor, not two (electra#51)
            else:
                expected[v.path] = 1.0          # task head
        self.assertEqual(rates, expected)
        self.assertEqual(sorted(set(rates.values())), [0.125, 0.25, 0.5, 1.0])

        optimizer = LayerwiseSGD(learning_rate=0.1, learning_rate_multipliers=rates)
        before = [v.numpy().copy() for v in variables]
        gradients = [tf.ones_like(v) for v in variables]
        optimizer.apply(gradients, variables)
        for v, b in zip(variables, before):
            self.assertAllClose(b - v.numpy(), np.full_like(b, 0.1 * rates[v.path]), atol=1e-7)
