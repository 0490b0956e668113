"""`ClassifierModule`: a fine-tuned `ElectraClassifier` as a raw-text serving module."""

import tensorflow as tf

from keras_electra.export.packed_encoder import call_task_model, check_packed_matches
from keras_electra.export.serving_text import ServingText, check_max_seq_length

_TEXT = tf.TensorSpec([None], tf.string, name="text")
_TEXT_A = tf.TensorSpec([None], tf.string, name="text_a")
_TEXT_B = tf.TensorSpec([None], tf.string, name="text_b")
_IDS = [tf.TensorSpec([None, None], tf.int32, name=name)
        for name in ("input_ids", "input_mask", "segment_ids")]


class ClassifierModule:
    """Sequence classification or regression (GLUE-style tasks) from raw text.

    Signatures:

    * `classify_text` (`text`) and `classify_text_pair` (`text_a`, `text_b`,
      packed `[CLS] a [SEP] b [SEP]` as in fine-tuning);
      `serving_default` is the pair one for pair tasks, else the single one.
    * `classify_ids` (`input_ids`, `input_mask`, `segment_ids`).

    Outputs for classification: `probabilities` `(batch, classes)`,
    `label_id` and `label` (the most probable class and its name), and
    `label_names` `(batch, classes)` (the class names in probability order,
    repeated per row so that every output is batched, as TF Serving's row
    format requires). For regression (`num_classes == 1`): `score`.

    Args:
        model: a fine-tuned `ElectraClassifier`.
        vocab_file: its pre-training `vocab.txt`.
        max_seq_length: longest row (the fine-tuning length is the natural choice).
        labels: class names in id order; None for regression.
        is_pair: whether the task takes sentence pairs (sets `serving_default`).
        lowercase: the vocabulary's casing.

    Example:

    >>> module = ClassifierModule(model, "vocab.txt", 128, labels=["0", "1"])  # doctest: +SKIP
    >>> module.classify_text(tf.constant(["a good film"]))["label"]  # doctest: +SKIP
    """

    def __init__(self, model, vocab_file, max_seq_length, labels=None, is_pair=False,
                 lowercase=True):
        check_max_seq_length(max_seq_length, model.backbone.embeddings)
        check_packed_matches(model.backbone)
        self.is_regression = model.num_classes == 1
        if not self.is_regression and (labels is None or len(labels) != model.num_classes):
            raise ValueError(f"labels: expected {model.num_classes} class names, got "
                             f"{None if labels is None else len(labels)}.")
        self.model = model
        self.text = ServingText(vocab_file, max_seq_length, lowercase)
        self.is_pair = is_pair
        self.labels = None if self.is_regression else tf.constant([str(x) for x in labels])

    def _classify(self, features):
        logits = tf.cast(call_task_model(self.model, features), tf.float32)
        if self.is_regression:
            return {"score": logits}
        probabilities = tf.nn.softmax(logits, axis=-1)
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        batch = tf.shape(probabilities)[0]
        return {"probabilities": probabilities, "label_id": label_id,
                "label": tf.gather(self.labels, label_id),
                "label_names": tf.tile(self.labels[tf.newaxis, :], [batch, 1])}

    @tf.function(input_signature=[_TEXT])
    def classify_text(self, text):
        return self._classify(self.text.encode(text))

    @tf.function(input_signature=[_TEXT_A, _TEXT_B])
    def classify_text_pair(self, text_a, text_b):
        return self._classify(self.text.encode(text_a, text_b))

    @tf.function(input_signature=_IDS)
    def classify_ids(self, input_ids, input_mask, segment_ids):
        return self._classify({"input_ids": input_ids, "input_mask": input_mask,
                               "segment_ids": segment_ids})

    def endpoints(self):
        """`{signature name: tf.function}`, for `export_saved_model`."""
        return {"serving_default": self.classify_text_pair if self.is_pair else self.classify_text,
                "classify_text": self.classify_text,
                "classify_text_pair": self.classify_text_pair,
                "classify_ids": self.classify_ids}
