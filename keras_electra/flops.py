"""Analytic matmul FLOPs of an ELECTRA pre-training step (and of inference).

The count behind model FLOPs utilisation (`bench/`) and the equal-compute
comparisons of the objective study. Only matrix products are counted, at
`2 * m * n * k` FLOPs each (one multiply and one add per term):

* the embedding projection (`embedding_size -> hidden`, only when the two
  widths differ, as in `ElectraBackbone`);
* per encoder layer: the Q, K, V and output projections (`4 * 2 * T * h^2`
  for `T = batch * seq` tokens), the attention scores `Q K^T` and the
  context `P V` (`2 * 2 * batch * seq^2 * h`, summed over heads), and the
  feed-forward block (`2 * 2 * T * h * ffn`);
* heads: a masked-LM head (dense `hidden -> embedding_size`, then the tied
  vocabulary projection `embedding_size -> vocab`) at `P` positions per
  example, where `P = max_predictions_per_seq` when the objective gathers
  the masked positions first; the discriminator head (dense `hidden ->
  hidden`, then `hidden -> 1`) on every token.

A trained part costs 3x its forward pass (the backward pass computes the
gradient with respect to both operands of every product: 2x the forward).
Every matmul of a pre-training step is trained (the generator through the
MLM loss, the embeddings through both towers), so a step is 3x its forward
FLOPs. Ignored, as in the usual MFU accounting (PaLM, nanoGPT):
elementwise work (GELU, softmax, LayerNorm, dropout, residual adds, the
attention mask), embedding lookups, masking and sampling, the losses and the
optimizer update. On the configs here they add a few per cent.

Objectives (`config.objective`, "electra" when the config has none):

* `electra`: generator encoder + its MLM head at the masked positions,
  discriminator encoder + discriminator head on all tokens.
* `mlm`: one discriminator-sized encoder + an MLM head at the masked
  positions; no generator.
* `replace_mlm`: generator (+ its head at the masked positions) +
  discriminator encoder + an MLM head on the discriminator at the masked
  positions.
* `all_tokens_mlm`: as `replace_mlm`, but the discriminator's MLM head
  (vocabulary projection included) runs on every token, plus the copy
  probability on every token, which `ElectraPretrainer` takes from the
  discriminator head (dense `hidden -> hidden`, then `hidden -> 1`).

Embedding sharing ("tied" or "gdes") changes no matmul: GDES adds a
residual table elementwise.

Example (one layer; the sum is written out in `tests/test_flops.py`):

>>> from keras_electra.config import ElectraConfig
>>> config = ElectraConfig(vocab_size=100, embedding_size=8, hidden_size=16,
...                        num_layers=1, num_heads=2, intermediate_size=32,
...                        generator_hidden_size=0.5, max_predictions_per_seq=2,
...                        max_seq_length=8)
>>> train_step_flops(config, batch_size=2, seq_length=8)
366336
>>> inference_flops(config, batch_size=2, seq_length=8)
86528
"""

OBJECTIVES = ("electra", "mlm", "replace_mlm", "all_tokens_mlm")

# A trained matmul: forward + gradients of both operands.
TRAIN_MULTIPLIER = 3


def encoder_flops(batch_size, seq_length, embedding_size, hidden_size, num_layers,
                  intermediate_size):
    """Forward matmul FLOPs of one tower: embedding projection + encoder layers.

    >>> encoder_flops(2, 8, embedding_size=16, hidden_size=16, num_layers=1,
    ...               intermediate_size=32)  # no projection: 8*16*16^2 + 4*2*8^2*16 + 4*16*16*32
    73728
    """
    tokens = batch_size * seq_length
    projection = 2 * tokens * embedding_size * hidden_size if embedding_size != hidden_size else 0
    per_layer = (8 * tokens * hidden_size * hidden_size  # Q, K, V, output projections
                 + 4 * batch_size * seq_length * seq_length * hidden_size  # QK^T and PV
                 + 4 * tokens * hidden_size * intermediate_size)  # FFN in and out
    return projection + num_layers * per_layer


def mlm_head_flops(num_positions, hidden_size, embedding_size, vocab_size):
    """Forward FLOPs of an MLM head at `num_positions` positions (dense + vocab projection)."""
    return 2 * num_positions * hidden_size * embedding_size + \
        2 * num_positions * embedding_size * vocab_size


def discriminator_head_flops(num_tokens, hidden_size):
    """Forward FLOPs of the replaced-token head (dense h->h, then h->1) on `num_tokens`."""
    return 2 * num_tokens * hidden_size * hidden_size + 2 * num_tokens * hidden_size


def predictions_per_seq(config, seq_length):
    """Masked positions per example that the heads see (the static slot count).

    `config.max_predictions_per_seq`, or, when unset, the config's own
    derivation `round((mask_prob + 0.005) * seq_length)` at this length;
    never more than `seq_length`.
    """
    explicit = config.max_predictions_per_seq
    slots = explicit if explicit is not None else int(round((config.mask_prob + 0.005) *
                                                            seq_length))
    return min(slots, seq_length)


def _discriminator_encoder(config, batch_size, seq_length):
    return encoder_flops(batch_size, seq_length, config.embedding_size, config.hidden_size,
                         config.num_layers, config.intermediate_size)


def _generator(config, batch_size, seq_length, positions):
    """Generator encoder + its MLM head at `positions` per example (forward)."""
    encoder = encoder_flops(batch_size, seq_length, config.embedding_size,
                            config.generator_width, config.generator_depth, config.generator_ffn)
    head = mlm_head_flops(batch_size * positions, config.generator_width,
                          config.embedding_size, config.vocab_size)
    return encoder + head


def forward_flops(config, batch_size, seq_length, objective=None):
    """Forward matmul FLOPs of one pre-training step of `objective`.

    Args:
        config: an `ElectraConfig` (any object with its size fields).
        batch_size: examples in the step.
        seq_length: tokens per example.
        objective: one of `OBJECTIVES`; default `config.objective`, or
            "electra" for a config without that field.
    """
    objective = objective or getattr(config, "objective", "electra")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}.")
    tokens = batch_size * seq_length
    positions = predictions_per_seq(config, seq_length)
    discriminator = _discriminator_encoder(config, batch_size, seq_length)
    if objective == "electra":
        return (_generator(config, batch_size, seq_length, positions) + discriminator
                + discriminator_head_flops(tokens, config.hidden_size))
    masked_head = mlm_head_flops(batch_size * positions, config.hidden_size,
                                 config.embedding_size, config.vocab_size)
    if objective == "mlm":
        return discriminator + masked_head
    generator = _generator(config, batch_size, seq_length, positions)
    if objective == "replace_mlm":
        return generator + discriminator + masked_head
    # all_tokens_mlm: the MLM head on every token, plus the copy probability
    # (the discriminator head) on every token.
    all_tokens_head = mlm_head_flops(tokens, config.hidden_size, config.embedding_size,
                                     config.vocab_size)
    return (generator + discriminator + all_tokens_head
            + discriminator_head_flops(tokens, config.hidden_size))


def train_step_flops(config, batch_size, seq_length, objective=None) -> int:
    """Matmul FLOPs of one pre-training step, forward and backward (3x forward).

    See the module docstring for what is counted; `objective` as in
    `forward_flops`.
    """
    return TRAIN_MULTIPLIER * forward_flops(config, batch_size, seq_length, objective)


def inference_flops(config, batch_size, seq_length, head=True) -> int:
    """Forward matmul FLOPs of the discriminator on a batch (what serving runs).

    With `head`, the replaced-token head on every token is included
    (`detect_text`); without, the encoder alone (`embed_text`, fine-tuning
    features).
    """
    flops = _discriminator_encoder(config, batch_size, seq_length)
    if head:
        flops += discriminator_head_flops(batch_size * seq_length, config.hidden_size)
    return flops
