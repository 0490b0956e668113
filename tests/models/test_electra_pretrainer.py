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


def _train(config, steps=6):
    keras.utils.set_random_seed(config.seed)
    pretrainer = build_pretrainer(config)
    pretrainer.compile(optimizer=create_optimizer(config, num_train_steps=100))
    history = pretrainer.fit(tiny_dataset(steps).repeat(), steps_per_epoch=steps, epochs=1, verbose=0)
    return pretrainer, history.history


class ElectraPretrainerTest(TestCase):
    def test_embeddings_are_one_set_of_variables(self):
        pretrainer = build_pretrainer(tiny_config())
        gen, disc = pretrainer.generator, pretrainer.discriminator
        self.assertIs(gen.embeddings, disc.embeddings)
        word = disc.embeddings.token_embedding.embeddings
        self.assertIs(gen.embeddings.token_embedding.embeddings, word)
        self.assertIs(pretrainer.generator_head.token_embedding.embeddings, word)
        gen_ids = {id(v) for v in gen.trainable_variables}
        disc_ids = {id(v) for v in disc.trainable_variables}
        shared = gen_ids & disc_ids
        self.assertEqual(shared, {id(v) for v in disc.embeddings.trainable_variables})
        self.assertEqual(len(shared), 5)  # word, position, segment, LayerNorm gamma/beta
        # Each tower has its own projection (embedding 12 != hidden 16 / 8).
        self.assertIsNot(gen.embeddings_projection, disc.embeddings_projection)
        # The model's variable list holds every variable exactly once.
        variables = pretrainer.trainable_variables
        self.assertEqual(len(variables), len({id(v) for v in variables}))
        self.assertEqual(gen.hidden_size, 8)

    def test_logits_apis(self):
        pretrainer = build_pretrainer(tiny_config())
        batch = tiny_batch()
        disc = pretrainer.discriminator_logits(batch)
        gen = pretrainer.generator_logits(batch)
        self.assertEqual(tuple(disc.shape), (4, 16))
        self.assertEqual(tuple(gen.shape), (4, 16, 50))
        self.assertAllClose(pretrainer(batch), tf.sigmoid(disc), atol=1e-6)
        # The head at chosen positions equals the full-sequence logits gathered there.
        positions = tf.constant([[3, 1]] * 4)
        at = pretrainer._generator_logits_at(tf.constant(batch["input_ids"]),
                                             {k: tf.constant(v) for k, v in batch.items()},
                                             positions, training=False)
        self.assertAllClose(at, tf.gather(gen, positions, batch_dims=1), atol=1e-5)
        # int64 (TFRecord) features are accepted.
        batch64 = {k: v.astype("int64") for k, v in batch.items()}
        self.assertAllClose(pretrainer.discriminator_logits(batch64), disc)

    def test_missing_feature_is_named(self):
        pretrainer = build_pretrainer(tiny_config())
        batch = tiny_batch()
        del batch["segment_ids"]
        with pytest.raises(ValueError, match=r"missing feature\(s\) \['segment_ids'\]"):
            pretrainer(batch)

    def test_train_step_matches_hand_assembled_objective(self):
        config = tiny_config()
        pretrainer = build_pretrainer(config)
        pretrainer.compile(optimizer=keras.optimizers.SGD(0.0))
        batch = {k: tf.constant(v) for k, v in tiny_batch().items()}
        logs = pretrainer.train_step(batch)
        # Recompute from the pure functions with the per-example seeds of step 0.
        from keras_electra.objectives import electra_loss, mask_tokens, replace_tokens, sample_from_logits
        from keras_electra.objectives.random import example_seeds

        seeds = tuple(example_seeds(batch["input_ids"], config.seed, 0, k) for k in (0, 1))
        masked = mask_tokens(batch["input_ids"], batch["input_mask"], pretrainer.special_token_ids,
                             MASK, config.mask_prob, config.mask_token_prob,
                             config.predictions_per_seq, seeds[0])
        gen_logits = pretrainer._generator_logits_at(masked.input_ids, batch, masked.positions, False)
        sampled = sample_from_logits(gen_logits, config.temperature, seeds[1])
        corrupted, labels = replace_tokens(batch["input_ids"], masked.positions, masked.weights, sampled)
        disc_logits = pretrainer._discriminator_logits(corrupted, batch, False)
        losses = electra_loss(gen_logits, masked.targets, masked.weights, disc_logits, labels,
                              batch["input_mask"], 1.0, 50.0)
        self.assertAllClose(logs["generator_loss"], losses.generator, atol=1e-5)
        self.assertAllClose(logs["discriminator_loss"], losses.discriminator, atol=1e-5)
        self.assertAllClose(logs["loss"], losses.total, atol=1e-4)

    def test_fit_logs_and_determinism(self):
        # Dropout on: its noise is seeded too, so two runs are bit-identical.
        config = tiny_config(dropout=0.1)
        _, first = _train(config)
        _, second = _train(config)
        for key in ("loss", "generator_loss", "discriminator_loss", "generator_accuracy",
                    "discriminator_accuracy", "replaced_precision", "replaced_recall"):
            self.assertIn(key, first)
        self.assertEqual(first, second)

    def test_loss_falls_on_a_repeated_batch(self):
        config = tiny_config(learning_rate=3e-3)
        keras.utils.set_random_seed(0)
        pretrainer = build_pretrainer(config)
        pretrainer.compile(optimizer=create_optimizer(config, num_train_steps=60))
        data = tiny_dataset(1).repeat()
        before = pretrainer.evaluate(tiny_dataset(1), verbose=0, return_dict=True)
        pretrainer.fit(data, steps_per_epoch=60, epochs=1, verbose=0)
        after = pretrainer.evaluate(tiny_dataset(1), verbose=0, return_dict=True)
        self.assertLess(after["generator_loss"], before["generator_loss"] - 0.2)
        self.assertLess(after["discriminator_loss"], before["discriminator_loss"])

    def test_evaluate_metrics_and_repeatability(self):
        pretrainer = build_pretrainer(tiny_config())
        pretrainer.compile(optimizer="adam")
        first = pretrainer.evaluate(tiny_dataset(2), verbose=0, return_dict=True)
        second = pretrainer.evaluate(tiny_dataset(2), verbose=0, return_dict=True)
        self.assertEqual(first, second)
        for key in ("replaced_precision", "replaced_recall", "replaced_auc",
                    "generator_accuracy", "discriminator_accuracy"):
            self.assertIn(key, first)
            self.assertTrue(0.0 <= first[key] <= 1.0)

    def test_gradients_are_clipped_to_global_norm(self):
        config = tiny_config(clip_norm=1e-3)
        pretrainer = build_pretrainer(config)
        pretrainer.compile(optimizer=keras.optimizers.SGD(1.0))
        before = [v.numpy().copy() for v in pretrainer.trainable_variables]
        pretrainer.train_step({k: tf.constant(v) for k, v in tiny_batch().items()})
        after = [v.numpy() for v in pretrainer.trainable_variables]
        norm = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(after, before)))
        self.assertAllClose(norm, 1e-3, rtol=1e-3)  # SGD(1.0): update = clipped gradient

    def test_bert_vocab_special_ids(self):
        special = SpecialTokenIds(pad=0, unk=100, cls=101, sep=102, mask=103)
        pretrainer = build_pretrainer(tiny_config(vocab_size=200), special_tokens=special)
        self.assertEqual(pretrainer.mask_token_id, 103)
        self.assertEqual(sorted(pretrainer.special_token_ids), [0, 101, 102, 103])

    def test_config_round_trip_keeps_tying(self):
        pretrainer = build_pretrainer(tiny_config())
        restored = ElectraPretrainer.from_config(pretrainer.get_config())
        self.assertIs(restored.generator.embeddings, restored.discriminator.embeddings)
        self.assertIs(restored.generator_head.token_embedding,
                      restored.embeddings.token_embedding)
        restored.set_weights(pretrainer.get_weights())
        batch = tiny_batch()
        self.assertAllClose(restored.discriminator_logits(batch),
                            pretrainer.discriminator_logits(batch), atol=1e-6)
        self.assertAllClose(restored.generator_logits(batch),
                            pretrainer.generator_logits(batch), atol=1e-5)

    def test_hidden_act_reaches_encoders_and_discriminator_head(self):
        from keras_electra.layers.activations import gelu_approximate

        pretrainer = build_pretrainer(tiny_config(hidden_act="gelu_approximate"))
        restored = ElectraPretrainer.from_config(pretrainer.get_config())
        for model in (pretrainer, restored):
            for tower in (model.discriminator, model.generator):
                self.assertEqual(tower.hidden_act, "gelu_approximate")
                self.assertIs(tower.encoder_blocks[0].activation, gelu_approximate)
            # As HF: the discriminator head follows hidden_act, the MLM head stays exact.
            self.assertIs(model.discriminator_head.dense.activation, gelu_approximate)
            self.assertIs(model.generator_head.intermediate_activation, keras.activations.gelu)

    def test_public_names(self):
        self.assertIs(keras_electra.ElectraPretrainer, ElectraPretrainer)
        self.assertTrue(callable(keras_electra.build_pretrainer))


# --------------------------------------------------------------------------
# XLA (TPU-readiness proxy) and steps_per_execution.
