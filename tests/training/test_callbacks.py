import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_electra.data.vocab import write_vocabulary
from keras_electra.training.callbacks import NonFiniteLossError, NonFiniteLossGuard
from keras_electra.training.run_pretraining import run_pretraining
from tests.test_case import tiny_config

WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "."]


def test_guard_names_the_step_and_every_bad_term():
    guard = NonFiniteLossGuard()
    guard.check(3, {"loss": 1.0, "generator_loss": 2.0, "discriminator_loss": 0.5})  # fine
    with pytest.raises(NonFiniteLossError) as error:
        guard.check(12, {"loss": float("inf"), "generator_loss": 2.0,
                         "discriminator_loss": float("nan")})
    assert str(error.value) == (
        "step 12: non-finite loss=inf, discriminator_loss=nan; training stopped, nothing "
        "saved after the last good checkpoint.")


class _InjectNaN(keras.callbacks.Callback):
    """Poisons one weight at the end of the 2nd step, as a diverging run would."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            bias = self.model.discriminator_head.prediction.bias
            bias.assign(np.full(bias.shape, np.nan, "float32"))


def test_injected_nan_stops_training_and_keeps_the_last_checkpoint(tmp_path):
    vocab = tmp_path / "vocab.txt"
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    write_vocabulary(tokens, str(vocab))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat . the dog ran .\n" * 200)
    model_dir = tmp_path / "run"
    model_dir.mkdir()
    last_good = model_dir / "pretrainer.weights.h5"
    last_good.write_bytes(b"the last good checkpoint")
    config = tiny_config(vocab_size=len(tokens))
    with pytest.raises(NonFiniteLossError, match=r"^step 3: non-finite loss=nan, "
                                                 r"discriminator_loss=nan; training stopped"):
        run_pretraining(config, str(model_dir), str(corpus), num_train_steps=10,
                        steps_per_epoch=10, vocab_file=str(vocab), verbose=0,
                        save_checkpoints_steps=1, callbacks=[_InjectNaN()])
    assert last_good.read_bytes() == b"the last good checkpoint"
    # Step 2 was saved before the weights were poisoned; step 3 (non-finite) never was.
    latest = tf.train.latest_checkpoint(str(model_dir / "checkpoints"))
    assert latest.endswith("ckpt-2")
    for name, _ in tf.train.list_variables(latest):
        if name.startswith("model/"):
            assert np.all(np.isfinite(tf.train.load_variable(latest, name))), name
