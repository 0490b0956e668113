"""Dynamic masking for the generator's masked-LM task (pure tensor functions).

Semantics of the original `pretrain_helpers.mask`, with two deliberate
differences that make the masked fraction exact: positions are drawn
*without* replacement (a random top-k; the original's `tf.random.categorical`
can pick a position twice), and the count is taken over maskable tokens
rather than over all non-padding tokens (so `[CLS]`/`[SEP]` do not inflate it).

`bert_mask_tokens` is BERT's variant for the masked-LM baseline (objective
"mlm"): the same positions, of which 80% become `[MASK]`, 10% a random
token (`random_replacements`) and 10% stay.
"""

import collections

import tensorflow as tf

from keras_electra.objectives.random import stateless_uniform

MaskedInputs = collections.namedtuple(
    "MaskedInputs", ["input_ids", "positions", "targets", "weights"]
)
MaskedInputs.__doc__ = """The generator's view of a batch.

Fields:
    input_ids: `(batch, seq)` ids with chosen positions set to `[MASK]`
        (or kept, for the `1 - mask_token_prob` share).
    positions: `(batch, max_predictions)` int32 positions; padding slots are 0.
    targets: `(batch, max_predictions)` original ids at `positions` (0 in padding slots).
    weights: `(batch, max_predictions)` float32, 1.0 for real slots, 0.0 for padding.
"""


def maskable_positions(input_ids, input_mask, special_ids):
    """Boolean `(batch, seq)`: non-padding tokens that are not special tokens."""
    input_ids = tf.convert_to_tensor(input_ids)
    special = tf.reduce_any(
        tf.equal(input_ids[..., None], tf.cast(tf.reshape(special_ids, [-1]), input_ids.dtype)),
        axis=-1,
    )
    return tf.logical_and(tf.cast(input_mask, tf.bool), tf.logical_not(special))


def mask_tokens(
    input_ids,
    input_mask,
    special_ids,
    mask_token_id,
    mask_prob,
    mask_token_prob,
    max_predictions,
    seed,
):
    """Chooses `round(mask_prob * maskable)` positions per row and masks them.

    Args:
        input_ids: `(batch, seq)` integer ids.
        input_mask: `(batch, seq)` 1 for real tokens, 0 for padding.
        special_ids: ids never masked (`[CLS]`, `[SEP]`, `[MASK]`, ...).
        mask_token_id: the `[MASK]` id.
        mask_prob: fraction of maskable tokens to predict.
        mask_token_prob: probability that a chosen position becomes `[MASK]`
            (otherwise it keeps its token).
        max_predictions: static number of prediction slots per row.
        seed: shape-`[2]` integer seed for the stateless RNG (same seed,
            same masks), or `(batch, 2)` seeds, one per example (see
            `objectives.random.example_seeds`).

    Returns:
        A `MaskedInputs`.

    Example:

    >>> ids = tf.constant([[101, 7, 8, 9, 10, 102, 0, 0]])
    >>> mask = tf.constant([[1, 1, 1, 1, 1, 1, 0, 0]])
    >>> out = mask_tokens(ids, mask, [101, 102, 103], 103, 0.5, 1.0, 4, [1, 2])
    >>> int(tf.reduce_sum(out.weights))  # 2 of the 4 maskable tokens
    2
    """
    input_ids = tf.convert_to_tensor(input_ids)
    positions, targets, weights, action = _choose_positions(
        input_ids, input_mask, special_ids, mask_prob, max_predictions, seed)
    use_mask_token = tf.logical_and(action < mask_token_prob, weights > 0)
    replace_here = scatter_positions(positions, use_mask_token, tf.shape(input_ids)[1])
    masked_ids = tf.where(
        replace_here, tf.cast(mask_token_id, input_ids.dtype), input_ids
    )
    return MaskedInputs(masked_ids, positions, targets, weights)


# Of BERT's chosen positions: 80% -> [MASK], 10% -> a random token, 10% kept.
BERT_MASK_TOKEN_PROB = 0.8
BERT_RANDOM_TOKEN_PROB = 0.1


def bert_mask_tokens(
    input_ids,
    input_mask,
    special_ids,
    mask_token_id,
    vocab_size,
    mask_prob,
    max_predictions,
    seed,
    mask_token_prob=BERT_MASK_TOKEN_PROB,
    random_token_prob=BERT_RANDOM_TOKEN_PROB,
):
    """BERT's masking: the positions of `mask_tokens`, then 80/10/10.

    Each chosen position draws one uniform `u` (the draw `mask_tokens` uses
    for its `[MASK]`-or-keep choice, so with the same seed the positions are
    the same and the `[MASK]` slots are those of
    `mask_tokens(..., mask_token_prob)`): `u < mask_token_prob` -> `[MASK]`,
    then `u < mask_token_prob + random_token_prob` -> a token drawn by
    `random_replacements` (never a special id; it may equal the original, as
    in BERT), else the token stays.

    Args:
        input_ids, input_mask, special_ids, mask_token_id, mask_prob,
            max_predictions, seed: as in `mask_tokens`; `special_ids` are
            Python ints (they are also excluded from random tokens).
        vocab_size: random tokens are drawn from `[0, vocab_size)` minus
            `special_ids`.
        mask_token_prob: share of chosen positions set to `[MASK]` (0.8).
        random_token_prob: share set to a random token (0.1).

    Returns:
        A `MaskedInputs`.

    Example:

    >>> ids = tf.constant([[2, 7, 8, 9, 10, 3]])
    >>> out = bert_mask_tokens(ids, tf.ones_like(ids), [0, 2, 3, 4], 4, 50, 0.5, 2, [1, 2],
    ...                        mask_token_prob=0.0, random_token_prob=1.0)
    >>> changed = tf.gather(out.input_ids, out.positions, batch_dims=1)
    >>> bool(tf.reduce_all((changed >= 5) | (changed == 1)))  # never [PAD]/[CLS]/[SEP]/[MASK]
    True
    """
    if not 0.0 <= mask_token_prob <= mask_token_prob + random_token_prob <= 1.0:
        raise ValueError(
            f"bert_mask_tokens: need 0 <= mask_token_prob ({mask_token_prob}) and "
            f"mask_token_prob + random_token_prob ({random_token_prob}) <= 1.")
    input_ids = tf.convert_to_tensor(input_ids)
    positions, targets, weights, action = _choose_positions(
        input_ids, input_mask, special_ids, mask_prob, max_predictions, seed)
    random_ids = random_replacements(
        tf.shape(positions), vocab_size, special_ids, _stream(seed, 2))
    slot_ids = tf.where(
        action < mask_token_prob,
        tf.cast(mask_token_id, input_ids.dtype),
        tf.where(action < mask_token_prob + random_token_prob,
                 tf.cast(random_ids, input_ids.dtype), targets),
    )
    masked_ids = scatter_tokens(input_ids, positions, weights, slot_ids)
    return MaskedInputs(masked_ids, positions, targets, weights)


def random_replacements(shape, vocab_size, special_ids, seed):
    """int32 ids of `shape`, uniform over `[0, vocab_size)` minus `special_ids`.

    Draws `r` uniform in `[0, vocab_size - #special)` and maps it to the
    `r`-th non-special id: stepping over each special id in ascending order.

    Args:
        shape: output shape; with `(batch, 2)` seeds, `shape[0]` is the batch.
        vocab_size: Python int.
        special_ids: Python ints never drawn.
        seed: shape-`[2]` seed, or `(batch, 2)` seeds, one per example.

    Example:

    >>> ids = random_replacements([1000], 8, [0, 2, 3, 4], [0, 0])
    >>> sorted(set(ids.numpy().tolist()))
    [1, 5, 6, 7]
    """
    excluded = sorted({int(i) for i in special_ids if 0 <= int(i) < vocab_size})
    count = vocab_size - len(excluded)
    if count < 1:
        raise ValueError(f"random_replacements: all {vocab_size} ids are special.")
    uniform = stateless_uniform(shape, tf.cast(tf.convert_to_tensor(seed), tf.int64))
    ids = tf.minimum(tf.cast(uniform * count, tf.int32), count - 1)  # floor: u >= 0
    for special in excluded:
        ids += tf.cast(ids >= special, tf.int32)
    return ids


def _stream(seed, index):
    """The `index`-th independent seed stream of `seed` (0 is `seed` itself)."""
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    return seed + tf.constant([0, index << 40], tf.int64)


def _choose_positions(input_ids, input_mask, special_ids, mask_prob, max_predictions, seed):
    """`(positions, targets, weights, action)` of `mask_tokens`' chosen subset.

    `action` is one uniform draw in [0, 1) per slot (stream 1 of `seed`),
    which decides what the slot's token becomes.
    """
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    # Two streams: which positions, and what happens to them.
    position_seed, keep_seed = seed, _stream(seed, 1)
    candidates = maskable_positions(input_ids, input_mask, special_ids)
    num_candidates = tf.reduce_sum(tf.cast(candidates, tf.int32), axis=-1)
    num_to_predict = tf.cast(
        tf.round(tf.cast(num_candidates, tf.float32) * mask_prob), tf.int32
    )
    # At least one prediction per row that has a maskable token, as the original.
    num_to_predict = tf.minimum(tf.maximum(num_to_predict, 1), num_candidates)
    num_to_predict = tf.minimum(num_to_predict, max_predictions)

    # A uniform random subset: top-k of uniform noise over the candidates.
    noise = stateless_uniform(tf.shape(input_ids), position_seed)
    scores = tf.where(candidates, noise, -1.0)
    _, positions = tf.math.top_k(scores, k=max_predictions)
    weights = tf.sequence_mask(num_to_predict, max_predictions, dtype=tf.float32)
    positions = positions * tf.cast(weights, tf.int32)
    targets = tf.gather(input_ids, positions, batch_dims=1) * tf.cast(weights, input_ids.dtype)
    action = stateless_uniform(tf.shape(positions), keep_seed)
    return positions, targets, weights, action


def scatter_positions(positions, active, sequence_length):
    """Boolean `(batch, seq)`, True at `positions` whose `active` flag is set.

    Written with a one-hot reduction rather than `tensor_scatter_nd_update`
    so it has static shapes under XLA and needs no index arithmetic.
    """
    one_hot = tf.one_hot(positions, sequence_length, on_value=True, off_value=False,
                         dtype=tf.bool)
    return tf.reduce_any(tf.logical_and(one_hot, active[..., None]), axis=1)


def scatter_tokens(input_ids, positions, weights, tokens):
    """Writes `tokens` into `input_ids` at `positions` where `weights > 0`."""
    sequence_length = tf.shape(input_ids)[1]
    one_hot = tf.one_hot(positions, sequence_length, dtype=input_ids.dtype)  # (b, n, s)
    one_hot = one_hot * tf.cast(weights, input_ids.dtype)[..., None]
    written = tf.reduce_sum(one_hot, axis=1) > 0
    values = tf.reduce_sum(one_hot * tf.cast(tokens, input_ids.dtype)[..., None], axis=1)
    return tf.where(written, values, input_ids)
