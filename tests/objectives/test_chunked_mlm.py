import numpy as np
import pytest
import tensorflow as tf

from keras_electra.objectives import mlm_loss, sample_from_logits
from keras_electra.objectives.chunked_mlm import (
    _chunk_kernel, chunk_loss, chunked_mlm_loss, examples_per_chunk, tied_logits)
from keras_electra.objectives.sampling import sampling_uniforms


def _problem(batch=6, slots=5, width=8, vocab=50, seed=0):
    rng = np.random.default_rng(seed)
    features = tf.constant(rng.normal(size=(batch, slots, width)), tf.float32)
    table = tf.Variable(rng.normal(size=(vocab, width)) * 0.5, dtype=tf.float32)
    bias = tf.Variable(rng.normal(size=(vocab,)) * 0.1, dtype=tf.float32)
    targets = tf.constant(rng.integers(0, vocab, size=(batch, slots)), tf.int32)
    weights = tf.constant((rng.random((batch, slots)) < 0.8).astype(np.float32))
    seeds = tf.constant(rng.integers(0, 2**40, size=(batch, 2)), tf.int64)
    return features, table, bias, targets, weights, seeds


def _reference(features, table, bias, targets, weights, seeds, normalizer=None, dtype="float32"):
    with tf.GradientTape() as tape:
        tape.watch(features)
        logits = tied_logits(features, table, bias, dtype)
        loss = 3.0 * mlm_loss(logits, targets, weights, normalizer)
    grads = tape.gradient(loss, [features, table, bias])
    return (loss / 3.0, grads, tf.argmax(logits, -1, output_type=tf.int32),
            sample_from_logits(logits, 2.0, seeds))


def _chunked(features, table, bias, targets, weights, seeds, normalizer=None, dtype="float32",
             rows_per_chunk=10):
    with tf.GradientTape() as tape:
        tape.watch(features)
        out = chunked_mlm_loss(features, table, bias, targets, weights, normalizer, dtype,
                               temperature=2.0, seeds=seeds, rows_per_chunk=rows_per_chunk)
        loss = 3.0 * out.loss  # the upstream gradient reaches every chunk's gradients
    return out, tape.gradient(loss, [features, table, bias])


@pytest.mark.parametrize("rows_per_chunk", [1, 10, 1000])
def test_loss_gradients_argmax_and_samples_equal_the_unchunked_head(rows_per_chunk):
    problem = _problem()
    loss, grads, argmax, samples = _reference(*problem)
    out, chunked_grads = _chunked(*problem, rows_per_chunk=rows_per_chunk)
    np.testing.assert_allclose(out.loss, loss, rtol=1e-6)
    for got, want in zip(chunked_grads, grads):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(out.predictions, argmax)
    np.testing.assert_array_equal(out.samples, samples)  # the same noise, exactly


def test_hand_computed_loss_with_a_global_normalizer():
    # Two real slots of uniform logits over 4 ids: each -log(1/4); divided by 4, not 2.
    table = tf.zeros([4, 2])
    out = chunked_mlm_loss(tf.ones([2, 1, 2]), table, tf.zeros([4]), [[1], [3]],
                           [[1.0], [1.0]], normalizer=4.0)
    assert float(out.loss) == pytest.approx(2 * np.log(4) / 4, rel=1e-5)
    assert out.samples is None


def test_padding_slots_get_no_gradient():
    features, table, bias, targets, _, seeds = _problem()
    weights = tf.constant([[1.0, 0.0, 1.0, 0.0, 0.0]] * 6)
    _, (d_features, _, _) = _chunked(features, table, bias, targets, weights, seeds)
    assert np.all(d_features.numpy()[:, 1] == 0) and np.all(d_features.numpy()[:, 3:] == 0)
    assert np.all(np.abs(d_features.numpy()[:, 0]).sum(-1) > 0)


def _rounded(x):
    """`x` as a bfloat16 head sees it, in float64."""
    return tf.cast(tf.cast(x, tf.bfloat16), tf.float64)


def _float64_head(features, table, bias, targets, weights):
    """Logits, 3 * the MLM loss and its gradients in float64, at bfloat16-rounded inputs."""
    features, table, bias = _rounded(features), _rounded(table), _rounded(bias)
    weights = tf.cast(weights, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([features, table, bias])
        logits = tf.einsum("bnd,vd->bnv", features, table) + bias
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
        loss = 3.0 * tf.reduce_sum(losses * weights) / (tf.reduce_sum(weights) + 1e-6)
    return logits, loss / 3.0, tape.gradient(loss, [features, table, bias])


def test_bfloat16_logits_get_the_loss_ops_loss_gradient_argmax_and_sample():
    # Given the same bfloat16 logits, the chunk computes in float32 what TF's
    # ops compute from them: the matmul's rounding is the only bfloat16 error.
    rng = np.random.default_rng(5)
    logits = tf.cast(rng.normal(size=(40, 300)) * 4, tf.bfloat16)
    targets = tf.constant(rng.integers(0, 300, 40), tf.int32)
    weights = tf.constant((rng.random(40) < 0.8).astype(np.float32))
    seeds = tf.constant(rng.integers(0, 2**40, size=(40, 2)), tf.int64)
    uniforms = sampling_uniforms([40], seeds)
    loss_sum, d_logits, d_bias, predictions, samples = _chunk_kernel(2.0)(
        logits, tf.zeros([300], tf.bfloat16), targets, weights, weights / 7.0, uniforms)
    as_float32 = tf.cast(logits, tf.float32)
    op_losses, op_backprop = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
        features=as_float32, labels=targets)
    np.testing.assert_allclose(loss_sum, tf.reduce_sum(op_losses * weights), rtol=1e-6)
    assert d_logits.dtype == tf.bfloat16  # rounded once, from float32
    np.testing.assert_array_equal(
        d_logits, tf.cast(op_backprop * (weights / 7.0)[:, None], tf.bfloat16))
    np.testing.assert_allclose(d_bias, tf.reduce_sum(tf.cast(d_logits, tf.float32), 0), rtol=1e-6)
    np.testing.assert_array_equal(predictions, tf.argmax(as_float32, -1, output_type=tf.int32))
    np.testing.assert_array_equal(samples, sample_from_logits(logits, 2.0, seeds))


def test_bfloat16_head_is_within_its_rounding_of_float64():
    features, table, bias, targets, weights, seeds = _problem()
    features = tf.cast(features, tf.bfloat16)  # what a mixed_bfloat16 LayerNorm hands on
    _, grads, _, _ = _reference(features, table, bias, targets, weights, seeds, dtype="bfloat16")
    out, chunked_grads = _chunked(features, table, bias, targets, weights, seeds,
                                  dtype="bfloat16")
    assert chunked_grads[0].dtype == tf.bfloat16 and chunked_grads[1].dtype == tf.float32
    true_logits, true_loss, true_grads = _float64_head(features, table, bias, targets, weights)
    # How far this machine's bfloat16 matmul puts the logits (oneDNN rounds
    # once; Eigen, where TF runs without oneDNN, ~10x further), doubled for
    # the chunk's matmul of another shape: eta bounds every logit's error.
    eta = 2 * float(tf.reduce_max(tf.abs(
        tf.cast(tied_logits(features, table, bias, "bfloat16"), tf.float64) - true_logits)))
    assert 0 < eta < 0.1
    # A row's loss moves by at most 2 * eta (log-sum-exp and the target's logit).
    assert abs(float(out.loss) - float(true_loss)) <= 2 * eta
    # Both gradients carry bfloat16 rounding, each its own: measured against
    # float64, the chunked head's errors are no larger than autodiff's.
    for got, want, truth in zip(chunked_grads, grads, true_grads):
        got_error = np.abs(tf.cast(got, tf.float64) - truth)
        want_error = np.abs(tf.cast(want, tf.float64) - truth)
        assert got_error.max() <= 1.5 * want_error.max(), (got_error.max(), want_error.max())
        assert np.sqrt((got_error**2).mean()) <= 1.5 * np.sqrt((want_error**2).mean())
        assert got_error.max() < 2**-6 * np.abs(truth).max()  # 8-bit noise, not a wrong formula
    # The argmax wherever the top two logits are further apart than the error.
    top2 = np.sort(true_logits.numpy(), -1)[..., -2:]
    clear = top2[..., 1] - top2[..., 0] > 2 * eta
    assert clear.mean() > 0.8
    np.testing.assert_array_equal(out.predictions.numpy()[clear],
                                  np.argmax(true_logits.numpy(), -1)[clear])
    # The float64 inverse-CDF draws of the same uniforms, but where the error
    # moves a cumulative probability across a uniform: with 50 ids a few
    # thousandths apart, that is rare, while other uniforms would agree by
    # chance on about sum(p^2) of the slots.
    uniforms = sampling_uniforms(targets.shape, seeds).numpy().reshape(-1)
    probs = tf.nn.softmax(true_logits / 2.0).numpy().reshape(-1, 50)
    draws = [np.searchsorted(np.cumsum(p), u, side="right") for p, u in zip(probs, uniforms)]
    assert (out.samples.numpy().reshape(-1) == draws).mean() >= 0.9


def test_in_a_traced_function_with_an_unknown_batch_size():
    problem = _problem(batch=5)
    loss, grads, _, samples = _reference(*problem)
    spec = tf.TensorSpec([None, 5, 8], tf.float32)

    @tf.function(input_signature=[spec])
    def step(features):
        return _chunked(features, *problem[1:])

    out, chunked_grads = step(problem[0])
    np.testing.assert_allclose(out.loss, loss, rtol=1e-6)
    np.testing.assert_allclose(chunked_grads[1], grads[1], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(out.samples, samples)


def test_chunk_loss_is_the_loss_op_where_the_target_probability_underflows():
    # Row 0's target has probability e^-300: 0 in float32, yet its loss is 300.
    logits = tf.constant([[100.0, -200.0, 0.0], [1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    targets = tf.constant([1, 2, 0])
    weights = tf.constant([1.0, 1.0, 0.0])
    scale = weights / 2.0
    loss_sum, d_logits, d_bias, predictions, samples = chunk_loss(logits, targets, weights, scale)
    op_losses, op_backprop = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
        features=logits, labels=targets)
    assert float(loss_sum) == pytest.approx(300.0 + np.log(1 + np.exp(-100) * 2) + op_losses[1])
    np.testing.assert_allclose(loss_sum, tf.reduce_sum(op_losses * weights), rtol=1e-7)
    np.testing.assert_allclose(d_logits, op_backprop * scale[:, None], rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(d_bias, tf.reduce_sum(d_logits, 0), rtol=1e-6)
    assert predictions.numpy().tolist() == [0, 2, 0] == samples.numpy().tolist()


def test_the_compiled_chunk_is_the_eager_chunk():
    rng = np.random.default_rng(4)
    logits = tf.constant(rng.normal(size=(40, 300)) * 4, tf.float32)
    targets = tf.constant(rng.integers(0, 300, 40), tf.int32)
    weights = tf.constant((rng.random(40) < 0.8).astype(np.float32))
    uniforms = tf.constant(rng.random(40))
    for temperature in (1.0, 2.0):
        eager = chunk_loss(logits, targets, weights, weights / 7.0, temperature, uniforms)
        compiled = _chunk_kernel(temperature)(logits, tf.zeros([300]), targets, weights,
                                              weights / 7.0, uniforms)
        np.testing.assert_allclose(compiled[0], eager[0], rtol=1e-6)
        np.testing.assert_allclose(compiled[1], eager[1], rtol=1e-5, atol=1e-9)
        np.testing.assert_array_equal(compiled[3], eager[3])
        np.testing.assert_array_equal(compiled[4], eager[4])
        # The inverse CDF of softmax(logits / temperature), computed in float64.
        probs = tf.nn.softmax(tf.cast(logits, tf.float64) / temperature).numpy()
        want = [np.searchsorted(np.cumsum(p), u, side="right") for p, u in zip(probs, uniforms)]
        np.testing.assert_array_equal(compiled[4], want)


def test_chunks_divide_the_batch():
    assert examples_per_chunk(32, 19) == 8      # 152 rows
    assert examples_per_chunk(32, 19, 1000) == 32
    assert examples_per_chunk(7, 19, 100) == 1  # a prime batch: one example at a time
    assert examples_per_chunk(12, 1, 8) == 6


def test_docstring_examples():
    import doctest

    from keras_electra.objectives import chunked_mlm, sampling

    for module in (chunked_mlm, sampling):
        assert doctest.testmod(module, extraglobs={"tf": tf}).failed == 0
