"""Gradient-disentangled embedding sharing (GDES) for the discriminator."""

import keras

from keras_electra.layers.electra_embeddings import ElectraEmbeddings


@keras.saving.register_keras_serializable(package="keras_electra")
class GdesEmbeddings(keras.layers.Layer):
    """The discriminator's view of the generator's `ElectraEmbeddings` under GDES.

    He et al. (2021), "DeBERTaV3", section 3: with plain sharing the
    generator's MLM loss and the discriminator's RTD loss pull the one word
    table in opposite directions ("tug-of-war"). GDES gives the
    discriminator the word vectors `stop_gradient(E_G)[id] + E_delta[id]`:
    `E_G` is the generator's table (trained by the generator's loss only)
    and `E_delta` a residual table of the discriminator's own, initialised to
    zeros, so at step 0 both towers see the same vectors. Position and
    segment embeddings, the LayerNorm and dropout are `shared`'s (the
    original ELECTRA shares them too; DeBERTa has no absolute positions).

    `keras_electra.models.task_builders.discriminator_from_pretrainer`
    merges `E_G + E_delta` into a plain `ElectraEmbeddings` for fine-tuning,
    as DeBERTaV3 does after pre-training.

    Args:
        shared: the generator's `ElectraEmbeddings`.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:

    >>> import numpy as np
    >>> shared = ElectraEmbeddings(vocabulary_size=100, embedding_size=8,
    ...                            max_sequence_length=16, dropout=0.0)
    >>> layer = GdesEmbeddings(shared)
    >>> ids, segments = np.ones((2, 5), "int32"), np.zeros((2, 5), "int32")
    >>> bool(np.allclose(layer(ids, segments), shared(ids, segments)))  # zero residual
    True
    """

    def __init__(self, shared, **kwargs):
        super().__init__(**kwargs)
        if not shared.built:
            # Here rather than in `build`, which runs under this layer's name scope:
            # the shared variables keep the paths of the tied model ("embeddings/...").
            shared.build((None, None))
        self.shared = shared

    # The sizes of the shared block, read by the backbone and the exporters.
    @property
    def vocabulary_size(self):
        return self.shared.vocabulary_size

    @property
    def embedding_size(self):
        return self.shared.embedding_size

    @property
    def max_sequence_length(self):
        return self.shared.max_sequence_length

    @property
    def num_segments(self):
        return self.shared.num_segments

    def build(self, input_ids_shape, segment_ids_shape=None):
        if not self.shared.built:
            self.shared.build(input_ids_shape)
        self.residual = self.add_weight(
            name="residual_embeddings",
            shape=(self.vocabulary_size, self.embedding_size),
            initializer="zeros",
        )
        self.built = True

    def call(self, input_ids, segment_ids, training=None):
        input_ids = keras.ops.cast(input_ids, "int32")
        generator_table = keras.ops.stop_gradient(self.shared.token_embedding.embeddings)
        tokens = (keras.ops.take(generator_table, input_ids, axis=0)
                  + keras.ops.take(self.residual, input_ids, axis=0))
        tokens = keras.ops.cast(tokens, self.compute_dtype)
        return self.shared.embed_vectors(tokens, segment_ids, training)

    def word_table(self):
        """The discriminator's word table, `E_G + E_delta` (float32 `(vocab, embedding)`)."""
        return (keras.ops.convert_to_tensor(self.shared.token_embedding.embeddings)
                + keras.ops.convert_to_tensor(self.residual))

    def compute_output_shape(self, input_ids_shape, segment_ids_shape=None):
        return tuple(input_ids_shape) + (self.embedding_size,)

    def get_config(self):
        config = super().get_config()
        config["shared"] = keras.layers.serialize(self.shared)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["shared"] = keras.layers.deserialize(
            config["shared"], custom_objects={"ElectraEmbeddings": ElectraEmbeddings})
        return cls(**config)
