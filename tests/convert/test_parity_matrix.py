"""Every conversion path, over a matrix of model shapes, against Hugging Face.

For each configuration a tiny random HF `ElectraForPreTraining` +
`ElectraForMaskedLM` pair (shared embeddings, biases and LayerNorms moved off
their init, `initializer_range` 0.2 so activations are O(1)) is the oracle,
run by PyTorch on a padded two-segment batch. Each path must give its
discriminator logits (and, where it carries the generator, the generator's
MLM logits) within 1e-5 in float32:

* HF -> ours (`from_transformers`);
* HF -> ours -> HF (`to_transformers`, then `from_pretrained`), bit-exact;
* HF -> original TF1 checkpoint -> ours (`from_original_checkpoint`);
* ours -> keras-hub -> ours (`to_keras_hub`, `from_keras_hub`), bit-exact;
* `read_pretrainer` (what `python -m keras_electra.convert --from=...`
  calls) on each written format: HF directory, original prefix + config,
  keras-hub preset.

keras-hub's `ElectraBackbone` has the tanh GELU only: its outputs equal HF's
for the "gelu_new" configuration; for exact-GELU ones the (documented)
difference is measured and recorded, not held to 1e-5.

The largest absolute difference of every path and configuration is kept in
each test's `record_property` (JUnit XML) and, with `PARITY_REPORT=path.json`
set, merged into that JSON file (safe under pytest-xdist):

    PARITY_REPORT=/tmp/parity.json pytest tests/convert/test_parity_matrix.py -n 2
"""

import dataclasses
import fcntl
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import keras  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

from keras_electra.builders import build_pretrainer  # noqa: E402
from keras_electra.config import ElectraConfig  # noqa: E402
from keras_electra.convert import (  # noqa: E402
    config_from_transformers,
    from_keras_hub,
    from_original_checkpoint,
    from_transformers,
    to_keras_hub,
    to_transformers,
)
from keras_electra.convert.sources import detect_format, read_pretrainer  # noqa: E402
from tests.convert.hf_models import (  # noqa: E402
    hf_config,
    hf_logits,
    hf_sequence_output,
    original_variables,
    padded_batch,
    pretraining_pair,
    write_checkpoint,
)

ATOL = 1e-5
SEQ = 12
MAX_POSITIONS = 20
# Our name of each HF activation used here.
OUR_ACT = {"gelu": "gelu", "gelu_new": "gelu_approximate"}


@dataclasses.dataclass(frozen=True)
class Case:
    """One model shape, as HF sizes plus the generator fractions ours stores."""

    name: str
    vocab_size: int
    embedding_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    generator_hidden_size: int
    generator_fraction: float  # of the width, as `ElectraConfig.generator_hidden_size`
    generator_num_heads: int
    generator_intermediate_size: int
    generator_num_layers: int
    generator_layers: float  # of the depth, as `ElectraConfig.generator_layers`
    hidden_act: str = "gelu"  # HF's name

    @property
    def approximate_gelu(self):
        return OUR_ACT[self.hidden_act] == "gelu_approximate"

    @property
    def projected(self):
        return self.embedding_size != self.hidden_size

    def hf_configs(self):
        common = dict(vocab_size=self.vocab_size, embedding_size=self.embedding_size,
                      max_position_embeddings=MAX_POSITIONS, hidden_act=self.hidden_act)
        return (
            hf_config(**common, hidden_size=self.hidden_size, num_hidden_layers=self.num_layers,
                      num_attention_heads=self.num_heads,
                      intermediate_size=self.intermediate_size),
            hf_config(**common, hidden_size=self.generator_hidden_size,
                      num_hidden_layers=self.generator_num_layers,
                      num_attention_heads=self.generator_num_heads,
                      intermediate_size=self.generator_intermediate_size),
        )

    def config(self):
        """The `ElectraConfig` of this model, written out by hand (the oracle for
        `config_from_transformers` and the sizes an original checkpoint needs)."""
        return ElectraConfig(
            vocab_size=self.vocab_size, embedding_size=self.embedding_size,
            hidden_size=self.hidden_size, num_layers=self.num_layers, num_heads=self.num_heads,
            intermediate_size=self.intermediate_size, hidden_act=OUR_ACT[self.hidden_act],
            max_position_embeddings=MAX_POSITIONS, max_seq_length=MAX_POSITIONS,
            initializer_range=0.2, generator_hidden_size=self.generator_fraction,
            generator_layers=self.generator_layers,
            generator_num_heads=self.generator_num_heads,
            generator_intermediate_size=self.generator_intermediate_size)


CASES = [
    # Odd vocabulary, embedding != hidden, one layer, one head; generator 1/4.
    Case("A", vocab_size=61, embedding_size=12, hidden_size=16, num_layers=1, num_heads=1,
         intermediate_size=24, generator_hidden_size=4, generator_fraction=1 / 4,
         generator_num_heads=1, generator_intermediate_size=12, generator_num_layers=1,
         generator_layers=1.0),
    # Three layers; generator 1/3 wide, as wide as the embeddings (no projection of its own).
    Case("B", vocab_size=97, embedding_size=8, hidden_size=24, num_layers=3, num_heads=2,
         intermediate_size=40, generator_hidden_size=8, generator_fraction=1 / 3,
         generator_num_heads=2, generator_intermediate_size=16, generator_num_layers=3,
         generator_layers=1.0),
    # embedding == hidden: no discriminator projection (keras-hub cannot hold it).
    Case("C", vocab_size=53, embedding_size=16, hidden_size=16, num_layers=2, num_heads=4,
         intermediate_size=32, generator_hidden_size=4, generator_fraction=1 / 4,
         generator_num_heads=1, generator_intermediate_size=8, generator_num_layers=2,
         generator_layers=1.0),
    # tanh GELU (HF "gelu_new"); generator 1/3 wide and 2 of 3 layers deep.
    Case("D", vocab_size=75, embedding_size=12, hidden_size=24, num_layers=3, num_heads=3,
         intermediate_size=36, generator_hidden_size=8, generator_fraction=1 / 3,
         generator_num_heads=2, generator_intermediate_size=20, generator_num_layers=2,
         generator_layers=2 / 3, hidden_act="gelu_new"),
]


@dataclasses.dataclass
class Oracle:
    """A case's HF models, their outputs on the batch, and the files written from them."""

    case: Case
    discriminator: object
    generator: object
    batch: dict
    discriminator_logits: np.ndarray
    generator_logits: np.ndarray
    sequence_output: np.ndarray  # the discriminator encoder's last hidden state
    hf_dir: str  # holds discriminator/ and generator/ (save_pretrained)
    original_prefix: str  # model.ckpt-1000
    config_path: str  # case.config() as JSON
    ours: object  # from_transformers(hf_dir/discriminator, hf_dir/generator)

    @property
    def disc_dir(self):
        return os.path.join(self.hf_dir, "discriminator")

    @property
    def gen_dir(self):
        return os.path.join(self.hf_dir, "generator")


@pytest.fixture(scope="module", params=CASES, ids=lambda case: case.name)
def oracle(request, tmp_path_factory):
    case = request.param
    root = tmp_path_factory.mktemp(f"case_{case.name}")
    discriminator, generator = pretraining_pair(*case.hf_configs())
    discriminator.save_pretrained(root / "hf" / "discriminator")
    generator.save_pretrained(root / "hf" / "generator")
    prefix = write_checkpoint(root / "original" / "model.ckpt",
                              original_variables(discriminator, generator))
    config_path = str(root / "config.json")
    case.config().to_json(config_path)
    batch = padded_batch(case.vocab_size, SEQ)
    keras.utils.set_random_seed(0)
    ours = from_transformers(root / "hf" / "discriminator", root / "hf" / "generator")
    return Oracle(case=case, discriminator=discriminator, generator=generator, batch=batch,
                  discriminator_logits=hf_logits(discriminator, batch),
                  generator_logits=hf_logits(generator, batch),
                  sequence_output=hf_sequence_output(discriminator, batch),
                  hf_dir=str(root / "hf"), original_prefix=prefix, config_path=config_path,
                  ours=ours)


# ------------------------------------------------------------------ recording
def _record(record_property, case, path, value):
    """Keeps `value` (a max |diff|) for the report: JUnit property and `$PARITY_REPORT`."""
    value = float(value)
    record_property(f"{path} [{case.name}]", value)
    report = os.environ.get("PARITY_REPORT")
    if not report:
        return
    report = os.path.abspath(report)
    # Read-merge-write under an exclusive lock: xdist workers share the file.
    with open(report, "a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        text = f.read()
        data = json.loads(text) if text.strip() else {}
        data.setdefault("atol", ATOL)
        entry = data.setdefault("paths", {}).setdefault(path, {"max": 0.0, "by_config": {}})
        entry["by_config"][case.name] = value
        entry["max"] = max(entry["by_config"].values())
        f.seek(0)
        f.truncate()
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def _difference(actual, expected):
    actual = np.asarray(actual)
    assert actual.shape == expected.shape
    return float(np.abs(actual - expected).max())  # padded positions included


def _check(record_property, oracle, path, actual, expected, atol=ATOL):
    """Records max |actual - expected| under `path`; asserts it is <= `atol` unless None."""
    difference = _difference(actual, expected)
    _record(record_property, oracle.case, path, difference)
    if atol is not None:
        assert difference <= atol, f"{path} [{oracle.case.name}]: max |diff| {difference:.3g}"
    return difference


def _check_pretrainer(record_property, oracle, path, pretrainer, generator=True):
    """Both towers' logits of `pretrainer` against HF's."""
    batch = oracle.batch
    _check(record_property, oracle, f"{path}: discriminator logits",
           pretrainer.discriminator_logits(batch), oracle.discriminator_logits)
    if generator:
        _check(record_property, oracle, f"{path}: generator logits",
               pretrainer.generator_logits(batch), oracle.generator_logits)


def _sequence_output(backbone, batch):
    return np.asarray(backbone(batch)["sequence_output"])


def _hub_sequence_output(hub_backbone, batch):
    return np.asarray(hub_backbone({"token_ids": batch["input_ids"],
                                    "segment_ids": batch["segment_ids"],
                                    "padding_mask": batch["input_mask"]})["sequence_output"])


# ------------------------------------------------------------------ paths
def test_config_from_transformers_is_the_hand_written_config(oracle):
    case = oracle.case
    config = config_from_transformers(oracle.disc_dir, oracle.gen_dir)
    assert config == case.config()
    # The stored fractions give back HF's generator sizes.
    assert (config.generator_width, config.generator_depth, config.generator_heads,
            config.generator_ffn) == (case.generator_hidden_size, case.generator_num_layers,
                                      case.generator_num_heads,
                                      case.generator_intermediate_size)


def test_transformers_to_ours(oracle, record_property):
    _check_pretrainer(record_property, oracle, "HF -> ours", oracle.ours)


def test_transformers_round_trip_is_bit_exact(oracle, record_property, tmp_path):
    to_transformers(oracle.ours, tmp_path / "discriminator",
                    generator_out_dir=tmp_path / "generator")
    for tower, source in (("discriminator", oracle.discriminator),
                          ("generator", oracle.generator)):
        # The files: the same tensors, names and dtypes as HF's save_pretrained.
        written = load_file(str(tmp_path / tower / "model.safetensors"))
        saved = load_file(os.path.join(oracle.hf_dir, tower, "model.safetensors"))
        assert sorted(written) == sorted(saved)
        for key, value in saved.items():
            assert written[key].dtype == value.dtype and np.array_equal(written[key], value), key
        # The model HF loads from them: every tensor (tied head included) as the source's.
        cls = type(source)
        reloaded = cls.from_pretrained(tmp_path / tower).eval()
        expected, actual = source.state_dict(), reloaded.state_dict()
        assert sorted(actual) == sorted(expected)
        for key, value in expected.items():
            assert torch.equal(actual[key], value), f"{tower}: {key}"
        path = f"HF -> ours -> HF: {tower} logits"
        _check(record_property, oracle, path, hf_logits(reloaded, oracle.batch),
               getattr(oracle, f"{tower}_logits"))


def test_original_checkpoint_to_ours(oracle, record_property):
    keras.utils.set_random_seed(3)
    pretrainer = from_original_checkpoint(oracle.original_prefix, oracle.case.config())
    _check_pretrainer(record_property, oracle, "HF -> original -> ours", pretrainer)


def test_keras_hub_round_trip(oracle, record_property):
    case, ours, batch = oracle.case, oracle.ours, oracle.batch
    if not case.projected:
        with pytest.raises(ValueError, match="always projects embeddings") as raised:
            to_keras_hub(ours.discriminator)
        assert "\n" not in str(raised.value)
        return

    hub = to_keras_hub(ours.discriminator)
    back, back_config = from_keras_hub(hub)
    for before, after in zip(ours.discriminator.weights, back.weights, strict=True):
        assert before.path == after.path
        np.testing.assert_array_equal(before.numpy(), after.numpy(), err_msg=before.path)
    encoder_fields = ("vocab_size", "embedding_size", "hidden_size", "num_layers", "num_heads",
                      "intermediate_size", "max_position_embeddings", "type_vocab_size",
                      "layer_norm_epsilon")
    expected_config = case.config()
    assert {f: getattr(back_config, f) for f in encoder_fields} == {
        f: getattr(expected_config, f) for f in encoder_fields}
    assert back_config.hidden_act == "gelu_approximate"  # keras-hub's, whatever the source

    hub_output = _hub_sequence_output(hub, batch)
    # Ours with keras-hub's activation reproduces keras-hub, whichever weights.
    _check(record_property, oracle, "ours -> keras-hub -> ours: sequence output vs keras-hub",
           _sequence_output(back, batch), hub_output)
    # keras-hub against HF: equal for the tanh-GELU model; for an exact-GELU one
    # the difference is keras-hub's activation, recorded and shown to exceed the
    # tolerance (so the 1e-5 held for the tanh-GELU case does tell GELUs apart).
    difference = _check(record_property, oracle, "ours -> keras-hub: sequence output vs HF",
                        hub_output, oracle.sequence_output,
                        atol=ATOL if case.approximate_gelu else None)
    if not case.approximate_gelu:
        assert ATOL < difference < 0.1, difference

    # Discriminator logits of the round-tripped encoder under the source's
    # activation (the HF head copied alongside): the round trip loses no weight.
    # Under keras-hub's activation, see the preset test below.
    pretrainer = build_pretrainer(case.config())
    for target, value in zip(pretrainer.discriminator.weights, back.weights, strict=True):
        target.assign(value)
    for target, value in zip(pretrainer.discriminator_head.weights,
                             ours.discriminator_head.weights, strict=True):
        target.assign(value)
    _check_pretrainer(record_property, oracle, "ours -> keras-hub -> ours (source GELU)",
                      pretrainer, generator=False)


# ----------------------------------------------- read_pretrainer (the CLI's reader)
def test_read_pretrainer_transformers_dir(oracle, record_property):
    assert detect_format(oracle.hf_dir) == "transformers"
    pretrainer, config, has_generator = read_pretrainer(oracle.hf_dir)
    assert has_generator and config == oracle.case.config()
    _check_pretrainer(record_property, oracle, "read_pretrainer(HF dir)", pretrainer)


def test_read_pretrainer_original_checkpoint(oracle, record_property):
    prefix = oracle.original_prefix
    assert detect_format(prefix) == "original"
    assert detect_format(os.path.dirname(prefix)) == "original"
    pretrainer, config, has_generator = read_pretrainer(prefix, config=oracle.config_path)
    assert has_generator and config == oracle.case.config()
    _check_pretrainer(record_property, oracle, "read_pretrainer(original + config)", pretrainer)


def test_read_pretrainer_keras_hub_preset(oracle, record_property, tmp_path):
    case, ours, batch = oracle.case, oracle.ours, oracle.batch
    if not case.projected:  # keras-hub always projects embeddings: no preset can be written
        with pytest.raises(ValueError, match="always projects embeddings"):
            to_keras_hub(ours.discriminator)
        return
    to_keras_hub(ours.discriminator).save_to_preset(str(tmp_path / "preset"))
    assert detect_format(tmp_path / "preset") == "keras_hub"
    pretrainer, config, has_generator = read_pretrainer(tmp_path / "preset")
    assert not has_generator and config.hidden_act == "gelu_approximate"
    for before, after in zip(ours.discriminator.weights, pretrainer.discriminator.weights,
                             strict=True):
        np.testing.assert_array_equal(before.numpy(), after.numpy(), err_msg=before.path)
    # A preset has the encoder only: the HF discriminator head is copied in to
    # compare logits. keras-hub's activation is the tanh GELU, so only the
    # "gelu_new" model must match HF; for the others the GELU difference is recorded.
    for target, value in zip(pretrainer.discriminator_head.weights,
                             ours.discriminator_head.weights, strict=True):
        target.assign(value)
    atol = ATOL if case.approximate_gelu else None
    _check(record_property, oracle, "read_pretrainer(keras-hub preset): sequence output vs HF",
           _sequence_output(pretrainer.discriminator, batch), oracle.sequence_output, atol=atol)
    _check(record_property, oracle, "read_pretrainer(keras-hub preset): discriminator logits",
           pretrainer.discriminator_logits(batch), oracle.discriminator_logits, atol=atol)
