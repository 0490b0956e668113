"""WordPiece vocabularies: reading, special-token ids, training.

Special-token ids always come from the vocabulary file (BERT's uncased vocab
has `[PAD]`=0, `[UNK]`=100, `[CLS]`=101, `[SEP]`=102, `[MASK]`=103; the
vocabularies this package trains put them at 0-4).
"""

import collections
import os
import time

from keras_electra.atomic_io import atomic_write_text

REQUIRED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

SpecialTokenIds = collections.namedtuple("SpecialTokenIds", ["pad", "unk", "cls", "sep", "mask"])
SpecialTokenIds.__doc__ = "Ids of `[PAD] [UNK] [CLS] [SEP] [MASK]` in a vocabulary."

# The layout `train_vocabulary` writes; used only when no vocabulary is given.
DEFAULT_SPECIAL_TOKEN_IDS = SpecialTokenIds(pad=0, unk=1, cls=2, sep=3, mask=4)


def load_vocabulary(path):
    """Returns the tokens of a `vocab.txt` (one per line) as a list."""
    try:
        with open(path, encoding="utf-8") as f:
            tokens = [line.rstrip("\n").rstrip("\r") for line in f]
    except FileNotFoundError:
        raise ValueError(f"{path}: vocabulary file not found.") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: vocabulary is not valid UTF-8 ({e.reason}).") from None
    while tokens and tokens[-1] == "":
        tokens.pop()
    if not tokens:
        raise ValueError(f"{path}: vocabulary file is empty.")
    return tokens


def special_token_ids(vocabulary, source="vocabulary"):
    """`SpecialTokenIds` looked up in a token list; a missing one is an error."""
    index = {token: i for i, token in enumerate(vocabulary)}
    missing = [token for token in REQUIRED_TOKENS if token not in index]
    if missing:
        raise ValueError(f"{source}: missing required special token(s) {missing}.")
    return SpecialTokenIds(*(index[token] for token in REQUIRED_TOKENS))


def check_text_file(path):
    """A one-line error for an input that cannot be UTF-8 text.

    Empty files and files whose first 64 KiB hold NUL bytes (binary data)
    are rejected, naming the file. Invalid UTF-8 inside otherwise textual
    files is not fatal: readers drop the invalid bytes and count the lines.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(65536)
    except OSError as e:
        raise ValueError(f"{path}: cannot read input file ({e.strerror}).") from None
    if size == 0:
        raise ValueError(f"{path}: input file is empty.")
    if b"\x00" in head:
        raise ValueError(f"{path}: looks like a binary file (NUL bytes); expected UTF-8 text.")
    return size


def count_words(text_files, lowercase=True, max_lines=None, batch_size=4096, log_every_s=10.0):
    """`(Counter of words, stats)` after BERT basic tokenization of every line.

    Lines are read and split in the graph (tensorflow-text `BasicTokenizer`,
    the same lowercasing / accent stripping as `FastBertTokenizer`); only the
    per-batch unique words and their counts cross into Python. Progress is
    logged every `log_every_s` seconds.
    """
    import tensorflow as tf
    from absl import logging
    from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer

    total_bytes = sum(check_text_file(path) for path in text_files)
    tokenizer = BasicTokenizer(lower_case=lowercase,
                                       normalization_form=None if lowercase else "NFC")
    dataset = tf.data.TextLineDataset(list(text_files))
    if max_lines:
        dataset = dataset.take(max_lines)

    def split(lines):
        # Invalid UTF-8 bytes are dropped (and the lines counted), not fatal.
        clean = tf.strings.unicode_transcode(lines, "UTF-8", "UTF-8", errors="ignore")
        words = tokenizer.tokenize(clean).flat_values
        unique, _, counts = tf.unique_with_counts(words)
        return {
            "words": unique, "counts": counts,
            "bytes": tf.reduce_sum(tf.strings.length(lines)) + tf.size(lines),
            "lines": tf.size(lines),
            "invalid_utf8_lines": tf.reduce_sum(tf.cast(tf.not_equal(clean, lines), tf.int32)),
        }

    dataset = dataset.batch(batch_size).map(split, num_parallel_calls=tf.data.AUTOTUNE)
    counter = collections.Counter()
    stats = collections.Counter()
    last_log = time.time()
    for batch in dataset.prefetch(2).as_numpy_iterator():
        counter.update(dict(zip(batch["words"].tolist(), batch["counts"].tolist())))
        for key in ("bytes", "lines", "invalid_utf8_lines"):
            stats[key] += int(batch[key])
        if time.time() - last_log > log_every_s:
            last_log = time.time()
            logging.info("counting words: %.1f / %.1f MB, %d lines, %d distinct words",
                         stats["bytes"] / 1e6, total_bytes / 1e6, stats["lines"], len(counter))
    counts = collections.Counter({word.decode("utf-8"): n for word, n in counter.items()})
    stats["words"] = sum(counts.values())
    stats["distinct_words"] = len(counts)
    return counts, dict(stats)


def train_vocabulary(
    text_files,
    output_path,
    vocabulary_size,
    lowercase=True,
    reserved_tokens=REQUIRED_TOKENS,
    max_lines=None,
    min_frequency=2,
):
    """Trains a WordPiece vocabulary with tensorflow-text's WordPiece learner.

    The same learner keras-hub's `compute_word_piece_vocabulary` wraps, fed
    by a faster in-graph word count (`count_words`). Writes `output_path`
    atomically (temp name, then rename) and returns the token list:
    `reserved_tokens` first, in order, then at most `vocabulary_size` in all.

    Args:
        text_files: text file paths.
        output_path: where to write `vocab.txt`.
        vocabulary_size: target size (the learner may land a few % below).
        lowercase: uncased vocabulary (lowercase + strip accents).
        reserved_tokens: tokens placed first (must include the five special ones).
        max_lines: train on at most this many lines.
        min_frequency: lower bound of the learner's frequency threshold.

    Example:

    >>> vocab = train_vocabulary(["corpus.txt"], "vocab.txt", 8000)  # doctest: +SKIP
    >>> vocab[:5]  # doctest: +SKIP
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    """
    from absl import logging
    from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

    missing = [token for token in REQUIRED_TOKENS if token not in reserved_tokens]
    if missing:
        raise ValueError(f"reserved_tokens: missing required special token(s) {missing}.")
    counts, stats = count_words(text_files, lowercase=lowercase, max_lines=max_lines)
    if not counts:
        raise ValueError(f"{', '.join(text_files)}: no words to learn a vocabulary from.")
    if stats["invalid_utf8_lines"]:
        logging.warning("%d line(s) had invalid UTF-8 bytes; those bytes were dropped.",
                        stats["invalid_utf8_lines"])
    logging.info("learning %d WordPieces from %d distinct words", vocabulary_size,
                 stats["distinct_words"])
    vocabulary = learner.learn(
        counts, vocab_size=vocabulary_size, reserved_tokens=list(reserved_tokens),
        lower_thresh=min_frequency, include_joiner_token=True, joiner="##")
    # Whitespace can never be a WordPiece (the tokenizer splits on it); a
    # token holding some would make FastBertTokenizer stop splitting words.
    vocabulary = [token for token in vocabulary[:vocabulary_size]
                  if token.strip() and not any(ch.isspace() for ch in token)]
    write_vocabulary(vocabulary, output_path)
    return vocabulary


def write_vocabulary(tokens, path):
    """One token per line, written atomically."""
    atomic_write_text(path, "".join(token + "\n" for token in tokens))
