"""WordPiece features of tagged sentences: first-piece labels, truncation, batches."""

import doctest

import numpy as np
import pytest

from keras_electra.data.tasks import tagging_dataset as tagging_dataset_module
from keras_electra.data.tasks.conll import word_predictions
from keras_electra.data.tasks.tagged_sentence import TaggedSentence
from keras_electra.data.tasks.tagging_dataset import (
    encode_tagged_sentences, predicted_words, tagging_dataset)
from keras_electra.data.tokenizer import make_tokenizer
from keras_electra.data.vocab import write_vocabulary

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "mr", "smith", "##son", "in", "lon",
         "##don", "."]
TAGS = ["O", "B-LOC", "B-PER", "I-PER"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    write_vocabulary(VOCAB, str(path))
    return make_tokenizer(str(path))


def test_labels_sit_on_first_pieces_and_truncation_cuts_trailing_words(tokenizer):
    tok, _, special = tokenizer
    sentences = [
        # "Mr." splits on punctuation into two pieces; "\u200b" has none and becomes [UNK].
        TaggedSentence(("Mr.", "Smithson", "\u200b", "in", "London"),
                       ("O", "B-PER", "O", "O", "B-LOC"), 1),
        TaggedSentence(("London",), ("B-LOC",), 8),
    ]
    encoded = encode_tagged_sentences(sentences, tok, special, 8, TAGS)
    # [CLS] mr . smith ##son [UNK] in [SEP]: 6 pieces fit, "London" is cut.
    assert encoded["input_ids"].tolist() == [[2, 5, 11, 6, 7, 1, 8, 3],
                                             [2, 9, 10, 3, 0, 0, 0, 0]]
    assert encoded["input_mask"].tolist() == [[1] * 8, [1, 1, 1, 1, 0, 0, 0, 0]]
    assert not encoded["segment_ids"].any()
    assert encoded["word_ids"].tolist() == [[-1, 0, 0, 1, 1, 2, 3, -1],
                                            [-1, 0, 0, -1, -1, -1, -1, -1]]
    assert encoded["label_weights"].tolist() == [[0, 1, 0, 1, 0, 1, 1, 0],
                                                 [0, 1, 0, 0, 0, 0, 0, 0]]
    assert encoded["labels"].tolist() == [[0, 0, 0, 2, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0]]
    assert predicted_words(encoded).tolist() == [4, 1]
    piece_tags = np.array(TAGS)[encoded["labels"][0]]
    assert word_predictions(piece_tags, encoded["word_ids"][0], 5, "O") == \
        ["O", "B-PER", "O", "O", "O"]


def test_unknown_tag_is_an_error(tokenizer):
    tok, _, special = tokenizer
    with pytest.raises(ValueError, match=r"sentence at line 3: tag 'B-ORG' is not one of"):
        encode_tagged_sentences([TaggedSentence(("in",), ("B-ORG",), 3)], tok, special, 8, TAGS)


def test_training_batches_are_full_weighted_and_repeat(tokenizer):
    tok, _, special = tokenizer
    sentences = [TaggedSentence(("Mr", "Smith"), ("O", "B-PER"), i) for i in range(5)]
    encoded = encode_tagged_sentences(sentences, tok, special, 6, TAGS)
    batches = list(tagging_dataset(encoded, 2, is_training=True, seed=0).take(4))
    for features, labels, weights in batches:
        assert features["input_ids"].shape == (2, 6)
        assert labels.numpy().tolist() == [[0, 0, 2, 0, 0, 0]] * 2
        assert weights.numpy().tolist() == [[0, 1, 1, 0, 0, 0]] * 2
    eval_batches = list(tagging_dataset(encoded, 2))
    assert [b["input_ids"].shape[0] for b in eval_batches] == [2, 2, 1]
    with pytest.raises(ValueError, match=r"no labels; pass tags="):
        tagging_dataset(encode_tagged_sentences(sentences, tok, special, 6), 2, is_training=True)


def test_docstring_examples():
    assert doctest.testmod(tagging_dataset_module).failed == 0
