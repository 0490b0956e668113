"""Analytic FLOPs of a pre-training step, checked against sums written out by hand."""

import doctest

import pytest

from keras_electra import flops
from keras_electra.config import ElectraConfig
from tests.test_case import REPO_ROOT

# One layer, batch 2 x seq 8 (T = 16 tokens), P = 2 masked positions per example
# (N = 4 in the batch). Discriminator: E = 8, H = 16, FFN 32, vocab 100.
# Generator: width 0.5 * 16 = 8 (= E, so no projection), FFN 4 * 8 = 32.
CONFIG = ElectraConfig(vocab_size=100, embedding_size=8, hidden_size=16, num_layers=1,
                       num_heads=2, intermediate_size=32, generator_hidden_size=0.5,
                       max_predictions_per_seq=2, max_seq_length=8)
B, S = 2, 8

# Discriminator encoder, forward:
#   projection 8 -> 16:   2 * 16 * 8 * 16        =  4096
#   Q, K, V, O:           4 * 2 * 16 * 16 * 16   = 32768
#   QK^T and PV:          2 * 2 * 2 * 8 * 8 * 16 =  8192
#   FFN 16 -> 32 -> 16:   2 * 2 * 16 * 16 * 32   = 32768
DISCRIMINATOR = 4096 + 32768 + 8192 + 32768  # 77824
# Discriminator head on all 16 tokens: 2 * 16 * 16 * 16 + 2 * 16 * 16 * 1.
DISCRIMINATOR_HEAD = 8192 + 512  # 8704
# Generator encoder (width 8, no projection):
#   Q, K, V, O: 4 * 2 * 16 * 8 * 8 = 8192;  QK^T, PV: 2 * 2 * 2 * 8 * 8 * 8 = 4096;
#   FFN 8 -> 32 -> 8: 2 * 2 * 16 * 8 * 32 = 16384
GENERATOR = 8192 + 4096 + 16384  # 28672
# Generator MLM head at N = 4 positions: dense 8 -> 8, then 8 -> vocab 100.
GENERATOR_HEAD = 2 * 4 * 8 * 8 + 2 * 4 * 8 * 100  # 512 + 6400 = 6912
# A discriminator-side MLM head (16 -> 8 -> 100) at the 4 masked positions ...
MASKED_HEAD = 2 * 4 * 16 * 8 + 2 * 4 * 8 * 100  # 1024 + 6400 = 7424
# ... and on all 16 tokens, plus the copy probability on all tokens (the
# discriminator head: 16 -> 16 -> 1).
ALL_TOKENS_HEAD = 2 * 16 * 16 * 8 + 2 * 16 * 8 * 100  # 4096 + 25600 = 29696
COPY = DISCRIMINATOR_HEAD  # 8704


def test_parts_by_hand():
    assert DISCRIMINATOR == 77824 and GENERATOR == 28672
    assert flops.encoder_flops(B, S, 8, 16, 1, 32) == DISCRIMINATOR
    assert flops.encoder_flops(B, S, 8, 8, 1, 32) == GENERATOR
    assert flops.discriminator_head_flops(B * S, 16) == DISCRIMINATOR_HEAD
    assert flops.mlm_head_flops(4, 8, 8, 100) == GENERATOR_HEAD
    assert flops.predictions_per_seq(CONFIG, S) == 2


@pytest.mark.parametrize("objective, forward", [
    # 3 * (77824 + 8704 + 28672 + 6912) = 3 * 122112
    ("electra", DISCRIMINATOR + DISCRIMINATOR_HEAD + GENERATOR + GENERATOR_HEAD),
    # 3 * (77824 + 7424) = 3 * 85248
    ("mlm", DISCRIMINATOR + MASKED_HEAD),
    # 3 * (28672 + 6912 + 77824 + 7424) = 3 * 120832
    ("replace_mlm", GENERATOR + GENERATOR_HEAD + DISCRIMINATOR + MASKED_HEAD),
    # 3 * (28672 + 6912 + 77824 + 29696 + 8704) = 3 * 151808
    ("all_tokens_mlm", GENERATOR + GENERATOR_HEAD + DISCRIMINATOR + ALL_TOKENS_HEAD + COPY),
])
def test_train_step_flops_exact(objective, forward):
    expected = {"electra": 366336, "mlm": 255744, "replace_mlm": 362496,
                "all_tokens_mlm": 455424}[objective]
    assert 3 * forward == expected
    assert flops.train_step_flops(CONFIG, B, S, objective=objective) == expected


def test_objective_read_from_config():
    class WithObjective:  # a config carrying an `objective` field
        def __getattr__(self, name):
            return "mlm" if name == "objective" else getattr(CONFIG, name)

    assert flops.train_step_flops(WithObjective(), B, S) == 255744
    assert flops.train_step_flops(CONFIG, B, S) == 366336  # no field: electra


def test_inference_flops_exact():
    assert flops.inference_flops(CONFIG, B, S) == DISCRIMINATOR + DISCRIMINATOR_HEAD  # 86528
    assert flops.inference_flops(CONFIG, B, S, head=False) == DISCRIMINATOR


def test_derived_prediction_slots():
    # Unset: round((0.15 + 0.005) * 128) = round(19.84) = 20 at seq 128.
    config = ElectraConfig(vocab_size=100, embedding_size=8, hidden_size=16, num_layers=1,
                           num_heads=2, intermediate_size=32)
    assert flops.predictions_per_seq(config, 128) == 20
    assert flops.predictions_per_seq(config, 64) == round(0.155 * 64)  # 10


def test_unknown_objective_named():
    with pytest.raises(ValueError, match="'bert'"):
        flops.train_step_flops(CONFIG, B, S, objective="bert")


def test_electra_small_step_in_paper_range():
    # ELECTRA-Small, batch 128 x 128: the paper (Table 1) gives 1.4e18 FLOPs for 1M
    # steps, 1.4e12 a step; the matmuls here give 1.15e12.
    config = ElectraConfig.from_json(str(REPO_ROOT / "configs" / "electra_small.json"))
    step = flops.train_step_flops(config, 128, 128)
    assert 0.7e12 < step < 1.4e12


def test_doctests():
    assert doctest.testmod(flops).failed == 0


def test_electra_base_step_matches_paper():
    # ELECTRA-Base, batch 256 x 512: the paper gives 6.4e19 FLOPs for 766k steps,
    # 8.36e13 a step; the matmuls alone come within 5% of it (8.76e13).
    config = ElectraConfig.from_json(str(REPO_ROOT / "configs" / "electra_base.json"))
    step = flops.train_step_flops(config, 256, 512)
    assert abs(step / (6.4e19 / 766_000) - 1) < 0.1
