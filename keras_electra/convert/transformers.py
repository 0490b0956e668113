"""Weight conversion between this package's models and Hugging Face ELECTRA.

What maps onto what (`from_transformers` and `task_model_from_transformers`
read, `to_transformers` writes; the architecture is the `architectures`
entry of `config.json`, or, when that is missing, told by the head tensors):

* `ElectraForPreTraining` (+ an `ElectraForMaskedLM` generator) <->
  `ElectraPretrainer` (`from_transformers(discriminator_dir, generator_dir)`).
* `ElectraForMaskedLM` alone -> the generator of an `ElectraPretrainer`
  (`from_transformers(None, generator_dir)`).
* `ElectraModel` <-> `ElectraBackbone` (`task_model_from_transformers`), or
  -> the discriminator encoder of an `ElectraPretrainer` with a fresh head
  (`from_transformers`).
* `ElectraForSequenceClassification` <->
  `ElectraClassifier(head_hidden_size=hidden_size)` (HF's two-layer head).
* `ElectraForTokenClassification` <-> `ElectraTokenClassifier`.
* `ElectraForQuestionAnswering` <-> `ElectraSpanExtractor(answerability=False)`.

Refused, each with a one-line `ValueError` naming `config.json` and the
field, because this package cannot represent them: `ElectraForMultipleChoice`
and `ElectraForCausalLM` (no counterpart here), a `model_type` other than
"electra", a `hidden_act` other than the exact or tanh GELU, a
`position_embedding_type` other than "absolute" (relative positions add
weights), `is_decoder` / `add_cross_attention` (causal or cross attention),
and a question-answering head with `num_labels` other than 2.

Weights are read from `model.safetensors` (or a sharded
`model.safetensors.index.json`) with `safetensors` (bfloat16 tensors widened
to float32, exactly); only when there is
none, from `pytorch_model.bin` (or its index) with
`torch.load(..., weights_only=True)`, which never unpickles code; `torch` is
imported in that branch only. Written checkpoints are `config.json` +
`model.safetensors` (float32). Neither `torch` nor `transformers` is a
dependency: they are the parity oracle of the tests.

```python
from keras_electra.convert import (from_transformers, task_model_from_transformers,
                                   to_transformers)

pretrainer = from_transformers("electra-small-discriminator",
                               "electra-small-generator")
...  # pre-train further with pretrainer.fit(...)
to_transformers(pretrainer, "out/discriminator",
                generator_out_dir="out/generator")

model, info = task_model_from_transformers("electra-base-squad2")  # QA head
to_transformers(model, "out/squad")
```

`config.json` fields (HF -> `ElectraConfig`): `vocab_size`, `embedding_size`,
`hidden_size`, `num_hidden_layers` -> `num_layers`, `num_attention_heads` ->
`num_heads`, `intermediate_size`, `hidden_act` ("gelu" -> "gelu";
"gelu_new", "gelu_pytorch_tanh" -> "gelu_approximate"; written back as
"gelu_new"), `hidden_dropout_prob` -> `dropout` (this package has one rate;
`attention_probs_dropout_prob` is not kept, which changes no weight and no
inference output), `max_position_embeddings`, `type_vocab_size`,
`initializer_range`, `layer_norm_eps` -> `layer_norm_epsilon`. For the task
heads, `classifier_dropout` (else `hidden_dropout_prob`) is the head's
dropout, `id2label` / `num_labels` give the classes, `problem_type` the loss.

Layout differences the conversion handles (HF name -> Keras variable):

* `nn.Linear.weight` is `(out, in)`; a Keras `Dense` kernel is `(in, out)`.
* The attention projections are keras `EinsumDense` layers: query/key/value
  kernels are `(hidden, heads, head_dim)` with `(heads, head_dim)` biases, the
  output kernel is `(heads, head_dim, hidden)`.
* Word, position and token-type embeddings and the embedding LayerNorm exist
  once in an `ElectraPretrainer` (both towers share one `ElectraEmbeddings`,
  as in the original ELECTRA) but are stored in both HF checkpoints.
* The generator's output projection is the word embedding table (tied, not
  stored by HF); only `generator_lm_head.bias` is a tensor of its own.
* `ElectraModel` checkpoints name the encoder's tensors without the
  `electra.` prefix the other classes use.
"""

import dataclasses
import json
import os
import pickle
import shutil
import tempfile
import typing

import numpy as np
import safetensors
from safetensors.numpy import load_file, save_file

from keras_electra.builders import (
    _default_dtype_policy,
    build_backbone,
    build_embeddings,
    build_pretrainer,
)
from keras_electra.config import ElectraConfig
from keras_electra.data.vocab import load_vocabulary, special_token_ids
from keras_electra.layers.activations import hidden_act_name
from keras_electra.layers.gdes_embeddings import GdesEmbeddings
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_classifier import ElectraClassifier
from keras_electra.models.electra_pretrainer import ElectraPretrainer
from keras_electra.models.electra_span_extractor import ElectraSpanExtractor
from keras_electra.models.electra_token_classifier import ElectraTokenClassifier

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
TORCH_WEIGHTS_NAME = "pytorch_model.bin"
TORCH_WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"
VOCAB_NAME = "vocab.txt"

# HF architectures (`config.json` "architectures") this module reads and writes.
PRETRAINING = "ElectraForPreTraining"
MASKED_LM = "ElectraForMaskedLM"
BASE_MODEL = "ElectraModel"
SEQUENCE_CLASSIFICATION = "ElectraForSequenceClassification"
TOKEN_CLASSIFICATION = "ElectraForTokenClassification"
QUESTION_ANSWERING = "ElectraForQuestionAnswering"
ARCHITECTURES = (PRETRAINING, MASKED_LM, BASE_MODEL, SEQUENCE_CLASSIFICATION,
                 TOKEN_CLASSIFICATION, QUESTION_ANSWERING)
_TASK_ARCHITECTURES = (BASE_MODEL, SEQUENCE_CLASSIFICATION, TOKEN_CLASSIFICATION,
                       QUESTION_ANSWERING)
# A tensor only that architecture has, for configs without "architectures".
_HEAD_KEYS = (
    ("discriminator_predictions.dense_prediction.weight", PRETRAINING),
    ("generator_lm_head.bias", MASKED_LM),
    ("classifier.out_proj.weight", SEQUENCE_CLASSIFICATION),
    ("classifier.weight", TOKEN_CLASSIFICATION),
    ("qa_outputs.weight", QUESTION_ANSWERING),
)
# The base model's own (unprefixed) top-level modules in an ElectraModel checkpoint.
_BASE_MODEL_PREFIX = "electra."
_BASE_MODEL_MODULES = ("embeddings.", "embeddings_project.", "encoder.")

# HF `hidden_act` -> `ElectraConfig.hidden_act`. "gelu_python" is the same erf
# GELU in Python, "gelu_python_tanh" the same tanh formula; "gelu_fast",
# "gelu_accurate", "gelu_10" etc. are other functions and are refused.
_HIDDEN_ACT_FROM_HF = {
    "gelu": "gelu",
    "gelu_python": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "gelu_python_tanh": "gelu_approximate",
}
# ... and back; "gelu_new" is the name HF has understood longest.
_HIDDEN_ACT_TO_HF = {"gelu": "gelu", "gelu_approximate": "gelu_new"}

# Little-endian numpy dtypes of safetensors' names, for files with bfloat16 tensors.
_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
                       "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}

# Buffers older `transformers` versions stored; they carry no weights.
_IGNORABLE_KEYS = ("electra.embeddings.position_ids", "electra.embeddings.token_type_ids")
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
    "is_decoder": False,
    "add_cross_attention": False,
    "classifier_dropout": None,
    "problem_type": None,
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
    if isinstance(embeddings, GdesEmbeddings):
        raise ValueError("to_transformers: a GDES discriminator's word table is the generator's "
                         "plus a residual, which HF has no place for; convert "
                         "discriminator_from_pretrainer(pretrainer), which merges them.")
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


def _backbone_tensors(backbone):
    """Every `electra.*` tensor of a standalone `ElectraBackbone`, embeddings included."""
    return _embedding_tensors(backbone.embeddings) + _encoder_tensors(backbone)


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


def _task_tensors(model):
    """`(architecture, tensors)`: the HF class a task model or backbone becomes, and its tensors.

    Raises a one-line `ValueError` for a model HF has no class for.
    """
    if isinstance(model, ElectraBackbone):
        return BASE_MODEL, _backbone_tensors(model)
    if isinstance(model, ElectraClassifier):
        hidden_size = model.backbone.hidden_size
        if model.head_hidden_size != hidden_size:
            raise ValueError(
                f"to_transformers: {model.name} has head_hidden_size="
                f"{model.head_hidden_size}; HF's ElectraClassificationHead is dense(hidden_size="
                f"{hidden_size}) -> GELU -> out_proj, so build the ElectraClassifier with "
                f"head_hidden_size={hidden_size}.")
        return SEQUENCE_CLASSIFICATION, (
            _backbone_tensors(model.backbone)
            + _dense("classifier.dense", model.hidden_dense)
            + _dense("classifier.out_proj", model.dense))
    if isinstance(model, ElectraTokenClassifier):
        return TOKEN_CLASSIFICATION, (
            _backbone_tensors(model.backbone) + _dense("classifier", model.dense))
    if isinstance(model, ElectraSpanExtractor):
        if model.answerability:
            raise ValueError(
                f"to_transformers: {model.name} has an answerability head; HF's "
                "ElectraForQuestionAnswering has start/end logits only (answerability=False).")
        return QUESTION_ANSWERING, (
            _backbone_tensors(model.backbone) + _dense("qa_outputs", model.span_dense))
    raise ValueError(
        f"to_transformers: no Hugging Face ELECTRA class for a {type(model).__name__}; expected "
        "an ElectraPretrainer, ElectraBackbone, ElectraClassifier, ElectraTokenClassifier or "
        "ElectraSpanExtractor.")


# ----------------------------------------------------------------- reading
def _read_hf_config(directory):
    """`config.json` of `directory` as a dict with HF's defaults filled in.

    Refuses, one line each, what no model here can represent. The file's
    path is kept under `"_path"` for later error messages.
    """
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
    if config["hidden_act"] not in _HIDDEN_ACT_FROM_HF:
        raise ValueError(
            f"{path}: hidden_act is {config['hidden_act']!r}; supported are 'gelu' (exact erf "
            "GELU, as the original ELECTRA) and 'gelu_new' / 'gelu_pytorch_tanh' (tanh GELU).")
    if config["position_embedding_type"] != "absolute":
        raise ValueError(
            f"{path}: position_embedding_type is {config['position_embedding_type']!r}; "
            "only 'absolute' is supported.")
    for field in ("is_decoder", "add_cross_attention"):
        if config[field]:
            raise ValueError(f"{path}: {field} is true; only the bidirectional ELECTRA encoder "
                             "is supported (no causal or cross attention).")
    architectures = values.get("architectures")
    if architectures:  # else told by the tensors (`_architecture`)
        if (not isinstance(architectures, list) or len(architectures) != 1
                or architectures[0] not in ARCHITECTURES):
            raise ValueError(f"{path}: architectures is {architectures!r}; expected one of "
                             f"{list(ARCHITECTURES)}.")
    config["_path"] = path
    return config


def _architecture(config, tensors):
    """The HF class of a checkpoint: `config.json`'s, else told by its head tensors."""
    if config.get("architectures"):
        return config["architectures"][0]
    for key, architecture in _HEAD_KEYS:
        if key in tensors:
            return architecture
    return BASE_MODEL


def _load_torch(path):
    """The tensors of one `pytorch_model.bin`, as numpy arrays."""
    try:
        import torch  # only for this legacy format; the safetensors path needs no torch
    except ImportError:
        raise ValueError(
            f"{path}: reading pytorch_model.bin needs torch, which is not installed; install "
            "torch, or re-save the checkpoint as model.safetensors.") from None
    try:
        # weights_only: tensors and plain containers only, never pickled code.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: not a plain state dict of tensors, refused by "
                         f"torch.load(weights_only=True) ({reason}).") from None
    if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict of tensors.")
    # numpy has no bfloat16; every other dtype converts as is.
    return {k: (v.float() if v.dtype == torch.bfloat16 else v).detach().cpu().numpy()
            for k, v in state.items()}


def _load_safetensors(path):
    """The tensors of one `.safetensors` file, as numpy arrays (bfloat16 widened to float32)."""
    try:
        return load_file(path)
    except TypeError:  # safetensors.numpy knows no bfloat16 (numpy has none)
        pass
    with open(path, "rb") as f:
        views = safetensors.deserialize(f.read())
    tensors = {}
    for key, view in views:
        if view["dtype"] == "BF16":  # the upper half of a float32: widening is exact
            bits = np.frombuffer(view["data"], dtype="<u2").astype(np.uint32) << 16
            value = bits.view(np.float32)
        elif view["dtype"] in _SAFETENSORS_DTYPES:
            value = np.frombuffer(view["data"], dtype=_SAFETENSORS_DTYPES[view["dtype"]])
        else:
            raise ValueError(f"{path}: tensor {key!r} has dtype {view['dtype']}, expected a "
                             "float or integer one.")
        tensors[key] = value.reshape(view["shape"])
    return tensors


def _read_shards(directory, index_path, load):
    with open(index_path, encoding="utf-8") as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    tensors = {}
    for shard in shards:
        tensors.update(load(os.path.join(directory, shard)))
    return tensors


def _read_hf_weights(directory):
    """`(tensors, source)`: a dict of numpy arrays and the file(s) they came from.

    Safetensors first; `pytorch_model.bin` only when there is none. Keys of
    an `ElectraModel` checkpoint get the `electra.` prefix the other
    classes use, so every mapping below has one naming.
    """
    candidates = (
        (WEIGHTS_NAME, _load_safetensors, False),
        (WEIGHTS_INDEX_NAME, _load_safetensors, True),
        (TORCH_WEIGHTS_NAME, _load_torch, False),
        (TORCH_WEIGHTS_INDEX_NAME, _load_torch, True),
    )
    for name, load, sharded in candidates:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            tensors = _read_shards(directory, path, load) if sharded else load(path)
            return _with_base_model_prefix(tensors), path
    raise ValueError(
        f"{os.path.join(directory, WEIGHTS_NAME)}: not found (nor {TORCH_WEIGHTS_NAME}); "
        "expected a Hugging Face ELECTRA checkpoint directory.")


def _with_base_model_prefix(tensors):
    if any(key.startswith(_BASE_MODEL_PREFIX) for key in tensors):
        return tensors
    return {(_BASE_MODEL_PREFIX + key if key.startswith(_BASE_MODEL_MODULES) else key): value
            for key, value in tensors.items()}


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


def _assign_all(tensors_to_assign, tensors, source):
    for tensor in tensors_to_assign:
        _assign(tensor, _take(tensors, tensor.key, source), source)


def _check_unused(tensors, source, architecture):
    unused = sorted(k for k in tensors if k not in _IGNORABLE_KEYS)
    if unused:
        more = f" and {len(unused) - 5} more" if len(unused) > 5 else ""
        raise ValueError(f"{source}: unexpected tensor(s) {unused[:5]}{more}; is this an "
                         f"ELECTRA {architecture} checkpoint?")


def _check_architecture(config, architecture, expected, hint):
    if architecture not in expected:
        raise ValueError(f"{config['_path']}: architecture {architecture}; expected "
                         f"{' or '.join(expected)} ({hint}).")


def _read_checkpoint(directory, expected, hint):
    """`(tensors, source, architecture)` of a checkpoint whose architecture is in `expected`."""
    config = _read_hf_config(directory)
    tensors, source = _read_hf_weights(directory)
    architecture = _architecture(config, tensors)
    _check_architecture(config, architecture, expected, hint)
    return tensors, source, architecture


def _electra_config(disc, gen, vocab_file, do_lower_case):
    """An `ElectraConfig` from the HF config of each tower (either may be None).

    Without `disc`, the discriminator takes the generator's sizes (the
    fractions are 1.0): an HF generator carries no discriminator sizes.
    """
    base = disc if disc is not None else gen
    generator = {}
    if gen is not None:
        if disc is not None:
            for field in _SHARED_CONFIG_FIELDS:
                if gen[field] != disc[field]:
                    raise ValueError(
                        f"{gen['_path']}: {field} is {gen[field]!r} but the discriminator's "
                        f"is {disc[field]!r}; ELECTRA's towers share their embeddings.")
            if _HIDDEN_ACT_FROM_HF[gen["hidden_act"]] != _HIDDEN_ACT_FROM_HF[disc["hidden_act"]]:
                raise ValueError(
                    f"{gen['_path']}: hidden_act is {gen['hidden_act']!r} but the "
                    f"discriminator's is {disc['hidden_act']!r}; one activation is supported.")
            if gen["num_hidden_layers"] > disc["num_hidden_layers"]:
                raise ValueError(
                    f"{gen['_path']}: the generator has more layers "
                    f"({gen['num_hidden_layers']}) than the discriminator "
                    f"({disc['num_hidden_layers']}); not supported.")
            if gen["hidden_size"] > disc["hidden_size"]:
                raise ValueError(
                    f"{gen['_path']}: the generator is wider ({gen['hidden_size']}) than the "
                    f"discriminator ({disc['hidden_size']}); not supported.")
        generator = dict(
            generator_hidden_size=gen["hidden_size"] / base["hidden_size"],
            generator_layers=gen["num_hidden_layers"] / base["num_hidden_layers"],
            generator_num_heads=gen["num_attention_heads"],
            generator_intermediate_size=gen["intermediate_size"],
        )
    try:
        config = ElectraConfig(
            vocab_size=base["vocab_size"],
            embedding_size=base["embedding_size"],
            hidden_size=base["hidden_size"],
            num_layers=base["num_hidden_layers"],
            num_heads=base["num_attention_heads"],
            intermediate_size=base["intermediate_size"],
            hidden_act=_HIDDEN_ACT_FROM_HF[base["hidden_act"]],
            # One dropout rate in this package; it does not change converted weights.
            dropout=float(base["hidden_dropout_prob"]),
            max_position_embeddings=base["max_position_embeddings"],
            type_vocab_size=base["type_vocab_size"],
            initializer_range=base["initializer_range"],
            layer_norm_epsilon=base["layer_norm_eps"],
            max_seq_length=min(ElectraConfig.max_seq_length, base["max_position_embeddings"]),
            vocab_file=vocab_file,
            do_lower_case=do_lower_case,
            **generator,
        )
    except ValueError as e:  # e.g. a size of the wrong type: name the file
        raise ValueError(f"{base['_path']}: {e}") from None
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

    Sizes come from each directory's `config.json` (the field mapping is in
    the module docstring); the generator's width and depth become the
    `generator_hidden_size` / `generator_layers` fractions of the
    discriminator's, its heads and FFN width are explicit. `vocab_file` is
    the discriminator's `vocab.txt` when there is one (else the
    generator's), and `do_lower_case` comes from the same directory's
    `tokenizer_config.json`. HF's two dropout rates become the one
    `dropout` (the hidden one); `max_seq_length` is capped at
    `max_position_embeddings`. Without `generator_dir` the generator sizes
    are `ElectraConfig`'s defaults; without `discriminator_dir` the
    discriminator has the generator's sizes.

    Args:
        discriminator_dir: directory of an HF `ElectraForPreTraining` (or
            `ElectraModel`), or `None`.
        generator_dir: directory of an HF `ElectraForMaskedLM`, or `None`.

    Example:

    ```python
    config = config_from_transformers("electra-small-discriminator",
                                      "electra-small-generator")
    config.to_json("configs/from_hf.json")  # sizes for pretrain.py --config=...
    ```
    """
    if discriminator_dir is None and generator_dir is None:
        raise ValueError("config_from_transformers: give discriminator_dir, generator_dir or "
                         "both.")
    disc_config = _read_hf_config(discriminator_dir) if discriminator_dir is not None else None
    gen_config = _read_hf_config(generator_dir) if generator_dir is not None else None
    tokenizer_dir = discriminator_dir if discriminator_dir is not None else generator_dir
    return _electra_config(disc_config, gen_config, _vocab_file(tokenizer_dir),
                           _do_lower_case(tokenizer_dir))


def from_transformers(discriminator_dir, generator_dir=None, special_tokens=None):
    """Builds an `ElectraPretrainer` from Hugging Face ELECTRA checkpoints.

    Reads `config.json` and the weights (see the module docstring) of each
    directory; the sizes are those of `config_from_transformers`. HF stores
    the shared embeddings (word, position, token type, LayerNorm) in both
    checkpoints; they must be equal, as in every real ELECTRA checkpoint,
    because this package keeps one copy.

    * `discriminator_dir` holds an `ElectraForPreTraining`, or an
      `ElectraModel`: then the encoder is HF's and the replaced-token head
      is freshly initialised (continue pre-training, or take
      `discriminator_from_pretrainer` for fine-tuning).
    * Without `generator_dir`, the generator is the default-sized one of
      `ElectraConfig` (1/4 of the discriminator's width, same depth) with a
      fresh random initialisation of everything but the shared embeddings:
      usable to continue pre-training, not to reproduce an HF generator.
    * Without `discriminator_dir`, the `ElectraForMaskedLM` of
      `generator_dir` is the generator, with its logits, and the
      discriminator is a fresh one of the generator's sizes.

    Task checkpoints (`ElectraForSequenceClassification`, ...) are read by
    `task_model_from_transformers`.

    Args:
        discriminator_dir: directory of an HF `ElectraForPreTraining`
            (e.g. `google/electra-small-discriminator`) or `ElectraModel`,
            or `None`.
        generator_dir: directory of an HF `ElectraForMaskedLM`
            (e.g. `google/electra-small-generator`), or `None`.
        special_tokens: a `keras_electra.data.vocab.SpecialTokenIds`; if not
            given, read from the `vocab.txt` of `discriminator_dir` (else
            `generator_dir`), or the package's default layout
            (`[PAD]`..`[MASK]` = 0..4) without one.

    Returns:
        An `ElectraPretrainer`.

    Raises:
        ValueError: naming the file and the tensor or field, when a tensor is
            missing, unexpected or the wrong shape, when the towers'
            embeddings differ, when a directory holds another architecture,
            or when `config.json` has something this package cannot
            represent (module docstring).

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
    # Read and check both directories before building anything.
    disc = gen = None
    if discriminator_dir is not None:
        disc = _read_checkpoint(discriminator_dir, (PRETRAINING, BASE_MODEL),
                                "a discriminator; task heads load with "
                                "task_model_from_transformers, a generator as generator_dir")
    if generator_dir is not None:
        gen = _read_checkpoint(generator_dir, (MASKED_LM,), "a generator")
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

    if disc is not None:
        tensors, source, architecture = disc
        if architecture == BASE_MODEL:  # no head: the fresh one stays
            _assign_all(_backbone_tensors(pretrainer.discriminator), tensors, source)
        else:
            _assign_all(_discriminator_tensors(pretrainer), tensors, source)
        _check_unused(tensors, source, architecture)

    if gen is not None:
        tensors, source, _ = gen
        if disc is None:
            _assign_all(_embedding_tensors(pretrainer.embeddings), tensors, source)
        else:
            _check_shared_embeddings(pretrainer, tensors, source)
        if _TIED_LM_HEAD_KEY in tensors:  # some exports store the tied copy
            value = tensors.pop(_TIED_LM_HEAD_KEY)
            word = pretrainer.embeddings.token_embedding.embeddings
            if value.shape != tuple(word.shape) or not np.allclose(
                    value.astype(np.float32), word.numpy()):
                raise ValueError(
                    f"{source}: {_TIED_LM_HEAD_KEY!r} differs from the word embeddings; "
                    "the generator's output projection must be tied to them.")
        _assign_all(_generator_tensors(pretrainer, include_embeddings=False), tensors, source)
        _check_unused(tensors, source, MASKED_LM)
    return pretrainer


def _check_shared_embeddings(pretrainer, tensors, source):
    """Takes the generator's copy of the shared embeddings; it must equal the discriminator's."""
    for tensor in _embedding_tensors(pretrainer.embeddings):
        value = _take(tensors, tensor.key, source)
        if value.shape != tensor.hf_shape() or not np.allclose(
                value.astype(np.float32), tensor.to_hf(), rtol=1e-5, atol=1e-6):
            raise ValueError(
                f"{source}: {tensor.key!r} differs from the discriminator's; ELECTRA's "
                "generator and discriminator must share their embeddings.")


@dataclasses.dataclass(frozen=True)
class TransformersTaskInfo:
    """What `task_model_from_transformers` read besides the weights.

    Attributes:
        architecture: the HF class, e.g. "ElectraForSequenceClassification".
        kind: "backbone" (an `ElectraModel`) or the
            `keras_electra.models.task_builders.TASK_KINDS` value of the
            model: "classification", "regression", "tagging" or
            "span_extraction".
        config: the `ElectraConfig` of the encoder's sizes (with the
            directory's `vocab.txt` and `do_lower_case`, when it has them).
        labels: the class names by class id (HF `id2label`, or HF's
            `LABEL_i` defaults) for classification, regression and tagging;
            `None` for a backbone or span extractor.
        problem_type: HF's `problem_type` ("single_label_classification",
            "multi_label_classification" or "regression"; the loss to
            fine-tune with), "regression" when unset with one label, else
            `None`.
    """

    architecture: str
    kind: str
    config: ElectraConfig
    labels: typing.Optional[typing.Tuple[str, ...]] = None
    problem_type: typing.Optional[str] = None


def _hf_labels(config):
    """Class names by id: `id2label`, else HF's `LABEL_i` for `num_labels` (default 2)."""
    path = config["_path"]
    id2label = config.get("id2label")
    if id2label:
        try:
            by_id = {int(key): str(label) for key, label in id2label.items()}
        except (AttributeError, ValueError):
            raise ValueError(f"{path}: id2label must map class ids to names, got "
                             f"{id2label!r}.") from None
        if sorted(by_id) != list(range(len(by_id))):
            raise ValueError(f"{path}: id2label has ids {sorted(by_id)}, expected 0.."
                             f"{len(by_id) - 1}.")
        if config.get("num_labels", len(by_id)) != len(by_id):
            raise ValueError(f"{path}: num_labels is {config['num_labels']} but id2label has "
                             f"{len(by_id)} entries.")
        return tuple(by_id[i] for i in range(len(by_id)))
    num_labels = config.get("num_labels", 2)
    if not isinstance(num_labels, int) or isinstance(num_labels, bool) or num_labels < 1:
        raise ValueError(f"{path}: num_labels is {num_labels!r}, expected a positive integer.")
    return tuple(f"LABEL_{i}" for i in range(num_labels))


def task_model_from_transformers(directory):
    """Builds the model of an HF ELECTRA encoder or task checkpoint, weights included.

    | `config.json` architecture         | model                                      |
    |------------------------------------|--------------------------------------------|
    | `ElectraModel`                     | `ElectraBackbone`                          |
    | `ElectraForSequenceClassification` | `ElectraClassifier(head_hidden_size=H)`    |
    | `ElectraForTokenClassification`    | `ElectraTokenClassifier`                   |
    | `ElectraForQuestionAnswering`      | `ElectraSpanExtractor(answerability=False)`|

    The logits equal HF's (float32, to ~1e-6), except that
    `ElectraSpanExtractor` adds `-NOT_AN_ANSWER_PENALTY` outside the
    context and `[CLS]` (the original's answer mask; HF masks nothing), and
    that a one-label classifier returns `(batch,)` instead of `(batch, 1)`.
    HF's classification head (dense -> GELU -> out_proj) is kept as it is,
    hence `head_hidden_size`; the heads' dropout is HF's
    `classifier_dropout`, else `hidden_dropout_prob`. The backbone is a
    standalone one (its own embeddings), built under the default float32
    policy. `ElectraForPreTraining` / `ElectraForMaskedLM` checkpoints load
    with `from_transformers`.

    Args:
        directory: a `save_pretrained` directory (`config.json` +
            `model.safetensors`, or `pytorch_model.bin`).

    Returns:
        `(model, info)`: the Keras model and a `TransformersTaskInfo`
        (architecture, task kind, `ElectraConfig`, label names by id,
        `problem_type`). `to_transformers(model, out_dir,
        labels=info.labels, problem_type=info.problem_type)` writes it back.

    Example (with, e.g., a fine-tuned `ElectraForSequenceClassification`
    directory; here a round trip):

    >>> import tempfile
    >>> import keras_electra
    >>> from keras_electra.builders import build_backbone, build_embeddings
    >>> from keras_electra.models.electra_classifier import ElectraClassifier
    >>> config = keras_electra.ElectraConfig(
    ...     vocab_size=64, embedding_size=8, hidden_size=16, num_layers=1,
    ...     num_heads=2, intermediate_size=32, max_position_embeddings=16,
    ...     max_seq_length=16)
    >>> backbone = build_backbone(config, build_embeddings(config), "discriminator")
    >>> out = tempfile.mkdtemp()
    >>> to_transformers(ElectraClassifier(backbone, num_classes=2, head_hidden_size=16), out,
    ...                 labels=["negative", "positive"])
    >>> model, info = task_model_from_transformers(out)
    >>> type(model).__name__, info.kind, info.labels
    ('ElectraClassifier', 'classification', ('negative', 'positive'))
    """
    tensors, source, architecture = _read_checkpoint(
        directory, _TASK_ARCHITECTURES,
        "ElectraForPreTraining / ElectraForMaskedLM load with from_transformers")
    hf_config = _read_hf_config(directory)
    config = _electra_config(hf_config, None, _vocab_file(directory), _do_lower_case(directory))
    head_dropout = hf_config["classifier_dropout"]
    if head_dropout is None:
        head_dropout = hf_config["hidden_dropout_prob"]
    labels = problem_type = None
    with _default_dtype_policy(config.dtype_policy):
        backbone = build_backbone(config, build_embeddings(config), "discriminator")
        if architecture == BASE_MODEL:
            model, kind = backbone, "backbone"
        elif architecture == SEQUENCE_CLASSIFICATION:
            labels = _hf_labels(hf_config)
            problem_type = hf_config["problem_type"]
            if problem_type is None and len(labels) == 1:
                problem_type = "regression"  # what HF infers from one label
            kind = "regression" if problem_type == "regression" else "classification"
            model = ElectraClassifier(backbone, num_classes=len(labels), dropout=head_dropout,
                                      head_hidden_size=config.hidden_size)
        elif architecture == TOKEN_CLASSIFICATION:
            labels = _hf_labels(hf_config)
            kind = "tagging"
            model = ElectraTokenClassifier(backbone, num_classes=len(labels),
                                           dropout=head_dropout)
        else:
            if len(_hf_labels(hf_config)) != 2:
                raise ValueError(f"{hf_config['_path']}: num_labels is "
                                 f"{len(_hf_labels(hf_config))}; ElectraForQuestionAnswering "
                                 "here has 2 (start and end logits).")
            kind = "span_extraction"
            model = ElectraSpanExtractor(backbone, answerability=False)
    _, mapped = _task_tensors(model)
    _assign_all(mapped, tensors, source)
    _check_unused(tensors, source, architecture)
    return model, TransformersTaskInfo(architecture=architecture, kind=kind, config=config,
                                       labels=labels, problem_type=problem_type)


# ----------------------------------------------------------------- writing
_PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")


def _hf_config(backbone, architecture, pad_token_id):
    embeddings = backbone.embeddings
    return {
        "architectures": [architecture],
        "model_type": "electra",
        "vocab_size": embeddings.vocabulary_size,
        "embedding_size": embeddings.embedding_size,
        "hidden_size": backbone.hidden_size,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_heads,
        "intermediate_size": backbone.intermediate_size,
        "hidden_act": _HIDDEN_ACT_TO_HF[backbone.hidden_act],
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


def _head_config(model, architecture, labels, problem_type):
    """The `config.json` fields of a task head: labels, head dropout, problem type."""
    if architecture == BASE_MODEL:
        if labels is not None or problem_type is not None:
            raise ValueError("to_transformers: an ElectraBackbone (ElectraModel) has no labels "
                             "or problem_type.")
        return {}
    num_labels = 2 if architecture == QUESTION_ANSWERING else model.num_classes
    if labels is None:
        labels = [f"LABEL_{i}" for i in range(num_labels)]  # HF's default names
    labels = [str(label) for label in labels]
    if len(labels) != num_labels:
        raise ValueError(f"to_transformers: {len(labels)} labels given for {num_labels} "
                         f"outputs of {model.name}.")
    if problem_type is None and architecture == SEQUENCE_CLASSIFICATION and num_labels == 1:
        problem_type = "regression"
    if problem_type is not None and (architecture != SEQUENCE_CLASSIFICATION
                                     or problem_type not in _PROBLEM_TYPES):
        raise ValueError(f"to_transformers: problem_type {problem_type!r} does not apply to "
                         f"{architecture}; expected None or, for a classifier, one of "
                         f"{list(_PROBLEM_TYPES)}.")
    fields = {}
    # As HF's save_pretrained: HF's default labels (2 x LABEL_i) are not written.
    if labels != [f"LABEL_{i}" for i in range(2)]:
        fields["id2label"] = {str(i): label for i, label in enumerate(labels)}
        fields["label2id"] = {label: i for i, label in enumerate(labels)}
    if architecture in (SEQUENCE_CLASSIFICATION, TOKEN_CLASSIFICATION):
        fields["classifier_dropout"] = model.dropout
    if problem_type is not None:
        fields["problem_type"] = problem_type
    return fields


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


def _hf_key(key, architecture):
    """An `ElectraModel` checkpoint names the encoder's tensors without `electra.`."""
    if architecture == BASE_MODEL:
        return key.removeprefix(_BASE_MODEL_PREFIX)
    return key


def to_transformers(model, out_dir, generator_out_dir=None, vocab_file=None, labels=None,
                    problem_type=None):
    """Writes a model as Hugging Face ELECTRA checkpoint directory(ies).

    * `ElectraPretrainer` -> `ElectraForPreTraining` in `out_dir` and, with
      `generator_out_dir`, `ElectraForMaskedLM` there;
    * `ElectraBackbone` -> `ElectraModel`;
    * `ElectraClassifier(head_hidden_size=hidden_size)` ->
      `ElectraForSequenceClassification`;
    * `ElectraTokenClassifier` -> `ElectraForTokenClassification`;
    * `ElectraSpanExtractor(answerability=False)` -> `ElectraForQuestionAnswering`.

    Each directory gets `config.json` and `model.safetensors` (float32),
    written atomically; a pretrainer's two directories both hold a copy of
    the shared embeddings, as HF's own ELECTRA checkpoints do. HF gives the
    same logits (see `task_model_from_transformers` for the span
    extractor's answer mask). The inverse is `from_transformers` /
    `task_model_from_transformers`, and HF -> here -> HF gives back every
    tensor bit for bit. Refused (one-line `ValueError`): an `ElectraClassifier`
    with the original's single-dense head (`head_hidden_size=None`; HF's
    head has a hidden layer), an `ElectraSpanExtractor` with
    `answerability`, any other model.

    Args:
        model: an `ElectraPretrainer`, `ElectraBackbone`, `ElectraClassifier`,
            `ElectraTokenClassifier` or `ElectraSpanExtractor`.
        out_dir: directory for the model (a pretrainer's discriminator);
            created if needed.
        generator_out_dir: for a pretrainer, directory for the generator, or
            `None` to write only the discriminator.
        vocab_file: optional `vocab.txt` copied into each directory; it also
            sets `pad_token_id` in the configs (0 otherwise, HF's default).
        labels: for a classifier or tagger, the class names by id, written
            as `id2label` / `label2id` (HF's `LABEL_i` otherwise).
        problem_type: for a classifier, HF's `problem_type`; by default
            "regression" for one output and unset otherwise.

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
    if isinstance(model, ElectraPretrainer):
        if labels is not None or problem_type is not None:
            raise ValueError("to_transformers: an ElectraPretrainer has no labels or "
                             "problem_type.")
        _check_pretrainer_heads(model)
        _check_mapping_is_complete(
            model, _discriminator_tensors(model) + _generator_tensors(model))
        writes = [(out_dir, model.discriminator, PRETRAINING, _discriminator_tensors(model), {})]
        if generator_out_dir is not None:
            writes.append((generator_out_dir, model.generator, MASKED_LM,
                           _generator_tensors(model), {}))
    else:
        if generator_out_dir is not None:
            raise ValueError(f"to_transformers: generator_out_dir is for an ElectraPretrainer, "
                             f"not a {type(model).__name__}.")
        architecture, tensors = _task_tensors(model)
        _check_mapping_is_complete(model, tensors)
        backbone = model if architecture == BASE_MODEL else model.backbone
        writes = [(out_dir, backbone, architecture, tensors,
                   _head_config(model, architecture, labels, problem_type))]
    for directory, backbone, architecture, tensors, head_fields in writes:
        config = dict(_hf_config(backbone, architecture, pad_token_id), **head_fields)
        _write_checkpoint(directory, config,
                          {_hf_key(t.key, architecture): t.to_hf() for t in tensors}, vocab_file)


def _check_pretrainer_heads(pretrainer):
    """HF's heads fix their activations: the discriminator's is `hidden_act`, the generator's
    the exact GELU."""
    discriminator_act = hidden_act_name(pretrainer.discriminator_head.activation)
    if discriminator_act != pretrainer.discriminator.hidden_act:
        raise ValueError(
            f"to_transformers: the discriminator head uses {discriminator_act or 'another'} "
            f"activation but HF applies the encoder's hidden_act "
            f"({pretrainer.discriminator.hidden_act!r}) there.")
    if hidden_act_name(pretrainer.generator_head.intermediate_activation) != "gelu":
        raise ValueError("to_transformers: the generator's MLM head must use the exact 'gelu', "
                         "as HF's ElectraGeneratorPredictions does.")


def _check_mapping_is_complete(model, tensors):
    """Fails loudly if the model gained a weight the HF layout has no place for."""
    mapped = {id(t.variable) for t in tensors}
    unmapped = [w.path for w in model.weights if id(w) not in mapped]
    if unmapped:
        raise ValueError(f"to_transformers: no Hugging Face name for weight(s) {unmapped}.")
