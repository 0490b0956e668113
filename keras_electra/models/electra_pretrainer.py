"""`ElectraPretrainer`: the generator + discriminator trained jointly with `fit`.

Besides ELECTRA's replaced-token detection, the discriminator-sized encoder
(the one fine-tuned) can learn by the objectives the paper compares with it
(Clark et al. 2020, section 3.2): BERT's masked LM, Replace MLM and
All-Tokens MLM.
"""

import keras
import keras_hub
import tensorflow as tf

from keras_electra.layers.activations import compiled_activations
from keras_electra.layers.discriminator_head import DiscriminatorHead
from keras_electra.layers.gdes_embeddings import GdesEmbeddings
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.objectives.chunked_mlm import MlmOutputs, chunked_mlm_loss
from keras_electra.objectives.losses import (
    ElectraLosses, copy_mechanism_loss, copy_mechanism_probabilities, mlm_loss, rtd_loss)
from keras_electra.objectives.masking import bert_mask_tokens, mask_tokens
from keras_electra.objectives.random import example_seeds
from keras_electra.objectives.sampling import replace_tokens, sample_from_logits
from keras_electra.training.multi_worker import MultiWorkerFitMixin
from keras_electra.training.train_iterator import TrainIteratorMixin

_FEATURES = ("input_ids", "input_mask", "segment_ids")
_LINEAR = keras.activations.get("linear")

# What the discriminator-sized encoder learns (`ElectraConfig.objective`).
OBJECTIVES = ("electra", "mlm", "replace_mlm", "all_tokens_mlm")

# The parts each objective runs and trains. The others are built all the same
# (one model layout, whatever the objective) but never called, and not updated.
_TRAINED_PARTS = {
    "electra": ("generator", "generator_head", "discriminator", "discriminator_head"),
    "mlm": ("discriminator", "discriminator_mlm_head"),
    "replace_mlm": ("generator", "generator_head", "discriminator", "discriminator_mlm_head"),
    "all_tokens_mlm": ("generator", "generator_head", "discriminator", "discriminator_head",
                       "discriminator_mlm_head"),
}

# The metrics (attribute names) each objective logs, in order: RTD metrics
# for "electra" only, the discriminator-side MLM ones for the others.
_METRICS = {
    "electra": ("loss_tracker", "generator_loss_tracker", "discriminator_loss_tracker",
                "generator_accuracy", "discriminator_accuracy", "replaced_precision",
                "replaced_recall", "replaced_fraction", "replaced_auc"),
    "mlm": ("loss_tracker", "discriminator_mlm_loss_tracker", "discriminator_mlm_accuracy"),
    "replace_mlm": ("loss_tracker", "generator_loss_tracker", "generator_accuracy",
                    "discriminator_mlm_loss_tracker", "discriminator_mlm_accuracy",
                    "replaced_fraction"),
    "all_tokens_mlm": ("loss_tracker", "generator_loss_tracker", "generator_accuracy",
                       "discriminator_mlm_loss_tracker", "discriminator_mlm_accuracy",
                       "replaced_fraction"),
}


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraPretrainer(TrainIteratorMixin, MultiWorkerFitMixin, keras.Model):
    """ELECTRA pre-training: masked-LM generator + replaced-token detector.

    Each `train_step` masks the batch in-graph (a fresh mask every step),
    lets the generator predict the masked tokens, samples replacements from
    it (an exact categorical draw, no gradient), asks the discriminator which
    tokens were replaced, and takes one optimizer step on
    `generator_weight * mlm + discriminator_weight * rtd`.

    Build it from a config with `keras_electra.build_pretrainer(config)`,
    which also ties the two towers' embeddings.

    `objective` picks what the discriminator-sized encoder learns (the
    paper's section 3.2; `discriminator` stays the encoder that is
    fine-tuned):

    * "electra": the above.
    * "mlm": BERT's masked LM, no generator: `bert_mask_tokens` (80% `[MASK]`,
      10% random token, 10% kept) and MLM cross-entropy through
      `discriminator_mlm_head`. Loss = that MLM. The generator and both
      ELECTRA heads are built but never run.
    * "replace_mlm": the generator corrupts the chosen positions as in
      "electra"; the discriminator predicts their original tokens through
      `discriminator_mlm_head`. Loss = `generator_weight * generator MLM +
      discriminator MLM` (weight 1: the MLM that is being evaluated, as
      the "mlm" baseline's).
    * "all_tokens_mlm": as "replace_mlm", but the original token of every
      non-padding position is predicted, with the paper's copy mechanism
      (`copy_mechanism_loss`); the copy probability is the sigmoid of
      `discriminator_head`'s logit.

    Logged: `loss`; `generator_loss` and `generator_accuracy` when there is a
    generator; `discriminator_loss`, `discriminator_accuracy` and the
    `replaced_*` metrics for "electra"; `discriminator_mlm_loss` and
    `discriminator_mlm_accuracy` (over the predicted positions; for
    "all_tokens_mlm" every real token, argmax of the copy mixture) for the
    other three; `replaced_fraction` whenever the generator corrupts.

    Args:
        generator: the generator `ElectraBackbone`.
        discriminator: the discriminator `ElectraBackbone` (sharing the
            generator's `ElectraEmbeddings`).
        generator_head: a keras-hub `MaskedLMHead` tied to the shared word
            embeddings.
        discriminator_head: a `DiscriminatorHead`.
        special_token_ids: ids never masked (`[CLS]`, `[SEP]`, `[MASK]`, ...).
        mask_token_id: the `[MASK]` id.
        mask_prob: fraction of maskable tokens the generator predicts.
        mask_token_prob: share of those replaced by `[MASK]` (the rest kept).
        max_predictions_per_seq: static prediction slots per example.
        temperature: generator sampling temperature.
        generator_weight: MLM loss weight.
        discriminator_weight: RTD loss weight.
        clip_norm: global gradient-norm clip applied in `train_step`.
        seed: seed of the per-step masking and sampling.
        objective: one of `OBJECTIVES` (above); configs saved before it
            existed load as "electra".
        discriminator_mlm_head: a keras-hub `MaskedLMHead` on the
            discriminator's width tied to the shared word embeddings; required
            by every objective but "electra", which takes none.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> import numpy as np
    >>> import keras_electra
    >>> config = keras_electra.ElectraConfig(
    ...     vocab_size=64, embedding_size=8, hidden_size=16, num_layers=1,
    ...     num_heads=2, intermediate_size=32, max_seq_length=8,
    ...     max_position_embeddings=8)
    >>> pretrainer = keras_electra.build_pretrainer(config)
    >>> pretrainer.compile(optimizer="adam")
    >>> batch = {"input_ids": np.random.randint(5, 64, (4, 8)),
    ...          "input_mask": np.ones((4, 8), "int32"),
    ...          "segment_ids": np.zeros((4, 8), "int32")}
    >>> history = pretrainer.fit(batch, epochs=1, verbose=0)
    >>> sorted(history.history)[:3]
    ['discriminator_accuracy', 'discriminator_loss', 'generator_accuracy']
    """

    def __init__(
        self,
        generator,
        discriminator,
        generator_head,
        discriminator_head,
        special_token_ids,
        mask_token_id,
        mask_prob=0.15,
        mask_token_prob=0.85,
        max_predictions_per_seq=20,
        temperature=1.0,
        generator_weight=1.0,
        discriminator_weight=50.0,
        clip_norm=1.0,
        seed=0,
        objective="electra",
        discriminator_mlm_head=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if _shared_embeddings(discriminator) is not generator.embeddings:
            raise ValueError(
                "ElectraPretrainer: the generator and discriminator must share one "
                "ElectraEmbeddings layer; build them with keras_electra.build_pretrainer.")
        if objective not in OBJECTIVES:
            raise ValueError(f"ElectraPretrainer: objective must be one of {list(OBJECTIVES)}, "
                             f"got {objective!r}.")
        if (objective == "electra") != (discriminator_mlm_head is None):
            raise ValueError(
                f"ElectraPretrainer: objective {objective!r} "
                f"{'takes no' if objective == 'electra' else 'needs a'} discriminator_mlm_head; "
                "build it with keras_electra.build_pretrainer.")
        if objective != "electra" and isinstance(discriminator.embeddings, GdesEmbeddings):
            raise ValueError(f"ElectraPretrainer: GDES embedding sharing needs objective "
                             f"'electra', got {objective!r}.")
        self.generator = generator
        self.discriminator = discriminator
        self.generator_head = generator_head
        self.discriminator_head = discriminator_head
        self.special_token_ids = [int(i) for i in special_token_ids]
        self.mask_token_id = int(mask_token_id)
        self.mask_prob = mask_prob
        self.mask_token_prob = mask_token_prob
        self.max_predictions_per_seq = max_predictions_per_seq
        self.temperature = temperature
        self.generator_weight = generator_weight
        self.discriminator_weight = discriminator_weight
        self.clip_norm = clip_norm
        self.seed = seed
        self.objective = objective
        self.discriminator_mlm_head = discriminator_mlm_head

        if not generator_head.built:
            generator_head.build((None, None, generator.hidden_size))
        if not discriminator_head.built:
            discriminator_head.build((None, None, discriminator.hidden_size))
        if discriminator_mlm_head is not None and not discriminator_mlm_head.built:
            discriminator_mlm_head.build((None, None, discriminator.hidden_size))

        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.generator_loss_tracker = keras.metrics.Mean(name="generator_loss")
        self.discriminator_loss_tracker = keras.metrics.Mean(name="discriminator_loss")
        # Of the argmax ids (the generator's logits are never whole; see `generate`).
        self.generator_accuracy = keras.metrics.Accuracy(name="generator_accuracy")
        self.discriminator_accuracy = keras.metrics.BinaryAccuracy(
            name="discriminator_accuracy")
        self.replaced_precision = keras.metrics.Precision(name="replaced_precision")
        self.replaced_recall = keras.metrics.Recall(name="replaced_recall")
        self.replaced_auc = keras.metrics.AUC(name="replaced_auc")
        # Share of real tokens the generator replaced: `1 - replaced_fraction` is
        # the accuracy of always answering "original" (the plateau to beat).
        self.replaced_fraction = keras.metrics.Mean(name="replaced_fraction")
        if objective != "electra":  # (an "electra" model keeps its old layout)
            self.discriminator_mlm_loss_tracker = keras.metrics.Mean(
                name="discriminator_mlm_loss")
            self.discriminator_mlm_accuracy = keras.metrics.Accuracy(  # of argmax ids
                name="discriminator_mlm_accuracy")
        self.built = True

    # ---------------------------------------------------------------- towers
    @property
    def embeddings(self):
        """The `ElectraEmbeddings` both towers use (under GDES, the generator's,
        which the discriminator reads through its `GdesEmbeddings`)."""
        return self.generator.embeddings

    @staticmethod
    def _encode(tower, input_ids, batch, training):
        """`tower`'s sequence output on `input_ids` with the batch's mask and segments."""
        return tower(
            {"input_ids": input_ids, "input_mask": batch["input_mask"],
             "segment_ids": batch["segment_ids"]},
            training=training,
        )["sequence_output"]

    def _generator_logits_at(self, input_ids, batch, positions, training):
        sequence = self._encode(self.generator, input_ids, batch, training)
        # Softmax, sampling and losses run in float32 under mixed policies.
        return tf.cast(self.generator_head(sequence, mask_positions=positions), tf.float32)

    def _discriminator_logits(self, input_ids, batch, training):
        sequence = self._encode(self.discriminator, input_ids, batch, training)
        return tf.cast(self.discriminator_head(sequence), tf.float32)

    def _discriminator_mlm(self, input_ids, batch, masked, normalizer, training):
        """`MlmOutputs` of the discriminator's MLM head at `masked.positions`."""
        sequence = self._encode(self.discriminator, input_ids, batch, training)
        return self._mlm(self._discriminator_mlm_head(), sequence, masked, normalizer)

    def _discriminator_mlm_logits_at(self, input_ids, batch, positions, training):
        sequence = self._encode(self.discriminator, input_ids, batch, training)
        return self._mlm_head_logits(sequence, positions)

    def _mlm_head_logits(self, sequence, positions):
        return tf.cast(self._discriminator_mlm_head()(sequence, mask_positions=positions),
                       tf.float32)

    def _discriminator_mlm_head(self):
        if self.discriminator_mlm_head is None:
            raise ValueError("ElectraPretrainer: objective 'electra' has no discriminator "
                             "MLM head.")
        return self.discriminator_mlm_head

    def discriminator_logits(self, batch):
        """`(batch, seq)` replaced-token logits of the batch as given (no dropout)."""
        batch = _as_int32(batch)
        return self._discriminator_logits(batch["input_ids"], batch, training=False)

    def generator_logits(self, batch):
        """`(batch, seq, vocab)` MLM logits at every position (no masking, no dropout)."""
        batch = _as_int32(batch)
        positions = _every_position(batch["input_ids"])
        return self._generator_logits_at(batch["input_ids"], batch, positions, training=False)

    def discriminator_mlm_logits(self, batch):
        """`(batch, seq, vocab)` logits of the discriminator's MLM head at every
        position, of the batch as given (objectives other than "electra")."""
        batch = _as_int32(batch)
        positions = _every_position(batch["input_ids"])
        return self._discriminator_mlm_logits_at(batch["input_ids"], batch, positions,
                                                 training=False)

    def call(self, inputs, training=False):
        """Per-token probability that each token was replaced, `(batch, seq)`
        (under "all_tokens_mlm": the copy probability; untrained otherwise)."""
        inputs = _as_int32(inputs)
        return tf.sigmoid(self._discriminator_logits(inputs["input_ids"], inputs, training))

    # -------------------------------------------------------------- objective
    def _micro_step(self):
        """The count of `train_step`s applied so far (one per micro-batch).

        Not `optimizer.iterations`: with gradient accumulation Keras reports
        updates there (`_iterations // k`), which would give all k
        micro-batches of an update the same seed; a `LossScaleOptimizer`
        counts in its inner optimizer. A step skipped for non-finite fp16
        gradients does not advance the count, so its retry reuses the seed.
        """
        optimizer = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        return optimizer._iterations

    def _step_seed(self, input_ids, offset):
        """Per-example seeds of (seed, micro-step, example content, use).

        Not the replica id: the same global batch gets the same masks and
        samples however it is split over replicas.
        """
        return example_seeds(input_ids, self.seed, self._micro_step(), offset)

    def _batch_seed(self, input_ids, offset):
        """Evaluation seeds from the content alone: evaluation is repeatable."""
        return example_seeds(input_ids, self.seed + 1, 0, offset)

    def mask(self, batch, seeds):
        """The generator's `MaskedInputs` of the batch (ELECTRA's masking)."""
        return mask_tokens(
            batch["input_ids"], batch["input_mask"], self.special_token_ids,
            self.mask_token_id, self.mask_prob, self.mask_token_prob,
            self.max_predictions_per_seq, seeds[0],
        )

    def generate(self, masked, batch, seeds, training, normalizer=None):
        """Runs the generator on `masked` and samples replacements.

        The MLM loss, its argmax and the samples come from `chunked_mlm_loss`:
        the generator's `(batch, n, vocab)` logits are computed a few examples
        at a time and never held whole (on ELECTRA-Small at batch 32, two 74 MB
        float32 tensors fewer alive across the discriminator's pass).

        Returns `(generator, corrupted_ids, rtd_labels)`, `generator` an
        `MlmOutputs` (loss over `normalizer`, default the local slot count).
        """
        sequence = self._encode(self.generator, masked.input_ids, batch, training)
        generator = self._mlm(self.generator_head, sequence, masked, normalizer, seeds[1])
        corrupted, rtd_labels = replace_tokens(
            batch["input_ids"], masked.positions, masked.weights, generator.samples)
        return generator, corrupted, rtd_labels

    def _mlm(self, head, sequence, masked, normalizer, seeds=None):
        """`MlmOutputs` of the MLM `head` on `sequence` at `masked.positions`
        (samples at `self.temperature` with per-example `seeds`).

        Computed by `chunked_mlm_loss` when `head` is the tied keras-hub
        `MaskedLMHead` that `build_pretrainer` makes; from its whole logits
        otherwise.
        """
        embedding = head.token_embedding
        if (embedding is not None and embedding.tie_weights and embedding.reverse_dtype is None
                and embedding.logit_soft_cap is None and head.activation in (None, _LINEAR)):
            with tf.name_scope(head.name):  # (as a call of the head names its ops)
                # The head up to its output layer (keras-hub `MaskedLMHead.call`).
                features = tf.gather(sequence, masked.positions, batch_dims=1)
                features = head._intermediate_layer_norm(head._intermediate_dense(features))
                return chunked_mlm_loss(
                    features, embedding.embeddings.value, head._bias.value, masked.targets,
                    masked.weights, normalizer, head.compute_dtype, self.temperature, seeds)
        logits = tf.cast(head(sequence, mask_positions=masked.positions), tf.float32)
        return MlmOutputs(
            mlm_loss(logits, masked.targets, masked.weights, normalizer),
            tf.argmax(logits, -1, output_type=tf.int32),
            None if seeds is None else sample_from_logits(logits, self.temperature, seeds))

    def compute_losses(self, batch, seeds, training, global_normalizers=False):
        """The losses of this replica's batch under `objective`, and what they came from.

        With `global_normalizers`, they are this replica's share: sums over
        its examples divided by the counts of the whole global batch
        (all-reduced), so that summing them over replicas gives the losses of
        the global batch exactly, whatever the split.

        Returns:
            `(ElectraLosses, outputs)`: `discriminator` is the RTD loss for
            "electra" and the discriminator-side MLM loss otherwise;
            `generator` is 0 for "mlm". `outputs` is a dict for the metrics.
        """
        objective = {
            "electra": self._electra_losses,
            "mlm": self._mlm_losses,
            "replace_mlm": self._replace_mlm_losses,
            "all_tokens_mlm": self._all_tokens_mlm_losses,
        }[self.objective]
        return objective(batch, seeds, training, global_normalizers)

    def _electra_losses(self, batch, seeds, training, global_normalizers):
        """Replaced-token detection on the generator's samples."""
        masked = self.mask(batch, seeds)
        mlm_count, rtd_count = _counts(global_normalizers, masked.weights, batch["input_mask"])
        generator, corrupted, rtd_labels = self.generate(masked, batch, seeds, training,
                                                         mlm_count)
        disc_logits = self._discriminator_logits(corrupted, batch, training)
        # `objectives.electra_loss`, with the generator's part computed in chunks.
        rtd = rtd_loss(disc_logits, rtd_labels, batch["input_mask"], rtd_count)
        losses = ElectraLosses(
            self.generator_weight * generator.loss + self.discriminator_weight * rtd,
            generator.loss, rtd)
        return losses, {"masked": masked, "generator": generator,
                        "discriminator_logits": disc_logits, "rtd_labels": rtd_labels}

    def _mlm_losses(self, batch, seeds, training, global_normalizers):
        """BERT: 80/10/10 masking, MLM on the discriminator; no generator runs."""
        masked = bert_mask_tokens(
            batch["input_ids"], batch["input_mask"], self.special_token_ids,
            self.mask_token_id, self.embeddings.vocabulary_size, self.mask_prob,
            self.max_predictions_per_seq, seeds[0],
        )
        (count,) = _counts(global_normalizers, masked.weights)
        mlm = self._discriminator_mlm(masked.input_ids, batch, masked, count, training)
        losses = ElectraLosses(mlm.loss, tf.zeros_like(mlm.loss), mlm.loss)
        return losses, {"mlm_predictions": mlm.predictions, "mlm_targets": masked.targets,
                        "mlm_weights": masked.weights}

    def _replace_mlm_losses(self, batch, seeds, training, global_normalizers):
        """The discriminator predicts the original tokens at the corrupted positions."""
        masked = self.mask(batch, seeds)
        (count,) = _counts(global_normalizers, masked.weights)
        generator, corrupted, rtd_labels = self.generate(masked, batch, seeds, training, count)
        mlm = self._discriminator_mlm(corrupted, batch, masked, count, training)
        losses = ElectraLosses(self.generator_weight * generator.loss + mlm.loss,
                               generator.loss, mlm.loss)
        return losses, {"masked": masked, "generator": generator,
                        "rtd_labels": rtd_labels, "mlm_predictions": mlm.predictions,
                        "mlm_targets": masked.targets, "mlm_weights": masked.weights}

    def _all_tokens_mlm_losses(self, batch, seeds, training, global_normalizers):
        """The discriminator predicts every original token, copying or generating."""
        masked = self.mask(batch, seeds)
        mlm_count, token_count = _counts(global_normalizers, masked.weights,
                                         batch["input_mask"])
        generator, corrupted, rtd_labels = self.generate(masked, batch, seeds, training,
                                                         mlm_count)
        # One encoder pass (one dropout mask) feeds both heads.
        sequence = self._encode(self.discriminator, corrupted, batch, training)
        mlm_logits = self._mlm_head_logits(sequence, _every_position(corrupted))
        copy_logits = tf.cast(self.discriminator_head(sequence), tf.float32)
        discriminator = copy_mechanism_loss(mlm_logits, copy_logits, corrupted,
                                            batch["input_ids"], batch["input_mask"],
                                            token_count)
        losses = ElectraLosses(self.generator_weight * generator.loss + discriminator,
                               generator.loss, discriminator)
        predictions = tf.argmax(copy_mechanism_probabilities(mlm_logits, copy_logits, corrupted),
                                -1, output_type=tf.int32)
        return losses, {"masked": masked, "generator": generator,
                        "rtd_labels": rtd_labels, "mlm_predictions": predictions,
                        "mlm_targets": batch["input_ids"], "mlm_weights": batch["input_mask"]}

    def _trained_variables(self):
        """The trainable variables of the parts `objective` runs, in model order."""
        parts = [getattr(self, name) for name in _TRAINED_PARTS[self.objective]]
        reached = {id(v) for part in parts for v in part.trainable_variables}
        return [v for v in self.trainable_variables if id(v) in reached]

    # --------------------------------------------------------------- training
    def compile(self, *args, **kwargs):
        """`keras.Model.compile`, then the optimizer's slots for every variable.

        Built now rather than inside the first traced `train_step`: variables
        created there make `tf.function` trace the step twice, and the
        second graph's optimisation costs memory that is never given back
        (ELECTRA-Small, batch 32 x 128: 0.45 GB more peak RSS).
        """
        super().compile(*args, **kwargs)
        self._build_optimizer()

    def _build_optimizer(self):
        if not self.optimizer.built:
            # With slots for every variable, as Keras' loading builds it, also
            # when the objective trains only some of them.
            with keras.name_scope(self.optimizer.name, caller=self.optimizer):
                self.optimizer.build(self.trainable_variables)

    def train_step(self, data):
        batch = _as_int32(keras.utils.unpack_x_y_sample_weight(data)[0])
        seeds = (self._step_seed(batch["input_ids"], 0), self._step_seed(batch["input_ids"], 1))
        replica = tf.distribute.get_replica_context()
        num_replicas = replica.num_replicas_in_sync if replica is not None else 1
        # XLA-fused activations in the step's forward and backward passes (the
        # recomputed blocks of `remat` included); inference and exports,
        # traced elsewhere, keep plain ops.
        with compiled_activations():
            with tf.GradientTape() as tape:
                losses, outputs = self.compute_losses(batch, seeds, training=True,
                                                      global_normalizers=num_replicas > 1)
                # Identity unless the optimizer scales losses (`LossScaleOptimizer`
                # under mixed_float16); its `apply` divides the scale back out.
                scaled_loss = self.optimizer.scale_loss(losses.total)
            variables = self._trained_variables()
            gradients = tape.gradient(scaled_loss, variables)
        # For the logged gradient norm: 1 / (any fp16 loss scale).
        unscale = tf.math.divide_no_nan(losses.total, tf.cast(scaled_loss, tf.float32))
        # Dense: the norm of `IndexedSlices` (segment-embedding lookups) is the
        # norm of their un-summed rows, not of the gradient, so clipping and
        # the logged norm would depend on how a batch is split over replicas.
        gradients = [g if g is None else tf.convert_to_tensor(g) for g in gradients]
        if num_replicas > 1:
            # The replica count is accounted for exactly once, here: each
            # replica's loss is its share of the global sums (global
            # normalizers), so the SUM of replica gradients is the gradient of
            # the global batch. Keras clips each replica's gradients and then
            # all-reduces them with SUM inside `apply`; to clip the *global*
            # gradient, it is reduced here first and handed on divided by the
            # replica count, with the optimizer's `global_clipnorm` set to
            # `clip_norm / num_replicas` (`create_optimizer`), so that
            # clip(g / n, c / n) summed n times is exactly clip(g, c).
            gradients = replica.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
            gradients = [g / num_replicas for g in gradients]
            losses = type(losses)(*replica.all_reduce(tf.distribute.ReduceOp.SUM, list(losses)))
        # Before clipping, of the global batch's gradient (not divided by n).
        gradient_norm = tf.linalg.global_norm(gradients) * unscale * num_replicas
        if self._clips_in_train_step():
            gradients, _ = tf.clip_by_global_norm(gradients, self.clip_norm / num_replicas)
        self._build_optimizer()  # (`compile` has built it, unless it was replaced since)
        self.optimizer.apply(gradients, variables)
        logs = self._update_metrics(losses, outputs, batch)
        # The norm of this step's gradient (one micro-batch's with accumulation).
        logs["gradient_norm"] = gradient_norm
        return logs

    def _clips_in_train_step(self):
        """Whether `train_step` clips, or leaves it to the optimizer.

        Clipping belongs to the gradient of one update, unscaled. Here, the
        gradients may still carry a loss scale (fp16) or be one micro-batch
        of several (accumulation), and clipping them would clip the wrong
        thing. Keras clips inside `apply` after unscaling and after averaging
        the micro-batches, so whenever the optimizer has clipping of its own
        (`create_optimizer` sets `global_clipnorm=clip_norm`) it does it;
        `train_step` clips only a plain optimizer that has none, and refuses
        an optimizer that scales or accumulates without clipping.
        """
        if not self.clip_norm:
            return False
        outer = self.optimizer
        inner = getattr(outer, "inner_optimizer", outer)
        if inner.global_clipnorm or inner.clipnorm or inner.clipvalue:
            return False
        scales = inner is not outer or outer.loss_scale_factor or inner.loss_scale_factor
        if scales or inner.gradient_accumulation_steps:
            raise ValueError(
                f"ElectraPretrainer(clip_norm={self.clip_norm}): the optimizer scales the "
                "loss or accumulates gradients, so clipping must happen inside it on the "
                "unscaled, averaged gradient. Give the (inner) optimizer "
                f"`global_clipnorm={self.clip_norm}` (as `create_optimizer` does).")
        return True

    def test_step(self, data):
        batch = _as_int32(keras.utils.unpack_x_y_sample_weight(data)[0])
        seeds = (self._batch_seed(batch["input_ids"], 0), self._batch_seed(batch["input_ids"], 1))
        replica = tf.distribute.get_replica_context()
        num_replicas = replica.num_replicas_in_sync if replica is not None else 1
        losses, outputs = self.compute_losses(batch, seeds, training=False,
                                              global_normalizers=num_replicas > 1)
        if num_replicas > 1:  # the losses of the global batch, as in `train_step`
            losses = type(losses)(*replica.all_reduce(tf.distribute.ReduceOp.SUM, list(losses)))
        return self._update_metrics(losses, outputs, batch)

    def _update_metrics(self, losses, outputs, batch):
        input_mask = tf.cast(batch["input_mask"], tf.float32)
        self.loss_tracker.update_state(losses.total)
        if "generator" in outputs:
            masked = outputs["masked"]
            self.generator_loss_tracker.update_state(losses.generator)
            self.generator_accuracy.update_state(masked.targets, outputs["generator"].predictions,
                                                 masked.weights)
            self.replaced_fraction.update_state(outputs["rtd_labels"], input_mask)
        if self.objective == "electra":
            rtd_labels = outputs["rtd_labels"]
            replaced_prob = tf.sigmoid(outputs["discriminator_logits"])
            self.discriminator_loss_tracker.update_state(losses.discriminator)
            self.discriminator_accuracy.update_state(rtd_labels, replaced_prob, input_mask)
            self.replaced_precision.update_state(rtd_labels, replaced_prob, input_mask)
            self.replaced_recall.update_state(rtd_labels, replaced_prob, input_mask)
            self.replaced_auc.update_state(rtd_labels, replaced_prob, input_mask)
        else:
            self.discriminator_mlm_loss_tracker.update_state(losses.discriminator)
            self.discriminator_mlm_accuracy.update_state(
                outputs["mlm_targets"], outputs["mlm_predictions"],
                tf.cast(outputs["mlm_weights"], tf.float32))
        return {metric.name: metric.result() for metric in self.metrics}

    @property
    def metrics(self):
        return [getattr(self, name) for name in _METRICS[self.objective]]

    # ---------------------------------------------------------- serialisation
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.layers.serialize(self.generator),
            "discriminator": keras.layers.serialize(self.discriminator),
            "generator_head": keras.layers.serialize(self.generator_head),
            "discriminator_head": keras.layers.serialize(self.discriminator_head),
            "special_token_ids": list(self.special_token_ids),
            "mask_token_id": self.mask_token_id,
            "mask_prob": self.mask_prob,
            "mask_token_prob": self.mask_token_prob,
            "max_predictions_per_seq": self.max_predictions_per_seq,
            "temperature": self.temperature,
            "generator_weight": self.generator_weight,
            "discriminator_weight": self.discriminator_weight,
            "clip_norm": self.clip_norm,
            "seed": self.seed,
            "objective": self.objective,
            "discriminator_mlm_head": (
                None if self.discriminator_mlm_head is None
                else keras.layers.serialize(self.discriminator_mlm_head)),
        }

    @classmethod
    def from_config(cls, config):
        """Rebuilds the towers and re-ties them to one embedding block."""
        config = dict(config)
        discriminator = ElectraBackbone.from_config(config.pop("discriminator")["config"])
        embeddings = _shared_embeddings(discriminator)
        generator_config = dict(config.pop("generator")["config"])
        generator_config["embeddings"] = embeddings
        generator = ElectraBackbone.from_config(generator_config)
        generator_head = _tied_mlm_head(config.pop("generator_head"), embeddings)
        discriminator_head = keras.layers.deserialize(
            config.pop("discriminator_head"),
            custom_objects={"DiscriminatorHead": DiscriminatorHead})
        if config.get("discriminator_mlm_head") is not None:
            config["discriminator_mlm_head"] = _tied_mlm_head(
                config["discriminator_mlm_head"], embeddings)
        return cls(generator, discriminator, generator_head, discriminator_head, **config)


def _shared_embeddings(discriminator):
    """The `ElectraEmbeddings` block the discriminator shares with the generator."""
    embeddings = discriminator.embeddings
    return embeddings.shared if isinstance(embeddings, GdesEmbeddings) else embeddings


def _tied_mlm_head(serialized, embeddings):
    """A serialized keras-hub `MaskedLMHead`, re-tied to the shared word table."""
    head_config = dict(serialized["config"])
    head_config["token_embedding"] = embeddings.token_embedding
    head_config["dtype"] = keras.dtype_policies.deserialize(head_config["dtype"])
    return keras_hub.layers.MaskedLMHead(**head_config)


def _every_position(input_ids):
    """`(batch, seq)` int32 positions `0..seq-1` of every row."""
    shape = tf.shape(input_ids)
    return tf.tile(tf.range(shape[1])[None, :], [shape[0], 1])


def _counts(global_normalizers, *weights):
    """The normalizer of each loss: `None` (its local count) or, with
    `global_normalizers`, the sum of `weights` over the global batch."""
    if not global_normalizers:
        return [None] * len(weights)
    counts = [tf.reduce_sum(tf.cast(w, tf.float32)) for w in weights]
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, counts)


def _as_int32(batch):
    """TFRecords carry int64; the model runs on int32 ids."""
    missing = [name for name in _FEATURES if name not in batch]
    if missing:
        raise ValueError(
            f"ElectraPretrainer: batch is missing feature(s) {missing}; expected "
            f"a dict with {list(_FEATURES)}.")
    return {name: tf.cast(batch[name], tf.int32) for name in _FEATURES}
