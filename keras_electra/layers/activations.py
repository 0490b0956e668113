"""The encoder activations an ELECTRA model here can use, by name.

`ElectraConfig.hidden_act` and `ElectraBackbone(hidden_act=...)` take one
of `HIDDEN_ACTS`:

* `"gelu"`: the exact (erf) GELU of Hugging Face's `hidden_act="gelu"`
  (Keras' built-in `"gelu"`, as `gelu` here).
* `"gelu_approximate"`: the tanh approximation
  `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, Hugging Face's
  `"gelu_new"` / `"gelu_pytorch_tanh"` and keras-hub's default.

Both are named functions registered with Keras, so layers holding them
serialize (`get_config`, `.keras` files) and reload. They differ from
Keras' own GELU in one way: a bfloat16 or float16 input is computed in
float32 and rounded once to its dtype. On CPU, TensorFlow evaluates `erfc`
and `tanh` of 16-bit tensors element by element through float conversions;
in float32 they are vectorised, and the exact form of a `(4096, 1024)`
bfloat16 tensor takes half the time (the `Erfc` op was 6% of a bfloat16
ELECTRA-Small step). The result is the correctly rounded value of the
float32 GELU, which a 16-bit computation only approximates.
"""

import keras

HIDDEN_ACTS = ("gelu", "gelu_approximate")
_16_BIT = ("bfloat16", "float16")


def _in_float32(activation, x):
    """`activation(x)`, computed in float32 when `x` is a 16-bit float."""
    x = keras.ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype not in _16_BIT:
        return activation(x)
    return keras.ops.cast(activation(keras.ops.cast(x, "float32")), dtype)


@keras.saving.register_keras_serializable(package="keras_electra")
def gelu(x):
    """Exact (erf) GELU: `keras.activations.gelu(x)`, 16-bit inputs in float32.

    Example:

    >>> import numpy as np
    >>> round(float(gelu(np.float32(1.0))), 6)
    0.841345
    """
    return _in_float32(keras.activations.gelu, x)


@keras.saving.register_keras_serializable(package="keras_electra")
def gelu_approximate(x):
    """Tanh-approximate GELU: `keras.activations.gelu(x, approximate=True)`,
    16-bit inputs in float32.

    Example:

    >>> import numpy as np
    >>> round(float(gelu_approximate(np.float32(1.0))), 6)
    0.841192
    """
    return _in_float32(lambda y: keras.activations.gelu(y, approximate=True), x)


def hidden_activation(name):
    """The Keras activation of a `HIDDEN_ACTS` name.

    Example:

    >>> hidden_activation("gelu_approximate") is gelu_approximate
    True
    """
    if name == "gelu":
        return gelu
    if name == "gelu_approximate":
        return gelu_approximate
    raise ValueError(f"hidden_act must be one of {list(HIDDEN_ACTS)}, got {name!r}.")


def hidden_act_name(activation):
    """The `HIDDEN_ACTS` name of a Keras activation, or `None` if it is neither.

    Keras' own `gelu` (which layers saved before `gelu` existed here hold)
    is `"gelu"` too.

    Example:

    >>> hidden_act_name(keras.activations.get("gelu")), hidden_act_name(keras.activations.relu)
    ('gelu', None)
    """
    if activation is gelu or activation is keras.activations.gelu:
        return "gelu"
    if activation is gelu_approximate:
        return "gelu_approximate"
    return None
