"""`DetectorModule`: the pre-trained discriminator as a raw-text serving module."""

import tensorflow as tf

from keras_electra.export.packed_encoder import PackedEncoder, check_packed_matches
from keras_electra.export.serving_text import ServingText, check_max_seq_length

_TEXT = tf.TensorSpec([None], tf.string, name="text")
_IDS = [tf.TensorSpec([None, None], tf.int32, name=name)
        for name in ("input_ids", "input_mask", "segment_ids")]


class DetectorModule:
    """Replaced-token detection and encoder embeddings of a pre-trained ELECTRA.

    Signatures (all batched; text outputs are as wide as the batch's longest
    row, at most `max_seq_length`):

    * `detect_text` (`serving_default`): `text` -> `replaced_probability`
      (per token, the discriminator's probability that it was replaced),
      `tokens` (the word pieces, `[CLS]`/`[SEP]`/`[PAD]` included),
      `start_offsets`/`end_offsets` (Unicode character offsets of each piece
      in the text, -1 where a position has no text) and `input_mask`. A
      client highlights `text[start:end]` where the probability is high.
    * `embed_text`: `text` -> `sequence_output`, `pooled_output` (the last
      layer's `[CLS]` vector, which ELECTRA's fine-tuning heads use; there is
      no pooler), `input_mask`.
    * `detect_ids`, `embed_ids`: the same from `input_ids`, `input_mask`,
      `segment_ids` (int32), for clients that tokenize themselves.

    Args:
        pretrainer: an `ElectraPretrainer`.
        vocab_file: its `vocab.txt`.
        max_seq_length: longest row; longer texts are truncated.
        lowercase: the vocabulary's casing.

    Example:

    >>> module = DetectorModule(pretrainer, "runs/demo/vocab.txt", 128)  # doctest: +SKIP
    >>> module.detect_text(tf.constant(["the cat sat"]))["tokens"]  # doctest: +SKIP
    """

    def __init__(self, pretrainer, vocab_file, max_seq_length, lowercase=True):
        check_max_seq_length(max_seq_length, pretrainer.embeddings)
        self.text = ServingText(vocab_file, max_seq_length, lowercase)
        # Only the discriminator is served: the generator's variables stay out.
        self.discriminator = pretrainer.discriminator
        self.discriminator_head = pretrainer.discriminator_head
        check_packed_matches(self.discriminator)
        # Padding-free: a served batch is half padding (see packed_encoder).
        self.encoder = PackedEncoder(self.discriminator)

    def _encode(self, features):
        return self.encoder({spec.name: features[spec.name] for spec in _IDS})["sequence_output"]

    def _detect(self, features):
        sequence = self._encode(features)
        logits = tf.cast(self.discriminator_head(sequence), tf.float32)
        return {"replaced_probability": tf.sigmoid(logits),
                "input_mask": features["input_mask"]}

    def _embed(self, features):
        sequence = tf.cast(self._encode(features), tf.float32)
        return {"sequence_output": sequence, "pooled_output": sequence[:, 0],
                "input_mask": features["input_mask"]}

    @tf.function(input_signature=[_TEXT])
    def detect_text(self, text):
        features = self.text.encode_single(text)
        outputs = self._detect(features)
        outputs.update({name: features[name]
                        for name in ("tokens", "start_offsets", "end_offsets")})
        return outputs

    @tf.function(input_signature=[_TEXT])
    def embed_text(self, text):
        return self._embed(self.text.encode(text))

    @tf.function(input_signature=_IDS)
    def detect_ids(self, input_ids, input_mask, segment_ids):
        return self._detect({"input_ids": input_ids, "input_mask": input_mask,
                             "segment_ids": segment_ids})

    @tf.function(input_signature=_IDS)
    def embed_ids(self, input_ids, input_mask, segment_ids):
        return self._embed({"input_ids": input_ids, "input_mask": input_mask,
                            "segment_ids": segment_ids})

    def endpoints(self):
        """`{signature name: tf.function}`, for `export_saved_model`."""
        return {"serving_default": self.detect_text, "detect_text": self.detect_text,
                "embed_text": self.embed_text, "detect_ids": self.detect_ids,
                "embed_ids": self.embed_ids}
