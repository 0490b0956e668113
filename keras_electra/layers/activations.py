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

import contextlib
import contextvars

import keras

from keras_electra.layers.bfloat16_bits import narrow, widen

HIDDEN_ACTS = ("gelu", "gelu_approximate")
_16_BIT = ("bfloat16", "float16")


# Set while a training step is traced (`compiled_activations`).
_COMPILED = contextvars.ContextVar("keras_electra_compiled_activations", default=False)
_XLA_FUNCTIONS = {}


@contextlib.contextmanager
def compiled_activations():
    """Within it, the TensorFlow backend traces each activation as one XLA cluster.

    On CPU TensorFlow runs the exact GELU as several element-wise passes over
    the feed-forward activations, and more in its gradient, and their memory
    traffic is most of their time. Here each direction is one fused XLA
    loop, and the backward pass keeps only the activation's input and
    recomputes the derivative from it. On ELECTRA-Small's `(4096, 1024)`
    activations the forward and backward pass take 9.9 ms against Keras'
    own 19.3 in float32, and 7.8 against 23.2 in bfloat16
    (`bench/step_ops.py`). In a pre-training step that made bfloat16 about
    8% faster and lowered the peak RSS by 0.55 GB (float32: 0.38 GB lower,
    the step time unchanged within this machine's noise).

    The encoder's LayerNorms switch on the same context
    (`keras_electra.layers.fused_layer_norm`).

    `ElectraPretrainer.train_step` traces inside it; inference, export and
    serving (TF Serving and TFLite need no XLA) trace outside and keep the
    plain ops. The values are the same function's up to XLA's own `erf` and
    `tanh` (a few float32 ulps).

    Example:

    >>> import tensorflow as tf
    >>> with compiled_activations():
    ...     y = gelu(tf.constant([1.0]))
    >>> round(float(y[0]), 5)
    0.84134
    """
    token = _COMPILED.set(True)
    try:
        yield
    finally:
        _COMPILED.reset(token)


def compiled_step_active():
    """Whether the caller is traced within `compiled_activations` (a training step).

    The layers' training-step forms (`fused_layer_norm`, the GELUs here)
    switch on it.

    >>> compiled_step_active()
    False
    """
    return _COMPILED.get()


def _compiled(activation, derivative):
    """`activation`, or within `compiled_activations` its XLA form: the forward
    pass and `derivative`'s backward pass, each one fused loop, with only
    the input kept for the backward pass."""
    if not _COMPILED.get() or keras.backend.backend() != "tensorflow":
        return activation
    if activation not in _XLA_FUNCTIONS:
        import tensorflow as tf

        forward, backward = _xla_pair(activation, derivative)

        @tf.custom_gradient
        def fused(x):
            return forward(x), lambda upstream: backward(x, upstream)

        _XLA_FUNCTIONS[activation] = fused
    return _XLA_FUNCTIONS[activation]


_XLA_PAIRS = {}


def _xla_pair(activation, derivative):
    """The XLA functions `forward(x)` and `backward(x, upstream)` of an activation."""
    if activation not in _XLA_PAIRS:
        import tensorflow as tf

        # 16-bit data converted by bits (`bfloat16_bits`): XLA's own
        # conversions around `erf` made the bfloat16 GELU about 1.4x slower.
        def activation_forward(x):
            return activation(x, bits=True)

        def activation_backward(x, upstream):
            return _in_float32(lambda y: widen(upstream) * derivative(y), x, bits=True)

        _XLA_PAIRS[activation] = tuple(
            tf.function(f, jit_compile=True, reduce_retracing=True, autograph=False)
            for f in (activation_forward, activation_backward))
    return _XLA_PAIRS[activation]


def compiled_forward_backward(activation):
    """The training-step XLA functions of a `HIDDEN_ACTS` activation, or `None`.

    Returns `(forward, backward)`: `forward(x)` is the activation and
    `backward(x, upstream)` the gradient at `x` of `sum(activation(x) * upstream)`,
    each one fused loop (what `gelu` runs within `compiled_activations`).
    `None` for any other activation. TensorFlow backend only.

    >>> import tensorflow as tf
    >>> forward, backward = compiled_forward_backward(gelu)
    >>> round(float(backward(tf.constant([0.0]), tf.constant([1.0]))[0]), 4)
    0.5
    """
    if keras.backend.backend() != "tensorflow":
        return None
    if activation is gelu or activation is keras.activations.gelu:
        return _xla_pair(_exact_gelu, _exact_gelu_derivative)
    if activation is gelu_approximate:
        return _xla_pair(_approximate_gelu, _approximate_gelu_derivative)
    return None


def _exact_gelu_derivative(x):
    """d/dx x Φ(x) = Φ(x) + x φ(x), TensorFlow ops."""
    import tensorflow as tf

    cdf = 0.5 * tf.math.erfc(x * -0.7071067811865476)
    return cdf + x * tf.exp(-0.5 * x * x) * 0.3989422804014327  # 1 / sqrt(2 pi)


def _approximate_gelu_derivative(x):
    """d/dx of 0.5 x (1 + tanh(c (x + 0.044715 x^3))), c = sqrt(2 / pi)."""
    import tensorflow as tf

    c = 0.7978845608028654
    t = tf.tanh(c * (x + 0.044715 * x * x * x))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * x * x)


def _in_float32(activation, x, bits=False):
    """`activation(x)`, computed in float32 when `x` is a 16-bit float.

    `bits=True` (TensorFlow, inside XLA computations): the conversions are
    `bfloat16_bits`', the same values."""
    x = keras.ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype not in _16_BIT:
        return activation(x)
    if bits:
        return narrow(activation(widen(x)), dtype)
    return keras.ops.cast(activation(keras.ops.cast(x, "float32")), dtype)


@keras.saving.register_keras_serializable(package="keras_electra")
def gelu(x):
    """Exact (erf) GELU: `keras.activations.gelu(x)`, 16-bit inputs in float32.

    Example:

    >>> import numpy as np
    >>> round(float(gelu(np.float32(1.0))), 6)
    0.841345
    """
    return _compiled(_exact_gelu, _exact_gelu_derivative)(x)


def _exact_gelu(x, bits=False):
    return _in_float32(keras.activations.gelu, x, bits)


@keras.saving.register_keras_serializable(package="keras_electra")
def gelu_approximate(x):
    """Tanh-approximate GELU: `keras.activations.gelu(x, approximate=True)`,
    16-bit inputs in float32.

    Example:

    >>> import numpy as np
    >>> round(float(gelu_approximate(np.float32(1.0))), 6)
    0.841192
    """
    return _compiled(_approximate_gelu, _approximate_gelu_derivative)(x)


def _approximate_gelu(x, bits=False):
    return _in_float32(lambda y: keras.activations.gelu(y, approximate=True), x, bits)


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
