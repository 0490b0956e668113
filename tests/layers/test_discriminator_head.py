import doctest
import math

import keras
import numpy as np

from keras_electra.layers import discriminator_head
from keras_electra.layers.activations import gelu_approximate
from keras_electra.layers.discriminator_head import DiscriminatorHead
from tests.test_case import TestCase

erf = np.vectorize(math.erf)


class DiscriminatorHeadTest(TestCase):
    def test_value_uses_exact_gelu(self):
        head = DiscriminatorHead(hidden_size=4)
        x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
        out = head(x).numpy()
        h = x @ head.dense.kernel.numpy() + head.dense.bias.numpy()
        h = 0.5 * h * (1 + erf(h / np.sqrt(2)))
        expected = (h @ head.prediction.kernel.numpy() + head.prediction.bias.numpy())[..., 0]
        self.assertEqual(out.shape, (2, 3))
        self.assertAllClose(out, expected, atol=1e-5)

    def test_config_round_trip(self):
        head = DiscriminatorHead(hidden_size=4, initializer_range=0.1)
        restored = keras.layers.deserialize(keras.layers.serialize(head))
        self.assertEqual(restored.get_config(), head.get_config())

    def test_approximate_gelu_round_trips(self):
        head = DiscriminatorHead(hidden_size=4, activation=gelu_approximate)
        restored = keras.layers.deserialize(keras.layers.serialize(head))
        self.assertIs(restored.activation, gelu_approximate)
        self.assertEqual(restored.get_config(), head.get_config())

    def test_docstring_example(self):
        self.assertEqual(doctest.testmod(discriminator_head).failed, 0)
