"""`FusedAdamW`: Keras' AdamW, value for value, each variable's update one XLA call."""

import keras
import numpy as np
import tensorflow as tf

from keras_electra.training.fused_adamw import FusedAdamW
from keras_electra.training.optimizer import NO_DECAY_NAMES, create_optimizer
from keras_electra.training.schedules import WarmupLinearDecay
from tests.test_case import TestCase, tiny_config

# Two variables of one shape: each update must reach its own variable.
SHAPES = {"kernel": (6, 5), "kernel_2": (6, 5), "bias": (5,), "embeddings": (9, 4), "gamma": (4,)}


def _variables(seed=0):
    rng = np.random.default_rng(seed)
    return [keras.Variable(rng.normal(size=shape).astype("float32"), name=name)
            for name, shape in SHAPES.items()]


def _gradients(variables, step, scale, dense=False):
    """Dense gradients, except a sparse (`IndexedSlices`) one for the embedding rows 1, 3, 3."""
    rng = np.random.default_rng(100 + step)
    grads = []
    for variable in variables:
        if variable.name == "embeddings":
            rows = rng.normal(scale=scale, size=(3, 4)).astype("float32")
            sparse = tf.IndexedSlices(tf.constant(rows), tf.constant([1, 3, 3]),
                                      tf.constant([9, 4]))
            grads.append(tf.convert_to_tensor(sparse) if dense else sparse)
        else:
            grads.append(tf.constant(rng.normal(scale=scale, size=variable.shape)
                                     .astype("float32")))
    return grads


def _run(optimizer_class, steps=4, scale=5.0, dense=False, **kwargs):
    """Variables and moments after `steps` updates in a `tf.function`, as `fit` runs them."""
    optimizer = optimizer_class(
        learning_rate=WarmupLinearDecay(0.1, 10, 2), weight_decay=0.1, beta_1=0.9,
        beta_2=0.999, epsilon=1e-6, **kwargs)
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    variables = _variables()
    apply = tf.function(lambda grads: optimizer.apply(grads, variables))
    for step in range(steps):
        apply(_gradients(variables, step, scale, dense))
    return ([v.numpy() for v in variables], [m.numpy() for m in optimizer._momentums],
            [v.numpy() for v in optimizer._velocities])


class FusedAdamWTest(TestCase):
    def assert_same_run(self, fused, reference):
        for got, want in zip(fused, reference):
            for a, b in zip(got, want):
                # Same operations in the same order; XLA may contract a
                # multiply-add, so allow a float32 rounding or two.
                self.assertAllClose(a, b, rtol=1e-6, atol=1e-7)

    def test_matches_keras_adamw_with_clipping_decay_and_sparse_gradients(self):
        # Gradient norms ~20 against global_clipnorm 1.0: the clip is active.
        # Keras is handed the sparse gradient made dense (see below).
        self.assert_same_run(_run(FusedAdamW, global_clipnorm=1.0),
                             _run(keras.optimizers.AdamW, global_clipnorm=1.0, dense=True))

    def test_matches_keras_adamw_on_dense_gradients_without_clipping(self):
        """Keras squares a sparse gradient's slices before it sums the rows
        listed twice (row 3 here), so its global norm and second moment are
        not the dense gradient's; the fused optimizer makes the gradient dense
        first, which gives Adam's values."""
        self.assert_same_run(_run(FusedAdamW, scale=0.01),
                             _run(keras.optimizers.AdamW, scale=0.01, dense=True))

    def test_matches_keras_adamw_with_gradient_accumulation(self):
        self.assert_same_run(
            _run(FusedAdamW, steps=6, global_clipnorm=1.0, gradient_accumulation_steps=2),
            _run(keras.optimizers.AdamW, steps=6, global_clipnorm=1.0,
                 gradient_accumulation_steps=2))

    def test_two_steps_by_hand(self):
        """float64 arithmetic of AdamW: decay (kernel only, not bias), then Adam, bias-corrected."""
        lr, decay, b1, b2, eps = 0.1, 0.5, 0.9, 0.999, 1e-6
        optimizer = FusedAdamW(learning_rate=lr, weight_decay=decay, beta_1=b1, beta_2=b2,
                               epsilon=eps)
        optimizer.exclude_from_weight_decay(var_names=["bias"])
        kernel = keras.Variable(np.array([1.0, -2.0], "float32"), name="kernel")
        bias = keras.Variable(np.array([3.0], "float32"), name="bias")
        steps = [([0.5, -1.0], [2.0]), ([-0.25, 4.0], [0.0])]
        want = {"kernel": np.array([1.0, -2.0]), "bias": np.array([3.0])}
        moments = {name: [np.zeros_like(w), np.zeros_like(w)] for name, w in want.items()}
        for t, grads in enumerate(steps, start=1):
            optimizer.apply([tf.constant(g, tf.float32) for g in grads], [kernel, bias])
            for (name, w), g in zip(want.items(), grads):
                if name == "kernel":
                    w -= w * decay * lr
                m, v = moments[name]
                m += (np.array(g) - m) * (1 - b1)
                v += (np.square(g) - v) * (1 - b2)
                w -= m * (lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)) / (np.sqrt(v) + eps)
            if t == 1:
                # Decay by lr * decay = 5% (not the bias), then Adam's first
                # step: lr against the gradient's sign (up to epsilon).
                self.assertAllClose(kernel.numpy(), [0.95 - 0.1, -1.9 + 0.1], atol=1e-4)
                self.assertAllClose(bias.numpy(), [3.0 - 0.1], atol=1e-4)
        self.assertAllClose(kernel.numpy(), want["kernel"], rtol=1e-6)
        self.assertAllClose(bias.numpy(), want["bias"], rtol=1e-6)

    def test_each_update_is_one_xla_call(self):
        variables = _variables()
        grads = _gradients(variables, 0, 1.0)
        ops = {}
        for cls in (FusedAdamW, keras.optimizers.AdamW):
            optimizer = cls(learning_rate=0.1, weight_decay=0.1, global_clipnorm=1.0)
            graph = tf.function(lambda g, o=optimizer: o.apply(g, variables)) \
                .get_concrete_function(grads).graph
            ops[cls] = [op.type for op in graph.get_operations()]
        fused = ops[FusedAdamW]
        calls = [t for t in fused if t in ("PartitionedCall", "StatefulPartitionedCall")]
        self.assertEqual(len(calls), len(variables))
        # Adam's arithmetic, the clip's scaling and the updates are in the XLA calls.
        for kind in ("Pow", "AssignAddVariableOp", "AssignSubVariableOp"):
            self.assertNotIn(kind, fused)
            self.assertIn(kind, ops[keras.optimizers.AdamW])
        self.assertLess(len(fused), len(ops[keras.optimizers.AdamW]) / 2)

    def test_under_a_strategy_clipping_is_keras(self):
        """In a replica context the clip stays Keras' (per replica, before the
        all-reduce); the update is still fused, and the values are Keras'."""
        strategy = tf.distribute.OneDeviceStrategy("/cpu:0")

        def run(cls):
            with strategy.scope():
                optimizer = cls(learning_rate=0.1, weight_decay=0.1, global_clipnorm=1.0)
                variables = _variables()
            apply = tf.function(lambda grads: strategy.run(optimizer.apply, (grads, variables)))
            for step in range(3):
                apply(_gradients(variables, step, 5.0, dense=True))
            if cls is FusedAdamW:
                with strategy.scope():
                    self.assertFalse(optimizer._folds_clip())
                self.assertTrue(optimizer._folds_clip())  # without a strategy
            return [v.numpy() for v in variables], [m.numpy() for m in optimizer._momentums]

        self.assert_same_run(run(FusedAdamW), run(keras.optimizers.AdamW))

    def test_amsgrad_is_keras_update(self):
        self.assert_same_run(_run(FusedAdamW, amsgrad=True), _run(keras.optimizers.AdamW,
                                                                 amsgrad=True))

    def test_config_round_trip_and_create_optimizer(self):
        optimizer = FusedAdamW(learning_rate=0.01, weight_decay=0.02, epsilon=1e-6)
        restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
        self.assertIsInstance(restored, FusedAdamW)
        self.assertEqual((restored.weight_decay, restored.epsilon), (0.02, 1e-6))
        created = create_optimizer(tiny_config(), num_train_steps=10)
        self.assertIsInstance(created, FusedAdamW)
        self.assertEqual(created.global_clipnorm, 1.0)
