"""Parity of `keras_electra.convert.transformers` with Hugging Face ELECTRA.

The oracle is `transformers` on PyTorch (CPU), imported here only. Tiny random
HF models (the pre-training pair with `embedding_size != hidden_size`, so both
towers have an `embeddings_project`; the bare `ElectraModel` without one) are
saved with `save_pretrained`, converted, and the logits compared in float32 on
a batch with padding and two segments. Written back, every tensor must equal
HF's bit for bit.
"""

import datetime
import json
import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import keras  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

from keras_electra.convert import (  # noqa: E402
    config_from_transformers,
    from_transformers,
    task_model_from_transformers,
    to_transformers,
)
from keras_electra.models.electra_classifier import ElectraClassifier  # noqa: E402
from keras_electra.models.electra_span_extractor import ElectraSpanExtractor  # noqa: E402

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


def _perturbed(model):
    """`model` in eval mode, biases and LayerNorms moved away from their (0, 1)
    init so that a wrongly mapped bias or LayerNorm cannot pass unnoticed."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                parameter.add_(0.1 * torch.randn_like(parameter))
    return model.eval()


def _hf_models(**overrides):
    torch.manual_seed(0)
    discriminator = _perturbed(transformers.ElectraForPreTraining(_hf_config(**overrides)))
    generator = _perturbed(transformers.ElectraForMaskedLM(_hf_config(
        hidden_size=16, num_attention_heads=2, intermediate_size=20, **overrides)))
    with torch.no_grad():
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


def _assert_files_bit_exact(written_dir, hf_dir):
    """Every tensor HF saved comes back bit for bit, under the same name and no other."""
    written = load_file(str(written_dir / "model.safetensors"))
    original = load_file(str(hf_dir / "model.safetensors"))
    assert sorted(written) == sorted(original)
    for key, value in original.items():
        assert written[key].dtype == value.dtype and np.array_equal(written[key], value), key


def test_round_trip_is_bit_exact(hf_dirs, converted, tmp_path):
    _, _, disc_dir, gen_dir = hf_dirs
    to_transformers(converted, tmp_path / "disc", generator_out_dir=tmp_path / "gen")
    _assert_files_bit_exact(tmp_path / "disc", disc_dir)
    _assert_files_bit_exact(tmp_path / "gen", gen_dir)


# ------------------------------------------------------- approximate GELU
@pytest.mark.parametrize("hf_name", ["gelu_new", "gelu_pytorch_tanh"])
def test_tanh_gelus_equal_keras_approximate_gelu(hf_name):
    from keras_electra.layers.activations import gelu_approximate

    x = np.linspace(-8, 8, 4001, dtype="float32")
    hf = transformers.activations.get_activation(hf_name)(torch.from_numpy(x)).numpy()
    ours = keras.ops.convert_to_numpy(gelu_approximate(x))
    np.testing.assert_allclose(ours, hf, rtol=0, atol=2e-6)  # float32 rounding only
    exact = transformers.activations.get_activation("gelu")(torch.from_numpy(x)).numpy()
    assert np.abs(exact - hf).max() > 1e-4  # and the two GELUs do differ


def test_approximate_gelu_checkpoint_matches_transformers(tmp_path):
    discriminator, generator = _hf_models(hidden_act="gelu_new")
    discriminator.save_pretrained(tmp_path / "disc")
    generator.save_pretrained(tmp_path / "gen")
    pretrainer = from_transformers(tmp_path / "disc", tmp_path / "gen")
    assert config_from_transformers(tmp_path / "disc").hidden_act == "gelu_approximate"
    assert pretrainer.discriminator.hidden_act == pretrainer.generator.hidden_act == (
        "gelu_approximate")
    batch = _batch()
    _assert_close(pretrainer.discriminator_logits(batch), _hf_logits(discriminator, batch),
                  batch["input_mask"])
    _assert_close(pretrainer.generator_logits(batch), _hf_logits(generator, batch),
                  batch["input_mask"])
    # With the exact GELU instead, the same weights give other logits.
    exact = from_transformers(_with_config(tmp_path / "disc", tmp_path / "exact",
                                           hidden_act="gelu"))
    assert np.abs(np.asarray(exact.discriminator_logits(batch))
                  - _hf_logits(discriminator, batch)).max() > 1e-4

    to_transformers(pretrainer, tmp_path / "out", generator_out_dir=tmp_path / "out_gen")
    assert json.loads((tmp_path / "out" / "config.json").read_text())["hidden_act"] == "gelu_new"
    _assert_files_bit_exact(tmp_path / "out", tmp_path / "disc")
    reloaded = transformers.ElectraForPreTraining.from_pretrained(tmp_path / "out").eval()
    _assert_close(_hf_logits(reloaded, batch), _hf_logits(discriminator, batch),
                  batch["input_mask"])


# ------------------------------------------------------------- task models
def _task_hf_config(**overrides):
    # Also off HF's defaults: the epsilon and the number of segments.
    return _hf_config(layer_norm_eps=1e-7, type_vocab_size=3, **overrides)


# name -> (HF class, config overrides)
_TASKS = {
    "model": ("ElectraModel", dict(embedding_size=32)),  # == hidden_size: no projection
    "sequence": ("ElectraForSequenceClassification",
                 dict(id2label={0: "neg", 1: "neutral", 2: "pos"},
                      label2id={"neg": 0, "neutral": 1, "pos": 2}, classifier_dropout=0.2)),
    "regression": ("ElectraForSequenceClassification", dict(num_labels=1)),
    "token": ("ElectraForTokenClassification", dict(num_labels=5)),
    "qa": ("ElectraForQuestionAnswering", dict(hidden_act="gelu_pytorch_tanh")),
}


@pytest.fixture(scope="module")
def task_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_tasks")
    torch.manual_seed(1)
    result = {}
    for name, (class_name, overrides) in _TASKS.items():
        model = _perturbed(getattr(transformers, class_name)(_task_hf_config(**overrides)))
        model.save_pretrained(root / name)
        result[name] = (model, root / name)
    return result


def _hf_outputs(model, batch):
    """The logits (start/end for QA, last hidden state for ElectraModel)."""
    with torch.no_grad():
        outputs = model(
            input_ids=torch.from_numpy(batch["input_ids"]).long(),
            attention_mask=torch.from_numpy(batch["input_mask"]).long(),
            token_type_ids=torch.from_numpy(batch["segment_ids"]).long(),
        )
    if "start_logits" in outputs:
        return {"start_logits": outputs.start_logits.numpy(),
                "end_logits": outputs.end_logits.numpy()}
    if "logits" in outputs:
        return outputs.logits.numpy()
    return outputs.last_hidden_state.numpy()


def _answer_mask(batch):
    mask = (batch["input_mask"] * batch["segment_ids"]).astype(bool)
    mask[:, 0] = True
    return mask


def _assert_task_close(name, model, hf_outputs, batch):
    """Our outputs against HF's: the logits, to ATOL (see the cases below)."""
    ours = model(batch)
    if name == "model":
        _assert_close(ours["sequence_output"], hf_outputs, batch["input_mask"])
    elif name == "regression":  # one score per example here, (batch, 1) in HF
        _assert_close(ours, hf_outputs[:, 0], batch["input_mask"])
    elif name == "qa":
        # The raw span logits everywhere; the outputs where an answer may be
        # (HF masks nothing, we add -1000 outside the context and [CLS]).
        raw = np.asarray(model.span_dense(model.backbone(batch)["sequence_output"]))
        mask = _answer_mask(batch)
        for column, key in enumerate(("start_logits", "end_logits")):
            _assert_close(raw[..., column], hf_outputs[key], batch["input_mask"])
            output = np.asarray(ours[key])
            np.testing.assert_allclose(output[mask], hf_outputs[key][mask], rtol=0, atol=ATOL)
            assert (output[~mask] < -500).all()
    else:
        _assert_close(ours, hf_outputs, batch["input_mask"])


@pytest.mark.parametrize("name", list(_TASKS))
def test_task_model_matches_transformers_and_round_trips(name, task_dirs, tmp_path):
    hf_model, hf_dir = task_dirs[name]
    batch = _batch()
    expected = _hf_outputs(hf_model, batch)
    model, info = task_model_from_transformers(hf_dir)
    assert info.architecture == _TASKS[name][0]
    assert (info.config.layer_norm_epsilon, info.config.type_vocab_size) == (1e-7, 3)
    _assert_task_close(name, model, expected, batch)

    to_transformers(model, tmp_path / "out", labels=info.labels, problem_type=info.problem_type)
    _assert_files_bit_exact(tmp_path / "out", hf_dir)
    written = json.loads((tmp_path / "out" / "config.json").read_text())
    original = json.loads((hf_dir / "config.json").read_text())
    for field in ("architectures", "id2label", "label2id", "layer_norm_eps",
                  "type_vocab_size", "embedding_size", "max_position_embeddings"):
        assert written.get(field) == original.get(field), field
    # The tanh GELU is written under one name, HF's oldest.
    assert written["hidden_act"] == {"gelu_pytorch_tanh": "gelu_new"}.get(
        original["hidden_act"], original["hidden_act"])
    reloaded = getattr(transformers, info.architecture).from_pretrained(tmp_path / "out").eval()
    _assert_task_close(name, model, _hf_outputs(reloaded, batch), batch)


def test_task_info_labels_and_heads(task_dirs):
    model, info = task_model_from_transformers(task_dirs["sequence"][1])
    assert (info.kind, info.labels, info.problem_type) == (
        "classification", ("neg", "neutral", "pos"), None)
    assert (model.num_classes, model.head_hidden_size, model.dropout) == (3, 32, 0.2)
    model, info = task_model_from_transformers(task_dirs["regression"][1])
    assert (info.kind, info.labels, info.problem_type) == ("regression", ("LABEL_0",),
                                                           "regression")
    model, info = task_model_from_transformers(task_dirs["token"][1])
    assert (info.kind, len(info.labels), model.num_classes, model.dropout) == (
        "tagging", 5, 5, 0.1)  # hidden_dropout_prob without classifier_dropout, as HF
    model, info = task_model_from_transformers(task_dirs["qa"][1])
    assert (info.kind, info.labels, model.answerability) == ("span_extraction", None, False)
    assert model.backbone.hidden_act == "gelu_approximate"
    model, info = task_model_from_transformers(task_dirs["model"][1])
    assert (info.kind, model.embeddings_projection) == ("backbone", None)


def test_architecture_from_tensors_without_architectures(task_dirs, tmp_path):
    hf_model, hf_dir = task_dirs["token"]
    directory = _with_config(hf_dir, tmp_path / "token", architectures=None)
    model, info = task_model_from_transformers(directory)
    assert info.architecture == "ElectraForTokenClassification"
    batch = _batch()
    _assert_close(model(batch), _hf_outputs(hf_model, batch), batch["input_mask"])


def test_electra_model_as_discriminator_encoder(task_dirs):
    hf_model, hf_dir = task_dirs["model"]
    pretrainer = from_transformers(hf_dir)
    batch = _batch()
    _assert_close(pretrainer.discriminator(batch)["sequence_output"],
                  _hf_outputs(hf_model, batch), batch["input_mask"])


def test_generator_alone(hf_dirs, tmp_path):
    _, generator, _, gen_dir = hf_dirs
    pretrainer = from_transformers(None, gen_dir)
    assert pretrainer.discriminator.hidden_size == pretrainer.generator.hidden_size == 16
    batch = _batch()
    _assert_close(pretrainer.generator_logits(batch), _hf_logits(generator, batch),
                  batch["input_mask"])
    to_transformers(pretrainer, tmp_path / "disc", generator_out_dir=tmp_path / "gen")
    _assert_files_bit_exact(tmp_path / "gen", gen_dir)


# ----------------------------------------------------------- weights files
def _torch_checkpoint(hf_model, hf_dir, target_dir):
    """The checkpoint as `pytorch_model.bin` (transformers 5 always writes safetensors)."""
    target_dir.mkdir()
    (target_dir / "config.json").write_bytes((hf_dir / "config.json").read_bytes())
    torch.save(hf_model.state_dict(), target_dir / "pytorch_model.bin")
    return target_dir


def test_pytorch_model_bin_equals_safetensors(hf_dirs, converted, task_dirs, tmp_path):
    discriminator, generator, disc_dir, gen_dir = hf_dirs
    from_bin = from_transformers(_torch_checkpoint(discriminator, disc_dir, tmp_path / "disc"),
                                 _torch_checkpoint(generator, gen_dir, tmp_path / "gen"))
    for before, after in zip(converted.weights, from_bin.weights):
        np.testing.assert_array_equal(before.numpy(), after.numpy())
    hf_model, hf_dir = task_dirs["qa"]
    from_safetensors, _ = task_model_from_transformers(hf_dir)
    from_bin, _ = task_model_from_transformers(
        _torch_checkpoint(hf_model, hf_dir, tmp_path / "qa"))
    for before, after in zip(from_safetensors.weights, from_bin.weights):
        np.testing.assert_array_equal(before.numpy(), after.numpy())


def test_safetensors_is_read_before_pytorch_model_bin(task_dirs, tmp_path):
    hf_model, hf_dir = task_dirs["token"]
    directory = _torch_checkpoint(hf_model, hf_dir, tmp_path / "both")
    (directory / "model.safetensors").write_bytes((hf_dir / "model.safetensors").read_bytes())
    torch.save({k: torch.zeros_like(v) for k, v in hf_model.state_dict().items()},
               directory / "pytorch_model.bin")
    model, _ = task_model_from_transformers(directory)
    batch = _batch()
    _assert_close(model(batch), _hf_outputs(hf_model, batch), batch["input_mask"])


def test_bfloat16_safetensors_widen_exactly(task_dirs, tmp_path):
    hf_model, _ = task_dirs["token"]
    half = transformers.ElectraForTokenClassification(hf_model.config).to(torch.bfloat16)
    half.load_state_dict({k: v.to(torch.bfloat16) for k, v in hf_model.state_dict().items()})
    half.save_pretrained(tmp_path / "bf16")
    model, _ = task_model_from_transformers(tmp_path / "bf16")
    to_transformers(model, tmp_path / "out")
    written = load_file(str(tmp_path / "out" / "model.safetensors"))
    expected = {k: v.float().numpy() for k, v in half.state_dict().items()}
    assert sorted(written) == sorted(expected)
    for key, value in expected.items():
        assert np.array_equal(written[key], value), key


def test_pytorch_model_bin_is_loaded_weights_only(task_dirs, tmp_path):
    _, hf_dir = task_dirs["token"]
    directory = tmp_path / "pickle"
    directory.mkdir()
    (directory / "config.json").write_bytes((hf_dir / "config.json").read_bytes())
    torch.save({"classifier.weight": datetime.date(2020, 1, 1)}, directory / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"pytorch_model.bin: not a plain state dict") as error:
        task_model_from_transformers(directory)
    assert "\n" not in str(error.value)


def test_pytorch_model_bin_without_torch(hf_dirs, tmp_path, monkeypatch):
    discriminator, _, disc_dir, _ = hf_dirs
    directory = _torch_checkpoint(discriminator, disc_dir, tmp_path / "disc")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    with pytest.raises(ValueError, match=r"pytorch_model.bin: reading pytorch_model.bin needs "
                                         r"torch.*model.safetensors"):
        from_transformers(directory)


# ---------------------------------------------------------------- refusals
def _with_config(source_dir, target_dir, **changes):
    """A copy of an HF checkpoint directory with `config.json` fields changed (None: removed)."""
    target_dir.mkdir()
    (target_dir / "model.safetensors").write_bytes((source_dir / "model.safetensors").read_bytes())
    config = json.loads((source_dir / "config.json").read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    (target_dir / "config.json").write_text(json.dumps(config))
    return target_dir


@pytest.mark.parametrize("changes, message", [
    (dict(hidden_act="relu"), r"config.json: hidden_act is 'relu'; supported are 'gelu'"),
    (dict(hidden_act="gelu_fast"), r"config.json: hidden_act is 'gelu_fast'"),
    (dict(position_embedding_type="relative_key"),
     r"config.json: position_embedding_type is 'relative_key'; only 'absolute'"),
    (dict(model_type="bert"), r"config.json: model_type is 'bert', expected 'electra'"),
    (dict(architectures=["ElectraForMultipleChoice"]),
     r"config.json: architectures is \['ElectraForMultipleChoice'\]; expected one of"),
    (dict(is_decoder=True), r"config.json: is_decoder is true"),
    (dict(add_cross_attention=True), r"config.json: add_cross_attention is true"),
])
def test_unrepresentable_config_is_refused(hf_dirs, tmp_path, changes, message):
    _, _, disc_dir, _ = hf_dirs
    directory = _with_config(disc_dir, tmp_path / "disc", **changes)
    for load in (from_transformers, task_model_from_transformers):
        with pytest.raises(ValueError, match=message) as error:
            load(directory)
        assert "\n" not in str(error.value)


def test_wrong_architecture_is_refused(hf_dirs, task_dirs):
    _, _, disc_dir, gen_dir = hf_dirs
    cases = [
        (lambda: from_transformers(task_dirs["sequence"][1]),
         r"config.json: architecture ElectraForSequenceClassification; expected "
         r"ElectraForPreTraining or ElectraModel \(.*task_model_from_transformers"),
        (lambda: from_transformers(gen_dir),
         r"config.json: architecture ElectraForMaskedLM; expected ElectraForPreTraining"),
        (lambda: from_transformers(disc_dir, disc_dir),
         r"config.json: architecture ElectraForPreTraining; expected ElectraForMaskedLM"),
        (lambda: task_model_from_transformers(disc_dir),
         r"config.json: architecture ElectraForPreTraining; .*load with from_transformers"),
    ]
    for load, message in cases:
        with pytest.raises(ValueError, match=message) as error:
            load()
        assert "\n" not in str(error.value)


def test_qa_with_other_num_labels_is_refused(task_dirs, tmp_path):
    directory = _with_config(task_dirs["qa"][1], tmp_path / "qa",
                             id2label={"0": "a", "1": "b", "2": "c"})
    with pytest.raises(ValueError, match=r"config.json: num_labels is 3; "
                                         r"ElectraForQuestionAnswering here has 2"):
        task_model_from_transformers(directory)


def test_to_transformers_refuses_heads_hf_lacks(task_dirs, tmp_path):
    model, _ = task_model_from_transformers(task_dirs["model"][1])
    single_dense = ElectraClassifier(model, num_classes=2)  # the original's head
    with pytest.raises(ValueError, match=r"head_hidden_size=None; HF's "
                                         r"ElectraClassificationHead .*head_hidden_size=32"):
        to_transformers(single_dense, tmp_path / "a")
    with pytest.raises(ValueError, match=r"answerability head"):
        to_transformers(ElectraSpanExtractor(model, answerability=True), tmp_path / "b")
    with pytest.raises(ValueError, match=r"2 labels given for 3 outputs"):
        to_transformers(ElectraClassifier(model, num_classes=3, head_hidden_size=32),
                        tmp_path / "c", labels=["a", "b"])
    assert not os.path.exists(tmp_path / "a")


def test_to_transformers_refuses_gdes_and_discriminator_mlm_heads(tmp_path):
    # No silent wrong weights: HF has no place for a GDES residual (the
    # discriminator's table is not the shared one) or the MLM head of the
    # discriminator-side MLM objectives.
    from keras_electra.builders import build_pretrainer
    from keras_electra.models.task_builders import discriminator_from_pretrainer
    from tests.test_case import tiny_config

    gdes = build_pretrainer(tiny_config(embedding_sharing="gdes"))
    cases = [
        (gdes, r"no Hugging Face name for weight\(s\) \['discriminator_embeddings/"
               r"residual_embeddings'\]"),
        (gdes.discriminator, r"GDES discriminator's word table .* convert "
                             r"discriminator_from_pretrainer\(pretrainer\)"),
        (build_pretrainer(tiny_config(objective="mlm")),
         r"no Hugging Face name for weight\(s\) \['discriminator_mlm_head/"),
    ]
    for i, (model, message) in enumerate(cases):
        with pytest.raises(ValueError, match=message) as error:
            to_transformers(model, tmp_path / str(i))
        assert "\n" not in str(error.value)
        assert not os.path.exists(tmp_path / str(i))
    # The merged encoder converts.
    to_transformers(discriminator_from_pretrainer(gdes), tmp_path / "merged")
    assert os.path.exists(tmp_path / "merged" / "model.safetensors")


def test_docstring_examples():
    import doctest

    from keras_electra.convert import transformers as module

    assert doctest.testmod(module).failed == 0
