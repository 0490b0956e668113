"""The encoder activations an ELECTRA model here can use, by name.

`ElectraConfig.hidden_act` and `ElectraBackbone(hidden_act=...)` take one
of `HIDDEN_ACTS`:

* `"gelu"`: the exact (erf) GELU of the original ELECTRA and of Hugging
  Face's `hidden_act="gelu"` (Keras' built-in `"gelu"`).
* `"gelu_approximate"`: the tanh approximation
  `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, Hugging Face's
  `"gelu_new"` / `"gelu_pytorch_tanh"` and keras-hub's default.

Keras' `"gelu"` string always means the exact form; `approximate=True` is
an argument, which a string cannot carry. `gelu_approximate` is therefore
a named function registered with Keras, so layers holding it serialize
(`get_config`, `.keras` files) and reload.
"""

import keras

HIDDEN_ACTS = ("gelu", "gelu_approximate")


@keras.saving.register_keras_serializable(package="keras_electra")
def gelu_approximate(x):
    """Tanh-approximate GELU: `keras.activations.gelu(x, approximate=True)`.

    Example:

    >>> import numpy as np
    >>> round(float(gelu_approximate(np.float32(1.0))), 6)
    0.841192
    """
    return keras.activations.gelu(x, approximate=True)


def hidden_activation(name):
    """The Keras activation of a `HIDDEN_ACTS` name.

    Example:

    >>> hidden_activation("gelu_approximate") is gelu_approximate
    True
    """
    if name == "gelu":
        return keras.activations.gelu
    if name == "gelu_approximate":
        return gelu_approximate
    raise ValueError(f"hidden_act must be one of {list(HIDDEN_ACTS)}, got {name!r}.")


def hidden_act_name(activation):
    """The `HIDDEN_ACTS` name of a Keras activation, or `None` if it is neither.

    Example:

    >>> hidden_act_name(keras.activations.get("gelu")), hidden_act_name(keras.activations.relu)
    ('gelu', None)
    """
    if activation is keras.activations.gelu:
        return "gelu"
    if activation is gelu_approximate:
        return "gelu_approximate"
    return None
