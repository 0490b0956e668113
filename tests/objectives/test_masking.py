import numpy as np
import pytest
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


# --------------------------------------------------------------------------
# BERT's 80/10/10 masking (objective "mlm") and its random tokens.
from keras_electra.objectives.masking import bert_mask_tokens, random_replacements  # noqa: E402

VOCAB = 1000


def _bert_mask(ids=IDS, input_mask=INPUT_MASK, mask_prob=0.15, n=4, seed=(3, 4), **probs):
    return bert_mask_tokens(ids, input_mask, SPECIAL_IDS, MASK, VOCAB, mask_prob, n, seed,
                            **probs)


def test_random_replacements_exact_values():
    # Non-special ids of a 10-id vocabulary with [PAD] [CLS] [SEP] [MASK] = 0, 2, 3, 4:
    # [1, 5, 6, 7, 8, 9]; the r-th of them is drawn for r = floor(6 u).
    u = tf.random.stateless_uniform([4, 50], [11, 12]).numpy()
    expected = np.array([1, 5, 6, 7, 8, 9])[np.floor(6 * u).astype(int)]
    got = random_replacements([4, 50], 10, SPECIAL_IDS, [11, 12])
    assert got.dtype == tf.int32
    np.testing.assert_array_equal(got, expected)
    # Per-example seeds: row b is the draw of seed b.
    rows = random_replacements([2, 50], 10, SPECIAL_IDS, tf.constant([[5, 6], [11, 12]]))
    np.testing.assert_array_equal(rows[1], got[0])


def test_random_replacements_uniform_and_never_special():
    n = 60_000
    ids = random_replacements([n], 10, SPECIAL_IDS, [1, 2]).numpy()
    counts = np.bincount(ids, minlength=10)
    np.testing.assert_array_equal(counts[list(SPECIAL_IDS)], 0)
    # Six ids at 1/6 each: every count within 4 binomial sigmas (sigma = 91).
    sigma = np.sqrt(n * (1 / 6) * (5 / 6))
    assert np.all(np.abs(counts[[1, 5, 6, 7, 8, 9]] - n / 6) < 4 * sigma), counts


def test_random_replacements_refuses_an_all_special_vocabulary():
    with pytest.raises(ValueError, match="all 4 ids are special"):
        random_replacements([3], 4, [0, 1, 2, 3], [0, 0])


def test_bert_masking_exact_values():
    # The positions are mask_tokens' and the [MASK] slots are those of
    # mask_tokens(mask_token_prob=0.8) under the same seed; each slot's token
    # follows its uniform draw u (stream 1 of the seed) and the random ids
    # (stream 2): u < 0.8 -> [MASK], u < 0.9 -> random, else kept.
    ids = tf.constant(np.random.default_rng(3).integers(5, VOCAB, (6, 40)), tf.int32)
    mask = tf.ones_like(ids)
    seed = tf.constant([21, 22], tf.int64)
    out = _bert_mask(ids, mask, n=8, seed=seed)
    plain = mask_tokens(ids, mask, SPECIAL_IDS, MASK, 0.15, 0.8, 8, seed)
    for field in ("positions", "targets", "weights"):
        np.testing.assert_array_equal(getattr(out, field), getattr(plain, field))
    u = tf.random.stateless_uniform([6, 8], seed + [0, 1 << 40]).numpy()
    random_ids = random_replacements([6, 8], VOCAB, SPECIAL_IDS, seed + [0, 2 << 40]).numpy()
    expected = np.where(u < 0.8, MASK, np.where(u < 0.9, random_ids, plain.targets.numpy()))
    real = out.weights.numpy() > 0  # 6 of the 8 slots: round(0.15 * 40)
    assert real.sum() == 36
    # All three fates occur among the 36 slots.
    assert all(np.any(fate[real]) for fate in (u < 0.8, (u >= 0.8) & (u < 0.9), u >= 0.9))
    np.testing.assert_array_equal(
        tf.gather(out.input_ids, out.positions, batch_dims=1).numpy()[real], expected[real])
    np.testing.assert_array_equal(out.input_ids == MASK, plain.input_ids == MASK)
    # Everything else is untouched.
    chosen = np.zeros(ids.shape, bool)
    np.put_along_axis(chosen, out.positions.numpy(), True, axis=1)
    np.testing.assert_array_equal(out.input_ids.numpy()[~chosen], ids.numpy()[~chosen])


def test_bert_masking_all_random_or_all_kept():
    out = _bert_mask(mask_prob=0.99, n=6, mask_token_prob=0.0, random_token_prob=0.0)
    np.testing.assert_array_equal(out.input_ids, IDS)  # every slot keeps its token
    np.testing.assert_array_equal(out.weights, [[1] * 6, [1, 1, 0, 0, 0, 0]])
    out = _bert_mask(mask_prob=0.99, n=6, mask_token_prob=0.0, random_token_prob=1.0)
    changed = tf.gather(out.input_ids, out.positions, batch_dims=1).numpy()[out.weights.numpy() > 0]
    assert not np.isin(changed, SPECIAL_IDS).any()
    with pytest.raises(ValueError, match=r"mask_token_prob \+ random_token_prob"):
        _bert_mask(mask_token_prob=0.8, random_token_prob=0.3)


def test_bert_masking_statistics_80_10_10():
    rng = np.random.default_rng(0)
    batch, seq = 256, 128
    lengths = rng.integers(20, seq + 1, batch)
    ids = rng.integers(5, VOCAB, (batch, seq))
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int32)
    ids = np.where(mask == 1, ids, PAD)
    ids[:, 0] = CLS
    ids[np.arange(batch), lengths - 1] = SEP
    out = _bert_mask(tf.constant(ids, tf.int32), tf.constant(mask), n=20, seed=(7, 7))

    weights = out.weights.numpy() > 0
    new = tf.gather(out.input_ids, out.positions, batch_dims=1).numpy()[weights]
    original = out.targets.numpy()[weights]
    chosen = len(new)
    assert chosen > 2500
    # A random token equals the original with probability 1 / 996 (996 non-special ids).
    hit = 1 / (VOCAB - len(SPECIAL_IDS))
    for observed, p in (((new == MASK).mean(), 0.8),
                        (((new != MASK) & (new != original)).mean(), 0.1 * (1 - hit)),
                        ((new == original).mean(), 0.1 + 0.1 * hit)):
        sigma = np.sqrt(p * (1 - p) / chosen)  # binomial; 4 sigma is ~0.03 at p = 0.8
        assert abs(observed - p) < 4 * sigma, (observed, p)
    # Random tokens are never special, and nothing outside the chosen slots moves.
    assert not np.isin(new[new != MASK], [CLS, SEP, PAD]).any()
    chosen_mask = np.zeros_like(ids, dtype=bool)
    np.put_along_axis(chosen_mask, out.positions.numpy(), weights, axis=1)
    np.testing.assert_array_equal(out.input_ids.numpy()[~chosen_mask], ids[~chosen_mask])


def test_docstring_examples():
    import doctest

    from keras_electra.objectives import masking

    assert doctest.testmod(masking, extraglobs={"tf": tf}).failed == 0
