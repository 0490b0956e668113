"""Our discriminator <-> keras-hub `ElectraBackbone`: exact weights, measured GELU effect."""

import keras
import numpy as np
import pytest

import keras_electra
from keras_electra.convert.keras_hub import from_keras_hub, to_keras_hub
from keras_electra.models.task_builders import discriminator_from_pretrainer
from tests.test_case import tiny_batch, tiny_config


def _hub_inputs(batch):
    return {"token_ids": batch["input_ids"], "segment_ids": batch["segment_ids"],
            "padding_mask": batch["input_mask"]}


@pytest.mark.parametrize("overrides", [dict(), dict(num_layers=3, num_heads=1, vocab_size=61)])
def test_round_trip_is_exact_and_only_gelu_changes_the_numbers(overrides):
    keras.utils.set_random_seed(0)
    config = tiny_config(**overrides)
    ours = discriminator_from_pretrainer(keras_electra.build_pretrainer(config))
    for weight in ours.weights:  # trained-size FFN pre-activations, where the GELUs differ
        if weight.path.endswith("feedforward_intermediate_dense/kernel"):
            weight.assign(weight * 30.0)
    hub = to_keras_hub(ours)
    back, back_config = from_keras_hub(hub)
    assert (back_config.num_layers, back_config.vocab_size) == (config.num_layers,
                                                                config.vocab_size)
    assert (config.hidden_act, back_config.hidden_act) == ("gelu", "gelu_approximate")
    for a, b in zip(ours.weights, back.weights, strict=True):  # bit-exact both ways
        assert a.path == b.path
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    batch = tiny_batch(vocab_size=config.vocab_size)
    expected = np.asarray(ours(batch)["sequence_output"])
    outputs = hub(_hub_inputs(batch))
    # keras-hub's tanh-approximate GELU: close to, but not exactly, the erf GELU.
    difference = np.abs(np.asarray(outputs["sequence_output"]) - expected).max()
    assert 1e-5 < difference < 5e-2, difference  # float32 noise here is ~1e-7
    # Imported with keras-hub's own activation, the model reproduces keras-hub.
    np.testing.assert_allclose(np.asarray(back(batch)["sequence_output"]),
                               np.asarray(outputs["sequence_output"]), atol=1e-5)
    # Its pooled_output is a fresh dense + tanh on [CLS], not a pre-trained feature.
    pooled = np.asarray(outputs["pooled_output"])
    assert not np.allclose(pooled, expected[:, 0], atol=1e-2)
    np.testing.assert_allclose(pooled, np.tanh(expected[:, 0] @ hub.get_layer(
        "pooled_dense").kernel.numpy() + hub.get_layer("pooled_dense").bias.numpy()), atol=0.05)


def test_no_projection_is_a_clear_error():
    config = tiny_config(embedding_size=16, hidden_size=16)
    ours = discriminator_from_pretrainer(keras_electra.build_pretrainer(config))
    with pytest.raises(ValueError, match="always projects embeddings") as raised:
        to_keras_hub(ours)
    assert "\n" not in str(raised.value)


def test_another_layer_norm_epsilon_is_a_clear_error():
    config = tiny_config(layer_norm_epsilon=1e-3)
    ours = discriminator_from_pretrainer(keras_electra.build_pretrainer(config))
    with pytest.raises(ValueError, match="fixes layer_norm_epsilon at 1e-12; this model uses "
                                         "0.001") as raised:
        to_keras_hub(ours)
    assert "\n" not in str(raised.value)


def test_gdes_discriminator_is_a_clear_error():
    pretrainer = keras_electra.build_pretrainer(tiny_config(embedding_sharing="gdes"))
    with pytest.raises(ValueError, match=r"unexpected \['discriminator_embeddings/"
                                         r"residual_embeddings'\]") as raised:
        to_keras_hub(pretrainer.discriminator)
    assert "\n" not in str(raised.value)
    to_keras_hub(discriminator_from_pretrainer(pretrainer))  # merged: converts
