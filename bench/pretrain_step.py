"""Per-step time of ELECTRA pre-training: keras_electra vs transformers (PyTorch).

    python bench/pretrain_step.py --config=configs/electra_small.json \
        --batch_size=32 --seq_length=128 --steps=20 --repeats=3

Prints one JSON line per measurement. Both sides run the same objective on
the same sizes and random data: dynamic 15% masking, generator MLM, Gumbel
sampling, discriminator RTD, `mlm + 50 * rtd`, global-norm clipping, AdamW.
The PyTorch side is what a user of Hugging Face would write (transformers has
no ELECTRA pre-training loop): `ElectraForMaskedLM` + `ElectraForPreTraining`
sharing one embedding module. Each side warms up (tracing/XLA compilation
excluded), then the median of `--repeats` timings of `--steps` steps is reported.
"""

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

flags.DEFINE_string("config", "configs/electra_small.json", "ElectraConfig JSON.")
flags.DEFINE_integer("batch_size", 32, "Examples per step.")
flags.DEFINE_integer("seq_length", 128, "Tokens per example.")
flags.DEFINE_integer("steps", 20, "Steps per timing.")
flags.DEFINE_integer("repeats", 3, "Timings per side (median reported).")
flags.DEFINE_integer("warmup", 3, "Untimed warmup steps.")
flags.DEFINE_bool("torch", True, "Also time the transformers/PyTorch step.")
flags.DEFINE_bool("keras", True, "Time the keras_electra step (--nokeras: PyTorch only).")
FLAGS = flags.FLAGS


def _batch(config, rng):
    import numpy as np

    ids = rng.integers(5, config.vocab_size, (FLAGS.batch_size, FLAGS.seq_length)).astype("int32")
    ids[:, 0], ids[:, -1] = 2, 3
    return {"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": np.zeros_like(ids)}


def time_keras(config, batch):
    import keras
    import tensorflow as tf

    from keras_electra.builders import build_pretrainer
    from keras_electra.training.optimizer import create_optimizer

    keras.utils.set_random_seed(0)
    pretrainer = build_pretrainer(config)
    pretrainer.compile(optimizer=create_optimizer(config, 10_000))
    data = tf.data.Dataset.from_tensors({k: tf.constant(v) for k, v in batch.items()}).repeat()
    pretrainer.fit(data, steps_per_epoch=FLAGS.warmup, epochs=1, verbose=0)
    timings = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        pretrainer.fit(data, steps_per_epoch=FLAGS.steps, epochs=1, verbose=0)
        timings.append((time.perf_counter() - start) / FLAGS.steps)
    return timings, pretrainer.jit_compile


def time_torch(config, batch):
    import torch
    import transformers

    torch.manual_seed(0)
    common = dict(vocab_size=config.vocab_size, embedding_size=config.embedding_size,
                  max_position_embeddings=config.max_position_embeddings,
                  type_vocab_size=config.type_vocab_size, hidden_act="gelu",
                  layer_norm_eps=config.layer_norm_epsilon)
    disc = transformers.ElectraForPreTraining(transformers.ElectraConfig(
        hidden_size=config.hidden_size, num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads, intermediate_size=config.intermediate_size,
        **common))
    gen = transformers.ElectraForMaskedLM(transformers.ElectraConfig(
        hidden_size=config.generator_width, num_hidden_layers=config.generator_depth,
        num_attention_heads=config.generator_heads,
        intermediate_size=config.generator_ffn, **common))
    gen.electra.embeddings = disc.electra.embeddings  # ELECTRA shares embeddings
    gen.generator_lm_head.weight = disc.electra.embeddings.word_embeddings.weight
    params = {id(p): p for p in list(disc.parameters()) + list(gen.parameters())}.values()
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01, eps=1e-6)
    ids = torch.tensor(batch["input_ids"], dtype=torch.long)
    attention = torch.tensor(batch["input_mask"], dtype=torch.long)
    segments = torch.tensor(batch["segment_ids"], dtype=torch.long)
    num_predictions = config.predictions_per_seq
    disc.train()
    gen.train()

    def step():
        # Masking: a random subset of maskable positions, 85% [MASK].
        maskable = (ids > 4) & attention.bool()
        scores = torch.where(maskable, torch.rand(ids.shape), torch.full(ids.shape, -1.0))
        positions = scores.topk(num_predictions, dim=-1).indices
        chosen = torch.zeros_like(ids, dtype=torch.bool).scatter_(1, positions, True)
        use_mask = chosen & (torch.rand(ids.shape) < 0.85)
        masked = torch.where(use_mask, torch.full_like(ids, 4), ids)
        gen_logits = gen(input_ids=masked, attention_mask=attention,
                         token_type_ids=segments).logits
        labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        mlm = torch.nn.functional.cross_entropy(gen_logits.view(-1, gen_logits.size(-1)),
                                                labels.view(-1), ignore_index=-100)
        with torch.no_grad():
            gumbel = -torch.log(-torch.log(torch.rand(gen_logits.shape) + 1e-9) + 1e-9)
            sampled = (gen_logits.float() + gumbel).argmax(-1)
        corrupted = torch.where(chosen, sampled, ids)
        rtd_labels = (corrupted != ids).float()
        disc_logits = disc(input_ids=corrupted, attention_mask=attention,
                           token_type_ids=segments).logits
        rtd = torch.nn.functional.binary_cross_entropy_with_logits(disc_logits, rtd_labels)
        loss = mlm + 50.0 * rtd
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params), 1.0)
        optimizer.step()

    for _ in range(FLAGS.warmup):
        step()
    timings = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        for _ in range(FLAGS.steps):
            step()
        timings.append((time.perf_counter() - start) / FLAGS.steps)
    return timings, torch.get_num_threads()


def main(argv):
    del argv
    import numpy as np

    from keras_electra.config import ElectraConfig

    config = ElectraConfig.from_json(FLAGS.config).with_overrides(
        {"max_seq_length": FLAGS.seq_length, "dropout": 0.1})
    batch = _batch(config, np.random.default_rng(0))
    record = {"bench": "pretrain_step", "config": os.path.basename(FLAGS.config),
              "batch_size": FLAGS.batch_size, "seq_length": FLAGS.seq_length, "dtype": "float32",
              "steps": FLAGS.steps, "repeats": FLAGS.repeats, "cpu_count": os.cpu_count()}
    if FLAGS.keras:
        keras_times, jit = time_keras(config, batch)
        record.update(keras_electra_ms=round(1e3 * statistics.median(keras_times), 1),
                      keras_electra_ms_all=[round(1e3 * t, 1) for t in keras_times],
                      jit_compile=jit)
    if FLAGS.torch:
        torch_times, threads = time_torch(config, batch)
        record.update(transformers_torch_ms=round(1e3 * statistics.median(torch_times), 1),
                      transformers_torch_ms_all=[round(1e3 * t, 1) for t in torch_times],
                      torch_threads=threads)
        if FLAGS.keras:
            record["speedup_vs_transformers"] = round(
                record["transformers_torch_ms"] / record["keras_electra_ms"], 2)
    print(json.dumps(record))


if __name__ == "__main__":
    app.run(main)
