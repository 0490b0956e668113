"""`FusedAdamW`: Keras' AdamW with each variable's update one XLA loop."""

import functools

import keras


@keras.saving.register_keras_serializable(package="keras_electra")
class FusedAdamW(keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` whose per-variable update is one fused loop.

    The same optimizer, step for step: decoupled weight decay
    (`var -= var * weight_decay * lr`, for the variables Keras would decay),
    then Adam's bias-corrected update, in Keras' own order of operations.
    Keras runs each variable's update as about 30 TensorFlow ops, a dozen
    of them full passes over the variable, its moments or its gradient, so
    on CPU the update of ELECTRA-Small's 402 variables (14.2M parameters)
    was ~13,000 ops. Here each variable's decay and update are one XLA
    computation that reads the variable, both moments and the gradient once
    and writes the three back. Clipping at `global_clipnorm` is folded in:
    each update scales its gradient by the clip's factor, instead of Keras
    writing a clipped copy of every gradient first. (`bench/step_ops.py`, op `adamw`, has the times;
    the PyTorch step it is compared with uses `AdamW(fused=True)` likewise.)

    Everything else is Keras': the learning-rate schedule, `clipnorm` /
    `clipvalue`, gradient accumulation, loss scaling and EMA. Under a
    `tf.distribute` strategy the update still runs fused, per variable and
    device inside `strategy.extended.update`, but clipping is Keras' own
    (it clips each replica's gradients before they are summed, which a
    scale folded into the update cannot reproduce). Only the TensorFlow
    backend fuses; on JAX and PyTorch this is `AdamW`. With `amsgrad=True`
    the update is Keras'. Sparse (`IndexedSlices`) gradients are made
    dense first, so their norm and second moment are the dense gradient's
    (Keras squares the slices, which differs where a row is listed twice).

    Args:
        **kwargs: `keras.optimizers.AdamW`'s arguments.

    Example:

    >>> import numpy as np
    >>> variable = keras.Variable(np.ones([2], "float32"))
    >>> optimizer = FusedAdamW(learning_rate=0.1, weight_decay=0.5)
    >>> optimizer.apply([np.full([2], 0.5, "float32")], [variable])
    >>> # decay: 1 - 1 * 0.5 * 0.1 = 0.95; Adam's first step: -0.1 * sign(g)
    >>> [round(float(x), 4) for x in variable.numpy()]
    [0.85, 0.85]
    """

    def _clip_gradients(self, grads):
        """Keras' clipping, or, folded into the update, only the clip's scale."""
        if not self._folds_clip():
            return super()._clip_gradients(grads)
        import tensorflow as tf

        grads = [None if g is None else tf.convert_to_tensor(g) for g in grads]
        # Read by `update_step` within the same trace (`_backend_update_step`).
        self._clip_scale = _global_clip_scale([g for g in grads if g is not None],
                                              float(self.global_clipnorm))
        return grads

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        try:
            super()._backend_update_step(grads, trainable_variables, learning_rate)
        finally:
            self._clip_scale = None

    def _apply_weight_decay(self, variables):
        """Done inside the fused update (`update_step`); Keras' form where it does not fuse."""
        if not self._fuses():
            super()._apply_weight_decay(variables)

    def update_step(self, gradient, variable, learning_rate):
        if not self._fuses():
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        index = self._get_variable_index(variable)
        dtype = variable.dtype
        # A Python value: a variable Keras does not decay is not touched (not
        # even multiplied by zero, which would turn an infinity into NaN).
        decay = (float(self.weight_decay)
                 if self.weight_decay is not None and self._use_weight_decay(variable) else None)
        _update_function()(
            _handle(variable), _handle(self._momentums[index]), _handle(self._velocities[index]),
            tf.convert_to_tensor(gradient), tf.cast(learning_rate, dtype),
            tf.cast(self.iterations + 1, dtype), getattr(self, "_clip_scale", None), decay,
            beta_1=float(self.beta_1), beta_2=float(self.beta_2), epsilon=float(self.epsilon))

    def _fuses(self):
        return keras.backend.backend() == "tensorflow" and not self.amsgrad

    def _folds_clip(self):
        import tensorflow as tf

        return (self._fuses() and (self.global_clipnorm or 0) > 0
                and not tf.distribute.has_strategy())


def _handle(variable):
    """A variable's resource handle, how the XLA update takes it: a `tf.Variable`
    argument would be captured by the first trace, and a second variable of
    the same shape would update the first one."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


def _global_clip_scale(grads, clip_norm):
    """The factor `keras.optimizers`' `clip_by_global_norm` multiplies every
    gradient by: `clip_norm / max(norm, clip_norm)`, NaN when the global norm
    is not finite.

    The norm is `tf.linalg.global_norm`'s (one `L2Loss` per gradient; ~11 ms
    on ELECTRA-Small's gradients against 15 for Keras' squares and sums,
    and 20 as one XLA computation, whose reductions run on one thread).
    """
    import tensorflow as tf

    norm = tf.linalg.global_norm(grads)
    scale_for_finite = clip_norm * tf.minimum(1.0 / norm, 1.0 / clip_norm)
    return scale_for_finite + (norm - norm)


@functools.cache
def _update_function():
    """One variable's AdamW update as one XLA function (traced once per shape and
    dtype), on the resource handles of the variable and its moments. The arithmetic is
    `keras.optimizers.AdamW`'s (`BaseOptimizer._apply_weight_decay`, then
    `Adam.update_step`), term by term."""
    import tensorflow as tf

    def adamw_update(variable, m, v, gradient, lr, step, scale, decay, beta_1, beta_2, epsilon):
        dtype = lr.dtype

        def read(handle):
            return tf.raw_ops.ReadVariableOp(resource=handle, dtype=dtype)

        def write(handle, value):
            tf.raw_ops.AssignVariableOp(resource=handle, value=value)

        if scale is not None:  # the folded clip
            gradient = gradient * tf.cast(scale, gradient.dtype)
        gradient = tf.cast(gradient, dtype)
        value, m_value, v_value = read(variable), read(m), read(v)
        if decay is not None:
            value = value - value * tf.cast(decay, dtype) * lr
        beta_1_power = tf.pow(tf.cast(beta_1, dtype), step)
        beta_2_power = tf.pow(tf.cast(beta_2, dtype), step)
        alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m_value = m_value + (gradient - m_value) * (1 - beta_1)
        v_value = v_value + (tf.square(gradient) - v_value) * (1 - beta_2)
        write(m, m_value)
        write(v, v_value)
        write(variable, value - m_value * alpha / (tf.sqrt(v_value) + epsilon))

    return tf.function(adamw_update, jit_compile=True, autograph=False)
