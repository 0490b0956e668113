"""One careful ELECTRA pre-training step in PyTorch + Hugging Face `transformers`.

The alternative that `bench/pretrain_step.py` (CPU) and
`bench/gpu_keras_jax.py` (GPU) measure keras_electra against:
`ElectraForMaskedLM` (its encoder and heads called separately) and
`ElectraForPreTraining` with `attn_implementation="sdpa"`, one shared
embedding module and a tied generator output matrix, dynamic masking as
`keras_electra.objectives.masking`, the generator's hidden states gathered at
the masked positions *before* its MLM head (no full-vocabulary logits),
Gumbel-max sampling in float32 without gradient, `1 * mlm + 50 * rtd`, AdamW
with decay/no-decay parameter groups (`fused=True` where the build has it),
`clip_grad_norm_` and the linear warmup/decay schedule. `transformers` has no
ELECTRA pre-training loop; this is the version a strong engineer would write.

It imports neither TensorFlow nor keras_electra: the peak RSS of the process
that runs it is measured.

Example (CPU, a tiny random config):

>>> import types, torch
>>> config = types.SimpleNamespace(
...     vocab_size=64, embedding_size=16, hidden_size=16, num_layers=1, num_heads=2,
...     intermediate_size=32, generator_width=16, generator_depth=1, generator_heads=1,
...     generator_ffn=32, max_position_embeddings=16, type_vocab_size=2,
...     hidden_act="gelu", dropout=0.1, layer_norm_epsilon=1e-12, initializer_range=0.02,
...     predictions_per_seq=2, mask_prob=0.15, mask_token_prob=0.85, temperature=1.0,
...     generator_weight=1.0, discriminator_weight=50.0, weight_decay=0.01,
...     learning_rate=1e-3, adam_epsilon=1e-6, num_warmup_steps=0, clip_norm=1.0)
>>> step, info = build_torch_step(config, "float32")
>>> ids = torch.randint(5, 64, (2, 8))
>>> loss = step(ids, torch.ones_like(ids), torch.zeros_like(ids))
>>> bool(torch.isfinite(loss))
True
"""


def build_torch_step(config, dtype, compile_loss=False, fused_adamw=True, device="cpu"):
    """`(step(ids, attention, segments), info)`: one careful ELECTRA step in PyTorch.

    `device`: "cpu" or "cuda"; the inputs must be on it. `dtype` "bfloat16" is
    autocast to bfloat16 around both towers; losses and sampling stay float32.
    """
    import torch
    import torch.nn.functional as F
    import transformers

    if getattr(config, "objective", "electra") != "electra":
        raise ValueError("The PyTorch side implements the 'electra' objective only.")
    torch.manual_seed(0)
    common = dict(
        vocab_size=config.vocab_size, embedding_size=config.embedding_size,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        hidden_act={"gelu": "gelu", "gelu_approximate": "gelu_new"}[config.hidden_act],
        hidden_dropout_prob=config.dropout, attention_probs_dropout_prob=config.dropout,
        layer_norm_eps=config.layer_norm_epsilon, initializer_range=config.initializer_range,
        attn_implementation="sdpa")
    disc = transformers.ElectraForPreTraining(transformers.ElectraConfig(
        hidden_size=config.hidden_size, num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads, intermediate_size=config.intermediate_size,
        **common))
    gen = transformers.ElectraForMaskedLM(transformers.ElectraConfig(
        hidden_size=config.generator_width, num_hidden_layers=config.generator_depth,
        num_attention_heads=config.generator_heads, intermediate_size=config.generator_ffn,
        **common))
    # ELECTRA shares word/position/segment embeddings (and their LayerNorm); the
    # generator's output matrix is the word table.
    gen.electra.embeddings = disc.electra.embeddings
    gen.generator_lm_head.weight = disc.electra.embeddings.word_embeddings.weight
    if getattr(config, "remat", False):
        # keras_electra's `remat`, as transformers does it: every encoder layer
        # recomputed in the backward pass (torch.utils.checkpoint, which
        # replays the RNG state, so dropout masks match).
        for tower in (gen, disc):
            tower.gradient_checkpointing_enable({"use_reentrant": False})

    num_predictions = config.predictions_per_seq
    # [PAD], [CLS], [SEP], [MASK]: never masked (keras_electra's default layout).
    special_ids = torch.tensor([0, 2, 3, 4], device=device)
    autocast = dtype == "bfloat16"

    class ElectraLoss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gen, self.disc = gen, disc

        def forward(self, ids, attention, segments):
            batch_size = ids.shape[0]
            with torch.no_grad():  # dynamic masking, as keras_electra.objectives.masking
                maskable = attention.bool() & ~torch.isin(ids, special_ids)
                scores = torch.rand(ids.shape, device=device).masked_fill(~maskable, -1.0)
                positions = scores.topk(num_predictions, dim=1).indices  # (b, p)
                candidates = maskable.sum(1)
                count = torch.minimum(
                    torch.round(candidates * config.mask_prob).clamp(min=1), candidates)
                count = count.clamp(max=num_predictions)
                slots = torch.arange(num_predictions, device=device)
                weights = slots[None, :] < count[:, None]
                targets = ids.gather(1, positions)
                use_mask = weights & (torch.rand(batch_size, num_predictions, device=device)
                                      < config.mask_token_prob)
                masked = ids.scatter(1, positions, torch.where(use_mask, 4, targets))
            with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):
                hidden = self.gen.electra(masked, attention_mask=attention,
                                          token_type_ids=segments).last_hidden_state
                # Only the masked positions reach the MLM head and the vocabulary.
                hidden = hidden.gather(1, positions[..., None].expand(-1, -1, hidden.shape[-1]))
                gen_logits = self.gen.generator_lm_head(self.gen.generator_predictions(hidden))
            gen_logits = gen_logits.float()
            w = weights.float()
            mlm = (F.cross_entropy(gen_logits.flatten(0, 1), targets.flatten(),
                                   reduction="none") * w.flatten()).sum() / w.sum().clamp(min=1)
            # Gumbel-max in float32, the original's noise. keras_electra draws a
            # categorical sample instead, but in torch 2.13 on this CPU Gumbel-max is
            # the fastest exact sampler of (614, 30522) logits: 256 ms, against 424 ms
            # for softmax + torch.multinomial and 454 ms for an exponential race.
            with torch.no_grad():
                uniform = torch.rand_like(gen_logits)
                gumbel = -torch.log(-torch.log(uniform + 1e-9) + 1e-9)
                sampled = (gen_logits / config.temperature + gumbel).argmax(-1)
                corrupted = ids.scatter(1, positions, torch.where(weights, sampled, targets))
                labels = (corrupted != ids).float()
            with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):
                disc_logits = self.disc(corrupted, attention_mask=attention,
                                        token_type_ids=segments).logits
            real = attention.float()
            rtd = (F.binary_cross_entropy_with_logits(disc_logits.float(), labels,
                                                      reduction="none") * real).sum() / real.sum()
            return config.generator_weight * mlm + config.discriminator_weight * rtd

    model = ElectraLoss().to(device).train()
    named = {}
    for name, parameter in list(disc.named_parameters()) + list(gen.named_parameters()):
        named.setdefault(id(parameter), (name, parameter))  # shared ones once
    params = [p for _, p in named.values()]
    no_decay = [p for n, p in named.values() if "bias" in n or "LayerNorm" in n]
    decay = [p for n, p in named.values() if not ("bias" in n or "LayerNorm" in n)]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    fused = False
    if fused_adamw:
        try:
            optimizer = torch.optim.AdamW(groups, lr=config.learning_rate,
                                          eps=config.adam_epsilon, fused=True)
            fused = True
        except (RuntimeError, TypeError, ValueError):  # a build without the fused kernel
            pass
    if not fused:
        optimizer = torch.optim.AdamW(groups, lr=config.learning_rate, eps=config.adam_epsilon)
    # keras_electra's WarmupLinearDecay: peak * (1 - step/total) * min(1, step/warmup).
    total, warmup = 10_000, min(config.num_warmup_steps, 10_000)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: max(0.0, 1 - s / total) * (min(1.0, s / warmup) if warmup else 1.0))
    loss_fn = torch.compile(model) if compile_loss else model

    def step(ids, attention, segments):
        loss = loss_fn(ids, attention, segments)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.clip_norm)
        optimizer.step()
        schedule.step()
        return loss

    info = {"torch_version": torch.__version__, "transformers_version": transformers.__version__,
            "attn_implementation": disc.config._attn_implementation, "fused_adamw": fused,
            "torch_compile": compile_loss,
            "torch_parameters": sum(p.numel() for p in params)}
    return step, info
