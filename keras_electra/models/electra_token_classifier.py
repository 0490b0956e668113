"""`ElectraTokenClassifier`: per-token labels (NER, chunking)."""

import keras

from keras_electra.models.electra_task import ElectraTask, task_inputs


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraTokenClassifier(ElectraTask):
    """Logits over `num_classes` tags at every token.

    The original `finetune/tagging/tagging_tasks.py` gathers the last hidden
    states at each word's first WordPiece and applies one dense layer
    (`tf.layers.dense(reprs, n_classes)`), with no dropout; the loss is
    softmax cross-entropy weighted by a label mask. Here the dense layer runs
    on every position (the same weights, so the same logits at the gathered
    positions) and the choice of positions moves to the data: train with
    `keras_electra.data.tasks.conll.align_word_labels`' first-piece mask as
    sample weights, and read predictions at first pieces. Padding is not
    masked here for the same reason.

    Hugging Face's `ElectraForTokenClassification` adds dropout (the hidden
    dropout, 0.1) before the dense layer; `dropout` defaults to the
    original's 0.0 and can be set to match it.

    Args:
        backbone: the discriminator `ElectraBackbone`.
        num_classes: number of tags.
        dropout: dropout rate on the hidden states during training.
        **kwargs: `name` or `trainable` (any other key is an error).

    Example:

    >>> import numpy as np
    >>> from keras_electra.layers.electra_embeddings import ElectraEmbeddings
    >>> from keras_electra.models.electra_backbone import ElectraBackbone
    >>> backbone = ElectraBackbone(
    ...     ElectraEmbeddings(vocabulary_size=50, embedding_size=8, max_sequence_length=8),
    ...     hidden_size=8, num_layers=1, num_heads=2, intermediate_size=16)
    >>> model = ElectraTokenClassifier(backbone, num_classes=5)
    >>> batch = {"input_ids": np.ones((2, 4), "int32"), "input_mask": np.ones((2, 4), "int32"),
    ...          "segment_ids": np.zeros((2, 4), "int32")}
    >>> model(batch).shape
    TensorShape([2, 4, 5])
    """

    def __init__(self, backbone, num_classes, dropout=0.0, **kwargs):
        if num_classes < 1:
            raise ValueError(
                f"ElectraTokenClassifier: num_classes must be >= 1, got {num_classes}.")
        dropout_layer = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="tagger_dropout")
        dense = keras.layers.Dense(num_classes, dtype=backbone.dtype_policy, name="tagger")

        inputs = task_inputs()
        sequence = backbone(inputs)["sequence_output"]
        logits = keras.ops.cast(dense(dropout_layer(sequence)), "float32")
        super().__init__(backbone, inputs, logits, **kwargs)

        self.dropout_layer = dropout_layer
        self.dense = dense
        self.num_classes = num_classes
        self.dropout = dropout

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "dropout": self.dropout})
        return config
