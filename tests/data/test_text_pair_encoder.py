"""`TextPairEncoder` and `pack_pair`: the original `featurize` + `_truncate_seq_pair`, in-graph."""

import doctest
import itertools

import numpy as np
import pytest
import tensorflow as tf

from keras_electra.data import text_pair_encoder
from keras_electra.data.text_pair_encoder import TextPairEncoder, pack_pair, truncate_longest_first
from keras_electra.data.vocab import write_vocabulary

# [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, then words from 5.
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat",
         "dog", "ran", "##s", ".", "big"]
ID = {token: i for i, token in enumerate(VOCAB)}


def _reference(tokens_a, tokens_b, max_seq_length):
    """google-research/electra `SingleOutputTask.featurize`, in plain Python."""
    tokens_a, tokens_b = list(tokens_a), (list(tokens_b) if tokens_b else None)
    if tokens_b:
        while len(tokens_a) + len(tokens_b) > max_seq_length - 3:  # _truncate_seq_pair
            if len(tokens_a) > len(tokens_b):
                tokens_a.pop()
            else:
                tokens_b.pop()
    else:
        tokens_a = tokens_a[:max_seq_length - 2]
    ids = [ID["[CLS]"], *tokens_a, ID["[SEP]"]]
    segments = [0] * len(ids)
    if tokens_b:
        ids += [*tokens_b, ID["[SEP]"]]
        segments += [1] * (len(tokens_b) + 1)
    mask = [1] * len(ids)
    padding = max_seq_length - len(ids)
    return ids + [0] * padding, mask + [0] * padding, segments + [0] * padding


@pytest.fixture
def vocab_file(tmp_path):
    path = tmp_path / "vocab.txt"
    write_vocabulary(VOCAB, str(path))
    return str(path)


def test_exact_ids_of_a_pair_and_a_single_sentence(vocab_file):
    encoder = TextPairEncoder(vocab_file, max_seq_length=10)
    # a = the cat ##s sat . (5), b = on the mat (3): a loses "." to fit 10 - 3.
    features = encoder(tf.constant(["The cats sat.", "Big dog"]),
                       tf.constant(["on the mat", "zebra"]))
    assert features["input_ids"].numpy().tolist() == [
        [2, 5, 6, 12, 7, 3, 8, 5, 9, 3],  # [CLS] the cat ##s sat [SEP] on the mat [SEP]
        [2, 14, 10, 3, 1, 3, 0, 0, 0, 0],  # an unknown word is [UNK]
    ]
    assert features["segment_ids"].numpy().tolist() == [
        [0, 0, 0, 0, 0, 0, 1, 1, 1, 1],
        [0, 0, 0, 0, 1, 1, 0, 0, 0, 0],
    ]
    assert features["input_mask"].numpy().tolist() == [[1] * 10, [1] * 6 + [0] * 4]
    assert all(value.dtype == tf.int32 for value in features.values())

    single = encoder(tf.constant(["the cat sat on the big mat ran ran ran"]))
    assert single["input_ids"].numpy().tolist() == [[2, 5, 6, 7, 8, 5, 14, 9, 11, 3]]
    assert single["segment_ids"].numpy().tolist() == [[0] * 10]


def test_truncation_matches_the_original_loop_for_every_length():
    lengths = list(itertools.product(range(9), range(9)))
    a = tf.ragged.constant([[5 + i for i in range(la)] for la, _ in lengths],
                           dtype=tf.int32, ragged_rank=1)
    b = tf.ragged.constant([[20 + i for i in range(lb)] for _, lb in lengths],
                           dtype=tf.int32, ragged_rank=1)
    for max_seq_length in range(3, 14):
        features = pack_pair(a, b, max_seq_length, cls_id=2, sep_id=3)
        for row, (la, lb) in enumerate(lengths):
            expected = _reference(range(5, 5 + la), range(20, 20 + lb), max_seq_length)
            actual = tuple(features[name][row].numpy().tolist()
                           for name in ("input_ids", "input_mask", "segment_ids"))
            assert actual == expected, (la, lb, max_seq_length)


def test_closed_form_equals_the_loop():
    for la, lb, budget in itertools.product(range(12), range(12), range(12)):
        a, b = la, lb
        while a + b > budget:
            if a > b:
                a -= 1
            else:
                b -= 1
        assert [int(n) for n in truncate_longest_first(la, lb, budget)] == [a, b]


def test_an_empty_second_text_packs_as_a_single_sentence(vocab_file):
    # The original tests `if tokens_b:`: no second [SEP], and the budget is max_seq_length - 2.
    encoder = TextPairEncoder(vocab_file, max_seq_length=6)
    features = encoder(tf.constant(["the cat sat on the mat"]), tf.constant(["  "]))
    assert features["input_ids"].numpy().tolist() == [[2, 5, 6, 7, 8, 3]]
    assert features["segment_ids"].numpy().tolist() == [[0] * 6]


def test_scalar_input_lowercasing_and_use_in_tf_data(tmp_path, vocab_file):
    encoder = TextPairEncoder(vocab_file, max_seq_length=6)
    assert encoder("THE Cat")["input_ids"].numpy().tolist() == [2, 5, 6, 3, 0, 0]
    cased = TextPairEncoder(vocab_file, max_seq_length=6, lowercase=False)
    assert cased("THE cat")["input_ids"].numpy().tolist() == [2, 1, 6, 3, 0, 0]

    dataset = tf.data.Dataset.from_tensor_slices((["the cat", "a dog"], ["sat", "ran"]))
    dataset = dataset.batch(2).map(encoder)
    batch = next(iter(dataset))
    assert batch["input_ids"].shape == (2, 6)
    np.testing.assert_array_equal(batch["input_ids"][0], [2, 5, 6, 3, 7, 3])
    assert batch["input_ids"].numpy()[1].tolist() == [2, 1, 10, 3, 11, 3]  # "a" is [UNK]


def test_errors(tmp_path, vocab_file):
    with pytest.raises(ValueError, match="max_seq_length must be >= 3"):
        TextPairEncoder(vocab_file, max_seq_length=2)
    with pytest.raises(ValueError, match="vocabulary file not found"):
        TextPairEncoder(str(tmp_path / "missing.txt"), max_seq_length=8)


def test_docstring_examples():
    assert doctest.testmod(text_pair_encoder).failed == 0
