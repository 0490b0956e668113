"""XLA, steps_per_execution and mixed precision of `ElectraPretrainer`."""

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



def _fit_weights(config, steps, **compile_args):
    keras.utils.set_random_seed(config.seed)
    pretrainer = build_pretrainer(config)
    pretrainer.compile(optimizer=create_optimizer(config, num_train_steps=100), **compile_args)
    history = pretrainer.fit(tiny_dataset(steps), epochs=1, verbose=0)
    return pretrainer, history.history, [v.numpy() for v in pretrainer.trainable_variables]


class PretrainerCompilationTest(TestCase):
    def test_train_step_compiles_with_xla(self):
        # Static shapes (drop_remainder batches, static prediction slots); "auto"
        # would turn XLA off on CPU, so jit_compile=True is explicit.
        config = tiny_config(num_layers=1)
        pretrainer, history, xla = _fit_weights(config, 4, jit_compile=True)
        self.assertIs(pretrainer.jit_compile, True)
        self.assertEqual(int(pretrainer.optimizer.iterations), 4)
        for key in ("loss", "generator_loss", "discriminator_loss"):
            self.assertTrue(np.isfinite(history[key][0]), key)
        # XLA's stateless RNG differs from the graph kernels' (other masks), so
        # the weights are compared with the initial ones, not a graph-mode run.
        keras.utils.set_random_seed(config.seed)
        initial = [v.numpy() for v in build_pretrainer(config).trainable_variables]
        self.assertTrue(all(np.isfinite(w).all() for w in xla))
        self.assertTrue(any(not np.allclose(a, b) for a, b in zip(xla, initial)))

    def test_steps_per_execution_matches_single_steps(self):
        # The masking seed follows the optimizer's step counter, which advances
        # inside the multi-step loop: k=3 gives the same weights as k=1.
        config = tiny_config(num_layers=1, dropout=0.1)
        _, _, single = _fit_weights(config, 6, steps_per_execution=1)
        pretrainer, _, multi = _fit_weights(config, 6, steps_per_execution=3)
        self.assertEqual(int(pretrainer.optimizer.iterations), 6)
        for a, b in zip(single, multi):
            self.assertAllClose(a, b, atol=1e-6)


# --------------------------------------------------------------------------
# Mixed precision.
class PretrainerMixedPrecisionTest(TestCase):
    def _loss_falls(self, mixed_precision):
        config = tiny_config(num_layers=1, learning_rate=3e-3, mixed_precision=mixed_precision)
        keras.utils.set_random_seed(0)
        pretrainer = build_pretrainer(config)
        self.assertEqual(keras.config.dtype_policy().name, "float32")  # restored
        self.assertEqual(pretrainer.dtype_policy.name, config.dtype_policy)
        block = pretrainer.discriminator.encoder_blocks[0]
        half = {"bfloat16": "bfloat16", "float16": "float16"}[mixed_precision]
        self.assertEqual(block.compute_dtype, half)
        self.assertTrue(all(v.dtype == "float32" for v in pretrainer.trainable_variables))
        # Logits (softmax, sampling, losses) are float32.
        self.assertEqual(pretrainer.generator_logits(tiny_batch()).dtype, tf.float32)
        self.assertEqual(pretrainer.discriminator_logits(tiny_batch()).dtype, tf.float32)
        pretrainer.compile(optimizer=create_optimizer(config, num_train_steps=30))
        before = pretrainer.evaluate(tiny_dataset(1), verbose=0, return_dict=True)
        history = pretrainer.fit(tiny_dataset(1).repeat(), steps_per_epoch=30, epochs=1, verbose=0)
        after = pretrainer.evaluate(tiny_dataset(1), verbose=0, return_dict=True)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        self.assertLess(after["generator_loss"], before["generator_loss"] - 0.1)
        self.assertLess(after["loss"], before["loss"])
        return pretrainer

    def test_bfloat16_trains(self):
        pretrainer = self._loss_falls("bfloat16")
        self.assertNotIsInstance(pretrainer.optimizer, keras.optimizers.LossScaleOptimizer)

    def test_float16_trains_with_loss_scaling(self):
        pretrainer = self._loss_falls("float16")
        self.assertIsInstance(pretrainer.optimizer, keras.optimizers.LossScaleOptimizer)

    def test_float16_overflow_step_is_skipped(self):
        config = tiny_config(num_layers=1, mixed_precision="float16")
        pretrainer = build_pretrainer(config)
        inner = keras.optimizers.SGD(1.0, global_clipnorm=config.clip_norm)
        # A loss scale that overflows: the scaled gradients are not finite.
        optimizer = keras.optimizers.LossScaleOptimizer(inner, initial_scale=2.0 ** 127)
        pretrainer.compile(optimizer=optimizer)
        batch = {k: tf.constant(v) for k, v in tiny_batch().items()}
        before = [v.numpy().copy() for v in pretrainer.trainable_variables]
        pretrainer.train_step(batch)
        for a, b in zip(before, pretrainer.trainable_variables):
            self.assertAllEqual(b.numpy(), a)
        self.assertEqual(float(optimizer.dynamic_scale.numpy()), 2.0 ** 126)
        self.assertEqual(int(inner.iterations), 0)
        # A sane scale then applies a clipped (unscaled) step: update norm = lr * 1.0.
        optimizer.dynamic_scale.assign(2.0 ** 10)
        before = [v.numpy().copy() for v in pretrainer.trainable_variables]
        pretrainer.train_step(batch)
        after = [v.numpy() for v in pretrainer.trainable_variables]
        norm = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(after, before)))
        self.assertAllClose(norm, config.clip_norm, rtol=1e-3)
        self.assertEqual(int(inner.iterations), 1)

    def test_train_step_refuses_to_clip_scaled_gradients(self):
        pretrainer = build_pretrainer(tiny_config(num_layers=1))
        pretrainer.compile(optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()))
        with pytest.raises(ValueError, match="global_clipnorm=1.0"):
            pretrainer.train_step({k: tf.constant(v) for k, v in tiny_batch().items()})


# --------------------------------------------------------------------------
# Gradient accumulation.
