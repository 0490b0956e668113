"""Our discriminator <-> `keras_hub.models.ElectraBackbone`.

The two share their layer layout and weight names (embeddings, projection,
`transformer_layer_i/...`), so conversion copies weights by path. Two
differences change the numbers, and neither is a conversion error:

* keras-hub's `ElectraBackbone` uses the tanh-approximate GELU; the
  original ELECTRA, Hugging Face's `"gelu"` and this package's default use
  the exact (erf) one. `from_keras_hub` therefore builds our backbone with
  `hidden_act="gelu_approximate"` and reproduces keras-hub's outputs
  exactly; `to_keras_hub` of an exact-GELU model gives slightly different
  hidden states (`tests/convert/test_keras_hub.py` measures the difference).
* keras-hub adds `pooled_dense` (dense + tanh on `[CLS]`), which ELECTRA
  never trained: `to_keras_hub` leaves it freshly initialised, so its
  `pooled_output` is not a pre-trained feature (ELECTRA's fine-tuning heads
  use the `[CLS]` vector of `sequence_output`); `from_keras_hub` drops it.
"""

import keras_hub

from keras_electra.builders import build_backbone, build_embeddings
from keras_electra.config import ElectraConfig

# Hard-coded in keras_hub.models.ElectraBackbone (the original BERT/ELECTRA value).
KERAS_HUB_LAYER_NORM_EPSILON = 1e-12


def to_keras_hub(backbone):
    """A `keras_hub.models.ElectraBackbone` holding our discriminator's weights.

    Args:
        backbone: our discriminator `ElectraBackbone` (e.g.
            `pretrainer.discriminator`).

    Example:

    >>> hub_backbone = to_keras_hub(pretrainer.discriminator)  # doctest: +SKIP
    >>> hub_backbone({"token_ids": ids, "segment_ids": segments,
    ...               "padding_mask": mask})["sequence_output"]  # doctest: +SKIP
    """
    embeddings = backbone.embeddings
    target = keras_hub.models.ElectraBackbone(
        vocab_size=embeddings.vocabulary_size, num_layers=backbone.num_layers,
        num_heads=backbone.num_heads, hidden_dim=backbone.hidden_size,
        embedding_dim=embeddings.embedding_size, intermediate_dim=backbone.intermediate_size,
        dropout=backbone.dropout, max_sequence_length=embeddings.max_sequence_length,
        num_segments=embeddings.num_segments)
    if backbone.embeddings_projection is None:
        raise ValueError("to_keras_hub: keras-hub's ElectraBackbone always projects embeddings "
                         "to hidden_dim; this model has embedding_size == hidden_size and no "
                         "projection.")
    epsilon = backbone.layer_norm_epsilon
    if epsilon != KERAS_HUB_LAYER_NORM_EPSILON:
        raise ValueError(f"to_keras_hub: keras-hub's ElectraBackbone fixes layer_norm_epsilon at "
                         f"{KERAS_HUB_LAYER_NORM_EPSILON:g}; this model uses {epsilon:g}.")
    _copy_by_path(backbone.weights, target.weights, skip=("pooled_dense/",))
    return target


def from_keras_hub(hub_backbone):
    """`(backbone, config)`: our discriminator `ElectraBackbone` from a keras-hub one.

    `pooled_dense` is dropped (see the module docstring); the config holds the
    sizes, keras-hub's activation (`hidden_act="gelu_approximate"`), the
    original's layer-norm epsilon (1e-12, as keras-hub's) and
    `max_seq_length` 128 (or the position range, if shorter).
    """
    values = hub_backbone.get_config()
    config = ElectraConfig(
        vocab_size=values["vocab_size"], embedding_size=values["embedding_dim"],
        hidden_size=values["hidden_dim"], num_layers=values["num_layers"],
        num_heads=values["num_heads"], intermediate_size=values["intermediate_dim"],
        dropout=values["dropout"], max_position_embeddings=values["max_sequence_length"],
        max_seq_length=min(128, values["max_sequence_length"]),
        type_vocab_size=values["num_segments"], hidden_act="gelu_approximate")
    backbone = build_backbone(config, build_embeddings(config), "discriminator")
    _copy_by_path(hub_backbone.weights, backbone.weights, skip=("pooled_dense/",))
    return backbone, config


def _key(weight):
    # Our embeddings are one layer ("embeddings/token_embedding/..."); keras-hub's
    # are separate layers of the backbone ("token_embedding/..."). Else paths agree.
    return weight.path.removeprefix("embeddings/")


def _copy_by_path(source, target, skip):
    """Assigns each target weight the source weight of the same path (names agree)."""
    by_path = {_key(w): w for w in source if not w.path.startswith(skip)}
    wanted = {_key(w) for w in target if not w.path.startswith(skip)}
    if set(by_path) != wanted:
        missing, extra = sorted(wanted - set(by_path)), sorted(set(by_path) - wanted)
        raise ValueError(f"keras-hub conversion: weights do not correspond (missing {missing[:3]}, "
                         f"unexpected {extra[:3]}).")
    for weight in target:
        if not weight.path.startswith(skip):
            weight.assign(by_path[_key(weight)])
