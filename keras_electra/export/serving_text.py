"""`ServingText`: raw strings -> model features inside a serving graph.

What TF Serving clients send is text; everything between that and the
model's `input_ids` runs here, in TensorFlow ops only (core TF plus the
tensorflow-text op library, which stock TF Serving links):

* invalid UTF-8 is replaced (U+FFFD) instead of failing the whole batch;
* `FastBertTokenizer` does the BERT normalisation (lower-casing and accent
  stripping for uncased vocabularies) and WordPiece in one op, with byte
  offsets into the (sanitised) input;
* `pack_pair` adds `[CLS]`/`[SEP]`, truncates longest-first and pads, exactly
  as fine-tuning did (`TextPairEncoder`);
* the batch is then cut to its longest row: a batch of short requests does
  not pay for `max_seq_length` positions (outputs are as wide as that row).
"""

import tensorflow as tf

from keras_electra.data.text_pair_encoder import TextPairEncoder, pack_pair


def check_max_seq_length(max_seq_length, embeddings):
    """One-line error when rows would be longer than the model's position table."""
    limit = embeddings.max_sequence_length
    if max_seq_length > limit:
        raise ValueError(f"max_seq_length={max_seq_length} exceeds the model's "
                         f"max_position_embeddings ({limit}).")


def sanitize_utf8(text):
    """Invalid UTF-8 bytes -> U+FFFD (one bad string would otherwise fail the whole batch)."""
    return tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace",
                                        replacement_char=0xFFFD)


def char_offsets(text, byte_offsets):
    """Byte offsets (ragged, per row of `text`) -> Unicode code-point offsets.

    A byte offset maps to the number of characters that start before it, so
    a start offset becomes the index of its character and an (exclusive) end
    offset the index after the last character: what a client needs to slice
    a Python `str`.
    """
    _, char_starts = tf.strings.unicode_decode_with_offsets(text, "UTF-8")
    return tf.RaggedTensor.from_row_splits(_searchsorted_rows(char_starts, byte_offsets),
                                           byte_offsets.row_splits)


def _searchsorted_rows(sorted_rows, values):
    """Per row: how many of `sorted_rows[i]` are < each of `values[i]` (flat result)."""
    # Pad each row of character starts with a value above any byte offset, so
    # one dense searchsorted handles every row.
    big = tf.cast(tf.int32.max, sorted_rows.dtype)
    dense_sorted = sorted_rows.to_tensor(default_value=big)
    dense_values = tf.cast(values.to_tensor(default_value=0), dense_sorted.dtype)
    found = tf.searchsorted(dense_sorted, dense_values, side="left")
    return tf.RaggedTensor.from_tensor(found, lengths=values.row_lengths()).flat_values


class ServingText:
    """Text in, `input_ids`/`input_mask`/`segment_ids` out, plus per-token offsets.

    Args:
        vocab_file: the model's WordPiece `vocab.txt`.
        max_seq_length: the longest row (longer texts are truncated).
        lowercase: the vocabulary's casing (`ElectraConfig.do_lower_case`).

    Example:

    >>> import tempfile
    >>> vocab = tempfile.mkdtemp() + "/vocab.txt"
    >>> _ = open(vocab, "w").write("\\n".join(
    ...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "film"]) + "\\n")
    >>> text = ServingText(vocab, max_seq_length=8)
    >>> features = text.encode_single(tf.constant(["A good film", "Film"]))
    >>> features["input_ids"].numpy().tolist()  # cut to the longest row
    [[2, 5, 6, 7, 3], [2, 7, 3, 0, 0]]
    >>> features["start_offsets"].numpy().tolist()  # characters; -1: no text
    [[-1, 0, 2, 7, -1], [-1, 0, -1, -1, -1]]
    >>> features["tokens"].numpy().tolist()[1]
    [b'[CLS]', b'film', b'[SEP]', b'[PAD]', b'[PAD]']
    """

    def __init__(self, vocab_file, max_seq_length, lowercase=True):
        self.encoder = TextPairEncoder(vocab_file, max_seq_length, lowercase)
        self.max_seq_length = self.encoder.max_seq_length
        self.vocabulary = tf.constant(self.encoder.vocabulary)

    def encode_single(self, text):
        """Features of a `(batch,)` string tensor, with `tokens` and character offsets."""
        text = sanitize_utf8(tf.convert_to_tensor(text, tf.string))
        tokenizer = self.encoder.tokenizer
        ids, starts, ends = tokenizer.tokenize_with_offsets(text)
        special = self.encoder.special_ids
        features = self._trim(
            _pack(ids, None, self.max_seq_length, special))
        # Single sentence: column 0 is [CLS], columns 1..k the first k pieces,
        # then [SEP] and padding, so the offsets are the pieces' shifted by one.
        width = tf.shape(features["input_ids"])[1]
        batch = tf.shape(features["input_ids"])[0]
        for name, offsets in (("start_offsets", starts), ("end_offsets", ends)):
            chars = tf.cast(char_offsets(text, offsets), tf.int32)[:, :self.max_seq_length - 2]
            dense = chars.to_tensor(default_value=-1, shape=[batch, self.max_seq_length - 2])
            dense = tf.pad(dense, [[0, 0], [1, 1]], constant_values=-1)[:, :width]
            # Keep only the pieces that made it in (the [SEP] column gets -1).
            position = tf.range(width)[tf.newaxis, :]
            kept = tf.reduce_sum(features["input_mask"], axis=1, keepdims=True) - 1
            features[name] = tf.where((position >= 1) & (position < kept), dense, -1)
        features["tokens"] = tf.gather(self.vocabulary, features["input_ids"])
        return features

    def encode(self, text_a, text_b=None):
        """Features of `(batch,)` strings (or pairs): ids, mask and segments only."""
        text_a = sanitize_utf8(tf.convert_to_tensor(text_a, tf.string))
        tokens_b = None
        if text_b is not None:
            tokens_b = self.encoder.tokenizer.tokenize(
                sanitize_utf8(tf.convert_to_tensor(text_b, tf.string)))
        return self._trim(_pack(self.encoder.tokenizer.tokenize(text_a), tokens_b,
                                self.max_seq_length, self.encoder.special_ids))

    @staticmethod
    def _trim(features):
        longest = tf.reduce_max(tf.reduce_sum(features["input_mask"], axis=1))
        # An empty batch keeps width 0; a non-empty one has at least [CLS] [SEP].
        return {name: value[:, :longest] for name, value in features.items()}


def _pack(tokens_a, tokens_b, max_seq_length, special):
    return pack_pair(tokens_a, tokens_b, max_seq_length, special.cls, special.sep, special.pad)
