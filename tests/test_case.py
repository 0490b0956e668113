"""Shared test helpers, in the spirit of keras-hub's `TestCase`.

Tiny configs and batches, the path of the shared data, and value assertions.
"""

import os
import pathlib
import unittest

import numpy as np
import tensorflow as tf

import keras
from keras_electra.config import ElectraConfig

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

# [PAD] [UNK] [CLS] [SEP] [MASK] at 0..4, the layout this package's vocabularies use.
PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
SPECIAL_IDS = (CLS, SEP, MASK, PAD)


def shared_data_dir():
    """`../shared/data` (or `$KERAS_ELECTRA_SHARED_DATA`, which Bazel sets)."""
    path = os.environ.get("KERAS_ELECTRA_SHARED_DATA")
    return pathlib.Path(path) if path else REPO_ROOT.parent / "shared" / "data"


def tiny_config(**overrides):
    """A model small enough to build and train in a second."""
    values = dict(
        vocab_size=50, embedding_size=12, hidden_size=16, num_layers=2, num_heads=2,
        intermediate_size=24, generator_hidden_size=0.5, max_position_embeddings=16,
        max_seq_length=16, max_predictions_per_seq=4, dropout=0.0, seed=1,
        train_batch_size=4, num_train_steps=20, num_warmup_steps=2,
    )
    values.update(overrides)
    return ElectraConfig(**values)


def tiny_batch(batch_size=4, seq_length=16, vocab_size=50, padding=True, seed=0):
    """`[CLS] tokens [SEP] [PAD]...` rows with two segments and ragged lengths."""
    rng = np.random.default_rng(seed)
    input_ids = np.zeros((batch_size, seq_length), np.int32)
    input_mask = np.zeros((batch_size, seq_length), np.int32)
    segment_ids = np.zeros((batch_size, seq_length), np.int32)
    for row in range(batch_size):
        length = seq_length - (row % 3 if padding else 0)
        input_ids[row, :length] = rng.integers(5, vocab_size, length)
        input_ids[row, 0] = CLS
        input_ids[row, length - 1] = SEP
        input_mask[row, :length] = 1
        segment_ids[row, length // 2:length] = 1
    return {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}


def tiny_dataset(num_batches=8, seed=0):
    """`num_batches` batches of 4 `tiny_batch` rows (different seeds), in order."""
    batches = [tiny_batch(seed=seed + i) for i in range(num_batches)]
    stacked = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    return tf.data.Dataset.from_tensor_slices(stacked).batch(4, drop_remainder=True)


class TestCase(unittest.TestCase):
    """`unittest.TestCase` with a fixed global seed per test and array assertions.

    (Not `tf.test.TestCase`: pytest would collect and skip its `test_session`.)
    """

    def setUp(self):
        super().setUp()
        keras.backend.clear_session()
        keras.utils.set_random_seed(1337)

    def assertAllClose(self, actual, expected, atol=1e-6, rtol=1e-6, msg=""):
        np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), atol=atol,
                                   rtol=rtol, err_msg=msg)

    def assertNotAllClose(self, actual, expected, atol=1e-6):
        self.assertFalse(np.allclose(np.asarray(actual), np.asarray(expected), atol=atol))

    def assertAllEqual(self, actual, expected):
        np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))
