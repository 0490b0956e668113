"""The config and batch every pre-training step benchmark runs on.

`bench/pretrain_step.py`, `bench/profile_step.py`, `bench/gpu_throughput.py`
and `bench/gpu_keras_jax.py` time the same thing: a config's ELECTRA step at
`seq_length` with dropout 0.1, on full-length rows of random ids framed by
`[CLS]` ... `[SEP]` (keras_electra's default special-token layout: ids 0-4
are special). Imports neither TensorFlow nor keras_electra.

>>> import types
>>> batch = synthetic_batch(types.SimpleNamespace(vocab_size=30), 2, 6)
>>> batch["input_ids"][:, [0, -1]].tolist(), int(batch["input_mask"].sum())
([[2, 3], [2, 3]], 12)
"""

import numpy as np

CLS, SEP = 2, 3


def step_config(config, seq_length):
    """`config` at `seq_length` (positions widened if needed), dropout 0.1."""
    return config.with_overrides({
        "max_seq_length": seq_length, "dropout": 0.1,
        "max_position_embeddings": max(seq_length, config.max_position_embeddings)})


def synthetic_batch(config, batch_size, seq_length, seed=0):
    """Full-length rows of random non-special ids, `[CLS]` first and `[SEP]` last."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, config.vocab_size, (batch_size, seq_length)).astype("int32")
    ids[:, 0], ids[:, -1] = CLS, SEP
    return {"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": np.zeros_like(ids)}


def define_step_flags(flags):
    """Defines the flags of a one-step benchmark: `--config`, `--dtype`, `--batch_size`, `--seq_length`."""
    flags.DEFINE_string("config", "configs/electra_small.json", "ElectraConfig JSON.")
    flags.DEFINE_enum("dtype", "float32", ["float32", "bfloat16"], "Compute dtype.")
    flags.DEFINE_integer("batch_size", 32, "Examples per step.")
    flags.DEFINE_integer("seq_length", 128, "Tokens per example.")


def build_step(config_path, dtype, batch_size, seq_length):
    """`(pretrainer, batch)`: the config's pretrainer at `seq_length` in `dtype`,
    compiled with `create_optimizer` as pre-training compiles it (weights from
    seed 0), and its numpy batch."""
    import keras

    from keras_electra.builders import build_pretrainer
    from keras_electra.config import ElectraConfig
    from keras_electra.training.optimizer import create_optimizer

    config = step_config(ElectraConfig.from_json(config_path), seq_length)
    config = config.with_overrides({"mixed_precision": dtype})
    keras.utils.set_random_seed(0)
    pretrainer = build_pretrainer(config)
    pretrainer.compile(optimizer=create_optimizer(config, 10_000))
    return pretrainer, synthetic_batch(config, batch_size, seq_length)
