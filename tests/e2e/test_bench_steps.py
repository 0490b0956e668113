"""The two restated ELECTRA steps the GPU benchmark compares (`bench/keras_jax_electra_step.py`,
`bench/torch_electra_step.py`): same model size, same masking counts, a loss that trains."""

import os
import sys

import numpy as np

from tests.test_case import REPO_ROOT

sys.path.insert(0, os.path.join(REPO_ROOT, "bench"))

import keras  # noqa: E402

from keras_electra.config import ElectraConfig  # noqa: E402
from keras_electra.builders import build_pretrainer  # noqa: E402

CONFIG = ElectraConfig(vocab_size=64, embedding_size=8, hidden_size=16, num_layers=1,
                       num_heads=2, intermediate_size=32, max_seq_length=32,
                       max_position_embeddings=32, max_predictions_per_seq=6)


def _batch(rows=4, length=32):
    ids = np.random.default_rng(0).integers(5, 64, (rows, length)).astype("int32")
    ids[:, 0], ids[:, -1] = 2, 3
    ids[1, 20:] = 0  # a padded row: 18 real maskable tokens
    mask = (ids != 0).astype("int32")
    mask[1, 19] = 1
    ids[1, 19] = 3
    return {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}


def _package_parameters():
    pretrainer = build_pretrainer(CONFIG)
    batch = _batch()
    pretrainer(batch)
    pretrainer.generator_logits(batch)  # builds the generator head too
    return pretrainer.count_params()


def test_keras_ops_step_masks_like_the_package_and_trains():
    from keras_jax_electra_step import ElectraStepModel, SPECIAL_IDS

    keras.utils.set_random_seed(0)
    model = ElectraStepModel(CONFIG)
    batch = _batch()
    ids = batch["input_ids"]
    positions, weights, targets, masked = (
        keras.ops.convert_to_numpy(t) for t in model._mask(ids, batch["input_mask"]))
    # round(15% of the maskable tokens), at most 6 slots: 30 -> 4.5 -> 4, 18 -> 2.7 -> 3.
    np.testing.assert_array_equal(weights.sum(1), [4, 3, 4, 4])
    for row in range(4):
        chosen = positions[row][weights[row]]
        assert len(set(chosen)) == len(chosen)
        assert not np.isin(ids[row, chosen], SPECIAL_IDS).any()
        assert (batch["input_mask"][row, chosen] == 1).all()
        np.testing.assert_array_equal(targets[row], ids[row, positions[row]])
        changed = np.flatnonzero(masked[row] != ids[row])
        assert set(changed) <= set(chosen) and (masked[row, changed] == 4).all()
    # The towers are the package's: the same parameter count as build_pretrainer's.
    model(batch)
    assert model.count_params() == _package_parameters()

    model.compile(optimizer=keras.optimizers.AdamW(3e-3, global_clipnorm=1.0))
    history = model.fit(batch, batch_size=4, epochs=40, verbose=0).history["loss"]
    # Untrained: ln(64) + 50 ln 2 ~ 38.8; the RTD part falls fast on a fixed batch.
    assert 30 < history[0] < 48 and history[-1] < 0.7 * history[0]


def test_torch_step_has_the_same_parameters_and_trains():
    import torch
    from torch_electra_step import build_torch_step

    # No warmup (the step's schedule follows the config's): 40 steps at the peak rate.
    step, info = build_torch_step(
        CONFIG.with_overrides({"num_warmup_steps": 0, "learning_rate": 3e-3}), "float32")
    assert info["torch_parameters"] == _package_parameters()
    batch = {k: torch.tensor(v, dtype=torch.long) for k, v in _batch().items()}
    losses = [step(batch["input_ids"], batch["input_mask"], batch["segment_ids"]).item()
              for _ in range(40)]
    assert 30 < losses[0] < 48 and losses[-1] < 0.7 * losses[0]
