"""The embedding block that ELECTRA's generator and discriminator share."""

import keras
import keras_hub


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraEmbeddings(keras.layers.Layer):
    """Word + position + segment embeddings, then LayerNorm and dropout.

    One instance is called by both towers, so both read and train the same
    variables, as in the original code where the generator and discriminator
    share the `embeddings` scope. The word table is a keras-hub
    `ReversibleEmbedding` so the generator's MLM head can reuse it as its
    output projection. The per-tower projection to the hidden width lives in
    `ElectraBackbone`, not here, because each tower has its own.

    Args:
        vocabulary_size: rows of the word table.
        embedding_size: width of all three tables.
        max_sequence_length: rows of the position table.
        num_segments: rows of the segment table.
        dropout: dropout applied after the LayerNorm.
        layer_norm_epsilon: LayerNorm epsilon (1e-12 as in BERT/ELECTRA).
        initializer_range: stddev of the truncated-normal initializer.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:

    >>> import numpy as np
    >>> layer = ElectraEmbeddings(vocabulary_size=100, embedding_size=8,
    ...                           max_sequence_length=16)
    >>> layer(np.ones((2, 5), "int32"), np.zeros((2, 5), "int32")).shape
    TensorShape([2, 5, 8])
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_size,
        max_sequence_length,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.embedding_size = embedding_size
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

        def initializer():
            return keras.initializers.TruncatedNormal(stddev=initializer_range)

        self.token_embedding = keras_hub.layers.ReversibleEmbedding(
            input_dim=vocabulary_size,
            output_dim=embedding_size,
            embeddings_initializer=initializer(),
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.position_embedding = keras_hub.layers.PositionEmbedding(
            sequence_length=max_sequence_length,
            initializer=initializer(),
            dtype=self.dtype_policy,
            name="position_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            input_dim=num_segments,
            output_dim=embedding_size,
            embeddings_initializer=initializer(),
            dtype=self.dtype_policy,
            name="segment_embedding",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="embeddings_layer_norm",
        )
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="embeddings_dropout"
        )

    def build(self, input_ids_shape, segment_ids_shape=None):
        self.token_embedding.build(input_ids_shape)
        self.segment_embedding.build(input_ids_shape)
        embedded_shape = tuple(input_ids_shape) + (self.embedding_size,)
        self.position_embedding.build(embedded_shape)
        self.layer_norm.build(embedded_shape)
        self.built = True

    def call(self, input_ids, segment_ids, training=None):
        return self.embed_vectors(self.token_embedding(input_ids), segment_ids, training)

    def embed_vectors(self, tokens, segment_ids, training=None):
        """Adds position and segment embeddings to word vectors, then LayerNorm and dropout.

        `call` looks the word vectors up in `token_embedding`;
        `GdesEmbeddings` passes the discriminator's own and shares the rest.
        """
        x = tokens + self.position_embedding(tokens) + self.segment_embedding(segment_ids)
        x = self.layer_norm(x)
        return self.dropout_layer(x, training=training)

    def compute_output_shape(self, input_ids_shape, segment_ids_shape=None):
        return tuple(input_ids_shape) + (self.embedding_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_size": self.embedding_size,
                "max_sequence_length": self.max_sequence_length,
                "num_segments": self.num_segments,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
            }
        )
        return config
