"""`bench/saved_tensors.py`: what a pre-training step keeps for backprop, counted tensor by tensor."""

import collections
import doctest
import os
import sys

import keras
import tensorflow as tf

from keras_electra.builders import build_pretrainer
from keras_electra.training.optimizer import create_optimizer
from tests.test_case import REPO_ROOT, tiny_batch, tiny_config

sys.path.insert(0, os.path.join(REPO_ROOT, "bench"))

import saved_tensors as saved_tensors_module  # noqa: E402
from saved_tensors import saved_tensors  # noqa: E402

BATCH, LENGTH = 4, 16


def _saved_shapes(dropout):
    config = tiny_config(dropout=dropout)
    pretrainer = build_pretrainer(config)
    pretrainer.compile(optimizer=create_optimizer(config, num_train_steps=100))
    batch = {k: tf.constant(v) for k, v in tiny_batch(BATCH, LENGTH).items()}
    graph = tf.function(pretrainer.train_step).get_concrete_function(batch).graph
    saved = saved_tensors(graph)
    assert all(size is not None for _, size in saved)
    shapes = collections.Counter((t.dtype.is_floating, tuple(t.shape.as_list())) for t, _ in saved)
    return pretrainer, shapes


def _towers(pretrainer):
    """(blocks, heads, head size) of each tower's attention."""
    for tower in (pretrainer.discriminator, pretrainer.generator):
        attention = next(layer for layer in tower._flatten_layers()
                         if isinstance(layer, keras.layers.MultiHeadAttention))
        yield tower.num_layers, attention.num_heads, attention.key_dim


def test_a_step_with_attention_dropout_keeps_no_attention_probabilities():
    pretrainer, shapes = _saved_shapes(dropout=0.1)
    for blocks, heads, depth in _towers(pretrainer):
        scores = (BATCH, heads, LENGTH, LENGTH)
        # No float tensor of the scores' shape: softmax output and dropped
        # probabilities are both recomputed (`lean_attention`)...
        assert shapes[(True, scores)] == 0, (heads, depth)
        # ...from the one-byte keep mask, one per block,
        assert shapes[(False, scores)] == blocks
        # and the heads-major query and value (one layout each) and key.
        assert shapes[(True, (BATCH, heads, LENGTH, depth))] == 2 * blocks
        assert shapes[(True, (BATCH, heads, depth, LENGTH))] == blocks


def test_docstring_example():
    results = doctest.testmod(saved_tensors_module)
    assert results.attempted > 0 and results.failed == 0
