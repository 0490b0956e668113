import json

import pytest

from keras_electra.config import ElectraConfig
from tests.test_case import REPO_ROOT


def test_defaults_are_electra_small():
    config = ElectraConfig()
    assert (config.vocab_size, config.embedding_size, config.hidden_size) == (30522, 128, 256)
    assert (config.num_layers, config.num_heads, config.intermediate_size) == (12, 4, 1024)
    assert (config.learning_rate, config.train_batch_size, config.max_seq_length) == (5e-4, 128, 128)
    assert (config.num_warmup_steps, config.num_train_steps) == (10_000, 1_000_000)
    assert (config.weight_decay, config.mask_prob, config.discriminator_weight) == (0.01, 0.15, 50.0)
    assert config.layer_norm_epsilon == 1e-12
    # The original get_generator_config: width 64, 1 head, FFN 4 * 64.
    assert (config.generator_width, config.generator_heads, config.generator_ffn) == (64, 1, 256)
    assert config.generator_depth == 12
    assert config.predictions_per_seq == 20  # round((0.15 + 0.005) * 128)


@pytest.mark.parametrize(
    "name, hidden, layers, heads, generator_width, generator_heads, seq, lr, batch, mask",
    [
        ("small", 256, 12, 4, 64, 1, 128, 5e-4, 128, 0.15),
        ("base", 768, 12, 12, 256, 4, 512, 2e-4, 256, 0.15),
        ("large", 1024, 24, 16, 256, 4, 512, 2e-4, 2048, 0.25),
    ],
)
def test_paper_configs(name, hidden, layers, heads, generator_width, generator_heads, seq, lr,
                       batch, mask):
    config = ElectraConfig.from_json(str(REPO_ROOT / "configs" / f"electra_{name}.json"))
    assert (config.hidden_size, config.num_layers, config.num_heads) == (hidden, layers, heads)
    assert (config.generator_width, config.generator_heads) == (generator_width, generator_heads)
    assert (config.max_seq_length, config.learning_rate) == (seq, lr)
    assert (config.train_batch_size, config.mask_prob) == (batch, mask)


def test_tiny_config_loads():
    config = ElectraConfig.from_json(str(REPO_ROOT / "configs" / "electra_tiny.json"))
    assert config.generator_width == 32 and config.num_layers == 2


def test_overrides_from_string_and_file(tmp_path):
    config = ElectraConfig().with_overrides('{"learning_rate": 1e-3, "num_layers": 2}')
    assert config.learning_rate == 1e-3 and config.num_layers == 2
    path = tmp_path / "hp.json"
    path.write_text(json.dumps({"temperature": 2.0}))
    assert ElectraConfig().with_overrides(str(path)).temperature == 2.0


def test_json_round_trip(tmp_path):
    config = ElectraConfig(hidden_size=128, num_heads=2, generator_num_heads=2)
    config.to_json(str(tmp_path / "c.json"))
    assert ElectraConfig.from_json(str(tmp_path / "c.json")) == config


@pytest.mark.parametrize(
    "values, message",
    [
        ({"hiden_size": 3}, "unknown ElectraConfig key 'hiden_size'"),
        ({"hidden_size": 0}, "ElectraConfig.hidden_size must be positive"),
        ({"num_layers": -1}, "ElectraConfig.num_layers must be positive"),
        ({"hidden_size": 250}, "hidden_size (250) must be divisible by num_heads (4)"),
        ({"generator_hidden_size": 0.0}, "generator_hidden_size must be in (0, 1]"),
        ({"generator_hidden_size": 1.5}, "generator_hidden_size must be in (0, 1]"),
        ({"mask_prob": 0.0}, "mask_prob must be in (0, 1)"),
        ({"mask_prob": 1.0}, "mask_prob must be in (0, 1)"),
        ({"num_heads": "4"}, "ElectraConfig.num_heads must be int"),
        ({"max_seq_length": 1024}, "max_seq_length (1024) exceeds max_position_embeddings"),
        ({"hidden_act": "relu"},
         "ElectraConfig.hidden_act must be one of ['gelu', 'gelu_approximate'], got 'relu'"),
        ({"objective": "bert"},
         "ElectraConfig.objective must be one of ['electra', 'mlm', 'replace_mlm', "
         "'all_tokens_mlm'], got 'bert'"),
        ({"objective": None}, "ElectraConfig.objective must be str, got None"),
        ({"embedding_sharing": "shared"},
         "ElectraConfig.embedding_sharing must be one of ['tied', 'gdes'], got 'shared'"),
        ({"embedding_sharing": "gdes", "objective": "mlm"},
         "ElectraConfig.embedding_sharing 'gdes' needs objective 'electra', got 'mlm'"),
        ({"embedding_sharing": "gdes", "objective": "all_tokens_mlm"},
         "ElectraConfig.embedding_sharing 'gdes' needs objective 'electra', got "
         "'all_tokens_mlm'"),
    ],
)
def test_validation_names_the_key(values, message):
    with pytest.raises(ValueError) as error:
        ElectraConfig.from_dict(values)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_bad_hparams_json():
    with pytest.raises(ValueError, match="--hparams: unknown ElectraConfig key 'nope'"):
        ElectraConfig().with_overrides('{"nope": 1}')
    with pytest.raises(ValueError, match="--hparams: invalid JSON"):
        ElectraConfig().with_overrides('{"nope": }')
    with pytest.raises(ValueError, match="missing.json: config file not found"):
        ElectraConfig().with_overrides("missing.json")


def test_config_is_frozen():
    with pytest.raises(Exception):
        ElectraConfig().hidden_size = 3


def test_hidden_act_defaults_to_exact_gelu_and_matches_the_layers():
    from keras_electra.config import HIDDEN_ACTS
    from keras_electra.layers import activations

    # A config saved before the field existed has no "hidden_act".
    assert ElectraConfig.from_dict({"vocab_size": 100}).hidden_act == "gelu"
    assert ElectraConfig(hidden_act="gelu_approximate").hidden_act == "gelu_approximate"
    assert HIDDEN_ACTS == activations.HIDDEN_ACTS


def test_objective_and_embedding_sharing_default_to_electra_tied():
    from keras_electra.config import EMBEDDING_SHARING, OBJECTIVES

    # A config saved before the fields existed has neither key.
    config = ElectraConfig.from_dict({"vocab_size": 100})
    assert (config.objective, config.embedding_sharing) == ("electra", "tied")
    for objective in OBJECTIVES:
        assert ElectraConfig(objective=objective).objective == objective
    config = ElectraConfig().with_overrides('{"embedding_sharing": "gdes"}')
    assert config.embedding_sharing == "gdes" and EMBEDDING_SHARING == ("tied", "gdes")


def test_docstring_example():
    import doctest

    from keras_electra import config as module

    assert doctest.testmod(module).failed == 0
