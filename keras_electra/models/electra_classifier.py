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
    The default follows the original because its GLUE results were obtained
    with it, and because every weight on the path from `[CLS]` to the logits
    except the last dense layer is then pre-trained. `head_hidden_size`
    builds Hugging Face's head instead, so that a fine-tuned
    `ElectraForSequenceClassification` converts with its logits intact
    (`keras_electra.convert.task_model_from_transformers`): dropout ->
    `Dense(head_hidden_size)` -> exact GELU (HF hard-codes "gelu" there,
    whatever the encoder's `hidden_act`) -> the same dropout again -> the
    output dense.

    Args:
        backbone: the discriminator `ElectraBackbone`.
        num_classes: number of labels; 1 means regression (output `(batch,)`).
        dropout: dropout rate on the `[CLS]` vector during training (and,
            with `head_hidden_size`, on the hidden layer's output, as HF).
        head_hidden_size: `None` (default) for the original's single dense
            layer; an int for Hugging Face's head with a hidden layer of that
            width (HF's is `hidden_size`).
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
    >>> hf_head = ElectraClassifier(backbone, num_classes=3, head_hidden_size=8)
    >>> [w.path for w in hf_head.weights[-4:]]
    ['classifier_hidden/kernel', 'classifier_hidden/bias', 'classifier/kernel', 'classifier/bias']
    """

    def __init__(self, backbone, num_classes, dropout=0.1, head_hidden_size=None, **kwargs):
        if num_classes < 1:
            raise ValueError(f"ElectraClassifier: num_classes must be >= 1, got {num_classes}.")
        if head_hidden_size is not None and head_hidden_size < 1:
            raise ValueError(f"ElectraClassifier: head_hidden_size must be None or >= 1, got "
                             f"{head_hidden_size}.")
        dropout_layer = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="classifier_dropout")
        hidden_dense = None
        if head_hidden_size is not None:
            hidden_dense = keras.layers.Dense(
                head_hidden_size, activation="gelu",  # exact erf GELU, as HF's head
                dtype=backbone.dtype_policy, name="classifier_hidden")
        dense = keras.layers.Dense(
            num_classes, dtype=backbone.dtype_policy, name="classifier")

        inputs = task_inputs()
        features = dropout_layer(backbone(inputs)["sequence_output"][:, 0, :])
        if hidden_dense is not None:
            # HF applies its one dropout module before and after the hidden layer.
            features = dropout_layer(hidden_dense(features))
        logits = keras.ops.cast(dense(features), "float32")
        if num_classes == 1:
            logits = keras.ops.squeeze(logits, axis=-1)
        super().__init__(backbone, inputs, logits, **kwargs)

        self.dropout_layer = dropout_layer
        self.hidden_dense = hidden_dense
        self.dense = dense
        self.num_classes = num_classes
        self.dropout = dropout
        self.head_hidden_size = head_hidden_size

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "dropout": self.dropout,
                       "head_hidden_size": self.head_hidden_size})
        return config
