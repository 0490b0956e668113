"""`ElectraClassifier`: sequence classification and regression (GLUE)."""

import keras

from keras_electra.models.electra_task import ElectraTask, task_inputs


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraClassifier(ElectraTask):
    """Sequence classification (or regression) on the `[CLS]` vector.

    The head is the original ELECTRA fine-tuning head
    (`finetune/classification/classification_tasks.py`): the "pooled output"
    is the last layer's `[CLS]` vector as is (`model/modeling.py`:
    `self.pooled_output = self.sequence_output[:, 0]`, no dense + tanh
    pooler), dropped out with rate 0.1 during training
    (`tf.nn.dropout(reprs, keep_prob=0.9)`), then one dense layer to
    `num_classes` logits (`tf.layers.dense(reprs, num_labels)`, default
    Glorot-uniform kernel, zero bias, as Keras' `Dense`). `num_classes=1` is
    the original `RegressionTask` (STS-B): `dense(reprs, 1)` squeezed to one
    score per example, trained with squared error.

    Hugging Face's `ElectraClassificationHead` differs: dropout -> dense
    (hidden, hidden) -> GELU -> dropout -> out_proj, i.e. one extra randomly
    initialised hidden layer (the RoBERTa head with GELU instead of tanh).
    This follows the original because its GLUE results were obtained with it,
    and because every weight on the path from `[CLS]` to the logits except
    the last dense layer is then pre-trained; weights of an HF classification
    head do not map onto it.

    Args:
        backbone: the discriminator `ElectraBackbone`.
        num_classes: number of labels; 1 means regression (output `(batch,)`).
        dropout: dropout rate on the `[CLS]` vector during training.
        **kwargs: `name` or `trainable` (any other key is an error).

    Example:

    >>> import numpy as np
    >>> from keras_electra.layers.electra_embeddings import ElectraEmbeddings
    >>> from keras_electra.models.electra_backbone import ElectraBackbone
    >>> backbone = ElectraBackbone(
    ...     ElectraEmbeddings(vocabulary_size=50, embedding_size=8, max_sequence_length=8),
    ...     hidden_size=8, num_layers=1, num_heads=2, intermediate_size=16)
    >>> model = ElectraClassifier(backbone, num_classes=3)
    >>> batch = {"input_ids": np.ones((2, 4), "int32"), "input_mask": np.ones((2, 4), "int32"),
    ...          "segment_ids": np.zeros((2, 4), "int32")}
    >>> model(batch).shape
    TensorShape([2, 3])
    >>> model.compile(optimizer="adam",
    ...               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> history = model.fit(batch, np.array([0, 2]), epochs=1, verbose=0)
    >>> ElectraClassifier(backbone, num_classes=1)(batch).shape  # STS-B regression
    TensorShape([2])
    """

    def __init__(self, backbone, num_classes, dropout=0.1, **kwargs):
        if num_classes < 1:
            raise ValueError(f"ElectraClassifier: num_classes must be >= 1, got {num_classes}.")
        dropout_layer = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="classifier_dropout")
        dense = keras.layers.Dense(
            num_classes, dtype=backbone.dtype_policy, name="classifier")

        inputs = task_inputs()
        first_token = backbone(inputs)["sequence_output"][:, 0, :]
        logits = keras.ops.cast(dense(dropout_layer(first_token)), "float32")
        if num_classes == 1:
            logits = keras.ops.squeeze(logits, axis=-1)
        super().__init__(backbone, inputs, logits, **kwargs)

        self.dropout_layer = dropout_layer
        self.dense = dense
        self.num_classes = num_classes
        self.dropout = dropout

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "dropout": self.dropout})
        return config
