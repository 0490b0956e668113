"""`run_pretraining`: TensorBoard summaries, checkpoints, `init_checkpoint`, strategies."""

import math

import keras
import numpy as np
import pytest

from keras_electra.builders import build_pretrainer
from keras_electra.convert.keras_hub import to_keras_hub
from keras_electra.convert.transformers import to_transformers
from keras_electra.data.vocab import write_vocabulary
from keras_electra.training.run_finetuning import load_pretrained
from keras_electra.training.run_pretraining import run_pretraining
from keras_electra.training.training_summaries import read_scalars
from tests.convert.hf_models import write_original_from_pretrainer
from tests.test_case import tiny_config

WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "a", "big", "red", "."]
TAGS = ("loss", "generator_loss", "discriminator_loss", "generator_accuracy",
        "discriminator_accuracy", "replaced_precision", "replaced_recall", "replaced_auc",
        "replaced_fraction", "learning_rate", "gradient_norm", "tokens_per_second")


@pytest.fixture
def corpus(tmp_path):
    vocab = tmp_path / "vocab.txt"
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    write_vocabulary(tokens, str(vocab))
    rng = np.random.default_rng(0)
    text = tmp_path / "corpus.txt"
    text.write_text("".join(" ".join(rng.choice(WORDS, 12)) + "\n" for _ in range(300)))
    return str(text), str(vocab), len(tokens)


class _FirstWeights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = [v.numpy() for v in self.model.trainable_variables]


def test_tensorboard_every_tag_every_interval_and_eval(tmp_path, corpus):
    text, vocab, size = corpus
    model_dir = tmp_path / "run"
    run_pretraining(tiny_config(vocab_size=size), str(model_dir), text, num_train_steps=6,
                    steps_per_epoch=3, vocab_file=vocab, verbose=0, log_every=2,
                    eval_files=text, eval_steps=2)
    train = read_scalars(str(model_dir / "logs" / "train"))
    for tag in TAGS:
        assert tag in train, tag
        assert [step for step, _ in train[tag]] == [2, 4, 6], tag
        assert all(math.isfinite(value) for _, value in train[tag]), tag
    assert all(value > 0 for _, value in train["gradient_norm"])
    assert all(0 <= value <= 1 for _, value in train["replaced_auc"])
    evaluation = read_scalars(str(model_dir / "logs" / "eval"))
    assert [step for step, _ in evaluation["loss"]] == [6]
    assert "replaced_auc" in evaluation


def test_checkpoints_kept_and_finished_run_is_not_retrained(tmp_path, corpus):
    text, vocab, size = corpus
    model_dir = tmp_path / "run"
    kwargs = dict(num_train_steps=6, steps_per_epoch=3, vocab_file=vocab, verbose=0,
                  save_checkpoints_steps=2, keep_checkpoint_max=2)
    first, _ = run_pretraining(tiny_config(vocab_size=size), str(model_dir), text, **kwargs)
    checkpoints = sorted(p.name for p in (model_dir / "checkpoints").glob("ckpt-*.index"))
    assert checkpoints == ["ckpt-4.index", "ckpt-6.index"]
    again, metrics = run_pretraining(tiny_config(vocab_size=size), str(model_dir), text,
                                     **kwargs)
    assert int(again.optimizer.iterations.numpy()) == 6
    for a, b in zip(first.weights, again.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert math.isfinite(metrics["loss"])


def test_init_checkpoint_starts_a_new_run_from_other_weights(tmp_path, corpus):
    text, vocab, size = corpus
    source, _ = run_pretraining(tiny_config(vocab_size=size), str(tmp_path / "source"), text,
                                num_train_steps=4, vocab_file=vocab, verbose=0)
    first = _FirstWeights()
    continued, _ = run_pretraining(
        tiny_config(vocab_size=size, seed=7), str(tmp_path / "continued"), text,
        num_train_steps=2, vocab_file=vocab, verbose=0,
        init_checkpoint=str(tmp_path / "source"), callbacks=[first])
    for a, b in zip(source.trainable_variables, first.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b)
    assert int(continued.optimizer.iterations.numpy()) == 2  # a new run: step 0 + 2

    with pytest.raises(ValueError, match=r"^--init_checkpoint=.*cannot load it"):
        run_pretraining(tiny_config(vocab_size=size, hidden_size=24), str(tmp_path / "bad"),
                        text, num_train_steps=2, vocab_file=vocab, verbose=0,
                        init_checkpoint=str(tmp_path / "source"))


def test_fine_tuning_starts_from_the_newest_checkpoint_of_an_unfinished_run(tmp_path, corpus):
    text, vocab, size = corpus
    model_dir = tmp_path / "run"
    trained, _ = run_pretraining(tiny_config(vocab_size=size), str(model_dir), text,
                                 num_train_steps=4, save_checkpoints_steps=2,
                                 vocab_file=vocab, verbose=0)
    (model_dir / "pretrainer.weights.h5").unlink()  # as if stopped before the end
    loaded, config = load_pretrained(str(model_dir))
    assert config.vocab_file == str(model_dir / "vocab.txt")
    for a, b in zip(trained.weights, loaded.weights, strict=True):  # ckpt-4: the last step
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(trained.weights[0].numpy(), build_pretrainer(config).weights[0])

    for path in (model_dir / "checkpoints").iterdir():
        path.unlink()
    with pytest.raises(ValueError, match=r"^--init_checkpoint=.*/run: no pretrainer.weights.h5 "
                                         r"and no checkpoints/"):
        load_pretrained(str(model_dir))


def test_batch_must_split_over_replicas(tmp_path, corpus):
    text, vocab, size = corpus

    class _ThreeReplicas:
        num_replicas_in_sync = 3

    from keras_electra.training.run_pretraining import training_dataset

    with pytest.raises(ValueError, match=r"= 4 does not split over 3 replicas"):
        training_dataset(_ThreeReplicas(), tiny_config(vocab_size=size), text, "text")



def _write_transformers(pretrainer, config, path):
    to_transformers(pretrainer, str(path / "discriminator"),
                    generator_out_dir=str(path / "generator"), vocab_file=config.vocab_file)


def _write_keras_hub(pretrainer, config, path):
    to_keras_hub(pretrainer.discriminator).save_to_preset(str(path))


def _write_original(pretrainer, config, path):
    write_original_from_pretrainer(pretrainer, path)


@pytest.mark.parametrize("writer, overrides, carries_generator", [
    (_write_transformers, {}, True),
    (_write_original, {}, True),  # sized by the run's config
    (_write_keras_hub, {"hidden_act": "gelu_approximate"}, False),  # keras-hub's GELU
])
def test_init_checkpoint_reads_other_formats(tmp_path, corpus, writer, overrides,
                                             carries_generator):
    text, vocab, size = corpus
    config = tiny_config(vocab_size=size, vocab_file=vocab, seed=3, **overrides)
    source = build_pretrainer(config)
    writer(source, config, tmp_path / "source")
    first = _FirstWeights()
    run_pretraining(tiny_config(vocab_size=size, **overrides), str(tmp_path / "run"), text,
                    num_train_steps=1, vocab_file=vocab, verbose=0,
                    init_checkpoint=str(tmp_path / "source"), callbacks=[first])
    # Paths repeat across the towers (both have embeddings_projection/...): key by object.
    started = {id(v): w for v, w in zip(source.trainable_variables, first.weights, strict=True)}
    for part in (source.discriminator, source.generator):
        carried = part is source.discriminator or carries_generator
        for variable in part.trainable_variables:
            same = np.array_equal(variable.numpy(), started[id(variable)])
            if carried or variable.path.startswith("embeddings/"):  # shared
                assert same, variable.path
            elif variable.path.endswith("kernel"):  # random; biases and gammas start equal
                assert not same, variable.path

    if writer is not _write_original:  # the others carry their own config
        with pytest.raises(ValueError, match=r"^--init_checkpoint=.*: trained with hidden_act="):
            run_pretraining(tiny_config(vocab_size=size, hidden_act="gelu"
                                        if overrides else "gelu_approximate"),
                            str(tmp_path / "other_gelu"), text, num_train_steps=1,
                            vocab_file=vocab, verbose=0, init_checkpoint=str(tmp_path / "source"))
    with pytest.raises(ValueError, match=r"^--init_checkpoint=.*has shape \(.*\(.*\)"):
        run_pretraining(tiny_config(vocab_size=size, intermediate_size=48, **overrides),
                        str(tmp_path / "bad"), text, num_train_steps=1, vocab_file=vocab,
                        verbose=0, init_checkpoint=str(tmp_path / "source"))
