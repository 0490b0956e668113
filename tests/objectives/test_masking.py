import numpy as np
import tensorflow as tf

from keras_electra.objectives.masking import mask_tokens, maskable_positions, scatter_tokens
from tests.test_case import CLS, MASK, PAD, SEP, SPECIAL_IDS

IDS = tf.constant([[CLS, 10, 11, 12, 13, SEP, 20, 21, SEP, PAD],
                   [CLS, 30, 31, SEP, PAD, PAD, PAD, PAD, PAD, PAD]])
INPUT_MASK = tf.cast(IDS != PAD, tf.int32)


def _mask(ids=IDS, input_mask=INPUT_MASK, mask_prob=0.15, mask_token_prob=0.85, n=4, seed=(3, 4)):
    return mask_tokens(ids, input_mask, SPECIAL_IDS, MASK, mask_prob, mask_token_prob, n, seed)


def test_maskable_positions_excludes_special_and_padding():
    expected = [[0, 1, 1, 1, 1, 0, 1, 1, 0, 0], [0, 1, 1, 0, 0, 0, 0, 0, 0, 0]]
    got = maskable_positions(IDS, INPUT_MASK, SPECIAL_IDS)
    np.testing.assert_array_equal(tf.cast(got, tf.int32), expected)


def test_masks_every_maskable_token_exactly():
    # mask_prob high enough to take every maskable token, all become [MASK].
    out = _mask(mask_prob=0.99, mask_token_prob=1.0, n=6)
    expected_ids = [[CLS, MASK, MASK, MASK, MASK, SEP, MASK, MASK, SEP, PAD],
                    [CLS, MASK, MASK, SEP, PAD, PAD, PAD, PAD, PAD, PAD]]
    np.testing.assert_array_equal(out.input_ids, expected_ids)
    np.testing.assert_array_equal(out.weights, [[1] * 6, [1, 1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(np.sort(out.positions[0]), [1, 2, 3, 4, 6, 7])
    np.testing.assert_array_equal(np.sort(out.positions[1][:2]), [1, 2])
    np.testing.assert_array_equal(out.positions[1][2:], [0, 0, 0, 0])
    # Targets are the original ids at the chosen positions, 0 in padding slots.
    np.testing.assert_array_equal(out.targets, tf.gather(IDS, out.positions, batch_dims=1)
                                  * tf.cast(out.weights, tf.int32))
    np.testing.assert_array_equal(out.targets[1][2:], [0, 0, 0, 0])


def test_keep_fraction_zero_changes_nothing_but_still_predicts():
    out = _mask(mask_prob=0.5, mask_token_prob=0.0)
    np.testing.assert_array_equal(out.input_ids, IDS)
    # round(0.5 * 6) = 3 in row 0, round(0.5 * 2) = 1 in row 1.
    np.testing.assert_array_equal(tf.reduce_sum(out.weights, -1), [3, 1])


def test_count_is_round_of_rate_with_at_least_one():
    out = _mask(mask_prob=0.15)
    # round(0.9) = 1 and round(0.3) = 0 -> at least one per row with candidates.
    np.testing.assert_array_equal(tf.reduce_sum(out.weights, -1), [1, 1])
    no_candidates = tf.constant([[CLS, SEP, PAD]])
    out = _mask(ids=no_candidates, input_mask=tf.constant([[1, 1, 0]]), n=2)
    np.testing.assert_array_equal(out.weights, [[0, 0]])
    np.testing.assert_array_equal(out.input_ids, no_candidates)


def test_same_seed_same_mask_other_seed_other_mask():
    ids = tf.constant(np.random.default_rng(0).integers(5, 1000, (8, 128)), tf.int32)
    mask = tf.ones_like(ids)
    a = _mask(ids, mask, n=20, seed=(1, 2))
    b = _mask(ids, mask, n=20, seed=(1, 2))
    c = _mask(ids, mask, n=20, seed=(1, 3))
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.input_ids, b.input_ids)
    assert not np.array_equal(a.positions, c.positions)


def test_statistics_over_many_positions():
    rng = np.random.default_rng(0)
    batch, seq = 256, 128
    lengths = rng.integers(20, seq + 1, batch)
    ids = rng.integers(5, 30000, (batch, seq))
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int32)
    ids = np.where(mask == 1, ids, PAD)
    ids[:, 0] = CLS
    ids[np.arange(batch), lengths - 1] = SEP
    out = _mask(tf.constant(ids, tf.int32), tf.constant(mask), n=20, seed=(7, 7))

    candidates = mask.sum() - 2 * batch
    assert candidates > 10_000
    chosen = float(tf.reduce_sum(out.weights))
    rate = chosen / candidates
    sigma = np.sqrt(0.15 * 0.85 / candidates)
    assert abs(rate - 0.15) < 4 * sigma, rate

    replaced_with_mask = float(tf.reduce_sum(tf.cast(out.input_ids == MASK, tf.float32)))
    share = replaced_with_mask / chosen
    sigma = np.sqrt(0.85 * 0.15 / chosen)
    assert abs(share - 0.85) < 4 * sigma, share

    # Positions are uniform over the maskable span: first vs second half of each row.
    positions = out.positions.numpy()[out.weights.numpy() > 0]
    rows = np.nonzero(out.weights.numpy() > 0)[0]
    first_half = np.mean(positions < (lengths[rows] / 2))
    assert abs(first_half - 0.5) < 4 * np.sqrt(0.25 / len(positions)), first_half

    # Never a special token or padding; unchosen positions untouched.
    chosen_mask = np.zeros_like(ids, dtype=bool)
    np.put_along_axis(chosen_mask, out.positions.numpy(), out.weights.numpy() > 0, axis=1)
    assert not np.any(chosen_mask & np.isin(ids, [CLS, SEP, PAD]))
    np.testing.assert_array_equal(out.input_ids.numpy()[~chosen_mask], ids[~chosen_mask])


def test_scatter_tokens_writes_only_weighted_slots():
    ids = tf.constant([[5, 6, 7, 8]])
    out = scatter_tokens(ids, tf.constant([[2, 0]]), tf.constant([[1.0, 0.0]]), tf.constant([[40, 41]]))
    np.testing.assert_array_equal(out, [[5, 6, 40, 8]])


def test_compiles_with_xla_static_shapes():
    # XLA's stateless RNG draws other numbers than the eager kernel; the
    # invariants must hold all the same.
    fn = tf.function(lambda ids, m: _mask(ids, m, mask_prob=0.99, mask_token_prob=1.0, n=6),
                     jit_compile=True)
    out = fn(IDS, INPUT_MASK)
    np.testing.assert_array_equal(out.input_ids, _mask(mask_prob=0.99, mask_token_prob=1.0,
                                                       n=6).input_ids)
    assert out.positions.shape == (2, 6)
