"""Scoring raw text with a trained discriminator: which tokens look replaced?"""

import numpy as np

from keras_electra.data.tokenizer import make_tokenizer


def replaced_token_probabilities(pretrainer, vocab_file, texts, lowercase=True):
    """Per-token replaced probabilities for each text.

    Each text becomes `[CLS] tokens [SEP]` (truncated to the model's position
    table); the discriminator scores every token.

    Args:
        pretrainer: an `ElectraPretrainer`.
        vocab_file: the WordPiece vocabulary the model was trained with.
        texts: a list of strings.
        lowercase: as the model's vocabulary.

    Returns:
        A list (one per text) of `(token, probability)` pairs, `[CLS]`/`[SEP]`
        excluded.

    Example:

    >>> pairs = replaced_token_probabilities(pretrainer, "vocab.txt",  # doctest: +SKIP
    ...                                      ["the cat sat on the mat"])
    """
    tokenizer, vocabulary, special = make_tokenizer(vocab_file, lowercase)
    max_length = pretrainer.embeddings.max_sequence_length
    rows = [
        [special.cls] + list(ids[: max_length - 2]) + [special.sep]
        for ids in tokenizer.tokenize(list(texts)).to_list()
    ]
    length = max(len(row) for row in rows)
    input_ids = np.full((len(rows), length), special.pad, np.int32)
    input_mask = np.zeros((len(rows), length), np.int32)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = row
        input_mask[i, : len(row)] = 1
    probabilities = np.asarray(pretrainer({
        "input_ids": input_ids, "input_mask": input_mask,
        "segment_ids": np.zeros_like(input_ids)}))
    return [
        [(vocabulary[token], float(p)) for token, p in zip(row[1:-1], probabilities[i, 1:len(row) - 1])]
        for i, row in enumerate(rows)
    ]
