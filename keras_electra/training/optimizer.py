"""The pre-training optimizer: AdamW with the original schedule and exclusions."""

import keras

from keras_electra.training.schedules import WarmupLinearDecay

# Variable names (Keras 3 short names) that get no weight decay, as the
# original excludes "LayerNorm", "layer_norm" and "bias".
NO_DECAY_NAMES = ("bias", "gamma", "beta")


def create_optimizer(config, num_train_steps=None):
    """AdamW(lr schedule, weight decay off for LayerNorm and biases).

    Gradient clipping (global norm `config.clip_norm`) is done in
    `ElectraPretrainer.train_step`, so it is not set here. One difference
    from the original remains: Keras' AdamW bias-corrects its moments, the
    original `AdamWeightDecayOptimizer` does not.

    Args:
        config: an `ElectraConfig`.
        num_train_steps: overrides `config.num_train_steps` for the schedule.

    Example:

    >>> from keras_electra.config import ElectraConfig
    >>> optimizer = create_optimizer(ElectraConfig(), num_train_steps=1000)
    >>> round(float(optimizer.learning_rate), 6)  # step 0 of the warmup
    0.0
    """
    total = num_train_steps or config.num_train_steps
    warmup = min(config.num_warmup_steps, total)
    optimizer = keras.optimizers.AdamW(
        learning_rate=WarmupLinearDecay(config.learning_rate, total, warmup),
        weight_decay=config.weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=config.adam_epsilon,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer
