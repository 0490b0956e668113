"""Text (or text pairs) -> fixed-length fine-tuning features, in the graph.

`[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, truncated longest-first and
padded to `max_seq_length`, exactly as the original ELECTRA / BERT
`featurize` + `_truncate_seq_pair` (google-research/electra
`finetune/classification/classification_tasks.py`), but with tensorflow-text
tokenization and ragged ops, so it runs inside `tf.data` and inside a
serving graph.

Why not `keras_hub.layers.MultiSegmentPacker(truncate="round_robin")`: for
two segments its lengths equal longest-first (checked exhaustively for
lengths and budgets up to 8), but a pair whose second text tokenizes to
nothing becomes `[CLS] a [SEP] [SEP]` with a 3-token reserve, where the
original (`if tokens_b:`) packs it as a single sentence, `[CLS] a [SEP]`,
with one more token of `a`. That needs a per-row budget, which the packer
does not have.
"""

import tensorflow as tf

from keras_electra.data.tokenizer import make_tokenizer


def truncate_longest_first(length_a, length_b, budget):
    """Lengths `(keep_a, keep_b)` that `_truncate_seq_pair` leaves, without its loop.

    The original pops one token at a time from the longer segment (from
    `b` on a tie) until `a + b <= budget`. It ends with the shorter segment
    intact if it fits in its half, else with `a` holding `ceil(budget / 2)`
    and `b` the rest; in closed form `keep_a = min(a, max(budget - b,
    ceil(budget / 2)))`, `keep_b = budget - keep_a` (when the pair is too
    long at all). Elementwise, for any integer tensors of one shape.

    Example:

    >>> [int(n) for n in truncate_longest_first(10, 3, 8)]  # b is short: kept whole
    [5, 3]
    >>> [int(n) for n in truncate_longest_first(10, 10, 5)]  # a tie pops from b first
    [3, 2]
    """
    length_a, length_b, budget = (tf.convert_to_tensor(x, tf.int64)
                                  for x in (length_a, length_b, budget))
    fits = length_a + length_b <= budget
    keep_a = tf.minimum(length_a, tf.maximum(budget - length_b, (budget + 1) // 2))
    return (tf.where(fits, length_a, keep_a),
            tf.where(fits, length_b, budget - keep_a))


def _row_tokens(tokens, first_column, columns):
    """`tokens[i][c - first_column[i]]` at every column `c` of `columns` (garbage off the row).

    A gather from the flat values: cheaper to build and to run than ragged
    slicing and concatenation (which made tracing the `tf.data` map take
    seconds).
    """
    values = tf.concat([tokens.values, tf.zeros([1], tokens.dtype)], axis=0)
    index = tf.expand_dims(tokens.row_starts(), 1) + columns - tf.expand_dims(first_column, 1)
    return tf.gather(values, tf.clip_by_value(index, 0, tf.size(values, tf.int64) - 1))


def pack_pair(tokens_a, tokens_b, max_seq_length, cls_id, sep_id, pad_id=0):
    """Packs token ids as `[CLS] a [SEP] (b [SEP])`, truncated longest-first, padded.

    Args:
        tokens_a: ragged `(batch, None)` int ids of the first segment.
        tokens_b: the same for the second segment, or None (single-sentence
            tasks). A row whose `b` is empty is packed as a single sentence,
            as the original does.
        max_seq_length: length of every output row.
        cls_id, sep_id, pad_id: the special ids.

    Returns:
        `{"input_ids", "input_mask", "segment_ids"}`, int32 `(batch, max_seq_length)`;
        segment 1 covers `b` and its `[SEP]`.

    Example:

    >>> a = tf.ragged.constant([[7, 8, 9], [7]])
    >>> b = tf.ragged.constant([[5, 6], []])
    >>> pack_pair(a, b, 7, cls_id=2, sep_id=3)["input_ids"].numpy().tolist()
    [[2, 7, 8, 3, 5, 6, 3], [2, 7, 3, 0, 0, 0, 0]]
    """
    if max_seq_length < 3:
        raise ValueError(f"max_seq_length must be >= 3 ([CLS] and two [SEP]), "
                         f"got {max_seq_length}.")
    tokens_a = tf.cast(tokens_a, tf.int32).with_row_splits_dtype(tf.int64)
    length_a = tokens_a.row_lengths()
    if tokens_b is None:
        tokens_b = tf.RaggedTensor.from_row_lengths(
            tf.zeros([0], tf.int32), tf.zeros_like(length_a))
    tokens_b = tf.cast(tokens_b, tf.int32).with_row_splits_dtype(tf.int64)
    length_b = tokens_b.row_lengths()
    # [CLS] a [SEP] b [SEP] reserves 3 positions; a single sentence only 2.
    budget = tf.where(length_b > 0, tf.constant(max_seq_length - 3, tf.int64),
                      tf.constant(max_seq_length - 2, tf.int64))
    keep_a, keep_b = truncate_longest_first(length_a, length_b, budget)
    # The original tests `if tokens_b:` again after truncating, so a `b` cut
    # to nothing (max_seq_length 3 or 4) gets no [SEP] either.
    has_b = tf.expand_dims(keep_b > 0, 1)

    # Row layout by column: 0 [CLS], 1..keep_a a, sep_a [SEP], then b and its [SEP].
    columns = tf.range(max_seq_length, dtype=tf.int64)[tf.newaxis, :]
    sep_a = tf.expand_dims(keep_a + 1, 1)
    sep_b = sep_a + 1 + tf.expand_dims(keep_b, 1)
    length = tf.where(has_b, sep_b + 1, sep_a + 1)
    in_a = (columns >= 1) & (columns < sep_a)
    in_b = (columns > sep_a) & (columns < sep_b)
    ids = tf.fill(tf.shape(in_a), tf.constant(pad_id, tf.int32))
    ids = tf.where(in_a, _row_tokens(tokens_a, tf.ones_like(keep_a), columns), ids)
    ids = tf.where(in_b, _row_tokens(tokens_b, keep_a + 2, columns), ids)
    ids = tf.where(columns == 0, tf.constant(cls_id, tf.int32), ids)
    ids = tf.where((columns == sep_a) | (has_b & (columns == sep_b)),
                   tf.constant(sep_id, tf.int32), ids)
    mask = columns < length
    return {
        "input_ids": ids,
        "input_mask": tf.cast(mask, tf.int32),
        "segment_ids": tf.cast(mask & (columns > sep_a), tf.int32),
    }


class TextPairEncoder:
    """Raw sentences or sentence pairs -> `input_ids`, `input_mask`, `segment_ids`.

    WordPiece tokenization (tensorflow-text `FastBertTokenizer`, see
    `keras_electra.data.tokenizer`) and `pack_pair` in one callable that
    works eagerly, in `tf.data.Dataset.map` and in a `tf.function`. It holds
    no variables; the vocabulary is baked into the tokenizer op.

    Args:
        vocab_file: the WordPiece `vocab.txt` the model was pre-trained with
            (it also gives the `[CLS]`, `[SEP]` and `[PAD]` ids).
        max_seq_length: length of every encoded row.
        lowercase: lowercase and strip accents before WordPiece (uncased
            models).

    Example:

    >>> import tempfile
    >>> vocab = tempfile.mkdtemp() + "/vocab.txt"
    >>> _ = open(vocab, "w").write("\\n".join(
    ...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "film"]) + "\\n")
    >>> encoder = TextPairEncoder(vocab, max_seq_length=8)
    >>> features = encoder(tf.constant(["A good film"]), tf.constant(["good"]))
    >>> features["input_ids"].numpy().tolist()
    [[2, 5, 6, 7, 3, 6, 3, 0]]
    >>> features["segment_ids"].numpy().tolist()
    [[0, 0, 0, 0, 0, 1, 1, 0]]
    """

    def __init__(self, vocab_file, max_seq_length, lowercase=True):
        if max_seq_length < 3:
            raise ValueError(f"max_seq_length must be >= 3 ([CLS] and two [SEP]), "
                             f"got {max_seq_length}.")
        self.tokenizer, self.vocabulary, self.special_ids = make_tokenizer(vocab_file, lowercase)
        self.vocab_file = vocab_file
        self.max_seq_length = int(max_seq_length)
        self.lowercase = lowercase

    def __call__(self, text_a, text_b=None):
        """Encodes a `(batch,)` string tensor (and its pair); a scalar gives unbatched rows."""
        text_a = tf.convert_to_tensor(text_a, tf.string)
        scalar = text_a.shape.rank == 0
        if scalar:
            text_a = tf.expand_dims(text_a, 0)
            text_b = None if text_b is None else tf.expand_dims(text_b, 0)
        tokens_b = None if text_b is None else self.tokenizer.tokenize(text_b)
        features = pack_pair(self.tokenizer.tokenize(text_a), tokens_b, self.max_seq_length,
                             self.special_ids.cls, self.special_ids.sep, self.special_ids.pad)
        if scalar:
            features = {name: value[0] for name, value in features.items()}
        return features
