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

    def test_train_step_fuses_activations_with_xla_and_inference_does_not(self):
        for dropout in (0.0, 0.1):
            with self.subTest(dropout=dropout):
                self._assert_xla_calls(dropout)

    def _assert_xla_calls(self, dropout):
        config = tiny_config(dropout=dropout)
        pretrainer = build_pretrainer(config)
        pretrainer.compile(optimizer=create_optimizer(config, num_train_steps=100))
        batch = {k: tf.constant(v) for k, v in tiny_batch().items()}

        def xla_calls(fn):
            graph = tf.function(fn).get_concrete_function(batch).graph
            return [op for op in graph.get_operations()
                    if op.node_def.attr["_XlaMustCompile"].b]

        blocks = pretrainer.generator.num_layers + pretrainer.discriminator.num_layers
        # A forward and a backward call per GELU (the encoder blocks' and the
        # generator and discriminator heads'), and a recomputation per
        # encoder block (`use_recomputed_activation`).
        gelu_calls = 2 * (blocks + 2) + blocks
        # A forward and a backward call per LayerNorm: two per encoder block,
        # and the shared embeddings' in each tower (`use_fused_layer_norm`).
        layer_norm_calls = 2 * (2 * blocks + 2)
        # With attention dropout, a forward and a backward softmax-dropout
        # call per encoder block (`use_lean_attention`).
        attention_calls = 2 * blocks if dropout else 0
        # One AdamW update per trainable variable (`FusedAdamW`).
        optimizer_calls = len(pretrainer.trainable_variables)
        self.assertEqual(len(xla_calls(pretrainer.train_step)),
                         gelu_calls + layer_norm_calls + attention_calls + optimizer_calls)
        self.assertEqual(xla_calls(pretrainer.discriminator_logits), [])
        self.assertEqual(xla_calls(pretrainer.generator_logits), [])

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

    def test_mlm_heads_compute_their_logits_in_chunks_with_the_same_step(self):
        from keras_electra.objectives import chunked_mlm

        batch = {k: tf.constant(v) for k, v in tiny_batch().items()}

        def step(config, rows_per_chunk=None, whole_head=False):
            keras.utils.set_random_seed(0)
            pretrainer = build_pretrainer(config)
            pretrainer.compile(optimizer=keras.optimizers.SGD(0.1))
            if whole_head:  # heads the chunked path does not know: the fallback
                pretrainer.embeddings.token_embedding.reverse_dtype = "float32"
            old, chunked_mlm.ROWS_PER_CHUNK = chunked_mlm.ROWS_PER_CHUNK, rows_per_chunk or 256
            try:
                train = tf.function(pretrainer.train_step)
                graph = train.get_concrete_function(batch).graph
                logs = train(batch)
            finally:
                chunked_mlm.ROWS_PER_CHUNK = old
            # The logits the loss reads: the whole head's loss op, or the
            # chunked head's XLA computation per chunk (`mlm_chunk`).
            shapes = [op.inputs[0].shape.as_list() for op in _all_ops(graph)
                      if op.type == "SparseSoftmaxCrossEntropyWithLogits"
                      or "mlm_chunk" in _called_function(op)]
            return logs, [w.numpy() for w in pretrainer.trainable_weights], shapes

        # objective: MLM heads it trains (electra: the generator's; replace_mlm: both)
        for objective, heads in (("electra", 1), ("replace_mlm", 2), ("mlm", 1)):
            config = _objective_config(objective=objective, dropout=0.1)
            slots = config.predictions_per_seq
            whole_logs, whole_weights, whole_shapes = step(config, whole_head=True)
            self.assertEqual(whole_shapes, [[4 * slots, 50]] * heads)  # the whole batch's
            for rows, examples in ((2 * slots, 2), (1, 1)):
                logs, weights, shapes = step(config, rows_per_chunk=rows)
                # Inside the loop: a chunk of `examples` examples at a time.
                self.assertEqual(shapes, [[examples * slots, 50]] * heads)
                self.assertEqual(set(logs), set(whole_logs))
                for key in logs:
                    self.assertAllClose(logs[key], whole_logs[key], atol=1e-6,
                                        msg=f"{objective} {key}")
                for got, want in zip(weights, whole_weights):
                    self.assertAllClose(got, want, atol=1e-6)

    def test_fit_logs_and_determinism(self):
        # Dropout on: its noise is seeded too, so two runs are bit-identical.
        config = tiny_config(dropout=0.1)
        _, first = _train(config)
        _, second = _train(config)
        for key in ("loss", "generator_loss", "discriminator_loss", "generator_accuracy",
                    "discriminator_accuracy", "replaced_precision", "replaced_recall"):
            self.assertIn(key, first)
        self.assertEqual(first, second)

    def test_compile_builds_the_optimizer_so_the_step_traces_once(self):
        config = tiny_config()
        pretrainer = build_pretrainer(config)
        pretrainer.compile(optimizer=create_optimizer(config, num_train_steps=10))
        optimizer = pretrainer.optimizer
        self.assertTrue(optimizer.built)
        trainable = pretrainer.trainable_variables
        self.assertEqual(len(optimizer._momentums), len(trainable))
        self.assertEqual(len(optimizer._velocities), len(trainable))
        # Slots created lazily inside the traced step make tf.function trace
        # it a second time (counted: 2 with `keras.Model.compile` alone).
        traces, step = [], pretrainer.train_step

        def counting_step(data):
            traces.append(1)
            return step(data)

        pretrainer.train_step = counting_step
        pretrainer.fit(tiny_dataset(2), epochs=1, verbose=0)
        self.assertEqual(len(traces), 1)

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
        from keras_electra.layers.activations import gelu, gelu_approximate

        pretrainer = build_pretrainer(tiny_config(hidden_act="gelu_approximate"))
        restored = ElectraPretrainer.from_config(pretrainer.get_config())
        for model in (pretrainer, restored):
            for tower in (model.discriminator, model.generator):
                self.assertEqual(tower.hidden_act, "gelu_approximate")
                self.assertIs(tower.encoder_blocks[0].activation, gelu_approximate)
            # As HF: the discriminator head follows hidden_act, the MLM head stays exact.
            self.assertIs(model.discriminator_head.dense.activation, gelu_approximate)
            self.assertIs(model.generator_head.intermediate_activation, gelu)

    def test_public_names(self):
        self.assertIs(keras_electra.ElectraPretrainer, ElectraPretrainer)
        self.assertTrue(callable(keras_electra.build_pretrainer))


# --------------------------------------------------------------------------
# XLA (TPU-readiness proxy) and steps_per_execution.
# (Those tests live in test_pretrainer_modes.py.)


# --------------------------------------------------------------------------
# Objective variants (Clark et al. 2020, section 3.2) and GDES embedding sharing.
import os  # noqa: E402
import tempfile  # noqa: E402

from keras_electra.layers.electra_embeddings import ElectraEmbeddings  # noqa: E402
from keras_electra.layers.gdes_embeddings import GdesEmbeddings  # noqa: E402
from keras_electra.models.task_builders import discriminator_from_pretrainer  # noqa: E402
from keras_electra.objectives import (  # noqa: E402
    bert_mask_tokens, mask_tokens, replace_tokens, sample_from_logits)
from keras_electra.objectives.random import example_seeds  # noqa: E402

_LOGGED = {
    "electra": {"loss", "generator_loss", "discriminator_loss", "generator_accuracy",
                "discriminator_accuracy", "replaced_precision", "replaced_recall",
                "replaced_fraction", "replaced_auc"},
    "mlm": {"loss", "discriminator_mlm_loss", "discriminator_mlm_accuracy"},
    "replace_mlm": {"loss", "generator_loss", "generator_accuracy", "discriminator_mlm_loss",
                    "discriminator_mlm_accuracy", "replaced_fraction"},
}
_LOGGED["all_tokens_mlm"] = _LOGGED["replace_mlm"]


def _all_ops(graph):
    """The ops of `graph` and of the loop bodies and branches it calls."""
    for op in graph.get_operations():
        yield op
        for attr in ("body", "then_branch", "else_branch", "f"):
            name = _called_function(op, attr)
            if name:
                yield from _all_ops(graph._get_function(name).graph)


def _called_function(op, attr="f"):
    """The name of the function in `op`'s attribute `attr` ("" if none)."""
    try:
        return op.get_attr(attr).name
    except (ValueError, AttributeError):
        return ""


def _log_softmax(logits):
    logits = logits - logits.max(-1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


def _cross_entropy(logits, targets, weights):
    """Mean -log softmax(logits)[target] over the weighted slots, in NumPy."""
    nll = -np.take_along_axis(_log_softmax(logits), targets[..., None], -1)[..., 0]
    return (nll * weights).sum() / weights.sum()


def _at(logits, positions):
    return np.take_along_axis(np.asarray(logits), np.asarray(positions)[..., None], 1)


def _objective_config(**overrides):
    """`tiny_config` with one layer: these tests trace and run many models."""
    return tiny_config(num_layers=1, **overrides)


def _fit(config, run_eagerly, steps=2):
    """`fit` of a fresh pretrainer; eager where graph mode is covered elsewhere
    (tracing costs several times the steps)."""
    keras.utils.set_random_seed(config.seed)
    pretrainer = build_pretrainer(config)
    pretrainer.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=run_eagerly)
    history = pretrainer.fit(tiny_dataset(steps), epochs=1, verbose=0)
    return pretrainer, history.history


def _step_zero(config):
    """A fresh pretrainer, the logs of its first `train_step` (learning rate 0,
    eager), the batch and the step-0 seeds."""
    pretrainer = build_pretrainer(config)
    pretrainer.compile(optimizer=keras.optimizers.SGD(0.0))
    batch = {k: tf.constant(v) for k, v in tiny_batch().items()}
    logs = pretrainer.train_step(batch)
    seeds = tuple(example_seeds(batch["input_ids"], config.seed, 0, k) for k in (0, 1))
    return pretrainer, logs, batch, seeds


def _corrupt(pretrainer, config, batch, seeds):
    """The generator's corruption of step 0, assembled from the pure functions."""
    masked = mask_tokens(batch["input_ids"], batch["input_mask"], pretrainer.special_token_ids,
                         MASK, config.mask_prob, config.mask_token_prob,
                         config.predictions_per_seq, seeds[0])
    gen_logits = pretrainer._generator_logits_at(masked.input_ids, batch, masked.positions,
                                                 False)
    sampled = sample_from_logits(gen_logits, config.temperature, seeds[1])
    corrupted, _ = replace_tokens(batch["input_ids"], masked.positions, masked.weights, sampled)
    return masked, gen_logits.numpy(), corrupted


class PretrainerObjectivesTest(TestCase):
    def test_mlm_loss_is_bert_masked_lm_on_the_discriminator(self):
        config = _objective_config(objective="mlm")
        pretrainer, logs, batch, seeds = _step_zero(config)
        self.assertEqual(set(logs), _LOGGED["mlm"] | {"gradient_norm"})
        masked = bert_mask_tokens(batch["input_ids"], batch["input_mask"],
                                  pretrainer.special_token_ids, MASK, config.vocab_size,
                                  config.mask_prob, config.predictions_per_seq, seeds[0])
        logits = pretrainer.discriminator_mlm_logits(dict(batch, input_ids=masked.input_ids))
        expected = _cross_entropy(_at(logits, masked.positions), masked.targets.numpy(),
                                  masked.weights.numpy())
        self.assertAllClose(logs["discriminator_mlm_loss"], expected, atol=1e-5)
        self.assertAllClose(logs["loss"], expected, atol=1e-5)
        # The head is BERT's, on the discriminator's width, tied to the word table.
        head = pretrainer.discriminator_mlm_head
        self.assertIs(head.token_embedding, pretrainer.embeddings.token_embedding)
        self.assertEqual(head._intermediate_dense.kernel.shape, (16, 12))

    def test_mlm_never_runs_the_generator(self):
        config = _objective_config(objective="mlm")
        pretrainer = build_pretrainer(config)
        pretrainer.compile(optimizer=keras.optimizers.Adam(1e-2))
        pretrainer.optimizer.build(pretrainer.trainable_variables)
        trained = {id(w) for part in (pretrainer.discriminator, pretrainer.discriminator_mlm_head)
                   for w in part.weights}  # (the MLM heads hold the shared word table)
        generator_only = [w for part in (pretrainer.generator, pretrainer.generator_head,
                                         pretrainer.discriminator_head)
                          for w in part.weights if id(w) not in trained]
        self.assertEqual(len(generator_only), 16 + 2 + 5 + 4)  # block, projection, heads
        before = [w.numpy() for w in generator_only]
        disc_before = pretrainer.discriminator.encoder_blocks[0].weights[0].numpy()
        batch = {k: tf.constant(v) for k, v in tiny_batch().items()}
        train = tf.function(pretrainer.train_step)
        graph = train.get_concrete_function(batch).graph
        # Keras names each layer call's ops after the layer ("generator_1/...").
        scopes = {part for op in graph.get_operations() for part in op.name.split("/")}
        self.assertTrue(any(s.startswith("discriminator_mlm_head") for s in scopes))
        self.assertEqual([s for s in scopes if s.startswith(("generator", "discriminator_head"))],
                         [])
        train(batch)
        for weight, value in zip(generator_only, before):
            self.assertAllClose(weight.numpy(), value)
        self.assertNotAllClose(pretrainer.discriminator.encoder_blocks[0].weights[0], disc_before)

    def test_replace_mlm_predicts_the_originals_of_the_corrupted_positions(self):
        config = _objective_config(objective="replace_mlm", generator_weight=2.0)
        pretrainer, logs, batch, seeds = _step_zero(config)
        self.assertEqual(set(logs), _LOGGED["replace_mlm"] | {"gradient_norm"})
        masked, gen_logits, corrupted = _corrupt(pretrainer, config, batch, seeds)
        targets, weights = masked.targets.numpy(), masked.weights.numpy()
        generator = _cross_entropy(gen_logits, targets, weights)
        logits = pretrainer.discriminator_mlm_logits(dict(batch, input_ids=corrupted))
        discriminator = _cross_entropy(_at(logits, masked.positions), targets, weights)
        self.assertAllClose(logs["generator_loss"], generator, atol=1e-5)
        self.assertAllClose(logs["discriminator_mlm_loss"], discriminator, atol=1e-5)
        self.assertAllClose(logs["loss"], 2.0 * generator + discriminator, atol=1e-5)
        replaced = (corrupted.numpy() != batch["input_ids"].numpy()).sum()
        self.assertGreater(replaced, 0)
        self.assertAllClose(logs["replaced_fraction"],
                            replaced / batch["input_mask"].numpy().sum(), atol=1e-6)

    def test_all_tokens_mlm_copy_mechanism_over_every_token(self):
        config = _objective_config(objective="all_tokens_mlm")
        pretrainer, logs, batch, seeds = _step_zero(config)
        self.assertEqual(set(logs), _LOGGED["all_tokens_mlm"] | {"gradient_norm"})
        masked, gen_logits, corrupted = _corrupt(pretrainer, config, batch, seeds)
        generator = _cross_entropy(gen_logits, masked.targets.numpy(), masked.weights.numpy())
        view = dict(batch, input_ids=corrupted)
        log_softmax = _log_softmax(pretrainer.discriminator_mlm_logits(view).numpy())
        copy = 1 / (1 + np.exp(-pretrainer.discriminator_logits(view).numpy()))
        original, given = batch["input_ids"].numpy(), corrupted.numpy()
        softmax = np.exp(np.take_along_axis(log_softmax, original[..., None], -1)[..., 0])
        p = copy * (given == original) + (1 - copy) * softmax
        mask = batch["input_mask"].numpy()
        expected = -(np.log(p) * mask).sum() / mask.sum()
        self.assertAllClose(logs["generator_loss"], generator, atol=1e-5)
        self.assertAllClose(logs["discriminator_mlm_loss"], expected, atol=1e-5)
        self.assertAllClose(logs["loss"], generator + expected, atol=1e-5)

    def test_fit_and_round_trips_keep_the_objective(self):
        batch = tiny_batch()
        for objective in ("mlm", "replace_mlm", "all_tokens_mlm"):
            config = _objective_config(objective=objective)
            # Graph mode for the objective that runs every part ("mlm"'s train
            # step is traced in test_mlm_never_runs_the_generator).
            pretrainer, history = _fit(config, run_eagerly=objective != "all_tokens_mlm")
            self.assertEqual(set(history), _LOGGED[objective] | {"gradient_norm"})
            self.assertTrue(all(np.isfinite(v).all() for v in history.values()), objective)
            restored = ElectraPretrainer.from_config(pretrainer.get_config())
            restored.set_weights(pretrainer.get_weights())
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "pretrainer.keras")
                pretrainer.save(path)
                loaded = keras.saving.load_model(path)
            for model in (restored, loaded):
                self.assertEqual(model.objective, objective)
                self.assertIs(model.discriminator_mlm_head.token_embedding,
                              model.embeddings.token_embedding)
                self.assertAllClose(model.discriminator_mlm_logits(batch),
                                    pretrainer.discriminator_mlm_logits(batch), atol=1e-5)
            # The encoder fine-tuning starts from is the one trained.
            backbone = discriminator_from_pretrainer(pretrainer)
            self.assertAllClose(backbone(batch)["sequence_output"],
                                pretrainer.discriminator(batch)["sequence_output"], atol=1e-6)

    def test_configs_saved_before_objectives_load_as_electra(self):
        config = build_pretrainer(_objective_config()).get_config()
        del config["objective"], config["discriminator_mlm_head"]
        restored = ElectraPretrainer.from_config(config)
        self.assertEqual(restored.objective, "electra")
        self.assertIsNone(restored.discriminator_mlm_head)

    def test_objective_and_head_must_agree(self):
        parts = build_pretrainer(_objective_config())
        args = (parts.generator, parts.discriminator, parts.generator_head,
                parts.discriminator_head, parts.special_token_ids, MASK)
        with pytest.raises(ValueError, match=r"objective must be one of \['electra', 'mlm', "
                                             r"'replace_mlm', 'all_tokens_mlm'\], got 'bert'"):
            ElectraPretrainer(*args, objective="bert")
        with pytest.raises(ValueError, match="objective 'mlm' needs a discriminator_mlm_head"):
            ElectraPretrainer(*args, objective="mlm")

    def test_objectives_match_the_config(self):
        from keras_electra.config import OBJECTIVES
        from keras_electra.models import electra_pretrainer

        self.assertEqual(OBJECTIVES, electra_pretrainer.OBJECTIVES)


class GdesPretrainerTest(TestCase):
    def test_gdes_starts_as_the_tied_model(self):
        # Same seed: the residual (zeros) draws no random numbers, so every other
        # weight, and hence the first step's losses, are the tied model's.
        keras.utils.set_random_seed(5)
        _, tied, batch, _ = _step_zero(_objective_config())
        keras.utils.set_random_seed(5)
        pretrainer, gdes, _, _ = _step_zero(_objective_config(embedding_sharing="gdes"))
        embeddings = pretrainer.discriminator.embeddings
        self.assertIsInstance(embeddings, GdesEmbeddings)
        self.assertIs(embeddings.shared, pretrainer.generator.embeddings)
        self.assertIs(pretrainer.embeddings, pretrainer.generator.embeddings)
        self.assertAllClose(embeddings.word_table(),
                            pretrainer.embeddings.token_embedding.embeddings.numpy())
        for key in ("loss", "generator_loss", "discriminator_loss"):
            self.assertAllClose(gdes[key], tied[key], atol=1e-6, msg=key)

    def test_discriminator_loss_trains_the_residual_not_the_generator_table(self):
        pretrainer = build_pretrainer(_objective_config(embedding_sharing="gdes"))
        batch = {k: tf.constant(v) for k, v in tiny_batch().items()}
        seeds = tuple(example_seeds(batch["input_ids"], 0, 0, k) for k in (0, 1))
        table = pretrainer.embeddings.token_embedding.embeddings
        residual = pretrainer.discriminator.embeddings.residual
        with tf.GradientTape(persistent=True) as tape:
            losses, _ = pretrainer.compute_losses(batch, seeds, training=True)
        from_discriminator = tape.gradient(losses.discriminator, [table, residual])
        from_generator = tape.gradient(losses.generator, [table, residual])
        self.assertIsNone(from_discriminator[0])
        self.assertGreater(float(tf.norm(tf.convert_to_tensor(from_discriminator[1]))), 0.0)
        self.assertGreater(float(tf.norm(tf.convert_to_tensor(from_generator[0]))), 0.0)
        self.assertIsNone(from_generator[1])

    def test_fit_merge_for_fine_tuning_and_round_trip(self):
        pretrainer, history = _fit(_objective_config(embedding_sharing="gdes"),
                                   run_eagerly=False)
        self.assertTrue(all(np.isfinite(v).all() for v in history.values()))
        residual = pretrainer.discriminator.embeddings.residual.numpy()
        self.assertGreater(np.abs(residual).max(), 0.0)
        batch = tiny_batch()
        # Fine-tuning gets one plain table: the generator's plus the residual.
        backbone = discriminator_from_pretrainer(pretrainer)
        self.assertIs(type(backbone.embeddings), ElectraEmbeddings)
        self.assertAllClose(backbone.embeddings.token_embedding.embeddings,
                            pretrainer.embeddings.token_embedding.embeddings.numpy() + residual)
        self.assertEqual(len(backbone.weights), len(pretrainer.discriminator.weights) - 1)
        self.assertAllClose(backbone(batch)["sequence_output"],
                            pretrainer.discriminator(batch)["sequence_output"], atol=1e-6)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "pretrainer.keras")
            pretrainer.save(path)
            loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded.discriminator.embeddings, GdesEmbeddings)
        self.assertIs(loaded.discriminator.embeddings.shared, loaded.generator.embeddings)
        self.assertAllClose(loaded.discriminator.embeddings.residual, residual)
        self.assertAllClose(loaded.discriminator_logits(batch),
                            pretrainer.discriminator_logits(batch), atol=1e-6)
