"""The in-graph WordPiece tokenizer used by the pipelines (tensorflow-text)."""

import tensorflow as tf
import tensorflow_text as tf_text

from keras_electra.data.vocab import load_vocabulary, special_token_ids


def make_tokenizer(vocab_file, lowercase=True):
    """`(tokenizer, vocabulary, special_ids)` for a `vocab.txt`.

    The tokenizer is tensorflow-text's `FastBertTokenizer` (BERT basic
    tokenization + WordPiece in one C++ op); `tokenizer.tokenize(strings)`
    returns a `(batch, tokens)` ragged int32 tensor.
    """
    vocabulary = load_vocabulary(vocab_file)
    special = special_token_ids(vocabulary, source=vocab_file)
    tokenizer = tf_text.FastBertTokenizer(
        vocab=vocabulary,
        token_out_type=tf.int32,
        unknown_token="[UNK]",
        lower_case_nfd_strip_accents=lowercase,
    )
    return tokenizer, vocabulary, special
