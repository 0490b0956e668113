"""`glue_dataset`: GLUE examples -> encoded `tf.data` batches with the original's labels."""

import doctest

import numpy as np
import pytest

from keras_electra.data.tasks import glue_dataset as glue_dataset_module
from keras_electra.data.tasks.glue import GLUE_TASKS, parse_glue_file
from keras_electra.data.tasks.glue_dataset import (
    decode_predictions, glue_dataset, glue_labels, with_swapped_pairs)
from keras_electra.data.tasks.task_example import TaskExample
from keras_electra.data.text_pair_encoder import TextPairEncoder
from keras_electra.data.vocab import write_vocabulary

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "bad", "film", "man",
         "dances", "is", "dancing", "."]
ID = {token: i for i, token in enumerate(VOCAB)}


@pytest.fixture
def encoder(tmp_path):
    path = tmp_path / "vocab.txt"
    write_vocabulary(VOCAB, str(path))
    return TextPairEncoder(str(path), max_seq_length=8)


def _ids(*tokens):
    ids = [ID[token] for token in tokens]
    return ids + [0] * (8 - len(ids))


def test_sst2_file_to_exact_batches(tmp_path, encoder):
    path = tmp_path / "dev.tsv"
    path.write_text("sentence\tlabel\na good film . \t1\na bad film\t0\nbad , bad film\t0\n")
    examples, _ = parse_glue_file(GLUE_TASKS["sst2"], path, "dev")
    batches = list(glue_dataset(examples, GLUE_TASKS["sst2"], encoder, batch_size=2))
    assert len(batches) == 2  # one pass, the last batch partial
    features, labels = batches[0]
    assert features["input_ids"].numpy().tolist() == [
        _ids("[CLS]", "a", "good", "film", ".", "[SEP]"),
        _ids("[CLS]", "a", "bad", "film", "[SEP]")]
    assert features["segment_ids"].numpy().tolist() == [[0] * 8] * 2
    assert labels.numpy().tolist() == [1, 0]
    features, labels = batches[1]
    assert features["input_ids"].numpy().tolist() == [
        _ids("[CLS]", "bad", "[UNK]", "bad", "film", "[SEP]")]
    assert labels.numpy().tolist() == [0]


def test_stsb_pairs_truncate_longest_first_and_scale_scores(tmp_path, encoder):
    examples = [TaskExample("dev-0", "a man is dancing .", "a man dances", 3.8),
                TaskExample("dev-1", "a man", "a man is dancing .", 0.0)]
    features, labels = next(iter(glue_dataset(examples, GLUE_TASKS["stsb"], encoder, 2)))
    # 8 - 3 = 5 tokens for both texts: the longer loses tokens until they are 3 + 2 ...
    assert features["input_ids"].numpy().tolist() == [
        [2, ID["a"], ID["man"], ID["is"], 3, ID["a"], ID["man"], 3],
        # ... or the shorter one (2 tokens) is kept whole and the longer gets the rest.
        [2, ID["a"], ID["man"], 3, ID["a"], ID["man"], ID["is"], 3]]
    assert features["segment_ids"].numpy().tolist() == [[0, 0, 0, 0, 0, 1, 1, 1],
                                                        [0, 0, 0, 0, 1, 1, 1, 1]]
    assert labels.dtype.name == "float32"
    np.testing.assert_allclose(labels.numpy(), [3.8 / 5, 0.0], rtol=1e-6)


def test_labels_follow_the_task_label_order():
    examples = [TaskExample(f"dev-{i}", "a", "b", label)
                for i, label in enumerate(["neutral", "contradiction", "entailment"])]
    labels = glue_labels(examples, GLUE_TASKS["mnli"])  # contradiction, entailment, neutral
    assert labels.dtype == np.int32 and labels.tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match="mnli: example test-0 has no label"):
        glue_labels([TaskExample("test-0", "a", "b", None)], GLUE_TASKS["mnli"])


def test_decode_predictions_inverts_the_labels():
    task = GLUE_TASKS["stsb"]
    scores = np.array([0.0, 1.25, 5.0])
    examples = [TaskExample(f"d-{i}", "a", "b", s) for i, s in enumerate(scores)]
    np.testing.assert_allclose(decode_predictions(glue_labels(examples, task), task), scores,
                               rtol=1e-6)
    logits = np.array([[0.0, 1.0, -1.0], [2.0, 0.0, 0.0]])
    assert decode_predictions(logits, GLUE_TASKS["mnli"]).tolist() == [1, 0]


def test_training_dataset_shuffles_repeats_and_keeps_batches_full(encoder):
    words = ["a", "good", "bad", "film", "man"]
    examples = [TaskExample(f"train-{i}", word, None, str(i % 2))
                for i, word in enumerate(words)]
    dataset = glue_dataset(examples, GLUE_TASKS["sst2"], encoder, batch_size=2,
                           is_training=True, seed=3)
    batches = list(dataset.take(10))  # 20 examples: 4 passes over the 5
    assert all(features["input_ids"].shape == (2, 8) for features, _ in batches)
    seen = [int(ids[1]) for features, _ in batches for ids in features["input_ids"].numpy()]
    passes = [seen[i:i + 5] for i in range(0, 20, 5)]
    for order in passes:
        assert sorted(order) == sorted(ID[word] for word in words)
    assert len({tuple(order) for order in passes}) > 1  # a new order every pass
    # Labels travel with their texts.
    for features, labels in batches:
        for ids, label in zip(features["input_ids"].numpy(), labels.numpy()):
            assert label == words.index(VOCAB[ids[1]]) % 2
    # The same seed gives the same order.
    again = glue_dataset(examples, GLUE_TASKS["sst2"], encoder, 2, is_training=True, seed=3)
    assert [int(ids[1]) for features, _ in again.take(10)
            for ids in features["input_ids"].numpy()] == seen


def test_unlabelled_examples_give_features_only(encoder):
    examples = [TaskExample("test-0", "a good film", None, None)]
    batch = next(iter(glue_dataset(examples, GLUE_TASKS["sst2"], encoder, 4)))
    assert sorted(batch) == ["input_ids", "input_mask", "segment_ids"]


def test_inconsistent_examples_are_errors(encoder):
    task = GLUE_TASKS["sst2"]
    with pytest.raises(ValueError, match="sst2: no examples"):
        glue_dataset([], task, encoder, 2)
    with pytest.raises(ValueError, match="mix labelled and unlabelled"):
        glue_dataset([TaskExample("d-0", "a", None, "1"), TaskExample("d-1", "a", None, None)],
                     task, encoder, 2)
    with pytest.raises(ValueError, match="mix single sentences and pairs"):
        glue_dataset([TaskExample("d-0", "a", None, "1"), TaskExample("d-1", "a", "b", "1")],
                     task, encoder, 2)


def test_swapped_pairs_double_the_data():
    examples = [TaskExample("train-0", "a", "b", 1.0), TaskExample("train-1", "c", "d", 2.0)]
    doubled = with_swapped_pairs(examples)
    assert doubled[:2] == examples
    assert [(e.text_a, e.text_b, e.label) for e in doubled[2:]] == [("b", "a", 1.0),
                                                                   ("d", "c", 2.0)]


def test_docstring_examples():
    assert doctest.testmod(glue_dataset_module).failed == 0
