"""`ElectraSpanExtractor`: extractive question answering (SQuAD 1.1 / 2.0)."""

import keras

from keras_electra.models.electra_task import ElectraTask, task_inputs

# Added to the logits of positions that cannot hold an answer, as the original
# (`1000.0 * (answer_mask - 1)`): softmax gives them zero probability, and the
# logits stay comparable to the original's for parity checks.
NOT_AN_ANSWER_PENALTY = 1000.0


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraSpanExtractor(ElectraTask):
    """Start/end logits per token for SQuAD, optionally an answerability logit.

    Follows the original `finetune/qa/qa_tasks.py` (`QATask`) with
    `joint_prediction=False`: independent start and end logits, each one
    dense layer on the last hidden states (the original's two
    `tf.layers.dense(final_hidden, 1)`; here one `Dense(2)`, column 0 start,
    column 1 end, which is also the layout of Hugging Face's `qa_outputs`),
    no dropout. Positions outside the answer mask get
    `-NOT_AN_ANSWER_PENALTY` added, where the mask is, as in the original,
    `input_mask * segment_ids` plus position 0: the context (segment 1, with
    its closing `[SEP]`) and `[CLS]`, the target of a window without an
    answer. Question tokens and padding are never answers. (Hugging Face's
    `ElectraForQuestionAnswering` masks nothing.)

    With `answerability=True` an extra per-example logit comes from the
    original's `answerable_classifier`. By default
    (`answerability_uses_start_logits=True`, the original's default) its
    input is the `[CLS]` vector concatenated with the start-probability
    weighted sum of the hidden states, through `dense(512, GELU)`, then
    `dense(1)`; with False it is `dense(1)` on the `[CLS]` vector. The
    original trains this logit with sigmoid cross-entropy against
    `is_impossible` (weight 0.5), so, despite the name it inherits
    (`answerable_logit`), a high value means *no* answer.

    Left out: the original's default for SQuAD is `joint_prediction=True`,
    an XLNet-style end head conditioned on the start (the gold start while
    training, a beam of `beam_size=20` starts at inference, each through
    `dense(512, GELU)`). It needs the gold start as a model input and
    returns per-beam outputs, so it does not fit a plain
    `(inputs) -> logits` model; the independent head is the one BERT and
    Hugging Face use and what `keras_electra.data.tasks.squad` decodes.

    Args:
        backbone: the discriminator `ElectraBackbone`.
        answerability: add the `answerable_logits` output (SQuAD 2.0).
        answerability_uses_start_logits: feed the answerability classifier
            the start-weighted hidden state too (the original's default).
        answerability_hidden_size: width of its GELU layer (512 in the
            original); unused when `answerability_uses_start_logits` is False.
        **kwargs: `name` or `trainable` (any other key is an error).

    Returns (from `call`):
        `{"start_logits": (batch, seq), "end_logits": (batch, seq)}` in
        float32, plus `"answerable_logits": (batch,)` with `answerability`.

    Example:

    >>> import numpy as np
    >>> from keras_electra.layers.electra_embeddings import ElectraEmbeddings
    >>> from keras_electra.models.electra_backbone import ElectraBackbone
    >>> backbone = ElectraBackbone(
    ...     ElectraEmbeddings(vocabulary_size=50, embedding_size=8, max_sequence_length=8),
    ...     hidden_size=8, num_layers=1, num_heads=2, intermediate_size=16)
    >>> model = ElectraSpanExtractor(backbone, answerability=True)
    >>> batch = {"input_ids": np.array([[2, 9, 3, 11, 12, 3, 0, 0]], "int32"),
    ...          "input_mask": np.array([[1, 1, 1, 1, 1, 1, 0, 0]], "int32"),
    ...          "segment_ids": np.array([[0, 0, 0, 1, 1, 1, 0, 0]], "int32")}
    >>> outputs = model(batch)
    >>> sorted(outputs), tuple(outputs["start_logits"].shape)
    (['answerable_logits', 'end_logits', 'start_logits'], (1, 8))
    >>> bool((outputs["start_logits"][0, 1] < -500) and (outputs["start_logits"][0, 3] > -500))
    True
    """

    def __init__(
        self,
        backbone,
        answerability=False,
        answerability_uses_start_logits=True,
        answerability_hidden_size=512,
        **kwargs,
    ):
        policy = backbone.dtype_policy
        span_dense = keras.layers.Dense(2, dtype=policy, name="span_logits")
        answerability_hidden = answerability_dense = None
        if answerability:
            if answerability_uses_start_logits:
                answerability_hidden = keras.layers.Dense(
                    answerability_hidden_size, activation="gelu",  # exact erf GELU
                    dtype=policy, name="answerability_hidden")
            answerability_dense = keras.layers.Dense(1, dtype=policy, name="answerability_logits")

        inputs = task_inputs()
        sequence = backbone(inputs)["sequence_output"]
        span_logits = keras.ops.cast(span_dense(sequence), "float32")
        penalty = NOT_AN_ANSWER_PENALTY * (_answer_mask(inputs) - 1.0)
        outputs = {
            "start_logits": span_logits[:, :, 0] + penalty,
            "end_logits": span_logits[:, :, 1] + penalty,
        }
        if answerability:
            features = sequence[:, 0, :]
            if answerability_uses_start_logits:
                # The original feeds the masked start distribution, gradient included.
                start_probs = keras.ops.softmax(outputs["start_logits"], axis=-1)
                start_feature = keras.ops.einsum(
                    "bs,bsh->bh", start_probs, keras.ops.cast(sequence, "float32"))
                features = answerability_hidden(keras.ops.concatenate(
                    [keras.ops.cast(features, "float32"), start_feature], axis=-1))
            outputs["answerable_logits"] = keras.ops.squeeze(
                keras.ops.cast(answerability_dense(features), "float32"), axis=-1)
        super().__init__(backbone, inputs, outputs, **kwargs)

        self.span_dense = span_dense
        self.answerability_hidden = answerability_hidden
        self.answerability_dense = answerability_dense
        self.answerability = answerability
        self.answerability_uses_start_logits = answerability_uses_start_logits
        self.answerability_hidden_size = answerability_hidden_size

    def get_config(self):
        config = super().get_config()
        config.update({
            "answerability": self.answerability,
            "answerability_uses_start_logits": self.answerability_uses_start_logits,
            "answerability_hidden_size": self.answerability_hidden_size,
        })
        return config


def _answer_mask(inputs):
    """1.0 where an answer may start or end: context tokens (segment 1) and `[CLS]`."""
    mask = keras.ops.cast(inputs["input_mask"] * inputs["segment_ids"], "float32")
    return keras.ops.concatenate([keras.ops.ones_like(mask[:, :1]), mask[:, 1:]], axis=1)
