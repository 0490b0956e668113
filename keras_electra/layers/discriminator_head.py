"""The replaced-token-detection head of the ELECTRA discriminator."""

import keras


@keras.saving.register_keras_serializable(package="keras_electra")
class DiscriminatorHead(keras.layers.Layer):
    """dense(hidden, GELU) -> dense(1): one logit per token, "was replaced".

    Matches `ElectraDiscriminatorPredictions` of the original code and of
    Hugging Face (exact erf GELU by default; Hugging Face applies the
    encoder's `hidden_act` here, so `build_pretrainer` passes the activation
    of `ElectraConfig.hidden_act`). Logits are returned in float32 so the
    sigmoid cross-entropy stays stable under mixed precision.

    Args:
        hidden_size: width of the intermediate dense layer.
        activation: activation of the intermediate layer (a Keras
            activation name or function, e.g.
            `keras_electra.layers.activations.gelu_approximate`).
        initializer_range: stddev of the truncated-normal initializer.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import numpy as np
    >>> head = DiscriminatorHead(hidden_size=8)
    >>> head(np.zeros((2, 5, 8), "float32")).shape
    TensorShape([2, 5])
    """

    def __init__(self, hidden_size, activation="gelu", initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.activation = keras.activations.get(activation)
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            hidden_size,
            activation=self.activation,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.prediction = keras.layers.Dense(
            1,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy,
            name="prediction",
        )

    def build(self, inputs_shape):
        self.dense.build(inputs_shape)
        self.prediction.build(tuple(inputs_shape[:-1]) + (self.hidden_size,))
        self.built = True

    def call(self, inputs):
        logits = self.prediction(self.dense(inputs))
        return keras.ops.cast(keras.ops.squeeze(logits, axis=-1), "float32")

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape[:-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_size": self.hidden_size,
                "activation": keras.activations.serialize(self.activation),
                "initializer_range": self.initializer_range,
            }
        )
        return config
