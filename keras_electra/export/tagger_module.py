"""`TaggerModule`: a fine-tuned `ElectraTokenClassifier` as a raw-text serving module."""

import tensorflow as tf
import tensorflow_text as tf_text

from keras_electra.data.text_pair_encoder import pack_pair
from keras_electra.data.tokenizer import make_tokenizer
from keras_electra.export.packed_encoder import call_task_model, check_packed_matches
from keras_electra.export.serving_text import (
    ServingText, char_offsets, check_max_seq_length, sanitize_utf8)

_TEXT = tf.TensorSpec([None], tf.string, name="text")
_IDS = [tf.TensorSpec([None, None], tf.int32, name=name)
        for name in ("input_ids", "input_mask", "segment_ids")]


class TaggerModule:
    """Word tags (NER, chunking) from raw text, as `run_tagging` predicts them.

    A text is split into words on whitespace (CoNLL's words are the
    whitespace-separated tokens of a sentence; tensorflow-text's
    `WhitespaceTokenizer`, i.e. ICU white space), each word is WordPiece-d on
    its own exactly as `encode_tagged_sentences` does (`FastBertTokenizer`,
    so punctuation inside a word gives more pieces of that word; a word that
    tokenizes to nothing becomes one `[UNK]`), the pieces are packed
    `[CLS] pieces [SEP]`, cut after `max_seq_length - 2` pieces, and each
    word's tag is read at its first piece.

    Signatures:

    * `tag_text` (`serving_default`): `text` `(batch,)` -> per word, padded
      to the batch's most words: `words` (string, `""` padding), `tags`
      (the most probable label at the word's first piece), `tag_probability`
      (its softmax probability), `start_offsets` / `end_offsets` (Unicode
      character offsets of the word in the text, `text[start:end] == word`;
      -1 padding) and `word_mask` (1 for a tagged word).

      Truncation: a word whose first piece does not fit in
      `max_seq_length - 2` pieces is not tagged: it keeps its `words` entry
      and offsets, but gets tag `""`, probability 0 and `word_mask` 0. (The
      runner's prediction files give such words `O`, `TRUNCATED_TAG`, so
      that conlleval sees every word; a served client is better told that
      nothing was predicted.)
    * `tag_ids` (`input_ids`, `input_mask`, `segment_ids`) -> per piece
      `probabilities` `(batch, seq, tags)`, `tag_id` and `tag`, for clients
      that tokenize themselves.

    Args:
        model: a fine-tuned `ElectraTokenClassifier`.
        vocab_file: its `vocab.txt`.
        max_seq_length: pieces per sentence, `[CLS]` and `[SEP]` included
            (the fine-tuning length, `task.json`'s `max_seq_length`).
        labels: the tags in label id order (`task.json`'s `labels`).
        lowercase: the vocabulary's casing (`do_lower_case`).

    Example:

    >>> module = TaggerModule(model, "runs/ner/vocab.txt", 128,  # doctest: +SKIP
    ...                       labels=["O", "B-PER", "I-PER"])
    >>> module.tag_text(tf.constant(["Mr Smithson went"]))["tags"]  # doctest: +SKIP
    <tf.Tensor: shape=(1, 3), dtype=string, numpy=array([[b'O', b'B-PER', b'O']], ...)>
    """

    def __init__(self, model, vocab_file, max_seq_length, labels, lowercase=True):
        check_max_seq_length(max_seq_length, model.backbone.embeddings)
        check_packed_matches(model.backbone)
        if labels is None or len(labels) != model.num_classes:
            raise ValueError(f"labels: expected {model.num_classes} tags, got "
                             f"{None if labels is None else len(labels)}.")
        self.model = model
        # `text` for the shared export tooling (`max_seq_length`, the vocabulary).
        self.text = ServingText(vocab_file, max_seq_length, lowercase)
        self.max_seq_length = self.text.max_seq_length
        self.tokenizer, _, self.special_ids = make_tokenizer(vocab_file, lowercase)
        self.whitespace = tf_text.WhitespaceTokenizer()
        self.labels = tf.constant([str(x) for x in labels])

    def _words(self, text):
        """`(words, byte starts, byte ends, pieces)`: ragged `(batch, words)`, pieces per word."""
        words, starts, ends = self.whitespace.tokenize_with_offsets(text)
        pieces = self.tokenizer.tokenize(words.flat_values).with_row_splits_dtype(tf.int64)
        # A word without pieces becomes [UNK] (`word_piece_ids`): pad every
        # word's pieces with [UNK] and keep max(pieces, 1) of them.
        unk = tf.constant(self.special_ids.unk, tf.int32)
        dense = tf.pad(pieces.to_tensor(default_value=unk), [[0, 0], [0, 1]],
                       constant_values=unk)
        pieces = tf.RaggedTensor.from_tensor(dense, lengths=tf.maximum(pieces.row_lengths(), 1))
        return words, starts, ends, pieces

    def _tag_words(self, text):
        text = sanitize_utf8(tf.convert_to_tensor(text, tf.string))
        words, starts, ends, pieces = self._words(text)
        tokens = tf.RaggedTensor.from_row_splits(pieces, words.row_splits).merge_dims(1, 2)
        special = self.special_ids
        features = ServingText._trim(pack_pair(tokens, None, self.max_seq_length,
                                               special.cls, special.sep, special.pad))
        logits = tf.cast(call_task_model(self.model, features), tf.float32)

        # Position of each word's first piece: 1 ([CLS]) + the pieces of the
        # words before it in its sentence.
        counts = pieces.row_lengths()
        before = tf.cumsum(counts, exclusive=True)  # over the whole batch
        sentence_first = tf.gather(tf.concat([before, [tf.reduce_sum(counts)]], 0),
                                   words.row_starts())
        rows = words.value_rowids()
        position = 1 + before - tf.gather(sentence_first, rows)
        kept = position <= self.max_seq_length - 2
        width = tf.shape(logits, out_type=tf.int64)[1]
        at = tf.stack([rows, tf.minimum(position, width - 1)], axis=1)
        word_logits = tf.gather_nd(logits, at)  # (words, tags)
        # Argmax of the logits, as the runner takes it (ties: the first tag).
        tag_id = tf.argmax(word_logits, axis=-1, output_type=tf.int32)
        probability = tf.reduce_max(tf.nn.softmax(word_logits, axis=-1), axis=-1)
        tags = tf.where(kept, tf.gather(self.labels, tag_id), "")
        probability = tf.where(kept, probability, 0.0)

        def dense(values, default):
            return words.with_flat_values(values).to_tensor(default_value=default)

        return {
            "words": words.to_tensor(default_value=""),
            "tags": dense(tags, ""),
            "tag_probability": dense(probability, 0.0),
            "start_offsets": tf.cast(char_offsets(text, starts), tf.int32).to_tensor(-1),
            "end_offsets": tf.cast(char_offsets(text, ends), tf.int32).to_tensor(-1),
            "word_mask": dense(tf.cast(kept, tf.int32), 0),
        }

    @tf.function(input_signature=[_TEXT])
    def tag_text(self, text):
        return self._tag_words(text)

    @tf.function(input_signature=_IDS)
    def tag_ids(self, input_ids, input_mask, segment_ids):
        logits = tf.cast(call_task_model(self.model, {
            "input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}),
            tf.float32)
        tag_id = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"probabilities": tf.nn.softmax(logits, axis=-1), "tag_id": tag_id,
                "tag": tf.gather(self.labels, tag_id)}

    def endpoints(self):
        """`{signature name: tf.function}`, for `export_saved_model`."""
        return {"serving_default": self.tag_text, "tag_text": self.tag_text,
                "tag_ids": self.tag_ids}
