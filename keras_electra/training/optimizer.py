"""The pre-training optimizer: AdamW with the original schedule and exclusions.

Also the two update-level features Keras' optimizers do not spell out for us:
gradient accumulation on an update-count schedule, and layer-wise learning-rate
decay for fine-tuning.
"""

import re

import keras
import tensorflow as tf

from keras_electra.training.fused_adamw import FusedAdamW
from keras_electra.training.schedules import WarmupLinearDecay

# Variable names (Keras 3 short names) that get no weight decay, as the
# original excludes "LayerNorm", "layer_norm" and "bias".
NO_DECAY_NAMES = ("bias", "gamma", "beta")


@keras.saving.register_keras_serializable(package="keras_electra")
class PerUpdateSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Evaluates `schedule` at the optimizer-update count, not the micro-step.

    With `gradient_accumulation_steps=k` a Keras optimizer counts every
    micro-batch in its internal step (which is what it hands its schedule)
    but updates only every k-th; this wrapper gives the schedule
    `step // k`, so an update sees exactly the rate the same update would see
    without accumulation.

    Args:
        schedule: the per-update `LearningRateSchedule`.
        steps_per_update: k.

    Example:

    >>> schedule = PerUpdateSchedule(WarmupLinearDecay(1.0, 10, 0), 4)
    >>> float(schedule(7)) == float(WarmupLinearDecay(1.0, 10, 0)(1))
    True
    """

    def __init__(self, schedule, steps_per_update):
        self.schedule = schedule
        self.steps_per_update = int(steps_per_update)

    def __call__(self, step):
        return self.schedule(keras.ops.floor_divide(step, self.steps_per_update))

    def get_config(self):
        return {"schedule": keras.saving.serialize_keras_object(self.schedule),
                "steps_per_update": self.steps_per_update}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(**config)


def create_optimizer(config, num_train_steps=None):
    """AdamW(lr schedule, weight decay off for LayerNorm and biases).

    The optimizer is `FusedAdamW`: Keras' AdamW, value for value, with each
    variable's update one XLA computation on the TensorFlow backend.

    Clipping at global norm `config.clip_norm` is the optimizer's
    (`global_clipnorm`): Keras clips inside `apply`, after a
    `LossScaleOptimizer` has unscaled the gradients and after accumulated
    micro-batch gradients have been averaged, which is where clipping must
    happen to match the unscaled, full-batch gradient. (`ElectraPretrainer`
    then leaves its own clipping to the optimizer.)

    `config.gradient_accumulation_steps = k > 1` sets Keras'
    `gradient_accumulation_steps`: k `apply` calls add their gradients, the
    k-th applies their mean (clipped, then AdamW). `num_train_steps` and the
    warmup count updates; `PerUpdateSchedule` keeps the schedule on that
    count. `config.mixed_precision == "float16"` wraps the optimizer in a
    `LossScaleOptimizer` (dynamic loss scale; steps with non-finite gradients
    are skipped and halve the scale).

    One difference from the original remains: Keras' AdamW bias-corrects its
    moments, the original `AdamWeightDecayOptimizer` does not.

    Args:
        config: an `ElectraConfig`.
        num_train_steps: overrides `config.num_train_steps` (optimizer updates)
            for the schedule.

    Example:

    >>> from keras_electra.config import ElectraConfig
    >>> optimizer = create_optimizer(ElectraConfig(), num_train_steps=1000)
    >>> round(float(optimizer.learning_rate), 6)  # step 0 of the warmup
    0.0
    """
    total = num_train_steps or config.num_train_steps
    warmup = min(config.num_warmup_steps, total)
    schedule = WarmupLinearDecay(config.learning_rate, total, warmup)
    accumulation = config.gradient_accumulation_steps
    if accumulation > 1:
        schedule = PerUpdateSchedule(schedule, accumulation)
    # Under data parallelism `ElectraPretrainer.train_step` hands `apply` the
    # all-reduced gradient divided by the replica count, which Keras clips per
    # replica before summing: clipping at clip_norm / n is clipping the global
    # gradient at clip_norm. Create the optimizer inside `strategy.scope()`.
    num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
    optimizer = FusedAdamW(
        learning_rate=schedule,
        weight_decay=config.weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=config.adam_epsilon,
        global_clipnorm=config.clip_norm / num_replicas,
        gradient_accumulation_steps=accumulation if accumulation > 1 else None,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    if config.mixed_precision == "float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


# ------------------------------------------------------ layer-wise decay
_LAYER = re.compile(r"transformer_layer_(\d+)/")


def layerwise_learning_rate_multipliers(backbone, decay, variables=None):
    """Per-variable learning-rate multipliers for layer-wise decay (fine-tuning).

    With `n = backbone.num_layers`, encoder layer `k` (1-based, `k = n` the
    top) gets `decay ** (n + 1 - k)`, the embeddings (and the embedding
    projection) `decay ** (n + 1)`, and every other variable (task heads)
    1.0. The original `_get_layer_lrs` applies an extra `decay` factor to
    every layer (google-research/electra#51); this does not.

    Args:
        backbone: an `ElectraBackbone` (its variables are matched by object).
        decay: the per-layer factor, e.g. 0.8.
        variables: the variables to map; default `backbone.trainable_variables`.
            Variables outside the backbone map to 1.0.

    Returns:
        A dict `{variable.path: multiplier}`.

    Example:

    >>> import keras_electra
    >>> from keras_electra.builders import build_backbone, build_embeddings
    >>> config = keras_electra.ElectraConfig(
    ...     vocab_size=64, embedding_size=8, hidden_size=16, num_layers=2,
    ...     num_heads=2, intermediate_size=32)
    >>> backbone = build_backbone(config, build_embeddings(config), "discriminator")
    >>> rates = layerwise_learning_rate_multipliers(backbone, 0.5)
    >>> rates["embeddings/token_embedding/embeddings"]
    0.125
    """
    n = backbone.num_layers
    depth = {}
    embedding_layers = [backbone.embeddings]
    if backbone.embeddings_projection is not None:
        embedding_layers.append(backbone.embeddings_projection)
    for layer in embedding_layers:
        for variable in layer.trainable_variables:
            depth[id(variable)] = 0
    for k, block in enumerate(backbone.encoder_blocks, start=1):
        for variable in block.trainable_variables:
            depth[id(variable)] = k
    if variables is None:
        variables = backbone.trainable_variables
    multipliers = {}
    for variable in variables:
        k = depth.get(id(variable))
        multipliers[variable.path] = 1.0 if k is None else float(decay ** (n + 1 - k))
    return multipliers


class _LayerwiseRates:
    """Mixin: a Keras optimizer whose rate is multiplied per variable.

    Gradient scaling would not do (Adam's update ignores a constant gradient
    scale), so the multiplier goes into `update_step`'s learning rate, and
    decoupled weight decay is applied there too, at the variable's own rate
    (as the original layer-wise AdamW does).
    """

    def __init__(self, learning_rate_multipliers=None, **kwargs):
        super().__init__(**kwargs)
        self.learning_rate_multipliers = dict(learning_rate_multipliers or {})

    def build(self, var_list):
        super().build(var_list)
        self._multipliers = [float(self.learning_rate_multipliers.get(v.path, 1.0))
                             for v in var_list]
        self._decayed = [bool(self.weight_decay) and self._use_weight_decay(v) for v in var_list]

    def _apply_weight_decay(self, variables):
        """Done per variable in `update_step`, at that variable's rate."""

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        learning_rate = keras.ops.cast(learning_rate, variable.dtype) * self._multipliers[index]
        if self._decayed[index]:
            decay = keras.ops.cast(self.weight_decay, variable.dtype)
            variable.assign(variable - variable * decay * learning_rate)
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config["learning_rate_multipliers"] = dict(self.learning_rate_multipliers)
        return config


@keras.saving.register_keras_serializable(package="keras_electra")
class LayerwiseAdamW(_LayerwiseRates, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with per-variable rate multipliers.

    Args:
        learning_rate_multipliers: `{variable.path: multiplier}`, e.g. from
            `layerwise_learning_rate_multipliers`; missing paths use 1.0.
        **kwargs: `keras.optimizers.AdamW` arguments.
    """


@keras.saving.register_keras_serializable(package="keras_electra")
class LayerwiseSGD(_LayerwiseRates, keras.optimizers.SGD):
    """`keras.optimizers.SGD` with per-variable rate multipliers (see `LayerwiseAdamW`)."""
