import numpy as np
import tensorflow as tf

from keras_electra.objectives.losses import electra_loss, mlm_loss, rtd_loss


def test_mlm_loss_averages_over_real_slots_only():
    logits = tf.math.log(tf.constant([[[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]]))
    targets = [[0, 1, 2]]
    weights = [[1.0, 1.0, 0.0]]  # the third slot is padding
    expected = -(np.log(0.5) + np.log(0.8)) / 2
    np.testing.assert_allclose(mlm_loss(logits, targets, weights), expected, rtol=1e-5)


def test_rtd_loss_hand_computed():
    logits = [[2.0, -1.0, 0.5, 3.0]]
    labels = [[1.0, 0.0, 1.0, 1.0]]
    input_mask = [[1, 1, 1, 0]]
    sig = lambda x: 1 / (1 + np.exp(-x))
    expected = -(np.log(sig(2.0)) + np.log(1 - sig(-1.0)) + np.log(sig(0.5))) / 3
    np.testing.assert_allclose(rtd_loss(logits, labels, input_mask), expected, rtol=1e-5)


def test_total_is_weighted_sum():
    gen_logits = tf.zeros([1, 2, 4])  # uniform: log 4 per slot
    disc_logits = tf.zeros([1, 3])  # log 2 per token
    losses = electra_loss(gen_logits, [[1, 2]], [[1.0, 1.0]], disc_logits, [[0.0, 1.0, 0.0]],
                          [[1, 1, 1]], generator_weight=1.0, discriminator_weight=50.0)
    np.testing.assert_allclose(losses.generator, np.log(4), rtol=1e-5)
    np.testing.assert_allclose(losses.discriminator, np.log(2), rtol=1e-5)
    np.testing.assert_allclose(losses.total, np.log(4) + 50 * np.log(2), rtol=1e-5)


def test_float16_logits_give_float32_loss():
    loss = rtd_loss(tf.constant([[30.0]], tf.float16), [[0.0]], [[1]])
    assert loss.dtype == tf.float32
    np.testing.assert_allclose(loss, 30.0, rtol=1e-3)


# --------------------------------------------------------------------------
# All-Tokens MLM: the copy mechanism.
from keras_electra.objectives.losses import (  # noqa: E402
    copy_mechanism_log_likelihood, copy_mechanism_loss, copy_mechanism_probabilities)

# A 1x3 example over a vocabulary of 3 ids:
#   token 0: softmax (1/2, 1/4, 1/4), copy logit 0 (D = 1/2), given id 0, original 0 (kept):
#            p = D + (1 - D) * 1/2 = 1/2 + 1/4 = 3/4
#   token 1: softmax (1/5, 3/5, 1/5), copy logit log 3 (D = 3/4), given id 2, original 1
#            (replaced): p = (1 - D) * 3/5 = 1/4 * 3/5 = 3/20
#   token 2: padding (input_mask 0), whatever its values.
#   loss = -(log 3/4 + log 3/20) / 2 = (0.2876821 + 1.8971200) / 2 = 1.0924010
COPY_LOGITS_1x3 = tf.math.log([[[0.5, 0.25, 0.25], [0.2, 0.6, 0.2], [0.9, 0.05, 0.05]]])
COPY_1x3 = [[0.0, float(np.log(3.0)), 5.0]]
GIVEN_1x3, ORIGINAL_1x3, MASK_1x3 = [[0, 2, 1]], [[0, 1, 2]], [[1, 1, 0]]


def test_copy_mechanism_loss_hand_computed():
    log_p = copy_mechanism_log_likelihood(COPY_LOGITS_1x3, COPY_1x3, GIVEN_1x3, ORIGINAL_1x3)
    np.testing.assert_allclose(log_p[0, :2], np.log([0.75, 0.15]), rtol=1e-6)
    loss = copy_mechanism_loss(COPY_LOGITS_1x3, COPY_1x3, GIVEN_1x3, ORIGINAL_1x3, MASK_1x3)
    np.testing.assert_allclose(loss, 1.0924010, rtol=1e-6)
    # A global normalizer replaces the local count of 2 real tokens.
    loss = copy_mechanism_loss(COPY_LOGITS_1x3, COPY_1x3, GIVEN_1x3, ORIGINAL_1x3, MASK_1x3,
                               normalizer=4.0)
    np.testing.assert_allclose(loss, 2 * 1.0924010 / 4, rtol=1e-6)


def test_copy_mechanism_probabilities_hand_computed():
    probs = copy_mechanism_probabilities(COPY_LOGITS_1x3, COPY_1x3, GIVEN_1x3).numpy()[0]
    np.testing.assert_allclose(probs[0], [0.75, 0.125, 0.125], rtol=1e-6)
    np.testing.assert_allclose(probs[1], [0.05, 0.15, 0.05 + 0.75], rtol=1e-5)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)
    # ...and the loss is -log of the original's probability under them.
    np.testing.assert_allclose(-np.log(probs[[0, 1], [0, 1]]).mean(), 1.0924010, rtol=1e-6)


def test_copy_mechanism_is_finite_at_extreme_logits():
    # Certain copies (D -> 1) and certain generations (D -> 0), in float16 and
    # with a softmax that underflows: log-space keeps the loss and gradients finite.
    mlm_logits = tf.constant([[[80.0, -80.0, 0.0], [-80.0, 80.0, 0.0]]], tf.float16)
    copy_logits = tf.constant([[100.0, -100.0]], tf.float16)
    given, original = [[1, 2]], [[1, 0]]  # token 0 copied; token 1 replaced, original 0
    with tf.GradientTape() as tape:
        tape.watch([mlm_logits, copy_logits])
        loss = copy_mechanism_loss(mlm_logits, copy_logits, given, original, [[1, 1]])
    gradients = tape.gradient(loss, [mlm_logits, copy_logits])
    assert loss.dtype == tf.float32
    # Token 0: p = D + (1 - D) e^-160 ~= 1; token 1: p ~= e^-160, -log p = 160.
    np.testing.assert_allclose(loss, 160.0 / 2, rtol=1e-3)
    assert all(np.isfinite(g.numpy().astype(np.float32)).all() for g in gradients)


def test_docstring_examples():
    import doctest

    from keras_electra.objectives import losses

    assert doctest.testmod(losses, extraglobs={"tf": tf}).failed == 0
