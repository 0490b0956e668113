import doctest
import importlib
import tempfile

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from keras_electra.builders import build_pretrainer
from keras_electra.layers.rematerialize import dropout_seed_generators, rematerialize
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.training.optimizer import create_optimizer
from tests.test_case import TestCase, tiny_config, tiny_dataset

X = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
W = np.random.default_rng(1).normal(size=(2, 5, 8)).astype("float32")
PADDING = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], "int32")


def _block(remat):
    """A block with heavy dropout, the same weights and seeds either way."""
    keras.utils.set_random_seed(1)
    block = keras_hub.layers.TransformerEncoder(intermediate_dim=12, num_heads=2, dropout=0.5,
                                                name="block")
    block.build((2, 5, 8))
    return rematerialize(block) if remat else block


def _loss_and_grads(block):
    """Loss and gradients (input, then weights) of two training calls, in a tf.function."""

    @tf.function
    def step():
        x = tf.constant(X)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = block(x, padding_mask=PADDING, training=True)
            loss = tf.reduce_sum(y * W)
        return loss, tape.gradient(loss, [x] + block.trainable_variables)

    first, second = step(), step()
    return [(loss.numpy(), [g.numpy() for g in grads]) for loss, grads in (first, second)]


def _op_types(concrete_function):
    graph = concrete_function.graph.as_graph_def()
    nodes = list(graph.node)
    for function in graph.library.function:
        nodes += list(function.node_def)
    return [node.op for node in nodes]


class RematerializeTest(TestCase):
    def test_same_losses_gradients_and_seed_states_as_the_plain_block(self):
        plain, remat = _block(False), _block(True)
        # Three dropouts (attention probabilities, attention output, FFN output).
        self.assertEqual(len(dropout_seed_generators(remat)), 3)
        plain_steps, remat_steps = _loss_and_grads(plain), _loss_and_grads(remat)
        for (plain_loss, plain_grads), (remat_loss, remat_grads) in zip(plain_steps, remat_steps):
            self.assertAllClose(remat_loss, plain_loss, atol=0, rtol=0)
            for plain_grad, remat_grad in zip(plain_grads, remat_grads):
                self.assertAllClose(remat_grad, plain_grad, atol=1e-6, rtol=1e-6)
        # The two calls drew different masks (dropout is on) ...
        self.assertNotAllClose(plain_steps[0][0], plain_steps[1][0])
        # ... and each call advanced every seed generator once, as the plain block does.
        for plain_gen, remat_gen in zip(dropout_seed_generators(plain),
                                        dropout_seed_generators(remat)):
            self.assertAllEqual(remat_gen.state.numpy(), plain_gen.state.numpy())
            self.assertEqual(int(remat_gen.state.numpy()[1]), 2)

    def test_backward_pass_recomputes_the_block(self):
        # The gradient graph holds a second copy of the forward products
        # (keras' einsums, lowered to BatchMatMulV2): the recomputation.
        def einsums(block):
            x = tf.constant(X)

            @tf.function
            def grads():
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = block(x, padding_mask=PADDING, training=True)
                return tape.gradient(y, x)

            return _op_types(grads.get_concrete_function()).count("BatchMatMulV2")

        plain, remat = _block(False), _block(True)
        # Of the forward's eight products (query, key, value, scores, context,
        # attention output, the two FFN denses) the backward needs six again:
        # the last dense's output is not needed for any gradient.
        self.assertEqual(einsums(plain), 18)
        self.assertEqual(einsums(remat), 18 + 6)

    def test_inference_is_the_plain_block(self):
        plain, remat = _block(False), _block(True)
        self.assertAllClose(remat(X, padding_mask=PADDING), plain(X, padding_mask=PADDING),
                            atol=0, rtol=0)
        scores = remat(X, padding_mask=PADDING, return_attention_scores=True)[1]
        self.assertEqual(tuple(scores.shape), (2, 2, 5, 5))

    def test_backbone_config_round_trip_and_checkpoints_move_both_ways(self):
        config = tiny_config(remat=True)
        pretrainer = build_pretrainer(config)
        discriminator = pretrainer.discriminator
        blocks = discriminator.encoder_blocks + pretrainer.generator.encoder_blocks
        self.assertTrue(all(getattr(block, "rematerialized", False) for block in blocks))
        restored = ElectraBackbone.from_config(discriminator.get_config())
        self.assertTrue(restored.remat)
        plain = build_pretrainer(tiny_config())
        self.assertFalse(plain.discriminator.remat)
        self.assertFalse(hasattr(plain.discriminator.encoder_blocks[0], "rematerialized"))
        self.assertEqual([v.path for v in plain.weights], [v.path for v in pretrainer.weights])
        with tempfile.TemporaryDirectory() as directory:
            pretrainer.save_weights(directory + "/remat.weights.h5")
            plain.load_weights(directory + "/remat.weights.h5")
        for a, b in zip(plain.weights, pretrainer.weights):
            self.assertAllEqual(a.numpy(), b.numpy())

    def test_pretraining_with_remat_is_pretraining_without(self):
        # Same seed, dropout on: the same losses and the same trained weights.
        def train(remat):
            config = tiny_config(remat=remat, dropout=0.1)
            keras.utils.set_random_seed(3)
            pretrainer = build_pretrainer(config)
            pretrainer.compile(optimizer=create_optimizer(config, num_train_steps=20))
            history = pretrainer.fit(tiny_dataset(3), epochs=1, verbose=0)
            return history.history["loss"], pretrainer.get_weights()

        (plain_loss, plain_weights), (remat_loss, remat_weights) = train(False), train(True)
        self.assertAllClose(remat_loss, plain_loss, atol=1e-6, rtol=1e-6)
        for a, b in zip(plain_weights, remat_weights):
            self.assertAllClose(b, a, atol=1e-6, rtol=1e-5)

    def test_config_type_is_checked(self):
        with self.assertRaisesRegex((TypeError, ValueError), "remat"):
            tiny_config(remat="yes")

    def test_docstring(self):
        results = doctest.testmod(importlib.import_module("keras_electra.layers.rematerialize"), verbose=False)
        self.assertEqual(results.failed, 0)
        self.assertGreater(results.attempted, 0)
