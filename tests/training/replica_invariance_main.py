"""Trains the tiny config on 1 and on 2 logical-CPU replicas (not a test itself).

    python tests/training/replica_invariance_main.py OUT.npz

Both runs see the same global batches (Keras splits each batch of 8 into 4 + 4
under `MirroredStrategy`); the caller compares losses and weights.
"""

import os
import sys

import tensorflow as tf

cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_electra.builders import build_pretrainer  # noqa: E402
from keras_electra.training.optimizer import create_optimizer  # noqa: E402
from tests.test_case import tiny_batch, tiny_config  # noqa: E402

STEPS = 4


def train(strategy):
    config = tiny_config(dropout=0.0, clip_norm=0.5)  # clipping active: it must be global
    keras.utils.set_random_seed(0)
    with strategy.scope():
        pretrainer = build_pretrainer(config)
        pretrainer.compile(optimizer=create_optimizer(config, num_train_steps=100))
    batches = [tiny_batch(seed=i, batch_size=8) for i in range(STEPS)]
    data = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(8, drop_remainder=True)
    history = pretrainer.fit(dataset, epochs=1, verbose=0)
    return history.history, [v.numpy() for v in pretrainer.trainable_variables]


one_history, one_weights = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
two_history, two_weights = train(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
np.savez(sys.argv[1], one_loss=one_history["loss"], two_loss=two_history["loss"],
         one_gen=one_history["generator_loss"], two_gen=two_history["generator_loss"],
         **{f"one_{i}": w for i, w in enumerate(one_weights)},
         **{f"two_{i}": w for i, w in enumerate(two_weights)})
