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
