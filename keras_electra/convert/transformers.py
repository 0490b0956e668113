"""Weight conversion between `ElectraPretrainer` and Hugging Face `transformers`.

Hugging Face keeps ELECTRA's two towers in two checkpoint directories: the
discriminator as an `ElectraForPreTraining` and the generator as an
`ElectraForMaskedLM`, each a `config.json` plus `model.safetensors`. This
module reads and writes those files with `safetensors.numpy` only; neither
`torch` nor `transformers` is imported (they are the parity oracle of the
tests, not dependencies).

```python
from keras_electra.convert import from_transformers, to_transformers

pretrainer = from_transformers("electra-small-discriminator",
                               "electra-small-generator")
...  # pre-train further with pretrainer.fit(...)
to_transformers(pretrainer, "out/discriminator",
                generator_out_dir="out/generator")
```

Layout differences the conversion handles (HF name -> Keras variable):

* `nn.Linear.weight` is `(out, in)`; a Keras `Dense` kernel is `(in, out)`.
* The attention projections are keras `EinsumDense` layers: query/key/value
  kernels are `(hidden, heads, head_dim)` with `(heads, head_dim)` biases, the
  output kernel is `(heads, head_dim, hidden)`.
* Word, position and token-type embeddings and the embedding LayerNorm exist
  once here (both towers share one `ElectraEmbeddings`, as in the original
  ELECTRA) but are stored in both HF checkpoints.
* The generator's output projection is the word embedding table (tied, not
  stored by HF); only `generator_lm_head.bias` is a tensor of its own.
"""

import json
import os
import shutil
import tempfile

import keras
import numpy as np
from safetensors.numpy import load_file, save_file

from keras_electra.builders import build_pretrainer
from keras_electra.config import ElectraConfig
from keras_electra.data.vocab import load_vocabulary, special_token_ids

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
VOCAB_NAME = "vocab.txt"

# Buffers older `transformers` versions stored; they carry no weights.
_IGNORABLE_KEYS = ("electra.embeddings.position_ids", "electra.embeddings.token_type_ids")
# Tensors both HF towers store but ELECTRA shares (original `embeddings` scope).
_SHARED_EMBEDDING_KEYS = (
    "electra.embeddings.word_embeddings.weight",
    "electra.embeddings.position_embeddings.weight",
    "electra.embeddings.token_type_embeddings.weight",
    "electra.embeddings.LayerNorm.weight",
    "electra.embeddings.LayerNorm.bias",
)
_TIED_LM_HEAD_KEY = "generator_lm_head.weight"

# Defaults of `transformers.ElectraConfig`, for fields a config.json omits.
_HF_DEFAULTS = {
    "vocab_size": 30522,
    "embedding_size": 128,
    "hidden_size": 256,
    "num_hidden_layers": 12,
    "num_attention_heads": 4,
    "intermediate_size": 1024,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "position_embedding_type": "absolute",
}
# Sizes the two towers must agree on because they share the embeddings.
_SHARED_CONFIG_FIELDS = (
    "vocab_size", "embedding_size", "max_position_embeddings", "type_vocab_size",
    "layer_norm_eps",
)


# ----------------------------------------------------------------- mapping
class _Tensor:
    """One HF tensor and the Keras variable it becomes.

    `in_axes` is set for Linear weights: the number of leading kernel axes
    that form the input (1 for `Dense` and the query/key/value `EinsumDense`,
    2 for the attention output), so the HF `(out, in)` matrix is transposed
    and reshaped. Otherwise the tensor is copied, reshaped when `flat` (the
    `(heads, head_dim)` attention biases are `(hidden,)` in HF).
    """

    def __init__(self, key, variable, in_axes=None, flat=False):
        self.key = key
        self.variable = variable
        self.in_axes = in_axes
        self.flat = flat

    def hf_shape(self):
        shape = tuple(int(d) for d in self.variable.shape)
        if self.in_axes is not None:
            return (int(np.prod(shape[self.in_axes:])), int(np.prod(shape[:self.in_axes])))
        return (int(np.prod(shape)),) if self.flat else shape

    def to_keras(self, value):
        if self.in_axes is not None:
            value = value.T
        return np.reshape(value, self.variable.shape)

    def to_hf(self):
        value = np.asarray(self.variable.numpy(), dtype=np.float32)
        if self.in_axes is not None:
            value = value.reshape(self.hf_shape()[::-1]).T
        return np.ascontiguousarray(value.reshape(self.hf_shape()))


def _dense(key, layer, kernel_in_axes=1):
    return [_Tensor(f"{key}.weight", layer.kernel, in_axes=kernel_in_axes),
            _Tensor(f"{key}.bias", layer.bias, flat=True)]


def _layer_norm(key, layer):
    return [_Tensor(f"{key}.weight", layer.gamma), _Tensor(f"{key}.bias", layer.beta)]


def _embedding_tensors(embeddings):
    prefix = "electra.embeddings"
    return [
        _Tensor(f"{prefix}.word_embeddings.weight", embeddings.token_embedding.embeddings),
        _Tensor(f"{prefix}.position_embeddings.weight",
                embeddings.position_embedding.position_embeddings),
        _Tensor(f"{prefix}.token_type_embeddings.weight",
                embeddings.segment_embedding.embeddings),
        *_layer_norm(f"{prefix}.LayerNorm", embeddings.layer_norm),
    ]


def _encoder_tensors(backbone):
    """`electra.*` tensors of one tower except the (shared) embeddings."""
    tensors = []
    if backbone.embeddings_projection is not None:
        tensors += _dense("electra.embeddings_project", backbone.embeddings_projection)
    for i, block in enumerate(backbone.encoder_blocks):
        prefix = f"electra.encoder.layer.{i}"
        attention = block._self_attention_layer
        tensors += _dense(f"{prefix}.attention.self.query", attention._query_dense)
        tensors += _dense(f"{prefix}.attention.self.key", attention._key_dense)
        tensors += _dense(f"{prefix}.attention.self.value", attention._value_dense)
        tensors += _dense(f"{prefix}.attention.output.dense", attention._output_dense,
                          kernel_in_axes=2)
        tensors += _layer_norm(f"{prefix}.attention.output.LayerNorm",
                               block._self_attention_layer_norm)
        tensors += _dense(f"{prefix}.intermediate.dense", block._feedforward_intermediate_dense)
        tensors += _dense(f"{prefix}.output.dense", block._feedforward_output_dense)
        tensors += _layer_norm(f"{prefix}.output.LayerNorm", block._feedforward_layer_norm)
    return tensors


def _discriminator_tensors(pretrainer):
    """Every tensor of an HF `ElectraForPreTraining`, paired with its variable."""
    head = pretrainer.discriminator_head
    return (
        _embedding_tensors(pretrainer.embeddings)
        + _encoder_tensors(pretrainer.discriminator)
        + _dense("discriminator_predictions.dense", head.dense)
        + _dense("discriminator_predictions.dense_prediction", head.prediction)
    )


def _generator_tensors(pretrainer, include_embeddings=True):
    """Every stored tensor of an HF `ElectraForMaskedLM`, paired with its variable."""
    head = pretrainer.generator_head
    tensors = _embedding_tensors(pretrainer.embeddings) if include_embeddings else []
    return (
        tensors
        + _encoder_tensors(pretrainer.generator)
        + _dense("generator_predictions.dense", head._intermediate_dense)
        + _layer_norm("generator_predictions.LayerNorm", head._intermediate_layer_norm)
        + [_Tensor("generator_lm_head.bias", head._bias)]
    )


# ----------------------------------------------------------------- reading
def _read_hf_config(directory):
    path = os.path.join(directory, CONFIG_NAME)
    try:
        with open(path, encoding="utf-8") as f:
            values = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{path}: not found; expected a Hugging Face ELECTRA checkpoint "
                         "directory (config.json + model.safetensors).") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: invalid JSON ({e}).") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a JSON object.")
    if values.get("model_type", "electra") != "electra":
        raise ValueError(f"{path}: model_type is {values['model_type']!r}, expected 'electra'.")
    config = dict(_HF_DEFAULTS)
    config.update({k: v for k, v in values.items() if v is not None})
    if config["hidden_act"] != "gelu":
        raise ValueError(
            f"{path}: hidden_act is {config['hidden_act']!r}; only 'gelu' (exact erf GELU, "
            "as the original ELECTRA) is supported.")
    if config["position_embedding_type"] != "absolute":
        raise ValueError(
            f"{path}: position_embedding_type is {config['position_embedding_type']!r}; "
            "only 'absolute' is supported.")
    config["_path"] = path
    return config


def _read_hf_weights(directory):
    """`(tensors, source)`: a dict of numpy arrays and the file(s) they came from."""
    path = os.path.join(directory, WEIGHTS_NAME)
    if os.path.exists(path):
        return load_file(path), path
    index_path = os.path.join(directory, WEIGHTS_INDEX_NAME)
    if os.path.exists(index_path):  # sharded checkpoint
        with open(index_path, encoding="utf-8") as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        tensors = {}
        for shard in shards:
            tensors.update(load_file(os.path.join(directory, shard)))
        return tensors, index_path
    raise ValueError(
        f"{path}: not found; only safetensors checkpoints are supported (re-save a "
        "pytorch_model.bin with transformers' save_pretrained(safe_serialization=True)).")


def _take(tensors, key, source):
    if key not in tensors:
        raise ValueError(f"{source}: missing tensor {key!r}.")
    return tensors.pop(key)


def _assign(tensor, value, source):
    expected = tensor.hf_shape()
    if tuple(value.shape) != expected:
        raise ValueError(
            f"{source}: tensor {tensor.key!r} has shape {tuple(value.shape)}, "
            f"expected {expected}.")
    tensor.variable.assign(tensor.to_keras(value.astype(np.float32)))


def _check_unused(tensors, source):
    unused = sorted(k for k in tensors if k not in _IGNORABLE_KEYS)
    if unused:
        more = f" and {len(unused) - 5} more" if len(unused) > 5 else ""
        raise ValueError(f"{source}: unexpected tensor(s) {unused[:5]}{more}; is this an "
                         "ELECTRA ElectraForPreTraining / ElectraForMaskedLM checkpoint?")


def _electra_config(disc, gen, vocab_file, do_lower_case):
    """An `ElectraConfig` from the HF config of each tower (`gen` may be None)."""
    generator = {}
    if gen is not None:
        for field in _SHARED_CONFIG_FIELDS:
            if gen[field] != disc[field]:
                raise ValueError(
                    f"{gen['_path']}: {field} is {gen[field]!r} but the discriminator's is "
                    f"{disc[field]!r}; ELECTRA's towers share their embeddings.")
        if gen["num_hidden_layers"] > disc["num_hidden_layers"]:
            raise ValueError(
                f"{gen['_path']}: the generator has more layers ({gen['num_hidden_layers']}) "
                f"than the discriminator ({disc['num_hidden_layers']}); not supported.")
        if gen["hidden_size"] > disc["hidden_size"]:
            raise ValueError(
                f"{gen['_path']}: the generator is wider ({gen['hidden_size']}) than the "
                f"discriminator ({disc['hidden_size']}); not supported.")
        generator = dict(
            generator_hidden_size=gen["hidden_size"] / disc["hidden_size"],
            generator_layers=gen["num_hidden_layers"] / disc["num_hidden_layers"],
            generator_num_heads=gen["num_attention_heads"],
            generator_intermediate_size=gen["intermediate_size"],
        )
    config = ElectraConfig(
        vocab_size=disc["vocab_size"],
        embedding_size=disc["embedding_size"],
        hidden_size=disc["hidden_size"],
        num_layers=disc["num_hidden_layers"],
        num_heads=disc["num_attention_heads"],
        intermediate_size=disc["intermediate_size"],
        # One dropout rate in this package; it does not change converted weights.
        dropout=float(disc["hidden_dropout_prob"]),
        max_position_embeddings=disc["max_position_embeddings"],
        type_vocab_size=disc["type_vocab_size"],
        initializer_range=disc["initializer_range"],
        layer_norm_epsilon=disc["layer_norm_eps"],
        max_seq_length=min(ElectraConfig.max_seq_length, disc["max_position_embeddings"]),
        vocab_file=vocab_file,
        do_lower_case=do_lower_case,
        **generator,
    )
    if gen is not None:  # the fractions must round back to the stored sizes
        if (config.generator_width, config.generator_depth) != (
                gen["hidden_size"], gen["num_hidden_layers"]):
            raise ValueError(
                f"{gen['_path']}: generator size {gen['hidden_size']}x"
                f"{gen['num_hidden_layers']} cannot be expressed as a fraction of the "
                "discriminator's.")
    return config


def _do_lower_case(directory):
    path = os.path.join(directory, "tokenizer_config.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return bool(json.load(f).get("do_lower_case", ElectraConfig.do_lower_case))
    return ElectraConfig.do_lower_case


def _vocab_file(directory):
    path = os.path.join(directory, VOCAB_NAME)
    return path if os.path.exists(path) else None


def config_from_transformers(discriminator_dir, generator_dir=None):
    """The `ElectraConfig` that `from_transformers` builds its model from.

    Sizes come from each directory's `config.json`; the generator's width
    and depth become the `generator_hidden_size` / `generator_layers`
    fractions of the discriminator's, its heads and FFN width are explicit.
    `vocab_file` is the discriminator's `vocab.txt` when there is one, and
    `do_lower_case` comes from its `tokenizer_config.json`. HF's two dropout
    rates become the one `dropout` (the hidden one); `max_seq_length` is
    capped at `max_position_embeddings`. Without `generator_dir` the
    generator sizes are `ElectraConfig`'s defaults.

    Args:
        discriminator_dir: directory of an HF `ElectraForPreTraining`.
        generator_dir: directory of an HF `ElectraForMaskedLM`, or `None`.

    Example:

    ```python
    config = config_from_transformers("electra-small-discriminator",
                                      "electra-small-generator")
    config.to_json("configs/from_hf.json")  # sizes for pretrain.py --config=...
    ```
    """
    disc_config = _read_hf_config(discriminator_dir)
    gen_config = _read_hf_config(generator_dir) if generator_dir is not None else None
    return _electra_config(disc_config, gen_config, _vocab_file(discriminator_dir),
                           _do_lower_case(discriminator_dir))


def from_transformers(discriminator_dir, generator_dir=None, special_tokens=None):
    """Builds an `ElectraPretrainer` from Hugging Face ELECTRA checkpoints.

    Reads `config.json` and `model.safetensors` (or a sharded
    `model.safetensors.index.json`) of each directory; the sizes are those
    of `config_from_transformers`. HF stores the shared embeddings (word,
    position, token type, LayerNorm) in both checkpoints; they must be
    equal, as in every real ELECTRA checkpoint, because this package keeps
    one copy.

    Without `generator_dir`, the generator is the default-sized one of
    `ElectraConfig` (1/4 of the discriminator's width, same depth) with a
    fresh random initialisation of everything but the shared embeddings:
    usable to continue pre-training, not to reproduce an HF generator.

    Args:
        discriminator_dir: directory of an HF `ElectraForPreTraining`
            (e.g. `google/electra-small-discriminator`).
        generator_dir: directory of an HF `ElectraForMaskedLM`
            (e.g. `google/electra-small-generator`), or `None`.
        special_tokens: a `keras_electra.data.vocab.SpecialTokenIds`; if not
            given, read from `discriminator_dir/vocab.txt`, or the package's
            default layout (`[PAD]`..`[MASK]` = 0..4) without one.

    Returns:
        An `ElectraPretrainer`.

    Raises:
        ValueError: naming the file and the tensor or field, when a tensor is
            missing, unexpected or the wrong shape, when the towers'
            embeddings differ, or when `hidden_act` is not `"gelu"`.

    Example (with `save_pretrained` directories of
    `google/electra-small-discriminator` and `-generator`, or as here, a
    round trip):

    >>> import tempfile
    >>> import keras_electra
    >>> original = keras_electra.build_pretrainer(keras_electra.ElectraConfig(
    ...     vocab_size=64, embedding_size=8, hidden_size=16, num_layers=1,
    ...     num_heads=2, intermediate_size=32, max_position_embeddings=16,
    ...     max_seq_length=16))
    >>> out = tempfile.mkdtemp()
    >>> to_transformers(original, f"{out}/disc", generator_out_dir=f"{out}/gen")
    >>> pretrainer = from_transformers(f"{out}/disc", f"{out}/gen")
    >>> pretrainer.generator.hidden_size, pretrainer.discriminator.hidden_size
    (4, 16)
    """
    config = config_from_transformers(discriminator_dir, generator_dir)
    if special_tokens is None and config.vocab_file is not None:
        vocabulary = load_vocabulary(config.vocab_file)
        if len(vocabulary) > config.vocab_size:
            raise ValueError(
                f"{config.vocab_file}: vocabulary has {len(vocabulary)} tokens but the model "
                f"only {config.vocab_size} embeddings.")
        # Checked here, not by the builder: HF pads some vocab_size values past
        # the vocabulary's length, which the builder would reject.
        special_tokens = special_token_ids(vocabulary, source=config.vocab_file)
    pretrainer = build_pretrainer(config, special_tokens=special_tokens)

    tensors, source = _read_hf_weights(discriminator_dir)
    for tensor in _discriminator_tensors(pretrainer):
        _assign(tensor, _take(tensors, tensor.key, source), source)
    _check_unused(tensors, source)

    if generator_dir is not None:
        tensors, source = _read_hf_weights(generator_dir)
        for tensor in _embedding_tensors(pretrainer.embeddings):
            value = _take(tensors, tensor.key, source)
            if value.shape != tensor.hf_shape() or not np.allclose(
                    value.astype(np.float32), tensor.to_hf(), rtol=1e-5, atol=1e-6):
                raise ValueError(
                    f"{source}: {tensor.key!r} differs from the discriminator's; ELECTRA's "
                    "generator and discriminator must share their embeddings.")
        if _TIED_LM_HEAD_KEY in tensors:  # some exports store the tied copy
            value = tensors.pop(_TIED_LM_HEAD_KEY)
            word = pretrainer.embeddings.token_embedding.embeddings
            if value.shape != tuple(word.shape) or not np.allclose(
                    value.astype(np.float32), word.numpy()):
                raise ValueError(
                    f"{source}: {_TIED_LM_HEAD_KEY!r} differs from the word embeddings; "
                    "the generator's output projection must be tied to them.")
        for tensor in _generator_tensors(pretrainer, include_embeddings=False):
            _assign(tensor, _take(tensors, tensor.key, source), source)
        _check_unused(tensors, source)
    return pretrainer


# ----------------------------------------------------------------- writing
def _hf_config(pretrainer, backbone, architecture, pad_token_id):
    embeddings = pretrainer.embeddings
    for block in backbone.encoder_blocks:
        if keras.activations.serialize(block.activation) != "gelu":
            raise ValueError(
                f"to_transformers: {backbone.name} uses activation "
                f"{keras.activations.serialize(block.activation)!r}; HF ELECTRA needs 'gelu'.")
    return {
        "architectures": [architecture],
        "model_type": "electra",
        "vocab_size": embeddings.vocabulary_size,
        "embedding_size": embeddings.embedding_size,
        "hidden_size": backbone.hidden_size,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_heads,
        "intermediate_size": backbone.intermediate_size,
        "hidden_act": "gelu",
        "hidden_dropout_prob": backbone.dropout,
        "attention_probs_dropout_prob": backbone.dropout,
        "max_position_embeddings": embeddings.max_sequence_length,
        "type_vocab_size": embeddings.num_segments,
        "initializer_range": backbone.initializer_range,
        "layer_norm_eps": backbone.layer_norm_epsilon,
        "pad_token_id": pad_token_id,
        "tie_word_embeddings": True,
        "summary_type": "first",
        "summary_use_proj": True,
        "summary_activation": "gelu",
        "summary_last_dropout": 0.1,
        "classifier_dropout": None,
        "dtype": "float32",
    }


def _write_checkpoint(out_dir, config, tensors, vocab_file):
    """Writes config.json + model.safetensors (+ vocab.txt) atomically.

    Everything is written into a temp directory next to `out_dir` first. A new
    `out_dir` is then one rename; into an existing one each file is moved
    with `os.replace` (weights first, config last), so other files there,
    e.g. tokenizer files, survive and no file is ever half-written.
    """
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.tmp", dir=parent)
    try:
        # `format: pt` is the metadata transformers' loader expects.
        save_file(tensors, os.path.join(tmp, WEIGHTS_NAME), metadata={"format": "pt"})
        if vocab_file is not None:
            shutil.copyfile(vocab_file, os.path.join(tmp, VOCAB_NAME))
        with open(os.path.join(tmp, CONFIG_NAME), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
        if not os.path.exists(out_dir):
            os.rename(tmp, out_dir)
            return
        for name in (WEIGHTS_NAME, VOCAB_NAME, CONFIG_NAME):
            if os.path.exists(os.path.join(tmp, name)):
                os.replace(os.path.join(tmp, name), os.path.join(out_dir, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def to_transformers(pretrainer, out_dir, generator_out_dir=None, vocab_file=None):
    """Writes an `ElectraPretrainer` as Hugging Face ELECTRA checkpoint(s).

    The discriminator becomes an `ElectraForPreTraining` in `out_dir`; with
    `generator_out_dir`, the generator becomes an `ElectraForMaskedLM`
    there. Each directory gets `config.json` and `model.safetensors`
    (float32), written atomically; both hold a copy of the shared
    embeddings, as HF's own ELECTRA checkpoints do. The files load with
    `transformers.ElectraForPreTraining.from_pretrained(out_dir)`; the
    inverse is `from_transformers`.

    Args:
        pretrainer: an `ElectraPretrainer`.
        out_dir: directory for the discriminator (created if needed).
        generator_out_dir: directory for the generator, or `None` to write
            only the discriminator.
        vocab_file: optional `vocab.txt` copied into each directory; it also
            sets `pad_token_id` in the configs (0 otherwise, HF's default).

    Example:

    >>> import os, tempfile
    >>> import keras_electra
    >>> pretrainer = keras_electra.build_pretrainer(keras_electra.ElectraConfig(
    ...     vocab_size=64, embedding_size=8, hidden_size=16, num_layers=1,
    ...     num_heads=2, intermediate_size=32, max_position_embeddings=16,
    ...     max_seq_length=16))
    >>> out = tempfile.mkdtemp()
    >>> to_transformers(pretrainer, f"{out}/disc", generator_out_dir=f"{out}/gen")
    >>> sorted(os.listdir(f"{out}/disc"))
    ['config.json', 'model.safetensors']

    Then `transformers.ElectraForPreTraining.from_pretrained(f"{out}/disc")`.
    """
    pad_token_id = 0
    if vocab_file is not None:
        pad_token_id = special_token_ids(load_vocabulary(vocab_file), source=vocab_file).pad
    _check_mapping_is_complete(pretrainer)
    writes = [(out_dir, pretrainer.discriminator, "ElectraForPreTraining",
               _discriminator_tensors(pretrainer))]
    if generator_out_dir is not None:
        writes.append((generator_out_dir, pretrainer.generator, "ElectraForMaskedLM",
                       _generator_tensors(pretrainer)))
    for directory, backbone, architecture, tensors in writes:
        config = _hf_config(pretrainer, backbone, architecture, pad_token_id)
        _write_checkpoint(directory, config, {t.key: t.to_hf() for t in tensors}, vocab_file)


def _check_mapping_is_complete(pretrainer):
    """Fails loudly if the model gained a weight the HF layout has no place for."""
    mapped = {id(t.variable) for t in _discriminator_tensors(pretrainer)}
    mapped |= {id(t.variable) for t in _generator_tensors(pretrainer)}
    unmapped = [w.path for w in pretrainer.weights if id(w) not in mapped]
    if unmapped:
        raise ValueError(f"to_transformers: no Hugging Face name for weight(s) {unmapped}.")
