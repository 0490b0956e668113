"""Learning-rate schedule of the original ELECTRA / BERT optimizer."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_electra")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`peak * (1 - step/total) * min(1, step/warmup)`.

    The original `optimization.create_optimizer` multiplies a linear
    (power-1 polynomial) decay to 0 over `total_steps` by a linear warmup
    factor; this is that product, not a piecewise schedule.

    Args:
        peak_learning_rate: learning rate at the end of warmup (before decay).
        total_steps: step at which the rate reaches 0.
        warmup_steps: warmup length; 0 disables warmup.

    Example:

    >>> schedule = WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    >>> round(float(schedule(5)), 6)  # 1e-3 * 0.95 * 0.5
    0.000475
    """

    def __init__(self, peak_learning_rate, total_steps, warmup_steps=0):
        self.peak_learning_rate = peak_learning_rate
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        decay = tf.maximum(0.0, 1.0 - step / float(self.total_steps))
        rate = self.peak_learning_rate * decay
        if self.warmup_steps:
            rate *= tf.minimum(1.0, step / float(self.warmup_steps))
        return rate

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
        }
