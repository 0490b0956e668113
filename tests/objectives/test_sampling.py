import numpy as np
import tensorflow as tf

from keras_electra.objectives.sampling import (
    inverse_cdf, replace_tokens, sample_from_logits, sampling_uniforms)


def _frequencies(logits, temperature, n=20_000):
    tiled = tf.tile(tf.constant([logits], tf.float32), [n, 1])
    samples = sample_from_logits(tiled, temperature, seed=[5, 6]).numpy()
    return np.bincount(samples, minlength=len(logits)) / n


def _within_4_sigma(freq, probs, n=20_000):
    sigma = np.sqrt(probs * (1 - probs) / n)
    return bool(np.all(np.abs(freq - probs) < 4 * sigma + 1e-9))


def test_samples_match_softmax():
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


def test_fifty_way_distribution_passes_chi_square():
    from scipy import stats

    logits = tf.random.stateless_normal([50], [2, 3]) * 2.0
    probs = tf.nn.softmax(tf.cast(logits, tf.float64)).numpy()
    counts = np.bincount(sample_from_logits(tf.tile(logits[None], [50_000, 1]), 1.0, [8, 8]),
                         minlength=50)
    assert stats.chisquare(counts, probs * 50_000).pvalue > 1e-4


def test_per_example_seeds_draw_each_row_from_its_own_seed():
    logits = tf.random.stateless_normal([3, 5, 40], [1, 4])
    seeds = tf.constant([[1, 2], [3, 4], [5, 6]], tf.int64)
    batch = sample_from_logits(logits, 1.0, seeds).numpy()
    for b in range(3):
        np.testing.assert_array_equal(batch[b], sample_from_logits(logits[b], 1.0, seeds[b]))
    assert len({tuple(row) for row in batch}) > 1


def test_compiles_with_xla_with_per_example_int64_seeds():
    logits = tf.math.log(tf.constant([[[0.5, 0.3, 0.15, 0.05]] * 200] * 100))
    seeds = tf.stack([tf.range(100, dtype=tf.int64) * 2**40, tf.zeros([100], tf.int64)], 1)
    samples = tf.function(lambda l, s: sample_from_logits(l, 1.0, s), jit_compile=True)(
        logits, seeds).numpy()
    freq = np.bincount(samples.ravel(), minlength=4) / samples.size
    assert _within_4_sigma(freq, np.array([0.5, 0.3, 0.15, 0.05])), freq


def test_bfloat16_logits_are_sampled_as_their_float32_values():
    logits = tf.cast(tf.random.stateless_normal([64, 100], [2, 2]), tf.bfloat16)
    np.testing.assert_array_equal(sample_from_logits(logits, 1.0, [4, 4]),
                                  sample_from_logits(tf.cast(logits, tf.float32), 1.0, [4, 4]))


def test_float32_and_same_seed():
    logits = tf.random.stateless_normal([64, 100], seed=[1, 1])
    a = sample_from_logits(logits, 1.0, [9, 9])
    b = sample_from_logits(tf.cast(logits, tf.float16), 1.0, [9, 9])
    assert a.dtype == tf.int32
    # Half-precision logits are upcast, and the rounding moves few draws.
    assert np.mean(a.numpy() == b.numpy()) > 0.95
    np.testing.assert_array_equal(a, sample_from_logits(logits, 1.0, [9, 9]))


def test_inverse_cdf_is_the_float64_search_of_the_whole_row():
    rng = np.random.default_rng(3)
    weights = rng.exponential(size=(64, 300)) * (rng.random((64, 300)) < 0.7)  # 30% zeros
    weights[5] = 0.0
    weights[5, 299] = 2.0  # all mass on the last entry, in the padded last block
    uniforms = rng.random(64)
    uniforms[:3] = 0.0  # the first entry of weight
    want = [np.searchsorted(np.cumsum(w), u * w.sum(), side="right")
            for w, u in zip(weights, uniforms)]
    for block in (128, 7, 300, 1000):  # (300 = 2 * 128 + 44: a padded last block)
        got = inverse_cdf(tf.constant(weights, tf.float32), tf.constant(uniforms), block)
        np.testing.assert_array_equal(got, want)
    assert got[5] == 299 and all(weights[np.arange(64), got] > 0)


def test_inverse_cdf_draws_no_entry_of_weight_zero():
    weights = tf.constant([[0.0, 1.0, 0.0, 0.0, 1.0, 0.0]] * 4000)
    uniforms = sampling_uniforms([4000], [1, 2])
    counts = np.bincount(inverse_cdf(weights, uniforms, block=2), minlength=6)
    assert counts[[0, 2, 3, 5]].sum() == 0 and abs(counts[1] - 2000) < 4 * np.sqrt(1000)


def test_sampling_uniforms_are_float64_and_per_example():
    seeds = tf.constant([[1, 2**40], [3, 4]], tf.int64)
    both = sampling_uniforms([2, 5], seeds).numpy()
    assert both.dtype == np.float64 and np.all((both >= 0) & (both < 1))
    np.testing.assert_array_equal(both[1], sampling_uniforms([1, 5], seeds[1:]).numpy()[0])
    # int64 seeds are folded modulo 2**31 - 1.
    folded = [[1, 2**40 % (2**31 - 1)]]
    np.testing.assert_array_equal(both[0], sampling_uniforms([1, 5], folded)[0])


def test_replace_tokens_labels_sample_equal_to_original_is_original():
    ids = tf.constant([[2, 10, 11, 12, 3, 0]])
    positions = tf.constant([[1, 2, 3, 0]])
    weights = tf.constant([[1.0, 1.0, 1.0, 0.0]])
    sampled = tf.constant([[10, 99, 98, 77]])  # slot 0 re-draws the original; slot 3 is padding
    corrupted, labels = replace_tokens(ids, positions, weights, sampled)
    np.testing.assert_array_equal(corrupted, [[2, 10, 99, 98, 3, 0]])
    np.testing.assert_array_equal(labels, [[0, 0, 1, 1, 0, 0]])
