"""WordPiece vocabularies: reading, special-token ids, training.

Special-token ids always come from the vocabulary file (BERT's uncased vocab
has `[PAD]`=0, `[UNK]`=100, `[CLS]`=101, `[SEP]`=102, `[MASK]`=103; the
vocabularies this package trains put them at 0-4).
"""

import collections
import os

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


def train_vocabulary(
    text_files,
    output_path,
    vocabulary_size,
    lowercase=True,
    reserved_tokens=REQUIRED_TOKENS,
    max_lines=None,
):
    """Trains a WordPiece vocabulary with keras-hub / tensorflow-text tools.

    Writes `output_path` atomically (temp name, then rename) and returns the
    token list. `reserved_tokens` come first, in order.
    """
    import keras_hub
    import tensorflow as tf

    dataset = tf.data.TextLineDataset(list(text_files))
    dataset = dataset.filter(lambda line: tf.strings.length(line) > 0)
    if max_lines:
        dataset = dataset.take(max_lines)
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        dataset.batch(1024),
        vocabulary_size=vocabulary_size,
        lowercase=lowercase,
        strip_accents=lowercase,
        reserved_tokens=list(reserved_tokens),
    )
    # The trainer can emit " " and "## " (from Unicode spaces that its
    # normalisation turns into ASCII ones); FastBertTokenizer then stops
    # splitting on whitespace altogether, so such tokens are dropped.
    vocabulary = [token for token in vocabulary if token.strip() and not any(
        ch.isspace() for ch in token)]
    write_vocabulary(vocabulary, output_path)
    return vocabulary


def write_vocabulary(tokens, path):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        for token in tokens:
            f.write(token + "\n")
    os.replace(tmp, path)
