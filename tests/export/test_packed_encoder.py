"""`PackedEncoder` and `call_task_model` reproduce the models at every real token."""

import numpy as np
import pytest
import tensorflow as tf

from keras_electra.export import packed_encoder
from keras_electra.export.packed_encoder import (
    PackedEncoder,
    call_task_model,
    check_packed_matches,
)
from keras_electra.layers.electra_embeddings import ElectraEmbeddings
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.task_builders import build_task_model

LENGTHS = [9, 3, 1, 6]  # ragged, one row of a single token


def _backbone(embedding_size=8, seed=0):
    tf.keras.utils.set_random_seed(seed)
    return ElectraBackbone(
        ElectraEmbeddings(vocabulary_size=40, embedding_size=embedding_size,
                          max_sequence_length=16),
        hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32)


def _batch(lengths=LENGTHS, width=None):
    width = width or max(lengths)
    rng = np.random.default_rng(1)
    mask = (np.arange(width)[None, :] < np.array(lengths)[:, None]).astype("int32")
    return {"input_ids": (rng.integers(5, 40, mask.shape) * mask).astype("int32"),
            "input_mask": mask,
            "segment_ids": ((np.arange(width)[None, :] >= 2) * mask).astype("int32")}


@pytest.mark.parametrize("embedding_size", [8, 16])  # with and without the projection
def test_packed_sequence_output_equals_the_backbone_at_real_tokens(embedding_size):
    backbone = _backbone(embedding_size)
    batch = _batch()
    plain = backbone(batch, training=False)["sequence_output"].numpy()
    packed = PackedEncoder(backbone)(batch)["sequence_output"].numpy()
    real = batch["input_mask"] == 1
    np.testing.assert_allclose(packed[real], plain[real], atol=1e-5)
    assert np.all(packed[~real] == 0.0)
    # Padding must not leak: the same rows alone, unpadded, give the same vectors.
    for row, length in enumerate(LENGTHS):
        alone = {name: value[row:row + 1, :length] for name, value in batch.items()}
        single = backbone(alone, training=False)["sequence_output"].numpy()[0]
        np.testing.assert_allclose(packed[row, :length], single, atol=1e-5)


def test_a_batch_without_padding_takes_the_models_own_path():
    backbone = _backbone()
    batch = _batch(lengths=[5, 5])
    plain = backbone(batch, training=False)["sequence_output"].numpy()
    np.testing.assert_array_equal(PackedEncoder(backbone)(batch)["sequence_output"].numpy(),
                                  plain)


@pytest.mark.parametrize("kind, kwargs", [
    ("classification", {"num_classes": 3}),
    ("regression", {"num_classes": 1}),
    ("tagging", {"num_classes": 5}),
    ("span_extraction", {"answerability": True}),
])
def test_task_models_with_the_packed_backbone_equal_the_models(kind, kwargs):
    model = build_task_model(kind, _backbone(), **kwargs)
    batch = _batch()
    expected = model(batch, training=False)
    actual = tf.function(lambda b: call_task_model(model, b))(batch)
    real = batch["input_mask"] == 1
    for key, value in (expected.items() if isinstance(expected, dict)
                       else [("output", expected)]):
        value = np.asarray(value)
        got = np.asarray(actual[key] if isinstance(actual, dict) else actual)
        if kind == "tagging":
            value, got = value[real], got[real]
        if kind == "span_extraction" and key != "answerable_logits":
            value, got = np.where(real, value, 0), np.where(real, got, 0)
        np.testing.assert_allclose(got, value, atol=1e-5, rtol=1e-5, err_msg=key)


def test_check_fails_loudly_when_the_mirrored_layers_change(monkeypatch):
    backbone = _backbone()
    check_packed_matches(backbone)  # the real one passes

    def without_final_layer_norm(block, x, pack, unpack, attention_mask):
        attention = block._self_attention_layer
        context, _ = attention._compute_attention(
            unpack(attention._query_dense(x)), unpack(attention._key_dense(x)),
            unpack(attention._value_dense(x)), attention_mask=attention_mask)
        x = block._self_attention_layer_norm(attention._output_dense(pack(context)) + x)
        return block._feedforward_output_dense(block._feedforward_intermediate_dense(x)) + x

    monkeypatch.setattr(packed_encoder, "_packed_block", without_final_layer_norm)
    with pytest.raises(RuntimeError, match="PackedEncoder: differs from .* have changed"):
        check_packed_matches(backbone)


def test_unpacked_traces_the_models_own_path():
    backbone = _backbone()
    batch = _batch()
    plain = backbone(batch, training=False)["sequence_output"].numpy()
    with packed_encoder.unpacked():
        traced = tf.function(lambda b: PackedEncoder(backbone)(b)["sequence_output"])
        got = traced(batch).numpy()
    np.testing.assert_allclose(got, plain, atol=1e-5)  # padding positions too: no packing
    graph = traced.get_concrete_function(batch).graph
    assert not any(op.type == "ScatterNd" for op in graph.get_operations())
