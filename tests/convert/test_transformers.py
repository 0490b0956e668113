"""Parity of `keras_electra.convert.transformers` with Hugging Face ELECTRA.

The oracle is `transformers` on PyTorch (CPU), imported here only. Tiny random
HF models with `embedding_size != hidden_size` (so both towers have an
`embeddings_project`) are saved with `save_pretrained`, converted, and the
logits compared in float32 on a batch with padding and two segments.
"""

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from keras_electra.convert import (  # noqa: E402
    config_from_transformers,
    from_transformers,
    to_transformers,
)

ATOL = 1e-5
VOCAB = 99
SEQ = 12

_SHARED = ("word_embeddings", "position_embeddings", "token_type_embeddings", "LayerNorm")


def _hf_config(**overrides):
    values = dict(
        vocab_size=VOCAB, embedding_size=24, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=37, max_position_embeddings=40,
        type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12,
        # 10x the usual init, so logits are O(1) and a 1e-5 tolerance means something.
        initializer_range=0.2,
    )
    values.update(overrides)
    return transformers.ElectraConfig(**values)


def _hf_models():
    torch.manual_seed(0)
    discriminator = transformers.ElectraForPreTraining(_hf_config()).eval()
    generator = transformers.ElectraForMaskedLM(_hf_config(
        hidden_size=16, num_attention_heads=2, intermediate_size=20)).eval()
    # Perturb biases and LayerNorms away from their (0, 1) init so that a
    # wrongly mapped bias or LayerNorm cannot pass unnoticed.
    with torch.no_grad():
        for model in (discriminator, generator):
            for name, parameter in model.named_parameters():
                if name.endswith("bias") or "LayerNorm" in name:
                    parameter.add_(0.1 * torch.randn_like(parameter))
        # ELECTRA shares these between the towers; real checkpoints store
        # the same values twice.
        for name in _SHARED:
            getattr(generator.electra.embeddings, name).load_state_dict(
                getattr(discriminator.electra.embeddings, name).state_dict())
    return discriminator, generator


@pytest.fixture(scope="module")
def hf_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    discriminator, generator = _hf_models()
    discriminator.save_pretrained(root / "discriminator")
    generator.save_pretrained(root / "generator")
    return discriminator, generator, root / "discriminator", root / "generator"


@pytest.fixture(scope="module")
def converted(hf_dirs):
    _, _, disc_dir, gen_dir = hf_dirs
    return from_transformers(disc_dir, gen_dir)


def _batch():
    """Rows of length 12, 9 and 5 (heavier padding than `tests.test_case.tiny_batch`,
    so masked keys matter), two segments each."""
    rng = np.random.default_rng(0)
    input_ids = rng.integers(5, VOCAB, size=(3, SEQ)).astype("int32")
    lengths = np.array([SEQ, 9, 5])
    input_mask = (np.arange(SEQ)[None, :] < lengths[:, None]).astype("int32")
    segment_ids = ((np.arange(SEQ)[None, :] >= (lengths // 2)[:, None]) * input_mask).astype(
        "int32")
    input_ids = input_ids * input_mask  # [PAD] = 0 past each length
    return {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}


def _hf_logits(model, batch):
    with torch.no_grad():
        return model(
            input_ids=torch.from_numpy(batch["input_ids"]).long(),
            attention_mask=torch.from_numpy(batch["input_mask"]).long(),
            token_type_ids=torch.from_numpy(batch["segment_ids"]).long(),
        ).logits.numpy()


def _assert_close(actual, expected, input_mask):
    actual = np.asarray(actual)
    assert actual.shape == expected.shape
    # Padded positions are compared too: both sides mask only the keys.
    difference = np.abs(actual - expected)
    assert difference.max() <= ATOL, (
        f"max |diff| {difference.max():.3g} (non-padding "
        f"{difference[input_mask.astype(bool)].max():.3g})")


def test_discriminator_logits_match_transformers(hf_dirs, converted):
    discriminator, _, _, _ = hf_dirs
    batch = _batch()
    _assert_close(converted.discriminator_logits(batch), _hf_logits(discriminator, batch),
                  batch["input_mask"])


def test_generator_logits_match_transformers(hf_dirs, converted):
    _, generator, _, _ = hf_dirs
    batch = _batch()
    _assert_close(converted.generator_logits(batch), _hf_logits(generator, batch),
                  batch["input_mask"])


def test_config_sizes(hf_dirs):
    _, _, disc_dir, gen_dir = hf_dirs
    config = config_from_transformers(disc_dir, gen_dir)
    assert (config.hidden_size, config.num_layers, config.num_heads,
            config.intermediate_size, config.embedding_size) == (32, 2, 4, 37, 24)
    assert (config.generator_width, config.generator_depth, config.generator_heads,
            config.generator_ffn) == (16, 2, 2, 20)
    assert config.max_seq_length <= config.max_position_embeddings == 40


def test_round_trip_through_transformers(hf_dirs, converted, tmp_path):
    discriminator, generator, _, _ = hf_dirs
    to_transformers(converted, tmp_path / "disc", generator_out_dir=tmp_path / "gen")
    assert sorted(os.listdir(tmp_path)) == ["disc", "gen"]  # no temp dirs left behind
    reloaded_disc = transformers.ElectraForPreTraining.from_pretrained(tmp_path / "disc").eval()
    reloaded_gen = transformers.ElectraForMaskedLM.from_pretrained(tmp_path / "gen").eval()
    batch = _batch()
    _assert_close(_hf_logits(reloaded_disc, batch), _hf_logits(discriminator, batch),
                  batch["input_mask"])
    _assert_close(_hf_logits(reloaded_gen, batch), _hf_logits(generator, batch),
                  batch["input_mask"])
    # And back: the written files convert to the same Keras model.
    again = from_transformers(tmp_path / "disc", tmp_path / "gen")
    for before, after in zip(converted.weights, again.weights):
        np.testing.assert_array_equal(before.numpy(), after.numpy())


def test_to_transformers_overwrites_existing_dir(converted, tmp_path):
    out = tmp_path / "disc"
    out.mkdir()
    (out / "config.json").write_text("stale")
    (out / "tokenizer_config.json").write_text("{}")
    to_transformers(converted, out)
    assert json.loads((out / "config.json").read_text())["architectures"] == [
        "ElectraForPreTraining"]
    assert (out / "tokenizer_config.json").exists()
    assert sorted(os.listdir(tmp_path)) == ["disc"]


def test_without_generator_dir_builds_default_generator(hf_dirs):
    discriminator, _, disc_dir, _ = hf_dirs
    pretrainer = from_transformers(disc_dir)
    assert pretrainer.generator.hidden_size == 8  # 0.25 * 32, ElectraConfig's default
    batch = _batch()
    _assert_close(pretrainer.discriminator_logits(batch), _hf_logits(discriminator, batch),
                  batch["input_mask"])


def test_vocab_file_sets_special_tokens(hf_dirs, tmp_path):
    _, _, disc_dir, _ = hf_dirs
    directory = tmp_path / "disc"
    directory.mkdir()
    for name in ("config.json", "model.safetensors"):
        (directory / name).write_bytes((disc_dir / name).read_bytes())
    tokens = [f"tok{i}" for i in range(VOCAB)]
    for i, token in zip((10, 11, 12, 13, 14), ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")):
        tokens[i] = token
    (directory / "vocab.txt").write_text("\n".join(tokens) + "\n")
    pretrainer = from_transformers(directory)
    assert pretrainer.mask_token_id == 14
    assert sorted(pretrainer.special_token_ids) == [10, 12, 13, 14]


def _copy_with(source_dir, target_dir, edit):
    """Copies an HF checkpoint directory, editing its tensors with `edit(dict)`."""
    from safetensors.numpy import load_file, save_file

    target_dir.mkdir()
    (target_dir / "config.json").write_bytes((source_dir / "config.json").read_bytes())
    tensors = load_file(str(source_dir / "model.safetensors"))
    edit(tensors)
    save_file(tensors, str(target_dir / "model.safetensors"), metadata={"format": "pt"})
    return target_dir


def test_unshared_generator_embeddings_raise(hf_dirs, tmp_path):
    _, _, disc_dir, gen_dir = hf_dirs
    key = "electra.embeddings.position_embeddings.weight"

    def perturb(tensors):
        tensors[key] = tensors[key] + 0.01

    bad_gen = _copy_with(gen_dir, tmp_path / "gen", perturb)
    with pytest.raises(ValueError, match=f"{key}.*must share"):
        from_transformers(disc_dir, bad_gen)


def test_missing_key_is_named(hf_dirs, tmp_path):
    _, _, disc_dir, gen_dir = hf_dirs
    key = "electra.encoder.layer.1.attention.self.value.bias"
    bad_disc = _copy_with(disc_dir, tmp_path / "disc", lambda tensors: tensors.pop(key))
    with pytest.raises(ValueError, match=f"model.safetensors: missing tensor '{key}'"):
        from_transformers(bad_disc, gen_dir)


def test_unexpected_key_is_an_error(hf_dirs, tmp_path):
    _, _, disc_dir, _ = hf_dirs

    def add(tensors):
        tensors["electra.pooler.dense.weight"] = np.zeros((32, 32), "float32")
        tensors["electra.embeddings.position_ids"] = np.arange(40)[None]  # ignorable

    bad_disc = _copy_with(disc_dir, tmp_path / "disc", add)
    with pytest.raises(ValueError, match="unexpected tensor.*electra.pooler.dense.weight"):
        from_transformers(bad_disc)


def test_approximate_gelu_is_rejected(hf_dirs, tmp_path):
    _, _, disc_dir, _ = hf_dirs
    directory = tmp_path / "disc"
    directory.mkdir()
    config = json.loads((disc_dir / "config.json").read_text())
    config["hidden_act"] = "gelu_new"
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"config.json: hidden_act is 'gelu_new'"):
        from_transformers(directory)
