"""The one place an `ElectraConfig` becomes layers and models.

Embedding tying happens here: a single `ElectraEmbeddings` is handed to both
backbones (under `embedding_sharing="gdes"` the discriminator reads it through
a `GdesEmbeddings`), and the MLM heads project with its word table.
"""

import contextlib

import keras
import keras_hub

from keras_electra.data.vocab import DEFAULT_SPECIAL_TOKEN_IDS, load_vocabulary, special_token_ids
from keras_electra.layers.activations import gelu, hidden_activation
from keras_electra.layers.discriminator_head import DiscriminatorHead
from keras_electra.layers.electra_embeddings import ElectraEmbeddings
from keras_electra.layers.gdes_embeddings import GdesEmbeddings
from keras_electra.models.electra_backbone import ElectraBackbone


def build_embeddings(config):
    return ElectraEmbeddings(
        vocabulary_size=config.vocab_size,
        embedding_size=config.embedding_size,
        max_sequence_length=config.max_position_embeddings,
        num_segments=config.type_vocab_size,
        dropout=config.dropout,
        layer_norm_epsilon=config.layer_norm_epsilon,
        initializer_range=config.initializer_range,
        name="embeddings",
    )


def build_backbone(config, embeddings, tower):
    """One tower on the shared `embeddings`; `tower` is "discriminator" or "generator".

    The generator's sizes are the config's derived ones (the original
    `get_generator_config`): a fraction of the width and depth, `width // 64`
    heads and a `4 * width` FFN unless given explicitly.
    """
    if tower == "discriminator":
        sizes = (config.hidden_size, config.num_layers, config.num_heads, config.intermediate_size)
    elif tower == "generator":
        sizes = (config.generator_width, config.generator_depth, config.generator_heads,
                 config.generator_ffn)
    else:
        raise ValueError(f"tower must be 'discriminator' or 'generator', got {tower!r}.")
    hidden_size, num_layers, num_heads, intermediate_size = sizes
    return ElectraBackbone(
        embeddings,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        intermediate_size=intermediate_size,
        hidden_act=config.hidden_act,
        remat=config.remat,
        dropout=config.dropout,
        layer_norm_epsilon=config.layer_norm_epsilon,
        initializer_range=config.initializer_range,
        name=tower,
    )


def resolve_special_tokens(config, special_tokens=None):
    """Special-token ids: given, else from `config.vocab_file`, else the default layout."""
    if special_tokens is not None:
        return special_tokens
    if config.vocab_file:
        vocabulary = load_vocabulary(config.vocab_file)
        if len(vocabulary) != config.vocab_size:
            raise ValueError(
                f"{config.vocab_file}: vocabulary has {len(vocabulary)} tokens but "
                f"ElectraConfig.vocab_size is {config.vocab_size}.")
        return special_token_ids(vocabulary, source=config.vocab_file)
    return DEFAULT_SPECIAL_TOKEN_IDS


@contextlib.contextmanager
def _default_dtype_policy(policy):
    """Temporarily makes `policy` Keras' default dtype policy.

    `ElectraBackbone` creates its projection and keras-hub encoder blocks
    without a `dtype` argument, so they take the default policy; building
    under it reaches every sublayer. The previous default is restored.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_pretrainer(config, special_tokens=None, dtype_policy=None):
    """Builds an `ElectraPretrainer` (generator and discriminator, tied embeddings).

    Under a mixed policy (`config.mixed_precision` "bfloat16"/"float16")
    variables stay float32 and layers compute in half precision; the
    pretrainer casts both towers' logits to float32, so softmax, sampling and
    the losses run in float32. With "float16", `compile` (or
    `create_optimizer`) wraps the optimizer in a `LossScaleOptimizer`.

    Args:
        config: an `ElectraConfig`.
        special_tokens: a `SpecialTokenIds`; by default read from
            `config.vocab_file`, or the layout of this package's vocabularies
            (`[PAD]`..`[MASK]` = 0..4) when there is none.
        dtype_policy: a Keras dtype policy name overriding
            `config.mixed_precision` (e.g. "mixed_bfloat16").

    Example:

    >>> import keras_electra
    >>> pretrainer = keras_electra.build_pretrainer(keras_electra.ElectraConfig(
    ...     vocab_size=64, embedding_size=8, hidden_size=16, num_layers=1,
    ...     num_heads=2, intermediate_size=32))
    >>> pretrainer.generator.embeddings is pretrainer.discriminator.embeddings
    True
    """
    special_tokens = resolve_special_tokens(config, special_tokens)
    policy = dtype_policy or config.dtype_policy
    with _default_dtype_policy(policy):
        return _build_pretrainer(config, special_tokens, policy)


def build_mlm_head(config, embeddings, name):
    """An MLM head tied to `embeddings`' word table: dense(embedding_size, GELU)
    -> LayerNorm -> word table^T + bias; its input width is set when it is built."""
    return keras_hub.layers.MaskedLMHead(
        token_embedding=embeddings.token_embedding,
        # Exact erf GELU whatever `hidden_act` is: the original, and Hugging
        # Face's `ElectraGeneratorPredictions` hard-codes "gelu" too.
        intermediate_activation=gelu,
        layer_norm_epsilon=config.layer_norm_epsilon,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=config.initializer_range),
        name=name,
    )


def _build_pretrainer(config, special_tokens, policy):
    # Imported here, not at the top: the towers (embeddings, backbones, heads)
    # are plain Keras and build on any backend without TensorFlow
    # (bench/gpu_keras_jax.py); the pretrainer's objective is TensorFlow.
    from keras_electra.models.electra_pretrainer import ElectraPretrainer

    embeddings = build_embeddings(config)
    discriminator_embeddings = embeddings
    if config.embedding_sharing == "gdes":
        discriminator_embeddings = GdesEmbeddings(embeddings, name="discriminator_embeddings")
    discriminator = build_backbone(config, discriminator_embeddings, "discriminator")
    generator = build_backbone(config, embeddings, "generator")
    generator_head = build_mlm_head(config, embeddings, "generator_head")
    discriminator_head = DiscriminatorHead(
        hidden_size=config.hidden_size,
        # Hugging Face's `ElectraDiscriminatorPredictions` uses `hidden_act`.
        activation=hidden_activation(config.hidden_act),
        initializer_range=config.initializer_range,
        name="discriminator_head",
    )
    return ElectraPretrainer(
        generator=generator,
        discriminator=discriminator,
        generator_head=generator_head,
        discriminator_head=discriminator_head,
        special_token_ids=[special_tokens.cls, special_tokens.sep, special_tokens.mask,
                           special_tokens.pad],
        mask_token_id=special_tokens.mask,
        mask_prob=config.mask_prob,
        mask_token_prob=config.mask_token_prob,
        max_predictions_per_seq=config.predictions_per_seq,
        temperature=config.temperature,
        generator_weight=config.generator_weight,
        discriminator_weight=config.discriminator_weight,
        clip_norm=config.clip_norm,
        seed=config.seed,
        objective=config.objective,
        # The BERT-style head of the discriminator-side MLM objectives.
        discriminator_mlm_head=(None if config.objective == "electra" else
                                build_mlm_head(config, embeddings, "discriminator_mlm_head")),
        dtype=policy,
        name="electra_pretrainer",
    )
