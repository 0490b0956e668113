import numpy as np
import tensorflow as tf

from keras_electra.objectives.sampling import replace_tokens, sample_from_logits


def _frequencies(logits, temperature, n=20_000):
    tiled = tf.tile(tf.constant([logits], tf.float32), [n, 1])
    samples = sample_from_logits(tiled, temperature, seed=[5, 6]).numpy()
    return np.bincount(samples, minlength=len(logits)) / n


def _within_4_sigma(freq, probs, n=20_000):
    sigma = np.sqrt(probs * (1 - probs) / n)
    return bool(np.all(np.abs(freq - probs) < 4 * sigma + 1e-9))


def test_gumbel_max_matches_softmax():
    logits = np.array([2.0, 1.0, 0.0, -1.0])
    probs = np.exp(logits) / np.exp(logits).sum()
    freq = _frequencies(logits, 1.0)
    assert _within_4_sigma(freq, probs), (freq, probs)


def test_temperature_flattens():
    logits = np.array([2.0, 1.0, 0.0, -1.0])
    probs = np.exp(logits / 2.0) / np.exp(logits / 2.0).sum()
    freq = _frequencies(logits, 2.0)
    assert _within_4_sigma(freq, probs), (freq, probs)
    # ...and differs from the temperature-1 distribution.
    assert not _within_4_sigma(freq, np.exp(logits) / np.exp(logits).sum())


def test_float32_and_same_seed():
    logits = tf.random.stateless_normal([64, 100], seed=[1, 1])
    a = sample_from_logits(logits, 1.0, [9, 9])
    b = sample_from_logits(tf.cast(logits, tf.float16), 1.0, [9, 9])
    assert a.dtype == tf.int32
    # Half-precision logits are upcast before adding noise: same draws almost everywhere.
    assert np.mean(a.numpy() == b.numpy()) > 0.95
    np.testing.assert_array_equal(a, sample_from_logits(logits, 1.0, [9, 9]))


def test_replace_tokens_labels_sample_equal_to_original_is_original():
    ids = tf.constant([[2, 10, 11, 12, 3, 0]])
    positions = tf.constant([[1, 2, 3, 0]])
    weights = tf.constant([[1.0, 1.0, 1.0, 0.0]])
    sampled = tf.constant([[10, 99, 98, 77]])  # slot 0 re-draws the original; slot 3 is padding
    corrupted, labels = replace_tokens(ids, positions, weights, sampled)
    np.testing.assert_array_equal(corrupted, [[2, 10, 99, 98, 3, 0]])
    np.testing.assert_array_equal(labels, [[0, 0, 1, 1, 0, 0]])
