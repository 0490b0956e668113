"""Loads the TF1 pre-training checkpoints of the original Google ELECTRA code.

`google-research/electra`'s `run_pretraining.py` writes both towers into one
TF1 checkpoint (`model.ckpt-N`, read here with `tf.train.load_checkpoint`,
no graph needed) and no config file, so the sizes come from an
`ElectraConfig`:

```python
from keras_electra.convert import from_original_checkpoint

# runs/my_electra/ is run_pretraining.py's model_dir (checkpoint, model.ckpt-N.*)
pretrainer = from_original_checkpoint("runs/my_electra", "configs/electra_small.json")
pretrainer.discriminator_logits(batch)
```

Variable names (`model/modeling.py` `BertModel`, `run_pretraining.py`):

* `electra/embeddings/...`: word, position, token-type tables and the
  LayerNorm, shared by both towers (the generator reads them through
  `reuse=tf.AUTO_REUSE`), as in this package.
* `electra/...` (discriminator) and `generator/...`: `embeddings_project`
  and `encoder/layer_{i}/...`, the layout of BERT (and of Hugging Face,
  which copied it); dense kernels are `(in, out)`.
* `generator_predictions/{dense,LayerNorm,output_bias}` (the output
  projection is the tied word table) and
  `discriminator_predictions/{dense,dense_1}`.

Every tower variable has a Hugging Face name in `convert/transformers.py`;
this module only renames, so the Keras layouts live there.
"""

import os
import re

import numpy as np
import tensorflow as tf

from keras_electra.builders import build_pretrainer
from keras_electra.config import ElectraConfig
from keras_electra.convert.transformers import _discriminator_tensors, _generator_tensors

__all__ = ["from_original_checkpoint"]

# Written by the original training loop, not model weights: the step counter
# and `AdamWeightDecayOptimizer`'s slots (`<variable>/adam_m`, `/adam_v`,
# made with `tf.get_variable`; the optimizer has no other state).
_SKIPPED_NAMES = ("global_step",)
_SKIPPED_SUFFIXES = ("/adam_m", "/adam_v")
# The original `BertModel` has no pooler (its `pooled_output` is
# `sequence_output[:, 0]`), but forks built on BERT's `modeling.py` create
# `<tower>/pooler/dense`; ELECTRA's losses never use it, so it is dropped.
_SKIPPED_PATTERN = re.compile(r"^(electra|generator)/pooler/")
# HF leaf name -> TF1 leaf name.
_DENSE_LEAVES = {"weight": "kernel", "bias": "bias"}
_LAYER_NORM_LEAVES = {"weight": "gamma", "bias": "beta"}


def _original_name(tensor, tower):
    """The original variable name of `tensor`, an HF `_Tensor` of `tower`.

    Renames scope by scope: the tower's `electra.` scope becomes `generator/`
    for the generator, `layer.{i}` becomes `layer_{i}`, Linear `weight` /
    `bias` are `kernel` / `bias`, LayerNorm's are `gamma` / `beta`, and an
    embedding table is the bare `<name>_embeddings` variable.
    """
    key = tensor.key
    if key == "generator_lm_head.bias":
        return "generator_predictions/output_bias"
    # `tf.layers.dense` names the second unnamed dense of a scope `dense_1`.
    key = key.replace("discriminator_predictions.dense_prediction.",
                      "discriminator_predictions.dense_1.")
    if tower == "generator" and key.startswith("electra."):
        key = "generator." + key[len("electra."):]
    key = re.sub(r"\.layer\.(\d+)\.", r".layer_\1.", key)
    path, leaf = key.rsplit(".", 1)
    if path.endswith("_embeddings"):
        return path.replace(".", "/")
    leaves = _LAYER_NORM_LEAVES if path.endswith("LayerNorm") else _DENSE_LEAVES
    return f"{path}.{leaves[leaf]}".replace(".", "/")


def _is_skipped(name):
    return (name in _SKIPPED_NAMES or name.endswith(_SKIPPED_SUFFIXES)
            or _SKIPPED_PATTERN.match(name) is not None)


def _open(path):
    """`(reader, prefix)` for a checkpoint prefix or a directory of checkpoints."""
    prefix = path = os.fspath(path)
    if os.path.isdir(path):
        prefix = tf.train.latest_checkpoint(path)
        if prefix is None:
            raise ValueError(f"{path}: no TF1 checkpoint found (expected a 'checkpoint' file "
                             "naming model.ckpt-N, as run_pretraining.py writes).")
    try:
        return tf.train.load_checkpoint(prefix), prefix
    except (tf.errors.OpError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{prefix}: not a readable TF1 checkpoint ({reason}).") from None


def _check_layout(names, prefix):
    """Refuses layouts the original code can write but this package cannot hold."""
    if any(name.startswith("generator/embeddings/") for name in names):
        raise ValueError(
            f"{prefix}: has 'generator/embeddings/...' (trained with "
            "untied_generator_embeddings=True); this package shares one embedding table "
            "between generator and discriminator.")
    if not any(name.startswith("generator/") for name in names):
        raise ValueError(
            f"{prefix}: no 'generator/...' variables; expected a google-research/electra "
            "pre-training checkpoint with its own generator tower (untied_generator=False "
            "and electra_objective=False runs are not supported).")


def from_original_checkpoint(path, config, special_tokens=None):
    """Builds an `ElectraPretrainer` from an original ELECTRA TF1 checkpoint.

    Every weight of both towers and both heads is read from the checkpoint;
    the optimizer's `adam_m` / `adam_v` slots, `global_step` and a BERT
    pooler (if a fork wrote one) are skipped. Anything else the checkpoint
    holds, anything it lacks and any shape that disagrees with `config` is
    an error.

    Args:
        path: a checkpoint prefix (`.../model.ckpt-1000000`) or a directory,
            in which case its latest checkpoint is read.
        config: an `ElectraConfig`, or the path of one as JSON (e.g.
            `configs/electra_small.json`), with the checkpoint's sizes (the
            generator's through `generator_hidden_size` / `generator_layers`,
            as the original `get_generator_config`).
        special_tokens: a `keras_electra.data.vocab.SpecialTokenIds`; by
            default read from `config.vocab_file`, or the package's default
            layout (`[PAD]`..`[MASK]` = 0..4) without one. The original
            BERT vocabulary has `[PAD]` 0, `[UNK]` 100, `[CLS]` 101,
            `[SEP]` 102, `[MASK]` 103, so set `vocab_file` for it.

    Returns:
        An `ElectraPretrainer`.

    Raises:
        ValueError: naming the checkpoint and the variable, when a variable
            is missing, unexpected or of the wrong shape (expected and actual
            shape), when the generator has its own embeddings
            (`untied_generator_embeddings=True`) or no tower of its own, or
            when `path` holds no readable checkpoint.

    Example, the released ELECTRA-Small (its generator is as wide as the
    discriminator, 256, as Hugging Face's `google/electra-small-generator`
    converted from it; `configs/electra_small.json` has the paper's 1/4, so
    without the override the generator's shapes are reported as wrong):

    ```python
    pretrainer = from_original_checkpoint(
        "electra_small/model.ckpt-1000000",
        ElectraConfig.from_json("configs/electra_small.json").with_overrides(
            {"generator_hidden_size": 1.0, "vocab_file": "electra_small/vocab.txt"}))
    ```
    """
    if not isinstance(config, ElectraConfig):
        config = ElectraConfig.from_json(config)
    reader, prefix = _open(path)
    shapes = reader.get_variable_to_shape_map()
    _check_layout(shapes, prefix)
    pretrainer = build_pretrainer(config, special_tokens=special_tokens)

    towers = [("discriminator", t) for t in _discriminator_tensors(pretrainer)]
    # The shared embeddings are already in the discriminator's list.
    towers += [("generator", t) for t in _generator_tensors(pretrainer, include_embeddings=False)]
    used = set()
    for tower, tensor in towers:
        name = _original_name(tensor, tower)
        if name not in shapes:
            raise ValueError(f"{prefix}: missing variable {name!r}.")
        # A TF1 kernel is (in, out): the transpose of the HF (out, in) weight.
        is_kernel = tensor.in_axes is not None
        expected = tensor.hf_shape()[::-1] if is_kernel else tensor.hf_shape()
        if tuple(shapes[name]) != expected:
            raise ValueError(f"{prefix}: variable {name!r} has shape {tuple(shapes[name])}, "
                             f"expected {expected}.")
        value = reader.get_tensor(name).astype(np.float32)
        tensor.variable.assign(tensor.to_keras(value.T if is_kernel else value))
        used.add(name)

    unexpected = sorted(n for n in shapes if n not in used and not _is_skipped(n))
    if unexpected:
        more = f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""
        raise ValueError(f"{prefix}: unexpected variable(s) {unexpected[:5]}{more}; is this a "
                         "google-research/electra pre-training checkpoint?")
    return pretrainer
