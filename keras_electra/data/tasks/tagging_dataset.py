"""Tagged sentences -> fixed-length WordPiece features and `tf.data` batches for tagging.

    sentences = read_conll("conll2003/train.txt")
    tags = tag_vocabulary(sentences)
    tokenizer, _, special_ids = make_tokenizer("vocab.txt")
    encoded = encode_tagged_sentences(sentences, tokenizer, special_ids, 128, tags)
    dataset = tagging_dataset(encoded, 32, is_training=True)

Each sentence becomes `[CLS] pieces of word 0, pieces of word 1, ... [SEP]
[PAD]...`, every word tokenized on its own (BERT basic tokenization +
WordPiece, as the original `tagging_tasks.tokenize_and_align` does), with
segment id 0. The label of a word sits on its first piece; the other
positions get label 0 and sample weight 0, so a loss weighted by
`label_weights` sees exactly one term per word (the original gathers the
first-piece hidden states instead: the same logits, see
`ElectraTokenClassifier`).

Unlike the GLUE pipeline, encoding runs once, in numpy, before training:
the word -> piece alignment (`word_ids`) is needed again to map predictions
back to words, and tokenizing each distinct word once is cheap (CoNLL-2003's
train set has ~24k distinct words).
"""

import numpy as np
import tensorflow as tf

from keras_electra.data.tasks.conll import align_word_labels, sequence_word_ids

FEATURES = ("input_ids", "input_mask", "segment_ids")
# Words tokenized per op call: bounds the ragged tensor for huge files.
_TOKENIZE_CHUNK = 16384


def word_piece_ids(words, tokenizer, unk_id):
    """`{word: tuple of piece ids}` for every distinct word, one tokenizer call per chunk.

    A word that tokenizes to nothing (e.g. only control or zero-width
    characters) becomes `(unk_id,)`, so every word keeps a position to be
    labelled and predicted at. (The original gives such a word the position
    of the next word's first piece.)

    Example:

    >>> import tempfile
    >>> from keras_electra.data.tokenizer import make_tokenizer
    >>> vocab = tempfile.mkdtemp() + "/vocab.txt"
    >>> _ = open(vocab, "w").write("\\n".join(
    ...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "smith", "##son", "mr"]) + "\\n")
    >>> tokenizer, _, special = make_tokenizer(vocab)
    >>> word_piece_ids(["Mr", "Smithson", "\\u200b"], tokenizer, special.unk)
    {'Mr': (7,), 'Smithson': (5, 6), '\\u200b': (1,)}
    """
    distinct = list(dict.fromkeys(words))
    pieces = {}
    for start in range(0, len(distinct), _TOKENIZE_CHUNK):
        chunk = distinct[start:start + _TOKENIZE_CHUNK]
        for word, ids in zip(chunk, tokenizer.tokenize(tf.constant(chunk)).to_list()):
            pieces[word] = tuple(ids) or (unk_id,)
    return pieces


def encode_tagged_sentences(sentences, tokenizer, special_ids, max_seq_length, tags=None):
    """Numpy features of `TaggedSentence`s, one row per sentence.

    Pieces past `max_seq_length - 2` are cut (the sentence is truncated,
    not split): a word whose first piece is cut has no position
    (`word_ids` never names it) and cannot be predicted.

    Args:
        sentences: `TaggedSentence`s (`read_conll`).
        tokenizer, special_ids: from `keras_electra.data.tokenizer.make_tokenizer`.
        max_seq_length: length of every row, `[CLS]` and `[SEP]` included.
        tags: the tag vocabulary (label id order); None for features only
            (dev and test sets are scored on the tag strings).

    Returns:
        A dict of int32 `(sentences, max_seq_length)` arrays: `input_ids`,
        `input_mask`, `segment_ids`, `word_ids` (the word index at each
        position, -1 for none) and, with `tags`, `labels` (0 where
        unlabelled) and `label_weights` (1 at each word's first piece).

    Example:

    >>> import tempfile
    >>> from keras_electra.data.tasks.tagged_sentence import TaggedSentence
    >>> from keras_electra.data.tokenizer import make_tokenizer
    >>> vocab = tempfile.mkdtemp() + "/vocab.txt"
    >>> _ = open(vocab, "w").write("\\n".join(
    ...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "smith", "##son", "mr"]) + "\\n")
    >>> tokenizer, _, special = make_tokenizer(vocab)
    >>> sentence = TaggedSentence(("Mr", "Smithson"), ("O", "B-PER"))
    >>> encoded = encode_tagged_sentences([sentence], tokenizer, special, 6, ["O", "B-PER"])
    >>> encoded["input_ids"].tolist(), encoded["word_ids"].tolist()
    ([[2, 7, 5, 6, 3, 0]], [[-1, 0, 1, 1, -1, -1]])
    >>> encoded["labels"].tolist(), encoded["label_weights"].tolist()
    ([[0, 0, 1, 0, 0, 0]], [[0, 1, 1, 0, 0, 0]])
    """
    if max_seq_length < 3:
        raise ValueError(f"max_seq_length must be >= 3 ([CLS] word [SEP]), got {max_seq_length}.")
    pieces = word_piece_ids([w for s in sentences for w in s.words], tokenizer, special_ids.unk)
    tag_ids = None if tags is None else {tag: i for i, tag in enumerate(tags)}
    shape = (len(sentences), max_seq_length)
    encoded = {name: np.zeros(shape, np.int32) for name in FEATURES}
    encoded["word_ids"] = np.full(shape, -1, np.int32)
    if tag_ids is not None:
        encoded["labels"] = np.zeros(shape, np.int32)
        encoded["label_weights"] = np.zeros(shape, np.int32)
    for row, sentence in enumerate(sentences):
        word_pieces = [pieces[word] for word in sentence.words]
        kept = [p for ids in word_pieces for p in ids][:max_seq_length - 2]
        ids = [special_ids.cls, *kept, special_ids.sep]
        encoded["input_ids"][row, :len(ids)] = ids
        encoded["input_mask"][row, :len(ids)] = 1
        word_ids = sequence_word_ids([len(p) for p in word_pieces], max_seq_length)
        encoded["word_ids"][row] = word_ids
        if tag_ids is not None:
            unknown = [tag for tag in sentence.tags if tag not in tag_ids]
            if unknown:
                raise ValueError(f"sentence at line {sentence.line_number}: tag {unknown[0]!r} "
                                 f"is not one of the tags {list(tags)}.")
            labels, weights = align_word_labels([tag_ids[tag] for tag in sentence.tags],
                                                word_ids)
            # Labels of unweighted positions only need to be valid class ids.
            encoded["labels"][row] = np.maximum(labels, 0)
            encoded["label_weights"][row] = weights
    return encoded


def predicted_words(encoded):
    """Per sentence, how many words kept a position (the rest were truncated away).

    Example:

    >>> predicted_words({"word_ids": np.array([[-1, 0, 1, 1, -1], [-1, 0, 0, 0, -1]])}).tolist()
    [2, 1]
    """
    return (encoded["word_ids"].max(axis=1) + 1).astype(np.int64)


def tagging_dataset(encoded, batch_size, is_training=False, seed=0):
    """A `tf.data.Dataset` of encoded tagging batches.

    Args:
        encoded: the dict from `encode_tagged_sentences`.
        batch_size: sentences per batch.
        is_training: shuffle all sentences (a new order every pass, from
            `seed`), repeat forever and drop the last partial batch, and yield
            `(features, labels, label_weights)` (needs `labels`); otherwise one
            pass in order, the last batch partial, features only.
        seed: the shuffle seed.

    Example:

    >>> encoded = {name: np.zeros((3, 4), np.int32) for name in FEATURES}
    >>> [batch["input_ids"].shape[0] for batch in tagging_dataset(encoded, 2)]
    [2, 1]
    """
    features = {name: encoded[name] for name in FEATURES}
    if not is_training:
        dataset = tf.data.Dataset.from_tensor_slices(features).batch(batch_size)
        return dataset.prefetch(tf.data.AUTOTUNE)
    if "labels" not in encoded:
        raise ValueError("tagging_dataset(is_training=True): encoded sentences have no labels; "
                         "pass tags= to encode_tagged_sentences.")
    dataset = tf.data.Dataset.from_tensor_slices(
        (features, encoded["labels"], encoded["label_weights"]))
    dataset = dataset.shuffle(len(encoded["labels"]), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.repeat().batch(batch_size, drop_remainder=True)
    return dataset.prefetch(tf.data.AUTOTUNE)
