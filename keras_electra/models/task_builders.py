"""Fine-tuning models from a backbone, and the backbone from a pre-trained `ElectraPretrainer`.

    pretrainer, config = load_pretrainer("runs/demo")
    backbone = discriminator_from_pretrainer(pretrainer)
    model = build_task_model("classification", backbone, num_classes=2)
"""

import keras

from keras_electra.builders import _default_dtype_policy
from keras_electra.layers.gdes_embeddings import GdesEmbeddings
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_classifier import ElectraClassifier
from keras_electra.models.electra_span_extractor import ElectraSpanExtractor
from keras_electra.models.electra_token_classifier import ElectraTokenClassifier

TASK_KINDS = ("classification", "regression", "span_extraction", "tagging")


def build_task_model(kind, backbone, num_classes=None, **kwargs):
    """The fine-tuning model of `kind` on `backbone`.

    Args:
        kind: "classification" (GLUE, `ElectraClassifier`), "regression"
            (STS-B: `ElectraClassifier` with one output), "span_extraction"
            (SQuAD, `ElectraSpanExtractor`) or "tagging" (NER / chunking,
            `ElectraTokenClassifier`).
        backbone: the discriminator `ElectraBackbone`, e.g. from
            `discriminator_from_pretrainer`.
        num_classes: labels for "classification" and "tagging"; must be
            omitted (or 1) for "regression" and omitted for "span_extraction".
        **kwargs: the model class's other arguments (`dropout`,
            `answerability`, `name`, ...).

    Example:

    >>> import keras_electra
    >>> from keras_electra.builders import build_backbone, build_embeddings
    >>> config = keras_electra.ElectraConfig(
    ...     vocab_size=64, embedding_size=8, hidden_size=16, num_layers=1,
    ...     num_heads=2, intermediate_size=32)
    >>> backbone = build_backbone(config, build_embeddings(config), "discriminator")
    >>> type(build_task_model("span_extraction", backbone, answerability=True)).__name__
    'ElectraSpanExtractor'
    """
    if kind == "classification":
        if num_classes is None:
            raise ValueError("build_task_model('classification'): num_classes is required.")
        return ElectraClassifier(backbone, num_classes=num_classes, **kwargs)
    if kind == "regression":
        if num_classes not in (None, 1):
            raise ValueError(f"build_task_model('regression'): one output, got "
                             f"num_classes={num_classes}.")
        return ElectraClassifier(backbone, num_classes=1, **kwargs)
    if kind == "span_extraction":
        if num_classes is not None:
            raise ValueError("build_task_model('span_extraction') takes no num_classes.")
        return ElectraSpanExtractor(backbone, **kwargs)
    if kind == "tagging":
        if num_classes is None:
            raise ValueError("build_task_model('tagging'): num_classes is required.")
        return ElectraTokenClassifier(backbone, num_classes=num_classes, **kwargs)
    raise ValueError(f"Unknown task kind {kind!r}; expected one of {', '.join(TASK_KINDS)}.")


def discriminator_from_pretrainer(pretrainer):
    """A standalone copy of `pretrainer`'s discriminator backbone, weights included.

    In the pretrainer the discriminator shares its `ElectraEmbeddings` with
    the generator. Fine-tuning that shared layer in place would silently
    change the generator too, and a task model would keep the pretrainer
    alive; so this rebuilds the discriminator from its config, with its own
    embeddings (trained by whatever model is built on it), under the dtype
    policy it was built with, and copies the weights. The generator and its
    MLM head are dropped, as in the original fine-tuning code. Whatever the
    pretrainer's objective, this is the encoder it trained (for "mlm", the
    one trained with masked LM). Under GDES embedding sharing the copy gets a
    plain `ElectraEmbeddings` whose word table is the generator's plus the
    discriminator's residual, the discriminator's effective table (as
    DeBERTaV3 merges them after pre-training), so fine-tuning trains one table.

    Args:
        pretrainer: an `ElectraPretrainer` (e.g. from
            `keras_electra.training.checkpoints.load_pretrainer`).

    Returns:
        An `ElectraBackbone` whose outputs equal `pretrainer.discriminator`'s.

    Example:

    >>> import keras_electra
    >>> pretrainer = keras_electra.build_pretrainer(keras_electra.ElectraConfig(
    ...     vocab_size=64, embedding_size=8, hidden_size=16, num_layers=1,
    ...     num_heads=2, intermediate_size=32))
    >>> backbone = discriminator_from_pretrainer(pretrainer)
    >>> backbone.embeddings is pretrainer.generator.embeddings
    False
    """
    discriminator = pretrainer.discriminator
    config, weights = discriminator.get_config(), discriminator.get_weights()
    if isinstance(discriminator.embeddings, GdesEmbeddings):
        config["embeddings"], weights = _merged_gdes(discriminator)
    # The encoder blocks take the default policy when built (see builders), so
    # rebuild under the discriminator's own one (e.g. mixed_bfloat16).
    with _default_dtype_policy(discriminator.dtype_policy):
        backbone = ElectraBackbone.from_config(config)
    backbone.set_weights(weights)
    return backbone


def _merged_gdes(discriminator):
    """`(embeddings config, weights)` of `discriminator` with its `GdesEmbeddings`
    replaced by a plain `ElectraEmbeddings` holding the merged word table."""
    embeddings = discriminator.embeddings
    generator_table = embeddings.shared.token_embedding.embeddings
    merged = keras.ops.convert_to_numpy(embeddings.word_table())
    weights = [merged if w is generator_table else keras.ops.convert_to_numpy(w)
               for w in discriminator.weights if w is not embeddings.residual]
    return keras.layers.serialize(embeddings.shared), weights
