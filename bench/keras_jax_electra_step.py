"""The ELECTRA pre-training step on keras_electra's towers, in `keras.ops` (any backend).

`bench/gpu_keras_jax.py` runs it on Keras 3's JAX backend, where TensorFlow
is not installed: the lent GPU machines have JAX but no TensorFlow and no
package index. The towers are the package's own (`keras_electra.builders`:
`ElectraEmbeddings` shared by both towers, `ElectraBackbone`s of keras-hub
`TransformerEncoder`s, the tied `MaskedLMHead`, `DiscriminatorHead`), so the
model, its FLOPs and its layer implementations are the package's. The
objective, which the package writes in TensorFlow
(`keras_electra.objectives`), is restated here in `keras.ops` with the same
counts as the PyTorch side (`bench/torch_electra_step.py`): dynamic masking
of `round(15%)` of the maskable tokens into `predictions_per_seq` slots (85%
`[MASK]`), generator logits at those slots only, Gumbel-max sampling in
float32 without gradient, `1 * mlm + 50 * rtd` over the real tokens. Its
random streams differ from the package's (Keras `SeedGenerator`s, not
per-example stateless seeds): it is a speed benchmark, not a parity oracle.

Example (any Keras backend; tiny sizes):

>>> import keras
>>> from light_import import light_import
>>> config = light_import("config").ElectraConfig(
...     vocab_size=64, embedding_size=8, hidden_size=16, num_layers=1, num_heads=2,
...     intermediate_size=32, max_seq_length=8, max_position_embeddings=8)
>>> model = ElectraStepModel(config)
>>> ids = keras.ops.convert_to_tensor([[2, 9, 10, 11, 12, 13, 14, 3]], "int32")
>>> loss = model({"input_ids": ids, "input_mask": keras.ops.ones_like(ids),
...               "segment_ids": keras.ops.zeros_like(ids)})
>>> float(loss) > 0
True
"""

import keras
from keras import ops

from light_import import light_import

# keras_electra's default special-token layout: [PAD]=0, [CLS]=2, [SEP]=3, [MASK]=4.
SPECIAL_IDS = (0, 2, 3, 4)
MASK_ID = 4


def _place(ids, positions, values):
    """`ids` with `values` written at `positions` (distinct per row): a one-hot
    scatter, since keras.ops has no batched scatter; `(b, p, t)` is small."""
    one_hot = ops.one_hot(positions, ops.shape(ids)[1], dtype="int32")  # (b, p, t)
    hit = ops.max(one_hot, axis=1)
    return ids * (1 - hit) + ops.sum(one_hot * values[..., None], axis=1)


class ElectraStepModel(keras.Model):
    """`call(batch)` is the ELECTRA loss; `fit` on it trains both towers.

    Args:
        config: an `ElectraConfig`.
        seed: seed of the masking and sampling noise.
    """

    def __init__(self, config, seed=0, **kwargs):
        super().__init__(**kwargs)
        builders = light_import("builders")
        activations = light_import("layers.activations")
        heads = light_import("layers.discriminator_head")
        embeddings = builders.build_embeddings(config)
        self.generator = builders.build_backbone(config, embeddings, "generator")
        self.discriminator = builders.build_backbone(config, embeddings, "discriminator")
        self.generator_head = builders.build_mlm_head(config, embeddings, "generator_head")
        self.discriminator_head = heads.DiscriminatorHead(
            hidden_size=config.hidden_size,
            activation=activations.hidden_activation(config.hidden_act),
            initializer_range=config.initializer_range, name="discriminator_head")
        self.num_predictions = config.predictions_per_seq
        self.mask_prob = config.mask_prob
        self.mask_token_prob = config.mask_token_prob
        self.temperature = config.temperature
        self.loss_weights = (config.generator_weight, config.discriminator_weight)
        self.noise = keras.random.SeedGenerator(seed)

    @staticmethod
    def _encode(tower, input_ids, batch, training):
        return tower({"input_ids": input_ids, "input_mask": batch["input_mask"],
                      "segment_ids": batch["segment_ids"]}, training=training)["sequence_output"]

    def _mask(self, ids, input_mask):
        """(positions, weights, targets, masked ids), as `objectives.masking`."""
        special = ops.any(ops.stack([ops.equal(ids, s) for s in SPECIAL_IDS]), axis=0)
        maskable = ops.logical_and(input_mask > 0, ops.logical_not(special))
        scores = ops.where(maskable, keras.random.uniform(ops.shape(ids), seed=self.noise), -1.0)
        positions = ops.top_k(scores, self.num_predictions)[1]
        candidates = ops.sum(ops.cast(maskable, "float32"), axis=1)
        count = ops.minimum(ops.maximum(ops.round(candidates * self.mask_prob), 1.0), candidates)
        count = ops.minimum(count, float(self.num_predictions))
        slots = ops.arange(self.num_predictions, dtype="float32")
        weights = slots[None, :] < count[:, None]
        targets = ops.take_along_axis(ids, positions, axis=1)
        use_mask = ops.logical_and(weights, keras.random.uniform(
            ops.shape(targets), seed=self.noise) < self.mask_token_prob)
        masked = _place(ids, positions, ops.where(use_mask, MASK_ID, targets))
        return positions, weights, targets, masked

    def call(self, batch, training=False):
        ids = ops.cast(batch["input_ids"], "int32")
        positions, weights, targets, masked = self._mask(ids, batch["input_mask"])
        sequence = self._encode(self.generator, masked, batch, training)
        logits = ops.cast(self.generator_head(sequence, mask_positions=positions), "float32")
        w = ops.cast(weights, "float32")
        mlm = ops.sum(ops.sparse_categorical_crossentropy(targets, logits, from_logits=True) * w)
        mlm = mlm / ops.maximum(ops.sum(w), 1.0)
        # Gumbel-max in float32, no gradient through the sample.
        uniform = keras.random.uniform(ops.shape(logits), seed=self.noise)
        gumbel = -ops.log(-ops.log(uniform + 1e-9) + 1e-9)
        sampled = ops.cast(ops.argmax(ops.stop_gradient(logits) / self.temperature + gumbel,
                                      axis=-1), "int32")
        corrupted = _place(ids, positions, ops.where(weights, sampled, targets))
        labels = ops.cast(ops.not_equal(corrupted, ids), "float32")
        rtd_logits = self.discriminator_head(
            self._encode(self.discriminator, corrupted, batch, training))
        real = ops.cast(batch["input_mask"], "float32")
        rtd = ops.sum(ops.binary_crossentropy(labels, rtd_logits, from_logits=True) * real)
        rtd = rtd / ops.sum(real)
        return self.loss_weights[0] * mlm + self.loss_weights[1] * rtd

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return y_pred  # `call` returns the loss itself
