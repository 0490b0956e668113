"""Every checkpoint format this package reads, behind one call: `read_pretrainer`.

`pretrain --init_checkpoint`, `finetune --init_checkpoint` and
`python -m keras_electra.convert --from=...` all go through here, so a model
that converts also trains on. Formats (`detect_format` tells them apart):

* `keras_electra`: a model directory of ours (`config.json`, `vocab.txt`,
  `pretrainer.weights.h5`, or for a run that is still going or was
  stopped, its newest `checkpoints/ckpt-N`).
* `transformers`: a Hugging Face `ElectraForPreTraining` (or
  `ElectraModel`) directory, or a directory holding `discriminator/` and
  `generator/` (`ElectraForMaskedLM`) ones, as the converter writes them.
* `original`: a TF1 checkpoint of google-research/electra (`model.ckpt-N`
  prefix, or its directory); sizes and vocabulary come from a `config`.
* `keras_hub`: a `keras_hub.models.ElectraBackbone` preset directory
  (`save_to_preset`), with its tokenizer's `assets/tokenizer/vocabulary.txt`.

```python
pretrainer, config, has_generator = read_pretrainer("hf/electra-small")
pretrainer, config, _ = read_pretrainer("electra_small/model.ckpt-1000000",
                                        config="configs/electra_small.json")
```
"""

import json
import os

import tensorflow as tf

from keras_electra.config import ElectraConfig

FORMATS = ("keras_electra", "transformers", "original", "keras_hub")
CONFIG_NAME = "config.json"
# Where the converter puts the two Hugging Face towers of one model.
DISCRIMINATOR_SUBDIR = "discriminator"
GENERATOR_SUBDIR = "generator"
# A keras-hub preset's tokenizer vocabulary.
KERAS_HUB_VOCAB = os.path.join("assets", "tokenizer", "vocabulary.txt")
# A variable every original ELECTRA checkpoint has.
_ORIGINAL_MARKER = "electra/embeddings/word_embeddings"


def _json(path):
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e.msg}, line {e.lineno}).") from None
    return value if isinstance(value, dict) else {}


def _is_transformers_dir(path):
    config = os.path.join(path, CONFIG_NAME)
    return os.path.isfile(config) and _json(config).get("model_type") == "electra"


def _original_prefix(path):
    """The TF1 checkpoint prefix at `path` holding ELECTRA variables, or None."""
    prefix = tf.train.latest_checkpoint(path) if os.path.isdir(path) else path
    if not prefix or not os.path.exists(prefix + ".index"):
        return None
    try:
        names = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError):
        return None
    return prefix if _ORIGINAL_MARKER in names else None


def detect_format(path):
    """Which of `FORMATS` the checkpoint at `path` is; a one-line error if none."""
    path = os.fspath(path)
    if not os.path.exists(path) and not os.path.exists(path + ".index"):
        raise ValueError(f"{path}: no such file or directory.")
    if os.path.isdir(path):
        if _is_transformers_dir(path) or _is_transformers_dir(
                os.path.join(path, DISCRIMINATOR_SUBDIR)):
            return "transformers"
        config = os.path.join(path, CONFIG_NAME)
        if os.path.isfile(config):
            values = _json(config)
            if str(values.get("module", "")).startswith("keras_hub"):
                return "keras_hub"
            return "keras_electra"
    if _original_prefix(path):
        return "original"
    raise ValueError(
        f"{path}: not a checkpoint this package reads; expected a keras_electra model "
        "directory, a Hugging Face ELECTRA directory, an original ELECTRA TF1 checkpoint "
        "(model.ckpt-N) or a keras-hub ElectraBackbone preset.")


def read_pretrainer(path, config=None, source_format=None):
    """`(pretrainer, config, has_generator)` from a checkpoint of any of `FORMATS`.

    Args:
        path: the checkpoint (see the module docstring).
        config: an `ElectraConfig` or the path of one as JSON. Required for
            `original` checkpoints (they store no sizes) and then the
            source of `vocab_file`; ignored by the other formats, which
            carry their own.
        source_format: one of `FORMATS`; detected when `None`.

    Returns:
        The `ElectraPretrainer`, the `ElectraConfig` it was built from, and
        whether its generator (and generator head) came from the
        checkpoint: Hugging Face directories without a generator and
        keras-hub presets (a discriminator encoder only) leave the generator
        and, for keras-hub, the discriminator head freshly initialised.
    """
    from keras_electra.builders import build_pretrainer

    path = os.fspath(path)
    source_format = source_format or detect_format(path)
    if source_format not in FORMATS:
        raise ValueError(f"format {source_format!r}: expected one of {', '.join(FORMATS)}.")
    if isinstance(config, (str, os.PathLike)):
        config = ElectraConfig.from_json(config)

    if source_format == "keras_electra":
        from keras_electra.training.checkpoints import (
            CHECKPOINT_DIR, WEIGHTS_NAME, load_config, load_initial_weights, load_pretrainer)

        if os.path.isfile(os.path.join(path, WEIGHTS_NAME)):
            pretrainer, config = load_pretrainer(path)
        elif not tf.train.latest_checkpoint(os.path.join(path, CHECKPOINT_DIR)):
            raise ValueError(f"{path}: no {WEIGHTS_NAME} and no {CHECKPOINT_DIR}/ with a "
                             "checkpoint.")
        else:
            config = load_config(path)
            pretrainer = build_pretrainer(config)
            load_initial_weights(pretrainer, config, path)
        return pretrainer, config, True

    if source_format == "transformers":
        from keras_electra.convert.transformers import config_from_transformers, from_transformers

        discriminator, generator = path, None
        if _is_transformers_dir(os.path.join(path, DISCRIMINATOR_SUBDIR)):
            discriminator = os.path.join(path, DISCRIMINATOR_SUBDIR)
            if _is_transformers_dir(os.path.join(path, GENERATOR_SUBDIR)):
                generator = os.path.join(path, GENERATOR_SUBDIR)
        return (from_transformers(discriminator, generator),
                config_from_transformers(discriminator, generator), generator is not None)

    if source_format == "original":
        from keras_electra.convert.original import from_original_checkpoint

        if config is None:
            raise ValueError(f"{path}: an original ELECTRA checkpoint stores no sizes; give its "
                             "ElectraConfig (--config=CONFIG.json, with vocab_file).")
        return from_original_checkpoint(path, config), config, True

    return _read_keras_hub_preset(path)


def _read_keras_hub_preset(path):
    import keras_hub

    from keras_electra.builders import build_pretrainer
    from keras_electra.convert.keras_hub import from_keras_hub

    hub_backbone = keras_hub.models.Backbone.from_preset(path)
    if not isinstance(hub_backbone, keras_hub.models.ElectraBackbone):
        raise ValueError(f"{os.path.join(path, CONFIG_NAME)}: a "
                         f"{type(hub_backbone).__name__} preset, expected ElectraBackbone.")
    backbone, config = from_keras_hub(hub_backbone)
    vocab_file = os.path.join(path, KERAS_HUB_VOCAB)
    if os.path.isfile(vocab_file):
        lowercase = config.do_lower_case
        tokenizer_config = os.path.join(path, "tokenizer.json")
        if os.path.isfile(tokenizer_config):
            lowercase = bool(_json(tokenizer_config).get("config", {}).get("lowercase",
                                                                             lowercase))
        config = config.with_overrides({"vocab_file": vocab_file, "do_lower_case": lowercase})
    pretrainer = build_pretrainer(config)
    for target, value in zip(pretrainer.discriminator.weights, backbone.weights, strict=True):
        target.assign(value)
    return pretrainer, config, False


def _towers(pretrainer, with_generator):
    """The pretrainer's weights, discriminator side first, without duplicates."""
    parts = [pretrainer.discriminator, pretrainer.discriminator_head]
    if with_generator:
        parts += [pretrainer.generator, pretrainer.generator_head]
    seen, weights = set(), []
    for weight in (w for part in parts for w in part.weights):
        if id(weight) not in seen:
            seen.add(id(weight))
            weights.append(weight)
    return weights


def initialize_from(pretrainer, config, path):
    """Copies a checkpoint of any of `FORMATS` into `pretrainer` (a run's fresh model).

    `config` is the run's: it gives an `original` checkpoint its sizes, and
    every source must have the same sizes as the run's model. Parts the
    source does not have (see `read_pretrainer`) keep their fresh
    initialisation. Returns the format read.
    """
    from keras_electra.training.checkpoints import copy_weights, load_initial_weights

    path = os.fspath(path)
    # Our own `.weights.h5` files and `ckpt-N` prefixes load as before.
    ours = path.endswith(".weights.h5") or os.path.exists(path + ".index") and \
        not _original_prefix(path)
    source_format = "keras_electra" if ours else detect_format(path)
    if source_format == "keras_electra":
        load_initial_weights(pretrainer, config, path)
        return source_format
    try:
        source, source_config, has_generator = read_pretrainer(path, config, source_format)
    except ValueError as e:
        raise ValueError(f"--init_checkpoint={path}: {str(e).removeprefix(path + ': ')}") \
            from None
    if source_config.hidden_act != config.hidden_act:
        raise ValueError(
            f"--init_checkpoint={path}: trained with hidden_act={source_config.hidden_act!r}, "
            f"this run's config has {config.hidden_act!r}; set \"hidden_act\" to match.")
    copy_weights(_towers(pretrainer, has_generator), _towers(source, has_generator),
                 f"--init_checkpoint={path}")
    return source_format
