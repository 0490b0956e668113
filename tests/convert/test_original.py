"""Parity of `keras_electra.convert.original` with the original ELECTRA checkpoints.

The checkpoints are written here the way google-research/electra's
`run_pretraining.py` writes them: TF1 variables named as its `modeling.py`
names them, saved by `tf.compat.v1.train.Saver`, with `global_step` and the
`AdamWeightDecayOptimizer` slots. Their values come from tiny random Hugging
Face models (the oracle: HF's ELECTRA is a port of that code), so the logits
of the loaded pretrainer are compared with HF's. The HF -> original name
table (`tests/convert/hf_models.py`) is written from `modeling.py`,
independently of the module.
"""

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from keras_electra.config import ElectraConfig  # noqa: E402
from keras_electra.convert import from_original_checkpoint  # noqa: E402
from tests.convert.hf_models import (  # noqa: E402
    hf_config,
    hf_logits,
    original_variables,
    padded_batch,
    pretraining_pair,
    write_checkpoint,
)

ATOL = 1e-5
VOCAB = 60
SEQ = 12
LAYERS = 2
DISC = dict(hidden_size=16, num_attention_heads=2, intermediate_size=24)
GEN = dict(hidden_size=8, num_attention_heads=2, intermediate_size=12)

CONFIG = ElectraConfig(
    vocab_size=VOCAB, embedding_size=12, hidden_size=16, num_layers=LAYERS, num_heads=2,
    intermediate_size=24, generator_hidden_size=0.5, generator_num_heads=2,
    generator_intermediate_size=12, max_position_embeddings=20, max_seq_length=SEQ)


def _hf_models():
    """An `ElectraForPreTraining` and an `ElectraForMaskedLM` sharing embeddings."""
    common = dict(vocab_size=VOCAB, embedding_size=12, num_hidden_layers=LAYERS,
                  max_position_embeddings=20)
    return pretraining_pair(hf_config(**common, **DISC), hf_config(**common, **GEN))


def _with_training_state(variables):
    """Adds `AdamWeightDecayOptimizer` slots for a few weights (and a fork's pooler)."""
    variables = dict(variables)
    for name in ("electra/embeddings/word_embeddings",
                 "generator/encoder/layer_1/output/dense/kernel",
                 "discriminator_predictions/dense_1/bias", "generator_predictions/output_bias"):
        variables[f"{name}/adam_m"] = np.ones_like(variables[name])
        variables[f"{name}/adam_v"] = np.ones_like(variables[name])
    variables["electra/pooler/dense/kernel"] = np.zeros((16, 16), np.float32)
    variables["electra/pooler/dense/bias"] = np.zeros((16,), np.float32)
    return variables


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """`(discriminator, generator, variables, checkpoint prefix)`."""
    discriminator, generator = _hf_models()
    variables = original_variables(discriminator, generator)
    prefix = write_checkpoint(tmp_path_factory.mktemp("electra") / "model.ckpt",
                              _with_training_state(variables))
    return discriminator, generator, variables, prefix


@pytest.fixture(scope="module")
def converted(original):
    keras.utils.set_random_seed(1)
    return from_original_checkpoint(original[3], CONFIG)


def _batch():
    """Rows of length 12, 9 and 5, two segments each, [PAD] = 0 after."""
    return padded_batch(VOCAB, SEQ)


def _max_difference(actual, expected):
    actual = np.asarray(actual)
    assert actual.shape == expected.shape
    return float(np.abs(actual - expected).max())  # padded positions included


def test_checkpoint_is_what_the_original_writes(original):
    names = dict(tf.train.list_variables(original[3]))
    assert names["global_step"] == []
    assert names["electra/encoder/layer_0/attention/self/query/kernel"] == [16, 16]
    assert names["generator/embeddings_project/kernel"] == [12, 8]  # (in, out)
    assert names["discriminator_predictions/dense_1/kernel"] == [16, 1]
    assert "generator/embeddings/word_embeddings" not in names  # shared embeddings


def test_discriminator_logits_match(original, converted):
    batch = _batch()
    difference = _max_difference(converted.discriminator_logits(batch),
                                 hf_logits(original[0], batch))
    assert difference <= ATOL, f"max |diff| {difference:.3g}"


def test_generator_logits_match(original, converted):
    batch = _batch()
    difference = _max_difference(converted.generator_logits(batch),
                                 hf_logits(original[1], batch))
    assert difference <= ATOL, f"max |diff| {difference:.3g}"


def test_every_weight_comes_from_the_checkpoint(original, converted):
    # Loaded under another seed, a weight the loader left at its random init
    # would differ, even one the logits above happen not to expose.
    _, _, variables, prefix = original
    keras.utils.set_random_seed(7)
    again = from_original_checkpoint(prefix, CONFIG)
    for before, after in zip(converted.weights, again.weights, strict=True):
        np.testing.assert_array_equal(before.numpy(), after.numpy(), err_msg=before.path)
    np.testing.assert_array_equal(
        converted.embeddings.token_embedding.embeddings.numpy(),
        variables["electra/embeddings/word_embeddings"])


def test_directory_reads_latest_checkpoint_and_json_config(original, tmp_path):
    discriminator, _, variables, _ = original
    stale = dict(variables)
    del stale["electra/encoder/layer_1/output/dense/bias"]  # would fail if read
    write_checkpoint(tmp_path / "model.ckpt", stale, step=500)
    write_checkpoint(tmp_path / "model.ckpt", variables, step=1000)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(CONFIG.to_dict()))
    pretrainer = from_original_checkpoint(str(tmp_path), str(config_path))
    batch = _batch()
    assert _max_difference(pretrainer.discriminator_logits(batch),
                           hf_logits(discriminator, batch)) <= ATOL


def test_directory_without_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="no TF1 checkpoint found"):
        from_original_checkpoint(str(tmp_path), CONFIG)


def _checkpoint_with(original, tmp_path, edit):
    variables = dict(original[2])
    edit(variables)
    return write_checkpoint(tmp_path / "model.ckpt", variables)


def test_missing_variable_is_named(original, tmp_path):
    name = "generator/encoder/layer_1/attention/self/value/bias"
    prefix = _checkpoint_with(original, tmp_path, lambda v: v.pop(name))
    with pytest.raises(ValueError, match=f"model.ckpt-1000: missing variable '{name}'"):
        from_original_checkpoint(prefix, CONFIG)


def test_wrong_shape_names_expected_shape(original, tmp_path):
    name = "electra/encoder/layer_0/intermediate/dense/kernel"

    def transpose(variables):  # an (out, in) kernel, as HF would store it
        variables[name] = variables[name].T.copy()

    prefix = _checkpoint_with(original, tmp_path, transpose)
    with pytest.raises(ValueError, match=re.escape(
            f"variable '{name}' has shape (24, 16), expected (16, 24)")):
        from_original_checkpoint(prefix, CONFIG)


def test_unexpected_variable_is_an_error(original, tmp_path):
    def add(variables):
        variables["electra/encoder/layer_2/output/dense/bias"] = np.zeros(16, np.float32)

    prefix = _checkpoint_with(original, tmp_path, add)
    with pytest.raises(ValueError, match="unexpected variable.*layer_2/output/dense/bias"):
        from_original_checkpoint(prefix, CONFIG)


def test_untied_generator_embeddings_are_refused(original, tmp_path):
    def untie(variables):  # untied_generator_embeddings=True: the generator's own table
        variables["generator/embeddings/word_embeddings"] = np.zeros((VOCAB, 8), np.float32)

    prefix = _checkpoint_with(original, tmp_path, untie)
    with pytest.raises(ValueError, match="untied_generator_embeddings=True"):
        from_original_checkpoint(prefix, CONFIG)
