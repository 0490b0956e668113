import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_electra.builders import build_pretrainer
from keras_electra.training.optimizer import create_optimizer
from keras_electra.training.schedules import WarmupLinearDecay
from keras_electra.training.training_summaries import TrainingSummaries, read_scalars
from tests.test_case import TestCase, tiny_config, tiny_dataset

BATCH, SEQ = 4, 16  # tiny_dataset's batches
NUM_TRAIN_STEPS = 20


class _CountAtBatchBegin(keras.callbacks.Callback):
    """Records the `loss` tracker's count when each execution starts.

    Listed after `TrainingSummaries`, it sees the state the next train step
    will add to, i.e. after any reset.
    """

    def __init__(self):
        super().__init__()
        self.counts = {}

    def on_train_batch_begin(self, batch, logs=None):
        self.counts[batch] = int(self.model.loss_tracker.count.numpy())


class _StepValueModel(keras.Model):
    """A model whose step k "loss" is `values[k - 1]`: interval means are known.

    Its one update (a zero gradient) only advances `optimizer.iterations`.
    """

    def __init__(self, values):
        super().__init__()
        self.values = tf.constant(values, tf.float32)
        self.weight = self.add_weight(shape=(), initializer="zeros", name="weight")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    def train_step(self, data):
        step = tf.convert_to_tensor(self.optimizer.iterations)
        self.loss_tracker.update_state(tf.gather(self.values, step))
        self.optimizer.apply([tf.zeros(())], [self.weight])
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]


def _fit_step_values(values, summaries, optimizer=None):
    model = _StepValueModel(values)
    model.compile(optimizer=optimizer or keras.optimizers.SGD(0.1))
    data = tf.data.Dataset.from_tensor_slices(np.zeros((len(values), 1), "float32")).batch(1)
    history = model.fit(data, epochs=1, verbose=0, callbacks=[summaries])
    return history


class TrainingSummariesTest(TestCase):

    @pytest.fixture(autouse=True)
    def _tmp_path(self, tmp_path):
        # unittest methods take no fixture arguments; an autouse one can set them.
        self.tmp_path = tmp_path

    def _fit_pretrainer(self, log_dir, steps_per_execution=1, callbacks=()):
        config = tiny_config(num_train_steps=NUM_TRAIN_STEPS)
        pretrainer = build_pretrainer(config)
        pretrainer.compile(optimizer=create_optimizer(config),
                           steps_per_execution=steps_per_execution)
        summaries = TrainingSummaries(log_dir, log_every=2, tokens_per_step=BATCH * SEQ,
                                      examples_per_step=BATCH)
        pretrainer.fit(tiny_dataset(6).repeat(), steps_per_epoch=6, epochs=1, verbose=0,
                       callbacks=[summaries, *callbacks])
        # The oracle: the schedule `create_optimizer` builds, rebuilt from the config.
        schedule = WarmupLinearDecay(config.learning_rate, NUM_TRAIN_STEPS,
                                     config.num_warmup_steps)
        return pretrainer, read_scalars(log_dir / "train"), schedule

    @pytest.mark.slow  # ~10-15 s: traces the pretrainer's train step
    def test_pretrainer_logs_every_second_step(self):
        counts = _CountAtBatchBegin()
        _, scalars, schedule = self._fit_pretrainer(self.tmp_path, callbacks=[counts])
        expected_tags = {
            "loss", "generator_loss", "discriminator_loss", "generator_accuracy",
            "discriminator_accuracy", "replaced_precision", "replaced_recall",
            "replaced_fraction", "learning_rate", "tokens_per_second", "examples_per_second",
        }
        self.assertLessEqual(expected_tags, set(scalars))
        for tag, points in scalars.items():
            self.assertEqual([step for step, _ in points], [2, 4, 6], tag)
            self.assertTrue(all(math.isfinite(value) for _, value in points), (tag, points))
        # The rate the next update uses: the schedule at the current step.
        self.assertAllClose([value for _, value in scalars["learning_rate"]],
                            [float(schedule(step)) for step in (2, 4, 6)])
        self.assertEqual(len({value for _, value in scalars["learning_rate"]}), 3)
        tokens = np.array([value for _, value in scalars["tokens_per_second"]])
        examples = np.array([value for _, value in scalars["examples_per_second"]])
        self.assertTrue(np.all(tokens > 0))
        self.assertAllClose(tokens / examples, np.full(3, SEQ), rtol=1e-5)
        # Reset after the logs at steps 2 and 4 (batches 1, 3), not in between.
        self.assertEqual(counts.counts, {0: 0, 1: 1, 2: 0, 3: 1, 4: 0, 5: 1})
        self.assertFalse((self.tmp_path / "eval").exists())

    @pytest.mark.slow  # ~10-15 s: traces the pretrainer's train step
    def test_steps_per_execution_logs_where_the_step_crossed_a_multiple(self):
        pretrainer, scalars, schedule = self._fit_pretrainer(self.tmp_path,
                                                             steps_per_execution=3)
        self.assertEqual(int(pretrainer.optimizer.iterations.numpy()), 6)
        for tag in ("loss", "learning_rate", "tokens_per_second"):
            self.assertEqual([step for step, _ in scalars[tag]], [3, 6], tag)
        self.assertAllClose([value for _, value in scalars["learning_rate"]],
                            [float(schedule(3)), float(schedule(6))])

    def test_values_are_interval_means_and_epoch_logs_keep_the_last_interval(self):
        summaries = TrainingSummaries(self.tmp_path, log_every=2, tokens_per_step=8)
        history = _fit_step_values([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], summaries)
        scalars = read_scalars(self.tmp_path / "train")
        # Running means since the epoch began would be 0.5, 1.5, 2.5.
        self.assertEqual(scalars["loss"], [(2, 0.5), (4, 2.5), (6, 4.5)])
        # The reset waits for the next step, so `fit`'s epoch-end logs (which it
        # reads from the model's metrics) hold the last interval, not zeros.
        self.assertEqual(history.history["loss"], [4.5])

    def test_reads_the_inner_rate_of_a_loss_scale_optimizer(self):
        schedule = WarmupLinearDecay(0.1, total_steps=10, warmup_steps=4)
        optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(schedule))
        summaries = TrainingSummaries(self.tmp_path, log_every=1, tokens_per_step=8)
        _fit_step_values([1.0] * 4, summaries, optimizer)
        scalars = read_scalars(self.tmp_path / "train")
        self.assertEqual([step for step, _ in scalars["learning_rate"]], [1, 2, 3, 4])
        self.assertAllClose([value for _, value in scalars["learning_rate"]],
                            [float(schedule(step)) for step in (1, 2, 3, 4)])

    def test_non_finite_values_are_written(self):
        summaries = TrainingSummaries(self.tmp_path, log_every=2, tokens_per_step=8)
        _fit_step_values([0.0, float("nan"), 2.0, 3.0], summaries)
        summaries.write_eval({"loss": float("inf"), "accuracy": 0.5}, step=4)
        train = read_scalars(self.tmp_path / "train")
        self.assertEqual([step for step, _ in train["loss"]], [2, 4])
        self.assertTrue(math.isnan(train["loss"][0][1]))
        self.assertEqual(train["loss"][1][1], 2.5)
        self.assertEqual(read_scalars(self.tmp_path / "eval"),
                         {"loss": [(4, float("inf"))], "accuracy": [(4, 0.5)]})

    def test_non_chief_writes_nothing_but_still_resets(self):
        summaries = TrainingSummaries(self.tmp_path, log_every=2, tokens_per_step=8,
                                      is_chief=False)
        history = _fit_step_values([0.0, 1.0, 2.0, 3.0], summaries)
        summaries.write_eval({"loss": 1.0}, step=4)
        self.assertEqual(list(self.tmp_path.iterdir()), [])
        self.assertEqual(history.history["loss"], [2.5])

    def test_log_every_must_be_positive(self):
        with self.assertRaisesRegex(ValueError, r"log_every=0"):
            TrainingSummaries(self.tmp_path, log_every=0, tokens_per_step=8)
