"""`ElectraBackbone`: one ELECTRA tower (generator or discriminator encoder)."""

import keras
import keras_hub

from keras_electra.layers.activations import hidden_activation
from keras_electra.layers.electra_embeddings import ElectraEmbeddings
from keras_electra.layers.fast_dropout import use_fast_dropout
from keras_electra.layers.flat_einsum_dense import use_flat_einsum_dense
from keras_electra.layers.fused_block import use_fused_block
from keras_electra.layers.fused_layer_norm import use_fused_layer_norm
from keras_electra.layers.gdes_embeddings import GdesEmbeddings
from keras_electra.layers.lean_attention import use_lean_attention
from keras_electra.layers.recomputed_activation import use_recomputed_activation
from keras_electra.layers.rematerialize import rematerialize


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraBackbone(keras.Model):
    """Embeddings -> (projection) -> post-LN Transformer encoder stack.

    A functional model over the pre-training feature names (`input_ids`,
    `input_mask`, `segment_ids`) that returns a dict. The embedding block is
    passed in, so two backbones can share one `ElectraEmbeddings` instance
    (the generator and discriminator of `ElectraPretrainer`); each backbone
    owns its `embeddings_projection` when the embedding width differs from
    its hidden width, as in the original code.

    Unlike `keras_hub.models.ElectraBackbone`, the encoder uses by default
    the exact (erf) GELU of the original ELECTRA and of Hugging Face, and
    there is no randomly initialised pooler. Every dropout, the embeddings'
    included, is `keras_electra.layers.fast_dropout`: half the random bits
    of Keras' own, and unbiased in bfloat16, where Keras' is not. In a
    training step every LayerNorm is `keras_electra.layers.fused_layer_norm`
    (one XLA loop each way, only its input kept for backprop) and the
    attention `keras_electra.layers.lean_attention` (the probabilities kept
    once for backprop, not twice), whose query, key, value and output
    projections are 2-D matmuls (`keras_electra.layers.flat_einsum_dense`;
    Keras' einsum broadcasts the kernel over the batch and sums its
    gradient afterwards). After the attention and after the feed-forward
    block, the dropout, the residual add and the LayerNorm (and the output
    dense layer's bias) are one XLA computation each way
    (`keras_electra.layers.fused_block`).

    Args:
        embeddings: an `ElectraEmbeddings` layer (shared or not), or the
            `GdesEmbeddings` view of one (a GDES discriminator).
        hidden_size: encoder width.
        num_layers: number of `TransformerEncoder` blocks.
        num_heads: attention heads per block.
        intermediate_size: feed-forward width.
        dropout: dropout in attention and residual branches.
        layer_norm_epsilon: LayerNorm epsilon.
        initializer_range: stddev of the truncated-normal initializer.
        hidden_act: feed-forward activation, one of
            `keras_electra.layers.activations.HIDDEN_ACTS`: "gelu" (exact,
            the default) or "gelu_approximate" (tanh; for checkpoints
            trained with Hugging Face's "gelu_new"). Configs saved before
            this argument existed load as "gelu".
        **kwargs: `keras.Model` arguments (`name`, ...).

    Example:

    >>> import numpy as np
    >>> embeddings = ElectraEmbeddings(vocabulary_size=100, embedding_size=8,
    ...                                max_sequence_length=16)
    >>> backbone = ElectraBackbone(embeddings, hidden_size=16, num_layers=1,
    ...                            num_heads=2, intermediate_size=32)
    >>> batch = {"input_ids": np.ones((2, 5), "int32"),
    ...          "input_mask": np.ones((2, 5), "int32"),
    ...          "segment_ids": np.zeros((2, 5), "int32")}
    >>> backbone(batch)["sequence_output"].shape
    TensorShape([2, 5, 16])
    """

    def __init__(
        self,
        embeddings,
        hidden_size,
        num_layers,
        num_heads,
        intermediate_size,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        hidden_act="gelu",
        remat=False,
        **kwargs,
    ):
        activation = hidden_activation(hidden_act)

        def initializer():
            return keras.initializers.TruncatedNormal(stddev=initializer_range)

        projection = None
        if embeddings.embedding_size != hidden_size:
            projection = keras.layers.Dense(
                hidden_size, kernel_initializer=initializer(), name="embeddings_projection"
            )
        encoder_blocks = [
            keras_hub.layers.TransformerEncoder(
                intermediate_dim=intermediate_size,
                num_heads=num_heads,
                dropout=dropout,
                activation=activation,
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=initializer(),
                name=f"transformer_layer_{i}",
            )
            for i in range(num_layers)
        ]

        # Before `rematerialize`, which then recomputes the fused form.
        encoder_blocks = [use_fused_block(block) for block in encoder_blocks]
        if remat:
            encoder_blocks = [rematerialize(block) for block in encoder_blocks]

        # Functional graph.
        input_ids = keras.Input(shape=(None,), dtype="int32", name="input_ids")
        input_mask = keras.Input(shape=(None,), dtype="int32", name="input_mask")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        x = embeddings(input_ids, segment_ids)
        if projection is not None:
            x = projection(x)
        for block in encoder_blocks:
            x = block(x, padding_mask=input_mask)
        super().__init__(
            inputs={"input_ids": input_ids, "input_mask": input_mask,
                    "segment_ids": segment_ids},
            outputs={"sequence_output": x},
            **kwargs,
        )
        # After the functional call above: keras-hub's blocks create their
        # dropout, attention and LayerNorm layers when they are built.
        use_fast_dropout(self)
        use_lean_attention(self)
        use_fused_layer_norm(self)
        use_recomputed_activation(self)
        use_flat_einsum_dense(self)

        self.embeddings = embeddings
        self.embeddings_projection = projection
        self.encoder_blocks = encoder_blocks
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.remat = remat
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "embeddings": keras.layers.serialize(self.embeddings),
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
            "hidden_act": self.hidden_act,
            "remat": self.remat,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["embeddings"], dict):
            config["embeddings"] = keras.layers.deserialize(
                config["embeddings"],
                custom_objects={"ElectraEmbeddings": ElectraEmbeddings,
                                "GdesEmbeddings": GdesEmbeddings},
            )
        return cls(**config)
