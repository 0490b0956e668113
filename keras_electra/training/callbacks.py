"""Keras callbacks of the pre-training loop."""

import math

import keras

LOSS_TERMS = ("loss", "generator_loss", "discriminator_loss", "discriminator_mlm_loss")


class NonFiniteLossError(ValueError):
    """Training produced a NaN or Inf loss term."""


class NonFiniteLossGuard(keras.callbacks.Callback):
    """Stops `fit` at the first step whose loss terms are not finite.

    Unlike `keras.callbacks.TerminateOnNaN`, it raises (so nothing after `fit`
    runs: no final checkpoint is written over the last good one) with one
    line naming the step and every non-finite term.

    Example:

    >>> guard = NonFiniteLossGuard()
    >>> guard.check(7, {"loss": float("nan"), "generator_loss": 2.0})
    Traceback (most recent call last):
    ...
    keras_electra.training.callbacks.NonFiniteLossError: step 7: non-finite loss=nan; training stopped, nothing saved after the last good checkpoint.
    """

    def __init__(self, terms=LOSS_TERMS):
        super().__init__()
        self.terms = tuple(terms)

    def check(self, step, logs):
        bad = [f"{name}={float(logs[name])}" for name in self.terms
               if name in logs and not math.isfinite(float(logs[name]))]
        if bad:
            raise NonFiniteLossError(
                f"step {step}: non-finite {', '.join(bad)}; training stopped, nothing saved "
                "after the last good checkpoint.")

    def on_train_batch_end(self, batch, logs=None):
        # The logged values are running means: a bad step makes them non-finite too.
        step = int(self.model.optimizer.iterations.numpy())
        self.check(step, logs or {})
