import keras
import numpy as np
import pytest

from keras_electra.training.optimizer import create_optimizer
from keras_electra.training.schedules import WarmupLinearDecay
from tests.test_case import tiny_config


@pytest.mark.parametrize("step, expected", [
    (0, 0.0),
    (5, 1e-3 * 0.95 * 0.5),  # warmup factor times decay, as the original multiplies them
    (10, 1e-3 * 0.9),
    (55, 1e-3 * 0.45),
    (100, 0.0),
    (150, 0.0),
])
def test_warmup_linear_decay_values(step, expected):
    schedule = WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-5, atol=1e-12)


def test_no_warmup_and_config_round_trip():
    schedule = WarmupLinearDecay(2e-4, total_steps=10)
    np.testing.assert_allclose(float(schedule(0)), 2e-4, rtol=1e-6)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert restored.get_config() == schedule.get_config()


def test_optimizer_excludes_layer_norm_and_biases_from_decay():
    from keras_electra.builders import build_pretrainer

    config = tiny_config(weight_decay=0.01, adam_epsilon=1e-6)
    optimizer = create_optimizer(config, num_train_steps=50)
    pretrainer = build_pretrainer(config)
    optimizer.build(pretrainer.trainable_variables)
    decayed = {v.path for v in pretrainer.trainable_variables if optimizer._use_weight_decay(v)}
    skipped = {v.path for v in pretrainer.trainable_variables} - decayed
    assert all(p.endswith(("bias", "gamma", "beta")) for p in skipped), skipped
    assert all(p.endswith(("kernel", "embeddings")) for p in decayed), decayed
    assert "embeddings/embeddings_layer_norm/gamma" in skipped
    assert "embeddings/token_embedding/embeddings" in decayed
    assert optimizer.weight_decay == 0.01 and optimizer.epsilon == 1e-6
    assert isinstance(optimizer.learning_rate_schedule if hasattr(optimizer, "learning_rate_schedule")
                      else optimizer._learning_rate, WarmupLinearDecay)
