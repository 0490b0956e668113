"""`ElectraTask`: what the fine-tuning models share (inputs, backbone, config)."""

import keras

from keras_electra.layers.fast_dropout import use_fast_dropout
from keras_electra.models.electra_backbone import ElectraBackbone

FEATURES = ("input_ids", "input_mask", "segment_ids")


def task_inputs():
    """The symbolic dict batch every task model takes (the backbone's features)."""
    return {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in FEATURES}


class ElectraTask(keras.Model):
    """Base of the fine-tuning models: a functional model on an `ElectraBackbone`.

    A subclass builds its head on the backbone's `sequence_output` over
    `task_inputs()` and hands the outputs here. The backbone is serialised
    inside the task's config (as keras-hub task models do), so
    `from_config(get_config())` and `keras.saving.load_model` rebuild the
    whole model; subclasses add their own constructor arguments to
    `get_config`. Head layers take `backbone.dtype_policy`, and logits are
    returned in float32 so losses stay stable under mixed precision.

    Args:
        backbone: the (discriminator) `ElectraBackbone`.
        inputs: the dict of `keras.Input`s from `task_inputs()`.
        outputs: the head's output tensor (or dict of tensors).
        name: the model's name.
        trainable: whether its weights train.

    Example:

    >>> import numpy as np
    >>> from keras_electra.layers.electra_embeddings import ElectraEmbeddings
    >>> backbone = ElectraBackbone(
    ...     ElectraEmbeddings(vocabulary_size=50, embedding_size=8, max_sequence_length=8),
    ...     hidden_size=8, num_layers=1, num_heads=2, intermediate_size=16)
    >>> inputs = task_inputs()
    >>> first = backbone(inputs)["sequence_output"][:, 0, :]
    >>> task = ElectraTask(backbone, inputs, first)
    >>> task({"input_ids": np.ones((2, 4), "int32"), "input_mask": np.ones((2, 4), "int32"),
    ...       "segment_ids": np.zeros((2, 4), "int32")}).shape
    TensorShape([2, 8])
    """

    # Only `name` and `trainable`: a functional `keras.Model` silently drops any
    # other keyword (`dtype` included), so a mistyped argument would go unnoticed.
    def __init__(self, backbone, inputs, outputs, name=None, trainable=True):
        super().__init__(inputs=inputs, outputs=outputs, name=name, trainable=trainable)
        self.backbone = backbone
        use_fast_dropout(self)  # the head's dropout, as the backbone's

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.layers.serialize(self.backbone),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["backbone"], dict):
            config["backbone"] = keras.layers.deserialize(
                config["backbone"], custom_objects={"ElectraBackbone": ElectraBackbone})
        return cls(**config)
